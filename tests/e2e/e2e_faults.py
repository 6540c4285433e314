#!/usr/bin/env python3
"""Fault injection against the fedbits binary: memory limits, messages, resume safety,
concurrent database creation and foreign databases (out-of-range labels are unit tests).

Usage: e2e_faults.py CHECK FEDBITS_BINARY SOURCE_DIR [TRIALS]

Each CHECK runs the real binary in a fresh temporary directory, injects one fault and
requires a clean outcome: a status and a message, never a hang or a silently changed file.
TRIALS repeats the racy checks (the benchmark-style target runs more of them).
Python's standard library only.
"""
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

# A hang is a failure: no check here needs more than a few seconds per command.
HANG_S = 120


def fail(msg):
    sys.exit("FAIL: " + msg)


def run(binary, args, cwd, check=None, limit_kib=None, env=None):
    def limit():
        if limit_kib is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_kib * 1024, limit_kib * 1024))
    try:
        p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                           preexec_fn=limit, timeout=HANG_S, env=env)
    except subprocess.TimeoutExpired:
        fail(f"fedbits {' '.join(args)} (limit {limit_kib} KiB): still running after {HANG_S} s")
    if check is not None and p.returncode != check:
        fail(f"fedbits {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def query(db, sql, args=()):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def check_memlimit(binary, src, tmp, trials):
    """Under ulimit -v the run ends (finished, or failed with an out-of-memory message)
    instead of spinning in the BLAS library's buffer allocation or its thread shutdown."""
    if os.environ.get("FEDBITS_SANITIZED"):
        print("skipped: the sanitizers reserve more address space than any limit tested")
        sys.exit(77)
    for kib in (300000, 220000, 150000, 100000):
        db = os.path.join(tmp, f"m{kib}.db")
        p = run(binary, ["run", "--no-sweep", "--set", "train.rounds=3", "--threads", "1",
                         "--db", db, "-q"], tmp, limit_kib=kib)
        status, error = query(db, "SELECT status, error FROM runs")[0]
        if p.returncode == 0:
            if status != "finished":
                fail(f"limit {kib} KiB: exit 0 but the run is '{status}'")
        elif p.returncode == 1:
            if status != "failed" or not error or "out of memory" not in p.stderr:
                fail(f"limit {kib} KiB: exit 1, status '{status}', error {error!r}, "
                     f"stderr:\n{p.stderr}")
        else:
            fail(f"limit {kib} KiB: exit {p.returncode}\n{p.stderr}")
        print(f"ulimit -v {kib}: exit {p.returncode}, run {status}"
              + (f" ({error})" if error else ""))


def check_messages(binary, src, tmp, trials):
    """Messages that name the right thing: a CSV value beyond float range with its file and
    line; validate refusing the synthetic population run would refuse; report on a read-only
    filesystem reading the database instead of calling it foreign."""
    default = os.path.join(src, "scenarios", "default.yaml")
    with open(os.path.join(tmp, "train.csv"), "w") as f:
        f.write("label,a,b\n")
        for i in range(60):
            f.write(f"{i % 3},{'1e39' if i == 50 else i},1\n")
    p = run(binary, ["run", default, "--no-sweep", "--set", "data.dataset=csv",
                     "--set", "data.path=train.csv", "--set", "data.partition.type=iid",
                     "--set", "data.clients=4", "--set", "train.clients_per_round=2",
                     "--set", "train.rounds=1", "--db", "m.db", "-q"], tmp, check=1)
    if "train.csv:52:" not in p.stderr or "beyond the float range" not in p.stderr:
        fail("a 1e39 feature is not reported with its file and line:\n" + p.stderr)
    p = run(binary, ["validate", default, "--set", "data.clients=10000000"], tmp, check=2)
    if "exceeds the cap" not in p.stderr:
        fail("validate accepts a population run refuses:\n" + p.stdout + p.stderr)
    # report on a read-only filesystem: a read-only bind mount in a user namespace.
    rodir = os.path.join(tmp, "ro")
    os.mkdir(rodir)
    run(binary, ["run", default, "--no-sweep", "--set", "train.rounds=1",
                 "--db", os.path.join(rodir, "r.db"), "-q"], tmp, check=0)
    script = (f"mount --bind {rodir} {rodir} && mount -o remount,ro,bind {rodir} && "
              f"exec {binary} report {rodir}/r.db")
    try:
        p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                           timeout=HANG_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"read-only report not tested: {e}")
        return
    if "mount" in p.stderr and p.returncode != 0 and "fedbits" not in p.stderr:
        print("read-only report not tested (no user namespaces here): " + p.stderr.strip())
        return
    if p.returncode != 0 or "finished" not in p.stdout:
        fail(f"report on a read-only filesystem: exit {p.returncode}\n{p.stdout}{p.stderr}")
    print("messages: float range with file:line, validate cap, read-only report: ok")


