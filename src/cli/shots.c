/* shots.c — `qep shots`: the β–shots trade-off of shot-based QEP gradients for one example.
 * For every estimator, β (-qep_beta_list) and shot count N (-qep_shots_list), R repeats
 * (-qep_repeats) re-measure the same solved phases with independent shot streams; each row reports
 * against the exact (linear-response) gradient g*:
 *   bias     = ‖mean_r ĝ_r − g*‖₂          (shot noise left in it: ~ sqrt(variance / R))
 *   variance = Σ_k Var_r(ĝ_k)              (unbiased over repeats)
 *   mse      = mean_r ‖ĝ_r − g*‖₂²
 * and, deterministically, bias_beta = ‖g_β − g*‖₂ of the shot-free estimator at that β, and
 * predicted_variance = mean_r Σ_k se_k² from the per-gradient standard errors. Streams come from
 * (estimator, β index, N index, repeat), so results do not depend on the rank count. */
#include "cli.h"

typedef struct {
  PetscReal   *betas;
  PetscInt     nbetas, nshots, nest, repeats;
  PetscInt     shots[64];
  QepEstimator est[3];
  PetscInt     seed;
  char         json[PETSC_MAX_PATH_LEN], csv[PETSC_MAX_PATH_LEN];
  PetscBool    has_json, has_csv;
} ShotsOptions;

typedef struct {
  PetscReal    beta, bias, variance, mse, bias_beta, predicted;
  PetscInt     shots;
  QepEstimator est;
} ShotsRow;

