/* gradient.c — QEP gradients of oscillator networks (QepQhoGradient).
 *
 * With C = ½ Σ_o (x_o − y_o)², the nudged Hamiltonian H + βC is again an oscillator network
 * (K_oo += β, b_o += β y_o, c += β ½ y_o²), and for every parameter
 *     g_k(β) = ⟨∂H/∂θ_k⟩_β,   dL/dθ_k = g_k'(0),   L = ⟨C⟩ = ½ Σ_o [(μ_o − y_o)² + Σ_oo].
 * ⟨∂H/∂θ_k⟩ is a quadratic form in x and p, so it is read off the moments (numeric.c): for a spring,
 * ½⟨(x_i − x_j − l)²⟩ = ½ (μ_i − μ_j − l)² [the classical elastic-network EP term] + ½ Var(x_i − x_j)
 * [the zero-point term, ∝ ħ]. The estimators (onesided, centered, fourpoint) use the stencils of the
 * spin case (src/gradient/gradient.c) and are applied to both parts, which stay available separately.
 * References: the exact analytic gradient (dense, rank 0: adjoint for the mean, Daleckii–Krein in the
 * eigenbasis of D for the covariance), central finite differences of the exact loss, and the
 * classical EP gradient (ħ = 0: equilibria only).
 * Invariant: every phase evaluates its own numeric Hamiltonian, so nothing is restored afterwards; a
 * Chebyshev covariance uses one spectrum interval for all phases of one estimate (the same polynomial). */
#include "qhomodel.h"

#define QHO_DEFAULT_BETA     1e-3
#define QHO_DEFAULT_FD_STEP  1e-4
#define QHO_MAX_STENCIL      4
#define QHO_CACHE_BYTES      (256.0 * 1048576.0) /* free means kept for warm starts, per rank */

typedef struct {
  PetscInt   id;
  PetscBool  valid; /* mean holds the example's last free mean */
  PetscReal *mean;
} CacheEntry;

struct _p_QepQhoGradient {
  QepQho           q;
  MPI_Comm         comm;
  QepEstimator     estimator;
  PetscReal        beta, fd_step;
  QepQhoSolverType solver;
  PetscInt         levels;
  PetscBool        setup;

  PetscInt      n, nk, np, nout;
  QepQhoNumeric num;
  QepQhoMoments mom;
  PetscReal    *gm, *gf;             /* ⟨∂H/∂θ⟩ mean / fluctuation parts of one phase */
  PetscReal    *part_mean, *part_zp; /* the last gradient, split */
  PetscBool     parts_valid;
  PetscReal    *outmean, *outvar, *freemean;
  PetscBool     free_valid;

  PetscInt    ncache, acache;
  CacheEntry *cache;

  QepQhoGradientStats stats;
};

PetscErrorCode QepQhoGradientCreate(QepQho q, QepQhoGradient *grad)
{
  QepQhoGradient g;

  PetscFunctionBegin;
  PetscCall(PetscNew(&g));
  g->q         = q;
  g->comm      = q->comm;
  g->estimator = QEP_ESTIMATOR_CENTERED;
  g->beta      = QHO_DEFAULT_BETA;
  g->fd_step   = QHO_DEFAULT_FD_STEP;
  g->solver    = QEP_QHO_SOLVER_GAUSSIAN;
  g->levels    = 0;
  *grad        = g;
  PetscFunctionReturn(0);
}

