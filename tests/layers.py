#!/usr/bin/env python3
"""layers.py - the layering rule (DESIGN.md "Layout", STYLE.md convention 0).

The code folders are layers, lowest first. A file may include headers of its
own layer and the layers below, never above. Every `#include "x/y.h"` in every
code folder is checked; each include from a layer above is printed as
file:line and the test fails. A quoted include of a folder that is not a layer
fails too (a new folder must be placed in LAYERS first).

Usage: layers.py [SOURCE_ROOT]   (default: the repository this file is in)
       layers.py --count          also print the number of cross-layer includes
"""

import os
import re
import sys

LAYERS = ["lib", "net", "probes", "aws", "fencing", "proxy", "gate", "agent"]
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"/]+)/[^"]+"')


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    crossing = 0
    for layer in LAYERS:
        folder = os.path.join(root, layer)
        if not os.path.isdir(folder):
            bad.append(f"{layer}/: missing layer folder")
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(layer, name)
            with open(os.path.join(root, path), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m is None:
                        continue
                    target = m.group(1)
                    if target not in rank:
                        bad.append(f"{path}:{lineno}: includes \"{target}/...\", not a layer")
                    elif rank[target] > rank[layer]:
                        bad.append(f"{path}:{lineno}: {layer}/ includes {line.strip()[9:].strip()}"
                                   f" from {target}/, a layer above")
                    elif rank[target] < rank[layer]:
                        crossing += 1
    for line in bad:
        print(line)
    if "--count" in argv:
        print(f"layers: {crossing} downward cross-layer includes, {len(bad)} upward")
    if bad:
        print(f"layers: FAIL ({len(bad)} includes against the layering; order: "
              + " < ".join(LAYERS) + ")")
        return 1
    print("layers: ok (" + " < ".join(LAYERS) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
