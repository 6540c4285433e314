#!/usr/bin/env python3
# lint-symbol-prefix: every global symbol of a library starts with its file's concept name.
#
# Enforces docs/conventions.md §1 (file name = identifier prefix) and §3 (never a
# prefix owned by a dependency; libinput's symbols-leak-test). For each static library of a
# code folder, every global defined symbol (nm -g --defined-only: functions T, data D/B,
# read-only data R, ...) of object <stem>.c.o must be <stem> itself or start with
# "<stem>_": eden.c.o -> eden_, event_queue.c.o -> event_queue_, cmd/dme.c.o -> dme_cmd,
# cmd/bench_codecs.c.o -> bench_codecs_cmd. No global symbol may start with a dependency's prefix
# (crypto_, sodium_, randombytes_, gsl_, cblas_, sqlite3_, yaml_, MPI_, ck_, suite_, tcase_,
# srunner_). Symbols that sanitizer/coverage instrumentation adds (__asan*, __gcov*, ...)
# are ignored.
#
# Usage: lint_symbol_prefix.py BUILD_ROOT [LIBRARY.a...]
# Without libraries, checks build/<folder>/libfedbits_<folder>.a for each code folder that
# exists.

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: lint_symbol_prefix.py BUILD_ROOT [LIBRARY.a...]\n")
        return 2
    build = sys.argv[1]
    libs = [p for p in sys.argv[2:] if os.path.isfile(p)] or lc.default_libraries(build)
    violations = 0
    nsyms = 0
    for lib in libs:
        for member, typ, name in lc.archive_symbols(lib, extra=["-g", "--defined-only"]):
            if name.startswith(lc.TOOLCHAIN_PREFIXES):
                continue
            nsyms += 1
            stem = lc.object_stem(member)
            where = "%s(%s)" % (lc.rel(lib, build), member)
            dep = [p for p in lc.DEPENDENCY_PREFIXES if name.startswith(p)]
            if dep:
                print("%s: error: global symbol '%s' (%s) uses the prefix '%s' owned by a "
                      "dependency" % (where, name, typ, dep[0]))
                violations += 1
            elif name != stem and not name.startswith(stem + "_"):
                print("%s: error: global symbol '%s' (%s) does not start with '%s_' "
                      "(make it static, or rename it)" % (where, name, typ, stem))
                violations += 1
    print("lint-symbol-prefix: %d libraries, %d global symbols, %d violations"
          % (len(libs), nsyms, violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
