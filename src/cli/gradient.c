/* gradient.c — `qep gradient`: the QEP gradient of one example (inputs -qep_input, targets
 * -qep_target) with the chosen loss and estimator, optionally next to an exact reference
 * (-qep_reference linear|fd), as a table and a JSON summary. */
#include "cliqho.h"

typedef struct {
  char             json[PETSC_MAX_PATH_LEN];
  PetscBool        has_json;
  QepReferenceType reference;
} GradientOptions;

static PetscErrorCode GetOptions(MPI_Comm comm, GradientOptions *o)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  PetscOptionsBegin(comm, NULL, "qep gradient options", NULL);
  PetscCall(PetscOptionsString("-qep_json", "Write a JSON summary of the run to this file", NULL, o->json, o->json, sizeof(o->json), &o->has_json));
  PetscCall(PetscOptionsEnum("-qep_reference", "Also compute an exact reference gradient: none, linear (linear response) or fd (finite differences)", NULL,
                             QepReferenceTypes, (PetscEnum)o->reference, (PetscEnum *)&o->reference, NULL));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode PrintTable(MPI_Comm comm, QepModel model, const PetscReal theta[], const PetscReal grad[], const PetscReal ref[], QepReferenceType rt)
{
  PetscInt  np;
  PetscReal maxdiff = 0, refnorm = 0;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &np));
  if (ref) PetscCall(PetscPrintf(comm, "  %-16s %14s %18s %18s %10s\n", "parameter", "value", "QEP gradient", QepReferenceTypes[rt], "difference"));
  else PetscCall(PetscPrintf(comm, "  %-16s %14s %18s\n", "parameter", "value", "QEP gradient"));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepModelGetParameterName(model, k, &name));
    if (ref) {
      PetscCall(PetscPrintf(comm, "  %-16s % 14.6g % 18.10e % 18.10e % 10.2e\n", name, (double)theta[k], (double)grad[k], (double)ref[k], (double)(grad[k] - ref[k])));
      maxdiff = PetscMax(maxdiff, PetscAbsReal(grad[k] - ref[k]));
      refnorm = PetscMax(refnorm, PetscAbsReal(ref[k]));
    } else PetscCall(PetscPrintf(comm, "  %-16s % 14.6g % 18.10e\n", name, (double)theta[k], (double)grad[k]));
  }
  if (ref) PetscCall(PetscPrintf(comm, "  max |QEP - %s| = %.3e (max |%s| = %.3e)\n", QepReferenceTypes[rt], (double)maxdiff, QepReferenceTypes[rt], (double)refnorm));
  PetscFunctionReturn(0);
}

