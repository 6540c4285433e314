#!/usr/bin/env python3
# lint-banned-include: every .c file of a code folder includes "base/banned.h" last.
#
# Enforces docs/conventions.md §8: a banned.h included by every file turns non-deterministic
# sources (rand, time, clock_gettime, randombytes_buf, ...) and unsafe string and number
# functions into compile errors. It must be the last #include, so that no header included
# after it can bring a banned function back. The one documented exception is
# sim/wallclock.c, the only file allowed to read the wall clock.
#
# Usage: lint_banned_include.py SOURCE_ROOT

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402

BANNED = "base/banned.h"
EXCEPTIONS = {"sim/wallclock.c"}


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: lint_banned_include.py SOURCE_ROOT\n")
        return 2
    src = sys.argv[1]
    files = [f for f in lc.source_files(src, lc.CODE_FOLDERS, (".c",))
             if f.replace(os.sep, "/") not in EXCEPTIONS]
    violations = 0
    for f in lc.source_files(src, lc.CODE_FOLDERS, (".c", ".h")):
        # randombytes_buf may be unbanned in crypto/ alone (base/banned.h).
        if not f.replace(os.sep, "/").startswith(("crypto/", "base/banned.h")) and \
                "FEDBITS_BANNED_ALLOW_RANDOMBYTES" in lc.read_text(os.path.join(src, f)):
            print("%s:1: error: randombytes_buf may be allowed in crypto/ only" % f)
            violations += 1
    for f in files:
        incs = lc.includes(lc.read_text(os.path.join(src, f)))
        banned = [(line, path) for line, kind, path in incs if kind == '"' and path == BANNED]
        if not incs or not banned:
            print('%s:1: error: missing #include "%s" (must be the last #include)' % (f, BANNED))
            violations += 1
            continue
        last_line, last_kind, last_path = incs[-1]
        if last_kind != '"' or last_path != BANNED:
            open_, close = ('"', '"') if last_kind == '"' else ("<", ">")
            print('%s:%d: error: #include %s%s%s after "%s" (line %d); "%s" must be the last '
                  "#include" % (f, last_line, open_, last_path, close, BANNED, banned[-1][0],
                                BANNED))
            violations += 1
    print("lint-banned-include: %d files, %d violations" % (len(files), violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
