#!/usr/bin/env python3
# lint-format: every C file follows the checked-in .clang-format.
#
# Enforces docs/conventions.md §13 (layout is whatever the one checked-in .clang-format
# says, checked by a test so that nobody argues about it): runs
# `clang-format --dry-run -Werror` on every .c/.h under the code folders, tests/, tools/ and
# bench/. Fix a file with `clang-format -i FILE`. Fails when clang-format is not installed
# (tools/install-deps installs it): a skipped check would count as neither pass nor fail.
#
# Usage: lint_format.py SOURCE_ROOT [CLANG_FORMAT]

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402


def check(clang_format, src, f):
    proc = subprocess.run([clang_format, "--dry-run", "-Werror", "--style=file", f],
                          cwd=src, capture_output=True, text=True)
    return proc.returncode, proc.stderr


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: lint_format.py SOURCE_ROOT [CLANG_FORMAT]\n")
        return 2
    src = sys.argv[1]
    clang_format = sys.argv[2] if len(sys.argv) == 3 else shutil.which("clang-format")
    if not clang_format or not shutil.which(clang_format):
        print("lint-format: FAIL: clang-format not found on PATH (tools/install-deps installs it)")
        return 1
    files = lc.source_files(src, lc.CODE_FOLDERS + lc.FREE_FOLDERS, (".c", ".h"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda f: check(clang_format, src, f), files))
    violations = 0
    for f, (rc, err) in zip(files, results):
        if rc == 0:
            continue
        violations += 1
        # clang-format reports "FILE:LINE:COL: error: code should be clang-formatted"
        # followed by the line and a caret, for each place; show the first few.
        lines = [ln for ln in err.splitlines() if re.match(r"^\S+:\d+:\d+: error:", ln)]
        for ln in lines[:5]:
            print(ln)
        if len(lines) > 5:
            print("%s: ... and %d more places" % (f, len(lines) - 5))
        if not lines:
            print("%s: error: clang-format failed: %s" % (f, err.strip()))
    if violations:
        print("fix with: clang-format -i FILE (style from %s)"
              % os.path.join(src, ".clang-format"))
    print("lint-format: %d files, %d violations" % (len(files), violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
