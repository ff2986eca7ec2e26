#!/usr/bin/env python3
"""check_training.py SUMMARY.json LOG.csv FACTOR [MIN_ACCURACY] — a short training run learned: the
final test loss is at most the mean batch loss of the first 5 steps divided by FACTOR, and (when
given) the final test accuracy reaches MIN_ACCURACY."""
import csv
import json
import sys


def main():
    summary, log, factor = sys.argv[1], sys.argv[2], float(sys.argv[3])
    min_acc = float(sys.argv[4]) if len(sys.argv) > 4 else None
    with open(summary) as f:
        doc = json.load(f)
    with open(log, newline="") as f:
        first = [float(r["batch_loss"]) for r in csv.DictReader(f)][:5]
    start = sum(first) / len(first)
    final = doc["final"]["loss"]
    print(f"initial batch loss {start:.6f}, final test loss {final:.6f} (ratio {start / max(final, 1e-300):.1f}, required >= {factor})")
    if final > start / factor:
        sys.exit("the loss did not decrease by the required factor")
    if min_acc is not None:
        acc = doc["final"].get("accuracy")
        print(f"final test accuracy {acc} (required >= {min_acc})")
        if acc is None or acc < min_acc:
            sys.exit("the accuracy target was not reached")


if __name__ == "__main__":
    main()
