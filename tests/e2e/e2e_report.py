#!/usr/bin/env python3
"""End-to-end tests of the results commands: fedbits report, export, check and plot.

Usage: e2e_report.py CHECK FEDBITS_BINARY SOURCE_DIR

Each CHECK runs the real binary on tiny scenarios (50 clients, a few rounds: about a second)
in a fresh temporary directory, then checks what the commands print against the database,
read independently with Python's sqlite3: CSV and JSON values exactly (floats are written
with round-trip precision), the seed groups' mean and Student-t interval to 1e-12, exit
statuses, and that the commands never modify the database. Standard library only.
"""
import csv
import hashlib
import io
import json
import math
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

EXIT_SKIP = 77

# Six runs: EDEN at 2 and 4 bits, three seeds each. Non-IID data so that seeds differ.
SWEEP = """
name: e2e-report
data: {dataset: synthetic, alpha: 0.5, beta: 0.5, clients: 50}
model: {type: logreg}
uplink: {codec: eden}
train: {rounds: 6, clients_per_round: 10, lr: 0.05}
output: {eval_every: 2}
sweep:
  grid: {uplink.bits: [2, 4], seed: [1, 2, 3]}
"""

# One run with per-client rows and dropouts, for export.
CLIENTS = """
name: e2e-export
seed: 4
data: {dataset: synthetic_iid, clients: 50}
model: {type: logreg}
train: {rounds: 5, clients_per_round: 10, lr: 0.05}
population:
  dropout: {probability: 0.2, phase: any}
output: {eval_every: 2, client_events: true, nmse: true}
uplink: {codec: eden, bits: 2}
"""

# One configuration, for check.
SINGLE = """
name: e2e-check
seed: 3
data: {dataset: synthetic_iid, clients: 50}
model: {type: logreg}
train: {rounds: 8, clients_per_round: 10, lr: 0.05}
uplink: {codec: eden, bits: 2}
output: {eval_every: 2}
"""

# The 0.975 quantile of Student's t with 2 degrees of freedom (three seeds), in closed form:
# for df = 2, F^-1(p) = (2p - 1) / sqrt(2 p (1 - p)).
T975_DF2 = (2 * 0.975 - 1) / math.sqrt(2 * 0.975 * 0.025)


def fail(msg):
    sys.exit("FAIL: " + msg)