static PetscErrorCode FreeWork(QepQhoGradient g)
{
  PetscFunctionBegin;
  if (!g->setup) PetscFunctionReturn(0);
  PetscCall(QepQhoMomentsFree(&g->mom));
  PetscCall(QepQhoNumericFree(&g->num));
  PetscCall(PetscFree4(g->gm, g->gf, g->part_mean, g->part_zp));
  PetscCall(PetscFree3(g->outmean, g->outvar, g->freemean));
  for (PetscInt i = 0; i < g->ncache; i++) PetscCall(PetscFree(g->cache[i].mean));
  PetscCall(PetscFree(g->cache));
  g->ncache = g->acache = 0;
  g->setup              = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientDestroy(QepQhoGradient *grad)
{
  PetscFunctionBegin;
  if (!*grad) PetscFunctionReturn(0);
  PetscCall(FreeWork(*grad));
  PetscCall(PetscFree(*grad));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientSetEstimator(QepQhoGradient g, QepEstimator e)
{
  PetscFunctionBegin;
  PetscCheck(e >= QEP_ESTIMATOR_ONESIDED && e <= QEP_ESTIMATOR_FOURPOINT, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown estimator %d; use onesided, centered or fourpoint", (int)e);
  g->estimator = e;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientSetBeta(QepQhoGradient g, PetscReal beta)
{
  PetscFunctionBegin;
  PetscCheck(beta > 0 && PetscIsNormalReal(beta), g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The nudge strength beta must be a positive number; got %g", (double)beta);
  g->beta = beta;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientSetSolver(QepQhoGradient g, QepQhoSolverType type, PetscInt levels)
{
  PetscFunctionBegin;
  PetscCheck(type == QEP_QHO_SOLVER_GAUSSIAN || type == QEP_QHO_SOLVER_FOCK, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown oscillator solver %d; use gaussian or fock", (int)type);
  PetscCheck(type != QEP_QHO_SOLVER_FOCK || levels >= 2, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The Fock solver needs -qep_qho_levels d >= 2 (got %" PetscInt_FMT ")", levels);
  g->solver = type;
  g->levels = levels;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientSetFDStep(QepQhoGradient g, PetscReal h)
{
  PetscFunctionBegin;
  PetscCheck(h > 0 && PetscIsNormalReal(h), g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The finite-difference step must be positive; got %g", (double)h);
  g->fd_step = h;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientSetFromOptions(QepQhoGradient g)
{
  PetscReal        beta = g->beta, h = g->fd_step;
  QepQhoSolverType solver = g->solver;
  PetscInt         levels = g->levels ? g->levels : 8;

  PetscFunctionBegin;
  PetscOptionsBegin(g->comm, NULL, "QEP oscillator-network gradient options", "QepQhoGradient");
  PetscCall(PetscOptionsEnum("-qep_estimator", "QEP estimator of dL/dtheta", "QepQhoGradientSetEstimator", QepEstimators, (PetscEnum)g->estimator, (PetscEnum *)&g->estimator, NULL));
  PetscCall(PetscOptionsReal("-qep_beta", "Nudge strength beta (> 0)", "QepQhoGradientSetBeta", beta, &beta, NULL));
  PetscCall(PetscOptionsEnum("-qep_qho_solver", "Ground-state solver: gaussian (exact, no quartic terms) or fock (truncated Fock space)", "QepQhoGradientSetSolver", QepQhoSolverTypes,
                             (PetscEnum)solver, (PetscEnum *)&solver, NULL));
  PetscCall(PetscOptionsInt("-qep_qho_levels", "Fock solver: levels d per mode (Hilbert space d^n)", "QepQhoGradientSetSolver", levels, &levels, NULL));
  PetscCall(PetscOptionsReal("-qep_fd_step", "Step of the finite-difference reference (relative to max(1, |theta|))", "QepQhoGradientSetFDStep", h, &h, NULL));
  PetscOptionsEnd();
  PetscCall(QepQhoGradientSetBeta(g, beta));
  PetscCall(QepQhoGradientSetFDStep(g, h));
  PetscCall(QepQhoGradientSetSolver(g, solver, solver == QEP_QHO_SOLVER_FOCK ? levels : 0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientGetSettings(QepQhoGradient g, QepEstimator *e, PetscReal *beta, QepQhoSolverType *type, PetscInt *levels)
{
  PetscFunctionBegin;
  if (e) *e = g->estimator;
  if (beta) *beta = g->beta;
  if (type) *type = g->solver;
  if (levels) *levels = g->levels;
  PetscFunctionReturn(0);
}

/* (Re)allocates the work arrays for the network's current size. */
PetscErrorCode QepQhoGradientSetUp(QepQhoGradient g)
{
  QepQho   q = g->q;
  PetscInt np;

  PetscFunctionBegin;
  PetscCheck(q->finalized, g->comm, PETSC_ERR_ORDER, "Finalize the oscillator network (or read/generate it) before computing gradients");
  if (g->setup && g->n == q->n && g->nk == q->nk && g->np == q->nparams && g->nout == q->noutputs) PetscFunctionReturn(0);
  PetscCall(FreeWork(g));
  g->n    = q->n;
  g->nk   = q->nk;
  g->np   = q->nparams;
  g->nout = q->noutputs;
  np      = PetscMax(g->np, 1);
  PetscCall(QepQhoNumericAllocFor(q, &g->num));
  PetscCall(QepQhoMomentsAlloc(&g->num, &g->mom));
  PetscCall(PetscCalloc4(np, &g->gm, np, &g->gf, np, &g->part_mean, np, &g->part_zp));
  PetscCall(PetscCalloc3(PetscMax(g->nout, 1), &g->outmean, PetscMax(g->nout, 1), &g->outvar, g->n, &g->freemean));
  g->setup       = PETSC_TRUE;
  g->free_valid  = PETSC_FALSE;
  g->parts_valid = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckTargets(QepQhoGradient g, const PetscReal y[])
{
  PetscFunctionBegin;
  PetscCheck(g->nout > 0, g->comm, PETSC_ERR_USER_INPUT, "The network has no outputs, so the loss is undefined: add 'output <name> <mode>' lines or -qep_qho_outputs i,j,...");
  PetscCheck(y, g->comm, PETSC_ERR_ARG_NULL, "The loss needs one target per output (%" PetscInt_FMT " outputs)", g->nout);
  for (PetscInt o = 0; o < g->nout; o++) PetscCheck(!PetscIsInfOrNanReal(y[o]), g->comm, PETSC_ERR_USER_INPUT, "Target y%" PetscInt_FMT " is not a finite number", o);
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------- warm starts */

static PetscErrorCode CacheFind(QepQhoGradient g, PetscInt example, CacheEntry **entry, PetscBool create)
{
  PetscFunctionBegin;
  *entry = NULL;
  if (example < 0) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < g->ncache; i++)
    if (g->cache[i].id == example) {
      *entry = &g->cache[i];
      PetscFunctionReturn(0);
    }
  if (!create || (g->ncache + 1) * (PetscReal)g->n * sizeof(PetscReal) > QHO_CACHE_BYTES) PetscFunctionReturn(0);
  if (g->ncache == g->acache) {
    g->acache = g->acache ? 2 * g->acache : 16;
    PetscCall(PetscRealloc(sizeof(CacheEntry) * (size_t)g->acache, &g->cache));
  }
  *entry          = &g->cache[g->ncache++];
  (*entry)->id    = example;
  (*entry)->valid = PETSC_FALSE;
  PetscCall(PetscMalloc1(g->n, &(*entry)->mean));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetWarmStart(QepQhoGradient g, const PetscReal mean[])
{
  QepQhoGaussian gs = NULL;

  PetscFunctionBegin;
  if (g->solver != QEP_QHO_SOLVER_GAUSSIAN || !mean) PetscFunctionReturn(0);
  PetscCall(QepQhoGetGaussian(g->q, &gs));
  PetscCall(QepQhoGaussianSetInitialGuess(gs, mean));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- phases */

static PetscReal LargestNudge(QepQhoGradient g) { return QepEstimatorLargestNudge(g->estimator, g->beta); }

/* Chebyshev covariance: one interval for every phase of this estimate, widened by the largest nudge
 * (Weyl: the nudge moves D's eigenvalues by at most β max_o 1/m_o). */
static PetscErrorCode FixSpectrum(QepQhoGradient g, PetscBool fix)
{
  QepQhoGaussian  gs = NULL;
  QepQhoCovMethod method;
  PetscReal       a, b, shift = 0;

  PetscFunctionBegin;
  if (g->solver != QEP_QHO_SOLVER_GAUSSIAN) PetscFunctionReturn(0);
  PetscCall(QepQhoGetGaussian(g->q, &gs));
  PetscCall(QepQhoGaussianGetMethod(gs, &g->num, &method));
  if (method != QEP_QHO_COV_CHEBYSHEV) PetscFunctionReturn(0);
  if (!fix) {
    PetscCall(QepQhoGaussianSetSpectrumBounds(gs, 0, 0));
    PetscFunctionReturn(0);
  }
  PetscCall(QepQhoGaussianSetSpectrumBounds(gs, 0, 0));
  PetscCall(QepQhoGaussianComputeSpectrumBounds(gs, &g->num, &a, &b));
  for (PetscInt o = 0; o < g->nout; o++) shift = PetscMax(shift, LargestNudge(g) / g->num.mass[g->q->output_mode[o]]);
  PetscCheck(a - shift > 0, g->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "The nudge beta = %g can make the stiffness matrix indefinite (smallest eigenvalue of M^-1/2 K M^-1/2 >= %g, nudge shift up to %g); lower -qep_beta", (double)g->beta, (double)a,
             (double)shift);
  PetscCall(QepQhoGaussianSetSpectrumBounds(gs, a - shift, b + shift));
  PetscFunctionReturn(0);
}

/* One solve of the current numeric Hamiltonian and its ⟨∂H/∂θ⟩ parts (into gm, gf). */
static PetscErrorCode Phase(QepQhoGradient g, const PetscReal theta[], PetscBool free)
{
  PetscLogDouble t0, t1;

  PetscFunctionBegin;
  PetscCall(PetscTime(&t0));
  PetscCall(QepQhoSolveNumeric(g->q, g->solver, g->levels, &g->num, &g->mom));
  PetscCall(PetscTime(&t1));
  if (free) {
    g->stats.free_solves++;
    g->stats.time_free += t1 - t0;
    g->stats.energy = g->mom.energy;
  } else {
    g->stats.nudged_solves++;
    g->stats.time_nudged += t1 - t0;
  }
  if (g->np) PetscCall(QepQhoDerivativeExpectations(g->q, theta, &g->mom, g->gm, g->gf));
  PetscFunctionReturn(0);
}

/* ⟨C⟩ of the moments in g->mom, and the output means / variances. */
static PetscReal LossOfMoments(QepQhoGradient g, const PetscReal y[])
{
  PetscReal L = 0;
  for (PetscInt o = 0; o < g->nout; o++) {
    PetscInt i = g->q->output_mode[o];
    g->outmean[o] = g->mom.mean[i];
    g->outvar[o]  = g->mom.cov[i];
    L += 0.5 * ((g->mom.mean[i] - y[o]) * (g->mom.mean[i] - y[o]) + g->mom.cov[i]);
  }
  return L;
}

static PetscErrorCode FreePhase(QepQhoGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss)
{
  CacheEntry *e;

  PetscFunctionBegin;
  PetscCall(QepQhoGradientSetUp(g));
  PetscCall(CheckTargets(g, y));
  PetscCall(QepQhoEvaluate(g->q, NULL, x, 0.0, NULL, &g->num));
  PetscCall(CacheFind(g, example, &e, PETSC_TRUE));
  if (e && e->valid) PetscCall(SetWarmStart(g, e->mean)); /* otherwise: the solver's last solution */
  g->free_valid = PETSC_FALSE;
  PetscCall(Phase(g, NULL, PETSC_TRUE));
  *loss = LossOfMoments(g, y);
  PetscCall(PetscArraycpy(g->freemean, g->mom.mean, g->n));
  if (e) {
    PetscCall(PetscArraycpy(e->mean, g->mom.mean, g->n));
    e->valid = PETSC_TRUE;
  }
  g->free_valid = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscErrorCode NudgedPhase(QepQhoGradient g, const PetscReal x[], const PetscReal y[], PetscReal beta)
{
  PetscFunctionBegin;
  PetscCall(QepQhoEvaluate(g->q, NULL, x, beta, y, &g->num));
  PetscCall(SetWarmStart(g, g->freemean));
  PetscCall(Phase(g, NULL, PETSC_FALSE));
  PetscFunctionReturn(0);
}

static PetscErrorCode ComputeEstimate(QepQhoGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscInt  m = 0;
  PetscReal b[QHO_MAX_STENCIL], w[QHO_MAX_STENCIL], w0 = 0, L;

  PetscFunctionBegin;
  PetscCall(QepQhoGradientSetUp(g));
  PetscCall(CheckTargets(g, y));
  PetscCall(QepQhoEvaluate(g->q, NULL, x, 0.0, NULL, &g->num));
  PetscCall(FixSpectrum(g, PETSC_TRUE));
  PetscCall(FreePhase(g, example, x, y, &L));
  QepEstimatorStencil(g->estimator, g->beta, &m, b, w, &w0);
  for (PetscInt k = 0; k < g->np; k++) {
    g->part_mean[k] = w0 * g->gm[k];
    g->part_zp[k]   = w0 * g->gf[k];
  }
  for (PetscInt j = 0; j < m; j++) {
    PetscCall(NudgedPhase(g, x, y, b[j]));
    for (PetscInt k = 0; k < g->np; k++) {
      g->part_mean[k] += w[j] * g->gm[k];
      g->part_zp[k] += w[j] * g->gf[k];
    }
  }
  PetscCall(FixSpectrum(g, PETSC_FALSE));
  for (PetscInt k = 0; k < g->np; k++) grad[k] = g->part_mean[k] + g->part_zp[k];
  g->parts_valid = PETSC_TRUE;
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientCompute(QepQhoGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  ierr = ComputeEstimate(g, example, x, y, loss, grad);
  if (ierr) { /* never leave a fixed interval behind an error */
    QepQhoGaussian gs = NULL;
    if (!QepQhoGetGaussian(g->q, &gs)) (void)QepQhoGaussianSetSpectrumBounds(gs, 0, 0);
  }
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientGetParts(QepQhoGradient g, PetscReal mean_part[], PetscReal zero_point_part[])
{
  PetscFunctionBegin;
  PetscCheck(g->parts_valid, g->comm, PETSC_ERR_ORDER, "No gradient yet: call QepQhoGradientCompute first");
  if (mean_part && g->np) PetscCall(PetscArraycpy(mean_part, g->part_mean, g->np));
  if (zero_point_part && g->np) PetscCall(PetscArraycpy(zero_point_part, g->part_zp, g->np));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientComputeLoss(QepQhoGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal out[])
{
  PetscReal L;

  PetscFunctionBegin;
  PetscCall(FreePhase(g, example, x, y, &L));
  if (loss) *loss = L;
  if (out && g->nout) PetscCall(PetscArraycpy(out, g->outmean, g->nout));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientGetOutputs(QepQhoGradient g, PetscReal out[])
{
  PetscFunctionBegin;
  PetscCheck(g->free_valid, g->comm, PETSC_ERR_ORDER, "No free state yet: compute a gradient or a loss first");
  if (g->nout) PetscCall(PetscArraycpy(out, g->outmean, g->nout));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientGetOutputVariances(QepQhoGradient g, PetscReal var[])
{
  PetscFunctionBegin;
  PetscCheck(g->free_valid, g->comm, PETSC_ERR_ORDER, "No free state yet: compute a gradient or a loss first");
  if (g->nout) PetscCall(PetscArraycpy(var, g->outvar, g->nout));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientGetStats(QepQhoGradient g, QepQhoGradientStats *stats)
{
  PetscFunctionBegin;
  *stats = g->stats;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientResetStats(QepQhoGradient g)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(&g->stats, sizeof(g->stats)));
  PetscFunctionReturn(0);
}

/* --------------------------------------------------------------------------- classical EP (ħ = 0) */

/* Mean-only moments: the classical equilibrium of the current numeric Hamiltonian. */
static PetscErrorCode ClassicalPhase(QepQhoGradient g)
{
  QepQhoGaussian gs = NULL;
  PetscReal      E;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < g->n; i++) PetscCheck(g->num.quartic[i] == 0, g->comm, PETSC_ERR_SUP, "The classical elastic-network gradient has no quartic terms (mode %" PetscInt_FMT ")", i);
  PetscCall(QepQhoGetGaussian(g->q, &gs));
  PetscCall(QepQhoGaussianSolveMean(gs, &g->num, g->mom.mean, &E));
  PetscCall(PetscArrayzero(g->mom.cov, g->nk));
  PetscCall(PetscArrayzero(g->mom.pp, g->n));
  for (PetscInt i = 0; i < g->n; i++) g->mom.x4[i] = PetscPowRealInt(g->mom.mean[i], 4);
  g->mom.energy = E;
  if (g->np) PetscCall(QepQhoDerivativeExpectations(g->q, NULL, &g->mom, g->gm, g->gf));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientComputeClassical(QepQhoGradient g, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscInt  m = 0;
  PetscReal b[QHO_MAX_STENCIL], w[QHO_MAX_STENCIL], w0 = 0, L = 0;

  PetscFunctionBegin;
  PetscCall(QepQhoGradientSetUp(g));
  PetscCall(CheckTargets(g, y));
  PetscCall(QepQhoEvaluate(g->q, NULL, x, 0.0, NULL, &g->num));
  PetscCall(ClassicalPhase(g));
  for (PetscInt o = 0; o < g->nout; o++) L += 0.5 * PetscSqr(g->mom.mean[g->q->output_mode[o]] - y[o]);
  QepEstimatorStencil(g->estimator, g->beta, &m, b, w, &w0);
  for (PetscInt k = 0; k < g->np; k++) grad[k] = w0 * g->gm[k];
  for (PetscInt j = 0; j < m; j++) {
    PetscCall(QepQhoEvaluate(g->q, NULL, x, b[j], y, &g->num));
    PetscCall(ClassicalPhase(g));
    for (PetscInt k = 0; k < g->np; k++) grad[k] += w[j] * g->gm[k];
  }
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------ finite-difference reference */

static PetscErrorCode LossAt(QepQhoGradient g, const PetscReal theta[], const PetscReal x[], const PetscReal y[], PetscReal *loss)
{
  PetscFunctionBegin;
  PetscCall(QepQhoEvaluate(g->q, theta, x, 0.0, NULL, &g->num));
  PetscCall(QepQhoSolveNumeric(g->q, g->solver, g->levels, &g->num, &g->mom));
  *loss = LossOfMoments(g, y);
  PetscFunctionReturn(0);
}

static PetscErrorCode FiniteDifferences(QepQhoGradient g, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscReal *theta;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(PetscMax(g->np, 1), &theta));
  PetscCall(QepQhoGetParameters(g->q, theta));
  for (PetscInt k = 0; k < g->np; k++) {
    PetscReal t = theta[k], h = g->fd_step * PetscMax(1.0, PetscAbsReal(t)), lp, lm;
    theta[k] = t + h;
    PetscCall(LossAt(g, theta, x, y, &lp));
    theta[k] = t - h;
    PetscCall(LossAt(g, theta, x, y, &lm));
    theta[k] = t;
    grad[k]  = (lp - lm) / (2 * h);
  }
  PetscCall(LossAt(g, theta, x, y, loss));
  PetscCall(PetscFree(theta));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------- exact analytic reference */

/* λ = K⁻¹ r with K = S⁻¹ D S⁻¹ (S = M^-1/2): λ = S V Λ⁻¹ Vᵀ S r. */
static void DenseSolve(PetscInt n, const PetscReal w[], const PetscReal V[], const PetscReal s[], const PetscReal r[], PetscReal out[], PetscReal tmp[])
{
  for (PetscInt k = 0; k < n; k++) {
    PetscReal sum = 0;
    for (PetscInt i = 0; i < n; i++) sum += V[i + k * n] * s[i] * r[i];
    tmp[k] = sum / w[k];
  }
  for (PetscInt i = 0; i < n; i++) out[i] = 0;
  for (PetscInt k = 0; k < n; k++)
    for (PetscInt i = 0; i < n; i++) out[i] += V[i + k * n] * tmp[k];
  for (PetscInt i = 0; i < n; i++) out[i] *= s[i];
}

/* The mean part of dL/dθ by the adjoint λ = K⁻¹ Σ_o (μ_o − y_o) e_o: λᵀ (∂b/∂θ − ∂K/∂θ μ). */
static void MeanAdjointGradient(QepQho q, const PetscReal mu[], const PetscReal lam[], PetscReal grad[])
{
  const PetscReal *th = q->param_values;
  for (PetscInt s = 0; s < q->nsprings; s++) {
    const QepQhoSpring *sp = &q->springs[s];
    PetscReal           k = QepQhoCoefValue(sp->k, th, NULL), l = QepQhoCoefValue(sp->rest, th, NULL), dl = lam[sp->i] - lam[sp->j];
    if (sp->k.kind == QEP_VAR_PARAM) grad[sp->k.index] -= sp->k.factor * dl * (mu[sp->i] - mu[sp->j] - l);
    if (sp->rest.kind == QEP_VAR_PARAM) grad[sp->rest.index] += sp->rest.factor * k * dl;
  }
  for (PetscInt s = 0; s < q->nground; s++) {
    const QepQhoSpring *sp = &q->ground[s];
    PetscReal           k = QepQhoCoefValue(sp->k, th, NULL), r = QepQhoCoefValue(sp->rest, th, NULL);
    if (sp->k.kind == QEP_VAR_PARAM) grad[sp->k.index] -= sp->k.factor * lam[sp->i] * (mu[sp->i] - r);
    if (sp->rest.kind == QEP_VAR_PARAM) grad[sp->rest.index] += sp->rest.factor * k * lam[sp->i];
  }
  for (PetscInt t = 0; t < q->nforces; t++)
    if (q->forces[t].c.kind == QEP_VAR_PARAM) grad[q->forces[t].c.index] += q->forces[t].c.factor * lam[q->forces[t].i];
}

/* W = V H Vᵀ on the pattern, H_kl = G_kl Σ_o c_o V_ok V_ol with G_kl = −1/(s_k s_l (s_k + s_l)) (the
 * Daleckii–Krein kernel of x^-1/2 in the form of the Sylvester solution) and c_o = ½ (ħ/2) s_o², so
 * that ½ Σ_o dΣ_oo = tr(dD W) for any symmetric change dD of D (masses fixed). */
static PetscErrorCode CovarianceKernel(QepQho q, const QepQhoNumeric *num, const PetscReal w[], const PetscReal V[], const PetscReal s[], PetscReal Wpat[])
{
  PetscInt   n = num->n;
  PetscReal *H, *U, *sq;

  PetscFunctionBegin;
  PetscCall(PetscCalloc3((size_t)n * n, &H, (size_t)n * n, &U, n, &sq));
  for (PetscInt k = 0; k < n; k++) sq[k] = PetscSqrtReal(w[k]);
  for (PetscInt o = 0; o < q->noutputs; o++) {
    PetscInt  i = q->output_mode[o];
    PetscReal c = 0.25 * num->hbar * s[i] * s[i];
    for (PetscInt l = 0; l < n; l++)
      for (PetscInt k = 0; k < n; k++) H[k + l * n] += c * V[i + k * n] * V[i + l * n];
  }
  for (PetscInt l = 0; l < n; l++)
    for (PetscInt k = 0; k < n; k++) H[k + l * n] *= -1.0 / (sq[k] * sq[l] * (sq[k] + sq[l]));
  for (PetscInt l = 0; l < n; l++) /* U = V H (column-major) */
    for (PetscInt k = 0; k < n; k++) {
      PetscReal h = H[k + l * n];
      if (h == 0) continue;
      for (PetscInt a = 0; a < n; a++) U[a + l * n] += V[a + k * n] * h;
    }
  for (PetscInt e = 0; e < num->nk; e++) { /* W_ab = Σ_l U_al V_bl */
    PetscInt  a = num->ki[e], b = num->kj[e];
    PetscReal sum = 0;
    for (PetscInt l = 0; l < n; l++) sum += U[a + l * n] * V[b + l * n];
    Wpat[e] = sum;
  }
  PetscCall(PetscFree3(H, U, sq));
  PetscFunctionReturn(0);
}

/* The covariance part: stiffness θ through tr(S dK S W); mass θ through D and the outer M^-1/2. */
static void CovarianceGradient(QepQho q, const QepQhoNumeric *num, const PetscReal s[], const PetscReal Wpat[], const PetscReal cov[], PetscReal grad[])
{
  PetscInt n = num->n;
  for (PetscInt sidx = 0; sidx < q->nsprings; sidx++) {
    const QepQhoSpring *sp = &q->springs[sidx];
    PetscInt            i = sp->i, j = sp->j, e = q->spring_entry[sidx];
    if (sp->k.kind == QEP_VAR_PARAM) grad[sp->k.index] += sp->k.factor * (s[i] * s[i] * Wpat[i] + s[j] * s[j] * Wpat[j] - 2 * s[i] * s[j] * Wpat[e]);
  }
  for (PetscInt sidx = 0; sidx < q->nground; sidx++) {
    const QepQhoSpring *sp = &q->ground[sidx];
    if (sp->k.kind == QEP_VAR_PARAM) grad[sp->k.index] += sp->k.factor * s[sp->i] * s[sp->i] * Wpat[sp->i];
  }
  for (PetscInt i = 0; i < n; i++) {
    PetscReal DW = num->kval[i] * s[i] * s[i] * Wpat[i], m = num->mass[i];
    PetscInt  nout = 0;
    if (q->mass[i].kind != QEP_VAR_PARAM) continue;
    for (PetscInt e = n; e < num->nk; e++)
      if (num->ki[e] == i || num->kj[e] == i) DW += num->kval[e] * s[num->ki[e]] * s[num->kj[e]] * Wpat[e];
    for (PetscInt o = 0; o < q->noutputs; o++) nout += q->output_mode[o] == i;
    grad[q->mass[i].index] += q->mass[i].factor * (-DW / m - nout * cov[i] / (2 * m));
  }
}

/* Rank 0: loss and exact gradient from the eigen-decomposition of D; status[0] = 1 on success, else λ_min. */
static PetscErrorCode AnalyticOnRoot(QepQhoGradient g, const PetscReal y[], PetscReal *out, PetscReal status[2])
{
  QepQho     q = g->q;
  PetscInt   n = g->n;
  PetscReal *w, *V, *s, *mu, *r, *lam, *tmp, *Wpat, *cov, lmin = PETSC_MAX_REAL, L = 0;

  PetscFunctionBegin;
  PetscCall(QepQhoDenseEigen(&g->num, &w, &V));
  for (PetscInt k = 0; k < n; k++) lmin = PetscMin(lmin, w[k]);
  status[0] = lmin > 0 ? 1 : 0;
  status[1] = lmin;
  if (lmin <= 0) {
    PetscCall(PetscFree2(w, V));
    PetscFunctionReturn(0);
  }
  PetscCall(PetscMalloc6(n, &s, n, &mu, n, &r, n, &lam, n, &tmp, g->nk, &Wpat));
  PetscCall(PetscCalloc1(n, &cov));
  for (PetscInt i = 0; i < n; i++) s[i] = 1.0 / PetscSqrtReal(g->num.mass[i]);
  DenseSolve(n, w, V, s, g->num.force, mu, tmp);
  for (PetscInt i = 0; i < n; i++) r[i] = 0;
  for (PetscInt o = 0; o < g->nout; o++) { /* Σ_oo = (ħ/2) s_o² Σ_k V_ok² w_k^-1/2 */
    PetscInt i = q->output_mode[o];
    cov[i]     = 0;
    for (PetscInt k = 0; k < n; k++) cov[i] += V[i + k * n] * V[i + k * n] / PetscSqrtReal(w[k]);
    cov[i] *= 0.5 * g->num.hbar * s[i] * s[i];
    r[i] += mu[i] - y[o];
  }
  for (PetscInt o = 0; o < g->nout; o++) L += 0.5 * (PetscSqr(mu[q->output_mode[o]] - y[o]) + cov[q->output_mode[o]]);
  DenseSolve(n, w, V, s, r, lam, tmp);
  for (PetscInt k = 0; k < g->np; k++) out[k] = 0;
  MeanAdjointGradient(q, mu, lam, out);
  PetscCall(CovarianceKernel(q, &g->num, w, V, s, Wpat));
  CovarianceGradient(q, &g->num, s, Wpat, cov, out);
  out[g->np] = L;
  PetscCall(PetscFree6(s, mu, r, lam, tmp, Wpat));
  PetscCall(PetscFree(cov));
  PetscCall(PetscFree2(w, V));
  PetscFunctionReturn(0);
}

static PetscErrorCode AnalyticReference(QepQhoGradient g, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscReal   *out, status[2] = {0, 0};
  PetscMPIInt  rank;

  PetscFunctionBegin;
  PetscCheck(g->solver == QEP_QHO_SOLVER_GAUSSIAN, g->comm, PETSC_ERR_SUP, "The exact analytic reference is Gaussian; with -qep_qho_solver fock use -qep_reference fd");
  PetscCall(QepQhoEvaluate(g->q, NULL, x, 0.0, NULL, &g->num));
  for (PetscInt i = 0; i < g->n; i++)
    PetscCheck(g->num.quartic[i] == 0, g->comm, PETSC_ERR_SUP, "The exact analytic reference needs a quadratic network (mode %" PetscInt_FMT " has a quartic term); use -qep_reference fd", i);
  PetscCall(QepCheckMemory(g->comm, 48.0 * g->n * (PetscLogDouble)g->n, "the exact analytic gradient (dense, O(n^3))"));
  PetscCall(PetscCalloc1(g->np + 1, &out));
  PetscCallMPI(MPI_Comm_rank(g->comm, &rank));
  if (rank == 0) PetscCall(AnalyticOnRoot(g, y, out, status));
  PetscCallMPI(MPI_Bcast(status, 2, MPIU_REAL, 0, g->comm));
  PetscCheck(status[0] == 1, g->comm, PETSC_ERR_USER_INPUT,
             "The stiffness matrix is not positive definite (smallest eigenvalue of M^-1/2 K M^-1/2: %g), so the network has no ground state: add springs to the ground (-qep_qho_k0 > 0)",
             (double)status[1]);
  PetscCallMPI(MPI_Bcast(out, (PetscMPIInt)(g->np + 1), MPIU_REAL, 0, g->comm));
  if (g->np) PetscCall(PetscArraycpy(grad, out, g->np));
  if (loss) *loss = out[g->np];
  PetscCall(PetscFree(out));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGradientComputeReference(QepQhoGradient g, QepReferenceType type, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscReal L;

  PetscFunctionBegin;
  PetscCall(QepQhoGradientSetUp(g));
  PetscCall(CheckTargets(g, y));
  if (type == QEP_REFERENCE_LINEAR) PetscCall(AnalyticReference(g, x, y, &L, grad));
  else if (type == QEP_REFERENCE_FD) PetscCall(FiniteDifferences(g, x, y, &L, grad));
  else SETERRQ(g->comm, PETSC_ERR_ARG_WRONG, "Unknown reference type %d; use linear (exact analytic) or fd", (int)type);
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}
