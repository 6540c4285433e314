#!/usr/bin/env python3
"""plot: curves of a fedbits results database, drawn with matplotlib.

Usage: plot.py RESULTS.db -o FILE.png|FILE.svg [--x AXIS] [--y COLUMN] [--run ID]...
               [--sweep ID] [--title TITLE]

This is the script behind `fedbits plot`: the binary embeds it at build time (tools/embed,
see sim/meson.build), writes it to a temporary file, runs it with python3 and removes it, so
the options are those of `fedbits plot --help`. It also runs on its own from the source tree.

It reads the database read-only with the standard library's sqlite3 (docs/results.md for the
tables) and draws one curve per run: the selected runs (--run), the runs of a sweep (--sweep),
or, by default, the latest run's sweep (--sweep all: every run). The x axis is the round, the simulated time, or the cumulative uplink or total
(uplink + downlink) bits, on a log scale for bits; rounds without a value of the metric (not
evaluated) are skipped; --y takes any numeric column of the rounds table. A run under secure
aggregation adds to its label how its uplink was carried and its effective payload bits per
coordinate. Each curve is labelled by what differs between the runs: their sweep
labels when those tell them apart, else the scenario keys whose values differ. The image type
follows the output's extension (PNG at 100 dpi, 8 x 5 inches, or SVG); the output does not
depend on the date.

Exit status: 0 written; 1 matplotlib missing (Debian: python3-matplotlib) or the image could
not be written; 2 bad options or input (not a fedbits database, unknown run or sweep, nothing
to plot).
"""
import argparse
import json
import os
import sqlite3
import sys
import urllib.parse

X_AXES = {
    "round": "round",
    "sim_time_s": "simulated time (s)",
    "uplink_bits": "cumulative uplink bits",
    "total_bits": "cumulative bits, uplink + downlink",
    "epsilon": "cumulative privacy epsilon (at privacy.delta)",
}
Y_METRICS = {
    "accuracy": "test accuracy",
    "loss": "test loss",
    "train_loss": "mean local training loss",
    "nmse": "NMSE of the aggregate",
}
# Columns of the rounds table that are not metrics of a round.
NOT_METRICS = {"run_id", "round"}
MAX_LABEL_KEYS = 4


def die(msg, status=2):
    sys.stderr.write(f"fedbits plot: {msg}\n")
    sys.exit(status)


def sweep_arg(s):
    """--sweep ID or --sweep all."""
    if s == "all":
        return s
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not a sweep id or 'all'")


def default_sweep(con, a):
    """Without --sweep and --run: the latest run's sweep, so that a re-run of a scenario into
    the same database does not add curves; --sweep all draws every run."""
    if a.sweep == "all":
        a.sweep = None
        return
    if a.sweep is not None or a.run:
        return
    sweep, total, in_sweep = con.execute(
        "SELECT (SELECT sweep_id FROM runs ORDER BY id DESC LIMIT 1), (SELECT count(*) FROM runs), "
        "(SELECT count(*) FROM runs WHERE sweep_id = "
        "(SELECT sweep_id FROM runs ORDER BY id DESC LIMIT 1))").fetchone()
    if sweep is not None and in_sweep < total:
        a.sweep = sweep
        sys.stderr.write(f"fedbits plot: the latest sweep ({sweep}: {in_sweep} of {total} runs); "
                         "--sweep all for every run\n")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fedbits plot", description="Curves of a results database.")
    p.add_argument("db")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--x", choices=sorted(X_AXES), default="round")
    p.add_argument("--y", default="accuracy")
    p.add_argument("--run", type=int, action="append", default=[])
    p.add_argument("--sweep", type=sweep_arg)
    p.add_argument("--title")
    a = p.parse_args(argv)
    ext = os.path.splitext(a.output)[1].lower()
    if ext not in (".png", ".svg"):
        die(f"output '{a.output}' must end in .png or .svg")
    a.format = ext[1:]
    return a


def open_db(path):
    if not os.path.isfile(path):
        die(f"cannot open '{path}': no such file")
    try:
        con = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro",
                              uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as e:
        die(f"'{path}' is not a fedbits results database: {e}")
    if not {"runs", "rounds"} <= tables:
        die(f"'{path}' is not a fedbits results database (it has no runs and rounds tables)")
    return con


def y_columns(con):
    """The numeric columns of the rounds table a curve can follow (docs/results.md)."""
    return sorted(name for _, name, typ, *_ in con.execute("PRAGMA table_info(rounds)")
                  if typ.upper() in ("INTEGER", "REAL") and name not in NOT_METRICS)


def carriage(con, rid, config):
    """' [secagg+: fixed point, 23.00 bits/coord]' for a secure run, else ''.

    How the uplink reached the server (docs/secure.md, "Which codecs stay compressed") and
    its effective payload bits per coordinate and participant, from the rounds table.
    """
    secure = (config.get("aggregation") or {}).get("secure", "none")
    if secure in (None, "none"):
        return ""
    how = "homomorphic ring" if (config.get("uplink") or {}).get("codec") == "thc" \
        else "fixed point"
    payload, parts, params = con.execute(
        "SELECT sum(d.uplink_payload_bits), sum(d.participants), r.model_params FROM rounds d "
        "JOIN runs r ON r.id = d.run_id WHERE d.run_id = ?", (rid,)).fetchone()
    if not parts or not params:
        return f" [{secure}: {how}]"
    return f" [{secure}: {how}, {payload / (parts * params):.2f} bits/coord]"


