#!/usr/bin/env python3
"""The paper scenarios (scenarios/paper/*.yaml) on small generated data in their formats.

Usage: e2e_paper.py FEDBITS_BINARY SOURCE_DIR

The real data sets are not packaged (README.md says where to get them), so this writes, in a
temporary directory, a LEAF FEMNIST folder (train/ and test/ JSON), a LEAF Shakespeare
folder and a CIFAR-10 binary folder of a few records each. Every scenario of
scenarios/paper/ must then pass `fedbits validate` with its data.path pointed there (every
sweep combination is checked), refuse to run without its data naming the folder it looked
for, and run 2 rounds with the paper's model and optimiser for the first combination of each
codec its sweep lists (the others differ only in bits): every run finishes with 2 rounds
stored, and its evaluated loss and accuracy are finite. The population, cohort and local
work are shrunk with --set so the whole check stays short. Python's standard library only.
"""
import glob
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile

USERS = 4  # LEAF users written per task (each one client)


def fail(msg):
    sys.exit("FAIL: " + msg)


def run(binary, args, cwd, check=None):
    p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True)
    if check is not None and p.returncode != check:
        fail(f"fedbits {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def write_leaf(root, data_of_user, n_train, n_test):
    """LEAF's layout: root/train/all_data.json and root/test/all_data.json, one object each."""
    for split, n, off in (("train", n_train, 0), ("test", n_test, n_train)):
        users = [f"w{k:04d}" for k in range(USERS)]
        data = {u: data_of_user(k, n, off) for k, u in enumerate(users)}
        os.makedirs(os.path.join(root, split), exist_ok=True)
        with open(os.path.join(root, split, "all_data.json"), "w") as f:
            json.dump({"users": users, "num_samples": [n] * USERS, "user_data": data}, f)


def femnist_user(k, n, off):
    """28 x 28 pixels in [0, 1] (a bright bar whose row depends on the label), labels 0..61."""
    xs, ys = [], []
    for i in range(n):
        y = (7 * k + 3 * (i + off)) % 62
        row = y % 28
        xs.append([1.0 if r == row else round(((r * 28 + c + i) % 97) / 97.0, 4)
                   for r in range(28) for c in range(28)])
        ys.append(y)
    return {"x": xs, "y": ys}


def shakespeare_user(k, n, off):
    """80-character windows of a short text and the character after each."""
    text = "To be, or not to be: that is the question. Whether 'tis nobler in the mind! "
    seqs = ["".join(text[(k * 5 + (i + off) * 3 + j) % len(text)] for j in range(81))
            for i in range(n)]
    return {"x": [s[:80] for s in seqs], "y": [s[80] for s in seqs]}


def write_cifar10(root, records):
    """data_batch_1..5.bin and test_batch.bin: a label byte then 3,072 pixel bytes per record."""
    os.makedirs(root, exist_ok=True)
    names = [f"data_batch_{b}.bin" for b in range(1, 6)] + ["test_batch.bin"]
    for f, name in enumerate(names):
        out = bytearray()
        for r in range(records):
            out.append((3 * f + r) % 10)
            out.extend((i * (r + 1) + 11 * f) % 256 for i in range(3072))
        with open(os.path.join(root, name), "wb") as fh:
            fh.write(bytes(out))


# Per scenario: the fixture folder (relative to the temporary directory), what shrinks the
# run, and the folder the error must name when the data are missing.
SCENARIOS = {
    "femnist-cnn.yaml": ("femnist", ["data.clients=4", "train.clients_per_round=2"],
                         "femnist/train"),
    "shakespeare-lstm.yaml": ("shakespeare", ["data.clients=4", "train.clients_per_round=2",
                                              "train.local_steps=2"], "shakespeare/train"),
    "cifar10-cnn.yaml": ("cifar", ["data.clients=4", "train.clients_per_round=2"],
                         "cifar/data_batch_1.bin"),
}


def scenario_args(src, name, folder, shrink):
    """The scenario's path and the --set overrides: the fixture folder, 2 rounds, shrink."""
    sets = []
    for kv in [f"data.path={folder}", "train.rounds=2"] + shrink:
        sets += ["--set", kv]
    return os.path.join(src, "scenarios", "paper", name), sets


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: e2e_paper.py FEDBITS SOURCE_DIR")
    binary = os.path.abspath(sys.argv[1])
    src = os.path.abspath(sys.argv[2])
    found = sorted(os.path.basename(p)
                   for p in glob.glob(os.path.join(src, "scenarios", "paper", "*.yaml")))
    if found != sorted(SCENARIOS):
        fail(f"scenarios/paper/ holds {found}; this test knows {sorted(SCENARIOS)}")
    with tempfile.TemporaryDirectory(prefix="fedbits-e2e-paper-") as tmp:
        for name, (folder, shrink, missing) in SCENARIOS.items():
            sc, sets = scenario_args(src, name, folder, shrink)
            # Without the data: a refusal naming the folder or file it looked for.
            p = run(binary, ["run", sc, "--no-sweep", "-q", "--db", "missing.db"] + sets, tmp,
                    check=1)
            if missing not in p.stderr:
                fail(f"{name} without data: the error does not name '{missing}':\n{p.stderr}")
        write_leaf(os.path.join(tmp, "femnist"), femnist_user, 6, 3)
        write_leaf(os.path.join(tmp, "shakespeare"), shakespeare_user, 8, 3)
        write_cifar10(os.path.join(tmp, "cifar"), 6)
        for name, (folder, shrink, _) in SCENARIOS.items():
            sc, sets = scenario_args(src, name, folder, shrink)
            p = run(binary, ["validate", sc] + sets, tmp, check=0)
            if "ok" not in p.stdout:
                fail(f"validate {name}: {p.stdout}")
            # One run per codec: the first sweep combination that names it.
            p = run(binary, ["run", sc, "--dry-run"] + sets, tmp, check=0)
            combos = {}
            for line in p.stdout.splitlines()[1:]:
                label = line.split(":", 1)[1].strip()
                values = dict(kv.split("=", 1) for kv in label.split())
                combos.setdefault(values["uplink.codec"], values)
            db = os.path.join(tmp, name + ".db")
            for codec, values in combos.items():
                one = sets + ["--no-sweep"]
                for k, v in values.items():
                    one += ["--set", f"{k}={v}"]
                run(binary, ["run", sc, "-q", "--threads", "1", "--db", db] + one, tmp, check=0)
            con = sqlite3.connect(db)
            runs = con.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
            if len(runs) != len(combos):
                fail(f"{name}: {len(runs)} runs stored, {len(combos)} made")
            for (run_id, status), codec in zip(runs, combos):
                r = con.execute("SELECT round, accuracy, loss FROM rounds WHERE run_id = ? "
                                "ORDER BY round", (run_id,)).fetchall()
                if status != "finished" or [x[0] for x in r] != [1, 2]:
                    fail(f"{name} ({codec}): status {status}, rounds {r}")
                acc, loss = r[-1][1], r[-1][2]
                if acc is None or loss is None or not math.isfinite(loss) or not 0 <= acc <= 1:
                    fail(f"{name} ({codec}): final accuracy {acc}, loss {loss}")
            con.close()
            print(f"{name}: validate ok; 2 rounds with {', '.join(combos)}: losses finite")


if __name__ == "__main__":
    main()
