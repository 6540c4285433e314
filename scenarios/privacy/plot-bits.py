#!/usr/bin/python3
"""Accuracy against ring bits for the distributed DP sweeps, with central DP as a line.

Usage: plot-bits.py OUT.png DDGAUSS.db SKELLAM.db CENTRAL.db
Reads each finished run's final accuracy, its target epsilon and ring bits from the
resolved configuration (runs.config_json); central runs give one horizontal line per epsilon.
"""
import json
import sqlite3
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def final(db):
    con = sqlite3.connect(db)
    out = []
    for rid, cfg, status in con.execute("SELECT id, config_json, status FROM runs"):
        if status != "finished":
            continue
        c = json.loads(cfg)
        p = c["privacy"]
        acc = con.execute("SELECT accuracy FROM rounds WHERE run_id = ? AND accuracy IS NOT "
                          "NULL ORDER BY round DESC LIMIT 1", (rid,)).fetchone()[0]
        out.append((p["mechanism"], p.get("target_epsilon", 0), p.get("ring_bits", 0), acc))
    con.close()
    return out


def main():
    out, dbs = sys.argv[1], sys.argv[2:]
    rows = [r for db in dbs for r in final(db)]
    fig, ax = plt.subplots(figsize=(6, 4))
    colours = {}
    for mech, marker in (("ddgauss", "o-"), ("skellam", "s--")):
        for eps in sorted({r[1] for r in rows if r[0] == mech}):
            pts = sorted((r[2], r[3]) for r in rows if r[0] == mech and r[1] == eps)
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker,
                            color=colours.get(eps), label=f"{mech}, eps {eps:g}")
            colours[eps] = line.get_color()
    for r in rows:
        if r[0] == "central":
            ax.axhline(r[3], linestyle=":", color=colours.get(r[1], "grey"),
                       label=f"central DP (Poisson q=1/30), eps {r[1]:g}")
    ax.set_xlabel("ring bits per coordinate (privacy.ring_bits)")
    ax.set_ylabel("final test accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