def select_runs(con, path, a):
    """[(id, name, sweep_label, config dict, carriage)] of the runs to draw, in id order."""
    if a.sweep is not None and \
            con.execute("SELECT 1 FROM sweeps WHERE id = ?", (a.sweep,)).fetchone() is None:
        die(f"'{path}' has no sweep {a.sweep}")
    for rid in a.run:
        if con.execute("SELECT 1 FROM runs WHERE id = ?", (rid,)).fetchone() is None:
            die(f"'{path}' has no run {rid}")
    sql = "SELECT id, name, sweep_label, config_json FROM runs"
    where, args = [], []
    if a.sweep is not None:
        where.append("sweep_id = ?")
        args.append(a.sweep)
    if a.run:
        where.append(f"id IN ({','.join('?' * len(a.run))})")
        args.extend(a.run)
    if where:
        sql += " WHERE " + " AND ".join(where)
    runs = []
    for rid, name, label, cfg in con.execute(sql + " ORDER BY id", args):
        try:
            config = json.loads(cfg)
        except (TypeError, ValueError):
            config = {}
        runs.append((rid, name, label, config, ""))
    if not runs:
        die(f"no run of '{path}' matches the selection")
    return [r[:4] + (carriage(con, r[0], r[3]),) for r in runs]


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def show(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def labels(runs):
    """One legend label per run: what tells the runs apart."""
    if len(runs) == 1:
        rid, name, label, _, how = runs[0]
        return [f"run {rid} {name}" + (f" ({label})" if label else "") + how]
    sweep_labels = [r[2] for r in runs]
    if all(sweep_labels) and len(set(sweep_labels)) == len(runs):
        out = sweep_labels
    else:
        flat = [flatten(r[3]) for r in runs]
        for f in flat:
            f.pop("output.db", None)
        keys = sorted(set().union(*flat))
        differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]
        out = []
        for f in flat:
            parts = [f"{k}={show(f.get(k))}" for k in differ[:MAX_LABEL_KEYS]]
            if len(differ) > MAX_LABEL_KEYS:
                parts.append("...")
            out.append(" ".join(parts))
    # Runs of the very same configuration get their id to tell them apart.
    return [(f"{lab} (run {r[0]})" if not lab or out.count(lab) > 1 else lab) + r[4]
            for lab, r in zip(out, runs)]


def series(con, run_id, x, y):
    xs, ys = [], []
    up = total = 0
    eps = "epsilon" if x == "epsilon" else "NULL"  # older databases have no epsilon column
    for rnd, t, ub, db, e, v in con.execute(
            f"SELECT round, sim_time_s, uplink_bits, downlink_bits, {eps}, {y} FROM rounds "
            "WHERE run_id = ? ORDER BY round", (run_id,)):
        up += ub
        total += ub + db
        if v is None or (x == "epsilon" and e is None):
            continue
        xs.append({"round": rnd, "sim_time_s": t, "uplink_bits": up, "total_bits": total,
                   "epsilon": e}[x])
        ys.append(v)
    return xs, ys


def main(argv):
    a = parse_args(argv)
    con = open_db(a.db)
    try:
        default_sweep(con, a)
        columns = y_columns(con)
        if a.y not in columns:
            die(f"--y '{a.y}' must be a numeric column of the rounds table: {', '.join(columns)}")
        runs = select_runs(con, a.db, a)
        curves = [series(con, r[0], a.x, a.y) for r in runs]
    except sqlite3.Error as e:
        die(f"'{a.db}': {e}")
    if not any(xs for xs, _ in curves):
        hint = " (runs record it with output.nmse: true)" if a.y == "nmse" else ""
        die(f"no round of the selected runs has a value of {a.y}{hint}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        die(f"matplotlib is not available to {sys.executable} ({e}); "
            "install it with: apt-get install python3-matplotlib", 1)
    matplotlib.rcParams["svg.hashsalt"] = "fedbits"
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for (xs, ys), lab in zip(curves, labels(runs)):
        if xs:
            ax.plot(xs, ys, label=lab, marker="o" if len(xs) <= 60 else None, markersize=3,
                    linewidth=1.5)
    if a.x.endswith("_bits"):
        ax.set_xscale("log")
    if a.y == "nmse":
        ax.set_yscale("log")
    ax.set_xlabel(X_AXES[a.x])
    ax.set_ylabel(Y_METRICS.get(a.y, a.y.replace("_", " ")))
    names = sorted({r[1] for r in runs})
    ax.set_title(a.title if a.title is not None else
                 (names[0] if len(names) == 1 else os.path.basename(a.db)))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small" if len(runs) <= 8 else "x-small")
    fig.tight_layout()
    try:
        fig.savefig(a.output, format=a.format,
                    metadata={"Date": None} if a.format == "svg" else None)
    except OSError as e:
        die(f"cannot write '{a.output}': {e.strerror or e}", 1)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