def run(binary, args, cwd, check=None, env=None):
    p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True, env=env)
    if check is not None and p.returncode != check:
        fail(f"fedbits {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def query(db, sql, args=()):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect_error(binary, args, tmp, words, status=2, env=None):
    """The command fails with `status` and its stderr contains every word."""
    p = run(binary, args, tmp, check=status, env=env)
    for w in words:
        if w not in p.stderr:
            fail(f"fedbits {' '.join(args)}: stderr lacks '{w}':\n{p.stderr}")


def expected_runs(db, target=None):
    """What report must say about each run, computed here from the tables."""
    out = {}
    for (rid, name, label, cfg, status, params) in query(
            db, "SELECT id, name, sweep_label, config_json, status, model_params FROM runs"):
        rounds = query(db, "SELECT round, sim_time_s, accuracy, uplink_bits, downlink_bits, "
                           "participants FROM rounds WHERE run_id = ? ORDER BY round", (rid,))
        c = json.loads(cfg)
        accs = [r[2] for r in rounds if r[2] is not None]
        up = sum(r[3] for r in rounds)
        parts = sum(r[5] for r in rounds)
        hit = [r for r in rounds if target is not None and r[2] is not None and r[2] >= target]
        out[rid] = {
            "id": rid, "name": name, "sweep": label, "codec": c["uplink"]["codec"],
            "bits": c["uplink"]["bits"], "status": status, "rounds": len(rounds),
            "final_accuracy": accs[-1] if accs else None,
            "best_accuracy": max(accs) if accs else None,
            "target_round": hit[0][0] if hit else None,
            "target_time_s": hit[0][1] if hit else None,
            "uplink_bits": up, "downlink_bits": sum(r[4] for r in rounds),
            "uplink_bits_per_coord": up / (parts * params) if parts and params else None,
        }
    return out


def csv_value(s):
    """A CSV field as the number or string it stands for ('' is NULL)."""
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def check_report(binary, src, tmp):
    """report: every run's row and the seed groups, in all four formats, from the tables."""
    sc = write(tmp, "sw.yaml", SWEEP)
    run(binary, ["run", sc, "--db", "r.db", "-q"], tmp, check=0)
    db = os.path.join(tmp, "r.db")
    before = digest(db)
    want = expected_runs(db)
    if len(want) != 6:
        fail(f"{len(want)} runs in the sweep, wanted 6")

    # CSV: one header, run rows equal to the tables, then one group row per bits value.
    p = run(binary, ["report", "r.db", "--format", "csv"], tmp, check=0)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    runs = [r for r in rows if r["kind"] == "run"]
    groups = [r for r in rows if r["kind"] == "group"]
    if len(runs) != 6 or len(groups) != 2 or len(rows) != 8:
        fail(f"csv: {len(runs)} run rows and {len(groups)} group rows:\n{p.stdout}")
    for r in runs:
        w = want[int(r["id"])]
        for k, v in w.items():
            got = (r[k] or None) if k in ("name", "sweep", "codec", "status") else csv_value(r[k])
            if got != v:
                fail(f"csv run {w['id']} {k}: got {r[k]!r}, wanted {v!r}")
    for g in groups:
        ids = [int(x) for x in g["runs"].split(",")]
        accs = [want[i]["final_accuracy"] for i in ids]
        n = len(accs)
        mean = sum(accs) / n
        sd = math.sqrt(sum((a - mean) ** 2 for a in accs) / (n - 1))
        half = T975_DF2 * sd / math.sqrt(n)
        bits = {want[i]["bits"] for i in ids}
        if n != 3 or int(g["seeds"]) != 3 or len(bits) != 1:
            fail(f"group {g}: wanted 3 seeds of one bits value")
        if g["sweep"] != f"uplink.bits={bits.pop()}":
            fail(f"group label {g['sweep']!r} still names the seed or lost the bits")
        if abs(float(g["mean_final_accuracy"]) - mean) > 1e-12 or \
                abs(float(g["ci95_low"]) - (mean - half)) > 1e-9 or \
                abs(float(g["ci95_high"]) - (mean + half)) > 1e-9:
            fail(f"group {ids}: mean {g['mean_final_accuracy']} [{g['ci95_low']}, "
                 f"{g['ci95_high']}], wanted {mean} +- {half}")

    # JSON: the same objects, typed.
    p = run(binary, ["report", "r.db", "--format", "json"], tmp, check=0)
    objs = json.loads(p.stdout)
    if [o["kind"] for o in objs] != ["run"] * 6 + ["group"] * 2:
        fail(f"json kinds: {[o['kind'] for o in objs]}")
    for o in objs[:6]:
        w = want[o["id"]]
        for k, v in w.items():
            if o[k] != v:
                fail(f"json run {o['id']} {k}: got {o[k]!r}, wanted {v!r}")
    if sorted(objs[6]["runs"] + objs[7]["runs"]) != sorted(want):
        fail(f"json groups do not cover the runs: {objs[6:]}")

    # A target accuracy: the first round at or above it, and its simulated time.
    finals = sorted(w["final_accuracy"] for w in want.values())
    target = round(finals[2], 3)
    want_t = expected_runs(db, target)
    p = run(binary, ["report", "r.db", "--format", "json", "--target", str(target)], tmp, check=0)
    reached = 0
    for o in json.loads(p.stdout)[:6]:
        w = want_t[o["id"]]
        if o["target_round"] != w["target_round"] or o["target_time_s"] != w["target_time_s"]:
            fail(f"--target {target}, run {o['id']}: got {o['target_round']} "
                 f"{o['target_time_s']}, wanted {w['target_round']} {w['target_time_s']}")
        reached += o["target_round"] is not None
    if reached in (0, 6):
        fail(f"--target {target} should be reached by some runs only ({reached})")

    # Table: aligned columns (equal line lengths per section), then the seed section.
    p = run(binary, ["report", "r.db", "--target", str(target)], tmp, check=0)
    first, _, second = p.stdout.partition("\n\n")
    lines = first.splitlines()
    if len(lines) != 8 or len({len(x) for x in lines}) != 1:
        fail("table is not 8 aligned lines:\n" + first)
    for word in ("final acc", "best acc", "uplink bits", "up bits/coord", f"rounds to {target:g}"):
        if word not in lines[0]:
            fail(f"table header lacks '{word}': {lines[0]}")
    if "confidence interval" not in second or len(second.strip().splitlines()) != 5:
        fail("table lacks the seed section:\n" + p.stdout)

    # Markdown: pipe tables with a separator line each.
    p = run(binary, ["report", "r.db", "--format", "markdown"], tmp, check=0)
    pipes = [x for x in p.stdout.splitlines() if x.startswith("|")]
    if len(pipes) != 2 + 6 + 2 + 2 or not pipes[1].startswith("|---"):
        fail("markdown:\n" + p.stdout)

    # Filters: one run (no repeated seed, so no group row); a sweep.
    p = run(binary, ["report", "r.db", "--run", "2", "--format", "json"], tmp, check=0)
    objs = json.loads(p.stdout)
    if len(objs) != 1 or objs[0]["id"] != 2:
        fail(f"--run 2: {objs}")
    p = run(binary, ["report", "r.db", "--sweep", "1", "--format", "csv"], tmp, check=0)
    if len(list(csv.DictReader(io.StringIO(p.stdout)))) != 8:
        fail("--sweep 1 does not list the sweep")

    # Unusable input: exit 2, naming the file or the id.
    write(tmp, "junk.db", "this is not sqlite\n" * 20)
    sqlite3.connect(os.path.join(tmp, "other.db")).execute("CREATE TABLE t (x)").connection.close()
    expect_error(binary, ["report", "missing.db"], tmp, ["missing.db"])
    expect_error(binary, ["report", "junk.db"], tmp, ["junk.db", "not a fedbits results"])
    expect_error(binary, ["report", "other.db"], tmp, ["other.db", "not a fedbits results"])
    expect_error(binary, ["report", "r.db", "--sweep", "9"], tmp, ["r.db", "no sweep 9"])
    expect_error(binary, ["report", "r.db", "--run", "99"], tmp, ["r.db", "no run 99"])
    expect_error(binary, ["report", "r.db", "--format", "xml"], tmp, ["--format"])
    expect_error(binary, ["report", "r.db", "--target", "1.5"], tmp, ["--target"])
    expect_error(binary, ["report", "r.db", "--run", "x"], tmp, ["--run"])
    expect_error(binary, ["report"], tmp, ["which results database"])
    run(binary, ["report", "--help"], tmp, check=0)
    if digest(db) != before:
        fail("report modified the database")

    # A re-run into the same database: the latest sweep by default; with --sweep all a seed
    # run twice still counts once per group.
    two = write(tmp, "two.yaml", SWEEP.replace("seed: [1, 2, 3]", "seed: [1, 2]"))
    for _ in range(2):
        run(binary, ["run", two, "--db", "rr.db", "-q"], tmp, check=0)
    p = run(binary, ["report", "rr.db", "--format", "json"], tmp, check=0)
    objs = json.loads(p.stdout)
    if sorted(o["id"] for o in objs if o["kind"] == "run") != [5, 6, 7, 8] or \
            "--sweep all" not in p.stderr:
        fail(f"default sweep: {[o['id'] for o in objs]}\n{p.stderr}")
    groups = [o for o in objs if o["kind"] == "group"]
    if [g["seeds"] for g in groups] != [2, 2] or any("2 seeds" not in g["ci_note"] for g in groups):
        fail(f"groups of 2 seeds: {groups}")
    p = run(binary, ["report", "rr.db", "--format", "json", "--sweep", "all"], tmp, check=0)
    objs = json.loads(p.stdout)
    groups = [o for o in objs if o["kind"] == "group"]
    if len([o for o in objs if o["kind"] == "run"]) != 8 or [g["seeds"] for g in groups] != [2, 2]:
        fail(f"--sweep all: a re-run counted as a seed: {groups}")
    for g in groups:
        if not 0 <= g["ci95_low"] <= g["mean_final_accuracy"] <= g["ci95_high"] <= 1:
            fail(f"interval outside [0, 1]: {g}")
    # Differential privacy: the epsilon of the last round at the run's delta, beside the
    # accuracy; the table has the columns only when some run has it, '-' for the others.
    tiny = os.path.join(src, "tests", "e2e", "tiny.yaml")
    if "epsilon" in run(binary, ["report", "r.db"], tmp, check=0).stdout:
        fail("report shows epsilon for runs without differential privacy")
    run(binary, ["run", tiny, "--db", "dp.db", "-q"], tmp, check=0)
    run(binary, ["run", tiny, "--db", "dp.db", "-q", "--set", "train.sampling=poisson",
                 "--set", "privacy.mechanism=central", "--set", "privacy.noise_multiplier=1.3",
                 "--set", "privacy.delta=1e-6"], tmp, check=0)
    eps = query(os.path.join(tmp, "dp.db"),
                "SELECT epsilon FROM rounds WHERE run_id = 2 ORDER BY round DESC LIMIT 1")[0][0]
    p = run(binary, ["report", "dp.db", "--sweep", "all", "--format", "json"], tmp, check=0)
    got = [(o["epsilon"], o["delta"]) for o in json.loads(p.stdout)]
    if got != [(None, None), (eps, 1e-6)]:
        fail(f"report epsilon and delta: {got}, wanted [(None, None), ({eps}, 1e-06)]")
    lines = run(binary, ["report", "dp.db", "--sweep", "all"], tmp, check=0).stdout.splitlines()
    head = lines[0].split()
    at = head.index("epsilon")  # "final acc" and "best acc" are two words in the header
    if head[at + 1] != "delta" or head[at - 2:at] != ["best", "acc"] or \
            lines[2].split()[at - 2:at] != ["-", "-"] or \
            lines[3].split()[at - 2:at] != [f"{eps:.4f}", "1e-06"]:
        fail("report table epsilon columns:\n" + "\n".join(lines))
    print("report: 6 runs and 2 seed groups match the tables in csv, json, table and markdown; "
          "re-runs default to the latest sweep and never pass for seeds; epsilon at delta "
          f"{eps:.4f} beside accuracy")
    check_stop_rules(binary, src, tmp)


def check_stop_rules(binary, src, tmp):
    """train.target_accuracy and train.time_budget_s: the run ends at the round the tables of
    the same run without the rule give, the summary says so, and report's to-target columns
    use the run's own target when --target is absent."""
    tiny = os.path.join(src, "tests", "e2e", "tiny.yaml")
    base = ["--set", "output.eval_every=1", "-q"]
    run(binary, ["run", tiny, "--db", "s0.db"] + base, tmp, check=0)
    rounds = query(os.path.join(tmp, "s0.db"),
                   "SELECT round, sim_time_s, accuracy FROM rounds ORDER BY round")
    target = rounds[2][2]
    reach = next(r for r in rounds if r[2] >= target)
    p = run(binary, ["run", tiny, "--db", "s1.db", "--set",
                     f"train.target_accuracy={target!r}"] + base, tmp, check=0)
    line = f"reached at round {reach[0]}, simulated time {reach[1]:.3f} s"
    if f"rounds             {reach[0]} of 6" not in p.stdout or line not in p.stdout:
        fail(f"target {target}: wanted the run to end at round {reach[0]} ('{line}'):\n{p.stdout}")
    p = run(binary, ["report", "s1.db", "--format", "csv"], tmp, check=0)
    row = next(csv.DictReader(io.StringIO(p.stdout)))
    if csv_value(row["target_round"]) != reach[0] or csv_value(row["rounds"]) != reach[0]:
        fail(f"report of the target run: {row}")
    p = run(binary, ["report", "s1.db"], tmp, check=0)
    if "rounds to target" not in p.stdout:
        fail(f"report without --target hides the run's own target:\n{p.stdout}")
    budget = rounds[3][1]
    p = run(binary, ["run", tiny, "--db", "s2.db", "--set",
                     f"train.time_budget_s={budget!r}"] + base, tmp, check=0)
    got = query(os.path.join(tmp, "s2.db"), "SELECT round, sim_time_s, accuracy FROM rounds "
                                             "ORDER BY round")
    if got != rounds[:4] or "round 4 was the last to close within it" not in p.stdout:
        fail(f"budget {budget} s: {len(got)} rounds, wanted the first 4 of\n{rounds}\n{p.stdout}")
    print(f"stop rules: target {target:.4f} ends the run at round {reach[0]}, a budget of "
          f"{budget} s after round 4, as the run without them says")


def export_expected(db, table, run_id):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    order = "round, client, rowid" if table == "clients_rounds" else "round"
    rows = [dict(r) for r in con.execute(
        f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}", (run_id,))]
    con.close()
    return rows


def check_export(binary, src, tmp):
    """export: rounds and clients_rounds of one run, CSV and JSON, equal to the tables."""
    sc = write(tmp, "c.yaml", CLIENTS)
    run(binary, ["run", sc, "--db", "e.db", "-q"], tmp, check=0)
    run(binary, ["run", sc, "--db", "e.db", "-q", "--seed", "5"], tmp, check=0)
    db = os.path.join(tmp, "e.db")
    for table in ("rounds", "clients_rounds"):
        want = export_expected(db, table, 2)
        if not want:
            fail(f"no {table} rows to export")
        args = ["export", "e.db", "--run", "2"] + (["--table", table] if table != "rounds" else [])
        p = run(binary, args, tmp, check=0)
        got = list(csv.DictReader(io.StringIO(p.stdout)))
        if list(got[0].keys()) != list(want[0].keys()) or len(got) != len(want):
            fail(f"{table} csv: header {list(got[0].keys())}, {len(got)} rows; wanted "
                 f"{list(want[0].keys())}, {len(want)} rows")
        for g, w in zip(got, want):
            for k, v in w.items():
                if csv_value(g[k]) != v:
                    fail(f"{table} csv round {w['round']} {k}: got {g[k]!r}, wanted {v!r}")
        p = run(binary, args + ["--format", "json"], tmp, check=0)
        if json.loads(p.stdout) != want:
            fail(f"{table} json differs from the table")
    nulls = [r for r in export_expected(db, "rounds", 2) if r["accuracy"] is None]
    if not nulls:
        fail("scenario should have rounds without evaluation (NULL accuracy)")
    # The default is rounds as CSV; a run without client events exports an empty table.
    sc2 = write(tmp, "t.yaml", SINGLE)
    run(binary, ["run", sc2, "--db", "e.db", "-q"], tmp, check=0)
    p = run(binary, ["export", "e.db", "--run", "3", "--table", "clients_rounds"], tmp, check=0)
    if len(p.stdout.splitlines()) != 1 or "client_events" not in p.stderr:
        fail(f"clients_rounds of a run without client events:\n{p.stdout}\n{p.stderr}")
    before = digest(db)
    expect_error(binary, ["export", "e.db"], tmp, ["--run"])
    expect_error(binary, ["export", "e.db", "--run", "99"], tmp, ["e.db", "no run 99"])
    expect_error(binary, ["export", "e.db", "--run", "1", "--table", "runs"], tmp, ["--table"])
    expect_error(binary, ["export", "e.db", "--run", "1", "--format", "markdown"], tmp,
                 ["--format"])
    expect_error(binary, ["export", "nope.db", "--run", "1"], tmp, ["nope.db"])
    run(binary, ["export", "--help"], tmp, check=0)
    if digest(db) != before:
        fail("export modified the database")
    print("export: rounds and clients_rounds of run 2 match the tables in csv and json")


def rehash(db, config_hash):
    """Gives the latest run of db the config hash of a baseline run: the same experiment
    whose results got worse, as a code change would make them."""
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET config_hash = ? WHERE id = (SELECT max(id) FROM runs)",
                (config_hash,))
    con.commit()
    con.close()


def check_check(binary, src, tmp):
    """check: 0 on the same scenario, 1 on degraded accuracy or more bits, 2 on bad input."""
    sc = write(tmp, "s.yaml", SINGLE)
    run(binary, ["run", sc, "--db", "base.db", "-q"], tmp, check=0)
    run(binary, ["run", sc, "--db", "cur.db", "-q"], tmp, check=0)
    base_hash = query(os.path.join(tmp, "base.db"), "SELECT config_hash FROM runs")[0][0]
    before = digest(os.path.join(tmp, "base.db"))

    p = run(binary, ["check", "cur.db", "--baseline", "base.db"], tmp, check=0)
    if "1 matched: 1 ok, 0 regressed" not in p.stdout or "e2e-check" not in p.stdout:
        fail("same scenario:\n" + p.stdout)

    # A much lower learning rate under the same config hash: accuracy drops.
    run(binary, ["run", sc, "--db", "cur.db", "-q", "--set", "train.lr=0.0005"], tmp, check=0)
    # Unmatched (its own hash) the degraded run is simply new; the good run still matches.
    p = run(binary, ["check", "cur.db", "--baseline", "base.db"], tmp, check=0)
    if "new" not in p.stdout:
        fail("unmatched run not listed as new:\n" + p.stdout)
    rehash(os.path.join(tmp, "cur.db"), base_hash)
    p = run(binary, ["check", "cur.db", "--baseline", "base.db"], tmp, check=1)
    if "REGRESSED (accuracy)" not in p.stdout or "1 regressed" not in p.stdout:
        fail("degraded accuracy:\n" + p.stdout)
    # Enough tolerance lets it pass.
    run(binary, ["check", "cur.db", "--baseline", "base.db", "--tolerance", "accuracy=1"], tmp,
        check=0)

    # More bits per coordinate under the same config hash: bits grow.
    run(binary, ["run", sc, "--db", "bits.db", "-q", "--set", "uplink.bits=4"], tmp, check=0)
    rehash(os.path.join(tmp, "bits.db"), base_hash)
    p = run(binary, ["check", "bits.db", "--baseline", "base.db", "--tolerance",
                     "accuracy=1"], tmp, check=1)
    if "REGRESSED (bits)" not in p.stdout:
        fail("more bits:\n" + p.stdout)
    b = query(os.path.join(tmp, "base.db"), "SELECT sum(uplink_bits + downlink_bits) FROM rounds")
    c = query(os.path.join(tmp, "bits.db"), "SELECT sum(uplink_bits + downlink_bits) FROM rounds")
    growth = c[0][0] / b[0][0] - 1
    for tol, status in ((growth * 1.01, 0), (growth * 0.99, 1)):
        run(binary, ["check", "bits.db", "--baseline", "base.db", "--tolerance",
                     f"bits={tol!r},accuracy=1"], tmp, check=status)

    # Unusable input.
    expect_error(binary, ["check", "cur.db", "--baseline", "missing.db"], tmp, ["missing.db"])
    expect_error(binary, ["check", "missing.db", "--baseline", "base.db"], tmp, ["missing.db"])
    expect_error(binary, ["check", "cur.db"], tmp, ["--baseline"])
    for bad in ("accuracy", "accuracy=-1", "speed=1", "accuracy=0.1,", "", "bits=1x",
                "accuracy=nan"):
        expect_error(binary, ["check", "cur.db", "--baseline", "base.db", "--tolerance", bad],
                     tmp, ["--tolerance"])
    # No baseline run matched: exit 2, naming the missing baseline run.
    other = write(tmp, "o.yaml", SINGLE.replace("seed: 3", "seed: 9"))
    run(binary, ["run", other, "--db", "other.db", "-q"], tmp, check=0)
    expect_error(binary, ["check", "other.db", "--baseline", "base.db"], tmp,
                 ["no run of baseline", "run 1 e2e-check", base_hash])
    # A baseline run without a finished match fails, unless --allow-missing; JUnit lists both.
    run(binary, ["run", sc, "--db", "two.db", "-q"], tmp, check=0)
    run(binary, ["run", sc, "--db", "two.db", "-q", "--set", "train.lr=0.02"], tmp, check=0)
    p = run(binary, ["check", "base.db", "--baseline", "two.db"], tmp, check=1)
    if "1 baseline runs missing" not in p.stdout or "--allow-missing" not in p.stderr:
        fail("missing baseline run:\n" + p.stdout + p.stderr)
    run(binary, ["check", "base.db", "--baseline", "two.db", "--allow-missing"], tmp, check=0)
    p = run(binary, ["check", "base.db", "--baseline", "two.db", "--format", "junit"], tmp,
            check=1)
    suite = ET.fromstring(p.stdout).find("testsuite")
    cases = suite.findall("testcase")
    if len(cases) != 2 or suite.get("failures") != "1" or \
            [c.find("failure") is not None for c in cases] != [False, True]:
        fail("junit:\n" + p.stdout)
    expect_error(binary, ["check", "base.db", "--baseline", "two.db", "--format", "xml"], tmp,
                 ["--format"])
    run(binary, ["check", "--help"], tmp, check=0)
    if digest(os.path.join(tmp, "base.db")) != before:
        fail("check modified the baseline")
    print("check: same scenario 0, lower accuracy 1, more bits 1, a missing run 1, bad input 2")


def has_matplotlib():
    for py in ("/usr/bin/python3", "python3"):
        try:
            if subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0:
                return True
        except OSError:
            pass
    return False


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def check_plot(binary, src, tmp):
    """plot: valid PNG and SVG files of plausible size; clear errors; no temporary left."""
    if not has_matplotlib():
        print("plot: SKIP: python3-matplotlib is not installed")
        sys.exit(EXIT_SKIP)
    sc = write(tmp, "sw.yaml", SWEEP)
    run(binary, ["run", sc, "--db", "p.db", "-q"], tmp, check=0)
    before = digest(os.path.join(tmp, "p.db"))
    private = os.path.join(tmp, "tmpdir")
    os.mkdir(private)
    env = dict(os.environ, TMPDIR=private)
    for args, out in ((["--x", "uplink_bits"], "a.png"),
                      (["--run", "1", "--run", "4", "--x", "total_bits", "--y", "loss",
                        "--title", "two runs"], "b.png"),
                      (["--sweep", "1", "--x", "sim_time_s", "--y", "train_loss"], "c.svg"),
                      ([], "d.SVG")):
        run(binary, ["plot", "p.db", "-o", out] + args, tmp, check=0, env=env)
        path = os.path.join(tmp, out)
        if out.endswith(".png"):
            w, h = png_size(path)
            if not (400 <= w <= 3000 and 300 <= h <= 3000):
                fail(f"{out}: {w} x {h} pixels")
        else:
            root = ET.parse(path).getroot()
            if not root.tag.endswith("svg") or len(list(root.iter())) < 20:
                fail(f"{out} is not an SVG drawing")
    if os.listdir(private):
        fail(f"temporary files left behind: {os.listdir(private)}")
    # Errors: options checked by the binary, input checked by the script.
    expect_error(binary, ["plot", "p.db"], tmp, ["-o"])
    expect_error(binary, ["plot", "p.db", "-o", "x.gif"], tmp, [".png or .svg"])
    expect_error(binary, ["plot", "p.db", "-o", "x.png", "--x", "epoch"], tmp, ["--x"])
    expect_error(binary, ["plot", "p.db", "-o", "x.png", "--y", "f1"], tmp, ["--y"])
    expect_error(binary, ["plot", "missing.db", "-o", "x.png"], tmp, ["missing.db"])
    expect_error(binary, ["plot", "p.db", "-o", "x.png", "--run", "99"], tmp, ["no run 99"])
    expect_error(binary, ["plot", "p.db", "-o", "x.png", "--sweep", "7"], tmp, ["no sweep 7"])
    expect_error(binary, ["plot", "p.db", "-o", "x.png", "--y", "nmse"], tmp, ["output.nmse"])
    write(tmp, "junk.db", "not a database\n" * 10)
    expect_error(binary, ["plot", "junk.db", "-o", "x.png"], tmp, ["junk.db"])
    expect_error(binary, ["plot", "p.db", "-o", "no/such/dir/x.png"], tmp, ["cannot write"],
                 status=1)
    if os.path.exists(os.path.join(tmp, "x.png")):
        fail("a failed plot wrote its output")
    # Without matplotlib: a clear error naming the Debian package.
    fake = os.path.join(tmp, "fake", "matplotlib")
    os.makedirs(fake)
    write(fake, "__init__.py", "raise ImportError(\"No module named 'matplotlib'\")\n")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    wrapper = write(tmp, "py", f"#!/bin/sh\nPYTHONPATH='{os.path.dirname(fake)}' exec {py} "
                               "\"$@\"\n")
    os.chmod(wrapper, 0o755)
    expect_error(binary, ["plot", "p.db", "-o", "x.png"], tmp, ["python3-matplotlib"], status=1,
                 env=dict(env, FEDBITS_PYTHON=wrapper))
    if os.listdir(private):
        fail(f"temporary files left behind: {os.listdir(private)}")
    run(binary, ["plot", "--help"], tmp, check=0)
    if digest(os.path.join(tmp, "p.db")) != before:
        fail("plot modified the database")
    print(f"plot: PNG ({w} x {h}) and SVG written; bad input, missing matplotlib handled")


CHECKS = {
    "report": check_report,
    "export": check_export,
    "check": check_check,
    "plot": check_plot,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: e2e_report.py {{{'|'.join(CHECKS)}}} FEDBITS SOURCE_DIR")
    binary = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="fedbits-e2e-report-") as tmp:
        CHECKS[sys.argv[1]](binary, os.path.abspath(sys.argv[3]), tmp)


if __name__ == "__main__":
    main()
