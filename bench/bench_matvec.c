/* bench_matvec.c — times MatMult of qep's Hamiltonian operator (shell or aij) and, with -stream, the
 * machine's memory bandwidth (a STREAM-like triad on the same number of doubles per rank).
 *
 *   mpiexec -n 2 bench_matvec -n 24 -reps 20 -operator shell -model tfim_uniform [-stream] [-aligned] [-qep_shell_* ...]
 *   bench_matvec -model_file bench/models/train10.model [-inputs 0.3,-0.5,0.7] -batch 1000 -reps 50
 * (-aligned places v and y on 64-byte boundaries instead of PETSc's 16.)
 * -batch B: every measurement times B consecutive MatMults (one barrier per measurement, so calls of
 * ~1 us are not swamped by the barrier) and reps counts measurements; without it, tiny problems are
 * batched automatically (reps then counts MatMults).
 * -model_file FILE: the strings of a model file (read through the public model API) with their
 * coefficients at the parameters' initial values and inputs x (-inputs; default 0.3, -0.5, 0.7
 * repeated over the model's inputs; "-inputs ''" for all zero); -n and -model are then ignored.
 *
 * Models (open chains, built here without the model module):
 *   tfim_uniform  -sum Z_q Z_{q+1} - 0.7 sum X_q        (n-1 ZZ + n X strings)
 *   tfim_random   same strings, coefficients uniform in [-1.5, -0.5] (seeded, rank-independent)
 *   xxz           sum X_q X_{q+1} + Y_q Y_{q+1} + 0.5 Z_q Z_{q+1} + 0.1 sum X_q
 *   zz            -sum Z_q Z_{q+1} only (diagonal: the streaming floor of one pass)
 * Output, one parseable line per measurement (rank 0):
 *   matvec operator=shell model=tfim_uniform n=24 ranks=1 reps=20 batch=1 ns_per_state=... gbytes_per_s=... seconds=... us_per_call=...
 *   stream n=24 ranks=1 triad_gbytes_per_s=...
 * seconds is the fastest MatMult (each timed on the slowest rank; robust on a shared machine),
 * mean_seconds the average; ns_per_state = seconds / 2^n * 1e9;
 * gbytes_per_s counts the compulsory traffic only (read v, write y: 16 bytes per state). */
#include <qep/qep.h>
#include <slepcsys.h>

#define BENCH_MAX_INPUTS 64 /* -inputs entries read */

static const char help[] = "Times MatMult of the qep operator.\n"
                           "  -n <24> qubits, -reps <20>, -batch <0: automatic>, -operator shell|aij, -model tfim_uniform|tfim_random|xxz|zz,\n"
                           "  -model_file FILE [-inputs x0,x1,...], -stream, -aligned\n";

typedef enum { MODEL_TFIM_UNIFORM, MODEL_TFIM_RANDOM, MODEL_XXZ, MODEL_ZZ } BenchModel;
static const char *const BenchModels[] = {"tfim_uniform", "tfim_random", "xxz", "zz", "BenchModel", "MODEL_", NULL};

static double MatSizeHint(Mat A)
{
  PetscInt N = 0;
  MatGetSize(A, &N, NULL);
  return (double)N;
}

static QepPauli Two(char a, int p, char b, int q)
{
  QepPauli s = {0, 0};
  QepPauliSetFactor(&s, a, p);
  if (b) QepPauliSetFactor(&s, b, q);
  return s;
}

/* Strings and coefficients of the model; arrays have room for 4n entries. */
static void BuildModel(BenchModel model, int n, PetscInt *ns, QepPauli s[], PetscReal c[])
{
  *ns = 0;
  for (int q = 0; q + 1 < n; q++) {
    if (model == MODEL_XXZ) {
      s[*ns] = Two('X', q, 'X', q + 1), c[(*ns)++] = 1.0;
      s[*ns] = Two('Y', q, 'Y', q + 1), c[(*ns)++] = 1.0;
      s[*ns] = Two('Z', q, 'Z', q + 1), c[(*ns)++] = 0.5;
    } else {
      s[*ns] = Two('Z', q, 'Z', q + 1);
      c[*ns] = model == MODEL_TFIM_RANDOM ? -0.5 - QepRandomUniform(11, 0, q) : -1.0;
      (*ns)++;
    }
  }
  for (int q = 0; q < n && model != MODEL_ZZ; q++) {
    s[*ns] = Two('X', q, 0, 0);
    c[*ns] = model == MODEL_XXZ ? 0.1 : (model == MODEL_TFIM_RANDOM ? -0.5 - QepRandomUniform(11, 1, q) : -0.7);
    (*ns)++;
  }
}

