/* test_gradient.c — QEP gradients (qep/gradient.h) against independent references.
 *
 * The model comes from the options (-qep_model ... or -qep_model_file FILE) and must have outputs;
 * the inputs x and targets y are drawn with QepRandomUniform, so every rank and rank count sees the
 * same example. For each loss in -losses (observable, mse, xent) the checks in -checks run:
 *   dense  the linear-response reference against a dense sum over all eigenstates (LAPACK, n <= 10):
 *          dL/dθ_k = 2 Re Σ_{m>0} <0|C'|m><m|A_k|0> / (E_0 - E_m), and the loss itself;
 *   qep    centred QEP at a small β against linear response, norm-wise relative;
 *   fd     central finite differences of the loss against linear response;
 *   loss   the loss of QepGradientCompute against one computed here from our own operator, ground
 *          solver and QepExpectation (no gradient code involved), and QepGradientComputeLoss /
 *          QepGradientGetOutputs against the same expectations;
 *   bias   log-log slope of |g_est(β) - g_lr| over a geometric β range: ≈ 1, 2, 4 for the
 *          one-sided, centred and four-point estimators (which make 1, 2, 4 nudged solves);
 *   cache  two examples with their own warm-start states and a parameter update in between: every
 *          gradient still matches linear response; warm nudged solves need fewer matvecs than cold.
 * -out FILE writes the centred QEP gradient of every loss (one "loss name value" line each, %.17g);
 * -compare F1,F2,... (no model needed) checks that such files agree to -compare_tol (rank counts).
 * Every check compares real numbers and fails the run with the numbers when it does not hold. */
#include <qep/qep.h>
#include <slepcsys.h>
#include "reference.h"

#define DENSE_MAX_QUBITS 10     /* 1024 x 1024 dense eigenproblem: well under a second */
#define DENSE_MIN_GAP    1e-3   /* the dense reference is meaningless for a (near-)degenerate state */
#define MAX_LIST         16     /* capacity of the -losses/-checks/-compare lists */
#define SEED_EXAMPLE     20261124
#define STREAM_X         1
#define STREAM_Y         2
#define STREAM_THETA     3 /* the parameter step of the cache check */

typedef struct {
  PetscReal qep_beta, qep_tol;        /* centred QEP: β and the norm-wise relative tolerance */
  PetscReal fd_tol, dense_tol;        /* LR vs FD, LR vs dense */
  PetscReal loss_tol;                 /* absolute, loss and output expectations */
  PetscReal bias_bmax, bias_bmin;     /* geometric β range of the bias-order fit */
  PetscInt  bias_npoints;
  PetscReal bias_slack;               /* accepted |slope - order| */
  PetscBool verbose;
} Settings;

static PetscErrorCode Failf(const char *what, double got, double want, double tol)
{
  PetscFunctionBegin;
  SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: got %.15g, expected %.15g (tolerance %.2e)", what, got, want, tol);
}

static PetscReal Norm2(PetscInt n, const PetscReal v[])
{
  PetscReal s = 0.0;
  for (PetscInt i = 0; i < n; i++) s += v[i] * v[i];
  return PetscSqrtReal(s);
}

static PetscReal DiffNorm2(PetscInt n, const PetscReal a[], const PetscReal b[])
{
  PetscReal s = 0.0;
  for (PetscInt i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return PetscSqrtReal(s);
}

/* Fails unless ||got - want|| <= tol ||want||, naming the worst component. */
static PetscErrorCode CheckRelative(QepModel model, const char what[], const PetscReal got[], const PetscReal want[], PetscReal tol, PetscBool verbose)
{
  PetscInt    P, worst = 0;
  PetscReal   err, ref;
  const char *name;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &P));
  err = DiffNorm2(P, got, want);
  ref = Norm2(P, want);
  for (PetscInt k = 1; k < P; k++)
    if (PetscAbsReal(got[k] - want[k]) > PetscAbsReal(got[worst] - want[worst])) worst = k;
  PetscCall(QepModelGetParameterName(model, worst, &name));
  if (verbose) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %-34s ||diff|| / ||ref|| = %.3e (||ref|| %.3e)\n", what, (double)(err / ref), (double)ref));
  PetscCheck(ref > 0.0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: the reference gradient is zero, so the test proves nothing", what);
  PetscCheck(err <= tol * ref, PETSC_COMM_WORLD, PETSC_ERR_PLIB,
             "%s: ||diff|| / ||ref|| = %.3e > %.1e; worst parameter %s: %.15g vs %.15g", what, (double)(err / ref), (double)tol, name, (double)got[worst],
             (double)want[worst]);
  PetscFunctionReturn(0);
}

