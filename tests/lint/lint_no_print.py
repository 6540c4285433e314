#!/usr/bin/env python3
# lint-no-print: only the command layer (cmd/) prints or ends the process.
#
# Everything below cmd/ reports through struct errbuf (base/errbuf.h) and returned records;
# cmd/ decides what reaches stdout/stderr and with which exit status (ARCHITECTURE.md,
# "Layers"). This check rejects, in every code folder but cmd/, a use of stdout or stderr, a
# call of a function that writes to them (printf, vprintf, puts, putchar, perror) and a call
# that ends the process (exit, _exit, _Exit, quick_exit, abort). Comments and string literals
# are ignored.
#
# Usage: lint_no_print.py SOURCE_ROOT

import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402

FORBIDDEN = re.compile(
    r"\b(stdout|stderr)\b"
    r"|\b(printf|vprintf|puts|putchar|perror|exit|_exit|_Exit|quick_exit|abort)\s*\(")
STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: lint_no_print.py SOURCE_ROOT\n")
        return 2
    src = sys.argv[1]
    folders = [f for f in lc.CODE_FOLDERS if f != lc.PRINTING_FOLDER]
    files = lc.source_files(src, folders, (".c", ".h"))
    violations = 0
    for f in files:
        text = lc.strip_comments(lc.read_text(os.path.join(src, f)))
        text = STRING.sub(lambda m: '""', text)
        for n, line in enumerate(text.split("\n"), 1):
            for m in FORBIDDEN.finditer(line):
                print("%s:%d: error: '%s' outside %s/: only the command layer prints or exits "
                      "(return an errbuf code instead)"
                      % (f, n, m.group(0).rstrip("( \t"), lc.PRINTING_FOLDER))
                violations += 1
    print("lint-no-print: %d files, %d violations" % (len(files), violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
