/* qho.c — `qep ground -qep_model qho` and `qep gradient -qep_model qho`: oscillator networks from
 * -qep_qho_file or the generator options, through the public API of qep/qho.h only. Both print a
 * readable summary and write -qep_json FILE (rank 0, atomic) with the header of every qep summary. */
#include "cliqho.h"

typedef struct {
  char             json[PETSC_MAX_PATH_LEN];
  PetscBool        has_json;
  QepQhoSolverType solver;
  PetscInt         levels;
  QepReferenceType reference;
} QhoCliOptions;

static PetscErrorCode GetOptions(MPI_Comm comm, QhoCliOptions *o)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->levels = 8;
  PetscOptionsBegin(comm, NULL, "qep oscillator-network options", NULL);
  PetscCall(PetscOptionsString("-qep_json", "Write a JSON summary of the run to this file", NULL, o->json, o->json, sizeof(o->json), &o->has_json));
  PetscCall(PetscOptionsEnum("-qep_qho_solver", "Ground-state solver: gaussian (exact, quadratic networks) or fock (truncated Fock space)", NULL, QepQhoSolverTypes,
                             (PetscEnum)o->solver, (PetscEnum *)&o->solver, NULL));
  PetscCall(PetscOptionsInt("-qep_qho_levels", "Fock solver: levels d per mode", NULL, o->levels, &o->levels, NULL));
  PetscCall(PetscOptionsEnum("-qep_reference", "gradient: also compute an exact reference: none, linear (exact analytic, dense) or fd (finite differences)", NULL, QepReferenceTypes,
                             (PetscEnum)o->reference, (PetscEnum *)&o->reference, NULL));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/* -qep_input (one value per input feature) and, when `targets`, -qep_target (one per output). */
static PetscErrorCode ReadExample(MPI_Comm comm, QepQho q, PetscBool targets, PetscReal **x, PetscReal **y)
{
  PetscInt ninputs, noutputs, nx, ny;

  PetscFunctionBegin;
  *y = NULL;
  PetscCall(QepQhoGetSizes(q, NULL, NULL, &ninputs, &noutputs));
  PetscCall(QepCliGetRealList("-qep_input", "Input features x0,x1,... (forces on the input modes)", x, &nx));
  PetscCheck(nx == ninputs || (!targets && nx == 0), comm, PETSC_ERR_USER_INPUT, "-qep_input has %" PetscInt_FMT " values but the network has %" PetscInt_FMT " input features", nx, ninputs);
  if (!targets) PetscFunctionReturn(0);
  PetscCall(QepCliGetRealList("-qep_target", "Targets, one per output in the network's output order", y, &ny));
  PetscCheck(noutputs > 0, comm, PETSC_ERR_USER_INPUT, "The network has no outputs: add 'output <name> <mode>' lines or -qep_qho_outputs i,j,...");
  PetscCheck(ny == noutputs, comm, PETSC_ERR_USER_INPUT, "-qep_target has %" PetscInt_FMT " values but the network has %" PetscInt_FMT " outputs", ny, noutputs);
  PetscFunctionReturn(0);
}