/* The example: inputs in [-0.5, 0.5]; targets in [-0.8, 0.8], or in [0.1, 0.9] for cross-entropy. */
static void MakeExample(QepLossType loss, PetscInt nx, PetscReal x[], PetscInt ny, PetscReal y[])
{
  for (PetscInt i = 0; i < nx; i++) x[i] = QepRandomUniform(SEED_EXAMPLE, STREAM_X, i) - 0.5;
  for (PetscInt o = 0; o < ny; o++) {
    PetscReal u = QepRandomUniform(SEED_EXAMPLE, STREAM_Y, o);
    y[o]        = loss == QEP_LOSS_XENT ? 0.1 + 0.8 * u : 0.8 * (2.0 * u - 1.0);
  }
}

/* ℓ of the output expectations (mse, xent) and its derivatives eps[o] = ∂ℓ/∂<O_o>. */
static void LossOfOutputs(QepLossType loss, PetscInt K, const PetscReal out[], const PetscReal y[], PetscReal *value, PetscReal eps[])
{
  *value = 0.0;
  for (PetscInt o = 0; o < K; o++) {
    if (loss == QEP_LOSS_MSE) {
      *value += (out[o] - y[o]) * (out[o] - y[o]) / K;
      eps[o] = 2.0 * (out[o] - y[o]) / K;
    } else {
      PetscReal p = 0.5 * (1.0 + out[o]);
      *value -= (y[o] * PetscLogReal(p) + (1.0 - y[o]) * PetscLogReal(1.0 - p)) / K;
      eps[o] = -0.5 * (y[o] / p - (1.0 - y[o]) / (1.0 - p)) / K;
    }
  }
}

/* ---------------------------------------------------------------- dense sum-over-states reference */

/* out = M v for the dense matrix of factor-weighted strings; M is built on the fly (caller frees nothing). */
static PetscErrorCode DenseApplySum(PetscInt n, PetscInt nterms, const QepPauli strings[], const PetscReal coeffs[], const PetscScalar v[], PetscScalar out[])
{
  PetscScalar *M;

  PetscFunctionBegin;
  PetscCall(RefDenseHamiltonian(n, nterms, strings, coeffs, &M));
  PetscCall(RefDenseMatVec((PetscInt)1 << n, M, v, out));
  PetscCall(PetscFree(M));
  PetscFunctionReturn(0);
}

static PetscScalar Dot(PetscInt N, const PetscScalar a[], const PetscScalar b[]) /* a^H b */
{
  PetscScalar s = 0.0;
  for (PetscInt i = 0; i < N; i++) s += PetscConj(a[i]) * b[i];
  return s;
}

/* u = C' psi0 (and the loss) for the given loss, from dense output matrices. */
static PetscErrorCode DenseNudge(QepModel model, QepLossType loss, PetscInt n, const PetscScalar psi0[], const PetscReal y[], PetscScalar u[], PetscReal *L)
{
  PetscInt     K, N = (PetscInt)1 << n;
  PetscScalar *Ov, *w;
  PetscReal   *out, *eps;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumOutputs(model, &K));
  PetscCall(PetscMalloc4(N, &Ov, N, &w, K, &out, K, &eps));
  PetscCall(PetscArrayzero(u, N));
  *L = 0.0;
  for (PetscInt o = 0; o < K; o++) { /* observable: C psi0 = ½ Σ_o (O_o - y_o)² psi0, L = ½ Σ_o ||(O_o - y_o) psi0||² */
    const QepPauliSum *sum;
    PetscCall(QepModelGetOutput(model, o, NULL, &sum));
    PetscCall(DenseApplySum(n, sum->n, sum->strings, sum->coeffs, psi0, Ov));
    out[o] = PetscRealPart(Dot(N, psi0, Ov));
    if (loss != QEP_LOSS_OBSERVABLE) continue;
    for (PetscInt i = 0; i < N; i++) Ov[i] -= y[o] * psi0[i];
    *L += 0.5 * PetscRealPart(Dot(N, Ov, Ov));
    PetscCall(DenseApplySum(n, sum->n, sum->strings, sum->coeffs, Ov, w));
    for (PetscInt i = 0; i < N; i++) u[i] += 0.5 * (w[i] - y[o] * Ov[i]);
  }
  if (loss != QEP_LOSS_OBSERVABLE) { /* C' = Σ_o eps_o O_o */
    LossOfOutputs(loss, K, out, y, L, eps);
    for (PetscInt o = 0; o < K; o++) {
      const QepPauliSum *sum;
      PetscCall(QepModelGetOutput(model, o, NULL, &sum));
      PetscCall(DenseApplySum(n, sum->n, sum->strings, sum->coeffs, psi0, Ov));
      for (PetscInt i = 0; i < N; i++) u[i] += eps[o] * Ov[i];
    }
  }
  PetscCall(PetscFree4(Ov, w, out, eps));
  PetscFunctionReturn(0);
}

