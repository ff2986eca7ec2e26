/* gradient.c — QepGradient: free and nudged ground states and the QEP estimators.
 * One operator holds every string the Hamiltonian and the nudge can touch, so each phase is an in-place
 * coefficient update (hcoef + β nudge) and a warm-started solve; each phase's term expectations come
 * from one pass and one Allreduce, and the gradient from the term → parameter map. */
#include "gradientimpl.h"

const char *const QepEstimators[]     = {"onesided", "centered", "fourpoint", "QepEstimator", "QEP_ESTIMATOR_", NULL};
const char *const QepLossTypes[]      = {"observable", "mse", "xent", "QepLossType", "QEP_LOSS_", NULL};
const char *const QepReferenceTypes[] = {"none", "linear", "fd", "QepReferenceType", "QEP_REFERENCE_", NULL};

void QepEstimatorStencil(QepEstimator e, PetscReal beta, PetscInt *m, PetscReal b[], PetscReal w[], PetscReal *w0)
{
  switch (e) {
  case QEP_ESTIMATOR_ONESIDED:
    *m = 1, b[0] = beta, w[0] = 1 / beta, *w0 = -1 / beta;
    break;
  case QEP_ESTIMATOR_CENTERED:
    *m = 2, b[0] = beta, b[1] = -beta, w[0] = 0.5 / beta, w[1] = -0.5 / beta, *w0 = 0;
    break;
  case QEP_ESTIMATOR_FOURPOINT:
    *m   = 4;
    b[0] = 2 * beta, b[1] = beta, b[2] = -beta, b[3] = -2 * beta;
    w[0] = -1 / (12 * beta), w[1] = 8 / (12 * beta), w[2] = -8 / (12 * beta), w[3] = 1 / (12 * beta);
    *w0  = 0;
    break;
  }
}


#define QEP_DEFAULT_BETA         1e-2
#define QEP_DEFAULT_FD_STEP      1e-4
#define QEP_DEFAULT_WARM_CACHEMB 1024.0 /* memory for per-example warm-start states */
#define QEP_DEFAULT_GAP_EVERY    10 /* a warm solve with the gap costs ~4x one without (Krylov-Schur re-finds E1) */
#define QEP_FREE_LOSS_TOL        1e-8 /* free solves whose state feeds only the loss, outputs, gap and warm starts */

PetscErrorCode QepGradientCreate(QepModel model, QepGradient *grad)
{
  QepGradient g;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&g));
  g->comm          = model->comm;
  g->model         = model;
  g->estimator     = QEP_ESTIMATOR_CENTERED;
  g->loss          = QEP_LOSS_OBSERVABLE;
  g->beta          = QEP_DEFAULT_BETA;
  g->fd_step       = QEP_DEFAULT_FD_STEP;
  g->warm_cache_mb = QEP_DEFAULT_WARM_CACHEMB;
  g->gap_every     = QEP_DEFAULT_GAP_EVERY;
  g->optype        = QEP_OPERATOR_AIJ;
  g->identity      = -1;
  g->stats.gap     = -1;
  g->shot_seed     = 1;
  *grad            = g;
  PetscFunctionReturn(0);
}

