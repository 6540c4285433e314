#!/usr/bin/env python3
# lint-no-globals: no mutable data at file scope (or function-scope statics) in code folders.
#
# Enforces docs/conventions.md §8 (randomness, time and configuration are parameters, never
# globals: no mutable globals). Runs nm on the objects of each code-folder library (and of
# executables built from cmd/), and reports every symbol of a data or bss type (D d B b, and
# G g S s C): a non-const static or extern variable, or a static inside a function. Data of
# type D/d that the compiler placed in .data.rel.ro (const objects holding pointers in
# position-independent code, e.g. a `const gsl_rng_type`) is read-only and allowed, as is
# R/r data. Allowed by design: base/mem.c's fault-injection countdown (symbols starting
# mem_fault_) and a signal flag in cmd/ (any symbol containing "signal").
#
# Usage: lint_no_globals.py BUILD_ROOT [LIBRARY.a...]

import glob
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402

MUTABLE_TYPES = set("DdBbGgSsC")


def readonly_data(path):
    """{(member basename, symbol)} of symbols placed in a .data.rel.ro section, per objdump."""
    proc = subprocess.run(["objdump", "-t", path], capture_output=True, text=True)
    out = set()
    if proc.returncode != 0:
        return out
    member = os.path.basename(path)
    for line in proc.stdout.splitlines():
        m = re.match(r"^(.*):\s+file format ", line)
        if m:
            member = os.path.basename(m.group(1).split("(")[-1].rstrip(")"))
            continue
        fields = line.split()
        for i, f in enumerate(fields):
            if f.startswith(".data.rel.ro") and i + 2 < len(fields):
                out.add((member, fields[-1]))
                break
    return out


def allowed(folder, member, name):
    base = name.split(".")[0]
    if folder == "base" and lc.object_stem(member) == "mem" and base.startswith("mem_fault_"):
        return True
    if folder == "cmd" and "signal" in name:
        return True
    return name.startswith(lc.TOOLCHAIN_PREFIXES)


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: lint_no_globals.py BUILD_ROOT [LIBRARY.a...]\n")
        return 2
    build = sys.argv[1]
    inputs = [p for p in sys.argv[2:] if os.path.isfile(p)] or lc.default_libraries(build)
    # Objects of executables built from cmd/ (the fedbits command's main.c); library
    # objects live in "*.a.p" directories and are covered by the archives.
    for d in sorted(glob.glob(os.path.join(build, "cmd", "*.p"))):
        if not d.endswith(".a.p"):
            inputs += sorted(glob.glob(os.path.join(d, "*.o")))
    violations = 0
    nobj = 0
    for path in inputs:
        # The folder a library or object belongs to: its directory in the build tree.
        folder = lc.rel(path, build).split(os.sep)[0]
        ro = readonly_data(path)
        syms = lc.archive_symbols(path)
        nobj += len({m for m, _, _ in syms}) or 1
        for member, typ, name in syms:
            if typ not in MUTABLE_TYPES or (member, name) in ro or name.startswith(".L"):
                continue
            if allowed(folder, member, name):
                continue
            where = "%s(%s)" % (lc.rel(path, build), member) if path.endswith(".a") \
                else lc.rel(path, build)
            scope = "function-scope static" if "." in name else \
                ("file-scope static" if typ.islower() else "global")
            print("%s: error: mutable %s '%s' (%s); pass state as a parameter instead "
                  "(docs/conventions.md §8)" % (where, scope, name, typ))
            violations += 1
    print("lint-no-globals: %d objects, %d violations" % (nobj, violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
