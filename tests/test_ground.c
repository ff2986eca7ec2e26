/* test_ground.c — ground states from qep's operator + SLEPc solver against independent references:
 * dense LAPACK diagonalisation (random models with Y-Y and three-body terms, n <= 9: energy, gap,
 * overlap with the exact ground vector, expectation values; a warm gap solve started from the wrong
 * excited level) and the exact free-fermion solution of
 * the transverse-field Ising chain (open and periodic, random couplings, up to n = 20).
 * Run with -qep_operator aij|shell at any rank count; every check is an absolute number. */
#include <qep/qep.h>
#include <slepcsys.h>
#include "reference.h"

#define TOL_ENERGY 1e-10 /* eigenvalues converge quadratically: residual 1e-10 gives ~1e-16 */
#define TOL_STATE  1e-8  /* state error ~ residual / gap */

static PetscErrorCode Fail(const char *what, double got, double want, double tol)
{
  PetscFunctionBegin;
  SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: got %.15g, expected %.15g (|diff| %.3e > %.1e)", what, got, want, fabs(got - want), tol);
}
#define CHECK_CLOSE(what, got, want, tol) \
  do { \
    if (!(PetscAbsReal((PetscReal)(got) - (PetscReal)(want)) <= (tol))) PetscCall(Fail(what, (double)(got), (double)(want), (double)(tol))); \
  } while (0)

/* -expect_fallback true|false: with -qep_eigensolver lanczos, whether SLEPc had to finish the solve
 * (so the Lanczos path is known to have produced the checked numbers, or the fallback to have). */
static PetscErrorCode CheckMethod(QepGroundSolver solver)
{
  PetscBool          set, expect;
  PetscInt           fallbacks;
  QepEigensolverType method;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-expect_fallback", &expect, &set));
  if (!set) PetscFunctionReturn(0);
  PetscCall(QepGroundSolverGetEigensolver(solver, &method));
  PetscCall(QepGroundSolverGetFallbackCount(solver, &fallbacks));
  PetscCheck(method == QEP_EIGENSOLVER_LANCZOS, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-expect_fallback needs -qep_eigensolver lanczos");
  PetscCheck((fallbacks > 0) == expect, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "FAIL Lanczos fallbacks: %" PetscInt_FMT ", expected %s", fallbacks, expect ? "some" : "none");
  PetscFunctionReturn(0);
}

/* The operator of sum_t coeffs[t] strings[t], of the type the options ask for; A is borrowed from op. */
static PetscErrorCode CreateOperator(PetscInt n, const QepPauliSum *H, QepOperator *op, Mat *A)
{
  PetscFunctionBegin;
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, op));
  PetscCall(QepOperatorSetStrings(*op, n, H->n, H->strings));
  PetscCall(QepOperatorSetFromOptions(*op));
  PetscCall(QepOperatorSetUp(*op));
  PetscCall(QepOperatorSetCoefficients(*op, H->coeffs));
  PetscCall(QepOperatorGetMat(*op, A));
  PetscFunctionReturn(0);
}

/* Solves sum_t coeffs[t] strings[t] with the operator type from the options; returns stats and a copy
 * of the state gathered on every rank (length 2^n, caller frees). */
static PetscErrorCode SolvePauliSum(PetscInt n, const QepPauliSum *H, PetscBool gap, QepSolveStats *st, PetscScalar **gathered, PetscReal *obs)
{
  QepOperator     op;
  QepGroundSolver solver;
  QepExpectation  plan;
  Mat             A;
  Vec             psi;

  PetscFunctionBegin;
  PetscCall(CreateOperator(n, H, &op, &A));
  PetscCall(QepGroundSolverCreate(PETSC_COMM_WORLD, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, A));
  PetscCall(QepGroundSolverSetComputeGap(solver, gap));
  PetscCall(QepGroundSolverSetFromOptions(solver));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetStats(solver, st));
  PetscCall(CheckMethod(solver));
  PetscCall(QepGroundSolverGetState(solver, &psi));
  if (obs) {
    PetscCall(QepExpectationCreate(psi, H->n, H->strings, &plan));
    PetscCall(QepExpectationCompute(plan, psi, obs));
    PetscCall(QepExpectationDestroy(&plan));
  }
  if (gathered) PetscCall(RefGatherAll(psi, gathered));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscFunctionReturn(0);
}

/* A random real Pauli sum: every qubit gets random X and Z fields (breaking symmetries), plus
 * nterms random strings of weight 1..3 with even Y count (odd ones get one Y turned into X). */
