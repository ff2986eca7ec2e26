#!/usr/bin/env python3
"""bench_ground.py -- ground-state benchmark of `qep ground` against scipy.sparse + ARPACK.

Owns: the open transverse-field Ising chain benchmark (bench/README.md documents it).
  H = -J sum_i Z_i Z_{i+1} - b sum_i Z_i - Gamma sum_i X_i   (open chain, n qubits)
For every n it runs `qep ground` under mpiexec for each (ranks, operator) and, in the same run,
the same Hamiltonian as a scipy CSR matrix with eigsh(k=1, which='SA', tol); it records wall time
end to end, setup/solve times, matvecs, peak memory and energies, prints a table and writes CSV
(and a small JSON with the machine state) to bench/results/.

Invariant: every ratio in a table or CSV row comes from measurements of the same invocation, and
every energy is checked: against scipy (|dE| < 1e-8) and, when b == 0, against the exact free-
fermion energy (singular values of the bidiagonal n x n matrix with Gamma on the diagonal and J
above it). A mismatch is printed as a WARNING and flagged in the CSV, never hidden.

Needs python3 with numpy for the exact energy and scipy for the scipy column; without them the
corresponding columns are empty and a message says why (use Debian's /usr/bin/python3).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(BENCH_DIR)
MIB = 1024.0 * 1024.0
ENERGY_AGREEMENT = 1e-8          # |E_qep - E_ref| above this is reported as a mismatch
SCIPY_BYTES_PER_NNZ = 12.0       # float64 value + int32 column index of the CSR matrix
SCIPY_ARPACK_VECTORS = 24        # ncv = 20 Lanczos vectors for k = 1, plus workspace and diagonal
SCIPY_NNZ_PER_SECOND_GUESS = 1.5e8  # used only before any scipy case has been timed
SCIPY_MATVECS_GUESS = 150           # ditto (eigsh needs ~100-200 for this chain at tol 1e-10)
# Single node: shared-memory transports only (no probing of UCX/OFI/openib), which halves OpenMPI's
# start-up; a value already in the environment wins.
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_pml": os.environ.get("OMPI_MCA_pml", "ob1"), "OMPI_MCA_btl": os.environ.get("OMPI_MCA_btl", "self,vader")}


# ---------------------------------------------------------------------------------------------
# Helpers run as child processes: the scipy solve and the per-rank memory wrapper.
# ---------------------------------------------------------------------------------------------

def build_tfim_csr(n, J, gamma, b):
    """The open TFIM chain as a CSR matrix, built with vectorised bit operations.

    Row s holds the diagonal first and then the n spin flips s ^ (1 << i); every row has exactly
    n + 1 entries, so indptr is an arithmetic progression and no COO-to-CSR sort is needed.
    Qubit i is bit i of the basis index; Z_i = +1 when the bit is 0."""
    import numpy as np
    import scipy.sparse as sp

    dim = 1 << n
    states = np.arange(dim, dtype=np.int32)
    z = [1 - 2 * ((states >> i) & 1).astype(np.int8) for i in range(n)]
    diag = np.zeros(dim)
    for i in range(n - 1):
        diag -= J * (z[i] * z[i + 1])
    if b != 0.0:
        for i in range(n):
            diag -= b * z[i]
    del z
    indices = np.empty((dim, n + 1), dtype=np.int32)
    indices[:, 0] = states
    for i in range(n):
        np.bitwise_xor(states, np.int32(1 << i), out=indices[:, i + 1])
    data = np.full((dim, n + 1), -gamma)
    data[:, 0] = diag
    indptr = np.arange(0, (n + 1) * dim + 1, n + 1, dtype=np.int64 if (n + 1) * dim >= 2**31 else np.int32)
    return sp.csr_matrix((data.ravel(), indices.ravel(), indptr), shape=(dim, dim))


def scipy_worker(args):
    """Child process: build H, solve with eigsh, print one JSON line with times and peak RSS."""
    t0 = time.perf_counter()
    import numpy as np
    import scipy.sparse.linalg as sla

    t1 = time.perf_counter()
    H = build_tfim_csr(args.n, args.J, args.gamma, args.b)
    t2 = time.perf_counter()
    # Same default initial guess policy as a user would leave it: ARPACK's own random vector.
    matvecs, matvec_s = [0], [0.0]

    def matvec(v):
        t = time.perf_counter()
        w = H @ v
        matvecs[0] += 1
        matvec_s[0] += time.perf_counter() - t
        return w

    # eigsh wraps a sparse H in a LinearOperator anyway; one more Python call per matvec is noise.
    # The matvec time separates ARPACK's own (orthogonalisation) work from the CSR products.
    op = sla.LinearOperator(H.shape, matvec=matvec, dtype=H.dtype)
    w = sla.eigsh(op, k=1, which="SA", tol=args.tol, return_eigenvectors=False)
    t3 = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"energy": float(np.min(w)), "import_s": t1 - t0, "build_s": t2 - t1, "solve_s": t3 - t2,
                      "total_s": t3 - t1, "peak_kib": peak_kib, "nnz": int(H.nnz),
                      "matvecs": matvecs[0], "matvec_s": matvec_s[0]}))


def rss_wrapper(argv):
    """Fallback when /usr/bin/time is absent: run argv, write its peak RSS (KiB) to $RSS_PREFIX.<rank>."""
    proc = subprocess.run(argv)
    rank = os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0"))
    with open(f"{os.environ['QEP_BENCH_RSS_PREFIX']}.{rank}", "w") as f:
        f.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
    sys.exit(proc.returncode)


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------

def exact_energy(n, J, gamma):
    """Free-fermion ground energy of the open chain at b = 0 (None without numpy)."""
    try:
        import numpy as np
    except ImportError:
        return None
    M = np.diag(np.full(n, float(gamma))) + np.diag(np.full(n - 1, float(J)), 1)
    return -float(np.linalg.svd(M, compute_uv=False).sum())


def have_scipy():
    try:
        import numpy  # noqa: F401
        import scipy.sparse.linalg  # noqa: F401
        return True, ""
    except ImportError as e:
        return False, str(e)


def mem_available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class ScipyBudget:
    """Predicts scipy's time and memory for size n from the last measured size (or a guess)."""

    def __init__(self, max_seconds, max_mem_gib):
        self.max_seconds = max_seconds
        self.max_bytes = max_mem_gib * 1024**3
        self.seconds_per_nnz_matvec = 1.0 / SCIPY_NNZ_PER_SECOND_GUESS
        self.matvecs = SCIPY_MATVECS_GUESS
        self.build_seconds_per_nnz = 2e-8

    @staticmethod
    def nnz(n):
        return (n + 1) * float(1 << n)

    def predict(self, n):
        dim = float(1 << n)
        mem = self.nnz(n) * SCIPY_BYTES_PER_NNZ + SCIPY_ARPACK_VECTORS * dim * 8
        secs = self.nnz(n) * (self.build_seconds_per_nnz + self.matvecs * self.seconds_per_nnz_matvec)
        return secs, mem

    def learn(self, n, result):
        if result.get("matvecs"):
            self.matvecs = max(self.matvecs, result["matvecs"] * 1.2)  # Lanczos needs a few more as n grows
        self.build_seconds_per_nnz = result["build_s"] / self.nnz(n)
        self.seconds_per_nnz_matvec = result["solve_s"] / (self.nnz(n) * self.matvecs)

    def refusal(self, n):
        secs, mem = self.predict(n)
        avail = mem_available_bytes()
        if secs > self.max_seconds:
            return f"predicted {secs:.0f} s > --scipy-max-seconds {self.max_seconds:g}"
        if mem > self.max_bytes:
            return f"predicted {mem / 1024**3:.1f} GiB > --scipy-max-mem {self.max_bytes / 1024**3:g} GiB"
        if avail is not None and mem > 0.8 * avail:
            return f"predicted {mem / 1024**3:.1f} GiB > 80% of MemAvailable {avail / 1024**3:.1f} GiB"
        return None


