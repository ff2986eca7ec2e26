/* bench_expectation.c — times QepExpectationCompute (and, with -transition, ComputeTransition) on a
 * random state, for the strings of a model file or of a transverse-field Ising chain.
 *
 *   bench_expectation [-model_file FILE] [-reps 2000] [-batches 7] [-transition]
 *   mpiexec -n 2 bench_expectation -n 20 -reps 20
 * String sets:
 *   -model_file FILE  the model's Hamiltonian strings plus every output string (merged), the set the
 *                     training loop evaluates once per ground-state solve;
 *   -n N              (without -model_file) the open TFIM chain: Z_q Z_{q+1} (n-1) and X_q (n);
 *   neither           bench/models/train10.model beside this source file.
 * Output, one parseable line (rank 0):
 *   expectation n=10 strings=50 groups=11 ranks=1 reps=2000 us_per_call=... mean_us_per_call=... source=...
 * us_per_call is the fastest batch's time per call (each batch timed on its slowest rank: the robust
 * figure on a shared machine), mean_us_per_call the mean over all batches. */
#include <qep/qep.h>
#include <slepcsys.h>
#include <libgen.h>

static const char help[] = "Times QepExpectationCompute.\n"
                           "  -model_file FILE | -n N (TFIM chain), -reps <calls per batch>, -batches <7>, -transition\n";

#define BENCH_MAX_PATH 4096
#define BENCH_SEED     2027 /* the random state's seed */

/* The default model file: bench/models/train10.model next to this source (absolute under CMake). */
static void DefaultModelPath(char path[], size_t len)
{
  char here[BENCH_MAX_PATH];
  PetscStrncpy(here, __FILE__, sizeof(here));
  snprintf(path, len, "%s/models/train10.model", dirname(here));
}

/* Hamiltonian strings of the model, then its output strings, distinct, into *sum. */
static PetscErrorCode ModelStrings(const char path[], PetscInt *n, QepPauliSum *sum)
{
  QepModel        model;
  PetscInt        ns, nout;
  const QepPauli *s;

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &model));
  PetscCall(QepModelReadFile(model, path));
  PetscCall(QepModelFinalize(model));
  PetscCall(QepModelGetNumQubits(model, n));
  PetscCall(QepModelGetStrings(model, &ns, &s));
  for (PetscInt t = 0; t < ns; t++) PetscCall(QepPauliSumAdd(sum, s[t], 0.0));
  PetscCall(QepModelGetNumOutputs(model, &nout));
  for (PetscInt o = 0; o < nout; o++) {
    const char        *name;
    const QepPauliSum *out;
    PetscCall(QepModelGetOutput(model, o, &name, &out));
    for (PetscInt t = 0; t < out->n; t++) PetscCall(QepPauliSumAdd(sum, out->strings[t], 0.0));
  }
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

/* The open TFIM chain's strings: Z_q Z_{q+1} and X_q. */
static PetscErrorCode ChainStrings(PetscInt n, QepPauliSum *sum)
{
  PetscFunctionBegin;
  for (PetscInt q = 0; q + 1 < n; q++) {
    QepPauli p = {0, 0};
    QepPauliSetFactor(&p, 'Z', (int)q);
    QepPauliSetFactor(&p, 'Z', (int)q + 1);
    PetscCall(QepPauliSumAdd(sum, p, 0.0));
  }
  for (PetscInt q = 0; q < n; q++) {
    QepPauli p = {0, 0};
    QepPauliSetFactor(&p, 'X', (int)q);
    PetscCall(QepPauliSumAdd(sum, p, 0.0));
  }
  PetscFunctionReturn(0);
}

/* psi_r uniform in [-1, 1) (real and imaginary parts) from the global row: the same state at any rank count. */
static PetscErrorCode FillState(Vec psi)
{
  PetscScalar *a;
  PetscInt     rstart, rend;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(psi, &rstart, &rend));
  PetscCall(VecGetArray(psi, &a));
  for (PetscInt r = rstart; r < rend; r++) {
    a[r - rstart] = 2.0 * QepRandomUniform(BENCH_SEED, 0, r) - 1.0;
#if defined(PETSC_USE_COMPLEX)
    a[r - rstart] += PETSC_i * (2.0 * QepRandomUniform(BENCH_SEED, 1, r) - 1.0);
#endif
  }
  PetscCall(VecRestoreArray(psi, &a));
  PetscFunctionReturn(0);
}

