#!/usr/bin/env python3
# lint-layering: every #include "X/..." points left in the dependency order.
#
# Enforces the layers of ARCHITECTURE.md: base < crypto < codec < {clients, aggregator} < sim
# < cmd, so sim never includes cmd; clients and aggregator never include each other, codec
# never includes crypto and crypto never includes codec. A .c/.h under folder F may include
# F's own headers and those of the folders allowed for F; tests/, tools/ and bench/ may
# include anything, and no code folder may include tests/, tools/ or bench/.
# System and dependency headers (<...>, or "..." naming no folder of ours) are not checked.
#
# Usage: lint_layering.py SOURCE_ROOT

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402

OUR_FOLDERS = lc.CODE_FOLDERS + lc.FREE_FOLDERS


def target_folder(src_root, including_file, path):
    """The folder of ours an include path names, or None. Paths are relative to the
    include root (the project root); "./" or "../" paths are resolved from the including
    file, as the compiler would first try."""
    if path.startswith("./") or path.startswith("../"):
        full = os.path.normpath(os.path.join(os.path.dirname(including_file), path))
        path = os.path.relpath(full, src_root)
    parts = path.split("/")
    if len(parts) < 2:
        return None
    return parts[0] if parts[0] in OUR_FOLDERS else None


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: lint_layering.py SOURCE_ROOT\n")
        return 2
    src = sys.argv[1]
    files = lc.source_files(src, OUR_FOLDERS, (".c", ".h"))
    violations = 0
    for f in files:
        folder = f.split(os.sep)[0]
        if folder not in lc.ALLOWED:
            continue
        allowed = [folder] + lc.ALLOWED[folder]
        full = os.path.join(src, f)
        for line, kind, path in lc.includes(lc.read_text(full)):
            if kind != '"':
                continue
            target = target_folder(src, full, path)
            if target is None or target in allowed:
                continue
            print("%s:%d: error: '%s' may not include '%s' (allowed: %s)"
                  % (f, line, folder, path, ", ".join(a + "/" for a in allowed)))
            violations += 1
    print("lint-layering: %d files, %d violations" % (len(files), violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
