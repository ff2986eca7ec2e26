#!/usr/bin/env python3
"""plot_training.py LOG.csv [OUT.png] — training curve of a `qep train` CSV log: batch loss per step,
test loss and (for classification) test accuracy at every evaluation. Needs matplotlib (Debian:
python3-matplotlib); without it, says so and exits 0 so scripts that call it keep going."""
import csv
import sys


def read_log(path):
    steps, loss, tsteps, tloss, tacc = [], [], [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                s = int(row["step"])
                steps.append(s)
                loss.append(float(row["batch_loss"]))
                if row.get("test_loss"):
                    tsteps.append(s)
                    tloss.append(float(row["test_loss"]))
                    tacc.append(float(row["test_accuracy"]))
            except (KeyError, ValueError):
                continue  # a torn last line of a killed run
    return steps, loss, tsteps, tloss, tacc


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: plot_training.py LOG.csv [OUT.png]")
    log = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else log.rsplit(".", 1)[0] + ".png"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_training.py: matplotlib is not installed (apt-get install python3-matplotlib); no plot written")
        return
    steps, loss, tsteps, tloss, tacc = read_log(log)
    if not steps:
        sys.exit(f"plot_training.py: no data rows in {log}")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, lw=0.8, alpha=0.6, label="batch loss")
    if tsteps:
        ax.plot(tsteps, tloss, "o-", ms=3, label="test loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if tacc and min(tacc) >= 0:
        ax2 = ax.twinx()
        ax2.plot(tsteps, tacc, "s--", ms=3, color="tab:green", label="test accuracy")
        ax2.set_ylabel("accuracy")
        ax2.set_ylim(-0.02, 1.02)
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title("qep train: " + log)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"plot_training.py: wrote {out}")


if __name__ == "__main__":
    main()