/* Exact gradient by second-order perturbation theory over the full dense spectrum. */
static PetscErrorCode DenseGradient(QepModel model, QepLossType loss, const PetscReal x[], const PetscReal y[], PetscReal *L, PetscReal grad[])
{
  PetscInt           n, N, T, ncoup, P;
  const QepPauli    *strings;
  const QepCoupling *coup;
  PetscReal         *coeffs, *evals, *acoef;
  QepPauli          *astr;
  PetscScalar       *H, *V, *u, *a, *un;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetStrings(model, &T, &strings));
  PetscCall(QepModelGetCouplings(model, &ncoup, &coup));
  PetscCall(QepModelGetNumParameters(model, &P));
  N = (PetscInt)1 << n;
  PetscCall(PetscMalloc4(T, &coeffs, N, &evals, ncoup, &acoef, ncoup, &astr));
  PetscCall(PetscMalloc4(N * N, &V, N, &u, N, &a, N, &un));
  PetscCall(QepModelComputeCoefficients(model, NULL, x, coeffs));
  PetscCall(RefDenseHamiltonian(n, T, strings, coeffs, &H));
  PetscCall(RefDenseEigen(N, H, evals, V));
  PetscCheck(evals[1] - evals[0] > DENSE_MIN_GAP, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "Dense reference: gap %g too small; the test model must have a unique ground state",
             (double)(evals[1] - evals[0]));
  PetscCall(DenseNudge(model, loss, n, V, y, u, L));
  for (PetscInt m = 1; m < N; m++) un[m] = Dot(N, V + m * N, u); /* <m|C'|0> */
  for (PetscInt k = 0; k < P; k++) {
    PetscInt na = 0; /* A_k = ∂H/∂θ_k: the strings parameter k couples to, with their factors */
    for (PetscInt c = 0; c < ncoup; c++)
      if (coup[c].kind == QEP_VAR_PARAM && coup[c].index == k) {
        astr[na]    = strings[coup[c].string];
        acoef[na++] = coup[c].factor;
      }
    PetscCall(DenseApplySum(n, na, astr, acoef, V, a));
    grad[k] = 0.0;
    for (PetscInt m = 1; m < N; m++) grad[k] += 2.0 * PetscRealPart(PetscConj(un[m]) * Dot(N, V + m * N, a)) / (evals[0] - evals[m]);
  }
  PetscCall(PetscFree(H));
  PetscCall(PetscFree4(coeffs, evals, acoef, astr));
  PetscCall(PetscFree4(V, u, a, un));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- loss from our own ground solve */

/* Adds every string of O_o and of O_o² (commuting products only: the others cancel in pairs) to obs. */
static PetscErrorCode AddOutputStrings(const QepPauliSum *sum, QepPauliSum *obs)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < sum->n; i++) {
    PetscCall(QepPauliSumAdd(obs, sum->strings[i], 0.0));
    for (PetscInt j = 0; j < sum->n; j++) {
      QepPauli p;
      int      phase;
      if (!QepPauliCommute(sum->strings[i], sum->strings[j])) continue;
      QepPauliMultiply(sum->strings[i], sum->strings[j], &p, &phase);
      PetscCall(QepPauliSumAdd(obs, p, 0.0));
    }
  }
  PetscFunctionReturn(0);
}

/* <O_o> and <O_o²> from the expectation values of the strings in obs. */
static PetscErrorCode OutputMoments(const QepPauliSum *sum, const QepPauliSum *obs, const PetscReal ev[], PetscReal *m1, PetscReal *m2)
{
  PetscInt idx;

  PetscFunctionBegin;
  *m1 = *m2 = 0.0;
  for (PetscInt i = 0; i < sum->n; i++) {
    PetscCall(QepPauliSumFind(obs, sum->strings[i], &idx));
    *m1 += sum->coeffs[i] * ev[idx];
    for (PetscInt j = 0; j < sum->n; j++) {
      QepPauli p;
      int      phase;
      if (!QepPauliCommute(sum->strings[i], sum->strings[j])) continue;
      QepPauliMultiply(sum->strings[i], sum->strings[j], &p, &phase); /* commuting: phase 0 or 2 */
      PetscCall(QepPauliSumFind(obs, p, &idx));
      *m2 += (phase == 2 ? -1.0 : 1.0) * sum->coeffs[i] * sum->coeffs[j] * ev[idx];
    }
  }
  PetscFunctionReturn(0);
}

