#!/usr/bin/env python3
"""check_shots.py MODE FILE... — checks `qep shots` sweeps (JSON).

  scaling SWEEP.json [SETTINGS]   the documented scaling laws, with loose statistical bounds:
      * `settings` equals SETTINGS when given (a transverse-field Ising model needs exactly 2);
      * the deterministic estimator bias ‖g_β − g*‖ grows like β (onesided) and β² (centered):
        log-log slope 1 ± 0.3 and 2 ± 0.4;
      * variance × N × β² is the same for every row of an estimator within a factor 1.6
        (variance ∝ 1/(N β²));
      * the shot mean converges to the shot-free estimator: |bias − bias_beta| ≤ 4 sqrt(variance/R) + 1e-12;
      * the per-gradient standard errors predict the variance over repeats within ±35 %.
  optimum SWEEP.json              the best β (argmin of the measured MSE over the β grid, refined by a
      parabola in log β) shrinks with N like N^(-1/4) (onesided) and N^(-1/6) (centered): the fitted
      exponent between the smallest and the largest N must be within ±0.15 of the law.
  same A.json B.json              two sweeps (different rank counts) have the same rows (shot statistics
      1e-10 relative; the shot-free bias_beta 1e-6, solver rounding divided by β).
"""
import json
import math
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        doc = json.load(f)
    for key in ("settings", "rows"):
        if key not in doc:
            sys.exit(f"{path}: missing key {key}")
    for row in doc["rows"]:
        for key in ("beta", "shots", "estimator", "bias", "variance", "mse"):
            if key not in row:
                sys.exit(f"{path}: a row lacks {key}")
    return doc


def slope(xs, ys):
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def scaling(doc, settings):
    fails = []
    if settings is not None and doc["settings"] != settings:
        fails.append(f"settings = {doc['settings']}, expected {settings}")
    R = doc["repeats"]
    by_est = defaultdict(list)
    for r in doc["rows"]:
        by_est[r["estimator"]].append(r)
    for est, rows in by_est.items():
        law = {"onesided": 1, "centered": 2, "fourpoint": 4}[est]
        betas = sorted({r["beta"] for r in rows})
        bb = [next(r["bias_beta"] for r in rows if r["beta"] == b) for b in betas]
        s = slope(betas, bb)
        tol = 0.3 if law == 1 else 0.4
        print(f"{est}: bias(beta) slope {s:.3f} (law {law})")
        if abs(s - law) > tol:
            fails.append(f"{est}: bias slope {s:.3f} not within {law} ± {tol}")
        scaled = [r["variance"] * r["shots"] * r["beta"] ** 2 for r in rows]
        ratio = max(scaled) / min(scaled)
        print(f"{est}: variance*N*beta^2 spread {ratio:.3f}")
        if ratio > 1.6:
            fails.append(f"{est}: variance*N*beta^2 varies by {ratio:.2f} (> 1.6)")
        for r in rows:
            bound = 4 * math.sqrt(r["variance"] / R) + 1e-12
            if abs(r["bias"] - r["bias_beta"]) > bound:
                fails.append(f"{est} beta {r['beta']} N {r['shots']}: |bias - bias_beta| = {abs(r['bias'] - r['bias_beta']):.3e} > {bound:.3e}")
            q = r["predicted_variance"] / r["variance"]
            if not 0.65 <= q <= 1.35:
                fails.append(f"{est} beta {r['beta']} N {r['shots']}: predicted/measured variance {q:.3f} outside [0.65, 1.35]")
    return fails


def optimum(doc):
    fails = []
    by = defaultdict(list)
    for r in doc["rows"]:
        by[(r["estimator"], r["shots"])].append(r)
    for est in sorted({r["estimator"] for r in doc["rows"]}):
        ns = sorted({n for e, n in by if e == est})
        lo, hi = ns[0], ns[-1]
        b_lo, b_hi = vertex(by[(est, lo)]), vertex(by[(est, hi)])
        expo = math.log(b_hi / b_lo) / math.log(hi / lo)
        law = {"onesided": -1 / 4, "centered": -1 / 6, "fourpoint": -1 / 10}[est]
        print(f"{est}: best beta {b_lo:.4g} at N={lo}, {b_hi:.4g} at N={hi}: exponent {expo:.3f} (law {law:.3f})")
        if abs(expo - law) > 0.15:
            fails.append(f"{est}: best-beta exponent {expo:.3f} not within {law:.3f} ± 0.15")
    return fails


def vertex(rows):
    """β minimising the measured MSE: the grid minimum refined by the vertex of a parabola in (log β, log mse)."""
    rows = sorted(rows, key=lambda r: r["beta"])
    i = min(range(len(rows)), key=lambda j: rows[j]["mse"])
    if i == 0 or i == len(rows) - 1:
        return rows[i]["beta"]
    x = [math.log(rows[j]["beta"]) for j in (i - 1, i, i + 1)]
    y = [math.log(rows[j]["mse"]) for j in (i - 1, i, i + 1)]
    # y = a x² + b x + c through three points
    den = (x[0] - x[1]) * (x[0] - x[2]) * (x[1] - x[2])
    a = (x[2] * (y[1] - y[0]) + x[1] * (y[0] - y[2]) + x[0] * (y[2] - y[1])) / den
    b = (x[2] ** 2 * (y[0] - y[1]) + x[1] ** 2 * (y[2] - y[0]) + x[0] ** 2 * (y[1] - y[2])) / den
    if a <= 0:
        return rows[i]["beta"]
    xv = min(max(-b / (2 * a), x[0]), x[2])
    return math.exp(xv)


def same(a, b):
    fails = []
    if len(a["rows"]) != len(b["rows"]):
        return ["different numbers of rows"]
    for ra, rb in zip(a["rows"], b["rows"]):
        for key in ("beta", "shots", "bias", "variance", "mse", "bias_beta"):
            x, y = ra[key], rb[key]
            # bias_beta is the shot-free estimator: solver rounding (~1e-12) divided by β
            tol = 1e-6 if key == "bias_beta" else 1e-10
            if isinstance(x, str) or isinstance(y, str):
                if x != y:
                    fails.append(f"{key}: {x} != {y}")
            elif abs(x - y) > tol * max(abs(x), abs(y), 1e-300):
                fails.append(f"{ra['estimator']} beta {ra['beta']} N {ra['shots']}: {key} {x} != {y}")
    return fails


def main():
    mode = sys.argv[1]
    if mode == "scaling":
        fails = scaling(load(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    elif mode == "optimum":
        fails = optimum(load(sys.argv[2]))
    elif mode == "same":
        fails = same(load(sys.argv[2]), load(sys.argv[3]))
    else:
        sys.exit(f"unknown mode {mode}")
    for f in fails:
        print("FAIL:", f)
    if fails:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
