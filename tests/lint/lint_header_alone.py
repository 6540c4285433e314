#!/usr/bin/env python3
# lint-header-alone: every header of a code folder compiles on its own and has a guard.
#
# Enforces docs/conventions.md §14 (every header compiles alone; libinput's pedantic
# header tests generalised) so include order never matters: each .h under base/ crypto/
# codec/ clients/ aggregator/ sim/ cmd/ is compiled as the only #include of a one-line C file,
# with -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror and the cflags
# of every dependency. Each header must also have an include guard (#ifndef G / #define G
# ... #endif around the whole file, or #pragma once), and no two headers may share a guard.
#
# Usage: lint_header_alone.py SOURCE_ROOT BUILD_ROOT [COMPILER...]
# COMPILER defaults to "cc"; meson passes the project's C compiler.

import concurrent.futures
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lintcommon as lc  # noqa: E402

PKGS = ["libsodium", "gsl", "sqlite3", "yaml-0.1", "openblas"]
FLAGS = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
         "-fsyntax-only"]

DIRECTIVE_RE = re.compile(r"^[ \t]*#[ \t]*(\w+)(.*)$", re.M)


def guard_problem(text):
    """None if the header has an include guard, else what is wrong. Returns (problem, name)."""
    directives = [(m.group(1), m.group(2).strip()) for m in
                  DIRECTIVE_RE.finditer(lc.strip_comments(text))]
    if directives and directives[0] == ("pragma", "once"):
        return None, None
    if len(directives) < 3:
        return "no include guard (#ifndef G / #define G ... #endif)", None
    (d0, a0), (d1, a1), (dl, _) = directives[0], directives[1], directives[-1]
    m = re.fullmatch(r"!\s*defined\s*\(?\s*(\w+)\s*\)?", a0) if d0 == "if" else None
    name = a0 if d0 == "ifndef" else (m.group(1) if m else None)
    if name is None:
        return "no include guard: the first directive is '#%s %s', not '#ifndef G'" % (d0, a0), None
    if d1 != "define" or a1.split()[:1] != [name]:
        return "include guard '#ifndef %s' is not followed by '#define %s'" % (name, name), name
    if dl != "endif":
        return "include guard '%s' does not end with the file's last directive '#endif'" % name, name
    # The guard must cover the whole file: its #endif is the one closing the first #if.
    depth = 0
    for i, (d, _) in enumerate(directives):
        if d in ("if", "ifdef", "ifndef"):
            depth += 1
        elif d == "endif":
            depth -= 1
            if depth == 0 and i != len(directives) - 1:
                return "include guard '%s' closes before the end of the file" % name, name
    return None, name


def pkg_cflags():
    proc = subprocess.run(["pkg-config", "--cflags"] + PKGS, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit("lint-header-alone: pkg-config --cflags %s failed" % " ".join(PKGS))
    return shlex.split(proc.stdout)


def compile_alone(cc, src, build, cflags, header, tmpdir):
    c_file = os.path.join(tmpdir, header.replace(os.sep, "__") + ".c")
    with open(c_file, "w") as f:
        # The typedef keeps a header of macros only (banned.h) from being an empty unit.
        f.write('#include "%s"\ntypedef int lint_header_alone_unit;\n'
                % header.replace(os.sep, "/"))
    cmd = cc + FLAGS + ["-I" + src, "-I" + build] + cflags + [c_file]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: lint_header_alone.py SOURCE_ROOT BUILD_ROOT [COMPILER...]\n")
        return 2
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cc = sys.argv[3:] or ["cc"]
    headers = lc.source_files(src, lc.CODE_FOLDERS, (".h",))
    cflags = pkg_cflags() if headers else []
    violations = 0
    guards = {}
    for h in headers:
        problem, name = guard_problem(lc.read_text(os.path.join(src, h)))
        if problem:
            print("%s:1: error: %s" % (h, problem))
            violations += 1
        if name:
            guards.setdefault(name, []).append(h)
    for name, hs in sorted(guards.items()):
        for h in hs[1:]:
            print("%s:1: error: include guard '%s' is also used by %s" % (h, name, hs[0]))
            violations += 1
    with tempfile.TemporaryDirectory(prefix="lint-header-alone-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(
                lambda h: compile_alone(cc, src, build, cflags, h, tmp), headers))
    for h, (rc, output) in zip(headers, results):
        if rc != 0:
            print("%s:1: error: does not compile on its own:" % h)
            for line in output.rstrip().splitlines():
                print("    " + line.replace(tmp + os.sep, ""))
            violations += 1
    print("lint-header-alone: %d files, %d violations" % (len(headers), violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