# ---------------------------------------------------------------------------------------------
# Running the two solvers
# ---------------------------------------------------------------------------------------------

def run_killable(cmd, timeout, env=None, capture=True):
    """Runs cmd in its own process group; on timeout kills that group only. Returns (rc, out, err, wall)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err, time.perf_counter() - t0
    return proc.returncode, out, err, time.perf_counter() - t0


def run_scipy(args, n):
    cmd = [sys.executable, os.path.abspath(__file__), "--scipy-worker", "--n", str(n), "--J", repr(args.J),
           "--gamma", repr(args.gamma), "--b", repr(args.b), "--tol", repr(args.tol)]
    rc, out, err, wall = run_killable(cmd, args.timeout)
    if rc != 0:
        why = "timeout" if rc is None else f"exit {rc}: {(err or '').strip().splitlines()[-1:] }"
        return {"error": why}
    res = json.loads(out.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def qep_command(args, n, ranks, operator, json_path, extra=()):
    model = ["-qep_model", "tfim", "-qep_lattice", "chain", "-qep_n", str(n), "-qep_J", repr(args.J),
             "-qep_gamma", repr(args.gamma), "-qep_b", repr(args.b)]
    base, _, method = operator.partition("-")  # e.g. shell-lanczos: -qep_operator shell -qep_eigensolver lanczos
    if method not in ("", "lanczos", "eps"):
        raise SystemExit(f"unknown eigensolver suffix in operator {operator!r} (allowed: -lanczos, -eps)")
    solver = ["-qep_eigensolver", method] if method else []
    qep = [args.qep, "ground", *model, "-qep_operator", base, *solver, "-eps_tol", repr(args.tol), "-qep_json", json_path, *extra]
    mpi = [args.mpiexec, "-n", str(ranks)]
    if ranks > (os.cpu_count() or 1):
        mpi.append("--oversubscribe")
    return mpi, qep


def memory_wrapper(prefix):
    """argv prefix that makes every rank write its peak RSS in KiB to <prefix>.<rank>."""
    if shutil.which("time") and os.path.exists("/usr/bin/time"):
        return ["sh", "-c", 'exec /usr/bin/time -f "%M" -o "$0.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" "$@"', prefix], "time -f %M"
    return [sys.executable, os.path.abspath(__file__), "--rss-wrapper", "--"], "getrusage(RUSAGE_CHILDREN)"


def read_rss(prefix, ranks):
    kib = []
    for r in range(ranks):
        try:
            with open(f"{prefix}.{r}") as f:
                lines = [ln for ln in f.read().split() if ln.isdigit()]
                kib.append(int(lines[-1]))
        except (OSError, IndexError):
            return None, None
    return sum(kib) / 1024.0, max(kib) / 1024.0


def run_qep_once(args, n, ranks, operator, workdir):
    json_path = os.path.join(workdir, f"qep_{n}_{ranks}_{operator}.json")
    prefix = os.path.join(workdir, f"rss_{n}_{ranks}_{operator}")
    for stale in [json_path] + [f"{prefix}.{r}" for r in range(ranks)]:
        if os.path.exists(stale):
            os.remove(stale)
    mpi, qep = qep_command(args, n, ranks, operator, json_path)
    wrap, _ = memory_wrapper(prefix)
    env = dict(os.environ, **MPI_ENV, QEP_BENCH_RSS_PREFIX=prefix)
    rc, out, err, wall = run_killable(mpi + wrap + qep, args.timeout, env=env)
    if rc != 0 or not os.path.exists(json_path):
        msg = "timeout" if rc is None else f"exit {rc}"
        tail = [ln for ln in (err or "").splitlines() + (out or "").splitlines() if "[0]PETSC ERROR:" in ln and "---" not in ln]
        return {"error": msg + (": " + tail[1].split("ERROR:", 1)[1].strip() if len(tail) > 1 else "")}
    with open(json_path) as f:
        js = json.load(f)
    peak_sum, peak_max = read_rss(prefix, ranks)
    return {"wall_s": wall, "setup_s": js["time_s"]["setup"], "solve_s": js["time_s"]["solve"], "total_s": js["time_s"]["total"],
            "matvecs": js["matvecs"], "iterations": js["iterations"], "energy": js["energy"], "residual": js["residual"],
            "peak_mib": peak_sum, "peak_rank_mib": peak_max, "ranks_reported": js["ranks"]}


def best_of(runs):
    """Repeats are summarised by the run with the smallest wall time (least disturbed by other jobs)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["wall_s"]))
    best["wall_spread_s"] = max(r["wall_s"] for r in ok) - best["wall_s"]
    return best


