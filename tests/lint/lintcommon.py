# lintcommon: shared helpers for the scripts of tests/lint/ (imported, not run).
#
# The folder lists and the dependency order come from ARCHITECTURE.md "Layers" and the
# library targets of the meson.build files. Files are always found by walking the tree, never listed,
# so the checks follow whatever modules exist when they run.

import os
import re
import subprocess
import sys

# Code folders, bottom up. Each is one static library, libfedbits_<folder>.a.
CODE_FOLDERS = ["base", "crypto", "codec", "clients", "aggregator", "sim", "cmd"]

# Folders that may include anything.
FREE_FOLDERS = ["tests", "tools", "bench"]

# What each code folder may include besides itself (the arrows of ARCHITECTURE.md).
ALLOWED = {
    "base": [],
    "crypto": ["base"],
    "codec": ["base"],
    "clients": ["base", "crypto", "codec"],
    "aggregator": ["base", "crypto", "codec"],
    "sim": ["base", "crypto", "codec", "clients", "aggregator"],
    "cmd": ["base", "crypto", "codec", "clients", "aggregator", "sim"],
}

# The one folder whose code may write to stdout/stderr and end the process: the command layer
# (lint-no-print checks every code folder but this one).
PRINTING_FOLDER = "cmd"

# Identifier prefixes owned by our dependencies (docs/conventions.md §3).
DEPENDENCY_PREFIXES = ["crypto_", "sodium_", "randombytes_", "gsl_", "cblas_", "sqlite3_",
                       "yaml_", "MPI_", "ck_", "suite_", "tcase_", "srunner_"]

# Symbols that toolchains add on their own in sanitizer or coverage builds.
TOOLCHAIN_PREFIXES = ("__odr_asan", "__asan", "___asan", "__ubsan", "__sancov", "__llvm",
                      "__profc", "__profd", "__profn", "__gcov", "__tsan", "__msan")

# Exit code that meson reports as SKIP.
EXIT_SKIP = 77


def source_files(root, folders, exts):
    """Every file under root/<folder> for the given folders whose name ends in one of exts,
    as sorted paths relative to root. Hidden directories are skipped; missing or empty
    folders yield nothing."""
    out = []
    for folder in folders:
        top = os.path.join(root, folder)
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.endswith(tuple(exts)) and not name.startswith("."):
                    out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def strip_comments(text):
    """Replace C comments by spaces, keeping newlines so line numbers still match. String
    literals are honoured so that a "/*" inside one does not start a comment."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


def includes(text):
    """(line, kind, path) for every #include outside comments; kind is '"' or '<'."""
    text = strip_comments(text)
    out = []
    for m in INCLUDE_RE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, m.group(1), m.group(2)))
    return out


def archive_symbols(archive, nm="nm", extra=()):
    """Run nm on a static library and return [(member, type, name)], member being the
    object file's base name (e.g. 'eden.c.o')."""
    proc = subprocess.run([nm, "-A", "-P", *extra, archive], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError("nm failed on %s" % archive)
    out = []
    for line in proc.stdout.splitlines():
        # POSIX format with -A on an archive: "lib.a[member.o]: name type value size".
        m = re.match(r"^(.*?)\[([^\]]+)\]: (\S+) (\S) ", line)
        if m is None:
            m = re.match(r"^(.*?): (\S+) (\S) ", line)
            if m is None:
                continue
            member, name, typ = os.path.basename(m.group(1)), m.group(2), m.group(3)
        else:
            member, name, typ = os.path.basename(m.group(2)), m.group(3), m.group(4)
        out.append((member, typ, name))
    return out


def object_stem(member):
    """The concept name of an object file: 'eden.c.o' -> 'eden'. Meson names objects of
    generated sources 'meson-generated_<name>.c.o'."""
    stem = member
    if stem.startswith("meson-generated_"):
        stem = stem[len("meson-generated_"):]
    # A generated source outside the object's folder appears as '.._name.c.o'.
    while stem.startswith(".._"):
        stem = stem[len(".._"):]
    for suffix in (".o", ".obj"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for suffix in (".c", ".C", ".cc", ".cpp", ".S", ".s"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem


def default_libraries(build):
    """Existing code-folder libraries under a build directory."""
    libs = []
    for folder in CODE_FOLDERS:
        path = os.path.join(build, folder, "libfedbits_%s.a" % folder)
        if os.path.isfile(path):
            libs.append(path)
    return libs


def rel(path, root):
    try:
        r = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if r.startswith("..") else r
