/* ground.c — `qep ground`: one ground state of a model (file or generator), with a readable summary,
 * an optional JSON summary (-qep_json) and the state in HDF5 (-qep_save_state). */
#include "cliqho.h"

typedef struct {
  char      json[PETSC_MAX_PATH_LEN];
  char      state[PETSC_MAX_PATH_LEN];
  PetscBool has_json, has_state;
} GroundOptions;

static PetscErrorCode GetGroundOptions(MPI_Comm comm, GroundOptions *o)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  PetscOptionsBegin(comm, NULL, "qep ground options", NULL);
  PetscCall(PetscOptionsString("-qep_json", "Write a JSON summary of the run to this file", NULL, o->json, o->json, sizeof(o->json), &o->has_json));
  PetscCall(PetscOptionsString("-qep_save_state", "Write the ground state to this HDF5 file (dataset /psi)", NULL, o->state, o->state, sizeof(o->state), &o->has_state));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/* Z_q and X_q for every qubit, then every output's strings: one expectation plan for all. */
static PetscErrorCode BuildObservables(QepModel model, PetscInt n, QepPauliSum *obs)
{
  PetscInt nout;

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(obs));
  for (PetscInt q = 0; q < n; q++) {
    QepPauli z = {0, 0}, x = {0, 0};
    QepPauliSetFactor(&z, 'Z', (int)q);
    QepPauliSetFactor(&x, 'X', (int)q);
    PetscCall(QepPauliSumAdd(obs, z, 0));
    PetscCall(QepPauliSumAdd(obs, x, 0));
  }
  PetscCall(QepModelGetNumOutputs(model, &nout));
  for (PetscInt o = 0; o < nout; o++) {
    const QepPauliSum *sum;
    PetscCall(QepModelGetOutput(model, o, NULL, &sum));
    for (PetscInt i = 0; i < sum->n; i++) PetscCall(QepPauliSumAdd(obs, sum->strings[i], 0));
  }
  PetscFunctionReturn(0);
}

static PetscReal OutputValue(const QepPauliSum *out, const QepPauliSum *obs, const PetscReal values[])
{
  PetscReal v = 0;
  for (PetscInt i = 0; i < out->n; i++) {
    PetscInt k;
    QepPauliSumFind(obs, out->strings[i], &k);
    v += out->coeffs[i] * values[k];
  }
  return v;
}

static PetscErrorCode WriteJSON(MPI_Comm comm, const char path[], QepModel model, QepOperator op, const QepSolveStats *st, const QepPauliSum *obs,
                                const PetscReal values[], PetscLogDouble tsetup, PetscLogDouble ttotal)
{
  QepJSON         json;
  PetscInt        n, nout, nstrings, nparams, ngroups;
  QepOperatorType type;
  const char     *desc;
  PetscLogDouble  nnz;
  char            key[256];

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetStrings(model, &nstrings, NULL));
  PetscCall(QepModelGetNumParameters(model, &nparams));
  PetscCall(QepModelGetNumOutputs(model, &nout));
  PetscCall(QepModelGetDescription(model, &desc));
  PetscCall(QepOperatorGetType(op, &type));
  PetscCall(QepOperatorGetInfo(op, &ngroups, &nnz));
  PetscCall(QepJSONCreate(comm, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepCliJSONHeader(json, comm, "ground"));
  PetscCall(QepJSONString(json, "model", desc));
  PetscCall(QepJSONInt(json, "n", n));
  PetscCall(QepJSONInt(json, "strings", nstrings));
  PetscCall(QepJSONInt(json, "parameters", nparams));
  PetscCall(QepJSONString(json, "operator", QepOperatorTypes[type]));
  PetscCall(QepJSONInt(json, "flip_groups", ngroups));
  PetscCall(QepJSONReal(json, "nonzeros", (PetscReal)nnz));
  PetscCall(QepJSONReal(json, "energy", st->energy));
  if (st->gap >= 0) PetscCall(QepJSONReal(json, "gap", st->gap));
  PetscCall(QepJSONReal(json, "residual", st->residual));
  PetscCall(QepJSONInt(json, "iterations", st->iterations));
  PetscCall(QepJSONInt(json, "matvecs", st->matvecs));
  PetscCall(QepJSONBeginObject(json, "observables"));
  for (PetscInt i = 0; i < 2 * n; i++) {
    QepPauliToString(obs->strings[i], key, sizeof(key));
    PetscCall(QepJSONReal(json, key, values[i]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "outputs"));
  for (PetscInt o = 0; o < nout; o++) {
    const char        *name;
    const QepPauliSum *sum;
    PetscCall(QepModelGetOutput(model, o, &name, &sum));
    PetscCall(QepJSONReal(json, name, OutputValue(sum, obs, values)));
  }
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "time_s"));
  PetscCall(QepJSONReal(json, "setup", tsetup));
  PetscCall(QepJSONReal(json, "solve", st->time));
  PetscCall(QepJSONReal(json, "total", ttotal));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, path));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}