static PetscErrorCode RandomModel(PetscInt n, PetscInt nterms, PetscInt64 seed, QepPauliSum *H)
{
  PetscInt64 c = 0;

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(H));
  for (PetscInt q = 0; q < n; q++) {
    QepPauli x = {0, 0}, z = {0, 0};
    QepPauliSetFactor(&x, 'X', (int)q);
    QepPauliSetFactor(&z, 'Z', (int)q);
    PetscCall(QepPauliSumAdd(H, x, 0.2 + QepRandomUniform(seed, 1, c++)));
    PetscCall(QepPauliSumAdd(H, z, 0.5 * QepRandomUniform(seed, 1, c++) - 0.25));
  }
  for (PetscInt t = 0; t < nterms; t++) {
    QepPauli p = {0, 0};
    int      w = 1 + (int)(3 * QepRandomUniform(seed, 2, c++));
    for (int k = 0; k < w; k++) {
      int  q   = (int)(n * QepRandomUniform(seed, 3, c++));
      char ops[] = "XYZ";
      (void)QepPauliSetFactor(&p, ops[(int)(3 * QepRandomUniform(seed, 4, c++))], q); /* repeats are skipped */
    }
    if (!QepIsComplexBuild() && !QepPauliIsReal(p)) p.z &= ~(p.x & p.z & (~(p.x & p.z) + 1)); /* lowest Y -> X */
    PetscCall(QepPauliSumAdd(H, p, 2 * QepRandomUniform(seed, 5, c++) - 1));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckAgainstDense(PetscInt n, const QepPauliSum *H, const char *label)
{
  PetscScalar  *D, *psi0, *psi;
  PetscReal     E0, E1, *obs;
  QepSolveStats st;
  PetscInt      N = (PetscInt)1 << n;
  char          what[256];

  PetscFunctionBegin;
  PetscCall(RefDenseHamiltonianFromSum(n, H, &D));
  PetscCall(PetscMalloc2(N, &psi0, H->n, &obs));
  PetscCall(RefDenseGround(n, D, &E0, &E1, psi0));
  PetscCheck(E1 - E0 > 1e-4, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: test model is too close to degenerate (gap %g); pick another seed", label, (double)(E1 - E0));
  PetscCall(SolvePauliSum(n, H, PETSC_TRUE, &st, &psi, obs));
  snprintf(what, sizeof(what), "%s energy", label);
  CHECK_CLOSE(what, st.energy, E0, TOL_ENERGY * PetscMax(1, PetscAbsReal(E0)));
  snprintf(what, sizeof(what), "%s gap", label);
  CHECK_CLOSE(what, st.gap, E1 - E0, 1e-8);
  {
    PetscScalar ov = 0;
    for (PetscInt i = 0; i < N; i++) ov += PetscConj(psi0[i]) * psi[i];
    snprintf(what, sizeof(what), "%s |<psi_dense|psi>|", label);
    CHECK_CLOSE(what, PetscAbsScalar(ov), 1.0, TOL_STATE);
  }
  for (PetscInt t = 0; t < H->n; t++) {
    PetscReal ref, one = 1.0;
    char      s[128];
    PetscCall(RefDenseExpectation(n, psi0, 1, &H->strings[t], &one, &ref));
    QepPauliToString(H->strings[t], s, sizeof(s));
    snprintf(what, sizeof(what), "%s <%s>", label, s);
    CHECK_CLOSE(what, obs[t], ref, TOL_STATE);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ok %-28s n=%2" PetscInt_FMT " strings=%3" PetscInt_FMT " E0=% .12f gap=%.6f its=%" PetscInt_FMT " matvecs=%" PetscInt_FMT "\n", label, n, H->n,
                        (double)st.energy, (double)st.gap, st.iterations, st.matvecs));
  PetscCall(PetscFree(D));
  PetscCall(PetscFree(psi));
  PetscCall(PetscFree2(psi0, obs));
  PetscFunctionReturn(0);
}

/* A warm gap solve whose excited start is the wrong level: the exact second excited state u2 (as if
 * E1 and E2 had crossed since the start was saved). The solver must still report E1 - E0, the
 * Lanczos method because it mixes some of the cold start into a warm excited start. */
static PetscErrorCode CheckWarmExcitedStart(PetscInt n, const QepPauliSum *H, const char *label)
{
  const PetscInt  N = (PetscInt)1 << n;
  PetscScalar    *D, *U;
  PetscReal      *E;
  QepOperator     op;
  QepGroundSolver solver;
  QepSolveStats   st;
  Mat             A;
  Vec             start[2];
  char            what[256];

  PetscFunctionBegin;
  PetscCall(RefDenseHamiltonianFromSum(n, H, &D));
  PetscCall(PetscMalloc2(N, &E, (size_t)N * N, &U));
  PetscCall(RefDenseEigen(N, D, E, U));
  PetscCheck(E[1] - E[0] > 1e-4 && E[2] - E[1] > 1e-4, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: levels too close for the warm-start check", label);
  PetscCall(CreateOperator(n, H, &op, &A));
  PetscCall(MatCreateVecs(A, &start[0], &start[1]));
  PetscCall(RefVecSetGlobal(start[0], U));         /* u0 */
  PetscCall(RefVecSetGlobal(start[1], U + 2 * N)); /* u2, not u1 */
  PetscCall(QepGroundSolverCreate(PETSC_COMM_WORLD, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, A));
  PetscCall(QepGroundSolverSetComputeGap(solver, PETSC_TRUE));
  PetscCall(QepGroundSolverSetFromOptions(solver));
  PetscCall(QepGroundSolverSetInitialSpace(solver, 2, start));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetStats(solver, &st));
  snprintf(what, sizeof(what), "%s warm gap from u2", label);
  CHECK_CLOSE(what, st.gap, E[1] - E[0], 1e-8);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ok %-28s warm excited start u2: gap=%.10f (E2-E0 %.6f) matvecs=%" PetscInt_FMT "\n", label, (double)st.gap, (double)(E[2] - E[0]), st.matvecs));
  PetscCall(VecDestroy(&start[0]));
  PetscCall(VecDestroy(&start[1]));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(PetscFree2(E, U));
  PetscCall(PetscFree(D));
  PetscFunctionReturn(0);
}

/* Y-Y couplings, X-Y-Z three-body terms and a four-body string on 7 qubits. */
static PetscErrorCode HandModel(QepPauliSum *H)
{
  const char *terms[] = {"Y0 Y1", "Y1 Y2", "X2 X3", "Z3 Z4", "X0 Z1 X2", "Y2 Z3 Y4", "Z4 X5 Z6", "Y5 Y6", "X0 X3 Z5 Z6", "X1", "X4", "Z0", "Z6"};
  const double c[]     = {0.7, -0.45, 0.9, -1.1, 0.35, -0.6, 0.25, 0.8, 0.15, 0.5, 0.65, 0.2, -0.3};

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(H));
  for (size_t t = 0; t < sizeof(c) / sizeof(c[0]); t++) {
    QepPauli    p = {0, 0};
    const char *s = terms[t];
    while (*s) {
      char op = *s++;
      int  q  = (int)strtol(s, (char **)&s, 10);
      PetscCheck(QepPauliSetFactor(&p, op, q) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "bad hand-written term");
      while (*s == ' ') s++;
    }
    PetscCall(QepPauliSumAdd(H, p, c[t]));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckTFIM(PetscInt n, PetscBool periodic, PetscInt64 seed)
{
  PetscReal    *J, *h, E0;
  QepPauliSum   H;
  QepSolveStats st;
  char          what[128];

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n, &J, n, &h));
  for (PetscInt i = 0; i < n; i++) {
    J[i] = 0.5 + QepRandomUniform(seed, 10, i);
    h[i] = 0.5 + QepRandomUniform(seed, 11, i);
  }
  PetscCall(RefTFIMFreeFermion(n, J, h, periodic, &E0));
  PetscCall(QepPauliSumInit(&H));
  PetscCall(RefTFIMPauliSum(n, J, h, periodic, &H));
  PetscCall(SolvePauliSum(n, &H, PETSC_FALSE, &st, NULL, NULL));
  snprintf(what, sizeof(what), "TFIM %s n=%d energy", periodic ? "ring" : "open chain", (int)n);
  CHECK_CLOSE(what, st.energy, E0, TOL_ENERGY * PetscAbsReal(E0));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ok TFIM %-10s n=%2" PetscInt_FMT " E0=% .12f (free fermions % .12f) its=%" PetscInt_FMT " matvecs=%" PetscInt_FMT "\n",
                        periodic ? "periodic" : "open", n, (double)st.energy, (double)E0, st.iterations, st.matvecs));
  PetscCall(QepPauliSumFree(&H));
  PetscCall(PetscFree2(J, h));
  PetscFunctionReturn(0);
}

