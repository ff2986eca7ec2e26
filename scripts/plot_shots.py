#!/usr/bin/python3
"""plot_shots.py SWEEP.json [OUT.png] — the β–shots trade-off from `qep shots -qep_json`.

One panel per estimator: mean squared error of the shot gradient against β, one curve per shot count
N (log-log), with the deterministic bias² ‖g_β − g*‖² (dashed) and the variance (dotted); the best β of
each curve is marked. A last panel shows the best β against N next to the laws N^(-1/4) (onesided)
and N^(-1/6) (centred)."""
import json
import math
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else path.rsplit(".", 1)[0] + ".png"
    with open(path) as f:
        doc = json.load(f)
    by = defaultdict(list)
    for r in doc["rows"]:
        by[(r["estimator"], r["shots"])].append(r)
    ests = sorted({r["estimator"] for r in doc["rows"]})
    fig, axes = plt.subplots(1, len(ests) + 1, figsize=(5 * (len(ests) + 1), 4.2))
    best = defaultdict(list)
    for ax, est in zip(axes, ests):
        for n in sorted({n for e, n in by if e == est}):
            rows = sorted(by[(est, n)], key=lambda r: r["beta"])
            b = [r["beta"] for r in rows]
            line, = ax.loglog(b, [r["mse"] for r in rows], "o-", label=f"N = {n}")
            ax.loglog(b, [r["variance"] for r in rows], ":", color=line.get_color())
            i = min(range(len(rows)), key=lambda j: rows[j]["mse"])
            ax.plot([b[i]], [rows[i]["mse"]], "*", ms=14, color=line.get_color())
            best[est].append((n, b[i]))
        rows = sorted({(r["beta"], r["bias_beta"]) for r in doc["rows"] if r["estimator"] == est})
        ax.loglog([b for b, _ in rows], [bb ** 2 for _, bb in rows], "k--", label="bias² (exact)")
        ax.set_title(f"{est} ({doc['settings']} settings, {doc['repeats']} repeats)")
        ax.set_xlabel("β")
        ax.set_ylabel("MSE of the gradient (dotted: variance)")
        ax.legend(fontsize=8)
    ax = axes[-1]
    for est, pts in best.items():
        pts.sort()
        ax.loglog([n for n, _ in pts], [b for _, b in pts], "o-", label=f"{est}: best β")
        law = {"onesided": -1 / 4, "centered": -1 / 6, "fourpoint": -1 / 10}[est]
        n0, b0 = pts[0]
        ax.loglog([n for n, _ in pts], [b0 * (n / n0) ** law for n, _ in pts], "--", label=f"N^{law:.3f}")
    ax.set_xlabel("shots per setting and phase N")
    ax.set_ylabel("best β")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
