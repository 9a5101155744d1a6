#!/usr/bin/env python3
"""Prints which top-level modules of a crate use which (from `crate::x` paths in its sources),
every import circle among them, and every use of a module declared later in `lib.rs` (which
lists the host's modules lower layers first); exits 1 on a circle or an upward use.

Usage: scripts/module-graph.py [CRATE_SRC ...]   (default: engine/src host/src)
"""
import os
import re
import sys


def module_of(src, path):
    rel = os.path.relpath(path, src)
    top = rel.split(os.sep)[0]
    return top[:-3] if top.endswith(".rs") else top


def graph(src):
    edges = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            module = module_of(src, path)
            if module in ("lib", "main"):
                continue
            text = open(path, encoding="utf-8").read()
            used = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
            # `use super::x` at the top of a file in the crate root reaches a sibling module.
            if os.path.dirname(os.path.relpath(path, src)) == "":
                used |= set(re.findall(r"\buse super::([a-z_][a-z0-9_]*)", text))
            edges.setdefault(module, set()).update(u for u in used if u != module)
    return edges


def circles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(src, edges):
    """Uses of a module declared after the user in lib.rs (`pub mod x;` order)."""
    try:
        text = open(os.path.join(src, "lib.rs"), encoding="utf-8").read()
    except OSError:
        return []
    order = re.findall(r"^pub mod ([a-z_][a-z0-9_]*);", text, re.M)
    rank = {m: i for i, m in enumerate(order)}
    return [
        (m, u)
        for m in sorted(edges)
        for u in sorted(edges[m])
        if m in rank and u in rank and rank[u] > rank[m]
    ]


def main():
    crates = sys.argv[1:] or ["engine/src", "host/src"]
    failed = False
    for src in crates:
        edges = graph(src)
        print(f"{src}:")
        for module in sorted(edges):
            print(f"  {module} -> {', '.join(sorted(edges[module])) or '-'}")
        found = circles(edges)
        for component in found:
            print(f"  circle: {' <-> '.join(component)}")
        if not found:
            print("  no import circle")
        layered = src.rstrip("/").startswith("host")
        ups = upward(src, edges) if layered else []
        for module, used in ups:
            print(f"  upward: {module} uses {used}, declared after it in lib.rs")
        if layered and not ups:
            print("  no module uses one declared after it in lib.rs")
        failed |= bool(found) or bool(ups)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
