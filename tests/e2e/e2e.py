#!/usr/bin/env python3
"""End-to-end tests of the fedbits binary (the checks are listed in tests/e2e/meson.build).

Usage: e2e.py CHECK FEDBITS_BINARY SOURCE_DIR

Each CHECK runs the real binary in a fresh temporary directory and compares what a user
would see: exit status, messages, and the rows of the results database. Python's standard
library only (sqlite3, subprocess).
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROUND_COLUMNS = ("round, sim_time_s, accuracy, loss, train_loss, selected, participants, "
                 "dropped, uplink_bits, downlink_bits")


def run(binary, args, cwd, check=None, env=None):
    p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True, env=env)
    if check is not None and p.returncode != check:
        sys.exit(f"fedbits {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def rows(db, run_id=None):
    con = sqlite3.connect(db)
    if run_id is None:
        run_id = con.execute("SELECT max(id) FROM runs").fetchone()[0]
    r = con.execute(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE run_id = ? ORDER BY round",
                    (run_id,)).fetchall()
    con.close()
    return r


def run_row(db, run_id=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    if run_id is None:
        run_id = con.execute("SELECT max(id) FROM runs").fetchone()[0]
    r = dict(con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())
    con.close()
    return r


def dump(db):
    """The rounds table as text, the form of the .expected files."""
    out = [ROUND_COLUMNS.replace(" ", "")]
    for r in rows(db):
        out.append("|".join("NULL" if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v))
                            for v in r))
    return "\n".join(out) + "\n"


def fail(msg):
    sys.exit("FAIL: " + msg)


def check_default(binary, src, tmp):
    """The quick-start run: the embedded default sweep (float32, EDEN 1/2/4, QUIC-FL 2), each
    run >= 0.75 accuracy after 50 rounds, an accuracy-vs-bits summary table."""
    p = run(binary, ["run", "--db", "r.db"], tmp, check=0)
    for word in ("rounds", "accuracy", "uplink", "bits/coord", "downlink", "sim time", "wall",
                 "uplink.codec=eden uplink.bits=1"):
        if word not in p.stdout:
            fail(f"summary lacks '{word}':\n{p.stdout}")
    if p.stderr.strip():
        fail(f"stderr is not a terminal, yet something was printed:\n{p.stderr}")
    db = os.path.join(tmp, "r.db")
    runs = query(db, "SELECT id, sweep_label, status, event_fingerprint FROM runs ORDER BY id")
    if len(runs) != 5:
        fail(f"{len(runs)} runs, wanted the 5 codecs of the default sweep")
    uplink = {}
    for run_id, label, status, fp in runs:
        r = rows(db, run_id)
        if len(r) != 50 or status != "finished" or not fp:
            fail(f"run {run_id} ({label}): {len(r)} rounds, status {status}")
        if not r[-1][2] >= 0.75:
            fail(f"run {run_id} ({label}): final accuracy {r[-1][2]} below 0.75")
        times = [x[1] for x in r]
        if times != sorted(times):
            fail(f"run {run_id}: sim_time_s decreases")
        for x in r:
            if x[9] != x[5] * 32 * 610:
                fail(f"run {run_id}: downlink of round {x[0]} is not 32 x 610 per client")
        uplink[label] = sum(x[8] for x in r)
        if label.startswith("uplink.codec=none"):
            for x in r:
                if x[8] != x[6] * 32 * 610:
                    fail(f"float32 uplink of round {x[0]} is not 32 x 610 per client")
    if not uplink["uplink.codec=eden uplink.bits=1"] < uplink["uplink.codec=eden uplink.bits=2"] \
            < uplink["uplink.codec=eden uplink.bits=4"] < uplink["uplink.codec=none uplink.bits=32"]:
        fail(f"uplink bits do not grow with the bit budget: {uplink}")
    info = run_row(db, 1)
    if '"clients": 1000' not in info["config_json"]:
        fail("resolved config lacks the population: " + info["config_json"])
    print(f"default scenario: 5 runs of 50 rounds, uplink bits {uplink}")


def write_shakespeare(tmp):
    """A LEAF Shakespeare folder (10 users) in tmp/shk and an LSTM scenario tmp/lstm.yaml."""
    text = "to be or not to be. "
    for split, n, off in (("train", 30, 0), ("test", 5, 1)):
        data = {}
        for k in range(10):
            seqs = ["".join(text[(k * 3 + i * 7 + off + j) % len(text)] for j in range(81))
                    for i in range(n)]
            data[f"u{k}"] = {"x": [q[:80] for q in seqs], "y": [q[80] for q in seqs]}
        os.makedirs(os.path.join(tmp, "shk", split), exist_ok=True)
        with open(os.path.join(tmp, "shk", split, "all_data.json"), "w") as f:
            json.dump({"users": list(data), "num_samples": [n] * 10, "user_data": data}, f)
    with open(os.path.join(tmp, "lstm.yaml"), "w") as f:
        f.write("name: e2e-lstm\nseed: 2\n"
                "data: {dataset: shakespeare, path: shk, clients: 10}\n"
                "model: {type: lstm, embed: 4, hidden: 16, layers: 2}\n"
                "train: {rounds: 12, clients_per_round: 5, local_epochs: 2, batch_size: 10, "
                "lr: 2.0}\noutput: {eval_every: 4}\n")


def check_determinism(binary, src, tmp):
    """Same scenario and seed: identical rows whatever the threads; another seed differs."""
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    run(binary, ["run", sc, "--db", "a.db", "--threads", "1"], tmp, check=0)
    run(binary, ["run", sc, "--db", "b.db", "--threads", "2"], tmp, check=0)
    run(binary, ["run", sc, "--db", "c.db", "--seed", "8"], tmp, check=0)
    a, b, c = (rows(os.path.join(tmp, f)) for f in ("a.db", "b.db", "c.db"))
    if a != b:
        fail("1 and 2 threads give different rows")
    if a == c:
        fail("seeds 7 and 8 give the same rows")
    fa = run_row(os.path.join(tmp, "a.db"))["event_fingerprint"]
    fb = run_row(os.path.join(tmp, "b.db"))["event_fingerprint"]
    if fa != fb:
        fail("event fingerprints differ between thread counts")
    # A CNN (convolution, group norm, pooling) on Fashion-MNIST, evaluated on 1200 test images
    # in chunks that the two threads share.
    sc = os.path.join(src, "tests", "e2e", "tiny-cnn.yaml")
    run(binary, ["run", sc, "--db", "d.db", "--threads", "1"], tmp, check=0)
    run(binary, ["run", sc, "--db", "e.db", "--threads", "2"], tmp, check=0)
    d, e = (rows(os.path.join(tmp, f)) for f in ("d.db", "e.db"))
    if d != e:
        fail("cnn: 1 and 2 threads give different rows")
    if len(d) != 3 or not d[-1][2] > 0.5 or abs(d[-1][2] * 1200 - round(d[-1][2] * 1200)) > 1e-9:
        fail(f"cnn: expected 3 rounds learning on 1200 test images, got {d}")
    # A two-layer LSTM on a generated LEAF Shakespeare folder: 10 users, one client each.
    write_shakespeare(tmp)
    run(binary, ["run", "lstm.yaml", "--db", "f.db", "--threads", "1"], tmp, check=0)
    run(binary, ["run", "lstm.yaml", "--db", "g.db", "--threads", "2"], tmp, check=0)
    f_, g = (rows(os.path.join(tmp, x)) for x in ("f.db", "g.db"))
    if f_ != g:
        fail("lstm: 1 and 2 threads give different rows")
    if not f_[-1][4] < f_[0][4] - 1.0:
        fail(f"lstm: the training loss does not fall: {f_}")
    print("determinism: 1 and 2 threads identical (logreg, cnn, lstm); seed changes the run")


def check_golden(binary, src, tmp):
    """The tiny scenario's rounds table, byte for byte (regenerate: tools/regen-expected)."""
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    run(binary, ["run", sc, "--db", "g.db"], tmp, check=0)
    got = dump(os.path.join(tmp, "g.db"))
    with open(os.path.join(src, "tests", "e2e", "tiny.expected")) as f:
        want = f.read()
    if got != want:
        fail(f"rounds differ from tiny.expected\n--- expected\n{want}--- got\n{got}")
    print("golden: tiny.expected matches")


