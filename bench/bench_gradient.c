/* bench_gradient.c — cost of one centred QEP gradient against ground-state solves and finite differences.
 *
 *   mpiexec -n 2 bench_gradient -nmin 12 -nmax 22 -step 2 -operator shell [-reps 2] [-free_eps_* / -nudged_eps_* ...]
 *
 * Model: transverse-field Ising ring, built in code with the public model API,
 *     H = -Σ_i J_i Z_i Z_{i+1 mod n} - Σ_i b_i Z_i - Σ_i g_i X_i,
 * every J_i, b_i, g_i trainable (P = 3n), J_i = 1 ± 0.2, g_i = 0.9 ± 0.2, b_i = 0.1 ± 0.05 (the
 * small random longitudinal field makes the ground state unique); outputs Z_{n-2}, Z_{n-1}, mse
 * loss with targets 0.3, -0.2. Random values come from QepRandomUniform, so every rank count runs
 * the same problem. Per n it measures (best of -reps, rank-0 wall clock after a barrier):
 *   t_cold    one cold ground-state solve (QepGradientComputeLoss with example -1: nothing cached);
 *   t_grad    one centred QEP gradient with a cold free solve (example -1): free + 2 warm nudged solves;
 *   t_warm    one warm-started free solve after a 1e-4 change of one parameter (an FD evaluation);
 *   t_fd      2P * t_warm: central finite differences extrapolated from the measured warm solve;
 *   mv_cold   matvecs of a cold free solve, mv_nudged matvecs of one warm nudged solve, mv_warm_free
 *             matvecs of the warm free (finite-difference) solve, all from QepGradientGetStats;
 *   mv_grad_over_cold  matvecs of the whole gradient over those of a cold solve (timing-noise free).
 * One parseable line per n (rank 0), then a summary of the two targets of the QEP-gradients issue:
 *   centred gradient <= 3.5 cold solves   and   warm nudged solve <= 0.35 x the matvecs of a cold one. */
#include <qep/qep.h>
#include <slepcsys.h>

static const char help[] = "Times QEP gradients of a TFIM ring against cold solves and finite differences.\n"
                           "  -nmin <12> -nmax <22> -step <2> qubits, -operator aij|shell, -reps <2>, -beta <default of the gradient>\n";

#define SEED             20261124
#define TARGET_GRAD_COLD 3.5  /* issue target: one centred gradient costs at most 3.5 cold solves */
#define TARGET_NUDGED_MV 0.35 /* issue target: a warm nudged solve needs at most 0.35x the matvecs of a cold one */
#define FD_STEP          1e-4 /* parameter change of the measured warm (finite-difference) solve */

typedef struct {
  PetscInt       n, P;
  PetscLogDouble t_cold, t_grad, t_warm, t_fd;
  PetscReal      mv_cold, mv_nudged, mv_warm, mv_grad;
} Row;

static PetscReal Spread(PetscReal mean, PetscReal half, PetscInt64 stream, PetscInt64 i)
{
  return mean + half * (2.0 * (PetscReal)QepRandomUniform(SEED, stream, i) - 1.0);
}

/* The TFIM ring with 3n trainable parameters and two Z outputs. */
static PetscErrorCode BuildRing(PetscInt n, QepModel *model)
{
  char name[32];

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, model));
  PetscCall(QepModelSetNumQubits(*model, n));
  for (PetscInt i = 0; i < n; i++) {
    QepPauli zz = {0, 0}, z = {0, 0}, x = {0, 0};
    PetscInt kJ, kb, kg;
    QepPauliSetFactor(&zz, 'Z', (int)i);
    QepPauliSetFactor(&zz, 'Z', (int)((i + 1) % n));
    QepPauliSetFactor(&z, 'Z', (int)i);
    QepPauliSetFactor(&x, 'X', (int)i);
    PetscCall(PetscSNPrintf(name, sizeof(name), "J%" PetscInt_FMT, i));
    PetscCall(QepModelAddParameter(*model, name, Spread(1.0, 0.2, 1, i), &kJ));
    PetscCall(PetscSNPrintf(name, sizeof(name), "b%" PetscInt_FMT, i));
    PetscCall(QepModelAddParameter(*model, name, Spread(0.1, 0.05, 2, i), &kb));
    PetscCall(PetscSNPrintf(name, sizeof(name), "g%" PetscInt_FMT, i));
    PetscCall(QepModelAddParameter(*model, name, Spread(0.9, 0.2, 3, i), &kg));
    PetscCall(QepModelAddTerm(*model, zz, -1.0, QEP_VAR_PARAM, kJ));
    PetscCall(QepModelAddTerm(*model, z, -1.0, QEP_VAR_PARAM, kb));
    PetscCall(QepModelAddTerm(*model, x, -1.0, QEP_VAR_PARAM, kg));
  }
  for (PetscInt o = 0; o < 2; o++) {
    QepPauli z = {0, 0};
    QepPauliSetFactor(&z, 'Z', (int)(n - 2 + o));
    PetscCall(QepModelAddOutputTerm(*model, o ? "y1" : "y0", z, 1.0));
  }
  PetscCall(QepModelFinalize(*model));
  PetscFunctionReturn(0);
}

