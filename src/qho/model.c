/* model.c — storage, building API and queries of an oscillator network (QepQho).
 * Invariants: every element names modes in 0..n-1 (checked when added) and existing parameters;
 * inputs appear only in forces; parameter names are unique identifiers that are not x<digits>;
 * output names are unique. QepQhoFinalize builds K's pattern (diagonal first, then the sorted distinct
 * coupled pairs) and the map spring → pattern entry; any mutation clears `finalized`. Every rank
 * holds the same network; all mutators are called identically on every rank. */
#include "qhomodel.h"

const char *const QepQhoSolverTypes[] = {"gaussian", "fock", "QepQhoSolverType", "QEP_QHO_SOLVER_", NULL};
const char *const QepQhoCovMethods[]  = {"auto", "dense", "chebyshev", "QepQhoCovMethod", "QEP_QHO_COV_", NULL};

#define QHO_DEFAULT_HBAR    1.0
#define QHO_DEFAULT_COV_TOL 1e-12 /* Chebyshev covariance: 3 digits below the 1e-10 the tests ask of every method */

PetscErrorCode QepQhoCreate(MPI_Comm comm, QepQho *qho)
{
  QepQho q;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&q));
  q->comm       = comm;
  q->hbar       = QHO_DEFAULT_HBAR;
  q->cov_method = QEP_QHO_COV_AUTO;
  q->cov_tol    = QHO_DEFAULT_COV_TOL;
  *qho          = q;
  PetscFunctionReturn(0);
}

