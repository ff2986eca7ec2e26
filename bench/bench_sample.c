/* bench_sample.c — cost of shot measurements (qep/measure.h) next to one Hamiltonian MatMult.
 *
 *   mpiexec -n 2 bench_sample -n 24 -shots 1000000 -reps 5 [-operators aij,shell|none]
 *
 * State: a random normalised vector (values from QepRandomUniform by global index, so identical at
 * any rank count; the ground-state cost is not what is measured). Timed, each the fastest of -reps
 * calls after one warm-up, each call timed on the slowest rank:
 *   sample    QepSampleDistribution of -shots shots from |psi|² (reported as shots per second);
 *   rotate    QepRotatedProbabilities into the all-X basis and into a mixed basis (X on even, Y on
 *             odd qubits: complex work arrays in the real build);
 *   matmult   one MatMult of the open TFIM chain -Σ Z_q Z_{q+1} - 0.7 Σ X_q built through the public
 *             QepOperator API, aij and (for a power-of-two rank count) shell.
 * Output, one parseable line per measurement (rank 0), then the ratios rotate/matmult:
 *   sample n=24 ranks=2 shots=1000000 seconds=... shots_per_s=...
 *   rotate basis=X n=24 ranks=2 seconds=...
 *   matmult operator=aij n=24 ranks=2 seconds=...
 *   ratio rotate_X/matmult_aij=... */
#include <qep/qep.h>
#include <qep/measure.h>
#include <slepcsys.h>

static const char help[] = "Times shot sampling and basis rotation against one TFIM MatMult.\n"
                           "  -n <20> qubits, -shots <1000000>, -reps <5>, -operators aij,shell (or none)\n";

typedef PetscErrorCode (*TimedCall)(void *ctx);

/* Fastest of reps calls (after one warm-up), each timed on the slowest rank. */
static PetscErrorCode TimeBest(TimedCall f, void *ctx, PetscInt reps, double *best)
{
  PetscFunctionBegin;
  PetscCall(f(ctx));
  *best = 1e300;
  for (PetscInt r = 0; r < reps; r++) {
    PetscLogDouble t0, t1;
    double         local, slowest;
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    PetscCall(f(ctx));
    PetscCall(PetscTime(&t1));
    local = t1 - t0;
    PetscCallMPI(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    *best = PetscMin(*best, slowest);
  }
  PetscFunctionReturn(0);
}

typedef struct {
  Vec        psi, prob, y;
  QepPauli   basis;
  PetscInt64 shots, stream;
  Mat        A;
} Bench;

static PetscErrorCode CallSample(void *ctx)
{
  Bench     *b = (Bench *)ctx;
  PetscInt64 nlocal, *shots;

  PetscFunctionBegin;
  PetscCall(QepSampleDistribution(b->prob, b->shots, 1, b->stream++, &nlocal, &shots));
  PetscCall(PetscFree(shots));
  PetscFunctionReturn(0);
}

static PetscErrorCode CallRotate(void *ctx)
{
  Bench *b = (Bench *)ctx;

  PetscFunctionBegin;
  PetscCall(QepRotatedProbabilities(b->psi, b->basis, b->prob));
  PetscFunctionReturn(0);
}

static PetscErrorCode CallMatMult(void *ctx)
{
  Bench *b = (Bench *)ctx;

  PetscFunctionBegin;
  PetscCall(MatMult(b->A, b->psi, b->y));
  PetscFunctionReturn(0);
}

/* Random normalised psi, identical at any rank count. */
static PetscErrorCode RandomState(Vec psi)
{
  PetscScalar *a;
  PetscInt     rstart, rend;
  PetscReal    norm;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(psi, &rstart, &rend));
  PetscCall(VecGetArray(psi, &a));
  for (PetscInt s = rstart; s < rend; s++) a[s - rstart] = QepRandomUniform(7, 0, s) - 0.5;
  PetscCall(VecRestoreArray(psi, &a));
  PetscCall(VecNormalize(psi, &norm));
  PetscFunctionReturn(0);
}

