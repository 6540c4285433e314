#!/usr/bin/env python3
"""End-to-end test of fedbits on several processes (sim/cluster.h, docs/mpi.md).

Usage: e2e_mpi.py FEDBITS_BINARY SOURCE_DIR

Every scenario in tests/e2e/mpi/ runs four ways: one process with 1 thread, one process with
2 threads, `mpirun -np 2` (default threads) and `mpirun -np 4 --threads 1`. Aggregation is
exact and every rank runs the same event loop, so the four results databases must hold the
same rows: all columns of `rounds` (and of `clients_rounds` where the scenario records
them), the same event fingerprint and config hash, one run, status 'finished'. Each scenario
also checks that it exercises what it is there for (dropouts, deadline, staleness, anchors,
variable message sizes, every SecAgg dropout phase, the stop rules ending every rank at the
same round). Then two runs that must fail under
mpirun: checkpoints and resume (single process only) and --jobs.

Exit status 77 (meson's SKIP) when mpirun is missing, when the binary was built without MPI
(a 2-rank run does not report "MPI ranks" in its summary). In the sanitizer tree
(FEDBITS_SANITIZED set) the ranks run without LeakSanitizer, which Open MPI's own
allocations would trip; the single-process runs keep it.
Every scenario is run even after one fails; the failures are listed at the end. Python's
standard library only.
"""
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

SKIP = 77
RUN_TIMEOUT_S = 180  # per fedbits invocation; a deadlocked rank must not eat meson's budget

# What mpirun needs in a container: running as root, more ranks than cores (CI has 2).
# vader's single-copy mechanism (CMA) is often forbidden by container seccomp profiles.
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
}

# The four ways each scenario runs: (name, ranks or None for no mpirun, extra arguments).
VARIANTS = (
    ("1 process, 1 thread", None, ["--threads", "1"]),
    ("1 process, 2 threads", None, ["--threads", "2"]),
    ("mpirun -np 2", 2, []),
    ("mpirun -np 4, 1 thread", 4, ["--threads", "1"]),
)


class Failure(Exception):
    pass


def env_for(ranks):
    env = dict(os.environ)
    if ranks is not None:
        env.update(MPI_ENV)
        if os.environ.get("FEDBITS_SANITIZED"):
            opts = [o for o in env.get("ASAN_OPTIONS", "").split(":")
                    if o and not o.startswith("detect_leaks=")]
            env["ASAN_OPTIONS"] = ":".join(opts + ["detect_leaks=0"])
    return env


def mpirun_cmd(ranks):
    return ["mpirun", "--oversubscribe", "-np", str(ranks)]


