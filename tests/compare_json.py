#!/usr/bin/env python3
"""compare_json.py TOL FILE... — checks qep JSON summaries of the same problem produced by different
rank counts / operator types: every file has the documented keys, and energy, gap and every
observable agree across files to TOL (absolute). Exits 1 with a message on the first difference."""
import json
import sys

REQUIRED = ["command", "n", "ranks", "operator", "energy", "residual", "iterations", "matvecs", "observables", "time_s"]


def main():
    tol = float(sys.argv[1])
    docs = []
    for path in sys.argv[2:]:
        with open(path) as f:
            doc = json.load(f)
        missing = [k for k in REQUIRED if k not in doc]
        if missing:
            sys.exit(f"{path}: missing keys {missing}")
        n = doc["n"]
        for q in range(n):
            for p in ("Z", "X"):
                if f"{p}{q}" not in doc["observables"]:
                    sys.exit(f"{path}: observables lack {p}{q}")
        for k in ("setup", "solve"):
            if k not in doc["time_s"]:
                sys.exit(f"{path}: time_s lacks {k}")
        docs.append((path, doc))
    ref_path, ref = docs[0]
    worst = 0.0
    for path, doc in docs[1:]:
        pairs = [("energy", doc["energy"], ref["energy"])]
        if "gap" in ref:
            pairs.append(("gap", doc["gap"], ref["gap"]))
        pairs += [(f"<{k}>", doc["observables"][k], v) for k, v in ref["observables"].items()]
        for name, a, b in pairs:
            worst = max(worst, abs(a - b))
            if abs(a - b) > tol:
                sys.exit(f"{path} vs {ref_path}: {name} differs: {a!r} vs {b!r} (|diff| {abs(a-b):.3e} > {tol})")
    print(f"{len(docs)} summaries agree; largest difference {worst:.3e} <= {tol}")


if __name__ == "__main__":
    main()