static PetscErrorCode PrintSummary(MPI_Comm comm, QepModel model, QepOperator op, const QepSolveStats *st, const QepPauliSum *obs, const PetscReal values[],
                                   PetscLogDouble tsetup)
{
  PetscInt        n, nstrings, nparams, nout, ngroups;
  PetscMPIInt     size;
  QepOperatorType type;
  PetscLogDouble  nnz;
  const char     *desc;
  PetscReal       mz = 0, mx = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetStrings(model, &nstrings, NULL));
  PetscCall(QepModelGetNumParameters(model, &nparams));
  PetscCall(QepModelGetNumOutputs(model, &nout));
  PetscCall(QepModelGetDescription(model, &desc));
  PetscCall(QepOperatorGetType(op, &type));
  PetscCall(QepOperatorGetInfo(op, &ngroups, &nnz));
  for (PetscInt q = 0; q < n; q++) {
    mz += values[2 * q] / n;
    mx += values[2 * q + 1] / n;
  }
  PetscCall(PetscPrintf(comm, "qep ground: %s\n", desc));
  PetscCall(PetscPrintf(comm, "  qubits %" PetscInt_FMT " (dimension %.0f), Pauli strings %" PetscInt_FMT ", parameters %" PetscInt_FMT ", ranks %d\n", n, ldexp(1.0, (int)n), nstrings,
                        nparams, (int)size));
  PetscCall(PetscPrintf(comm, "  operator %s: %" PetscInt_FMT " flip groups, %.4g %s\n", QepOperatorTypes[type], ngroups, (double)nnz,
                        type == QEP_OPERATOR_AIJ ? "stored nonzeros" : "string applications per matvec"));
  PetscCall(PetscPrintf(comm, "  energy   % .15g\n", (double)st->energy));
  if (st->gap >= 0) PetscCall(PetscPrintf(comm, "  gap       %.6e\n", (double)st->gap));
  PetscCall(PetscPrintf(comm, "  residual  %.3e   iterations %" PetscInt_FMT "   matvecs %" PetscInt_FMT "\n", (double)st->residual, st->iterations, st->matvecs));
  PetscCall(PetscPrintf(comm, "  <Z> mean % .6f   <X> mean % .6f\n", (double)mz, (double)mx));
  for (PetscInt o = 0; o < nout; o++) {
    const char        *name;
    const QepPauliSum *sum;
    PetscCall(QepModelGetOutput(model, o, &name, &sum));
    PetscCall(PetscPrintf(comm, "  output %s = % .10f\n", name, (double)OutputValue(sum, obs, values)));
  }
  PetscCall(PetscPrintf(comm, "  time: setup %.3f s, solve %.3f s\n", tsetup, st->time));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliGround(MPI_Comm comm)
{
  GroundOptions   opts;
  QepModel        model;
  QepOperator     op;
  QepGroundSolver solver;
  QepExpectation  plan;
  QepSolveStats   st;
  QepPauliSum     obs;
  PetscReal      *coeffs, *x, *values;
  PetscInt        n, nstrings, nx, ninputs;
  const QepPauli *strings;
  Mat             H;
  Vec             psi;
  PetscLogDouble  t0, t1, t2;

  PetscBool        qho;

  PetscFunctionBegin;
  PetscCall(QepCliIsOscillatorModel(&qho));
  if (qho) {
    PetscCall(QepCliQhoGround());
    PetscFunctionReturn(0);
  }
  PetscCall(PetscTime(&t0));
  PetscCall(GetGroundOptions(comm, &opts));
  PetscCall(QepModelCreate(comm, &model));
  PetscCall(QepModelSetFromOptions(model));
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetStrings(model, &nstrings, &strings));
  PetscCall(QepModelGetNumInputs(model, &ninputs));
  PetscCall(QepCliGetRealList("-qep_input", "Input features x0,x1,... of the model", &x, &nx));
  PetscCheck(!x || nx == ninputs, comm, PETSC_ERR_USER_INPUT, "-qep_input has %" PetscInt_FMT " values but the model has %" PetscInt_FMT " input features", nx, ninputs);
  PetscCall(PetscMalloc1(nstrings, &coeffs));
  PetscCall(QepModelComputeCoefficients(model, NULL, x, coeffs));

  PetscCall(QepOperatorCreate(comm, &op));
  PetscCall(QepOperatorSetStrings(op, n, nstrings, strings));
  PetscCall(QepOperatorSetFromOptions(op));
  PetscCall(QepOperatorSetCoefficients(op, coeffs)); /* sets the operator up with these values */
  PetscCall(QepOperatorGetMat(op, &H));
  PetscCall(PetscTime(&t1));

  PetscCall(QepGroundSolverCreate(comm, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, H));
  PetscCall(QepGroundSolverSetFromOptions(solver));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetStats(solver, &st));
  PetscCall(QepGroundSolverGetState(solver, &psi));

  PetscCall(BuildObservables(model, n, &obs));
  PetscCall(PetscMalloc1(obs.n, &values));
  PetscCall(QepExpectationCreate(psi, obs.n, obs.strings, &plan));
  PetscCall(QepExpectationCompute(plan, psi, values));
  PetscCall(PetscTime(&t2));

  PetscCall(PrintSummary(comm, model, op, &st, &obs, values, t1 - t0));
  if (opts.has_json) PetscCall(WriteJSON(comm, opts.json, model, op, &st, &obs, values, t1 - t0, t2 - t0));
  if (opts.has_state) PetscCall(QepStateWriteHDF5(psi, opts.state, n, st.energy));

  PetscCall(QepExpectationDestroy(&plan));
  PetscCall(QepPauliSumFree(&obs));
  PetscCall(PetscFree(values));
  PetscCall(PetscFree(coeffs));
  PetscCall(PetscFree(x));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}