static PetscErrorCode FreeScratch(QepQho q)
{
  PetscFunctionBegin;
  if (q->have_scratch) {
    PetscCall(QepQhoMomentsFree(&q->mom));
    PetscCall(QepQhoNumericFree(&q->num));
  }
  q->have_scratch = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Clears the network (not the solver settings); solvers are rebuilt for the next network. */
PetscErrorCode QepQhoReset(QepQho q)
{
  PetscFunctionBegin;
  PetscCall(FreeScratch(q));
  PetscCall(QepQhoGaussianDestroy(&q->gauss));
  if (q->fock) PetscCall(QepQhoFockDestroy(&q->fock));
  PetscCall(PetscFree2(q->mass, q->mass_set));
  PetscCall(PetscFree(q->springs));
  PetscCall(PetscFree(q->ground));
  PetscCall(PetscFree(q->forces));
  PetscCall(PetscFree(q->quartic));
  PetscCall(PetscFree(q->param_names));
  PetscCall(PetscFree(q->param_values));
  PetscCall(PetscFree(q->output_names));
  PetscCall(PetscFree(q->output_mode));
  PetscCall(PetscFree(q->description));
  PetscCall(PetscFree3(q->ki, q->kj, q->spring_entry));
  q->n = q->nsprings = q->asprings = q->nground = q->aground = q->nforces = q->aforces = q->nquartic = q->aquartic = 0;
  q->nparams = q->aparams = q->ninputs = q->noutputs = q->aoutputs = q->nk = 0;
  q->hbar        = QHO_DEFAULT_HBAR;
  q->fock_levels = 0;
  q->finalized   = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoDestroy(QepQho *qho)
{
  PetscFunctionBegin;
  if (!*qho) PetscFunctionReturn(0);
  PetscCall(QepQhoReset(*qho));
  PetscCall(PetscFree(*qho));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- building */

PetscErrorCode QepQhoSetNumModes(QepQho q, PetscInt n)
{
  PetscFunctionBegin;
  PetscCheck(n >= 1, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of modes %" PetscInt_FMT " is out of range; a network needs at least 1 mode", n);
  PetscCheck(q->n == 0 || q->n == n, q->comm, PETSC_ERR_ORDER, "The number of modes is already %" PetscInt_FMT "; it is set once", q->n);
  if (q->n == n) PetscFunctionReturn(0);
  q->n = n;
  PetscCall(PetscMalloc2(n, &q->mass, n, &q->mass_set));
  for (PetscInt i = 0; i < n; i++) {
    q->mass[i]     = QepQhoConst(1.0);
    q->mass_set[i] = PETSC_FALSE;
  }
  q->finalized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckMode(QepQho q, PetscInt i, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(q->n > 0, q->comm, PETSC_ERR_ORDER, "Set the number of modes (QepQhoSetNumModes, 'modes N') before adding a %s", what);
  PetscCheck(i >= 0 && i < q->n, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "%s on mode %" PetscInt_FMT ": modes are 0..%" PetscInt_FMT, what, i, q->n - 1);
  PetscFunctionReturn(0);
}

/* A coefficient must name an existing parameter, a non-negative input (forces only) and a finite factor. */
static PetscErrorCode CheckCoef(QepQho q, QepQhoCoef c, PetscBool input_ok, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(!PetscIsInfOrNanReal(c.factor), q->comm, PETSC_ERR_ARG_WRONG, "%s: the factor is not a finite number", what);
  switch (c.kind) {
  case QEP_VAR_CONST: break;
  case QEP_VAR_PARAM:
    PetscCheck(c.index >= 0 && c.index < q->nparams, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: parameter index %" PetscInt_FMT " does not exist (%" PetscInt_FMT " parameters)", what,
               c.index, q->nparams);
    break;
  case QEP_VAR_INPUT:
    PetscCheck(input_ok, q->comm, PETSC_ERR_ARG_WRONG, "%s: inputs x<k> enter the network as forces only ('force <i> x<k>')", what);
    PetscCheck(c.index >= 0, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: input index %" PetscInt_FMT " is negative", what, c.index);
    q->ninputs = PetscMax(q->ninputs, c.index + 1);
    break;
  default: SETERRQ(q->comm, PETSC_ERR_ARG_WRONG, "%s: unknown coefficient kind %d", what, (int)c.kind);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoFindParameter(QepQho q, const char name[], PetscInt *index)
{
  PetscFunctionBegin;
  PetscCall(QepParameterFind(q->nparams, (const char(*)[QEP_NAME_LEN])q->param_names, name, index));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddParameter(QepQho q, const char name[], PetscReal value, PetscInt *index)
{
  PetscFunctionBegin;
  PetscCall(QepParameterAppend(q->comm, name, value, PETSC_TRUE, &q->nparams, &q->aparams, &q->param_names, &q->param_values, index));
  q->finalized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Appends one element to a growable array of `size`-byte records. */
static PetscErrorCode Grow(void **array, PetscInt *count, PetscInt *alloc, size_t size)
{
  PetscFunctionBegin;
  if (*count == *alloc) {
    *alloc = *alloc ? 2 * *alloc : 64;
    PetscCall(PetscRealloc(size * (size_t)*alloc, array));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddSpring(QepQho q, PetscInt i, PetscInt j, QepQhoCoef k, QepQhoCoef rest)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "spring"));
  PetscCall(CheckMode(q, j, "spring"));
  PetscCheck(i != j, q->comm, PETSC_ERR_ARG_WRONG, "Spring from mode %" PetscInt_FMT " to itself; a spring couples two different modes (use a ground spring for one mode)", i);
  PetscCall(CheckCoef(q, k, PETSC_FALSE, "spring stiffness"));
  PetscCall(CheckCoef(q, rest, PETSC_FALSE, "spring rest length"));
  PetscCall(Grow((void **)&q->springs, &q->nsprings, &q->asprings, sizeof(QepQhoSpring)));
  q->springs[q->nsprings++] = (QepQhoSpring){i, j, k, rest};
  q->finalized              = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddGroundSpring(QepQho q, PetscInt i, QepQhoCoef k, QepQhoCoef rest)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "ground spring"));
  PetscCall(CheckCoef(q, k, PETSC_FALSE, "ground spring stiffness"));
  PetscCall(CheckCoef(q, rest, PETSC_FALSE, "ground spring rest position"));
  PetscCall(Grow((void **)&q->ground, &q->nground, &q->aground, sizeof(QepQhoSpring)));
  q->ground[q->nground++] = (QepQhoSpring){i, -1, k, rest};
  q->finalized            = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetMass(QepQho q, PetscInt i, QepQhoCoef m)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "mass"));
  PetscCall(CheckCoef(q, m, PETSC_FALSE, "mass"));
  PetscCheck(m.kind != QEP_VAR_CONST || m.factor > 0, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Mass of mode %" PetscInt_FMT " is %g; masses must be positive", i, (double)m.factor);
  q->mass[i]     = m;
  q->mass_set[i] = PETSC_TRUE;
  q->finalized   = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddForce(QepQho q, PetscInt i, QepQhoCoef f)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "force"));
  PetscCall(CheckCoef(q, f, PETSC_TRUE, "force"));
  PetscCall(Grow((void **)&q->forces, &q->nforces, &q->aforces, sizeof(QepQhoTerm)));
  q->forces[q->nforces++] = (QepQhoTerm){i, f};
  q->finalized            = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddQuartic(QepQho q, PetscInt i, QepQhoCoef lambda)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "quartic term"));
  PetscCall(CheckCoef(q, lambda, PETSC_FALSE, "quartic coefficient"));
  PetscCheck(lambda.kind != QEP_VAR_CONST || lambda.factor >= 0, q->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Quartic coefficient of mode %" PetscInt_FMT " is %g; it must be >= 0 (a negative x^4 term has no ground state)", i, (double)lambda.factor);
  PetscCall(Grow((void **)&q->quartic, &q->nquartic, &q->aquartic, sizeof(QepQhoTerm)));
  q->quartic[q->nquartic++] = (QepQhoTerm){i, lambda};
  q->finalized              = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoAddOutput(QepQho q, const char name[], PetscInt i)
{
  PetscFunctionBegin;
  PetscCall(CheckMode(q, i, "output"));
  PetscCheck(name && name[0] && strlen(name) < QEP_NAME_LEN, q->comm, PETSC_ERR_ARG_WRONG, "Output names have 1 to %d characters", QEP_NAME_LEN - 1);
  for (PetscInt o = 0; o < q->noutputs; o++) PetscCheck(strcmp(q->output_names[o], name), q->comm, PETSC_ERR_ARG_WRONG, "Output '%s' is declared twice; output names are unique", name);
  if (q->noutputs == q->aoutputs) {
    q->aoutputs = q->aoutputs ? 2 * q->aoutputs : 16;
    PetscCall(PetscRealloc(sizeof(*q->output_names) * (size_t)q->aoutputs, &q->output_names));
    PetscCall(PetscRealloc(sizeof(PetscInt) * (size_t)q->aoutputs, &q->output_mode));
  }
  PetscCall(PetscStrncpy(q->output_names[q->noutputs], name, QEP_NAME_LEN));
  q->output_mode[q->noutputs++] = i;
  q->finalized                  = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetDescription(QepQho q, const char text[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(q->description));
  PetscCall(PetscStrallocpy(text, &q->description));
  PetscFunctionReturn(0);
}

/* Index of key in the sorted keys[0..n), or -1. */
static PetscInt FindKey(PetscInt n, const PetscInt64 keys[], PetscInt64 key)
{
  PetscInt lo = 0, hi = n - 1;
  while (lo <= hi) {
    PetscInt mid = lo + (hi - lo) / 2;
    if (keys[mid] == key) return mid;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/* Pattern of K: the diagonal, then every distinct pair (min, max) in ascending order. */
static PetscErrorCode BuildPattern(QepQho q)
{
  PetscInt64 *keys;
  PetscInt    npairs = q->nsprings, nuniq = 0;

  PetscFunctionBegin;
  PetscCall(PetscFree3(q->ki, q->kj, q->spring_entry));
  PetscCall(PetscMalloc1(PetscMax(npairs, 1), &keys));
  for (PetscInt s = 0; s < npairs; s++) {
    PetscInt i = PetscMin(q->springs[s].i, q->springs[s].j), j = PetscMax(q->springs[s].i, q->springs[s].j);
    keys[s] = (PetscInt64)i * q->n + j;
  }
  PetscCall(PetscSortInt64(npairs, keys));
  for (PetscInt s = 0; s < npairs; s++)
    if (!nuniq || keys[s] != keys[nuniq - 1]) keys[nuniq++] = keys[s];
  q->nk = q->n + nuniq;
  PetscCall(PetscMalloc3(q->nk, &q->ki, q->nk, &q->kj, PetscMax(q->nsprings, 1), &q->spring_entry));
  for (PetscInt i = 0; i < q->n; i++) q->ki[i] = q->kj[i] = i;
  for (PetscInt e = 0; e < nuniq; e++) {
    q->ki[q->n + e] = (PetscInt)(keys[e] / q->n);
    q->kj[q->n + e] = (PetscInt)(keys[e] % q->n);
  }
  for (PetscInt s = 0; s < q->nsprings; s++) {
    PetscInt i = PetscMin(q->springs[s].i, q->springs[s].j), j = PetscMax(q->springs[s].i, q->springs[s].j);
    q->spring_entry[s] = q->n + FindKey(nuniq, keys, (PetscInt64)i * q->n + j);
  }
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoFinalize(QepQho q)
{
  PetscFunctionBegin;
  PetscCheck(q->n >= 1, q->comm, PETSC_ERR_USER_INPUT, "The network has no modes; give 'modes N' (N >= 1) or -qep_n N");
  PetscCheck(q->hbar >= 0 && !PetscIsInfOrNanReal(q->hbar), q->comm, PETSC_ERR_ARG_OUTOFRANGE, "hbar = %g is invalid; hbar > 0 (or 0 for the classical limit)", (double)q->hbar);
  PetscCall(FreeScratch(q));
  PetscCall(BuildPattern(q));
  PetscCall(QepQhoNumericAllocFor(q, &q->num));
  PetscCall(QepQhoMomentsAlloc(&q->num, &q->mom));
  q->have_scratch = PETSC_TRUE;
  q->finalized    = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------- queries */

#define QHO_CHECK_FINALIZED(q) PetscCheck((q)->finalized, (q)->comm, PETSC_ERR_ORDER, "Finalize the oscillator network (QepQhoFinalize, or read/generate it) first")

PetscErrorCode QepQhoGetSizes(QepQho q, PetscInt *nmodes, PetscInt *nparams, PetscInt *ninputs, PetscInt *noutputs)
{
  PetscFunctionBegin;
  if (nmodes) *nmodes = q->n;
  if (nparams) *nparams = q->nparams;
  if (ninputs) *ninputs = q->ninputs;
  if (noutputs) *noutputs = q->noutputs;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetParameters(QepQho q, PetscReal theta[])
{
  PetscFunctionBegin;
  if (q->nparams) PetscCall(PetscArraycpy(theta, q->param_values, q->nparams));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetParameters(QepQho q, const PetscReal theta[])
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < q->nparams; k++)
    PetscCheck(!PetscIsInfOrNanReal(theta[k]), q->comm, PETSC_ERR_ARG_WRONG, "Parameter '%s' would become %g; parameters must be finite", q->param_names[k], (double)theta[k]);
  if (q->nparams) PetscCall(PetscArraycpy(q->param_values, theta, q->nparams));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetParameterName(QepQho q, PetscInt k, const char **name)
{
  PetscFunctionBegin;
  PetscCheck(k >= 0 && k < q->nparams, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Parameter %" PetscInt_FMT " does not exist (%" PetscInt_FMT " parameters)", k, q->nparams);
  *name = q->param_names[k];
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetOutputName(QepQho q, PetscInt o, const char **name)
{
  PetscFunctionBegin;
  PetscCheck(o >= 0 && o < q->noutputs, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Output %" PetscInt_FMT " does not exist (%" PetscInt_FMT " outputs)", o, q->noutputs);
  *name = q->output_names[o];
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetOutputMode(QepQho q, PetscInt o, PetscInt *mode)
{
  PetscFunctionBegin;
  PetscCheck(o >= 0 && o < q->noutputs, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Output %" PetscInt_FMT " does not exist (%" PetscInt_FMT " outputs)", o, q->noutputs);
  *mode = q->output_mode[o];
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetHbar(QepQho q, PetscReal *hbar)
{
  PetscFunctionBegin;
  *hbar = q->hbar;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetHbar(QepQho q, PetscReal hbar)
{
  PetscFunctionBegin;
  PetscCheck(hbar >= 0 && !PetscIsInfOrNanReal(hbar), q->comm, PETSC_ERR_ARG_OUTOFRANGE, "hbar = %g is invalid; hbar > 0 (or 0 for the classical limit)", (double)hbar);
  q->hbar = hbar;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetDescription(QepQho q, const char **text)
{
  PetscFunctionBegin;
  *text = q->description ? q->description : "";
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetInfo(QepQho q, QepQhoInfo *info)
{
  PetscFunctionBegin;
  QHO_CHECK_FINALIZED(q);
  PetscCall(PetscMemzero(info, sizeof(*info)));
  info->nsprings = q->nsprings;
  info->nground  = q->nground;
  info->nforces  = q->nforces;
  info->nquartic = q->nquartic;
  info->nedges   = q->nk - q->n;
  for (PetscInt i = 0; i < q->n; i++)
    if (q->mass[i].kind == QEP_VAR_PARAM) info->trainable_mass = PETSC_TRUE;
  info->has_quartic = q->nquartic > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetPattern(QepQho q, PetscInt *nk, const PetscInt **ki, const PetscInt **kj)
{
  PetscFunctionBegin;
  QHO_CHECK_FINALIZED(q);
  if (nk) *nk = q->nk;
  if (ki) *ki = q->ki;
  if (kj) *kj = q->kj;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetCovarianceMethod(QepQho q, QepQhoCovMethod method, PetscReal tol)
{
  PetscFunctionBegin;
  PetscCheck(tol > 0 && tol < 1, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Covariance tolerance %g is invalid; use 0 < tol < 1 (e.g. 1e-12)", (double)tol);
  q->cov_method = method;
  q->cov_tol    = tol;
  if (q->gauss) PetscCall(QepQhoGaussianSetMethod(q->gauss, method, tol));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoView(QepQho q, PetscViewer viewer)
{
  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(q->comm, &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "QepQho: %s\n", q->description ? q->description : "(no description)"));
  PetscCall(PetscViewerASCIIPrintf(viewer,
                                   "  modes %" PetscInt_FMT ", hbar %g, springs %" PetscInt_FMT " (%" PetscInt_FMT " coupled pairs), ground springs %" PetscInt_FMT
                                   ", forces %" PetscInt_FMT ", quartic terms %" PetscInt_FMT "\n",
                                   q->n, (double)q->hbar, q->nsprings, q->finalized ? q->nk - q->n : -1, q->nground, q->nforces, q->nquartic));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  parameters %" PetscInt_FMT ", inputs %" PetscInt_FMT ", outputs %" PetscInt_FMT "\n", q->nparams, q->ninputs, q->noutputs));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSetFromOptions(QepQho q)
{
  char            file[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "";
  PetscBool       hasfile, hasout, hashbar, view = PETSC_FALSE;
  PetscReal       hbar = QHO_DEFAULT_HBAR, tol = q->cov_tol;
  QepQhoCovMethod method = q->cov_method;

  PetscFunctionBegin;
  PetscOptionsBegin(q->comm, NULL, "QEP oscillator-network options (-qep_model qho)", "QepQho");
  PetscCall(PetscOptionsString("-qep_qho_file", "Read the oscillator network from this file", "QepQhoRead", file, file, sizeof(file), &hasfile));
  PetscCall(PetscOptionsReal("-qep_hbar", "Planck constant hbar (> 0; 0 = classical limit); overrides the file's 'hbar' line", "QepQhoSetHbar", hbar, &hbar, &hashbar));
  PetscCall(PetscOptionsString("-qep_qho_write", "Write the network (read or generated) to this file", "QepQhoWrite", out, out, sizeof(out), &hasout));
  PetscCall(PetscOptionsBool("-qep_qho_view", "Print a summary of the network", "QepQhoView", view, &view, NULL));
  PetscCall(PetscOptionsEnum("-qep_qho_cov", "Covariance method of the Gaussian solver: auto, dense (eigen-decomposition) or chebyshev (distributed probing)",
                             "QepQhoSetCovarianceMethod", QepQhoCovMethods, (PetscEnum)method, (PetscEnum *)&method, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_cov_tol", "Chebyshev covariance: error bound relative to the largest entry of D^-1/2", "QepQhoSetCovarianceMethod", tol, &tol, NULL));
  PetscOptionsEnd();
  if (hasfile) PetscCall(QepQhoRead(q, file));
  else PetscCall(QepQhoGenerateFromOptions(q));
  if (hashbar) PetscCall(QepQhoSetHbar(q, hbar));
  PetscCall(QepQhoSetCovarianceMethod(q, method, tol));
  if (hasout) PetscCall(QepQhoWrite(q, out));
  if (view) PetscCall(QepQhoView(q, NULL));
  PetscFunctionReturn(0);
}