def check_bad_inputs(binary, src, tmp):
    """Every file in tests/e2e/bad/ fails validation with the message in its first line."""
    bad = os.path.join(src, "tests", "e2e", "bad")
    n = 0
    for name in sorted(os.listdir(bad)):
        if not name.endswith(".yaml"):
            continue
        path = os.path.join(bad, name)
        with open(path) as f:
            first = f.readline()
        if not first.startswith("# expect: "):
            fail(f"{name}: first line must be '# expect: MESSAGE'")
        want = first[len("# expect: "):].rstrip("\n").replace("FILE", path)
        for cmd in (["validate", path], ["run", path, "--db", "x.db"]):
            p = run(binary, cmd, tmp, check=2)
            got = p.stderr.strip().splitlines()[0] if p.stderr.strip() else ""
            if got != want:
                fail(f"{name} ({cmd[0]}): got\n  {got}\nwanted\n  {want}")
        if os.path.exists(os.path.join(tmp, "x.db")):
            con = sqlite3.connect(os.path.join(tmp, "x.db"))
            if con.execute("SELECT count(*) FROM runs").fetchone()[0] != 0:
                fail(f"{name}: a run was started despite the bad scenario")
            con.close()
        n += 1
    # Overrides use the same validation.
    p = run(binary, ["validate", os.path.join(src, "scenarios", "default.yaml"), "--set",
                     "train.lr=-1"], tmp, check=2)
    if not p.stderr.startswith("--set:1:10: error: train.lr = -1 is out of range"):
        fail("--set error: " + p.stderr)
    p = run(binary, ["run", "--set", "uplink.bitz=2"], tmp, check=2)
    if "unknown key 'uplink.bitz' (did you mean 'uplink.bits'?)" not in p.stderr:
        fail("--set unknown key: " + p.stderr)
    p = run(binary, ["validate", "missing.yaml"], tmp, check=2)
    if "missing.yaml: error: cannot open scenario 'missing.yaml': No such file or directory" not in p.stderr:
        fail("missing file: " + p.stderr)
    print(f"bad inputs: {n} files and overrides rejected with the expected messages")