/* The fields both summaries share: the network and the solver. */
static PetscErrorCode JSONNetwork(QepJSON json, QepQho q, const QhoCliOptions *o)
{
  PetscInt    n, np, ni, no;
  PetscReal   hbar;
  const char *desc;
  QepQhoInfo  info;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, &n, &np, &ni, &no));
  PetscCall(QepQhoGetHbar(q, &hbar));
  PetscCall(QepQhoGetDescription(q, &desc));
  PetscCall(QepQhoGetInfo(q, &info));
  PetscCall(QepJSONString(json, "model", "qho"));
  PetscCall(QepJSONString(json, "description", desc));
  PetscCall(QepJSONInt(json, "nmodes", n));
  PetscCall(QepJSONInt(json, "n", n));
  PetscCall(QepJSONInt(json, "springs", info.nsprings));
  PetscCall(QepJSONInt(json, "edges", info.nedges));
  PetscCall(QepJSONInt(json, "ground_springs", info.nground));
  PetscCall(QepJSONInt(json, "quartic_terms", info.nquartic));
  PetscCall(QepJSONInt(json, "parameters", np));
  PetscCall(QepJSONInt(json, "inputs", ni));
  PetscCall(QepJSONReal(json, "hbar", hbar));
  PetscCall(QepJSONString(json, "solver", QepQhoSolverTypes[o->solver]));
  if (o->solver == QEP_QHO_SOLVER_FOCK) PetscCall(QepJSONInt(json, "levels", o->levels));
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONSolveInfo(QepJSON json, const QepQhoSolveInfo *si)
{
  PetscFunctionBegin;
  PetscCall(QepJSONString(json, "cov_method", QepQhoCovMethods[si->method]));
  PetscCall(QepJSONInt(json, "mean_iterations", si->mean_iterations));
  PetscCall(QepJSONReal(json, "lambda_min", si->lambda_min));
  PetscCall(QepJSONReal(json, "lambda_max", si->lambda_max));
  if (si->method == QEP_QHO_COV_CHEBYSHEV) {
    PetscCall(QepJSONInt(json, "chebyshev_degree", si->degree));
    PetscCall(QepJSONInt(json, "probing_colours", si->colours));
    PetscCall(QepJSONReal(json, "cov_error_bound", si->cov_error_bound));
  }
  PetscFunctionReturn(0);
}