/* The loss and <O_o> from a ground state computed here with the operator/solver/expectation API. */
static PetscErrorCode IndependentLoss(QepModel model, QepLossType loss, const PetscReal x[], const PetscReal y[], PetscReal *L, PetscReal out[])
{
  PetscInt           n, T, K;
  const QepPauli    *strings;
  PetscReal         *coeffs, *ev, *eps;
  QepPauliSum        obs;
  QepOperator        op;
  QepGroundSolver    solver;
  QepExpectation     plan;
  Mat                A;
  Vec                psi;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetStrings(model, &T, &strings));
  PetscCall(QepModelGetNumOutputs(model, &K));
  PetscCall(PetscMalloc2(T, &coeffs, K, &eps));
  PetscCall(QepModelComputeCoefficients(model, NULL, x, coeffs));
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, T, strings));
  PetscCall(QepOperatorSetFromOptions(op));
  PetscCall(QepOperatorSetUp(op));
  PetscCall(QepOperatorSetCoefficients(op, coeffs));
  PetscCall(QepOperatorGetMat(op, &A));
  PetscCall(QepGroundSolverCreate(PETSC_COMM_WORLD, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, A));
  PetscCall(QepGroundSolverSetTolerances(solver, 1e-13, PETSC_DEFAULT));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetState(solver, &psi));
  PetscCall(QepPauliSumInit(&obs));
  for (PetscInt o = 0; o < K; o++) {
    const QepPauliSum *sum;
    PetscCall(QepModelGetOutput(model, o, NULL, &sum));
    PetscCall(AddOutputStrings(sum, &obs));
  }
  PetscCall(PetscMalloc1(obs.n, &ev));
  PetscCall(QepExpectationCreate(psi, obs.n, obs.strings, &plan));
  PetscCall(QepExpectationCompute(plan, psi, ev));
  *L = 0.0;
  for (PetscInt o = 0; o < K; o++) {
    const QepPauliSum *sum;
    PetscReal          m2;
    PetscCall(QepModelGetOutput(model, o, NULL, &sum));
    PetscCall(OutputMoments(sum, &obs, ev, &out[o], &m2));
    if (loss == QEP_LOSS_OBSERVABLE) *L += 0.5 * (m2 - 2.0 * y[o] * out[o] + y[o] * y[o]);
  }
  if (loss != QEP_LOSS_OBSERVABLE) LossOfOutputs(loss, K, out, y, L, eps);
  PetscCall(QepExpectationDestroy(&plan));
  PetscCall(PetscFree(ev));
  PetscCall(QepPauliSumFree(&obs));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(PetscFree2(coeffs, eps));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the checks */

static PetscErrorCode CheckLoss(QepGradient g, QepModel model, QepLossType loss, const PetscReal x[], const PetscReal y[], PetscReal loss_qep, const Settings *s)
{
  PetscInt   K;
  PetscReal  L, Lc, *out, *out_c, *out_g;
  char       what[64];

  PetscFunctionBegin;
  PetscCall(QepModelGetNumOutputs(model, &K));
  PetscCall(PetscMalloc3(K, &out, K, &out_c, K, &out_g));
  PetscCall(IndependentLoss(model, loss, x, y, &L, out));
  if (s->verbose) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  loss: QepGradientCompute %.15g, independent %.15g\n", (double)loss_qep, (double)L));
  if (!(PetscAbsReal(loss_qep - L) <= s->loss_tol)) PetscCall(Failf("loss of QepGradientCompute vs own ground solve", loss_qep, L, s->loss_tol));
  PetscCall(QepGradientComputeLoss(g, 0, x, y, &Lc, out_c));
  if (!(PetscAbsReal(Lc - L) <= s->loss_tol)) PetscCall(Failf("loss of QepGradientComputeLoss vs own ground solve", Lc, L, s->loss_tol));
  PetscCall(QepGradientGetOutputs(g, out_g));
  for (PetscInt o = 0; o < K; o++) {
    PetscCall(PetscSNPrintf(what, sizeof(what), "<O_%" PetscInt_FMT "> of QepGradientComputeLoss", o));
    if (!(PetscAbsReal(out_c[o] - out[o]) <= s->loss_tol)) PetscCall(Failf(what, out_c[o], out[o], s->loss_tol));
    PetscCall(PetscSNPrintf(what, sizeof(what), "<O_%" PetscInt_FMT "> of QepGradientGetOutputs", o));
    if (!(PetscAbsReal(out_g[o] - out[o]) <= s->loss_tol)) PetscCall(Failf(what, out_g[o], out[o], s->loss_tol));
  }
  PetscCall(PetscFree3(out, out_c, out_g));
  PetscFunctionReturn(0);
}

