/* solver.c — QepGroundSolver: ground states by SLEPc or by qep's Lanczos (src/lanczos.c, SLEPc
 * finishing what it cannot), with warm start, gap check and statistics.
 * Invariant: after a successful Solve, `state` holds a unit-norm eigenvector of the lowest converged
 * eigenvalue and stats describe that solve; a failed Solve (not converged, degenerate) returns an
 * error and never leaves a state marked valid. The cold initial vector depends only on the seed and
 * the global index, so every rank count starts from the same vector. */
#include "qepimpl.h"
#include <slepceps.h>

#define QEP_DEFAULT_EPS_TOL 1e-10 /* tight enough that energies agree across rank counts to ~1e-12 */
#define QEP_DEFAULT_GAP_TOL 1e-8  /* relative to max(1,|E0|): below it the ground state is degenerate */
#define QEP_DEFAULT_EXCITED_TOL 1e-6 /* Lanczos excited state: E1 errs by ~(1e-6 |E1|)^2 / (E2 - E1) */
#define QEP_EXCITED_MIX         1e-2 /* weight of the cold start mixed into a warm excited start */

const char *const QepEigensolverTypes[] = {"eps", "lanczos", "QepEigensolverType", "QEP_EIGENSOLVER_", NULL};

struct _p_QepGroundSolver {
  MPI_Comm           comm;
  QepEigensolverType method;
  QepLanczos         lanczos;
  PetscReal          lanczos_mib; /* per-rank memory for stored Lanczos vectors */
  PetscInt           lanczos_maxit;
  PetscInt           fallbacks; /* Lanczos solves finished by the EPS */
  EPS                eps;
  Mat           A;
  Vec           init[2]; /* warm-start vectors (owned copies): ninit of them, or none */
  PetscInt      ninit;
  Vec           state;   /* last ground state */
  Vec           excited; /* last first excited state (when the gap is computed) */
  char         *prefix;
  char         *hint; /* appended to the degeneracy error */
  PetscBool     compute_gap, valid;
  PetscReal     gap_tol, excited_tol;
  PetscInt64    seed;
  QepSolveStats stats;
};