static PetscErrorCode ClearCache(QepGradient g)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < g->ncache; i++) {
    PetscCall(VecDestroy(&g->cache[i].psi));
    PetscCall(VecDestroy(&g->cache[i].excited));
  }
  PetscCall(PetscFree(g->cache));
  g->ncache = g->acache = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientDestroy(QepGradient *grad)
{
  QepGradient g = *grad;

  PetscFunctionBegin;
  if (!g) PetscFunctionReturn(0);
  PetscCall(ClearCache(g));
  PetscCall(QepGradientDestroyShots(g));
  PetscCall(PetscFree2(g->se, g->ybuf));
  if (g->setup) PetscCall(QepGradientFreeTermLists(g));
  PetscCall(PetscFree5(g->strings, g->hcoef, g->nudge, g->coef, g->expect));
  PetscCall(QepExpectationDestroy(&g->plan));
  PetscCall(QepExpectationDestroy(&g->plan_loss));
  PetscCall(PetscFree2(g->loss_string, g->loss_expect));
  PetscCall(VecDestroy(&g->psi0));
  PetscCall(QepGroundSolverDestroy(&g->free));
  PetscCall(QepGroundSolverDestroy(&g->nudged));
  PetscCall(QepOperatorDestroy(&g->op));
  PetscCall(PetscFree(*grad));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetEstimator(QepGradient g, QepEstimator e)
{
  PetscFunctionBegin;
  g->estimator = e;
  PetscFunctionReturn(0);
}

static PetscReal DefaultTolerance(PetscReal);
static PetscErrorCode ApplyDefaultTolerance(QepGradient, QepGroundSolver, const char prefix[]);

PetscErrorCode QepGradientSetBeta(QepGradient g, PetscReal beta)
{
  PetscFunctionBegin;
  PetscCheck(beta > 0 && PetscIsNormalReal(beta), g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The nudge strength beta must be a positive number; got %g", (double)beta);
  g->beta = beta;
  if (g->setup) { /* the tolerance derived from beta must follow it */
    PetscCall(ApplyDefaultTolerance(g, g->free, "free_"));
    PetscCall(ApplyDefaultTolerance(g, g->nudged, "nudged_"));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetLoss(QepGradient g, QepLossType loss)
{
  PetscFunctionBegin;
  PetscCheck(!g->setup || loss == g->loss, g->comm, PETSC_ERR_ORDER, "Set the loss before QepGradientSetUp");
  g->loss = loss;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetShots(QepGradient g, PetscInt64 nshots, PetscInt64 seed)
{
  PetscFunctionBegin;
  PetscCheck(nshots >= 0, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The number of shots must be positive (or 0 for exact expectations); got %" PetscInt64_FMT, nshots);
  PetscCheck(!g->setup || (nshots > 0) == (g->nshots > 0), g->comm, PETSC_ERR_ORDER, "Switch between exact and shot expectations before QepGradientSetUp");
  g->nshots    = nshots;
  g->shot_seed = seed;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetShots(QepGradient g, PetscInt64 *nshots, PetscInt64 *seed)
{
  PetscFunctionBegin;
  if (nshots) *nshots = g->nshots;
  if (seed) *seed = g->shot_seed;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetShotStream(QepGradient g, PetscInt64 stream)
{
  PetscFunctionBegin;
  g->shot_stream = stream;
  g->stream_set  = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetMeasurementPlan(QepGradient g, PetscInt *nsettings, PetscInt *nphases, PetscInt64 *shots)
{
  PetscInt ns = 0, np = 0;

  PetscFunctionBegin;
  PetscCall(QepGradientSetUp(g));
  if (g->meas) PetscCall(QepMeasurementGetNumSettings(g->meas, &ns));
  {
    PetscReal b[QEP_MAX_STENCIL], w[QEP_MAX_STENCIL], w0;
    QepEstimatorStencil(g->estimator, g->beta, &np, b, w, &w0);
    np += 1; /* the free phase is measured too */
  }
  if (nsettings) *nsettings = ns;
  if (nphases) *nphases = np;
  if (shots) *shots = g->nshots * ns * np;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetMeasuredStrings(QepGradient g, PetscInt *n, const QepPauli **strings)
{
  PetscFunctionBegin;
  PetscCall(QepGradientSetUp(g));
  PetscCheck(g->meas, g->comm, PETSC_ERR_ORDER, "No measured strings: set -qep_shots N > 0 before QepGradientSetUp");
  *n = g->nmeasured;
  if (strings) *strings = g->measured_strings;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetStandardErrors(QepGradient g, PetscReal se[])
{
  PetscFunctionBegin;
  PetscCheck(g->setup, g->comm, PETSC_ERR_ORDER, "Compute a gradient first");
  PetscCall(PetscArraycpy(se, g->se, g->nparams));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetFDStep(QepGradient g, PetscReal h)
{
  PetscFunctionBegin;
  PetscCheck(h > 0 && PetscIsNormalReal(h), g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The finite-difference step must be positive; got %g", (double)h);
  g->fd_step = h;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetFromOptions(QepGradient g)
{
  PetscReal  beta = g->beta, h = g->fd_step;
  PetscInt   nshots = (PetscInt)g->nshots, seed = (PetscInt)g->shot_seed; /* PetscOptionsInt: 32-bit in the default build */

  PetscFunctionBegin;
  PetscOptionsBegin(g->comm, NULL, "QEP gradient options", "QepGradient");
  PetscCall(PetscOptionsEnum("-qep_estimator", "QEP estimator of dL/dtheta", "QepGradientSetEstimator", QepEstimators, (PetscEnum)g->estimator, (PetscEnum *)&g->estimator, NULL));
  PetscCall(PetscOptionsReal("-qep_beta", "Nudge strength beta (> 0)", "QepGradientSetBeta", beta, &beta, NULL));
  PetscCall(PetscOptionsEnum("-qep_loss", "Loss: observable (cost observable C), mse or xent (error-signal nudge)", "QepGradientSetLoss", QepLossTypes, (PetscEnum)g->loss,
                             (PetscEnum *)&g->loss, NULL));
  PetscCall(PetscOptionsReal("-qep_fd_step", "Step of the finite-difference reference", "QepGradientSetFDStep", h, &h, NULL));
  PetscCall(PetscOptionsReal("-qep_warm_cache_mb", "Memory (MiB, whole state) for per-example warm-start states", "QepGradientCompute", g->warm_cache_mb, &g->warm_cache_mb, NULL));
  PetscCall(PetscOptionsInt("-qep_gap_every", "Recompute an example's gap (degeneracy check) on every K-th free solve of it; 1 = always", "QepGradientCompute", g->gap_every,
                            &g->gap_every, NULL));
  PetscCall(PetscOptionsEnum("-qep_operator", "Hamiltonian storage: aij or shell", "QepOperatorSetType", QepOperatorTypes, (PetscEnum)g->optype, (PetscEnum *)&g->optype, NULL));
  PetscCall(PetscOptionsInt("-qep_shots", "Shots per measurement setting and phase (0: exact expectations)", "QepGradientSetShots", nshots, &nshots, NULL));
  PetscCall(PetscOptionsInt("-qep_shot_seed", "Seed of the shot sampling", "QepGradientSetShots", seed, &seed, NULL));
  PetscOptionsEnd();
  PetscCall(QepGradientSetShots(g, nshots, seed));
  PetscCall(QepGradientSetBeta(g, beta));
  PetscCall(QepGradientSetFDStep(g, h));
  PetscCheck(g->gap_every >= 1, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_gap_every must be >= 1, got %" PetscInt_FMT, g->gap_every);
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetSettings(QepGradient g, QepEstimator *e, PetscReal *beta, QepLossType *loss)
{
  PetscFunctionBegin;
  if (e) *e = g->estimator;
  if (beta) *beta = g->beta;
  if (loss) *loss = g->loss;
  PetscFunctionReturn(0);
}

/* Default eigensolver tolerance: the estimator divides expectation differences by β, and an
 * expectation value errs by about the relative residual, so the residual must be ≪ β. */
static PetscReal DefaultTolerance(PetscReal beta) { return PetscMin(1e-10, 1e-8 * beta); }

/* The derived tolerance, unless the user set -<prefix>eps_tol. */
static PetscErrorCode ApplyDefaultTolerance(QepGradient g, QepGroundSolver s, const char prefix[])
{
  PetscBool user;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasName(NULL, prefix, "-eps_tol", &user));
  if (!user) PetscCall(QepGroundSolverSetTolerances(s, DefaultTolerance(g->beta), PETSC_DEFAULT));
  PetscFunctionReturn(0);
}

static PetscErrorCode CreateSolver(QepGradient g, const char prefix[], PetscBool gap, QepGroundSolver *s)
{
  Mat A;

  PetscFunctionBegin;
  PetscCall(QepOperatorGetMat(g->op, &A));
  PetscCall(QepGroundSolverCreate(g->comm, s));
  PetscCall(QepGroundSolverSetOptionsPrefix(*s, prefix));
  PetscCall(QepGroundSolverSetOperator(*s, A));
  PetscCall(QepGroundSolverSetComputeGap(*s, gap));
  PetscCall(QepGroundSolverSetTolerances(*s, DefaultTolerance(g->beta), PETSC_DEFAULT));
  PetscCall(QepGroundSolverSetFromOptions(*s));
  PetscFunctionReturn(0);
}

/* The free phase's plan: the identity and the strings of the outputs and their squares. With an
 * estimator that does not weigh g(0) (centred, four-point) the free state needs nothing else, and
 * the single-X flip groups of a transverse-field model are most of an expectation's cost. */
static PetscErrorCode SetUpLossPlan(QepGradient g)
{
  PetscBool *used;
  QepPauli  *strings;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(g->nstrings, &used));
  if (g->identity >= 0) used[g->identity] = PETSC_TRUE;
  for (PetscInt o = 0; o < g->noutputs; o++) {
    for (PetscInt i = 0; i < g->outputs[o].n; i++) used[g->outputs[o].string[i]] = PETSC_TRUE;
    for (PetscInt i = 0; i < g->squares[o].n; i++) used[g->squares[o].string[i]] = PETSC_TRUE;
  }
  g->nloss = 0;
  for (PetscInt t = 0; t < g->nstrings; t++) g->nloss += used[t] ? 1 : 0;
  PetscCall(PetscMalloc2(g->nloss, &g->loss_string, g->nloss, &g->loss_expect));
  PetscCall(PetscMalloc1(g->nloss, &strings));
  for (PetscInt t = 0, i = 0; t < g->nstrings; t++)
    if (used[t]) g->loss_string[i] = t, strings[i++] = g->strings[t];
  PetscCall(QepExpectationCreate(g->psi0, g->nloss, strings, &g->plan_loss));
  PetscCall(PetscFree(strings));
  PetscCall(PetscFree(used));
  PetscFunctionReturn(0);
}

/* The free phase's expectations: the loss strings; every other entry is NaN until a phase that
 * needs it (g(0) of the one-sided estimator) computes them, so a stale read cannot go unnoticed. */
static PetscErrorCode FreeExpectations(QepGradient g)
{
  PetscFunctionBegin;
  PetscCall(QepExpectationCompute(g->plan_loss, g->psi0, g->loss_expect));
  for (PetscInt t = 0; t < g->nstrings; t++) g->expect[t] = NAN;
  for (PetscInt i = 0; i < g->nloss; i++) g->expect[g->loss_string[i]] = g->loss_expect[i];
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetUp(QepGradient g)
{
  QepPauliSum     all;
  const QepPauli *ms;
  PetscInt        n;

  PetscFunctionBegin;
  if (g->setup) PetscFunctionReturn(0);
  PetscCall(QepModelGetNumQubits(g->model, &n));
  PetscCall(QepModelGetStrings(g->model, &g->nh, &ms));
  PetscCall(QepModelGetNumParameters(g->model, &g->nparams));
  PetscCall(QepPauliSumInit(&all));
  for (PetscInt t = 0; t < g->nh; t++) PetscCall(QepPauliSumAdd(&all, ms[t], 0)); /* distinct: indices kept */
  PetscCall(QepGradientCollectStrings(g, &all));
  g->nstrings = all.n;
  PetscCall(PetscMalloc5(all.n, &g->strings, all.n, &g->hcoef, all.n, &g->nudge, all.n, &g->coef, all.n, &g->expect));
  PetscCall(PetscArraycpy(g->strings, all.strings, all.n));
  PetscCall(PetscArrayzero(g->hcoef, all.n));
  PetscCall(QepPauliSumFree(&all));

  PetscCall(QepOperatorCreate(g->comm, &g->op));
  PetscCall(QepOperatorSetType(g->op, g->optype));
  PetscCall(QepOperatorSetStrings(g->op, n, g->nstrings, g->strings));
  PetscCall(QepOperatorSetCoefficients(g->op, g->hcoef));
  PetscCall(CreateSolver(g, "free_", PETSC_TRUE, &g->free));
  PetscCall(PetscOptionsHasName(NULL, "free_", "-eps_tol", &g->free_tol_user));
  PetscCall(CreateSolver(g, "nudged_", PETSC_FALSE, &g->nudged));
  PetscCall(QepOperatorCreateVec(g->op, &g->psi0));
  PetscCall(QepGroundSolverGetComputeGap(g->free, &g->gap_wanted));
  PetscCall(QepExpectationCreate(g->psi0, g->nstrings, g->strings, &g->plan));
  PetscCall(SetUpLossPlan(g));
  PetscCall(PetscCalloc2(g->nparams, &g->se, g->noutputs + 1, &g->ybuf));
  PetscCall(QepGradientSetUpShots(g));
  g->setup = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientParameterSums(QepGradient g, const PetscReal values[], PetscReal out[])
{
  PetscInt           nc;
  const QepCoupling *c;

  PetscFunctionBegin;
  PetscCall(QepModelGetCouplings(g->model, &nc, &c));
  PetscCall(PetscArrayzero(out, g->nparams));
  for (PetscInt i = 0; i < nc; i++)
    if (c[i].kind == QEP_VAR_PARAM) out[c[i].index] += c[i].factor * values[c[i].string];
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetInputs(QepGradient g, const PetscReal x[])
{
  PetscInt ninputs;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumInputs(g->model, &ninputs));
  PetscCheck(!ninputs || x, g->comm, PETSC_ERR_USER_INPUT, "The model has %" PetscInt_FMT " input features but no inputs were given", ninputs);
  for (PetscInt i = 0; i < ninputs; i++) PetscCheck(!PetscIsInfOrNanReal(x[i]), g->comm, PETSC_ERR_USER_INPUT, "Input feature x%" PetscInt_FMT " is not a finite number", i);
  PetscCall(QepModelComputeCoefficients(g->model, NULL, x, g->hcoef));
  PetscFunctionReturn(0);
}

/* A sentence naming a parity symmetry H has at these coefficients, for the degeneracy error. */
static PetscErrorCode SymmetryHint(QepGradient g, char hint[], size_t len)
{
  PetscBool flipx = PETSC_TRUE, flipz = PETSC_TRUE;

  PetscFunctionBegin;
  for (PetscInt t = 0; t < g->nh; t++) {
    if (g->hcoef[t] == 0) continue;
    if (__builtin_popcountll(g->strings[t].z) % 2) flipx = PETSC_FALSE; /* anticommutes with Π X */
    if (__builtin_popcountll(g->strings[t].x) % 2) flipz = PETSC_FALSE; /* anticommutes with Π Z */
  }
  hint[0] = 0;
  if (flipx)
    snprintf(hint, len, "H commutes with the global spin flip ΠX (every term has an even number of Z/Y factors), e.g. a Z2-symmetric Ising model "
                        "without longitudinal field; in its ordered phase the two symmetry sectors hold (nearly) degenerate ground states. ");
  else if (flipz)
    snprintf(hint, len, "H commutes with the parity ΠZ (every term has an even number of X/Y factors), whose sectors can hold degenerate ground states. ");
  PetscFunctionReturn(0);
}

static PetscErrorCode AccountSolve(QepGradient g, QepGroundSolver s, PetscBool free)
{
  QepSolveStats st;

  PetscFunctionBegin;
  PetscCall(QepGroundSolverGetStats(s, &st));
  if (free) {
    g->stats.free_solves++;
    g->stats.free_matvecs += st.matvecs;
    g->stats.time_free += st.time;
    g->stats.gap    = st.gap;
    g->stats.energy = st.energy;
  } else {
    g->stats.nudged_solves++;
    g->stats.nudged_matvecs += st.matvecs;
    g->stats.time_nudged += st.time;
  }
  PetscFunctionReturn(0);
}

/* Relative tolerance of a free solve. A one-sided estimator differences the free state's
 * expectations with the nudged ones, and the references (finite differences, linear response)
 * differentiate them, so those need the nudged tolerance (≪ β). The free phase of a centred or
 * four-point gradient only yields the loss, the outputs (an error-signal nudge), the gap and the
 * start vectors of the nudged phases, whose own solves converge to their tolerance: relative 1e-8
 * is ample there and saves a third of the free solve. A user's -free_eps_tol always wins. */
static PetscErrorCode SetFreeTolerance(QepGradient g, PetscBool loss_only)
{
  PetscReal tol = DefaultTolerance(g->beta);

  PetscFunctionBegin;
  if (g->free_tol_user) PetscFunctionReturn(0);
  if (loss_only && g->estimator != QEP_ESTIMATOR_ONESIDED) tol = PetscMax(tol, QEP_FREE_LOSS_TOL);
  PetscCall(QepGroundSolverSetTolerances(g->free, tol, PETSC_DEFAULT));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientFreeSolve(QepGradient g, Vec warm, Vec warm_excited, PetscBool gap, PetscBool loss_only)
{
  char hint[512];
  Vec  psi, start[2] = {warm, warm_excited};

  PetscFunctionBegin;
  PetscCall(SetFreeTolerance(g, loss_only));
  PetscCall(SymmetryHint(g, hint, sizeof(hint)));
  PetscCall(QepGroundSolverSetDegeneracyHint(g->free, hint));
  PetscCall(QepGroundSolverSetComputeGap(g->free, gap && g->gap_wanted ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(QepOperatorSetCoefficients(g->op, g->hcoef));
  PetscCall(QepGroundSolverSetInitialSpace(g->free, warm ? (warm_excited && gap ? 2 : 1) : 0, start));
  g->free_valid = PETSC_FALSE;
  PetscCall(QepGroundSolverSolve(g->free));
  PetscCall(AccountSolve(g, g->free, PETSC_TRUE));
  PetscCall(QepGroundSolverGetState(g->free, &psi));
  PetscCall(VecCopy(psi, g->psi0));
  PetscCall(FreeExpectations(g));
  QepGradientOutputValues(g);
  g->energy0    = g->stats.energy;
  g->free_valid = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Whether an example's entry also keeps its excited state (the warm start of its next gap solve).
 * Only Lanczos gap solves gain from it: a warm Krylov-Schur solve restarts from the ground state. */
static PetscErrorCode CachesExcited(QepGradient g, PetscBool *flg)
{
  QepEigensolverType method;

  PetscFunctionBegin;
  PetscCall(QepGroundSolverGetEigensolver(g->free, &method));
  *flg = g->gap_wanted && method == QEP_EIGENSOLVER_LANCZOS ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* The example's warm-start entry, created (within the memory budget) when absent; NULL if none. */
static PetscErrorCode CacheEntry(QepGradient g, PetscInt example, QepWarmEntry **entry)
{
  PetscInt  N;
  PetscBool excited = PETSC_FALSE;

  PetscFunctionBegin;
  *entry = NULL;
  if (example < 0) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < g->ncache; i++)
    if (g->cache[i].id == example) {
      *entry = &g->cache[i];
      PetscFunctionReturn(0);
    }
  PetscCall(VecGetSize(g->psi0, &N));
  PetscCall(CachesExcited(g, &excited));
  if ((g->ncache + 1) * (excited ? 2 : 1) * (PetscReal)N * sizeof(PetscScalar) > g->warm_cache_mb * 1048576.0) PetscFunctionReturn(0);
  if (g->ncache == g->acache) {
    g->acache = g->acache ? 2 * g->acache : 16;
    PetscCall(PetscRealloc(sizeof(QepWarmEntry) * (size_t)g->acache, &g->cache));
  }
  *entry = &g->cache[g->ncache++];
  (*entry)->id     = example;
  (*entry)->gap    = -1;
  (*entry)->visits = 0;
  (*entry)->excited = NULL;
  PetscCall(VecDuplicate(g->psi0, &(*entry)->psi));
  PetscFunctionReturn(0);
}

/* QEP assumes the nudge is a small perturbation: β‖C'‖ (identity part excluded: it moves no state)
 * must stay below the gap, or the nudged ground state may come from another level and the
 * estimate is meaningless. A quasi-degenerate ground state fails here with the symmetry hint. */
static PetscErrorCode CheckNudgeAgainstGap(QepGradient g)
{
  PetscReal norm = 0, bmax = QepEstimatorLargestNudge(g->estimator, g->beta);
  char      hint[512];

  PetscFunctionBegin;
  if (g->stats.gap < 0) PetscFunctionReturn(0); /* gap not computed (-free_qep_gap false) */
  for (PetscInt t = 0; t < g->nstrings; t++)
    if (t != g->identity) norm += PetscAbsReal(g->nudge[t]);
  if (bmax * norm <= g->stats.gap) PetscFunctionReturn(0);
  PetscCall(SymmetryHint(g, hint, sizeof(hint)));
  SETERRQ(g->comm, PETSC_ERR_CONV_FAILED,
          "The ground state is (nearly) degenerate for this nudge: gap E1 - E0 = %.3e is below the largest nudge beta*||C'|| = %.3e (beta = %g), so the "
          "nudged ground state is not a small perturbation of the free one and the QEP gradient is undefined. %sLower -qep_beta, or break the symmetry "
          "(e.g. a longitudinal field)",
          (double)g->stats.gap, (double)(bmax * norm), (double)bmax, hint);
}

/* Shot mode: the free phase's expectations (and so the outputs, the loss and any error signal)
 * become shot means. */
static PetscErrorCode MeasureFree(QepGradient g)
{
  PetscFunctionBegin;
  PetscCall(QepGradientMeasurePhase(g, g->psi0, g->shot_stream, 0));
  QepGradientOutputValues(g);
  PetscFunctionReturn(0);
}

/* After a gap solve: the excited state warm-starts the example's next one (CachesExcited). */
static PetscErrorCode KeepExcitedState(QepGradient g, QepWarmEntry *e)
{
  PetscBool keep = PETSC_FALSE;
  Vec       excited;

  PetscFunctionBegin;
  PetscCall(CachesExcited(g, &keep));
  if (!keep) PetscFunctionReturn(0);
  PetscCall(QepGroundSolverGetExcitedState(g->free, &excited));
  if (!e->excited) PetscCall(VecDuplicate(excited, &e->excited));
  PetscCall(VecCopy(excited, e->excited));
  PetscFunctionReturn(0);
}

/* Free solve of one example, warm-started from its previous free state, then the nudge and the
 * loss. The gap (a second eigenpair, which a warm Krylov-Schur solve must find afresh) is computed
 * on the example's first solve and every gap_every-th one; in between its last gap serves the
 * degeneracy check. */
static PetscErrorCode FreePhase(QepGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscBool measure, PetscReal *loss)
{
  QepWarmEntry *e;
  PetscBool     gap, warm;

  PetscFunctionBegin;
  PetscCall(QepGradientSetUp(g));
  PetscCall(QepGradientCheckTargets(g, y));
  PetscCall(QepGradientSetInputs(g, x));
  PetscCall(CacheEntry(g, example, &e));
  warm = (e && e->visits > 0) ? PETSC_TRUE : PETSC_FALSE;
  gap  = (!e || e->gap < 0 || e->visits % g->gap_every == 0) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(QepGradientFreeSolve(g, warm ? e->psi : NULL, warm ? e->excited : NULL, gap, PETSC_TRUE));
  if (e) {
    if (g->stats.gap >= 0) {
      e->gap = g->stats.gap;
      PetscCall(KeepExcitedState(g, e));
    } else g->stats.gap = e->gap; /* not recomputed this time */
    e->visits++;
    PetscCall(VecCopy(g->psi0, e->psi));
  }
  if (measure && g->nshots) PetscCall(MeasureFree(g));
  PetscCall(QepGradientBuildNudge(g, y, loss));
  PetscCall(CheckNudgeAgainstGap(g));
  PetscFunctionReturn(0);
}

/* Warm start of phase j. Phase 0 starts from the free state. Later phases extrapolate linearly
 * through the free state (β = 0) and the previous phase's state (β_p): ψ(β) = ψ0 + β ψ1 + O(β²), so
 * ψ0 + (β/β_p)(ψ_p - ψ0) errs by O(β β_p) instead of O(β): e.g. 2ψ0 - ψ(β) for -β. The previous
 * state's arbitrary sign (phase) is first aligned with ψ0. */
static PetscErrorCode NudgedStart(QepGradient g, PetscInt j, PetscReal beta)
{
  Vec         prev;
  PetscScalar d;
  PetscReal   r, ad;

  PetscFunctionBegin;
  if (j == 0) {
    PetscCall(QepGroundSolverSetInitialVector(g->nudged, g->psi0));
    PetscFunctionReturn(0);
  }
  PetscCall(QepGroundSolverGetState(g->nudged, &prev));
  PetscCall(VecDot(prev, g->psi0, &d)); /* psi0^H prev */
  ad = PetscAbsScalar(d);
  r  = beta / g->sb[j - 1];
  if (ad < 0.5) { /* the previous phase is far from the free state: no useful extrapolation */
    PetscCall(QepGroundSolverSetInitialVector(g->nudged, g->psi0));
    PetscFunctionReturn(0);
  }
  PetscCall(QepGroundSolverSetInitialCombination(g->nudged, r * PetscConj(d) / ad, prev, 1.0 - r, g->psi0));
  PetscFunctionReturn(0);
}

/* Every phase writes its own coefficients before solving (FreeSolve: hcoef; here: hcoef + β nudge),
 * so nothing needs to restore the operator afterwards. */
/* g(β) for one nudge strength: coefficients hcoef + β nudge, warm start from the free state. */
/* Phase j of the stencil: shot mode keeps its state (for Remeasure) and measures it. */
static PetscErrorCode NudgedPhase(QepGradient g, PetscInt j, PetscReal beta, PetscReal gbeta[])
{
  Vec psi;

  PetscFunctionBegin;
  for (PetscInt t = 0; t < g->nstrings; t++) g->coef[t] = g->hcoef[t] + beta * g->nudge[t];
  PetscCall(QepOperatorSetCoefficients(g->op, g->coef));
  PetscCall(NudgedStart(g, j, beta));
  PetscCall(QepGroundSolverSolve(g->nudged));
  PetscCall(AccountSolve(g, g->nudged, PETSC_FALSE));
  PetscCall(QepGroundSolverGetState(g->nudged, &psi));
  if (g->nshots) {
    if (!g->phase_psi[j]) PetscCall(VecDuplicate(psi, &g->phase_psi[j]));
    PetscCall(VecCopy(psi, g->phase_psi[j]));
    PetscCall(QepGradientMeasurePhase(g, psi, g->shot_stream, j + 1));
  } else PetscCall(QepExpectationCompute(g->plan, psi, g->expect));
  PetscCall(QepGradientParameterSums(g, g->expect, gbeta));
  PetscFunctionReturn(0);
}


/* The stream of this Compute's shots: the one set by SetShotStream, else a call counter. */
static void NextStream(QepGradient g)
{
  if (!g->stream_set) g->shot_stream = g->calls;
  g->stream_set = PETSC_FALSE;
  g->calls++;
}

/* w_p² Var(g_p) summed over the phases of the stencil: the variance of the shot gradient given the nudge. */
static void AddPhaseVariance(QepGradient g, PetscReal weight)
{
  if (!g->nshots) return;
  for (PetscInt k = 0; k < g->nparams; k++) g->se[k] += weight * weight * g->phase_var[k];
}

/* grad = w0 g(0) + Σ_j w_j g(β_j), the nudged phases solved (solve = TRUE) or only re-measured. */
static PetscErrorCode ApplyStencil(QepGradient g, PetscBool solve, PetscReal grad[])
{
  PetscReal *gb;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(g->nparams, &gb));
  PetscCall(PetscArrayzero(g->se, g->nparams));
  PetscCall(PetscArrayzero(grad, g->nparams));
  if (g->sw0 != 0) { /* g(0): shot means of the free phase, or exact values of every string */
    if (!g->nshots) PetscCall(QepExpectationCompute(g->plan, g->psi0, g->expect));
    PetscCall(QepGradientParameterSums(g, g->expect, gb));
    for (PetscInt k = 0; k < g->nparams; k++) grad[k] = g->sw0 * gb[k];
    AddPhaseVariance(g, g->sw0);
  }
  for (PetscInt j = 0; j < g->nstencil; j++) {
    if (solve) PetscCall(NudgedPhase(g, j, g->sb[j], gb));
    else {
      PetscCall(QepGradientMeasurePhase(g, g->phase_psi[j], g->shot_stream, j + 1));
      PetscCall(QepGradientParameterSums(g, g->expect, gb));
    }
    for (PetscInt k = 0; k < g->nparams; k++) grad[k] += g->sw[j] * gb[k];
    AddPhaseVariance(g, g->sw[j]);
  }
  for (PetscInt k = 0; k < g->nparams; k++) g->se[k] = PetscSqrtReal(g->se[k]);
  PetscCall(PetscFree(gb));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientCompute(QepGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscReal L;

  PetscFunctionBegin;
  PetscCall(QepGradientSetUp(g));
  NextStream(g);
  PetscCall(FreePhase(g, example, x, y, PETSC_TRUE, &L));
  QepEstimatorStencil(g->estimator, g->beta, &g->nstencil, g->sb, g->sw, &g->sw0);
  if (y && g->noutputs) PetscCall(PetscArraycpy(g->ybuf, y, g->noutputs));
  PetscCall(ApplyStencil(g, PETSC_TRUE, grad));
  g->have_phases = g->nshots ? PETSC_TRUE : PETSC_FALSE;
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}

/* New shots on the states of the last Compute, without new solves when the nudge does not depend on
 * the free shots (observable loss); error-signal losses re-solve the nudged phases for the new nudge. */
PetscErrorCode QepGradientRemeasure(QepGradient g, PetscInt64 stream, PetscReal *loss, PetscReal grad[])
{
  PetscReal  L;
  const PetscReal *y = g->noutputs ? g->ybuf : NULL;

  PetscFunctionBegin;
  PetscCheck(g->have_phases && g->free_valid, g->comm, PETSC_ERR_ORDER, "Remeasure needs a previous QepGradientCompute in shot mode (-qep_shots N > 0)");
  PetscCall(QepGradientSetShotStream(g, stream));
  NextStream(g);
  PetscCall(MeasureFree(g));
  PetscCall(QepGradientBuildNudge(g, y, &L));
  PetscCall(CheckNudgeAgainstGap(g));
  PetscCall(ApplyStencil(g, g->loss == QEP_LOSS_OBSERVABLE ? PETSC_FALSE : PETSC_TRUE, grad));
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientComputeLoss(QepGradient g, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal out[])
{
  PetscReal L;

  PetscFunctionBegin;
  PetscCall(FreePhase(g, example, x, y, PETSC_FALSE, &L)); /* exact: evaluation monitors the true loss */
  g->have_phases = PETSC_FALSE;
  if (loss) *loss = L;
  if (out && g->noutputs) PetscCall(PetscArraycpy(out, g->outval, g->noutputs));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientComputeReference(QepGradient g, QepReferenceType type, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscFunctionBegin;
  PetscCall(QepGradientSetUp(g));
  PetscCall(QepGradientCheckTargets(g, y));
  if (type == QEP_REFERENCE_LINEAR) PetscCall(QepGradientLinearResponse(g, x, y, loss, grad));
  else if (type == QEP_REFERENCE_FD) PetscCall(QepGradientFiniteDifferences(g, x, y, loss, grad));
  else SETERRQ(g->comm, PETSC_ERR_ARG_WRONG, "Unknown reference type %d; use linear or fd", (int)type);
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetOutputs(QepGradient g, PetscReal out[])
{
  PetscFunctionBegin;
  PetscCheck(g->free_valid, g->comm, PETSC_ERR_ORDER, "No free state yet: compute a gradient or a loss first");
  if (g->noutputs) PetscCall(PetscArraycpy(out, g->outval, g->noutputs));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientGetStats(QepGradient g, QepGradientStats *stats)
{
  PetscFunctionBegin;
  *stats = g->stats;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientResetStats(QepGradient g)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(&g->stats, sizeof(g->stats)));
  g->stats.gap = -1;
  PetscFunctionReturn(0);
}