/* Least-squares slope of log err against log β. */
static PetscReal LogLogSlope(PetscInt m, const PetscReal beta[], const PetscReal err[])
{
  PetscReal sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (PetscInt i = 0; i < m; i++) {
    PetscReal lx = PetscLogReal(beta[i]), ly = PetscLogReal(err[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

static PetscErrorCode CheckBiasOrders(QepGradient g, QepModel model, const PetscReal x[], const PetscReal y[], const PetscReal glr[], const Settings *s)
{
  const QepEstimator est[3]   = {QEP_ESTIMATOR_ONESIDED, QEP_ESTIMATOR_CENTERED, QEP_ESTIMATOR_FOURPOINT};
  const PetscReal    order[3] = {1.0, 2.0, 4.0};
  const PetscInt     nudged[3] = {1, 2, 4}; /* nudged solves per gradient */
  QepGradientStats   st;
  PetscInt           P, m = s->bias_npoints;
  PetscReal         *gest, *beta, *err, L;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &P));
  PetscCall(PetscMalloc3(P, &gest, m, &beta, m, &err));
  for (PetscInt e = 0; e < 3; e++) {
    PetscReal slope;
    PetscCall(QepGradientSetEstimator(g, est[e]));
    for (PetscInt i = 0; i < m; i++) {
      beta[i] = s->bias_bmax * PetscPowReal(s->bias_bmin / s->bias_bmax, (PetscReal)i / (m - 1));
      PetscCall(QepGradientSetBeta(g, beta[i]));
      PetscCall(QepGradientResetStats(g));
      PetscCall(QepGradientCompute(g, 0, x, y, &L, gest));
      PetscCall(QepGradientGetStats(g, &st));
      PetscCheck(st.free_solves == 1 && st.nudged_solves == nudged[e], PETSC_COMM_WORLD, PETSC_ERR_PLIB,
                 "%s estimator: %" PetscInt_FMT " free and %" PetscInt_FMT " nudged solves, expected 1 and %" PetscInt_FMT, QepEstimators[est[e]], st.free_solves,
                 st.nudged_solves, nudged[e]);
      err[i] = DiffNorm2(P, gest, glr);
      PetscCheck(err[i] > 0.0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s estimator at beta %g equals linear response exactly; cannot fit a slope", QepEstimators[est[e]],
                 (double)beta[i]);
    }
    slope = LogLogSlope(m, beta, err);
    if (s->verbose) {
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  bias %-9s slope %.3f (expect %.0f): ", QepEstimators[est[e]], (double)slope, (double)order[e]));
      for (PetscInt i = 0; i < m; i++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %.3g:%.2e", (double)beta[i], (double)err[i]));
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n"));
    }
    PetscCheck(PetscAbsReal(slope - order[e]) <= s->bias_slack, PETSC_COMM_WORLD, PETSC_ERR_PLIB,
               "%s estimator: error ~ beta^%.3f over beta in [%g, %g], expected order %.0f +- %.2f (errors %.3e ... %.3e)", QepEstimators[est[e]], (double)slope,
               (double)s->bias_bmin, (double)s->bias_bmax, (double)order[e], (double)s->bias_slack, (double)err[0], (double)err[m - 1]);
  }
  PetscCall(PetscFree3(gest, beta, err));
  PetscFunctionReturn(0);
}

/* Training-like use: two examples with their own warm-start states, then a parameter update. Every
 * gradient must still match linear response at the current parameters and inputs (a stale cached
 * state may only speed a solve up), and a nudged solve, warm-started from the free state, must need
 * fewer matvecs than a cold free solve. */
static PetscErrorCode CheckWarmCache(QepGradient g, QepModel model, const PetscReal x[], const PetscReal y[], const Settings *s)
{
  PetscInt         P, nx;
  PetscReal       *theta, *theta1, *xb, *gq, *glr, L, Llr;
  QepGradientStats st;
  PetscInt         cold_mv, warm_mv, nudged_mv;
  char             what[96];

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &P));
  PetscCall(QepModelGetNumInputs(model, &nx));
  PetscCall(PetscMalloc5(P, &theta, P, &theta1, nx + 1, &xb, P, &gq, P, &glr));
  PetscCall(QepModelGetParameters(model, theta));
  for (PetscInt i = 0; i < nx; i++) xb[i] = -0.7 * x[i] + 0.1;
  for (PetscInt k = 0; k < P; k++) theta1[k] = theta[k] + 0.05 * (2.0 * QepRandomUniform(SEED_EXAMPLE, STREAM_THETA, k) - 1.0);
  PetscCall(QepGradientSetEstimator(g, QEP_ESTIMATOR_CENTERED));
  PetscCall(QepGradientSetBeta(g, s->qep_beta));

  PetscCall(QepGradientResetStats(g)); /* cold: nothing cached for example -1 */
  PetscCall(QepGradientCompute(g, -1, nx ? x : NULL, y, &L, gq));
  PetscCall(QepGradientGetStats(g, &st));
  cold_mv   = st.free_matvecs;
  nudged_mv = st.nudged_matvecs / st.nudged_solves;
  PetscCall(QepGradientCompute(g, 7, nx ? x : NULL, y, &L, gq)); /* caches example 7 */
  PetscCall(QepGradientCompute(g, 8, nx ? xb : NULL, y, &L, gq)); /* another example in between */
  PetscCall(QepGradientResetStats(g));
  PetscCall(QepGradientCompute(g, 7, nx ? x : NULL, y, &L, gq)); /* warm from its own converged state */
  PetscCall(QepGradientGetStats(g, &st));
  warm_mv = st.free_matvecs;
  if (s->verbose)
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  matvecs: cold free solve %" PetscInt_FMT ", warm nudged solve %" PetscInt_FMT ", free solve of a cached example %" PetscInt_FMT "\n",
                          cold_mv, nudged_mv, warm_mv));
  /* Only the nudged warm start is asserted: with the gap computed (nev = 2) a warm free solve of
     these tiny models costs about as much as a cold one (see bench_gradient's mv_warm_free). */
  PetscCheck(nudged_mv < cold_mv, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "A nudged solve took %" PetscInt_FMT " matvecs, a cold free solve %" PetscInt_FMT "; the warm start from the free state is not used",
             nudged_mv, cold_mv);
  PetscCall(QepGradientComputeReference(g, QEP_REFERENCE_LINEAR, nx ? x : NULL, y, &Llr, glr));
  PetscCall(CheckRelative(model, "example 7 again vs linear response", gq, glr, s->qep_tol, s->verbose));

  PetscCall(QepModelSetParameters(model, theta1)); /* a training step: cached states are now stale */
  for (PetscInt e = 7; e <= 8; e++) {
    const PetscReal *xe = e == 7 ? x : xb;
    PetscCall(QepGradientCompute(g, e, nx ? xe : NULL, y, &L, gq));
    PetscCall(QepGradientComputeReference(g, QEP_REFERENCE_LINEAR, nx ? xe : NULL, y, &Llr, glr));
    PetscCall(PetscSNPrintf(what, sizeof(what), "example %" PetscInt_FMT " after a step vs lin. resp.", e));
    PetscCall(CheckRelative(model, what, gq, glr, s->qep_tol, s->verbose));
    if (!(PetscAbsReal(L - Llr) <= s->loss_tol)) PetscCall(Failf("loss after a parameter step vs linear-response reference", L, Llr, s->loss_tol));
  }
  PetscCall(QepModelSetParameters(model, theta));
  PetscCall(PetscFree5(theta, theta1, xb, gq, glr));
  PetscFunctionReturn(0);
}