/* Shot mode: the measurement plan (settings x phases x shots) and each entry's standard error. */
static PetscErrorCode PrintShots(MPI_Comm comm, QepModel model, QepGradient grad)
{
  PetscInt64 nshots, per;
  PetscInt   nsettings, nphases, np;
  PetscReal *se;

  PetscFunctionBegin;
  PetscCall(QepGradientGetShots(grad, &nshots, NULL));
  if (!nshots) PetscFunctionReturn(0);
  PetscCall(QepGradientGetMeasurementPlan(grad, &nsettings, &nphases, &per));
  PetscCall(PetscPrintf(comm, "  shots:  %" PetscInt64_FMT " per setting and phase; %" PetscInt_FMT " setting(s) x %" PetscInt_FMT " phase(s) = %" PetscInt64_FMT " preparations for this gradient\n",
                        nshots, nsettings, nphases, per));
  PetscCall(QepModelGetNumParameters(model, &np));
  PetscCall(PetscMalloc1(np, &se));
  PetscCall(QepGradientGetStandardErrors(grad, se));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepModelGetParameterName(model, k, &name));
    PetscCall(PetscPrintf(comm, "  %-16s standard error %.3e\n", name, (double)se[k]));
  }
  PetscCall(PetscFree(se));
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONNamedValues(QepJSON json, const char key[], QepModel model, const PetscReal v[])
{
  PetscInt np;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(model, &np));
  PetscCall(QepJSONBeginObject(json, key));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepModelGetParameterName(model, k, &name));
    PetscCall(QepJSONReal(json, name, v[k]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscFunctionReturn(0);
}

/* st: QEP's own cost (the reference's solves are not counted). */
static PetscErrorCode WriteJSON(MPI_Comm comm, const char path[], QepModel model, QepGradient grad, const QepGradientStats *st, PetscReal loss, const PetscReal theta[],
                                const PetscReal g[], const PetscReal ref[], QepReferenceType rt, PetscLogDouble ttotal, PetscLogDouble tref)
{
  QepJSON          json;
  PetscInt         n;
  QepEstimator     est;
  QepLossType      lt;
  PetscReal        beta;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepGradientGetSettings(grad, &est, &beta, &lt));
  PetscCall(QepJSONCreate(comm, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepCliJSONHeader(json, comm, "gradient"));
  PetscCall(QepJSONInt(json, "n", n));
  PetscCall(QepJSONString(json, "estimator", QepEstimators[est]));
  PetscCall(QepJSONReal(json, "beta", beta));
  PetscCall(QepJSONString(json, "loss", QepLossTypes[lt]));
  PetscCall(QepJSONReal(json, "loss_value", loss));
  PetscCall(QepJSONReal(json, "gap", st->gap));
  PetscCall(JSONNamedValues(json, "parameters", model, theta));
  PetscCall(JSONNamedValues(json, "gradient", model, g));
  {
    PetscInt64 nshots, per;
    PetscInt   nsettings, nphases;
    PetscCall(QepGradientGetShots(grad, &nshots, NULL));
    PetscCall(QepJSONInt(json, "shots", nshots));
    if (nshots) { /* the measurement accounting of this gradient and its standard errors */
      PetscInt   np;
      PetscReal *se;
      PetscCall(QepGradientGetMeasurementPlan(grad, &nsettings, &nphases, &per));
      PetscCall(QepJSONInt(json, "measurement_settings", nsettings));
      PetscCall(QepJSONInt(json, "phases", nphases));
      PetscCall(QepJSONInt(json, "preparations", per));
      PetscCall(QepModelGetNumParameters(model, &np));
      PetscCall(PetscMalloc1(np, &se));
      PetscCall(QepGradientGetStandardErrors(grad, se));
      PetscCall(JSONNamedValues(json, "standard_error", model, se));
      PetscCall(PetscFree(se));
    }
  }
  if (ref) {
    PetscCall(QepJSONString(json, "reference_type", QepReferenceTypes[rt]));
    PetscCall(JSONNamedValues(json, "reference", model, ref));
  }
  PetscCall(QepJSONBeginObject(json, "matvecs"));
  PetscCall(QepJSONInt(json, "free", st->free_matvecs));
  PetscCall(QepJSONInt(json, "nudged", st->nudged_matvecs));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "solves"));
  PetscCall(QepJSONInt(json, "free", st->free_solves));
  PetscCall(QepJSONInt(json, "nudged", st->nudged_solves));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "time_s"));
  PetscCall(QepJSONReal(json, "free", st->time_free));
  PetscCall(QepJSONReal(json, "nudged", st->time_nudged));
  PetscCall(QepJSONReal(json, "reference", tref));
  PetscCall(QepJSONReal(json, "total", ttotal));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, path));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliGradient(MPI_Comm comm)
{
  GradientOptions  opts;
  QepModel         model;
  QepGradient      grad;
  QepGradientStats st;
  PetscReal       *x, *y, *theta, *g, *ref = NULL, loss, refloss, beta;
  PetscInt         n, np;
  PetscMPIInt      size;
  QepEstimator     est;
  QepLossType      lt;
  PetscLogDouble   t0, t1, t2;
  const char      *desc;

  PetscBool        qho;

  PetscFunctionBegin;
  PetscCall(QepCliIsOscillatorModel(&qho));
  if (qho) {
    PetscCall(QepCliQhoGradient());
    PetscFunctionReturn(0);
  }
  PetscCall(PetscTime(&t0));
  PetscCall(GetOptions(comm, &opts));
  PetscCall(QepModelCreate(comm, &model));
  PetscCall(QepModelSetFromOptions(model));
  PetscCall(QepCliReadExample(comm, model, &x, &y));
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetNumParameters(model, &np));
  PetscCheck(np > 0, comm, PETSC_ERR_USER_INPUT, "The model has no trainable parameters: declare them with 'param' lines or a -qep_*_trainable generator option");
  PetscCall(PetscMalloc3(np, &theta, np, &g, np, &ref));
  PetscCall(QepModelGetParameters(model, theta));
  PetscCall(QepGradientCreate(model, &grad));
  PetscCall(QepGradientSetFromOptions(grad));
  PetscCall(QepGradientCompute(grad, 0, x, y, &loss, g));
  PetscCall(QepGradientGetStats(grad, &st)); /* QEP's own cost, before any reference solves */
  PetscCall(PetscTime(&t1));
  if (opts.reference != QEP_REFERENCE_NONE) PetscCall(QepGradientComputeReference(grad, opts.reference, x, y, &refloss, ref));
  PetscCall(PetscTime(&t2));

  PetscCall(QepGradientGetSettings(grad, &est, &beta, &lt));
  PetscCall(QepModelGetDescription(model, &desc));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscPrintf(comm, "qep gradient: %s\n", desc));
  PetscCall(PetscPrintf(comm, "  qubits %" PetscInt_FMT ", parameters %" PetscInt_FMT ", ranks %d; loss %s = %.12g; estimator %s, beta %g\n", n, np, (int)size, QepLossTypes[lt],
                        (double)loss, QepEstimators[est], (double)beta));
  PetscCall(PetscPrintf(comm, "  free:   %" PetscInt_FMT " solve(s), %" PetscInt_FMT " matvecs, %.3f s;  gap %.4e\n", st.free_solves, st.free_matvecs, st.time_free, (double)st.gap));
  PetscCall(PetscPrintf(comm, "  nudged: %" PetscInt_FMT " solve(s), %" PetscInt_FMT " matvecs, %.3f s (warm-started from the free state)\n", st.nudged_solves, st.nudged_matvecs,
                        st.time_nudged));
  PetscCall(PrintShots(comm, model, grad));
  PetscCall(PrintTable(comm, model, theta, g, opts.reference ? ref : NULL, opts.reference));
  if (opts.reference) PetscCall(PetscPrintf(comm, "  time: QEP %.3f s, reference %.3f s\n", t1 - t0, t2 - t1));
  if (opts.has_json) PetscCall(WriteJSON(comm, opts.json, model, grad, &st, loss, theta, g, opts.reference ? ref : NULL, opts.reference, t1 - t0, t2 - t1));
  PetscCall(QepGradientDestroy(&grad));
  PetscCall(PetscFree3(theta, g, ref));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(y));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}