# ---------------------------------------------------------------------------------------------
# -log_view summary
# ---------------------------------------------------------------------------------------------

EVENT_LINE = re.compile(r"^(\S+)\s+(\d+)\s+\S+\s+([0-9.eE+-]+)\s+\S+\s+[0-9.eE+-]+\s+\S+(?:\s+\S+){3}\s+(\d+)\s+")


def log_view(args, n, ranks, operator, top, workdir):
    """Runs one case with -log_view and returns (header lines, top events by max time)."""
    log_path = os.path.join(workdir, "log_view.txt")
    mpi, qep = qep_command(args, n, ranks, operator, os.path.join(workdir, "log_view.json"), extra=["-log_view", f":{log_path}"])
    rc, out, err, wall = run_killable(mpi + qep, args.timeout, env=dict(os.environ, **MPI_ENV))
    if rc != 0 or not os.path.exists(log_path):
        return None, f"log_view run failed ({'timeout' if rc is None else 'exit ' + str(rc)})"
    with open(log_path) as f:
        text = f.read()
    total = re.search(r"^Time \(sec\):\s+([0-9.eE+-]+)", text, re.M)
    events = []
    in_events = False
    for line in text.splitlines():
        if line.startswith("--- Event Stage"):
            in_events = True
            continue
        if in_events and line.startswith("----"):
            break
        m = EVENT_LINE.match(line) if in_events else None
        if m:
            events.append((m.group(1), int(m.group(2)), float(m.group(3)), int(m.group(4))))
    events.sort(key=lambda e: -e[2])
    return {"total_s": float(total.group(1)) if total else None, "events": events[:top], "wall_s": wall, "path": log_path}, None


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