static PetscBool Wants(PetscInt nchecks, char *checks[], const char name[])
{
  PetscBool match = PETSC_FALSE;
  for (PetscInt i = 0; i < nchecks && !match; i++) PetscStrcmp(checks[i], name, &match);
  return match;
}

static PetscErrorCode WriteGradient(FILE *fp, QepModel model, QepLossType loss, const PetscReal grad[])
{
  PetscInt    P;
  const char *name;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &P));
  for (PetscInt k = 0; k < P; k++) {
    PetscCall(QepModelGetParameterName(model, k, &name));
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%s %s %.17g\n", QepLossTypes[loss], name, (double)grad[k]));
  }
  PetscFunctionReturn(0);
}

/* All checks of one loss on one example; appends the centred QEP gradient to fp if non-NULL. */
static PetscErrorCode RunLoss(QepModel model, QepLossType loss, PetscInt nchecks, char *checks[], const Settings *s, FILE *fp)
{
  QepGradient g;
  PetscInt    P, nx, K;
  PetscReal  *x, *y, *glr, *gref, *gqep, Llr, Lref, Lqep;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &P));
  PetscCall(QepModelGetNumInputs(model, &nx));
  PetscCall(QepModelGetNumOutputs(model, &K));
  PetscCall(PetscMalloc5(nx + 1, &x, K, &y, P, &glr, P, &gref, P, &gqep));
  MakeExample(loss, nx, x, K, y);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "loss %s: %" PetscInt_FMT " parameters, %" PetscInt_FMT " inputs, %" PetscInt_FMT " outputs\n", QepLossTypes[loss], P, nx, K));

  PetscCall(QepGradientCreate(model, &g));
  PetscCall(QepGradientSetLoss(g, loss));
  PetscCall(QepGradientSetFromOptions(g));
  PetscCall(QepGradientSetUp(g));
  PetscCall(QepGradientComputeReference(g, QEP_REFERENCE_LINEAR, nx ? x : NULL, y, &Llr, glr));

  if (Wants(nchecks, checks, "dense")) {
    PetscInt n;
    PetscCall(QepModelGetNumQubits(model, &n));
    PetscCheck(n <= DENSE_MAX_QUBITS, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-checks dense needs n <= %d (got %" PetscInt_FMT ")", DENSE_MAX_QUBITS, n);
    PetscCall(DenseGradient(model, loss, x, y, &Lref, gref));
    if (!(PetscAbsReal(Llr - Lref) <= s->loss_tol)) PetscCall(Failf("loss of the linear-response reference vs dense", Llr, Lref, s->loss_tol));
    PetscCall(CheckRelative(model, "linear response vs dense", glr, gref, s->dense_tol, s->verbose));
  }
  if (Wants(nchecks, checks, "qep") || Wants(nchecks, checks, "loss") || fp) {
    PetscCall(QepGradientSetEstimator(g, QEP_ESTIMATOR_CENTERED));
    PetscCall(QepGradientSetBeta(g, s->qep_beta));
    PetscCall(QepGradientCompute(g, 0, nx ? x : NULL, y, &Lqep, gqep));
    if (Wants(nchecks, checks, "qep")) PetscCall(CheckRelative(model, "centred QEP vs linear response", gqep, glr, s->qep_tol, s->verbose));
    if (Wants(nchecks, checks, "loss")) {
      if (!(PetscAbsReal(Lqep - Llr) <= s->loss_tol)) PetscCall(Failf("loss of QepGradientCompute vs the linear-response reference", Lqep, Llr, s->loss_tol));
      PetscCall(CheckLoss(g, model, loss, nx ? x : NULL, y, Lqep, s));
    }
    if (fp) PetscCall(WriteGradient(fp, model, loss, gqep));
  }
  if (Wants(nchecks, checks, "fd")) {
    PetscCall(QepGradientComputeReference(g, QEP_REFERENCE_FD, nx ? x : NULL, y, &Lref, gref));
    PetscCall(CheckRelative(model, "finite differences vs linear resp.", gref, glr, s->fd_tol, s->verbose));
  }
  if (Wants(nchecks, checks, "bias")) PetscCall(CheckBiasOrders(g, model, nx ? x : NULL, y, glr, s));
  if (Wants(nchecks, checks, "cache")) PetscCall(CheckWarmCache(g, model, x, y, s));
  PetscCall(QepGradientDestroy(&g));
  PetscCall(PetscFree5(x, y, glr, gref, gqep));
  PetscFunctionReturn(0);
}