PetscErrorCode QepGroundSolverCreate(MPI_Comm comm, QepGroundSolver *solver)
{
  QepGroundSolver s;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&s));
  s->comm    = comm;
  s->gap_tol = QEP_DEFAULT_GAP_TOL;
  s->excited_tol = QEP_DEFAULT_EXCITED_TOL;
  s->seed    = 20260101;
  s->method        = QEP_EIGENSOLVER_EPS;
  s->lanczos_mib   = 8; /* stores the basis of small states only: first touches of fresh vectors cost about a matvec each */
  s->lanczos_maxit = 2000;
  PetscCall(EPSCreate(comm, &s->eps));
  PetscCall(EPSSetType(s->eps, EPSKRYLOVSCHUR));
  PetscCall(EPSSetProblemType(s->eps, EPS_HEP));
  PetscCall(EPSSetWhichEigenpairs(s->eps, EPS_SMALLEST_REAL));
  PetscCall(EPSSetTolerances(s->eps, QEP_DEFAULT_EPS_TOL, PETSC_DEFAULT));
  PetscCall(EPSSetDimensions(s->eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
  *solver = s;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverDestroy(QepGroundSolver *solver)
{
  PetscFunctionBegin;
  if (!*solver) PetscFunctionReturn(0);
  PetscCall(EPSDestroy(&(*solver)->eps));
  PetscCall(QepLanczosDestroy(&(*solver)->lanczos));
  PetscCall(VecDestroy(&(*solver)->init[0]));
  PetscCall(VecDestroy(&(*solver)->init[1]));
  PetscCall(VecDestroy(&(*solver)->state));
  PetscCall(VecDestroy(&(*solver)->excited));
  PetscCall(PetscFree((*solver)->prefix));
  PetscCall(PetscFree((*solver)->hint));
  PetscCall(PetscFree(*solver));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetOptionsPrefix(QepGroundSolver s, const char prefix[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(s->prefix));
  if (prefix) PetscCall(PetscStrallocpy(prefix, &s->prefix));
  PetscCall(EPSSetOptionsPrefix(s->eps, prefix));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetOperator(QepGroundSolver s, Mat A)
{
  PetscFunctionBegin;
  s->A     = A;
  s->valid = PETSC_FALSE;
  PetscCall(EPSSetOperators(s->eps, A, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetTolerances(QepGroundSolver s, PetscReal tol, PetscInt maxit)
{
  PetscFunctionBegin;
  PetscCheck(tol == (PetscReal)PETSC_DEFAULT || (tol > 0 && tol < 1), s->comm, PETSC_ERR_ARG_OUTOFRANGE, "Eigensolver tolerance %g must lie in (0,1)", (double)tol);
  PetscCall(EPSSetTolerances(s->eps, tol, maxit));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetComputeGap(QepGroundSolver s, PetscBool flg)
{
  PetscFunctionBegin;
  s->compute_gap = flg;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetComputeGap(QepGroundSolver s, PetscBool *flg)
{
  PetscFunctionBegin;
  *flg = s->compute_gap;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetGapTolerance(QepGroundSolver s, PetscReal tol)
{
  PetscFunctionBegin;
  PetscCheck(tol >= 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "Gap tolerance %g must be >= 0", (double)tol);
  s->gap_tol = tol;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetDegeneracyHint(QepGroundSolver s, const char hint[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(s->hint));
  if (hint) PetscCall(PetscStrallocpy(hint, &s->hint));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetSeed(QepGroundSolver s, PetscInt64 seed)
{
  PetscFunctionBegin;
  s->seed = seed;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetEigensolver(QepGroundSolver s, QepEigensolverType method)
{
  PetscFunctionBegin;
  PetscCheck(method == QEP_EIGENSOLVER_EPS || method == QEP_EIGENSOLVER_LANCZOS, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown eigensolver %d: use eps or lanczos", (int)method);
  s->method = method;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetEigensolver(QepGroundSolver s, QepEigensolverType *method)
{
  PetscFunctionBegin;
  *method = s->method;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetFallbackCount(QepGroundSolver s, PetscInt *count)
{
  PetscFunctionBegin;
  *count = s->fallbacks;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetFromOptions(QepGroundSolver s)
{
  PetscInt seed = (PetscInt)s->seed;

  PetscFunctionBegin;
  PetscOptionsBegin(s->comm, s->prefix, "QEP ground-state solver options", "QepGroundSolver");
  PetscCall(PetscOptionsBool("-qep_gap", "Also compute the first excited state and check the gap", "QepGroundSolverSetComputeGap", s->compute_gap, &s->compute_gap, NULL));
  PetscCall(PetscOptionsReal("-qep_gap_tol", "Degenerate if E1-E0 < gap_tol*max(1,|E0|)", "QepGroundSolverSetGapTolerance", s->gap_tol, &s->gap_tol, NULL));
  PetscCall(PetscOptionsReal("-qep_excited_tol", "Lanczos: relative residual of the excited state of a gap solve (the ground state's -eps_tol when larger; E1 errs by about its square)", "QepGroundSolverSetFromOptions", s->excited_tol, &s->excited_tol, NULL));
  PetscCall(PetscOptionsInt("-qep_init_seed", "Seed of the cold-start initial vector", "QepGroundSolverSetSeed", seed, &seed, NULL));
  PetscCall(PetscOptionsEnum("-qep_eigensolver", "Ground-state method: eps (SLEPc, -eps_type) or lanczos (lean three-term Lanczos, SLEPc fallback)", "QepGroundSolverSetEigensolver", QepEigensolverTypes, (PetscEnum)s->method, (PetscEnum *)&s->method, NULL));
  PetscCall(PetscOptionsReal("-qep_lanczos_memory", "MiB per rank for stored Lanczos vectors (beyond: a second pass regenerates them)", "QepGroundSolverSetFromOptions", s->lanczos_mib, &s->lanczos_mib, NULL));
  PetscCall(PetscOptionsInt("-qep_lanczos_max_it", "Most Lanczos steps before the EPS takes over", "QepGroundSolverSetFromOptions", s->lanczos_maxit, &s->lanczos_maxit, NULL));
  PetscOptionsEnd();
  PetscCheck(s->lanczos_mib >= 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-%sqep_lanczos_memory must be >= 0 MiB, got %g", s->prefix ? s->prefix : "", (double)s->lanczos_mib);
  PetscCheck(s->lanczos_maxit >= 1, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-%sqep_lanczos_max_it must be >= 1, got %" PetscInt_FMT, s->prefix ? s->prefix : "", s->lanczos_maxit);
  PetscCheck(s->gap_tol >= 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_gap_tol must be >= 0, got %g", (double)s->gap_tol);
  PetscCheck(s->excited_tol >= 0 && s->excited_tol < 1, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-%sqep_excited_tol must be in [0, 1), got %g", s->prefix ? s->prefix : "", (double)s->excited_tol);
  s->seed = seed;
  PetscCall(EPSSetFromOptions(s->eps));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetInitialVector(QepGroundSolver s, Vec v)
{
  PetscFunctionBegin;
  PetscCall(QepGroundSolverSetInitialSpace(s, v ? 1 : 0, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetInitialCombination(QepGroundSolver s, PetscScalar a, Vec x, PetscScalar b, Vec y)
{
  PetscFunctionBegin;
  if (!s->init[0]) PetscCall(VecDuplicate(x, &s->init[0]));
  PetscCall(VecAXPBYPCZ(s->init[0], a, b, 0.0, x, y));
  s->ninit = 1;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSetInitialSpace(QepGroundSolver s, PetscInt n, Vec v[])
{
  PetscFunctionBegin;
  PetscCheck(n >= 0 && n <= 2, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "A warm start takes 0, 1 or 2 vectors, not %" PetscInt_FMT, n);
  for (PetscInt i = 0; i < n; i++) {
    if (!s->init[i]) PetscCall(VecDuplicate(v[i], &s->init[i]));
    PetscCall(VecCopy(v[i], s->init[i]));
  }
  s->ninit = n;
  PetscFunctionReturn(0);
}

/* Cold start: entries uniform in [-1,1) from (seed, global index); identical for every rank count. */
static PetscErrorCode FillColdStart(QepGroundSolver s, PetscInt64 stream, Vec v)
{
  PetscInt     rstart, rend;
  PetscScalar *a;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &rstart, &rend));
  PetscCall(VecGetArrayWrite(v, &a));
  for (PetscInt i = rstart; i < rend; i++) a[i - rstart] = 2.0 * QepRandomUniform(s->seed, stream, i) - 1.0;
  PetscCall(VecRestoreArrayWrite(v, &a));
  PetscFunctionReturn(0);
}

/* Start vector i (0: ground, 1: excited): the user's warm start when given, else the cold start of
 * stream i written into `cold`. */
static PetscErrorCode StartVector(QepGroundSolver s, PetscInt i, Vec cold, Vec *start)
{
  PetscFunctionBegin;
  if (s->ninit > i) *start = s->init[i];
  else {
    PetscCall(FillColdStart(s, i, cold));
    *start = cold;
  }
  PetscFunctionReturn(0);
}

/* Start of the excited-state solve. A warm start (the previous excited state) is mixed with a
 * little of the cold start, so every eigenvector keeps a component: should the levels above E0
 * have crossed since, the deflated solve still finds the new lowest one instead of converging to
 * the old. */
static PetscErrorCode ExcitedStart(QepGroundSolver s, Vec *start)
{
  PetscReal nw, nc;

  PetscFunctionBegin;
  PetscCall(FillColdStart(s, 1, s->excited));
  *start = s->excited;
  if (s->ninit < 2) PetscFunctionReturn(0);
  PetscCall(VecNorm(s->init[1], NORM_2, &nw));
  PetscCall(VecNorm(s->excited, NORM_2, &nc));
  PetscCheck(nw > 0, s->comm, PETSC_ERR_ARG_WRONG, "The excited-state warm start is zero");
  PetscCall(VecAXPBY(s->excited, 1.0 / nw, QEP_EXCITED_MIX / nc, s->init[1]));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckConverged(QepGroundSolver s, PetscInt nev)
{
  PetscInt           nconv, its, maxit;
  PetscReal          tol;
  EPSConvergedReason reason;

  PetscFunctionBegin;
  PetscCall(EPSGetConverged(s->eps, &nconv));
  PetscCall(EPSGetConvergedReason(s->eps, &reason));
  PetscCall(EPSGetIterationNumber(s->eps, &its));
  PetscCall(EPSGetTolerances(s->eps, &tol, &maxit));
  PetscCheck(nconv >= nev, s->comm, PETSC_ERR_NOT_CONVERGED,
             "Ground-state solve did not converge: %" PetscInt_FMT " of %" PetscInt_FMT " eigenpairs after %" PetscInt_FMT " iterations (limit %" PetscInt_FMT
             ", tolerance %g, reason %s). Raise -%seps_max_it, loosen -%seps_tol, or enlarge -%seps_ncv",
             nconv, nev, its, maxit, (double)tol, EPSConvergedReasons[reason], s->prefix ? s->prefix : "", s->prefix ? s->prefix : "", s->prefix ? s->prefix : "");
  PetscFunctionReturn(0);
}

/* SLEPc solve, warm-started from the user's vectors, from a Lanczos attempt (`resume`: state and,
 * for gap solves, excited), or cold. Fills energy, residual, iterations and gap. */
static PetscErrorCode SolveEPS(QepGroundSolver s, PetscBool resume)
{
  PetscInt    nev = s->compute_gap ? 2 : 1, nstart;
  PetscScalar e0, e1;
  Vec         start[2];

  PetscFunctionBegin;
  /* The operator's values may have changed in place since the last solve (another phase, another
   * solver sharing it): hand it to the EPS again so its spectral transformation is refreshed. */
  PetscCall(EPSSetOperators(s->eps, s->A, NULL));
  { /* only nev changes here; ncv and mpd stay as the user (or SLEPc) chose them */
    PetscInt curnev, ncv, mpd;
    PetscCall(EPSGetDimensions(s->eps, &curnev, &ncv, &mpd));
    if (curnev != nev) PetscCall(EPSSetDimensions(s->eps, nev, ncv, mpd));
  }
  if (resume) {
    start[0] = s->state, start[1] = s->excited;
    nstart   = s->compute_gap && s->excited ? 2 : 1;
  } else {
    nstart = PetscMin(s->ninit, nev); /* a ground state and, when the gap is wanted, the excited state */
    for (PetscInt i = 0; i < nstart; i++) start[i] = s->init[i];
    if (!nstart) {
      PetscCall(StartVector(s, 0, s->state, &start[0]));
      nstart = 1;
    }
  }
  PetscCall(EPSSetInitialSpace(s->eps, nstart, start)); /* must be set again before every EPSSolve */
  PetscCall(EPSSolve(s->eps));
  PetscCall(CheckConverged(s, nev));
  PetscCall(EPSGetEigenpair(s->eps, 0, &e0, NULL, s->state, NULL));
  PetscCall(VecNormalize(s->state, NULL));
  PetscCall(EPSComputeError(s->eps, 0, EPS_ERROR_ABSOLUTE, &s->stats.residual));
  {
    PetscInt its;
    PetscCall(EPSGetIterationNumber(s->eps, &its));
    s->stats.iterations += its;
  }
  s->stats.energy = PetscRealPart(e0);
  if (s->compute_gap) {
    if (!s->excited) PetscCall(VecDuplicate(s->state, &s->excited));
    PetscCall(EPSGetEigenpair(s->eps, 1, &e1, NULL, s->excited, NULL));
    PetscCall(VecNormalize(s->excited, NULL));
    s->stats.gap = PetscRealPart(e1) - PetscRealPart(e0);
  }
  PetscFunctionReturn(0);
}

/* Lanczos solve: the ground state and, for gap solves, the excited state by deflating it. *ok is
 * false when either did not converge; state/excited then hold the best vectors as warm starts. */
static PetscErrorCode SolveLanczos(QepGroundSolver s, PetscBool *ok)
{
  PetscReal tol, e0, e1, res;
  PetscInt  steps;
  size_t    budget = (size_t)(s->lanczos_mib * 1048576.0);
  Vec       start = NULL;

  PetscFunctionBegin;
  if (!s->lanczos) PetscCall(QepLanczosCreate(&s->lanczos));
  PetscCall(EPSGetTolerances(s->eps, &tol, NULL));
  PetscCall(StartVector(s, 0, s->state, &start));
  PetscCall(QepLanczosSolve(s->lanczos, s->A, start, NULL, tol, s->lanczos_maxit, budget, s->state, &e0, &res, &steps, ok));
  s->stats.iterations = steps;
  s->stats.energy     = e0;
  s->stats.residual   = res;
  if (!*ok || !s->compute_gap) PetscFunctionReturn(0);
  if (!s->excited) PetscCall(VecDuplicate(s->state, &s->excited));
  PetscCall(ExcitedStart(s, &start));
  PetscCall(QepLanczosSolve(s->lanczos, s->A, start, s->state, PetscMax(tol, s->excited_tol), s->lanczos_maxit, budget, s->excited, &e1, &res, &steps, ok));
  s->stats.iterations += steps;
  s->stats.gap = e1 - e0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverSolve(QepGroundSolver s)
{
  PetscLogDouble t0, t1, mv0, mv1;
  PetscBool      ok = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCheck(s->A, s->comm, PETSC_ERR_ORDER, "Call QepGroundSolverSetOperator before solving");
  PetscCall(QepMatCountMultiplies(s->A)); /* the reported matvecs, without PETSc's logging; at every solve, as an assembly may have reset MATOP_MULT */
  s->valid = PETSC_FALSE;
  if (!s->state) PetscCall(MatCreateVecs(s->A, &s->state, NULL));
  s->stats.iterations = 0;
  s->stats.gap        = -1;
  PetscCall(PetscLogEventBegin(QEP_GroundSolve, 0, 0, 0, 0));
  mv0 = QepMatvecCount;
  PetscCall(PetscTime(&t0));
  if (s->method == QEP_EIGENSOLVER_LANCZOS) {
    PetscCall(SolveLanczos(s, &ok));
    if (!ok) {
      s->fallbacks++;
      PetscCall(PetscInfo(s->eps, "Lanczos did not converge within %" PetscInt_FMT " steps; SLEPc continues from its vectors\n", s->lanczos_maxit));
    }
  }
  if (!ok) PetscCall(SolveEPS(s, s->method == QEP_EIGENSOLVER_LANCZOS ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(PetscTime(&t1));
  mv1 = QepMatvecCount;
  PetscCall(PetscLogEventEnd(QEP_GroundSolve, 0, 0, 0, 0));
  s->stats.matvecs = (PetscInt)(mv1 - mv0);
  s->stats.time    = t1 - t0;
  if (s->compute_gap) {
    PetscCheck(s->stats.gap >= s->gap_tol * PetscMax(1.0, PetscAbsReal(s->stats.energy)), s->comm, PETSC_ERR_CONV_FAILED,
               "Degenerate ground state: E1 - E0 = %g is below the threshold %g (E0 = %.12g). The ground state is not unique, so its "
               "expectation values and the QEP gradient are undefined. %sBreak the symmetry (e.g. add a longitudinal field to a Z2-symmetric "
               "Ising model) or lower -%sqep_gap_tol if the gap is real",
               (double)s->stats.gap, (double)(s->gap_tol * PetscMax(1.0, PetscAbsReal(s->stats.energy))), (double)s->stats.energy, s->hint ? s->hint : "",
               s->prefix ? s->prefix : "");
  }
  s->valid = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetState(QepGroundSolver s, Vec *v)
{
  PetscFunctionBegin;
  PetscCheck(s->valid, s->comm, PETSC_ERR_ORDER, "No valid ground state: call QepGroundSolverSolve (successfully) first");
  *v = s->state;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetExcitedState(QepGroundSolver s, Vec *v)
{
  PetscFunctionBegin;
  PetscCheck(s->valid && s->compute_gap, s->comm, PETSC_ERR_ORDER, "No excited state: solve with the gap computed (QepGroundSolverSetComputeGap) first");
  *v = s->excited;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetStats(QepGroundSolver s, QepSolveStats *stats)
{
  PetscFunctionBegin;
  PetscCheck(s->valid, s->comm, PETSC_ERR_ORDER, "No valid ground state: call QepGroundSolverSolve (successfully) first");
  *stats = s->stats;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGroundSolverGetEPS(QepGroundSolver s, void *eps)
{
  PetscFunctionBegin;
  *(EPS *)eps = s->eps;
  PetscFunctionReturn(0);
}