def check_create_race(binary, src, tmp, trials):
    """Two runs creating the same new database at once both run (each trial a fresh file);
    a foreign SQLite file given as the database is refused and left byte for byte."""
    args = ["run", "--no-sweep", "--set", "train.rounds=1", "--set", "data.clients=50",
            "--set", "train.clients_per_round=5", "--threads", "1", "-q"]
    for t in range(trials):
        db = os.path.join(tmp, f"race{t}.db")
        ps = [subprocess.Popen([binary] + args + ["--db", db], cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
        for p in ps:
            _, err = p.communicate(timeout=HANG_S)
            if p.returncode != 0:
                fail(f"trial {t}: a concurrent creator failed (exit {p.returncode}):\n{err}")
        if query(db, "SELECT count(*) FROM runs WHERE status = 'finished'")[0][0] != 2:
            fail(f"trial {t}: not both runs finished")
    foreign = os.path.join(tmp, "foreign.db")
    con = sqlite3.connect(foreign)
    con.executescript("CREATE TABLE runs (a, b); CREATE TABLE rounds (x);"
                      "INSERT INTO runs VALUES (1, 2);")
    con.commit()
    con.close()
    with open(foreign, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    p = run(binary, args + ["--db", foreign], tmp, check=1)
    with open(foreign, "rb") as f:
        after = hashlib.sha256(f.read()).hexdigest()
    if before != after or "not a fedbits results database" not in p.stderr:
        fail(f"foreign database: changed={before != after}\n{p.stderr}")
    print(f"{trials} trials of two concurrent creators: all ran; a foreign file is refused "
          "unchanged")


def write_csv(path, rows, seed):
    """A CSV data set: label (3 classes) and 8 features, deterministic in seed."""
    x = seed
    with open(path, "w") as f:
        f.write("label," + ",".join(f"f{j}" for j in range(8)) + "\n")
        for i in range(rows):
            vals = []
            for _ in range(8):
                x = (x * 1103515245 + 12345) % 2147483648
                vals.append(f"{x / 2147483648.0 + (i % 3) * 0.3:.6f}")
            f.write(f"{i % 3}," + ",".join(vals) + "\n")


def start_until(binary, args, cwd, db, rounds):
    """Starts a run and returns its process, stopped (SIGSTOP) once `rounds` rounds are
    stored."""
    p = subprocess.Popen([binary] + args, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + HANG_S
    while time.time() < deadline and p.poll() is None:
        try:
            if query(db, "SELECT count(*) FROM rounds")[0][0] >= rounds:
                p.send_signal(signal.SIGSTOP)
                return p
        except sqlite3.Error:
            pass
        time.sleep(0.005)
    fail(f"the run ended (exit {p.poll()}) before {rounds} rounds were stored")


def check_resume_safety(binary, src, tmp, trials):
    """A resume that cannot go on changes nothing; a live run, changed data or another BLAS
    kernel are refused."""
    work = os.path.join(tmp, "work")
    other = os.path.join(tmp, "elsewhere")
    os.mkdir(work)
    os.mkdir(other)
    write_csv(os.path.join(work, "train.csv"), 3000, 7)
    db = os.path.join(tmp, "r.db")
    args = ["run", os.path.join(src, "scenarios", "default.yaml"), "--no-sweep",
            "--set", "data.dataset=csv", "--set", "data.path=train.csv",
            "--set", "data.partition.type=iid", "--set", "data.clients=40",
            "--set", "train.clients_per_round=10", "--set", "train.rounds=200",
            "--set", "output.checkpoint_every=2", "--threads", "1", "-q", "--db", db]
    q = "SELECT * FROM rounds ORDER BY round"

    # A run that is alive (stopped, not dead) is not resumed: its rows stay its own.
    p = start_until(binary, args, work, db, 6)
    r = run(binary, ["resume", db, "--run", "1", "-q"], work)
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()
    p.stderr.close()
    if r.returncode == 0 or "still running" not in r.stderr:
        fail(f"resume of a live run: exit {r.returncode}\n{r.stderr}")
    kept = query(db, q)
    print(f"live owner: resume refused ({r.stderr.strip()})")

    # The owner is dead now. From another directory the relative data path is missing:
    # refused, and every round is kept.
    r = run(binary, ["resume", db, "--run", "1", "-q"], other)
    if r.returncode == 0 or "train.csv" not in r.stderr:
        fail(f"resume from another directory: exit {r.returncode}\n{r.stderr}")
    if query(db, q) != kept or query(db, "SELECT status FROM runs")[0][0] != "running":
        fail("a refused resume changed the run's rows or status")
    print(f"resume from elsewhere: refused, {len(kept)} rounds kept ({r.stderr.strip()})")

    # The data changed (one byte, same size): refused, rows kept.
    path = os.path.join(work, "train.csv")
    with open(path, "rb") as f:
        original = f.read()
    changed = bytearray(original)
    changed[-3] = ord("1") if changed[-3] != ord("1") else ord("2")
    with open(path, "wb") as f:
        f.write(changed)
    r = run(binary, ["resume", db, "--run", "1", "-q"], work)
    if r.returncode == 0 or "bytes changed" not in r.stderr:
        fail(f"resume with changed data: exit {r.returncode}\n{r.stderr}")
    if query(db, q) != kept:
        fail("a resume refused for changed data changed the rows")
    print(f"changed data: refused ({r.stderr.strip()})")
    with open(path, "wb") as f:
        f.write(original)

    # Another BLAS kernel: refused.
    env = dict(os.environ, OPENBLAS_CORETYPE="Sandybridge")
    r = run(binary, ["resume", db, "--run", "1", "-q"], work, env=env)
    if r.returncode == 0 or "BLAS kernel" not in r.stderr:
        fail(f"resume with another BLAS kernel: exit {r.returncode}\n{r.stderr}")
    print(f"other kernel: refused ({r.stderr.strip()})")

    # Restored, from the right directory: it goes on and finishes.
    run(binary, ["resume", db, "--run", "1", "-q"], work, check=0)
    n, status = query(db, "SELECT (SELECT count(*) FROM rounds), status FROM runs")[0]
    if n != 200 or status != "finished":
        fail(f"the resumed run: {n} rounds, '{status}'")
    owner = query(db, "SELECT owner_pid, owner_host, inputs, blas_kernel FROM runs")[0]
    if not owner[0] or not owner[1] or "data.path\t" not in owner[2] or not owner[3]:
        fail(f"owner and inputs not recorded: {owner}")
    print("restored: resumed to 200 rounds")


CHECKS = {
    "memlimit": check_memlimit,
    "messages": check_messages,
    "create-race": check_create_race,
    "resume-safety": check_resume_safety,
}


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: e2e_faults.py {{{'|'.join(CHECKS)}}} FEDBITS SOURCE_DIR [TRIALS]")
    binary = os.path.abspath(sys.argv[2])
    trials = int(sys.argv[4]) if len(sys.argv) == 5 else 3
    with tempfile.TemporaryDirectory(prefix="fedbits-faults-") as tmp:
        CHECKS[sys.argv[1]](binary, os.path.abspath(sys.argv[3]), tmp, trials)


if __name__ == "__main__":
    main()