/* Wall seconds since t0, as seen after a barrier (the slowest rank). */
static PetscErrorCode Elapsed(PetscLogDouble t0, PetscLogDouble *dt)
{
  PetscLogDouble t1;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(&t1));
  *dt = t1 - t0;
  PetscFunctionReturn(0);
}

static PetscErrorCode StartClock(PetscLogDouble *t0)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(t0));
  PetscFunctionReturn(0);
}

/* One repetition of every measurement; keeps the best time of each in row. */
static PetscErrorCode MeasureOnce(QepGradient g, QepModel model, const PetscReal y[], PetscReal grad[], PetscReal theta[], Row *row)
{
  QepGradientStats st;
  PetscLogDouble   t0, dt;
  PetscReal        loss;

  PetscFunctionBegin;
  /* cold free solve */
  PetscCall(QepGradientResetStats(g));
  PetscCall(StartClock(&t0));
  PetscCall(QepGradientComputeLoss(g, -1, NULL, y, &loss, NULL));
  PetscCall(Elapsed(t0, &dt));
  PetscCall(QepGradientGetStats(g, &st));
  PetscCheck(st.free_solves == 1, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "QepGradientComputeLoss made %" PetscInt_FMT " free solves, expected 1", st.free_solves);
  row->t_cold  = PetscMin(row->t_cold, dt);
  row->mv_cold = (PetscReal)st.free_matvecs;

  /* one centred gradient, cold free solve + two warm nudged solves */
  PetscCall(QepGradientResetStats(g));
  PetscCall(StartClock(&t0));
  PetscCall(QepGradientCompute(g, -1, NULL, y, &loss, grad));
  PetscCall(Elapsed(t0, &dt));
  PetscCall(QepGradientGetStats(g, &st));
  PetscCheck(st.nudged_solves == 2, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "A centred gradient made %" PetscInt_FMT " nudged solves, expected 2", st.nudged_solves);
  row->t_grad    = PetscMin(row->t_grad, dt);
  row->mv_nudged = (PetscReal)st.nudged_matvecs / st.nudged_solves;
  row->mv_grad   = (PetscReal)(st.free_matvecs + st.nudged_matvecs);

  /* one finite-difference evaluation: warm start from the cached state of example 0 */
  PetscCall(QepGradientComputeLoss(g, 0, NULL, y, &loss, NULL));
  theta[0] += FD_STEP;
  PetscCall(QepModelSetParameters(model, theta));
  PetscCall(QepGradientResetStats(g));
  PetscCall(StartClock(&t0));
  PetscCall(QepGradientComputeLoss(g, 0, NULL, y, &loss, NULL));
  PetscCall(Elapsed(t0, &dt));
  PetscCall(QepGradientGetStats(g, &st));
  row->mv_warm = (PetscReal)st.free_matvecs;
  theta[0] -= FD_STEP;
  PetscCall(QepModelSetParameters(model, theta));
  row->t_warm = PetscMin(row->t_warm, dt);
  row->t_fd   = 2.0 * row->P * row->t_warm;
  PetscFunctionReturn(0);
}