/* -compare mode: every file holds the same "loss name value" lines; values agree to tol. */
static PetscErrorCode CompareFiles(PetscInt nfiles, char *files[], PetscReal tol)
{
  FILE     *ref, *fp;
  char      l0[256], n0[256], l1[256], n1[256];
  double    v0, v1, worst = 0.0;
  PetscInt  lines = 0;

  PetscFunctionBegin;
  PetscCheck(nfiles >= 2, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-compare needs at least two files");
  for (PetscInt f = 1; f < nfiles; f++) {
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[0], "r", &ref));
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[f], "r", &fp));
    lines = 0;
    while (fscanf(ref, "%255s %255s %lf", l0, n0, &v0) == 3) {
      PetscBool same_loss, same_name;
      PetscCheck(fscanf(fp, "%255s %255s %lf", l1, n1, &v1) == 3, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s ends before %s (line %" PetscInt_FMT ")", files[f], files[0],
                 lines + 1);
      PetscCall(PetscStrcmp(l0, l1, &same_loss));
      PetscCall(PetscStrcmp(n0, n1, &same_name));
      PetscCheck(same_loss && same_name, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s line %" PetscInt_FMT ": %s %s, but %s has %s %s", files[f], lines + 1, l1, n1, files[0],
                 l0, n0);
      PetscCheck(PetscAbsReal(v0 - v1) <= tol, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s vs %s: %s gradient of %s differs: %.17g vs %.17g (|diff| %.3e > %.1e)", files[f], files[0],
                 l0, n0, v1, v0, fabs(v0 - v1), (double)tol);
      worst = PetscMax(worst, fabs(v0 - v1));
      lines++;
    }
    PetscCheck(lines > 0, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s holds no gradient lines", files[0]);
    PetscCheck(fscanf(fp, "%255s", l1) != 1, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s has more lines than %s", files[f], files[0]);
    PetscCall(PetscFClose(PETSC_COMM_SELF, ref));
    PetscCall(PetscFClose(PETSC_COMM_SELF, fp));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%" PetscInt_FMT " files of %" PetscInt_FMT " gradient entries agree; largest difference %.3e <= %.1e\n", nfiles, lines, worst, (double)tol));
  PetscFunctionReturn(0);
}

static PetscErrorCode GetSettings(Settings *s)
{
  PetscFunctionBegin;
  s->qep_beta     = 1e-4;
  s->qep_tol      = 1e-6;
  s->fd_tol       = 1e-6;
  s->dense_tol    = 1e-8;
  s->loss_tol     = 1e-9;
  s->bias_bmax    = 0.2;
  s->bias_bmin    = 0.02;
  s->bias_npoints = 6;
  s->bias_slack   = 0.35;
  s->verbose      = PETSC_TRUE;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "QEP gradient test", NULL);
  PetscCall(PetscOptionsReal("-qep_beta_test", "beta of the centred QEP check", NULL, s->qep_beta, &s->qep_beta, NULL));
  PetscCall(PetscOptionsReal("-qep_tol", "relative tolerance, centred QEP vs linear response", NULL, s->qep_tol, &s->qep_tol, NULL));
  PetscCall(PetscOptionsReal("-fd_tol", "relative tolerance, finite differences vs linear response", NULL, s->fd_tol, &s->fd_tol, NULL));
  PetscCall(PetscOptionsReal("-dense_tol", "relative tolerance, linear response vs dense", NULL, s->dense_tol, &s->dense_tol, NULL));
  PetscCall(PetscOptionsReal("-loss_tol", "absolute tolerance of losses and outputs", NULL, s->loss_tol, &s->loss_tol, NULL));
  PetscCall(PetscOptionsReal("-bias_bmax", "largest beta of the bias fit", NULL, s->bias_bmax, &s->bias_bmax, NULL));
  PetscCall(PetscOptionsReal("-bias_bmin", "smallest beta of the bias fit", NULL, s->bias_bmin, &s->bias_bmin, NULL));
  PetscCall(PetscOptionsInt("-bias_npoints", "number of betas of the bias fit", NULL, s->bias_npoints, &s->bias_npoints, NULL));
  PetscCall(PetscOptionsReal("-bias_slack", "accepted |slope - order|", NULL, s->bias_slack, &s->bias_slack, NULL));
  PetscCall(PetscOptionsBool("-verbose", "print every measured error", NULL, s->verbose, &s->verbose, NULL));
  PetscOptionsEnd();
  PetscCheck(s->bias_npoints >= 2 && s->bias_bmin > 0 && s->bias_bmax > s->bias_bmin, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "bias fit needs >= 2 points and 0 < bmin < bmax");
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  QepModel  model;
  Settings  s;
  char     *losses[MAX_LIST], *checks[MAX_LIST], *files[MAX_LIST], out[PETSC_MAX_PATH_LEN];
  PetscInt  nlosses = MAX_LIST, nchecks = MAX_LIST, nfiles = MAX_LIST, K;
  PetscBool has_losses, has_checks, compare, has_out;
  PetscReal compare_tol = 1e-10;
  FILE     *fp = NULL;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "QEP gradient tests"));
  PetscCall(PetscOptionsGetStringArray(NULL, NULL, "-compare", files, &nfiles, &compare));
  if (compare) {
    PetscCall(PetscOptionsGetReal(NULL, NULL, "-compare_tol", &compare_tol, NULL));
    PetscCall(CompareFiles(nfiles, files, compare_tol));
    for (PetscInt i = 0; i < nfiles; i++) PetscCall(PetscFree(files[i]));
    PetscCall(SlepcFinalize());
    return 0;
  }
  PetscCall(GetSettings(&s));
  PetscCall(PetscOptionsGetStringArray(NULL, NULL, "-losses", losses, &nlosses, &has_losses));
  PetscCall(PetscOptionsGetStringArray(NULL, NULL, "-checks", checks, &nchecks, &has_checks));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof(out), &has_out));
  if (!has_losses) {
    nlosses = 3;
    for (PetscInt i = 0; i < 3; i++) PetscCall(PetscStrallocpy(QepLossTypes[i], &losses[i]));
  }
  if (!has_checks) {
    const char *all[] = {"dense", "qep", "fd", "loss", "bias", "cache"};
    nchecks           = 6;
    for (PetscInt i = 0; i < 6; i++) PetscCall(PetscStrallocpy(all[i], &checks[i]));
  }
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &model));
  PetscCall(QepModelSetFromOptions(model));
  PetscCall(QepModelGetNumOutputs(model, &K));
  PetscCheck(K > 0, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "The test model needs outputs (-qep_outputs or output lines)");
  if (has_out) PetscCall(PetscFOpen(PETSC_COMM_WORLD, out, "w", &fp));
  for (PetscInt i = 0; i < nlosses; i++) {
    PetscInt loss = -1;
    for (PetscInt t = 0; t < 3; t++) {
      PetscBool match;
      PetscCall(PetscStrcmp(losses[i], QepLossTypes[t], &match));
      if (match) loss = t;
    }
    PetscCheck(loss >= 0, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-losses: unknown loss '%s'; use observable, mse, xent", losses[i]);
    PetscCall(RunLoss(model, (QepLossType)loss, nchecks, checks, &s, fp));
  }
  if (fp) PetscCall(PetscFClose(PETSC_COMM_WORLD, fp));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "all gradient checks passed\n"));
  for (PetscInt i = 0; i < nlosses; i++) PetscCall(PetscFree(losses[i]));
  for (PetscInt i = 0; i < nchecks; i++) PetscCall(PetscFree(checks[i]));
  PetscCall(QepModelDestroy(&model));
  PetscCall(SlepcFinalize());
  return 0;
}