static PetscErrorCode CallOnce(QepExpectation plan, PetscBool transition, Vec phi, Vec psi, PetscReal values[])
{
  PetscFunctionBegin;
  if (transition) PetscCall(QepExpectationComputeTransition(plan, phi, psi, values));
  else PetscCall(QepExpectationCompute(plan, psi, values));
  PetscFunctionReturn(0);
}

/* Per-call seconds: the fastest of `batches` batches of `reps` calls, and the mean. */
static PetscErrorCode TimeCalls(QepExpectation plan, PetscBool transition, Vec phi, Vec psi, PetscReal values[], PetscInt reps, PetscInt batches, double *best, double *mean)
{
  double total = 0.0;

  PetscFunctionBegin;
  PetscCall(CallOnce(plan, transition, phi, psi, values)); /* warm-up: first touch, scatter set-up */
  *best = 1e300;
  for (PetscInt b = 0; b < batches; b++) {
    PetscLogDouble t0, t1;
    double         local, slowest;
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    for (PetscInt r = 0; r < reps; r++) PetscCall(CallOnce(plan, transition, phi, psi, values));
    PetscCall(PetscTime(&t1));
    local = (t1 - t0) / (double)reps;
    PetscCallMPI(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    *best = PetscMin(*best, slowest);
    total += slowest;
  }
  *mean = total / (double)batches;
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char           path[BENCH_MAX_PATH];
  PetscInt       n = 20, reps = 0, batches = 7, N;
  PetscBool      has_file, has_n, transition = PETSC_FALSE;
  PetscMPIInt    size;
  QepPauliSum    sum;
  QepExpectation plan;
  Vec            psi, phi;
  PetscReal     *values;
  double         best = 0.0, mean = 0.0, checksum = 0.0;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  DefaultModelPath(path, sizeof(path));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "bench_expectation options", "");
  PetscCall(PetscOptionsString("-model_file", "model file whose strings are evaluated", "", path, path, sizeof(path), &has_file));
  PetscCall(PetscOptionsInt("-n", "qubits of the TFIM chain (without -model_file)", "", n, &n, &has_n));
  PetscCall(PetscOptionsInt("-reps", "calls per timed batch (0: about 0.1 s per batch)", "", reps, &reps, NULL));
  PetscCall(PetscOptionsInt("-batches", "timed batches; the fastest is reported", "", batches, &batches, NULL));
  PetscCall(PetscOptionsBool("-transition", "time ComputeTransition(psi, psi) instead", "", transition, &transition, NULL));
  PetscOptionsEnd();
  PetscCheck(reps >= 0 && batches >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-reps must be >= 0 and -batches >= 1");

  PetscCall(QepPauliSumInit(&sum));
  if (has_n && !has_file) {
    PetscCheck(n >= 2 && n <= 34, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-n %" PetscInt_FMT " is out of range; allowed 2..34", n);
    PetscCall(ChainStrings(n, &sum));
  } else PetscCall(ModelStrings(path, &n, &sum));
  N = (PetscInt)1 << n;
  if (!reps) reps = PetscMax(1, (PetscInt)(2e7 / (double)N / (double)sum.n)); /* ~0.1 s at ~1 ns per amplitude and string */

  PetscCall(VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, N, &psi));
  PetscCall(FillState(psi));
  PetscCall(VecDuplicate(psi, &phi));
  PetscCall(VecCopy(psi, phi));
  PetscCall(PetscMalloc1(sum.n, &values));
  PetscCall(QepExpectationCreate(psi, sum.n, sum.strings, &plan));
  PetscCall(TimeCalls(plan, transition, phi, psi, values, reps, batches, &best, &mean));
  for (PetscInt t = 0; t < sum.n; t++) checksum += values[t];
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "expectation%s n=%" PetscInt_FMT " strings=%" PetscInt_FMT " ranks=%d reps=%" PetscInt_FMT " us_per_call=%.3f mean_us_per_call=%.3f checksum=%.12g source=%s\n",
                        transition ? "_transition" : "", n, sum.n, size, reps, best * 1e6, mean * 1e6, checksum, has_n && !has_file ? "tfim_chain" : path));
  PetscCall(QepExpectationDestroy(&plan));
  PetscCall(PetscFree(values));
  PetscCall(VecDestroy(&phi));
  PetscCall(VecDestroy(&psi));
  PetscCall(QepPauliSumFree(&sum));
  PetscCall(SlepcFinalize());
  return 0;
}