/* {name: value} over the outputs (values indexed by output) */
static PetscErrorCode JSONOutputs(QepJSON json, const char key[], QepQho q, const PetscReal v[])
{
  PetscInt no;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, NULL, NULL, NULL, &no));
  PetscCall(QepJSONBeginObject(json, key));
  for (PetscInt o = 0; o < no; o++) {
    const char *name;
    PetscCall(QepQhoGetOutputName(q, o, &name));
    PetscCall(QepJSONReal(json, name, v[o]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONParameters(QepJSON json, const char key[], QepQho q, const PetscReal v[])
{
  PetscInt np;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(QepJSONBeginObject(json, key));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepQhoGetParameterName(q, k, &name));
    PetscCall(QepJSONReal(json, name, v[k]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscFunctionReturn(0);
}

/* Output means and variances from the pattern-ordered moments (output o sits on mode mode_o). */
static PetscErrorCode OutputMoments(QepQho q, const PetscReal mean[], const PetscReal cov[], PetscReal out[], PetscReal var[])
{
  PetscInt no, mode;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, NULL, NULL, NULL, &no));
  for (PetscInt o = 0; o < no; o++) {
    PetscCall(QepQhoGetOutputMode(q, o, &mode));
    out[o] = mean[mode];
    var[o] = cov[mode]; /* the pattern starts with the diagonal */
  }
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------ qep ground */

static PetscErrorCode PrintGround(MPI_Comm comm, QepQho q, const QhoCliOptions *o, PetscReal energy, const PetscReal mean[], const PetscReal out[], const PetscReal var[],
                                  const QepQhoSolveInfo *si, PetscLogDouble tsetup, PetscLogDouble tsolve)
{
  PetscInt    n, np, no, nk;
  PetscReal   hbar, maxmu = 0;
  char        hstr[32];
  PetscMPIInt size;
  const char *desc;
  QepQhoInfo  info;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(QepQhoGetSizes(q, &n, &np, NULL, &no));
  PetscCall(QepQhoGetPattern(q, &nk, NULL, NULL));
  PetscCall(QepQhoGetHbar(q, &hbar));
  PetscCall(QepQhoGetDescription(q, &desc));
  PetscCall(QepQhoGetInfo(q, &info));
  for (PetscInt i = 0; i < n; i++) maxmu = PetscMax(maxmu, PetscAbsReal(mean[i]));
  PetscCall(PetscPrintf(comm, "qep ground: %s\n", desc));
  snprintf(hstr, sizeof(hstr), "%g", (double)hbar); /* C's %g: PETSc's would print "1." */
  PetscCall(PetscPrintf(comm, "  modes %" PetscInt_FMT ", coupled pairs %" PetscInt_FMT ", ground springs %" PetscInt_FMT ", parameters %" PetscInt_FMT ", hbar %s, ranks %d\n", n, info.nedges,
                        info.nground, np, hstr, (int)size));
  if (o->solver == QEP_QHO_SOLVER_FOCK) PetscCall(PetscPrintf(comm, "  solver fock, %" PetscInt_FMT " levels per mode\n", o->levels));
  else {
    PetscCall(PetscPrintf(comm, "  solver gaussian: mean by CG (%" PetscInt_FMT " iterations), covariance %s", si->mean_iterations, QepQhoCovMethods[si->method]));
    if (si->method == QEP_QHO_COV_CHEBYSHEV)
      PetscCall(PetscPrintf(comm, " (degree %" PetscInt_FMT ", %" PetscInt_FMT " probing colours in %" PetscInt_FMT " blocks, error bound %.1e)", si->degree, si->colours, si->blocks,
                            (double)si->cov_error_bound));
    PetscCall(PetscPrintf(comm, "\n  spectrum of M^-1/2 K M^-1/2 in [%.6g, %.6g]\n", (double)si->lambda_min, (double)si->lambda_max));
  }
  PetscCall(PetscPrintf(comm, "  energy   % .15g\n  max |<x_i>| %.6g\n", (double)energy, (double)maxmu));
  for (PetscInt k = 0; k < no; k++) {
    const char *name;
    PetscCall(QepQhoGetOutputName(q, k, &name));
    PetscCall(PetscPrintf(comm, "  output %s: <x> = % .10f, Var x = %.10f\n", name, (double)out[k], (double)var[k]));
  }
  if (o->solver == QEP_QHO_SOLVER_GAUSSIAN) PetscCall(PetscPrintf(comm, "  time: setup %.3f s, mean %.3f s, covariance %.3f s\n", tsetup, si->time_mean, si->time_cov));
  else PetscCall(PetscPrintf(comm, "  time: setup %.3f s, solve %.3f s\n", tsetup, tsolve));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteGroundJSON(MPI_Comm comm, QepQho q, const QhoCliOptions *o, PetscReal energy, const PetscReal out[], const PetscReal var[], const QepQhoSolveInfo *si,
                                      PetscLogDouble tsetup, PetscLogDouble tsolve, PetscLogDouble ttotal)
{
  QepJSON json;

  PetscFunctionBegin;
  PetscCall(QepJSONCreate(comm, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepCliJSONHeader(json, comm, "ground"));
  PetscCall(JSONNetwork(json, q, o));
  PetscCall(QepJSONReal(json, "energy", energy));
  if (o->solver == QEP_QHO_SOLVER_GAUSSIAN) PetscCall(JSONSolveInfo(json, si));
  PetscCall(JSONOutputs(json, "outputs", q, out));
  PetscCall(JSONOutputs(json, "output_variances", q, var));
  PetscCall(QepJSONBeginObject(json, "time_s"));
  PetscCall(QepJSONReal(json, "setup", tsetup));
  if (o->solver == QEP_QHO_SOLVER_GAUSSIAN) {
    PetscCall(QepJSONReal(json, "mean", si->time_mean));
    PetscCall(QepJSONReal(json, "covariance", si->time_cov));
  }
  PetscCall(QepJSONReal(json, "solve", tsolve));
  PetscCall(QepJSONReal(json, "total", ttotal));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, o->json));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliQhoGround(void)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  QhoCliOptions   o;
  QepQho          q;
  QepQhoSolveInfo si;
  PetscReal      *x, *y, *mean, *cov, *out, *var, energy;
  PetscInt        n, nk, no;
  PetscLogDouble  t0, t1, t2;

  PetscFunctionBegin;
  PetscCall(PetscTime(&t0));
  PetscCall(GetOptions(comm, &o));
  PetscCall(QepQhoCreate(comm, &q));
  PetscCall(QepQhoSetFromOptions(q));
  PetscCall(ReadExample(comm, q, PETSC_FALSE, &x, &y));
  PetscCall(QepQhoGetSizes(q, &n, NULL, NULL, &no));
  PetscCall(QepQhoGetPattern(q, &nk, NULL, NULL));
  PetscCall(PetscMalloc4(n, &mean, nk, &cov, PetscMax(no, 1), &out, PetscMax(no, 1), &var));
  PetscCall(PetscTime(&t1));
  PetscCall(QepQhoGroundSolve(q, o.solver, o.levels, x, 0.0, NULL, &energy, mean, cov, NULL));
  PetscCall(PetscTime(&t2));
  PetscCall(PetscMemzero(&si, sizeof(si)));
  if (o.solver == QEP_QHO_SOLVER_GAUSSIAN) PetscCall(QepQhoGetSolveInfo(q, &si));
  PetscCall(OutputMoments(q, mean, cov, out, var));
  PetscCall(PrintGround(comm, q, &o, energy, mean, out, var, &si, t1 - t0, t2 - t1));
  if (o.has_json) PetscCall(WriteGroundJSON(comm, q, &o, energy, out, var, &si, t1 - t0, t2 - t1, t2 - t0));
  PetscCall(PetscFree4(mean, cov, out, var));
  PetscCall(PetscFree(x));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------- qep gradient */

typedef struct {
  PetscReal *theta, *g, *gmean, *gzp, *ref, *out, *var;
  PetscReal  loss, refloss;
} GradientResult;

static PetscErrorCode PrintGradientTable(MPI_Comm comm, QepQho q, const GradientResult *r, QepReferenceType rt)
{
  PetscInt  np;
  PetscReal maxdiff = 0, refnorm = 0;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(PetscPrintf(comm, "  %-14s %12s %18s %18s %18s", "parameter", "value", "QEP gradient", "mean part", "zero-point part"));
  if (rt) PetscCall(PetscPrintf(comm, " %18s %10s", QepReferenceTypes[rt], "difference"));
  PetscCall(PetscPrintf(comm, "\n"));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepQhoGetParameterName(q, k, &name));
    PetscCall(PetscPrintf(comm, "  %-14s % 12.6g % 18.10e % 18.10e % 18.10e", name, (double)r->theta[k], (double)r->g[k], (double)r->gmean[k], (double)r->gzp[k]));
    if (rt) {
      PetscCall(PetscPrintf(comm, " % 18.10e % 10.2e", (double)r->ref[k], (double)(r->g[k] - r->ref[k])));
      maxdiff = PetscMax(maxdiff, PetscAbsReal(r->g[k] - r->ref[k]));
      refnorm = PetscMax(refnorm, PetscAbsReal(r->ref[k]));
    }
    PetscCall(PetscPrintf(comm, "\n"));
  }
  if (rt) PetscCall(PetscPrintf(comm, "  max |QEP - %s| = %.3e (max |%s| = %.3e)\n", QepReferenceTypes[rt], (double)maxdiff, QepReferenceTypes[rt], (double)refnorm));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteGradientJSON(MPI_Comm comm, QepQho q, QepQhoGradient grad, const QhoCliOptions *o, const GradientResult *r, const QepQhoGradientStats *st,
                                        PetscLogDouble tqep, PetscLogDouble tref)
{
  QepJSON      json;
  QepEstimator est;
  PetscReal    beta;

  PetscFunctionBegin;
  PetscCall(QepQhoGradientGetSettings(grad, &est, &beta, NULL, NULL));
  PetscCall(QepJSONCreate(comm, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepCliJSONHeader(json, comm, "gradient"));
  PetscCall(JSONNetwork(json, q, o));
  PetscCall(QepJSONString(json, "estimator", QepEstimators[est]));
  PetscCall(QepJSONReal(json, "beta", beta));
  PetscCall(QepJSONReal(json, "loss", r->loss));
  PetscCall(QepJSONReal(json, "loss_value", r->loss));
  PetscCall(QepJSONReal(json, "energy", st->energy));
  PetscCall(JSONOutputs(json, "outputs", q, r->out));
  PetscCall(JSONOutputs(json, "output_variances", q, r->var));
  PetscCall(JSONParameters(json, "parameters", q, r->theta));
  PetscCall(JSONParameters(json, "gradient", q, r->g));
  PetscCall(JSONParameters(json, "gradient_mean_part", q, r->gmean));
  PetscCall(JSONParameters(json, "gradient_zero_point_part", q, r->gzp));
  if (o->reference) {
    PetscCall(QepJSONString(json, "reference_type", QepReferenceTypes[o->reference]));
    PetscCall(JSONParameters(json, "reference", q, r->ref));
  }
  PetscCall(QepJSONBeginObject(json, "solves"));
  PetscCall(QepJSONInt(json, "free", st->free_solves));
  PetscCall(QepJSONInt(json, "nudged", st->nudged_solves));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "time_s"));
  PetscCall(QepJSONReal(json, "free", st->time_free));
  PetscCall(QepJSONReal(json, "nudged", st->time_nudged));
  PetscCall(QepJSONReal(json, "reference", tref));
  PetscCall(QepJSONReal(json, "total", tqep + tref));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, o->json));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliQhoGradient(void)
{
  MPI_Comm            comm = PETSC_COMM_WORLD;
  QhoCliOptions       o;
  QepQho              q;
  QepQhoGradient      grad;
  QepQhoGradientStats st;
  GradientResult      r;
  PetscReal          *x, *y, beta;
  PetscInt            n, np, no, levels;
  PetscMPIInt         size;
  QepEstimator        est;
  QepQhoSolverType    solver;
  PetscLogDouble      t0, t1, t2;
  const char         *desc;

  PetscFunctionBegin;
  PetscCall(PetscTime(&t0));
  PetscCall(GetOptions(comm, &o));
  PetscCall(QepQhoCreate(comm, &q));
  PetscCall(QepQhoSetFromOptions(q));
  PetscCall(ReadExample(comm, q, PETSC_TRUE, &x, &y));
  PetscCall(QepQhoGetSizes(q, &n, &np, NULL, &no));
  PetscCheck(np > 0, comm, PETSC_ERR_USER_INPUT, "The network has no trainable parameters: declare them with 'param' lines or a -qep_qho_*_trainable generator option");
  PetscCall(PetscMalloc7(np, &r.theta, np, &r.g, np, &r.gmean, np, &r.gzp, np, &r.ref, no, &r.out, no, &r.var));
  PetscCall(QepQhoGetParameters(q, r.theta));
  PetscCall(QepQhoGradientCreate(q, &grad));
  PetscCall(QepQhoGradientSetFromOptions(grad));
  PetscCall(QepQhoGradientGetSettings(grad, &est, &beta, &solver, &levels));
  o.solver = solver;
  o.levels = levels;
  PetscCall(QepQhoGradientCompute(grad, 0, x, y, &r.loss, r.g));
  PetscCall(QepQhoGradientGetParts(grad, r.gmean, r.gzp));
  PetscCall(QepQhoGradientGetStats(grad, &st));
  PetscCall(QepQhoGradientGetOutputs(grad, r.out));
  PetscCall(QepQhoGradientGetOutputVariances(grad, r.var));
  PetscCall(PetscTime(&t1));
  if (o.reference) PetscCall(QepQhoGradientComputeReference(grad, o.reference, x, y, &r.refloss, r.ref));
  PetscCall(PetscTime(&t2));

  PetscCall(QepQhoGetDescription(q, &desc));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscPrintf(comm, "qep gradient: %s\n", desc));
  PetscCall(PetscPrintf(comm, "  modes %" PetscInt_FMT ", parameters %" PetscInt_FMT ", ranks %d; loss <C> = %.12g; estimator %s, beta %g; solver %s\n", n, np, (int)size, (double)r.loss,
                        QepEstimators[est], (double)beta, QepQhoSolverTypes[solver]));
  PetscCall(PetscPrintf(comm, "  free: %" PetscInt_FMT " solve(s) %.3f s; nudged: %" PetscInt_FMT " solve(s) %.3f s (warm-started from the free mean)\n", st.free_solves, st.time_free,
                        st.nudged_solves, st.time_nudged));
  for (PetscInt k = 0; k < no; k++) {
    const char *name;
    PetscCall(QepQhoGetOutputName(q, k, &name));
    PetscCall(PetscPrintf(comm, "  output %s: <x> = % .10f, Var x = %.10f, target % .6g\n", name, (double)r.out[k], (double)r.var[k], (double)y[k]));
  }
  PetscCall(PrintGradientTable(comm, q, &r, o.reference));
  if (o.reference) PetscCall(PetscPrintf(comm, "  time: QEP %.3f s, reference %.3f s\n", t1 - t0, t2 - t1));
  if (o.has_json) PetscCall(WriteGradientJSON(comm, q, grad, &o, &r, &st, t1 - t0, t2 - t1));
  PetscCall(QepQhoGradientDestroy(&grad));
  PetscCall(PetscFree7(r.theta, r.g, r.gmean, r.gzp, r.ref, r.out, r.var));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(y));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}