COLUMNS = ["n", "ranks", "operator", "qep_wall_s", "qep_total_s", "qep_setup_s", "qep_solve_s", "matvecs", "iterations",
           "peak_mib", "peak_rank_mib", "energy", "residual", "scipy_wall_s", "scipy_total_s", "scipy_build_s",
           "scipy_solve_s", "scipy_matvec_s", "scipy_peak_mib", "scipy_energy", "scipy_matvecs", "ratio_wall", "ratio_total", "dE_scipy",
           "dE_exact", "energy_ok", "repeat", "wall_spread_s", "load1", "note"]


def fmt(v, spec):
    if v is None or v == "":
        width = re.match(r"\d*", spec).group(0)
        return "-".rjust(int(width) if width else 1)
    return format(v, spec)


def print_table(rows):
    head = (f"{'n':>3} {'rk':>2} {'op':>5} | {'qep wall':>9} {'qep total':>9} {'solve':>8} {'matvecs':>7} {'peak MiB':>9}"
            f" | {'scipy wall':>10} {'scipy total':>11} {'scipy MiB':>9} | {'wall x':>7} {'total x':>7} | {'dE':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if r["qep_total_s"] == "":
            print(f"{r['n']:>3} {r['ranks']:>2} {r['operator']:>13} | qep failed: {r['note']}")
            continue
        dE = r["dE_scipy"] if r["dE_scipy"] != "" else r["dE_exact"]
        print(f"{r['n']:>3} {r['ranks']:>2} {r['operator']:>13} | {fmt(r['qep_wall_s'], '9.2f')} {fmt(r['qep_total_s'], '9.2f')}"
              f" {fmt(r['qep_solve_s'], '8.2f')} {fmt(r['matvecs'], '7d')} {fmt(r['peak_mib'], '9.0f')}"
              f" | {fmt(r['scipy_wall_s'], '10.2f')} {fmt(r['scipy_total_s'], '11.2f')} {fmt(r['scipy_peak_mib'], '9.0f')}"
              f" | {fmt(r['ratio_wall'], '7.2f')} {fmt(r['ratio_total'], '7.2f')} | {fmt(dE, '8.1e')}")


def make_row(args, n, ranks, operator, q, s, exact):
    row = {c: "" for c in COLUMNS}
    row.update(n=n, ranks=ranks, operator=operator, repeat=args.repeat, load1=round(os.getloadavg()[0], 2))
    notes = []
    if "error" in q:
        row["note"] = q["error"]
        return row
    for k in ["wall_s", "total_s", "setup_s", "solve_s"]:
        row["qep_" + k] = round(q[k], 4)
    row.update(matvecs=q["matvecs"], iterations=q["iterations"], energy=q["energy"], residual=q["residual"],
               wall_spread_s=round(q["wall_spread_s"], 3))
    if q["peak_mib"] is not None:
        row.update(peak_mib=round(q["peak_mib"], 1), peak_rank_mib=round(q["peak_rank_mib"], 1))
    ok = True
    if s and "error" not in s:
        row.update(scipy_wall_s=round(s["wall_s"], 4), scipy_total_s=round(s["total_s"], 4), scipy_build_s=round(s["build_s"], 4),
                   scipy_solve_s=round(s["solve_s"], 4), scipy_matvec_s=round(s["matvec_s"], 4), scipy_peak_mib=round(s["peak_kib"] / 1024.0, 1), scipy_energy=s["energy"],
                   scipy_matvecs=s["matvecs"] if s["matvecs"] is not None else "")
        row["ratio_wall"] = round(s["wall_s"] / q["wall_s"], 3)
        row["ratio_total"] = round(s["total_s"] / q["total_s"], 3)
        row["dE_scipy"] = abs(q["energy"] - s["energy"])
        ok = ok and row["dE_scipy"] < ENERGY_AGREEMENT
    elif s:
        notes.append("scipy " + s["error"])
    if exact is not None:
        row["dE_exact"] = abs(q["energy"] - exact)
        ok = ok and row["dE_exact"] < ENERGY_AGREEMENT
    row["energy_ok"] = int(ok)
    if not ok:
        print(f"WARNING: n={n} ranks={ranks} {operator}: energy {q['energy']:.15g} disagrees with a reference "
              f"(|dE| scipy {row['dE_scipy']}, exact {row['dE_exact']})")
    row["note"] = "; ".join(notes)
    return row


def machine_info(args, scipy_status):
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(), "cpus": os.cpu_count(),
            "cpu": "", "mem_total_gib": None, "loadavg_start": os.getloadavg(), "python": sys.version.split()[0],
            "argv": sys.argv, "qep": args.qep, "scipy": scipy_status}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            info["cpu"] = m.group(1) if m else ""
        with open("/proc/meminfo") as f:
            info["mem_total_gib"] = round(int(f.readline().split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        import numpy
        import scipy
        info["numpy"], info["scipy_version"] = numpy.__version__, scipy.__version__
    except ImportError:
        pass
    return info


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Ground-state benchmark: qep ground vs scipy eigsh on the open TFIM chain",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--nmin", type=int, default=16, help="smallest chain length")
    p.add_argument("--nmax", type=int, default=24, help="largest chain length")
    p.add_argument("--step", type=int, default=2, help="step in n")
    p.add_argument("--ranks", default="1,2", help="comma-separated MPI rank counts for qep")
    p.add_argument("--operators", default="aij,shell", help="comma-separated -qep_operator types, optionally with an eigensolver suffix: shell-lanczos runs -qep_eigensolver lanczos")
    p.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest wall time is kept")
    p.add_argument("--timeout", type=float, default=900, help="seconds before one run is killed")
    p.add_argument("--J", type=float, default=1.0, help="ZZ coupling")
    p.add_argument("--gamma", type=float, default=1.0, help="transverse field")
    p.add_argument("--b", type=float, default=0.0, help="longitudinal field (0 enables the exact free-fermion check)")
    p.add_argument("--tol", type=float, default=1e-10, help="eigensolver tolerance for both qep (-eps_tol) and eigsh")
    p.add_argument("--qep", default=None, help="path to the qep executable (default: newest build*/src/qep)")
    p.add_argument("--mpiexec", default="mpiexec", help="MPI launcher")
    p.add_argument("--no-scipy", action="store_true", help="skip the scipy column")
    p.add_argument("--scipy-max-seconds", type=float, default=300, help="skip scipy when its predicted time exceeds this")
    p.add_argument("--scipy-max-mem", type=float, default=10, help="skip scipy when its predicted memory exceeds this (GiB)")
    p.add_argument("--log-view", type=int, default=0, metavar="N", help="also run n=N, 1 rank, aij with -log_view and print the top events")
    p.add_argument("--log-view-operator", default="aij", help="operator of the -log_view run")
    p.add_argument("--log-view-ranks", type=int, default=1, help="ranks of the -log_view run")
    p.add_argument("--keep-log", action="store_true", help="copy the full -log_view text next to the CSV")
    p.add_argument("--top", type=int, default=12, help="number of -log_view events to print")
    p.add_argument("--outdir", default=os.path.join(BENCH_DIR, "results"), help="where the CSV and JSON go")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    # internal modes
    p.add_argument("--scipy-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def default_qep():
    """build/src/qep, else the newest build*/src/qep (pass --qep to be sure which build is measured)."""
    main_build = os.path.join(ROOT_DIR, "build", "src", "qep")
    if os.access(main_build, os.X_OK):
        return main_build
    cands = [os.path.join(ROOT_DIR, d, "src", "qep") for d in os.listdir(ROOT_DIR) if d.startswith("build")]
    cands = [c for c in cands if os.access(c, os.X_OK)]
    return max(cands, key=os.path.getmtime) if cands else None


def main(argv):
    if argv[:1] == ["--rss-wrapper"]:
        rss_wrapper(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    args = parse_args(argv)
    if args.scipy_worker:
        scipy_worker(args)
        return 0
    args.qep = args.qep or default_qep()
    if not args.qep or not os.access(args.qep, os.X_OK):
        sys.exit("bench_ground: no qep executable found; build it and pass --qep build-dir/src/qep")
    ranks_list = [int(r) for r in args.ranks.split(",") if r]
    operators = [o for o in args.operators.split(",") if o]
    sizes = list(range(args.nmin, args.nmax + 1, args.step))

    scipy_ok, why = (False, "disabled by --no-scipy") if args.no_scipy else have_scipy()
    if not scipy_ok:
        print(f"bench_ground: scipy column skipped ({why}); try /usr/bin/python3 (Debian's python3-scipy)")
    _, mem_method = memory_wrapper("x")
    info = machine_info(args, "ok" if scipy_ok else why)
    print(f"bench_ground: qep {args.qep}; {info['cpus']} cpus ({info['cpu']}), {info['mem_total_gib']} GiB, "
          f"load {info['loadavg_start'][0]:.2f}; peak memory = sum over ranks of per-rank max RSS ({mem_method})")
    budget = ScipyBudget(args.scipy_max_seconds, args.scipy_max_mem)
    rows = []
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.outdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qep_bench_") as work:
        for n in sizes:
            exact = exact_energy(n, args.J, args.gamma) if args.b == 0.0 else None
            s = None
            if scipy_ok:
                refusal = budget.refusal(n)
                if refusal:
                    print(f"  n={n}: scipy skipped: {refusal}")
                    s = {"error": "skipped: " + refusal}
                else:
                    runs = [run_scipy(args, n) for _ in range(args.repeat)]
                    s = best_of(runs)
                    if "error" in s:
                        print(f"  n={n}: scipy failed: {s['error']}")
                    else:
                        budget.learn(n, s)
                        print(f"  n={n}: scipy build {s['build_s']:.2f} s, eigsh {s['solve_s']:.2f} s ({s['matvecs']} matvecs, {s['matvec_s']:.2f} s), peak {s['peak_kib'] / 1024:.0f} MiB, E = {s['energy']:.12f}")
            for ranks in ranks_list:
                for op in operators:
                    q = best_of([run_qep_once(args, n, ranks, op, work) for _ in range(args.repeat)])
                    row = make_row(args, n, ranks, op, q, s, exact)
                    rows.append(row)
                    if "error" in q:
                        print(f"  n={n} ranks={ranks} {op}: qep failed: {q['error']}")
                    else:
                        print(f"  n={n} ranks={ranks} {op}: wall {q['wall_s']:.2f} s (setup {q['setup_s']:.2f}, solve {q['solve_s']:.2f}),"
                              f" {q['matvecs']} matvecs, peak {fmt(q['peak_mib'], '.0f')} MiB, E = {q['energy']:.12f}")
        lv = None
        if args.log_view:
            lv, err = log_view(args, args.log_view, args.log_view_ranks, args.log_view_operator, args.top, work)
            if err:
                print("bench_ground: " + err)
            elif args.keep_log:
                dst = os.path.join(args.outdir, f"ground_{stamp}{args.tag}_log_view_n{args.log_view}.txt")
                shutil.copy(lv["path"], dst)
                lv["path"] = dst
            else:
                lv["path"] = "not kept; --keep-log copies it to --outdir"

    print()
    print_table(rows)
    print("wall = process start to exit (mpiexec / python incl. imports); total = qep's own timer (model, operator,")
    print("solve, observables) vs scipy construction + eigsh; x = scipy / qep from this run; peak = sum over ranks")
    if lv:
        print(f"\n-log_view, n={args.log_view}, {args.log_view_ranks} rank(s), {args.log_view_operator}: "
              f"total {lv['total_s']} s (full log: {lv['path']})")
        print(f"  {'event':<22} {'count':>8} {'max time s':>11} {'%T':>4}")
        for name, count, t, pct in lv["events"]:
            print(f"  {name:<22} {count:>8} {t:>11.3f} {pct:>4}")

    base = os.path.join(args.outdir, f"ground_{stamp}{args.tag}")
    with open(base + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    info["loadavg_end"] = os.getloadavg()
    info["peak_memory"] = f"sum over ranks of per-rank max RSS via {mem_method}"
    if lv:
        info["log_view"] = {"n": args.log_view, "ranks": args.log_view_ranks, "operator": args.log_view_operator,
                            "total_s": lv["total_s"], "top_events": lv["events"]}
    with open(base + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(f"\nwrote {base}.csv and {base}.json")
    bad = [r for r in rows if r["energy_ok"] == 0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