def execute(cmd, cwd, env):
    """Runs cmd in its own process group; returns (exit status, stdout, stderr). On timeout
    the whole group (mpirun and its ranks) is killed and the run counts as a failure."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        raise Failure(f"{' '.join(cmd)}: no exit after {RUN_TIMEOUT_S} s (hung ranks?)\n"
                      f"stdout:\n{out}\nstderr:\n{err}")
    return p.returncode, out, err


def fedbits(binary, args, cwd, ranks=None, check=0):
    cmd = ([] if ranks is None else mpirun_cmd(ranks)) + [binary] + args
    rc, out, err = execute(cmd, cwd, env_for(ranks))
    if check is not None and rc != check:
        raise Failure(f"{' '.join(cmd)}: exit {rc}, wanted {check}\n"
                      f"stdout:\n{out}\nstderr:\n{err}")
    return rc, out, err


def query(db, sql, args=()):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def mpi_ranks_line(stdout):
    """The ranks count the summary reports (`  MPI ranks          2 (...)`), or None."""
    m = re.search(r"^\s*MPI ranks\s+(\d+)\b", stdout, re.M)
    return int(m.group(1)) if m else None


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def probe(binary, src, tmp):
    """Skips unless mpirun exists and this binary shards runs over MPI ranks. Each rank gets
    its own database, so a binary without MPI (two independent runs) cannot fail on a
    locked file and is told apart by its summary alone."""
    if shutil.which("mpirun") is None:
        skip("mpirun not found")
    cwd = os.path.join(tmp, "probe")
    os.mkdir(cwd)
    tiny = os.path.join(src, "tests", "e2e", "tiny.yaml")
    cmd = mpirun_cmd(2) + ["sh", "-c", 'exec "$0" run "$1" --db "probe-${OMPI_COMM_WORLD_RANK:-x}'
                           '.db" --threads 1 -q', binary, tiny]
    rc, out, err = execute(cmd, cwd, env_for(2))
    if rc != 0:
        raise Failure(f"probe {' '.join(cmd)}: exit {rc}\nstdout:\n{out}\nstderr:\n{err}")
    ranks = mpi_ranks_line(out)
    if ranks is None:
        skip("fedbits under mpirun -np 2 reports no 'MPI ranks' line: built without MPI "
             "(meson option -Dmpi)")
    if ranks != 2:
        raise Failure(f"probe: the summary reports {ranks} MPI ranks, wanted 2:\n{out}")


ROUNDS_Q = "SELECT * FROM rounds ORDER BY run_id, round"
CLIENTS_Q = ("SELECT * FROM clients_rounds ORDER BY run_id, round, client, started_s, "
             "outcome, dropout_phase, finished_s")
RUN_Q = "SELECT status, event_fingerprint, config_hash, model_params, error FROM runs"


def run_variants(binary, path, tmp):
    """Runs one scenario the four ways, each in its own directory with the same database
    name (so the resolved configs and their hashes are equal); returns the databases."""
    name = os.path.splitext(os.path.basename(path))[0]
    dbs = []
    for i, (label, ranks, extra) in enumerate(VARIANTS):
        cwd = os.path.join(tmp, f"{name}-{i}")
        os.mkdir(cwd)
        _, out, _ = fedbits(binary, ["run", path, "--db", "r.db", "--quiet"] + extra, cwd, ranks)
        got = mpi_ranks_line(out)
        if got != ranks:
            raise Failure(f"{name} ({label}): the summary reports MPI ranks {got}, wanted "
                          f"{ranks}:\n{out}")
        dbs.append((label, os.path.join(cwd, "r.db")))
    return dbs


def compare(name, dbs):
    """The four databases hold the same run: every column of rounds and clients_rounds."""
    ref_label, ref = dbs[0]
    ref_run = query(ref, RUN_Q)
    ref_rounds = query(ref, ROUNDS_Q)
    ref_clients = query(ref, CLIENTS_Q)
    if len(ref_run) != 1 or not ref_rounds:
        raise Failure(f"{name} ({ref_label}): {len(ref_run)} runs, {len(ref_rounds)} rounds")
    for label, db in dbs:
        runs = query(db, RUN_Q)
        if len(runs) != 1:
            raise Failure(f"{name} ({label}): {len(runs)} runs in the database, wanted 1 "
                          "(only rank 0 writes)")
        status, fp, chash, params, error = runs[0]
        if status != "finished" or not fp:
            raise Failure(f"{name} ({label}): status {status}, fingerprint {fp!r}, "
                          f"error {error!r}")
        if (fp, chash, params) != ref_run[0][1:4]:
            raise Failure(f"{name}: {label} has fingerprint {fp}, config hash {chash}, "
                          f"{params} parameters; {ref_label} has {ref_run[0][1:4]}")
        diff_rows(name, "rounds", ref_label, ref_rounds, label, query(db, ROUNDS_Q))
        diff_rows(name, "clients_rounds", ref_label, ref_clients, label, query(db, CLIENTS_Q))
    return ref, ref_rounds


def diff_rows(name, table, ref_label, ref, label, got):
    if got == ref:
        return
    if len(got) != len(ref):
        raise Failure(f"{name}: {table} has {len(got)} rows under {label}, {len(ref)} under "
                      f"{ref_label}")
    bad = [(a, b) for a, b in zip(ref, got) if a != b]
    lines = "\n".join(f"  {ref_label}: {a}\n  {label}: {b}" for a, b in bad[:3])
    raise Failure(f"{name}: {len(bad)} {table} rows differ between {ref_label} and {label}, "
                  f"first:\n{lines}")


# What each scenario must exercise, checked on the single-process database.

def covers_sync(db):
    r = query(db, "SELECT round, selected, dropped, timed_out, nmse, accuracy, client_acc_mean "
                  "FROM rounds ORDER BY round")
    if any(x[1] != math.ceil(1.3 * 24) for x in r):
        return f"selected is not ceil(1.3 x 24) every round: {[x[1] for x in r]}"
    if sum(x[2] for x in r) == 0 or sum(x[3] for x in r) == 0:
        return "no client dropped or timed out"
    if any(x[4] is None for x in r):
        return "a round without NMSE"
    if any((x[5] is None) != (x[6] is None) for x in r):
        return "client evaluation missing from an evaluated round"
    return None


def covers_async(db):
    r = query(db, "SELECT participants, stale, staleness_max, dropped FROM rounds")
    if any(x[0] != 6 for x in r) or max(x[2] for x in r) == 0 or sum(x[3] for x in r) == 0:
        return f"async rounds (participants, stale, staleness_max, dropped): {r}"
    return None


def covers_docofl(db):
    r = query(db, "SELECT round, downlink_bits, downlink_anchor_bits, downlink_correction_bits "
                  "FROM rounds ORDER BY round")
    if r[0][2] == 0 or any(x[3] == 0 or x[1] != x[2] + x[3] for x in r):
        return f"docofl downlink bits (round, total, anchor, correction): {r}"
    return None


def covers_quicfl(db):
    n = query(db, "SELECT count(DISTINCT uplink_bits) FROM clients_rounds "
                  "WHERE outcome = 'completed'")[0][0]
    if n < 2:
        return "every QUIC-FL message had the same size"
    return None


def covers_secure(db):
    r = query(db, "SELECT uplink_protocol_bits, secure_aborted FROM rounds")
    if any(x[0] == 0 or x[1] != 0 for x in r):
        return f"secure rounds (protocol bits, aborted): {r}"
    phases = {p for (p,) in query(db, "SELECT DISTINCT dropout_phase FROM clients_rounds "
                                      "WHERE outcome = 'dropped'")}
    want = {"before_download", "during_training", "before_upload", "after_upload"}
    if phases != want:
        return f"dropouts in phases {sorted(phases)}, wanted all of {sorted(want)}"
    return None


def covers_cnn(db):
    r = query(db, "SELECT accuracy FROM rounds ORDER BY round")
    if len(r) != 3 or not all(x[0] is not None and x[0] > 0.3 for x in r):
        return f"cnn accuracies: {r}"
    return None


def covers_stop_target(db):
    r = query(db, "SELECT round, accuracy FROM rounds ORDER BY round")
    hit = [x[0] for x in r if x[1] is not None and x[1] >= 0.7]
    if len(r) != 16 or hit != [16]:
        return f"stopped after {len(r)} of 24 rounds, target 0.7 reached at {hit}; wanted 16, [16]"
    return None


def covers_stop_budget(db):
    r = query(db, "SELECT count(*), max(sim_time_s) FROM rounds")[0]
    if r[0] != 24 or r[1] > 15:
        return f"{r[0]} of 40 aggregations, the last at {r[1]} s; wanted 24 within 15 s"
    return None


def covers_dp(db):
    r = query(db, "SELECT clip_norm, epsilon, timed_out, dropped FROM rounds ORDER BY round")
    if len({x[0] for x in r}) < len(r) or any(b[1] <= a[1] for a, b in zip(r, r[1:])):
        return f"adaptive clip and epsilon per round: {[(x[0], x[1]) for x in r]}"
    if sum(x[2] for x in r) == 0 or sum(x[3] for x in r) == 0:
        return "no client dropped or timed out"
    return None


SCENARIOS = (
    ("sync-eden-ef.yaml", covers_sync),
    ("async-fedbuff.yaml", covers_async),
    ("docofl.yaml", covers_docofl),
    ("quicfl.yaml", covers_quicfl),
    ("secagg-plus.yaml", covers_secure),
    ("secure-thc.yaml", covers_secure),
    ("plain-thc-ef.yaml", covers_sync),
    ("cnn.yaml", covers_cnn),
    ("stop-target.yaml", covers_stop_target),
    ("stop-budget-async.yaml", covers_stop_budget),
    ("central-dp-adaptive.yaml", covers_dp),
)


def check_scenario(binary, src, tmp, file, covers):
    path = os.path.join(src, "tests", "e2e", "mpi", file)
    name = os.path.splitext(file)[0]
    dbs = run_variants(binary, path, tmp)
    ref, rounds = compare(name, dbs)
    why = covers(ref)
    if why is not None:
        raise Failure(f"{name}: the scenario does not exercise what it should: {why}")
    return f"{name}: {len(rounds)} rounds identical over {', '.join(v[0] for v in VARIANTS)}"


def check_refusals(binary, src, tmp):
    """Runs mpirun cannot do end with a non-zero status and say why, on every rank."""
    sc = os.path.join(src, "tests", "e2e", "mpi", "sync-eden-ef.yaml")
    cwd = os.path.join(tmp, "refusals")
    os.mkdir(cwd)
    rc, out, err = fedbits(binary, ["run", sc, "--db", "c.db", "-q", "--set",
                                    "output.checkpoint_every=2"], cwd, 2, check=None)
    if rc == 0 or "single process" not in out + err:
        raise Failure(f"mpirun -np 2 with output.checkpoint_every=2: exit {rc}, wanted non-zero "
                      f"with 'single process'\nstdout:\n{out}\nstderr:\n{err}")
    # The ranks end together, so rank 0 has recorded the failure whichever rank failed first.
    db = os.path.join(cwd, "c.db")
    status = query(db, "SELECT status, error FROM runs") if os.path.exists(db) else []
    if len(status) != 1 or status[0][0] != "failed" or "single process" not in status[0][1]:
        raise Failure(f"the refused checkpointing run is recorded as {status}, wanted one "
                      "'failed' run naming 'single process'")
    rc, out, err = fedbits(binary, ["resume", "c.db", "--run", "1"], cwd, 2, check=None)
    if rc != 2 or "single process" not in err:
        raise Failure(f"mpirun -np 2 fedbits resume: exit {rc}, wanted 2 with 'single process'"
                      f"\nstdout:\n{out}\nstderr:\n{err}")
    rc, out, err = fedbits(binary, ["run", sc, "--db", "j.db", "-q", "--jobs", "2"], cwd, 2,
                           check=None)
    if rc == 0 or "--jobs" not in err:
        raise Failure(f"mpirun -np 2 with --jobs 2: exit {rc}, wanted non-zero naming --jobs\n"
                      f"stdout:\n{out}\nstderr:\n{err}")
    return "refusals: checkpoints, resume and --jobs under mpirun exit non-zero with a reason"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: e2e_mpi.py FEDBITS SOURCE_DIR")
    binary = os.path.abspath(sys.argv[1])
    src = os.path.abspath(sys.argv[2])
    failures = []
    with tempfile.TemporaryDirectory(prefix="fedbits-e2e-mpi-") as tmp:
        try:
            probe(binary, src, tmp)
        except Failure as e:
            sys.exit(f"FAIL: {e}")
        checks = [(f, lambda f=f, c=c: check_scenario(binary, src, tmp, f, c))
                  for f, c in SCENARIOS]
        checks.append(("refusals", lambda: check_refusals(binary, src, tmp)))
        for label, fn in checks:
            try:
                print(fn(), flush=True)
            except Failure as e:
                failures.append(label)
                print(f"FAIL: {e}", flush=True)
    if failures:
        sys.exit(f"FAIL: {len(failures)} of {len(checks)} checks: {', '.join(failures)}")
    print(f"mpi: {len(checks)} checks passed")


if __name__ == "__main__":
    main()