/* Time of one MatMult of the TFIM chain with the given operator type. */
static PetscErrorCode TimeTFIM(PetscInt n, QepOperatorType type, Bench *b, PetscInt reps, double *seconds)
{
  QepOperator op;
  QepPauli   *s;
  PetscReal  *c;
  PetscInt    ns = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(2 * n, &s, 2 * n, &c));
  for (int q = 0; q < n; q++) {
    QepPauli p = {0, 0};
    if (q + 1 < n) {
      (void)QepPauliSetFactor(&p, 'Z', q);
      (void)QepPauliSetFactor(&p, 'Z', q + 1);
      s[ns] = p, c[ns++] = -1.0;
      p = (QepPauli){0, 0};
    }
    (void)QepPauliSetFactor(&p, 'X', q);
    s[ns] = p, c[ns++] = -0.7;
  }
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, ns, s));
  PetscCall(QepOperatorSetType(op, type));
  PetscCall(QepOperatorSetUp(op));
  PetscCall(QepOperatorSetCoefficients(op, c));
  PetscCall(QepOperatorGetMat(op, &b->A));
  PetscCall(TimeBest(CallMatMult, b, reps, seconds));
  b->A = NULL;
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(PetscFree2(s, c));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    n = 20, reps = 5, nops = 2;
  PetscReal   shots_r = 1e6;
  PetscMPIInt size;
  Bench       b = {0};
  double      t_sample, t_rot[2], t_mult[2] = {-1, -1};
  char       *ops[2]  = {NULL, NULL};
  PetscBool   has_ops;
  const char *bname[2] = {"X", "XY"};

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "bench_sample options", "");
  PetscCall(PetscOptionsInt("-n", "qubits", "", n, &n, NULL));
  PetscCall(PetscOptionsReal("-shots", "shots per sampling call", "", shots_r, &shots_r, NULL));
  PetscCall(PetscOptionsInt("-reps", "timed calls per measurement (the fastest is reported)", "", reps, &reps, NULL));
  PetscCall(PetscOptionsStringArray("-operators", "operator types for the MatMult reference (aij, shell)", "", ops, &nops, &has_ops));
  PetscOptionsEnd();
  PetscCheck(n >= 2 && n <= QepMaxQubits() && reps >= 1 && shots_r >= 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-n must be in [2, %" PetscInt_FMT "], -reps >= 1, -shots >= 0", QepMaxQubits());
  if (!has_ops) {
    PetscCall(PetscStrallocpy("aij", &ops[0]));
    PetscCall(PetscStrallocpy("shell", &ops[1]));
    nops = 2;
  }
  b.shots = (PetscInt64)shots_r;

  PetscCall(VecCreate(PETSC_COMM_WORLD, &b.psi));
  PetscCall(VecSetSizes(b.psi, PETSC_DECIDE, (PetscInt)1 << n));
  PetscCall(VecSetFromOptions(b.psi));
  PetscCall(VecDuplicate(b.psi, &b.prob));
  PetscCall(VecDuplicate(b.psi, &b.y));
  PetscCall(RandomState(b.psi));

  PetscCall(QepRotatedProbabilities(b.psi, (QepPauli){0, 0}, b.prob)); /* |psi|² */
  PetscCall(TimeBest(CallSample, &b, reps, &t_sample));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "sample n=%" PetscInt_FMT " ranks=%d shots=%" PetscInt64_FMT " seconds=%.6f shots_per_s=%.4g\n", n, size, b.shots, t_sample,
                        t_sample > 0 ? (double)b.shots / t_sample : 0.0));
  for (int k = 0; k < 2; k++) {
    b.basis = (QepPauli){0, 0};
    for (int q = 0; q < n; q++) (void)QepPauliSetFactor(&b.basis, (k == 1 && (q & 1)) ? 'Y' : 'X', q);
    PetscCall(TimeBest(CallRotate, &b, reps, &t_rot[k]));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rotate basis=%s n=%" PetscInt_FMT " ranks=%d seconds=%.6f ns_per_state=%.3f\n", bname[k], n, size, t_rot[k], t_rot[k] / ldexp(1.0, (int)n) * 1e9));
  }
  for (PetscInt o = 0; o < nops; o++) {
    PetscBool shell, aij, none;
    PetscCall(PetscStrcmp(ops[o], "shell", &shell));
    PetscCall(PetscStrcmp(ops[o], "aij", &aij));
    PetscCall(PetscStrcmp(ops[o], "none", &none));
    PetscCheck(shell || aij || none, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-operators: unknown type '%s'; use aij, shell or none", ops[o]);
    if (none) continue;
    if (shell && (size & (size - 1))) {
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "matmult operator=shell skipped: %d ranks is not a power of two\n", size));
      continue;
    }
    PetscCall(TimeTFIM(n, shell ? QEP_OPERATOR_SHELL : QEP_OPERATOR_AIJ, &b, reps, &t_mult[shell]));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "matmult operator=%s n=%" PetscInt_FMT " ranks=%d seconds=%.6f\n", ops[o], n, size, t_mult[shell]));
  }
  for (int m = 0; m < 2; m++) {
    if (t_mult[m] <= 0) continue;
    for (int k = 0; k < 2; k++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ratio rotate_%s/matmult_%s=%.3f\n", bname[k], m ? "shell" : "aij", t_rot[k] / t_mult[m]));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ratio sample/matmult_%s=%.3f\n", m ? "shell" : "aij", t_sample / t_mult[m]));
  }
  for (PetscInt o = 0; o < nops; o++) PetscCall(PetscFree(ops[o]));
  PetscCall(VecDestroy(&b.psi));
  PetscCall(VecDestroy(&b.prob));
  PetscCall(VecDestroy(&b.y));
  PetscCall(SlepcFinalize());
  return 0;
}