def check_cli(binary, src, tmp):
    """Help, version, list, and usage errors."""
    p = run(binary, ["--version"], tmp, check=0)
    if not p.stdout.startswith("fedbits "):
        fail("--version: " + p.stdout)
    for cmd in (["--help"], ["run", "--help"], ["validate", "--help"], ["list", "--help"],
                ["resume", "--help"], ["dme", "--help"], ["bench", "codecs", "--help"],
                ["bench", "secagg", "--help"], ["report", "--help"], ["export", "--help"],
                ["check", "--help"], ["plot", "--help"], ["privacy", "--help"]):
        p = run(binary, cmd, tmp, check=0)
        if "usage: fedbits" not in p.stdout:
            fail(f"{cmd}: no usage text")
    p = run(binary, ["run", "--help"], tmp, check=0)
    for opt in ("--db", "--seed", "--set", "--threads", "--quiet"):
        if opt not in p.stdout:
            fail(f"run --help does not document {opt}")
    p = run(binary, ["list"], tmp, check=0)
    for word in ("synthetic_iid", "logreg", "none", "fedavg", "downlink codecs", "docofl"):
        if word not in p.stdout:
            fail(f"list lacks {word}")
    p = run(binary, ["run", "--no-sweep", "--set", "uplink.codec=drive", "--set",
                     "train.rounds=2", "--db", "ns.db"], tmp, check=0)
    if "uplink bits" not in p.stdout or len(query(os.path.join(tmp, "ns.db"),
                                                  "SELECT id FROM runs")) != 1:
        fail("--no-sweep: " + p.stdout)
    # The key table of docs/scenarios.md is the schema's, row for row (tools/update-docs).
    p = subprocess.run([os.path.join(src, "tools", "update-docs"), "--check", binary],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("docs/scenarios.md key table: " + p.stderr)
    run(binary, ["frobnicate"], tmp, check=2)
    run(binary, [], tmp, check=2)
    run(binary, ["run", "--threads", "0"], tmp, check=2)
    run(binary, ["run", "--seed", "-4"], tmp, check=2)
    run(binary, ["run", "--bogus"], tmp, check=2)
    run(binary, ["validate"], tmp, check=2)
    p = run(binary, ["validate", os.path.join(src, "scenarios", "default.yaml")], tmp, check=0)
    if ": ok" not in p.stdout:
        fail("validate ok: " + p.stdout)
    # An unwritable database is a clear error, not a crash.
    p = run(binary, ["run", "--db", "/nonexistent-dir/r.db", "--set", "train.rounds=1"], tmp,
            check=1)
    if "cannot open the results database" not in p.stderr:
        fail("bad db path: " + p.stderr)
    print("cli: help, version, list and usage errors behave")


def check_interrupt(binary, src, tmp):
    """SIGINT mid-run: exit 130, status 'interrupted', completed rounds kept."""
    db = os.path.join(tmp, "i.db")
    p = subprocess.Popen([binary, "run", "--db", db, "--set", "train.rounds=100000",
                          "--set", "data.clients=200", "--set", "train.clients_per_round=20",
                          "--threads", "1"], cwd=tmp, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if os.path.exists(db):
            try:
                con = sqlite3.connect(db)
                n = con.execute("SELECT count(*) FROM rounds").fetchone()[0]
                con.close()
            except sqlite3.Error:
                n = 0
            if n >= 3:
                break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    if p.returncode != 130:
        fail(f"exit {p.returncode} after SIGINT\n{out}\n{err}")
    info = run_row(db)
    kept = len(rows(db))
    if info["status"] != "interrupted" or kept < 3:
        fail(f"after SIGINT: status {info['status']}, {kept} rounds")
    print(f"interrupt: status interrupted, {kept} rounds kept")


def query(db, sql, args=()):
    con = sqlite3.connect(db)
    r = con.execute(sql, args).fetchall()
    con.close()
    return r


POPULATION = """
name: e2e-population
seed: 5
data: {dataset: synthetic_iid, clients: 400}
model: {type: logreg}
train: {rounds: 12, clients_per_round: 20, batch_size: 10, lr: 0.05}
population:
  compute: {distribution: lognormal, seconds_per_sample: 0.01, sigma: 1.0}
  network: {distribution: lognormal, downlink_mbps: 6, uplink_mbps: 4.5, sigma: 0.8, jitter: 0.4}
  availability: {type: diurnal, probability: 1, amplitude: 0.4, period_s: 3600}
  dropout: {probability: 0.1, phase: any, propensity_sigma: 1}
protocol: {type: sync, over_selection: 1.3, deadline: {quantile: 0.8}, min_clients: 5}
output: {eval_every: 4, client_events: true, client_eval: 30}
"""


def check_population(binary, src, tmp):
    """Heterogeneous sync rounds: over-selection, deadline, dropouts, accounting adds up."""
    sc = os.path.join(tmp, "pop.yaml")
    with open(sc, "w") as f:
        f.write(POPULATION)
    run(binary, ["run", sc, "--db", "a.db", "--threads", "1"], tmp, check=0)
    run(binary, ["run", sc, "--db", "b.db", "--threads", "2"], tmp, check=0)
    a, b = os.path.join(tmp, "a.db"), os.path.join(tmp, "b.db")
    if rows(a) != rows(b) or run_row(a)["event_fingerprint"] != run_row(b)["event_fingerprint"]:
        fail("population run differs between 1 and 2 threads")
    r = query(a, "SELECT round, sim_time_s, selected, participants, dropped, timed_out, failed "
                 "FROM rounds ORDER BY round")
    times = [x[1] for x in r]
    if times != sorted(times):
        fail("sim_time_s decreases")
    ce = query(a, "SELECT client_acc_mean, client_acc_p10 FROM rounds WHERE accuracy IS NOT NULL")
    if not ce or any(m is None or p is None or not 0 <= p <= m <= 1 for m, p in ce):
        fail(f"client evaluation columns: {ce}")
    total_timed_out = 0
    for rnd, _, selected, part, dropped, timed_out, failed in r:
        if selected != 26:
            fail(f"round {rnd}: selected {selected}, wanted ceil(1.3 x 20) = 26")
        if part > 20:
            fail(f"round {rnd}: {part} participants beyond clients_per_round")
        after_upload = query(a, "SELECT count(*) FROM clients_rounds WHERE round = ? AND "
                                "dropout_phase = 'after_upload' AND outcome = 'dropped'", (rnd,))[0][0]
        if part + dropped - after_upload + timed_out != selected:
            fail(f"round {rnd}: {part} + {dropped} - {after_upload} + {timed_out} != {selected}")
        n = query(a, "SELECT count(*) FROM clients_rounds WHERE round = ?", (rnd,))[0][0]
        if n != selected:
            fail(f"round {rnd}: {n} clients_rounds rows for {selected} selected")
        total_timed_out += timed_out
    if total_timed_out == 0:
        fail("the deadline never cut a straggler")
    bits = query(a, "SELECT sum(uplink_bits) FROM rounds")[0][0]
    cbits = query(a, "SELECT sum(uplink_bits) FROM clients_rounds")[0][0]
    if bits != cbits:
        fail(f"rounds say {bits} uplink bits, clients_rounds {cbits}")
    # Too few clients per round: every round fails and the model never changes.
    run(binary, ["run", sc, "--db", "f.db", "--set", "protocol.min_clients=20",
                 "--set", "protocol.deadline.quantile=0.05"], tmp, check=0)
    f = query(os.path.join(tmp, "f.db"), "SELECT failed, accuracy FROM rounds")
    if not all(x[0] == 1 for x in f):
        fail(f"rounds with under min_clients updates did not fail: {f}")
    accs = {x[1] for x in f if x[1] is not None}
    if len(accs) != 1:
        fail(f"failed rounds changed the model: accuracies {accs}")
    print(f"population: {len(r)} rounds, {total_timed_out} clients timed out, bits agree")


def check_async(binary, src, tmp):
    """FedBuff: every round aggregates buffer_size updates; staleness is recorded."""
    sc = os.path.join(src, "scenarios", "population", "fedbuff-1k.yaml")
    args = ["--set", "train.rounds=30", "--set", "data.clients=300",
            "--set", "protocol.concurrency=30", "--set", "protocol.buffer_size=5"]
    run(binary, ["run", sc, "--db", "a.db", "--threads", "1"] + args, tmp, check=0)
    run(binary, ["run", sc, "--db", "b.db", "--threads", "2"] + args, tmp, check=0)
    a, b = os.path.join(tmp, "a.db"), os.path.join(tmp, "b.db")
    if rows(a) != rows(b):
        fail("async run differs between 1 and 2 threads")
    r = query(a, "SELECT round, participants, stale, staleness_max FROM rounds ORDER BY round")
    if len(r) != 30 or any(x[1] != 5 for x in r):
        fail(f"async rounds: {r}")
    if max(x[3] for x in r) == 0:
        fail("no update was ever stale with 30 clients in flight")
    st = query(a, "SELECT staleness, count(*) FROM clients_rounds WHERE outcome = 'completed' "
                  "OR dropout_phase = 'after_upload' GROUP BY staleness")
    if sum(c for _, c in st) != 150:
        fail(f"staleness distribution covers {sum(c for _, c in st)} updates, wanted 150")
    run(binary, ["run", sc, "--db", "c.db", "--set", "protocol.max_staleness=1"] + args, tmp,
        check=0)
    d = query(os.path.join(tmp, "c.db"), "SELECT sum(discarded), max(staleness_max) FROM rounds")
    if d[0][0] == 0 or d[0][1] > 1:
        fail(f"max_staleness=1: discarded {d[0][0]}, staleness_max {d[0][1]}")
    print(f"async: 30 aggregations of 5, staleness up to {max(x[3] for x in r)}")


def check_traces(binary, src, tmp):
    """Trace files drive compute, network and availability; bad traces are clear errors."""
    with open(os.path.join(tmp, "compute.txt"), "w") as f:
        f.write("# seconds per sample\n0.01\n0.02\n0.05\n")
    with open(os.path.join(tmp, "net.txt"), "w") as f:
        f.write("10 5 20\n1, 0.5\n")
    # Client k is online only in [0, 1000] s of every 3600 s when k is even, always when odd.
    with open(os.path.join(tmp, "avail.txt"), "w") as f:
        f.write("3600 0 1000\n3600 0 3600\n")
    sc = os.path.join(tmp, "t.yaml")
    with open(sc, "w") as f:
        f.write("data: {dataset: synthetic_iid, clients: 60}\n"
                "model: {type: logreg}\n"
                "train: {rounds: 40, clients_per_round: 10, local_epochs: 5}\n"
                "population:\n"
                "  compute: {distribution: trace, trace: compute.txt}\n"
                "  network: {distribution: trace, trace: net.txt}\n"
                "  availability: {type: trace, trace: avail.txt}\n"
                "output: {client_events: true}\n")
    run(binary, ["run", sc, "--db", "t.db"], tmp, check=0)
    db = os.path.join(tmp, "t.db")
    bad = query(db, "SELECT client, started_s FROM clients_rounds WHERE client % 2 = 0 AND "
                    "(started_s % 3600) > 1000")
    if bad:
        fail(f"even clients selected outside their trace window: {bad[:5]}")
    if not query(db, "SELECT 1 FROM clients_rounds WHERE (started_s % 3600) > 1000"):
        fail("the run never reached the part of the day the trace restricts")
    with open(os.path.join(tmp, "net.txt"), "w") as f:
        f.write("10 5\n3 x\n")
    p = run(binary, ["run", sc, "--db", "t.db"], tmp, check=1)
    if "net.txt:2:3: error: population: expected a non-negative number" not in p.stderr:
        fail("bad trace: " + p.stderr)
    p = run(binary, ["validate", sc, "--set", "population.network.trace="], tmp, check=2)
    if "population.network.trace is required with" not in p.stderr:
        fail("trace without file: " + p.stderr)
    print("traces: compute, network and availability traces respected; bad trace rejected")


SWEEP = """
name: e2e-sweep
data: {dataset: synthetic_iid, clients: 100}
model: {type: logreg}
train: {rounds: 4, clients_per_round: 10, lr: 0.05}
sweep:
  grid: {train.lr: [0.05, 0.1], seed: [1, 2]}
  zip: {train.batch_size: [10, 20], train.local_epochs: [1, 2]}
"""


def check_sweep(binary, src, tmp):
    """A sweep runs every combination; --jobs gives the same rows; bad values stop it early."""
    sc = os.path.join(tmp, "sw.yaml")
    with open(sc, "w") as f:
        f.write(SWEEP)
    p = run(binary, ["run", sc, "--dry-run"], tmp, check=0)
    lines = [x for x in p.stdout.splitlines() if x.startswith("  ")]
    if len(lines) != 8 or "train.lr=0.1 seed=2 train.batch_size=20 train.local_epochs=2" \
            not in lines[-1]:
        fail("dry run:\n" + p.stdout)
    if os.path.exists(os.path.join(tmp, "results.db")):
        fail("--dry-run created a database")
    run(binary, ["run", sc, "--db", "a.db", "-q"], tmp, check=0)
    run(binary, ["run", sc, "--db", "b.db", "-q", "--jobs", "3"], tmp, check=0)
    q = ("SELECT r.id, r.sweep_index, r.sweep_label, r.config_hash, d.round, d.accuracy, "
         "d.loss, d.uplink_bits FROM runs r JOIN rounds d ON d.run_id = r.id ORDER BY r.id, d.round")
    a, b = query(os.path.join(tmp, "a.db"), q), query(os.path.join(tmp, "b.db"), q)
    if a != b or len(a) != 32:
        fail(f"--jobs 3 differs from sequential ({len(a)} and {len(b)} rows)")
    sweeps = query(os.path.join(tmp, "a.db"), "SELECT combinations, swept_keys FROM sweeps")
    if sweeps != [(8, "train.lr,seed,train.batch_size,train.local_epochs")]:
        fail(f"sweeps table: {sweeps}")
    with open(sc, "a") as f:
        f.write("  extra: {train.rounds: [1, x]}\n")
    p = run(binary, ["run", sc, "--db", "c.db"], tmp, check=2)
    if "unknown key 'extra' beside grid/zip" not in p.stderr:
        fail("bad sweep: " + p.stderr)
    with open(sc, "w") as f:
        f.write(SWEEP.replace("seed: [1, 2]", "train.rounds: [2, -1]"))
    p = run(binary, ["run", sc, "--db", "c.db"], tmp, check=2)
    if "sw.yaml:7:51: error: sweep combination 3 (train.lr=0.05 train.rounds=-1 " \
            "train.batch_size=10 train.local_epochs=1): train.rounds: expected a non-negative " \
            "integer, got '-1'" not in p.stderr:
        fail("bad sweep value: " + p.stderr)
    # A base scenario that is wrong on its own is reported as such, not as the sweep's fault.
    with open(sc, "w") as f:
        f.write(SWEEP.replace("lr: 0.05}", "lr: 0.05, bogus: 1}"))
    p = run(binary, ["validate", sc], tmp, check=2)
    if "unknown key 'bogus' in 'train'" not in p.stderr or "sweep combination" in p.stderr:
        fail("bad base scenario blamed on the sweep: " + p.stderr)
    # `~` in a sweep list: the key is not set in that combination (a key of one codec only).
    with open(sc, "w") as f:
        f.write(SWEEP.split("sweep:")[0] + "sweep:\n  zip:\n"
                "    downlink.codec: [none, docofl]\n"
                "    downlink.correction_bits: [~, 4]\n")
    run(binary, ["run", sc, "--db", "u.db", "-q"], tmp, check=0)
    got = query(os.path.join(tmp, "u.db"), "SELECT sweep_label, json_extract(config_json, "
                "'$.downlink.codec'), json_extract(config_json, '$.downlink.correction_bits') "
                "FROM runs ORDER BY id")
    if [g[:2] for g in got] != [("downlink.codec=none downlink.correction_bits=~", "none"),
                                ("downlink.codec=docofl downlink.correction_bits=4", "docofl")] \
            or got[1][2] != 4:
        fail(f"sweep with ~: {got}")
    with open(sc, "w") as f:
        f.write(SWEEP.split("sweep:")[0] + "sweep:\n  zip:\n"
                "    downlink.codec: [none, docofl]\n"
                "    downlink.correction_bits: [2, 4]\n")
    p = run(binary, ["validate", sc], tmp, check=2)
    if "sweep combination 1 (downlink.codec=none downlink.correction_bits=2)" not in p.stderr:
        fail("a value that does not apply in a combination: " + p.stderr)
    if os.path.exists(os.path.join(tmp, "c.db")) and \
            query(os.path.join(tmp, "c.db"), "SELECT count(*) FROM runs")[0][0] != 0:
        fail("a sweep with a bad combination started running")
    print("sweep: 8 combinations, --jobs 3 identical, bad sweeps rejected before running")


JOBS_SWEEP = """
name: e2e-jobs
data: {dataset: synthetic_iid, clients: 200}
model: {type: logreg}
train: {clients_per_round: 20, lr: 0.05}
sweep:
  zip: {train.rounds: [100000, 5, 100000, 5], seed: [1, 2, 3, 4]}
"""


def job_children(pid):
    """The pids of the live child processes of pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def jobs_started(binary, tmp, db):
    """Starts the sweep above with --jobs 2 and waits until the long run 1 has stored two
    rounds and the short runs 2 and 4 (the second job process's) have finished."""
    sc = os.path.join(tmp, "jobs.yaml")
    with open(sc, "w") as f:
        f.write(JOBS_SWEEP)
    p = subprocess.Popen([binary, "run", sc, "--db", db, "--jobs", "2", "--threads", "1"],
                         cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            con = sqlite3.connect(db)
            n = con.execute("SELECT count(*) FROM rounds WHERE run_id = 1").fetchone()[0]
            done = con.execute("SELECT count(*) FROM runs WHERE id IN (2, 4) AND "
                               "status = 'finished'").fetchone()[0]
            con.close()
        except sqlite3.Error:
            continue
        if n >= 2 and done == 2 and len(job_children(p.pid)) == 1:
            return p
    os.killpg(p.pid, signal.SIGKILL)
    fail("--jobs 2: the runs did not start in time")


def jobs_finished(p, what):
    """Waits for the --jobs parent; kills its whole process group if it does not end."""
    try:
        return p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        fail(f"the --jobs parent did not end within 120 s after {what}")


def check_jobs_signals(binary, src, tmp):
    """--jobs and signals: SIGTERM to the parent stops its job processes and marks what did
    not finish (exit 130); a job process killed by SIGKILL fails its run, named (exit 1)."""
    db = os.path.join(tmp, "term.db")
    p = jobs_started(binary, tmp, db)
    p.send_signal(signal.SIGTERM)
    out, err = jobs_finished(p, "SIGTERM")
    if p.returncode != 130:
        fail(f"exit {p.returncode} after SIGTERM to the --jobs parent\n{out}\n{err}")
    got = query(db, "SELECT id, status, (SELECT count(*) FROM rounds WHERE run_id = runs.id) "
                    "FROM runs ORDER BY id")
    if [(i, s) for i, s, _ in got] != [(1, "interrupted"), (2, "finished"), (3, "interrupted"),
                                       (4, "finished")] or got[0][2] < 2 or got[2][2] != 0:
        fail(f"after SIGTERM: runs {got}")
    table = [x for x in out.splitlines()
             if len(x.split()) > 1 and x.split()[1] in ("finished", "interrupted", "failed")]
    if [x.split()[1] for x in table] != ["interrupted", "finished", "interrupted", "finished"] \
            or " - " in table[1] or " - " in table[3]:
        fail("after SIGTERM, the table (bits per coordinate for each finished run):\n" + out)

    db = os.path.join(tmp, "kill.db")
    p = jobs_started(binary, tmp, db)
    os.kill(job_children(p.pid)[0], signal.SIGKILL)
    out, err = jobs_finished(p, "SIGKILL of a job process")
    if p.returncode != 1:
        fail(f"exit {p.returncode} after SIGKILL of a job process\n{out}\n{err}")
    if "run 1 failed" not in err or "signal 9" not in err:
        fail("the killed job process is not reported with its run:\n" + err)
    got = query(db, "SELECT id, status, error FROM runs ORDER BY id")
    if [(i, s) for i, s, _ in got] != [(1, "failed"), (2, "finished"), (3, "interrupted"),
                                       (4, "finished")] or "signal 9" not in got[0][2]:
        fail(f"after SIGKILL of a job process: runs {got}")
    print("jobs-signals: SIGTERM interrupts every unfinished run (exit 130); a killed job "
          "process fails its run, reported (exit 1)")


def check_secure(binary, src, tmp):
    """SecAgg and SecAgg+: full protocol == accounting mode bit for bit, close to plain,
    aborted rounds below the threshold, bits split into payload and protocol."""
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    base = ["--set", "data.clients=120", "--set", "train.clients_per_round=30",
            "--set", "train.rounds=6", "--set", "population.dropout.probability=0.1",
            "--set", "population.dropout.phase=any", "-q"]
    q = ("SELECT round, accuracy, loss, participants, dropped, uplink_bits, downlink_bits, "
         "uplink_payload_bits, uplink_protocol_bits, downlink_protocol_bits, secure_aborted, "
         "epsilon, noise_std, wrapped FROM rounds ORDER BY round")
    thc = ["--set", "uplink.codec=thc", "--set", "uplink.rotation=shared"]
    # Distributed discrete Gaussian at a ring narrow enough to wrap now and then.
    ddp = ["--set", "privacy.mechanism=ddgauss", "--set", "privacy.noise_multiplier=2",
           "--set", "privacy.ring_bits=10", "--set", "privacy.granularity=0.01"]
    semi = ["--set", "aggregation.threat=semi-malicious"]
    # SecAgg+ designed for the 10 % dropouts of base (a 5 % design aborts such rounds).
    delta = ["--set", "aggregation.dropout_rate=0.2"]
    auth = ["--set", "aggregation.authenticate=true"]
    for kind, extra in (("secagg", []), ("secagg+", delta), ("secagg+", thc + delta),
                        ("secagg", semi), ("secagg+", delta + auth), ("secagg", ddp),
                        ("secagg+", delta + ddp)):
        run(binary, ["run", sc, "--db", "full.db", "--set", f"aggregation.secure={kind}",
                     "--threads", "2"] + extra + base, tmp, check=0)
        run(binary, ["run", sc, "--db", "acc.db", "--set", f"aggregation.secure={kind}",
                     "--set", "aggregation.masks=accounting", "--threads", "1"] + extra + base,
            tmp, check=0)
        full, acc = query(os.path.join(tmp, "full.db"), q), query(os.path.join(tmp, "acc.db"), q)
        if full != acc:
            fail(f"{kind}: accounting mode differs from the full protocol")
        for r in full:
            if r[5] != r[7] + r[8] or r[8] == 0 or r[9] == 0 or r[10] != 0:
                fail(f"{kind}: bits or status of round {r[0]}: {r}")
            if (extra[-len(ddp):] == ddp) != (r[11] is not None and r[13] is not None):
                fail(f"{kind}: privacy columns of round {r[0]}: {r}")
        if extra[-len(ddp):] == ddp and (not any(r[13] > 0 for r in full)
                                         or not 0 < full[0][11] < full[-1][11]):
            fail(f"{kind} with DDGauss: no wrapped coordinate or epsilon not growing: {full}")
        os.remove(os.path.join(tmp, "full.db"))
        os.remove(os.path.join(tmp, "acc.db"))
    run(binary, ["run", sc, "--db", "plain.db"] + base, tmp, check=0)
    run(binary, ["run", sc, "--db", "sec.db", "--set", "aggregation.secure=secagg"] + base, tmp,
        check=0)
    plain = query(os.path.join(tmp, "plain.db"), "SELECT accuracy FROM rounds ORDER BY round")
    sec = query(os.path.join(tmp, "sec.db"), "SELECT accuracy FROM rounds ORDER BY round")
    if abs(plain[-1][0] - sec[-1][0]) > 0.02:
        fail(f"secure aggregation drifts from plain: {sec[-1][0]} vs {plain[-1][0]}")
    # Half the cohort vanishing before upload is below every threshold: rounds abort.
    run(binary, ["run", sc, "--db", "ab.db", "--set", "aggregation.secure=secagg+",
                 "--set", "population.dropout.probability=0.6",
                 "--set", "population.dropout.phase=before_upload"] + base[:6] + ["-q"], tmp,
        check=0)
    ab = query(os.path.join(tmp, "ab.db"), "SELECT failed, secure_aborted FROM rounds")
    if not all(x == (1, 1) for x in ab):
        fail(f"rounds below the threshold did not abort: {ab}")
    # SecAgg+ beyond its dropout bound (30 % before upload, designed for 5 %): every round
    # aborts with the model unchanged; within the bound (1 %) rounds complete.
    bound = os.path.join(src, "scenarios", "secure", "secagg-plus-dropout-bound.yaml")
    qb = "SELECT failed, secure_aborted, accuracy, loss FROM rounds ORDER BY round"
    run(binary, ["run", bound, "--db", "bound.db", "-q"], tmp, check=0)
    rows = query(os.path.join(tmp, "bound.db"), qb)
    if len(rows) != 4 or any(r[:2] != (1, 1) or r[2:] != rows[0][2:] for r in rows):
        fail(f"SecAgg+ beyond the dropout bound: {rows}")
    run(binary, ["run", bound, "--db", "within.db", "-q",
                 "--set", "population.dropout.probability=0.01"], tmp, check=0)
    rows = query(os.path.join(tmp, "within.db"), qb)
    if not any(r[:2] == (0, 0) for r in rows):
        fail(f"SecAgg+ within the dropout bound aborted: {rows}")
    # Random client secrets change the masks only: the rows equal the seeded run's.
    qk = "SELECT round, accuracy, loss, participants, uplink_bits, downlink_bits FROM rounds"
    for keys in ("seeded", "random"):
        run(binary, ["run", sc, "--db", f"keys-{keys}.db", "--set", "aggregation.secure=secagg",
                     "--set", f"aggregation.keys={keys}"] + base, tmp, check=0)
    if query(os.path.join(tmp, "keys-seeded.db"), qk) != \
            query(os.path.join(tmp, "keys-random.db"), qk):
        fail("aggregation.keys=random changed the results")
    # A threshold override below the security bound is refused where it is written.
    with open(os.path.join(tmp, "thr.yaml"), "w") as f:
        f.write("name: thr\ndata: {dataset: synthetic, clients: 100}\nmodel: {type: logreg}\n"
                "train: {rounds: 2, clients_per_round: 40}\naggregation: {secure: secagg, "
                "threat: semi-malicious, corruption_rate: 0.3, threshold: 2}\n")
    p = run(binary, ["validate", "thr.yaml"], tmp, check=2)
    if "thr.yaml:5:88: error: threshold 2 violates 2t > n + corruption n, so t >= 27" \
            not in p.stderr:
        fail("threshold override below the bound: " + p.stderr)
    run(binary, ["validate", "thr.yaml", "--set", "aggregation.threshold=27"], tmp, check=0)
    # Availability leaving cohorts of 1 or 2: those rounds fail, the run goes on.
    run(binary, ["run", sc, "--db", "small.db", "-q", "--set", "aggregation.secure=secagg",
                 "--set", "population.availability.type=probability",
                 "--set", "population.availability.probability=0.05", "--set", "train.rounds=12",
                 "--set", "population.dropout.probability=0"], tmp, check=0)
    small = query(os.path.join(tmp, "small.db"),
                  "SELECT selected, failed, secure_aborted FROM rounds ORDER BY round")
    if len(small) != 12 or not any(r == (1, 1, 1) for r in small) or \
            not any(r[0] >= 3 and r[1] == 0 for r in small) or \
            any(r[0] in (1, 2) and r != (r[0], 1, 1) for r in small):
        fail(f"cohorts of 1 or 2: {small}")
    p = run(binary, ["validate", os.path.join(src, "scenarios", "default.yaml"), "--set",
                     "aggregation.secure=secagg", "--set", "protocol.over_selection=1.3"], tmp,
            check=2)
    if "secure aggregation runs sync rounds without over-selection" not in p.stderr:
        fail("secagg with over-selection: " + p.stderr)
    print(f"secure: full == accounting for secagg, secagg+, THC, semi-malicious, signed and "
          f"DDGauss; plain "
          f"{plain[-1][0]:.4f} vs "
          f"secagg {sec[-1][0]:.4f}; aborts below threshold and beyond the dropout bound; "
          f"threshold override refused with its location; cohorts of 1-2 fail their round")
    check_secure_thc(binary, sc, base, tmp)

def check_secure_thc(binary, sc, base, tmp):
    """THC as Li et al. (NSDI 2024) define it: clients learn the round's common norm and the
    server sums table integers, so plain, secagg and secagg+ runs of one scenario with
    dropouts give identical rounds; the ring is ceil(log2(n g + 1)) bits with uniform
    weights."""
    thc = ["--set", "uplink.codec=thc", "--set", "uplink.rotation=shared"] + base
    q = "SELECT round, accuracy, loss, participants, dropped, failed FROM rounds ORDER BY round"
    bits_q = "SELECT participants, uplink_payload_bits FROM rounds ORDER BY round"
    uniform = ["--set", "aggregation.weighting=uniform"]
    # (extra settings, table size g, largest weight)
    variants = (([], 30, 255), (uniform, 30, 1),
                (uniform + ["--set", "uplink.thc_g=16", "--set", "uplink.error_feedback=true"],
                 16, 1))
    for extra, g, wmax in variants:
        rows = {}
        for kind in ("none", "secagg", "secagg+"):
            db = f"thc-{kind}.db"
            # SecAgg+ designed for the 10 % dropouts of base (a 5 % design aborts such rounds).
            delta = ["--set", "aggregation.dropout_rate=0.2"] if kind == "secagg+" else []
            run(binary, ["run", sc, "--db", db, "--set", f"aggregation.secure={kind}",
                         "--threads", "2"] + thc + extra + delta, tmp, check=0)
            rows[kind] = query(os.path.join(tmp, db), q)
            if kind == "secagg":
                # D = 1024 integers and the weight; n = 30 clients per round.
                k = (30 * g * wmax).bit_length()
                for part, payload in query(os.path.join(tmp, db), bits_q):
                    if payload != part * 1025 * k:
                        fail(f"THC ring {extra}: {payload} payload bits for {part} clients, "
                             f"expected {k} bits per coordinate")
            os.remove(os.path.join(tmp, db))
        if not any(r[4] > 0 for r in rows["none"]) or rows["none"][-1][1] is None:
            fail(f"THC scenario without dropouts or accuracy: {rows['none']}")
        for kind in ("secagg", "secagg+"):
            if rows[kind] != rows["none"]:
                fail(f"THC {extra}: plain and {kind} rounds differ:\n{rows['none']}\n"
                     f"{rows[kind]}")
        if extra:
            run(binary, ["run", sc, "--db", "client.db", "--set", "uplink.thc_norm=client"] + thc
                + extra, tmp, check=0)
            if query(os.path.join(tmp, "client.db"), q) == rows["none"]:
                fail(f"uplink.thc_norm=client {extra} gives the common-norm rounds")
            os.remove(os.path.join(tmp, "client.db"))
    p = run(binary, ["validate", sc, "--set", "aggregation.secure=secagg",
                     "--set", "uplink.thc_norm=client"] + thc[:4], tmp, check=2)
    if "uplink.thc_norm must be common" not in p.stderr:
        fail("secure THC with client norms: " + p.stderr)
    print("secure THC: plain == secagg == secagg+ rounds (samples and uniform weights, g = 16 "
          "with error feedback), ring bits as computed, client norms differ")


def kill_after(binary, args, db, cwd, rounds):
    """Starts a run, SIGKILLs it once `rounds` rounds are stored, returns how many were."""
    p = subprocess.Popen([binary] + args, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    n = 0
    while time.time() < deadline and p.poll() is None:
        try:
            n = query(db, "SELECT count(*) FROM rounds")[0][0]
        except sqlite3.Error:
            n = 0
        if n >= rounds:
            break
        time.sleep(0.01)
    p.kill()
    p.wait()
    return n


def check_resume(binary, src, tmp):
    """SIGKILL mid-run, fedbits resume: the rows and fingerprint equal an uninterrupted run."""
    cases = {
        "sync": [os.path.join(tmp, "pop.yaml"), "--set", "train.rounds=40",
                 "--set", "output.checkpoint_every=3", "--set", "uplink.codec=eden",
                 "--set", "uplink.error_feedback=true", "--set", "server.optimizer=fedadam",
                 "--set", "server.lr=0.01"],
        "async": [os.path.join(src, "scenarios", "population", "fedbuff-1k.yaml"),
                  "--set", "train.rounds=80", "--set", "output.checkpoint_every=7",
                  "--set", "data.clients=300", "--set", "protocol.concurrency=30"],
        "cnn": [os.path.join(src, "tests", "e2e", "tiny-cnn.yaml"), "--set", "train.rounds=12",
                "--set", "output.checkpoint_every=3"],
        "dp-adaptive": [os.path.join(src, "tests", "e2e", "tiny-cnn.yaml"),
                        "--set", "train.rounds=12", "--set", "output.checkpoint_every=3",
                        "--set", "train.sampling=poisson", "--set", "privacy.mechanism=central",
                        "--set", "privacy.target_epsilon=5", "--set", "privacy.clip=0.05",
                        "--set", "privacy.adaptive.quantile=0.5",
                        "--set", "privacy.adaptive.count_noise=1"],
        "lstm": [os.path.join(tmp, "lstm.yaml"), "--set", "train.rounds=16",
                 "--set", "output.checkpoint_every=3"],
    }
    write_shakespeare(tmp)
    with open(os.path.join(tmp, "pop.yaml"), "w") as f:
        f.write(POPULATION)
    q = "SELECT * FROM rounds ORDER BY round"
    for name, args in cases.items():
        full, cut = os.path.join(tmp, name + "-full.db"), os.path.join(tmp, name + "-cut.db")
        run(binary, ["run"] + args + ["--db", full, "-q"], tmp, check=0)
        total = query(full, "SELECT count(*) FROM rounds")[0][0]
        got = kill_after(binary, ["run"] + args + ["--db", cut, "-q", "--threads", "1"], cut, tmp,
                         total // 2 + 2)
        if got >= total:
            fail(f"{name}: the run finished before it could be killed")
        if query(cut, "SELECT status FROM runs")[0][0] != "running":
            fail(f"{name}: a killed run is not left 'running'")
        p = run(binary, ["resume", cut, "--run", "1", "-q"], tmp, check=0)
        if query(full, q) != query(cut, q):
            fail(f"{name}: resumed rows differ from the uninterrupted run")
        fa = run_row(full)["event_fingerprint"]
        fb = run_row(cut)["event_fingerprint"]
        if fa != fb or run_row(cut)["status"] != "finished":
            fail(f"{name}: fingerprint or status after resume: {fb} vs {fa}")
        print(f"resume ({name}): killed after {got} of {total} rounds, resumed identically")
    # Checkpoints are reproducible to the byte (no struct padding or stale memory in them):
    # the diurnal population's pending events once carried 4 undefined bytes each.
    million = [os.path.join(src, "scenarios", "population", "million.yaml"), "--no-sweep",
               "--set", "data.clients=10000", "--set", "train.rounds=4",
               "--set", "output.checkpoint_every=2"]
    states = []
    for k in range(2):
        db = os.path.join(tmp, f"ckpt-bytes-{k}.db")
        run(binary, ["run"] + million + ["--db", db, "-q"], tmp, check=0)
        states.append(query(db, "SELECT round, state FROM checkpoints ORDER BY round"))
    if not states[0] or states[0] != states[1]:
        fail("two runs of the same scenario stored different checkpoint bytes")
    print(f"resume: {len(states[0])} checkpoints of two identical runs equal to the byte")
    p = run(binary, ["resume", os.path.join(tmp, "sync-full.db"), "--run", "1"], tmp, check=2)
    if "already finished" not in p.stderr:
        fail("resume of a finished run: " + p.stderr)
    run(binary, ["resume", os.path.join(tmp, "sync-full.db"), "--run", "9"], tmp, check=2)
    run(binary, ["resume", os.path.join(tmp, "missing.db"), "--run", "1"], tmp, check=2)
    check_resume_refused(binary, tmp)


def check_resume_refused(binary, tmp):
    """A damaged, edited or old-format checkpoint is refused naming why; no row is deleted."""
    full = os.path.join(tmp, "sync-full.db")
    total = query(full, "SELECT count(*) FROM rounds")[0][0]
    def flip(db):
        state = bytearray(db.execute("SELECT state FROM checkpoints").fetchone()[0])
        state[len(state) // 2] ^= 1
        db.execute("UPDATE checkpoints SET state = ?", (bytes(state),))

    def first_format(db):
        state = bytearray(db.execute("SELECT state FROM checkpoints").fetchone()[0])
        state[0:8] = b"FBCKPT01"
        db.execute("UPDATE checkpoints SET state = ?", (bytes(state),))

    cases = {
        "checksum mismatch": flip,
        "format version 1, this fedbits reads 3": first_format,
        "round": lambda db: db.execute("UPDATE checkpoints SET round = round - 3"),
    }
    for want, edit in cases.items():
        db_path = os.path.join(tmp, "refused.db")
        shutil.copyfile(full, db_path)
        db = sqlite3.connect(db_path)
        db.execute("UPDATE runs SET status = 'interrupted'")
        edit(db)
        db.commit()
        db.close()
        p = run(binary, ["resume", db_path, "--run", "1", "-q"], tmp, check=1)
        if "checkpoint: " + want not in p.stderr:
            fail(f"resume of an edited checkpoint ({want}): {p.stderr}")
        if query(db_path, "SELECT count(*) FROM rounds")[0][0] != total:
            fail(f"a refused resume ({want}) deleted rounds")
    print("resume: damaged, edited and old-format checkpoints refused, no row deleted")


def check_docofl(binary, src, tmp):
    """DoCoFL downlink: anchors and corrections counted apart, only corrections delay rounds."""
    base = ["--set", "data.clients=60", "--set", "train.clients_per_round=12",
            "--set", "train.rounds=12", "--set", "model.type=mlp", "--set", "model.hidden=[32]",
            "-q"]
    run(binary, ["run", "--db", "d.db", "--set", "downlink.codec=docofl",
                 "--set", "downlink.anchor_every=4", "--set", "downlink.anchors=2"] + base, tmp,
        check=0)
    run(binary, ["run", "--db", "p.db"] + base, tmp, check=0)
    d = query(os.path.join(tmp, "d.db"), "SELECT round, downlink_bits, downlink_anchor_bits, "
              "downlink_correction_bits, accuracy FROM rounds ORDER BY round")
    p = query(os.path.join(tmp, "p.db"), "SELECT round, downlink_bits, accuracy FROM rounds "
              "ORDER BY round")
    for r in d:
        if r[1] != r[2] + r[3] or r[3] == 0:
            fail(f"docofl round {r[0]}: bits {r}")
    if d[0][2] == 0:
        fail("the first round fetched no anchor")
    if sum(r[1] for r in d) * 4 > sum(r[1] for r in p):
        fail("docofl does not cut the downlink at least 4x")
    if abs(d[-1][4] - p[-1][2]) > 0.05:
        fail(f"docofl accuracy {d[-1][4]} far from float32 {p[-1][2]}")
    p2 = run(binary, ["validate", os.path.join(src, "scenarios", "default.yaml"), "--set",
                      "downlink.anchors=3"], tmp, check=2)
    if "downlink.anchors applies only with downlink.codec: docofl" not in p2.stderr:
        fail("docofl key without docofl: " + p2.stderr)
    print(f"docofl: {sum(r[1] for r in d)} vs {sum(r[1] for r in p)} downlink bits, "
          f"accuracy {d[-1][4]:.4f} vs {p[-1][2]:.4f}")


def check_dme(binary, src, tmp):
    """fedbits dme and bench codecs: one CSV row per codec and bit budget with the documented
    columns; vNMSE near theory (EDEN 1 and 2 bits); NMSE = vNMSE / n; bad flags exit 2."""
    import csv
    import io
    p = run(binary, ["dme", "--codec", "eden", "--codec", "quicfl", "--bits", "1", "--bits",
                     "2", "--dim", "4096", "--clients", "4", "--trials", "20", "--dist",
                     "lognormal", "--format", "csv"], tmp, check=0)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    want = ("codec,bits,dim,clients,dist,trials,vnmse,vnmse_se,nmse,nmse_se,bits_per_coord,"
            "encode_ns_per_coord,decode_ns_per_coord").split(",")
    if [c for c in want if c not in rows[0]] or len(rows) != 4:
        fail("dme csv: " + p.stdout)
    got = {(r["codec"], r["bits"]): r for r in rows}
    for (codec, bits), theory in ((("eden", "1"), 0.5708), (("eden", "2"), 0.1331)):
        r = got[(codec, bits)]
        v, se = float(r["vnmse"]), float(r["vnmse_se"])
        if abs(v - theory) > max(0.01 * theory, 4 * se):
            fail(f"{codec} {bits} bits: vNMSE {v} vs {theory}")
        if abs(float(r["nmse"]) - v / 4) > 4 * float(r["nmse_se"]) + 0.01 * v:
            fail(f"{codec} {bits} bits: NMSE {r['nmse']} is not vNMSE / 4")
    p = run(binary, ["bench", "codecs", "--dim", "4096", "--reps", "3", "--format", "csv"],
            tmp, check=0)
    bench = list(csv.DictReader(io.StringIO(p.stdout)))
    if bench[0]["codec"] != "rht" or "encode_ns_per_coord" not in bench[0] or len(bench) < 10:
        fail("bench codecs csv: " + p.stdout)
    run(binary, ["dme", "--codec", "nope", "--bits", "2"], tmp, check=2)
    run(binary, ["dme", "--codec", "eden", "--bits", "2", "--dim", "0"], tmp, check=2)
    print(f"dme: {len(rows)} rows, EDEN vNMSE {got[('eden', '1')]['vnmse']} / "
          f"{got[('eden', '2')]['vnmse']}; bench codecs {len(bench)} rows")


def check_privacy(binary, src, tmp):
    """fedbits privacy: the documented CSV columns; the MNIST setting (q = 256/60000, z = 1.1,
    14062 rounds, delta 1e-5) at most 2.597, the integer-order value (docs/privacy.md); one row
    per combination; --epsilon gives a noise whose epsilon is the target; bad flags exit 2."""
    import csv
    import io
    p = run(binary, ["privacy", "--q", str(256 / 60000), "--noise", "1.1", "--rounds", "14062",
                     "--delta", "1e-5", "--format", "csv"], tmp, check=0)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    if len(rows) != 1 or list(rows[0]) != ["q", "noise", "rounds", "delta", "epsilon", "order"]:
        fail("privacy csv: " + p.stdout)
    eps = float(rows[0]["epsilon"])
    if not 2.5 < eps <= 2.597:
        fail(f"privacy: MNIST epsilon {eps}")
    p = run(binary, ["privacy", "--q", "0.01", "--q", "0.1", "--epsilon", "1", "--epsilon", "4",
                     "--rounds", "1000", "--delta", "1e-5", "--format", "csv"], tmp, check=0)
    inv = list(csv.DictReader(io.StringIO(p.stdout)))
    if len(inv) != 4:
        fail("privacy --epsilon: " + p.stdout)
    for r, target in zip(inv, (1.0, 4.0, 1.0, 4.0)):  # q slowest, then epsilon
        e = float(r["epsilon"])
        if not target * 0.999 < e <= target:
            fail(f"privacy --epsilon row {r}")
    run(binary, ["privacy", "--q", "2", "--noise", "1", "--rounds", "1", "--delta", "1e-5"],
        tmp, check=2)
    run(binary, ["privacy", "--q", "0.1", "--rounds", "1", "--delta", "1e-5"], tmp, check=2)
    run(binary, ["privacy", "--q", "0.1", "--noise", "1", "--epsilon", "1", "--rounds", "1",
                 "--delta", "1e-5"], tmp, check=2)
    # train.sampling: poisson on tiny (40 clients, 8 per round: q = 0.2): cohort sizes vary,
    # their mean is 8 within 5 standard errors, and the same seed gives the same cohorts
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    sizes = []
    for db in ("p1.db", "p2.db"):
        run(binary, ["run", sc, "--db", db, "--quiet", "--set", "train.sampling=poisson",
                     "--set", "train.rounds=40", "--set", "population.dropout.probability=0"],
            tmp, check=0)
        con = sqlite3.connect(os.path.join(tmp, db))
        sizes.append([r[0] for r in con.execute("SELECT selected FROM rounds ORDER BY round")])
        con.close()
    mean = sum(sizes[0]) / len(sizes[0])
    if sizes[0] != sizes[1] or len(set(sizes[0])) < 3 or abs(mean - 8) > 5 * (6.4 / 40) ** 0.5:
        fail(f"poisson cohort sizes {sizes}")
    # central DP on tiny: rounds.epsilon grows and its last value is the accountant's epsilon
    # for (q, z, rounds) exactly; same seed, same rounds; no guarantee without Poisson sampling
    dp = ["--set", "train.sampling=poisson", "--set", "privacy.mechanism=central", "--set",
          "privacy.noise_multiplier=1.3", "--set", "privacy.clip=0.5", "--set", "train.rounds=12"]
    got = []
    for db in ("dp1.db", "dp2.db"):
        run(binary, ["run", sc, "--db", db, "--quiet"] + dp, tmp, check=0)
        con = sqlite3.connect(os.path.join(tmp, db))
        got.append(list(con.execute("SELECT epsilon, clip_norm, noise_std, accuracy, failed "
                                    "FROM rounds ORDER BY round")))
        con.close()
    if got[0] != got[1] or len(got[0]) != 12:
        fail(f"central DP rounds differ between runs: {got}")
    epss = [r[0] for r in got[0]]
    if (any(b <= a for a, b in zip(epss, epss[1:]))
            or {(r[1], r[2]) for r in got[0]} != {(0.5, 0.65)}):
        fail(f"central DP rounds: {got[0]}")
    p = run(binary, ["privacy", "--q", "0.2", "--noise", "1.3", "--rounds", "12", "--delta",
                     "1e-5", "--format", "csv"], tmp, check=0)
    want = float(list(csv.DictReader(io.StringIO(p.stdout)))[0]["epsilon"])
    if epss[-1] != want:
        fail(f"central DP final epsilon {epss[-1]} vs fedbits privacy {want}")
    p = run(binary, ["run", sc, "--db", "dp3.db", "--quiet"] + dp[2:], tmp, check=2)
    if "train.sampling: poisson" not in p.stderr:
        fail("central DP without Poisson sampling: " + p.stderr)
    print(f"privacy: MNIST epsilon {eps}; --epsilon rows {[r['noise'] for r in inv]}; "
          f"central DP tiny final epsilon {epss[-1]:.4f}; "
          f"poisson cohort mean {mean:.2f}")


def check_privacy_adaptive(binary, src, tmp):
    """Adaptive clipping (Andrew et al.) on tiny with every client in every round (q = 1) and
    the model held still (server.lr 1e-9), so the update norms keep one distribution: from a
    clip far below (0.01) and far above (10) the norms, the clip ends at the same value for
    each target quantile, and a higher quantile ends higher. rounds.clip_norm starts at
    privacy.clip, noise_std is z_delta times it, epsilon is that of z itself; a count noise at
    or below z / 2 is refused."""
    import csv
    import io
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    z, sb = 0.1, 0.1
    z_delta = (z ** -2 - (2 * sb) ** -2) ** -0.5
    base = ["--set", "train.sampling=poisson", "--set", "train.clients_per_round=40",
            "--set", "server.lr=1e-9", "--set", "population.dropout.probability=0",
            "--set", "privacy.mechanism=central", "--set", f"privacy.noise_multiplier={z}",
            "--set", f"privacy.adaptive.count_noise={sb}", "--set", "privacy.adaptive.lr=0.3",
            "--set", "train.rounds=60", "--quiet"]
    final = {}
    for gamma in (0.25, 0.5, 0.75):
        for c0 in (0.01, 10.0):
            db = f"ad-{gamma}-{c0}.db"
            run(binary, ["run", sc, "--db", db, "--set", f"privacy.clip={c0}",
                         "--set", f"privacy.adaptive.quantile={gamma}"] + base, tmp, check=0)
            rows = query(os.path.join(tmp, db),
                         "SELECT clip_norm, noise_std, epsilon FROM rounds ORDER BY round")
            if len(rows) != 60 or rows[0][0] != c0:
                fail(f"adaptive clip rounds ({gamma}, {c0}): {rows[:3]}")
            for c, sd, _ in rows:
                if abs(sd - z_delta * c) > 1e-12 * sd:
                    fail(f"adaptive clip noise_std {sd} for clip {c}, z_delta {z_delta}")
            final[gamma, c0] = rows[-1][0]
    for gamma in (0.25, 0.5, 0.75):
        lo, hi = final[gamma, 0.01], final[gamma, 10.0]
        if abs(lo - hi) > 0.03 * hi:
            fail(f"adaptive clip, quantile {gamma}: ends at {lo} from below, {hi} from above")
    if not final[0.25, 10.0] < final[0.5, 10.0] < final[0.75, 10.0]:
        fail(f"adaptive clip: final clips not ordered by quantile: {final}")
    p = run(binary, ["privacy", "--q", "1", "--noise", str(z), "--rounds", "60", "--delta",
                     "1e-5", "--format", "csv"], tmp, check=0)
    want = float(list(csv.DictReader(io.StringIO(p.stdout)))[0]["epsilon"])
    if rows[-1][2] != want:
        fail(f"adaptive clip final epsilon {rows[-1][2]} vs fedbits privacy {want}")
    p = run(binary, ["run", sc, "--db", "bad.db"] + base +
            ["--set", "privacy.adaptive.quantile=0.5", "--set", "privacy.adaptive.count_noise=0.05"],
            tmp, check=2)
    if "privacy.adaptive.count_noise = 0.05 must exceed half the noise multiplier" not in p.stderr:
        fail("adaptive clip with too little count noise: " + p.stderr)
    print("privacy-adaptive: final clips " +
          ", ".join(f"q{g} {final[g, 0.01]:.4f}/{final[g, 10.0]:.4f}" for g in (0.25, 0.5, 0.75)))


def check_ddp(binary, src, tmp):
    """Distributed DP: fedbits privacy --mechanism ddgauss|skellam (columns, --epsilon reaches
    its target, more ring bits never need more noise); privacy.mechanism ddgauss refused with a
    located error without secure aggregation; a Skellam run records epsilon, noise, wrapped."""
    import csv
    import io
    p = run(binary, ["privacy", "--mechanism", "ddgauss", "--clients", "100", "--dim", "8192",
                     "--bits", "14", "--bits", "16", "--bits", "20", "--epsilon", "4",
                     "--rounds", "300", "--delta", "1e-5", "--clip", "0.5", "--format", "csv"],
            tmp, check=0)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    cols = ["mechanism", "clients", "dim", "bits", "granularity", "clip", "noise", "rounds",
            "delta", "epsilon", "order", "q"]
    if len(rows) != 3 or list(rows[0]) != cols:
        fail("privacy --mechanism csv: " + p.stdout)
    noise = [float(r["noise"]) for r in rows]
    if any(not 4 * 0.999 < float(r["epsilon"]) <= 4 for r in rows) or noise != sorted(noise)[::-1]:
        fail(f"privacy --mechanism ddgauss --epsilon rows {rows}")
    # --q amplifies by Poisson sampling: a smaller epsilon than the unamplified row, q = 1 none.
    p = run(binary, ["privacy", "--mechanism", "skellam", "--q", "1", "--q", "0.1", "--clients",
                     "10", "--dim", "4", "--bits", "16", "--noise", "1", "--rounds", "10",
                     "--delta", "1e-5", "--format", "csv"], tmp, check=0)
    amp = [float(r["epsilon"]) for r in csv.DictReader(io.StringIO(p.stdout))]
    if len(amp) != 2 or not 0 < amp[1] < amp[0]:
        fail("privacy --mechanism skellam --q: " + p.stdout)
    run(binary, ["privacy", "--mechanism", "skellam", "--clients", "10", "--dim", "4",
                 "--noise", "1", "--rounds", "1", "--delta", "1e-5"], tmp, check=2)
    sc = os.path.join(src, "tests", "e2e", "tiny.yaml")
    p = run(binary, ["run", sc, "--db", "no.db", "--quiet", "--set", "privacy.mechanism=ddgauss",
                     "--set", "privacy.noise_multiplier=1"], tmp, check=2)
    if "--set:1:" not in p.stderr or "aggregation.secure: secagg" not in p.stderr:
        fail("ddgauss without secure aggregation: " + p.stderr)
    run(binary, ["run", sc, "--db", "sk.db", "--quiet", "--set", "aggregation.secure=secagg",
                 "--set", "privacy.mechanism=skellam", "--set", "privacy.target_epsilon=10",
                 "--set", "privacy.ring_bits=12"], tmp, check=0)
    got = query(os.path.join(tmp, "sk.db"),
                "SELECT failed, epsilon, noise_std, wrapped FROM rounds ORDER BY round")
    eps = [r[1] for r in got]
    if eps != sorted(eps) or any((r[3] is None) != (r[0] == 1) or r[2] is None for r in got):
        fail(f"skellam run rows {got}")
    # A wide ring, a fine grid, no clipping and almost no noise: the distributed pipeline
    # (rotation, rounding, ring sum, centring, inverse rotation) gives the plain secure mean
    # with uniform weights, up to rounding.
    run(binary, ["run", sc, "--db", "u.db", "--quiet", "--set", "aggregation.secure=secagg",
                 "--set", "aggregation.weighting=uniform"], tmp, check=0)
    run(binary, ["run", sc, "--db", "w.db", "--quiet", "--set", "aggregation.secure=secagg",
                 "--set", "privacy.mechanism=ddgauss", "--set", "privacy.clip=100",
                 "--set", "privacy.noise_multiplier=0.0001", "--set", "privacy.ring_bits=40",
                 "--set", "privacy.granularity=1e-5"], tmp, check=0)
    qa = "SELECT accuracy, loss FROM rounds WHERE accuracy IS NOT NULL ORDER BY round"
    plain, wide = query(os.path.join(tmp, "u.db"), qa), query(os.path.join(tmp, "w.db"), qa)
    if len(plain) != len(wide) or any(abs(a[0] - b[0]) > 0.02 or abs(a[1] - b[1]) > 0.02
                                      for a, b in zip(plain, wide)):
        fail(f"ddgauss with a wide ring and no noise drifts from the plain mean: {wide} "
             f"vs {plain}")
    print(f"ddp: ddgauss noise for epsilon 4 at 14/16/20 bits {noise}; skellam tiny final "
          f"epsilon {eps[-1]:.3f}; near-noiseless ddgauss {wide[-1][0]:.4f} vs plain "
          f"{plain[-1][0]:.4f}")


CHECKS = {
    "default": check_default,
    "determinism": check_determinism,
    "golden": check_golden,
    "bad-inputs": check_bad_inputs,
    "cli": check_cli,
    "interrupt": check_interrupt,
    "population": check_population,
    "async": check_async,
    "traces": check_traces,
    "sweep": check_sweep,
    "jobs-signals": check_jobs_signals,
    "secure": check_secure,
    "resume": check_resume,
    "docofl": check_docofl,
    "dme": check_dme,
    "privacy": check_privacy,
    "privacy-adaptive": check_privacy_adaptive,
    "ddp": check_ddp,
}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "dump":
        sys.stdout.write(dump(sys.argv[2]))
        return
    if len(sys.argv) != 4 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: e2e.py {{{'|'.join(CHECKS)}}} FEDBITS SOURCE_DIR")
    binary = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="fedbits-e2e-") as tmp:
        CHECKS[sys.argv[1]](binary, os.path.abspath(sys.argv[3]), tmp)


if __name__ == "__main__":
    main()
