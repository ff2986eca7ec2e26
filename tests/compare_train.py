#!/usr/bin/env python3
"""compare_train.py TOL A.json B.json [C.json ...] [--log LOG.csv STEPS] — qep train summaries agree:
every parameter and the final losses within TOL (0 means bit-identical). With --log, the CSV log must
hold exactly one row for each step 1..STEPS (a resumed run must not duplicate or lose steps)."""
import csv
import json
import sys


def main():
    args = sys.argv[1:]
    log = None
    if "--log" in args:
        i = args.index("--log")
        log = (args[i + 1], int(args[i + 2]))
        del args[i:i + 3]
    tol = float(args[0])
    docs = []
    for path in args[1:]:
        with open(path) as f:
            docs.append((path, json.load(f)))
    ref_path, ref = docs[0]
    worst = 0.0
    for path, doc in docs[1:]:
        for key in ("steps",):
            if doc[key] != ref[key]:
                sys.exit(f"{path}: {key} = {doc[key]} but {ref_path} has {ref[key]}")
        pairs = [(f"parameter {k}", doc["parameters"][k], v) for k, v in ref["parameters"].items()]
        pairs += [(f"final {k}", doc["final"][k], v) for k, v in ref["final"].items()]
        for name, a, b in pairs:
            d = abs(a - b)
            worst = max(worst, d)
            if d > tol or (tol == 0 and a != b):
                sys.exit(f"{path} vs {ref_path}: {name}: {a!r} vs {b!r} (|diff| {d:.3e} > {tol})")
    print(f"{len(docs)} training summaries agree; largest difference {worst:.3e} (tolerance {tol})")
    if log:
        path, steps = log
        with open(path, newline="") as f:
            rows = [int(r["step"]) for r in csv.DictReader(f)]
        if rows != list(range(1, steps + 1)):
            sys.exit(f"{path}: steps in the log are {rows[:5]}...{rows[-5:]} ({len(rows)} rows); expected 1..{steps} once each")
        print(f"{path}: one row for each step 1..{steps}")


if __name__ == "__main__":
    main()