static PetscErrorCode GetOptions(MPI_Comm comm, ShotsOptions *o)
{
  PetscInt  nest = 3;
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->repeats = 20;
  o->seed    = 1;
  o->nshots  = 64;
  o->est[0] = QEP_ESTIMATOR_ONESIDED, o->est[1] = QEP_ESTIMATOR_CENTERED, o->nest = 2;
  PetscCall(QepCliGetRealList("-qep_beta_list", "Nudge strengths beta to sweep, e.g. 0.05,0.1,0.2", &o->betas, &o->nbetas));
  PetscOptionsBegin(comm, NULL, "qep shots options", NULL);
  PetscCall(PetscOptionsIntArray("-qep_shots_list", "Shots per measurement setting and phase to sweep, e.g. 100,1000,10000", NULL, o->shots, &o->nshots, &set));
  if (!set) o->nshots = 0;
  PetscCall(PetscOptionsEnumArray("-qep_estimator_list", "Estimators to sweep (default onesided,centered)", NULL, QepEstimators, (PetscEnum *)o->est, &nest, &set));
  if (set) o->nest = nest;
  PetscCall(PetscOptionsInt("-qep_repeats", "Repeats (independent shot streams) per (estimator, beta, shots)", NULL, o->repeats, &o->repeats, NULL));
  PetscCall(PetscOptionsInt("-qep_seed", "Seed of the shot sampling", NULL, o->seed, &o->seed, NULL));
  PetscCall(PetscOptionsString("-qep_json", "Write the sweep as JSON (settings, rows) to this file", NULL, o->json, o->json, sizeof(o->json), &o->has_json));
  PetscCall(PetscOptionsString("-qep_csv", "Write the sweep rows as CSV to this file", NULL, o->csv, o->csv, sizeof(o->csv), &o->has_csv));
  PetscOptionsEnd();
  PetscCheck(o->nbetas > 0, comm, PETSC_ERR_USER_INPUT, "-qep_beta_list is empty or missing; give the nudge strengths to sweep, e.g. -qep_beta_list 0.05,0.1,0.2");
  for (PetscInt i = 0; i < o->nbetas; i++)
    PetscCheck(o->betas[i] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_beta_list: entry %" PetscInt_FMT " is %g; every beta must be positive", i, (double)o->betas[i]);
  PetscCheck(o->nshots > 0, comm, PETSC_ERR_USER_INPUT, "-qep_shots_list is empty or missing; give the shot counts to sweep, e.g. -qep_shots_list 100,1000,10000");
  for (PetscInt i = 0; i < o->nshots; i++)
    PetscCheck(o->shots[i] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_shots_list: entry %" PetscInt_FMT " is %" PetscInt_FMT "; every shot count must be positive", i, o->shots[i]);
  PetscCheck(o->repeats >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_repeats must be at least 2 (a variance needs two samples); got %" PetscInt_FMT, o->repeats);
  PetscFunctionReturn(0);
}

static PetscReal Norm2(PetscInt n, const PetscReal a[], const PetscReal b[])
{
  PetscReal s = 0;
  for (PetscInt k = 0; k < n; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

/* One row: R re-measurements of the phases solved by the last Compute of `shot`. */
static PetscErrorCode SweepRow(QepGradient shot, const ShotsOptions *o, PetscInt np, const PetscReal gexact[], PetscInt ie, PetscInt ib, PetscInt in, ShotsRow *row)
{
  PetscReal *g, *se, *mean, *m2;

  PetscFunctionBegin;
  PetscCall(PetscCalloc4(np, &g, np, &se, np, &mean, np, &m2));
  row->mse = row->predicted = 0;
  for (PetscInt r = 0; r < o->repeats; r++) {
    const PetscInt64 stream = (((PetscInt64)ie * 1024 + ib) * 1024 + in) * 1048576 + r;
    PetscCall(QepGradientRemeasure(shot, stream, NULL, g));
    PetscCall(QepGradientGetStandardErrors(shot, se));
    for (PetscInt k = 0; k < np; k++) { /* Welford */
      PetscReal d = g[k] - mean[k];
      mean[k] += d / (r + 1);
      m2[k] += d * (g[k] - mean[k]);
      row->predicted += se[k] * se[k] / o->repeats;
    }
    row->mse += Norm2(np, g, gexact) / o->repeats;
  }
  row->bias     = PetscSqrtReal(Norm2(np, mean, gexact));
  row->variance = 0;
  for (PetscInt k = 0; k < np; k++) row->variance += m2[k] / (o->repeats - 1);
  PetscCall(PetscFree4(g, se, mean, m2));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteCSV(MPI_Comm comm, const char path[], const ShotsRow rows[], PetscInt nrows)
{
  size_t cap = 256 + 160 * (size_t)nrows, len = 0;
  char  *text;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(cap, &text));
  len += (size_t)snprintf(text + len, cap - len, "estimator,beta,shots,bias,variance,mse,bias_beta,predicted_variance\n");
  for (PetscInt i = 0; i < nrows; i++)
    len += (size_t)snprintf(text + len, cap - len, "%s,%.10g,%" PetscInt_FMT ",%.10g,%.10g,%.10g,%.10g,%.10g\n", QepEstimators[rows[i].est], (double)rows[i].beta, rows[i].shots, (double)rows[i].bias,
                            (double)rows[i].variance, (double)rows[i].mse, (double)rows[i].bias_beta, (double)rows[i].predicted);
  PetscCall(QepWriteFileAtomic(comm, path, text, len));
  PetscCall(PetscFree(text));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteJSON(MPI_Comm comm, const char path[], QepModel model, PetscInt nsettings, const ShotsOptions *o, PetscReal loss, const PetscReal gexact[],
                                const ShotsRow rows[], PetscInt nrows)
{
  QepJSON  json;
  PetscInt n, np;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(model, &n));
  PetscCall(QepModelGetNumParameters(model, &np));
  PetscCall(QepJSONCreate(comm, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepCliJSONHeader(json, comm, "shots"));
  PetscCall(QepJSONInt(json, "n", n));
  PetscCall(QepJSONInt(json, "settings", nsettings));
  PetscCall(QepJSONInt(json, "repeats", o->repeats));
  PetscCall(QepJSONInt(json, "seed", o->seed));
  PetscCall(QepJSONReal(json, "loss_value", loss));
  PetscCall(QepJSONBeginObject(json, "exact_gradient"));
  for (PetscInt k = 0; k < np; k++) {
    const char *name;
    PetscCall(QepModelGetParameterName(model, k, &name));
    PetscCall(QepJSONReal(json, name, gexact[k]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginArray(json, "rows"));
  for (PetscInt i = 0; i < nrows; i++) {
    PetscInt phases = 1 + (rows[i].est == QEP_ESTIMATOR_ONESIDED ? 1 : rows[i].est == QEP_ESTIMATOR_CENTERED ? 2 : 4);
    PetscCall(QepJSONBeginObject(json, NULL));
    PetscCall(QepJSONReal(json, "beta", rows[i].beta));
    PetscCall(QepJSONInt(json, "shots", rows[i].shots));
    PetscCall(QepJSONString(json, "estimator", QepEstimators[rows[i].est]));
    PetscCall(QepJSONReal(json, "bias", rows[i].bias));
    PetscCall(QepJSONReal(json, "variance", rows[i].variance));
    PetscCall(QepJSONReal(json, "mse", rows[i].mse));
    PetscCall(QepJSONReal(json, "bias_beta", rows[i].bias_beta));
    PetscCall(QepJSONReal(json, "predicted_variance", rows[i].predicted));
    PetscCall(QepJSONInt(json, "phases", phases));
    PetscCall(QepJSONInt(json, "preparations_per_gradient", (PetscInt64)rows[i].shots * nsettings * phases));
    PetscCall(QepJSONEndObject(json));
  }
  PetscCall(QepJSONEndArray(json));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, path));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}

/* Exact and shot gradient objects sharing the model; the shot one measures with N shots per setting. */
static PetscErrorCode CreateGradients(QepModel model, const ShotsOptions *o, QepGradient *exact, QepGradient *shot)
{
  PetscFunctionBegin;
  PetscCall(QepGradientCreate(model, exact));
  PetscCall(QepGradientSetFromOptions(*exact));
  PetscCall(QepGradientSetShots(*exact, 0, o->seed));
  PetscCall(QepGradientCreate(model, shot));
  PetscCall(QepGradientSetFromOptions(*shot));
  PetscCall(QepGradientSetShots(*shot, o->shots[0], o->seed));
  PetscFunctionReturn(0);
}

static PetscErrorCode PrintMeasurementPlan(MPI_Comm comm, QepGradient shot)
{
  PetscInt        nsettings, nmeasured;
  const QepPauli *strings;

  PetscFunctionBegin;
  PetscCall(QepGradientGetMeasurementPlan(shot, &nsettings, NULL, NULL));
  PetscCall(QepGradientGetMeasuredStrings(shot, &nmeasured, &strings));
  PetscCall(PetscPrintf(comm, "  measured strings %" PetscInt_FMT " in %" PetscInt_FMT " qubit-wise commuting setting(s); each shot is one ground-state preparation\n", nmeasured, nsettings));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliShots(MPI_Comm comm)
{
  ShotsOptions o;
  QepModel     model;
  QepGradient  exact, shot;
  PetscReal   *x, *y, *gexact, *gbeta, *gscratch, loss;
  PetscInt     np, nrows = 0, nsettings;
  ShotsRow    *rows;
  const char  *desc;

  PetscFunctionBegin;
  PetscCall(GetOptions(comm, &o));
  PetscCall(QepModelCreate(comm, &model));
  PetscCall(QepModelSetFromOptions(model));
  PetscCall(QepCliReadExample(comm, model, &x, &y));
  PetscCall(QepModelGetNumParameters(model, &np));
  PetscCheck(np > 0, comm, PETSC_ERR_USER_INPUT, "The model has no trainable parameters: declare them with 'param' lines or a -qep_*_trainable generator option");
  PetscCall(CreateGradients(model, &o, &exact, &shot));
  PetscCall(PetscMalloc4(np, &gexact, np, &gbeta, np, &gscratch, o.nest * o.nbetas * o.nshots, &rows));
  PetscCall(QepGradientComputeReference(exact, QEP_REFERENCE_LINEAR, x, y, &loss, gexact));
  PetscCall(QepModelGetDescription(model, &desc));
  PetscCall(PetscPrintf(comm, "qep shots: %s\n", desc));
  PetscCall(PrintMeasurementPlan(comm, shot));
  PetscCall(QepGradientGetMeasurementPlan(shot, &nsettings, NULL, NULL));
  PetscCall(PetscPrintf(comm, "  %-10s %10s %9s %12s %12s %12s %12s %12s\n", "estimator", "beta", "shots", "bias", "variance", "mse", "bias(beta)", "pred.var"));
  for (PetscInt ie = 0; ie < o.nest; ie++) {
    PetscCall(QepGradientSetEstimator(exact, o.est[ie]));
    PetscCall(QepGradientSetEstimator(shot, o.est[ie]));
    for (PetscInt ib = 0; ib < o.nbetas; ib++) {
      PetscCall(QepGradientSetBeta(exact, o.betas[ib]));
      PetscCall(QepGradientSetBeta(shot, o.betas[ib]));
      PetscCall(QepGradientCompute(exact, 0, x, y, NULL, gbeta)); /* g_beta: the shot-free estimator */
      PetscCall(QepGradientSetShots(shot, o.shots[0], o.seed));
      PetscCall(QepGradientCompute(shot, 0, x, y, NULL, gscratch)); /* solves the phases once */
      for (PetscInt in = 0; in < o.nshots; in++) {
        ShotsRow *row = &rows[nrows++];
        PetscCall(QepGradientSetShots(shot, o.shots[in], o.seed));
        row->est = o.est[ie], row->beta = o.betas[ib], row->shots = o.shots[in];
        row->bias_beta = PetscSqrtReal(Norm2(np, gbeta, gexact));
        PetscCall(SweepRow(shot, &o, np, gexact, ie, ib, in, row));
        PetscCall(PetscPrintf(comm, "  %-10s %10.4g %9" PetscInt_FMT " %12.4e %12.4e %12.4e %12.4e %12.4e\n", QepEstimators[row->est], (double)row->beta, row->shots, (double)row->bias,
                              (double)row->variance, (double)row->mse, (double)row->bias_beta, (double)row->predicted));
      }
    }
  }
  if (o.has_csv) PetscCall(WriteCSV(comm, o.csv, rows, nrows));
  if (o.has_json) PetscCall(WriteJSON(comm, o.json, model, nsettings, &o, loss, gexact, rows, nrows));
  PetscCall(QepGradientDestroy(&shot));
  PetscCall(QepGradientDestroy(&exact));
  PetscCall(PetscFree4(gexact, gbeta, gscratch, rows));
  PetscCall(PetscFree(o.betas));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(y));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}