/* Strings and coefficients of a model file at its parameters' initial values and inputs x (the nx
 * values repeated cyclically over the model's inputs; nx = 0: all zero). Caller frees *s, *c. */
static PetscErrorCode ReadModelFile(const char path[], const PetscReal x[], PetscInt nx, PetscInt *n, PetscInt *ns, QepPauli **s, PetscReal **c)
{
  QepModel        model;
  const QepPauli *strings;
  PetscReal      *inputs;
  PetscInt        ninputs;

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &model));
  PetscCall(QepModelReadFile(model, path));
  PetscCall(QepModelGetNumQubits(model, n));
  PetscCall(QepModelGetStrings(model, ns, &strings));
  PetscCall(QepModelGetNumInputs(model, &ninputs));
  PetscCall(PetscMalloc1(ninputs + 1, &inputs));
  for (PetscInt i = 0; i < ninputs; i++) inputs[i] = nx > 0 ? x[i % nx] : 0.0;
  PetscCall(PetscMalloc2(*ns, s, *ns, c));
  PetscCall(PetscArraycpy(*s, strings, *ns));
  PetscCall(QepModelComputeCoefficients(model, NULL, inputs, *c));
  PetscCall(PetscFree(inputs));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

/* Time of one MatMult after one warm-up: the mean and the fastest measurement (the fastest is the
 * robust figure on a shared machine), each measurement timed on the slowest rank and divided by its
 * batch. *batch > 0: reps measurements of *batch calls; *batch == 0: reps calls in automatic
 * batches (tiny problems: a sample well above the timer resolution), *batch set to the one used. */
