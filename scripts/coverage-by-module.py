#!/usr/bin/env python3
"""Line coverage per module from `cargo llvm-cov report --json --summary-only`.

A module is a top-level module of a crate: `host/src/kafka/consumer.rs` counts for host `kafka`,
`engine/src/window.rs` for engine `window`. Prints a table per crate (host, engine, sdk) and each
crate's total. Usage: coverage-by-module.py REPORT.json
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

CRATES = {"host": "host/src", "engine": "engine/src", "sdk": "sdk/src"}


def module_of(path):
    """(crate, module) of a source file, or None for files outside the reported crates."""
    text = Path(path).as_posix()
    for crate, root in CRATES.items():
        marker = f"/{root}/"
        if marker in text:
            rest = text.split(marker, 1)[1]
            first = rest.split("/", 1)[0]
            return crate, first[:-3] if first.endswith(".rs") else first
    return None


def main():
    report = json.loads(Path(sys.argv[1]).read_text())
    lines = defaultdict(lambda: [0, 0])
    for data in report["data"]:
        for file in data["files"]:
            where = module_of(file["filename"])
            if where is None:
                continue
            summary = file["summary"]["lines"]
            lines[where][0] += summary["covered"]
            lines[where][1] += summary["count"]
    for crate in CRATES:
        rows = sorted((m, c) for (k, m), c in lines.items() if k == crate)
        if not rows:
            continue
        covered = sum(c[0] for _, c in rows)
        count = sum(c[1] for _, c in rows)
        print(f"\n{crate}: {100 * covered / max(count, 1):.1f} % of {count} lines")
        print(f"  {'module':<14} {'lines':>7} {'covered':>8}")
        for module, (c, n) in rows:
            print(f"  {module:<14} {n:>7} {100 * c / max(n, 1):>7.1f}%")


if __name__ == "__main__":
    main()