static PetscErrorCode MeasureSize(PetscInt n, PetscInt reps, PetscReal beta, Row *row)
{
  QepModel    model;
  QepGradient g;
  PetscReal  *grad, *theta;
  const PetscReal y[2] = {0.3, -0.2};

  PetscFunctionBegin;
  PetscCall(BuildRing(n, &model));
  PetscCall(QepModelGetNumParameters(model, &row->P));
  row->n      = n;
  row->t_cold = row->t_grad = row->t_warm = PETSC_MAX_REAL;
  PetscCall(PetscMalloc2(row->P, &grad, row->P, &theta));
  PetscCall(QepModelGetParameters(model, theta));
  PetscCall(QepGradientCreate(model, &g));
  PetscCall(QepGradientSetLoss(g, QEP_LOSS_MSE));
  PetscCall(QepGradientSetEstimator(g, QEP_ESTIMATOR_CENTERED));
  PetscCall(QepGradientSetFromOptions(g));
  if (beta > 0) PetscCall(QepGradientSetBeta(g, beta));
  PetscCall(QepGradientSetUp(g));
  for (PetscInt r = 0; r < reps; r++) PetscCall(MeasureOnce(g, model, y, grad, theta, row));
  PetscCall(QepGradientDestroy(&g));
  PetscCall(PetscFree2(grad, theta));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

static PetscErrorCode PrintRow(const Row *r, const char op[], PetscMPIInt size)
{
  PetscFunctionBegin;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                        "gradient operator=%s ranks=%d n=%" PetscInt_FMT " P=%" PetscInt_FMT " t_cold=%.4f t_grad=%.4f grad_over_cold=%.2f t_warm=%.4f t_fd=%.3f fd_over_grad=%.1f "
                        "mv_cold=%.0f mv_nudged=%.0f nudged_over_cold=%.3f mv_warm_free=%.0f mv_grad_over_cold=%.2f\n",
                        op, size, r->n, r->P, r->t_cold, r->t_grad, r->t_grad / r->t_cold, r->t_warm, r->t_fd, r->t_fd / r->t_grad, (double)r->mv_cold, (double)r->mv_nudged,
                        (double)(r->mv_nudged / r->mv_cold), (double)r->mv_warm, (double)(r->mv_grad / r->mv_cold)));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    nmin = 12, nmax = 22, step = 2, reps = 2, nrows = 0;
  PetscReal   beta = -1.0;
  char        op[16] = "shell";
  PetscMPIInt size;
  PetscBool   ok_grad = PETSC_TRUE, ok_mv = PETSC_TRUE;
  Row         rows[64];

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "QEP gradient benchmark", NULL);
  PetscCall(PetscOptionsInt("-nmin", "smallest ring", NULL, nmin, &nmin, NULL));
  PetscCall(PetscOptionsInt("-nmax", "largest ring", NULL, nmax, &nmax, NULL));
  PetscCall(PetscOptionsInt("-step", "ring size step", NULL, step, &step, NULL));
  PetscCall(PetscOptionsInt("-reps", "repetitions per size (best time kept)", NULL, reps, &reps, NULL));
  PetscCall(PetscOptionsReal("-beta", "nudge strength (default: the gradient's default or -qep_beta)", NULL, beta, &beta, NULL));
  PetscCall(PetscOptionsString("-operator", "aij|shell (sets -qep_operator)", NULL, op, op, sizeof(op), NULL));
  PetscOptionsEnd();
  PetscCheck(nmin >= 3 && nmax >= nmin && step >= 1 && reps >= 1 && (nmax - nmin) / step < 64, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT,
             "need 3 <= nmin <= nmax, step >= 1, reps >= 1 and at most 64 sizes");
  PetscCall(PetscOptionsSetValue(NULL, "-qep_operator", op));
  for (PetscInt n = nmin; n <= nmax; n += step) {
    PetscCall(MeasureSize(n, reps, beta, &rows[nrows]));
    PetscCall(PrintRow(&rows[nrows], op, size));
    ok_grad = ok_grad && rows[nrows].t_grad <= TARGET_GRAD_COLD * rows[nrows].t_cold;
    ok_mv   = ok_mv && rows[nrows].mv_nudged <= TARGET_NUDGED_MV * rows[nrows].mv_cold;
    nrows++;
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "summary operator=%s ranks=%d target_grad_le_%.1f_cold=%s target_nudged_matvecs_le_%.2f_cold=%s\n", op, size, TARGET_GRAD_COLD,
                        ok_grad ? "met" : "MISSED", TARGET_NUDGED_MV, ok_mv ? "met" : "MISSED"));
  PetscCall(SlepcFinalize());
  return 0;
}