static PetscErrorCode TimeMatMult(Mat A, Vec v, Vec y, PetscInt reps, PetscInt *batchp, double *mean, double *best)
{
  PetscInt batch = *batchp > 0 ? *batchp : 1, calls = *batchp > 0 ? reps * *batchp : reps;
  double   total = 0.0;

  PetscFunctionBegin;
  PetscCall(MatMult(A, v, y));
  *best = 1e300;
  if (*batchp <= 0)
    while (batch < reps && batch * (double)MatSizeHint(A) < 1e6) batch *= 2;
  *batchp = batch;
  for (PetscInt r = 0; r < calls; r += batch) {
    PetscLogDouble t0, t1;
    double         local, slowest;
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    for (PetscInt b = 0; b < batch; b++) PetscCall(MatMult(A, v, y));
    PetscCall(PetscTime(&t1));
    local = (t1 - t0) / (double)batch;
    PetscCallMPI(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    *best = PetscMin(*best, slowest);
    total += slowest * (double)batch;
  }
  *mean = total / (double)(((calls + batch - 1) / batch) * batch);
  PetscFunctionReturn(0);
}

/* a = b + s c on every rank at once over the local length; aggregate GB/s (3 streams counted). */
static PetscErrorCode StreamTriad(PetscInt nlocal, PetscInt reps, double *gbs)
{
  double        *a, *b, *c, best = 1e300;
  PetscLogDouble t0, t1;

  PetscFunctionBegin;
  PetscCall(PetscMalloc3(nlocal, &a, nlocal, &b, nlocal, &c));
  for (PetscInt i = 0; i < nlocal; i++) a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
  for (PetscInt r = 0; r < reps + 1; r++) {
    double local, slowest;
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    for (PetscInt i = 0; i < nlocal; i++) a[i] = b[i] + 1.5 * c[i];
    PetscCall(PetscTime(&t1));
    local = t1 - t0;
    PetscCallMPI(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    if (r > 0) best = PetscMin(best, slowest);
  }
  {
    PetscMPIInt size;
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    *gbs = 3.0 * 8.0 * (double)nlocal * size / best / 1e9 + 0.0 * a[nlocal / 2];
  }
  PetscCall(PetscFree3(a, b, c));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt        n = 24, reps = 20, batch = 0, ns, nx = BENCH_MAX_INPUTS;
  PetscReal       x[BENCH_MAX_INPUTS] = {0.3, -0.5, 0.7};
  char            file[PETSC_MAX_PATH_LEN] = "", label[PETSC_MAX_PATH_LEN];
  PetscBool       fromfile = PETSC_FALSE, xset = PETSC_FALSE;
  BenchModel      model = MODEL_TFIM_UNIFORM;
  QepOperatorType type  = QEP_OPERATOR_SHELL;
  PetscBool       stream = PETSC_FALSE, aligned = PETSC_FALSE;
  void           *storage = NULL;
  PetscMPIInt     size;
  QepPauli       *s;
  PetscReal      *c;
  QepOperator     op;
  Mat             A;
  Vec             v, y;
  double          seconds = 0.0, mean = 0.0, states;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "bench_matvec options", "");
  PetscCall(PetscOptionsInt("-n", "qubits", "", n, &n, NULL));
  PetscCall(PetscOptionsInt("-reps", "measurements (with -batch) or timed MatMults", "", reps, &reps, NULL));
  PetscCall(PetscOptionsInt("-batch", "MatMults per measurement (0: automatic for tiny problems)", "", batch, &batch, NULL));
  PetscCall(PetscOptionsString("-model_file", "time the strings of this model file instead of -model", "", file, file, sizeof(file), &fromfile));
  PetscCall(PetscOptionsRealArray("-inputs", "inputs x of the model file, repeated cyclically (default 0.3,-0.5,0.7)", "", x, &nx, &xset));
  PetscCall(PetscOptionsEnum("-operator", "aij or shell", "", QepOperatorTypes, (PetscEnum)type, (PetscEnum *)&type, NULL));
  PetscCall(PetscOptionsEnum("-model", "model", "", BenchModels, (PetscEnum)model, (PetscEnum *)&model, NULL));
  PetscCall(PetscOptionsBool("-stream", "also measure the triad bandwidth", "", stream, &stream, NULL));
  PetscCall(PetscOptionsBool("-aligned", "put the vectors on 64-byte boundaries", "", aligned, &aligned, NULL));
  PetscOptionsEnd();
  PetscCheck(n >= 2 && n <= 40 && reps >= 1 && batch >= 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-n must be in [2, 40], -reps >= 1 and -batch >= 0");
  if (!xset) nx = 3; /* the default 0.3, -0.5, 0.7 */

  if (fromfile) {
    PetscCall(ReadModelFile(file, x, nx, &n, &ns, &s, &c));
    PetscCall(PetscStrncpy(label, file, sizeof(label)));
  } else {
    PetscCall(PetscMalloc2(4 * n, &s, 4 * n, &c));
    BuildModel(model, (int)n, &ns, s, c);
    PetscCall(PetscStrncpy(label, BenchModels[model], sizeof(label)));
  }
  states = ldexp(1.0, (int)n);
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, ns, s));
  PetscCall(QepOperatorSetType(op, type));
  PetscCall(QepOperatorSetUp(op));
  PetscCall(QepOperatorSetCoefficients(op, c));
  PetscCall(QepOperatorGetMat(op, &A));
  if (aligned) { /* PETSc aligns to PETSC_MEMALIGN only: place both vectors on cache-line boundaries */
    PetscInt nlocal;
    PetscCall(MatGetLocalSize(A, &nlocal, NULL));
    PetscCheck(posix_memalign(&storage, 64, sizeof(PetscScalar) * (size_t)nlocal * 2 + 64) == 0, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory");
    {
      PetscScalar *base = (PetscScalar *)(((uintptr_t)storage + 63) & ~(uintptr_t)63);
      PetscCall(VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, nlocal, PETSC_DECIDE, base, &v));
      PetscCall(VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, nlocal, PETSC_DECIDE, base + nlocal, &y));
    }
  } else {
    PetscCall(QepOperatorCreateVec(op, &v));
    PetscCall(VecDuplicate(v, &y));
  }
  PetscCall(VecSetRandom(v, NULL));
  PetscCall(TimeMatMult(A, v, y, reps, &batch, &mean, &seconds));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "matvec operator=%s model=%s n=%" PetscInt_FMT " ranks=%d reps=%" PetscInt_FMT " batch=%" PetscInt_FMT " ns_per_state=%.4f gbytes_per_s=%.2f seconds=%.9f mean_seconds=%.9f us_per_call=%.4f\n",
                        QepOperatorTypes[type], label, n, size, reps, batch, seconds / states * 1e9, 16.0 * states / seconds / 1e9, seconds, mean, seconds * 1e6));
  if (stream) {
    double   gbs = 0.0;
    PetscInt nlocal;
    PetscCall(VecGetLocalSize(v, &nlocal));
    PetscCall(StreamTriad(nlocal, 5, &gbs));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "stream n=%" PetscInt_FMT " ranks=%d triad_gbytes_per_s=%.2f\n", n, size, gbs));
  }
  PetscCall(VecDestroy(&v));
  PetscCall(VecDestroy(&y));
  free(storage);
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(PetscFree2(s, c));
  PetscCall(SlepcFinalize());
  return 0;
}