/* The hand-written model and random models n = 3, 5, 7, 9 against dense diagonalisation. */
static PetscErrorCode CheckDenseModels(void)
{
  QepPauliSum H;

  PetscFunctionBegin;
  PetscCall(HandModel(&H));
  PetscCall(CheckAgainstDense(7, &H, "Y-Y + three-body (hand)"));
  PetscCall(QepPauliSumFree(&H));
  for (PetscInt n = 3; n <= 9; n += 2) {
    char label[64];
    PetscCall(RandomModel(n, 3 * n, 100 + n, &H));
    snprintf(label, sizeof(label), "random model seed %d", (int)(100 + n));
    PetscCall(CheckAgainstDense(n, &H, label));
    if (n >= 5) PetscCall(CheckWarmExcitedStart(n, &H, label));
    PetscCall(QepPauliSumFree(&H));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    nmin = 8, nmax = 20;
  PetscBool   dense = PETSC_TRUE;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "ground-state references test"));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-tfim_nmin", &nmin, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-tfim_nmax", &nmax, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-dense", &dense, NULL));
  if (dense) PetscCall(CheckDenseModels());
  for (PetscInt n = nmin; n <= nmax; n += 4) {
    PetscCall(CheckTFIM(n, PETSC_FALSE, 7 + n));
    PetscCall(CheckTFIM(n, PETSC_TRUE, 7 + n));
  }
  PetscCall(SlepcFinalize());
  return 0;
}
