"""Builds an Eddy plugin written in Python into a WebAssembly component.

    python -m eddy_sdk.build app.py -o plugin.wasm [--wit DIR] [--world WORLD]

The world is read from the module (``Aggregate`` -> ``aggregator``, ``Transformer`` ->
``transform``, ``Columns`` -> ``column-transform``) unless ``--world`` says it.
``componentize-py`` (pinned in pyproject.toml) builds
the component with ``--stub-wasi``: every WASI import of the Python runtime (clocks,
filesystem, sockets, random, stdio) is replaced by a trapping stub, so the component imports
nothing but ``eddy:plugin/log``, which is all the Eddy host grants a plugin. The standard
library is loaded while the component is built, not at run time; ``print`` goes to the host's
log (see ``_log``); reading a clock, a file or ``os.urandom`` traps; ``random`` is seeded at
build time.
"""

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent.parent


def default_wit():
    """``$EDDY_WIT``, else ``wit/`` beside this SDK's folder (a project made by ``eddy plugin
    new``: ``wit/`` and ``eddy-sdk/``), else the repository's ``wit/`` beside ``sdk/``."""
    if os.environ.get("EDDY_WIT"):
        return Path(os.environ["EDDY_WIT"])
    beside = SDK_DIR.parent / "wit"
    return beside if beside.is_dir() else SDK_DIR.parent.parent / "wit"


def world_of(app_dir, module):
    """``aggregator``, ``transform`` or ``column-transform``, from what the module exports."""
    sys.path[:0] = [str(app_dir), str(SDK_DIR)]
    try:
        loaded = importlib.import_module(module)
    finally:
        del sys.path[:2]
    if hasattr(loaded, "Aggregate"):
        return "aggregator"
    if hasattr(loaded, "Transformer"):
        return "transform"
    if hasattr(loaded, "Columns"):
        return "column-transform"
    raise SystemExit(f"{module}: exports none of `Aggregate`, `Transformer`, `Columns`")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m eddy_sdk.build", description=__doc__)
    parser.add_argument("app", help="the plugin's module file, e.g. app.py")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--wit", type=Path, default=None)
    parser.add_argument("--world", choices=["aggregator", "transform", "column-transform"])
    args = parser.parse_args(argv)

    app = Path(args.app).resolve()
    module = app.stem
    if module in ("aggregator", "transform", "columns", "wit_world"):
        raise SystemExit(f"rename {app.name}: a module may not be named like a world")
    wit = (args.wit or default_wit()).resolve()
    if not wit.is_dir():
        raise SystemExit(f"no WIT folder at {wit}: give --wit DIR (eddy:plugin) or EDDY_WIT")
    world = args.world or world_of(app.parent, module)
    output = Path(args.output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from componentize_py import script; sys.exit(script())",
        "-q",
        "-d", str(wit),
        "-w", world,
        "componentize", module,
        "--stub-wasi",
        "-p", str(app.parent),
        "-p", str(SDK_DIR),
        "-o", str(output),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    subprocess.run(cmd, check=True, env=env, cwd=app.parent)
    print(f"{output}: world {world}, {output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
