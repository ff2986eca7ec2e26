/* test_optimizer.c — QepOptimizer (src/train/optimizer.c) against values worked out by hand.
 *
 * Checks: the first three steps of sgd, momentum, adam and adamax on a fixed 3-parameter θ with fixed
 * gradients (expected values written below with their formulas, computed independently in exact
 * decimal arithmetic, not with this code); every schedule at chosen steps against its closed form;
 * clipping; the soft-bound penalty and its gradient; the checkpoint state (bit-for-bit resume for every
 * type); a non-finite gradient leaves θ and the state untouched; Adam converges on a quadratic; and
 * every rank holds bit-identical results.
 *
 * Modes:
 *   (default)   runs every positive check;
 *   -mode run   builds one optimizer for 3 parameters from the command-line options (plus -horizon H),
 *               and takes one step from θ = (0.5, -1, 2) with g = (0.2, -0.4, 1); -poison k puts NaN
 *               (or inf with -poison_inf) into gradient entry k. tests/optimizer.cmake uses it to check
 *               the user-facing message of every invalid setting. */
#include <slepcsys.h>
#include <qep/qep.h>

#define NP  3     /* parameters in the hand-worked examples */
#define TOL 1e-14 /* absolute, for O(1) values computed in a few floating-point operations */

#include "check.h"

static const PetscReal THETA0[NP] = {0.5, -1.0, 2.0};
/* The gradients of steps 1, 2, 3. */
static const PetscReal GRADS[3][NP] = {
  {0.2,  -0.4, 1.0  },
  {0.1,  0.3,  -0.5 },
  {-0.3, 0.2,  0.25 },
};
#define LR 0.1 /* learning rate of the hand-worked examples */

/* ---------------------------------------------------------------- hand-worked expectations ----- */

/* sgd: θ_t = θ_{t-1} − 0.1 g_t.
 *   θ1 = (0.5 − 0.02, −1 + 0.04, 2 − 0.1) ; θ2 = θ1 − 0.1 (0.1, 0.3, −0.5) ; θ3 = θ2 − 0.1 (−0.3, 0.2, 0.25) */
static const PetscReal SGD[3][NP] = {
  {0.48, -0.96, 1.9  },
  {0.47, -0.99, 1.95 },
  {0.50, -1.01, 1.925},
};

/* momentum μ = 0.9: v_t = 0.9 v_{t-1} + g_t, θ_t = θ_{t-1} − 0.1 v_t.
 *   v1 = g1 = (0.2, −0.4, 1)                   θ1 = (0.48, −0.96, 1.9)
 *   v2 = 0.9 v1 + g2 = (0.28, −0.06, 0.4)      θ2 = (0.452, −0.954, 1.86)
 *   v3 = 0.9 v2 + g3 = (−0.048, 0.146, 0.61)   θ3 = (0.4568, −0.9686, 1.799) */
static const PetscReal MOMENTUM[3][NP] = {
  {0.48,   -0.96,   1.9  },
  {0.452,  -0.954,  1.86 },
  {0.4568, -0.9686, 1.799},
};

/* adam β1 = 0.9, β2 = 0.999, ε = 1e-8: m_t = 0.9 m + 0.1 g, v_t = 0.999 v + 0.001 g²,
 * θ_t = θ_{t-1} − 0.1 (m_t/(1−0.9^t)) / (√(v_t/(1−0.999^t)) + 1e-8).
 *   m1 = (0.02, −0.04, 0.1)        v1 = (4e-5, 1.6e-4, 1e-3)            (m̂1 = g1, √v̂1 = |g1|)
 *   m2 = (0.028, −0.006, 0.04)     v2 = (4.996e-5, 2.4984e-4, 1.249e-3)
 *   m3 = (−0.0048, 0.0146, 0.061)  v3 = (1.3991004e-4, 2.8959016e-4, 1.310251e-3)
 *   e.g. θ1[0] = 0.5 − 0.1·0.2/(0.2 + 1e-8) = 0.400000004999999975
 *        θ2[0] = θ1[0] − 0.1·(0.028/0.19)/(√(4.996e-5/0.001999) + 1e-8)
 * (decimal arithmetic at 50 digits, rounded to 17 significant digits). */
static const PetscReal ADAM[3][NP] = {
  {0.40000000499999977, -0.9000000024999999,  1.900000001       },
  {0.30678204701536516, -0.89106750201213558, 1.8733662973709029},
  {0.31497972642103417, -0.90839895982799168, 1.8393233830648463},
};

/* adamax β1 = 0.9, β2 = 0.999, ε = 1e-8: m_t as adam, u_t = max(0.999 u_{t-1}, |g_t|),
 * θ_t = θ_{t-1} − (0.1/(1−0.9^t)) m_t/(u_t + 1e-8).
 *   u1 = |g1| = (0.2, 0.4, 1)
 *   u2 = (max(0.1998, 0.1), max(0.3996, 0.3), max(0.999, 0.5)) = (0.1998, 0.3996, 0.999)
 *   u3 = (max(0.1996002, 0.3), max(0.3992004, 0.2), max(0.998001, 0.25)) = (0.3, 0.3992004, 0.998001)
 *   e.g. θ2[0] = θ1[0] − (0.1/0.19)·0.028/(0.1998 + 1e-8) */
static const PetscReal ADAMAX[3][NP] = {
  {0.40000000499999977, -0.9000000024999999,  1.900000001       },
  {0.32624204019677899, -0.89209736321617683, 1.8789262959267163},
  {0.33214609904056741, -0.90559297529367633, 1.8563719849924509},
};

/* ---------------------------------------------------------------- helpers ---------------------- */

/* Every rank must hold bit-identical values (the optimizer is replicated and rank-independent). */
static PetscErrorCode CheckSameOnAllRanks(const char label[], PetscInt n, const PetscReal x[])
{
  PetscReal *lo, *hi;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n, &lo, n, &hi));
  PetscCallMPI(MPI_Allreduce(x, lo, (int)n, MPIU_REAL, MPI_MIN, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(x, hi, (int)n, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD));
  for (PetscInt k = 0; k < n; k++) CHECK(lo[k] == hi[k] && lo[k] == x[k], "%s: entry %" PetscInt_FMT " differs across ranks (%.17g .. %.17g)", label, k, (double)lo[k], (double)hi[k]);
  PetscCall(PetscFree2(lo, hi));
  PetscFunctionReturn(0);
}

/* Replaces the whole options database by `opts` and makes a fresh optimizer for n parameters from it. */
static PetscErrorCode CreateFromOptions(const char opts[], PetscInt n, QepOptimizer *o)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscCall(QepOptimizerCreate(PETSC_COMM_WORLD, n, o));
  PetscCall(QepOptimizerSetFromOptions(*o));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- tests ------------------------ */

static PetscErrorCode TestDefaults(void)
{
  QepOptimizer o;
  PetscReal    lr;
  PetscInt     steps, nstate;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("", NP, &o));
  PetscCall(QepOptimizerGetLearningRate(o, &lr));
  PetscCall(QepOptimizerGetStepCount(o, &steps));
  PetscCall(QepOptimizerGetStateSize(o, &nstate));
  CHECK(lr == 0.05, "default learning rate %g, expected 0.05", (double)lr);
  CHECK(steps == 0, "fresh optimizer has %" PetscInt_FMT " steps", steps);
  CHECK(nstate == 3 + 2 * NP, "default (adam) state size %" PetscInt_FMT ", expected 3 + 2n = %d", nstate, 3 + 2 * NP);
  PetscCall(QepOptimizerSetType(o, QEP_OPTIMIZER_SGD));
  PetscCall(QepOptimizerGetStateSize(o, &nstate));
  CHECK(nstate == 3, "sgd state size %" PetscInt_FMT ", expected 3", nstate);
  PetscCall(QepOptimizerSetType(o, QEP_OPTIMIZER_MOMENTUM));
  PetscCall(QepOptimizerGetStateSize(o, &nstate));
  CHECK(nstate == 3 + NP, "momentum state size %" PetscInt_FMT ", expected 3 + n", nstate);
  PetscCall(QepOptimizerDestroy(&o));
  CHECK(o == NULL, "Destroy must null the handle");
  PetscFunctionReturn(0);
}

static PetscErrorCode TestFirstSteps(QepOptimizerType type, const PetscReal expect[3][NP])
{
  QepOptimizer o;
  PetscReal    theta[NP];
  PetscInt     steps;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("", NP, &o));
  PetscCall(QepOptimizerSetType(o, type));
  PetscCall(QepOptimizerSetLearningRate(o, LR));
  PetscCall(PetscArraycpy(theta, THETA0, NP));
  for (PetscInt t = 0; t < 3; t++) {
    PetscCall(QepOptimizerStep(o, theta, GRADS[t]));
    for (PetscInt k = 0; k < NP; k++)
      CHECK(PetscAbsReal(theta[k] - expect[t][k]) <= TOL, "%s step %" PetscInt_FMT ": theta[%" PetscInt_FMT "] = %.17g, expected %.17g", QepOptimizerTypes[type], t + 1, k, (double)theta[k],
            (double)expect[t][k]);
  }
  PetscCall(QepOptimizerGetStepCount(o, &steps));
  CHECK(steps == 3, "%s: step count %" PetscInt_FMT " after 3 steps", QepOptimizerTypes[type], steps);
  PetscCall(CheckSameOnAllRanks(QepOptimizerTypes[type], NP, theta));
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

/* lr_t at chosen t, reached by zero-gradient sgd steps (which leave θ alone but advance t). */
typedef struct {
  PetscInt  t;
  PetscReal lr;
} RateAt;

static PetscErrorCode CheckSchedule(const char opts[], PetscInt horizon, PetscInt ncheck, const RateAt expect[])
{
  QepOptimizer    o;
  PetscReal       theta[NP] = {1, 2, 3}, lr;
  const PetscReal zero[NP]  = {0, 0, 0};
  PetscInt        t = 0;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions(opts, NP, &o));
  if (horizon) PetscCall(QepOptimizerSetHorizon(o, horizon));
  for (PetscInt i = 0; i < ncheck; i++) {
    for (; t < expect[i].t; t++) PetscCall(QepOptimizerStep(o, theta, zero));
    PetscCall(QepOptimizerGetLearningRate(o, &lr));
    CHECK(PetscAbsReal(lr - expect[i].lr) <= 1e-15, "%s: lr at t = %" PetscInt_FMT " is %.17g, expected %.17g", opts, expect[i].t, (double)lr, (double)expect[i].lr);
  }
  CHECK(theta[0] == 1 && theta[1] == 2 && theta[2] == 3, "%s: zero-gradient sgd steps moved theta", opts);
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSchedules(void)
{
  /* constant: lr_t = 0.2 */
  const RateAt constant[] = {
    {0,  0.2},
    {17, 0.2}
  };
  /* step, decay 0.5 every 10: lr_t = 0.2 · 0.5^floor(t/10) */
  const RateAt step[] = {
    {0,  0.2  },
    {9,  0.2  },
    {10, 0.1  },
    {19, 0.1  },
    {25, 0.05 },
    {30, 0.025}
  };
  /* exponential, decay 0.25 per 10: lr_t = 0.2 · 0.25^(t/10); t = 5 → 0.2 · 0.5, t = 15 → 0.2 · 0.125 */
  const RateAt exponential[] = {
    {0,  0.2   },
    {5,  0.1   },
    {10, 0.05  },
    {15, 0.025 },
    {20, 0.0125}
  };
  /* cosine, lr 0.1, lr_min 0.01, T = 100: lr_t = 0.01 + 0.045 (1 + cos(π t/100));
   * t = 25 → 0.01 + 0.045 (1 + √2/2); t = 50 → 0.055; t = 75 → 0.01 + 0.045 (1 − √2/2); t ≥ 100 → 0.01 */
  const RateAt cosine[] = {
    {0,   0.1                                        },
    {25,  0.01 + 0.045 * (1 + 0.70710678118654752440)},
    {50,  0.055                                      },
    {75,  0.01 + 0.045 * (1 - 0.70710678118654752440)},
    {100, 0.01                                       },
    {103, 0.01                                       },
  };

  PetscFunctionBegin;
  PetscCall(CheckSchedule("-qep_optimizer sgd -qep_lr 0.2", 0, 2, constant));
  PetscCall(CheckSchedule("-qep_optimizer sgd -qep_lr 0.2 -qep_lr_schedule step -qep_lr_decay_steps 10", 0, 6, step));
  PetscCall(CheckSchedule("-qep_optimizer sgd -qep_lr 0.2 -qep_lr_schedule exponential -qep_lr_decay 0.25 -qep_lr_decay_steps 10", 0, 5, exponential));
  PetscCall(CheckSchedule("-qep_optimizer sgd -qep_lr 0.1 -qep_lr_schedule cosine -qep_lr_min 0.01", 100, 6, cosine));
  PetscFunctionReturn(0);
}

/* The step must actually use the scheduled rate: sgd with the step schedule across a decay boundary. */
static PetscErrorCode TestStepUsesSchedule(void)
{
  QepOptimizer    o;
  PetscReal       theta[1] = {0};
  const PetscReal g[1]     = {1};

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_optimizer sgd -qep_lr 0.5 -qep_lr_schedule step -qep_lr_decay_steps 2", 1, &o));
  for (PetscInt t = 0; t < 5; t++) PetscCall(QepOptimizerStep(o, theta, g));
  /* θ = −(0.5 + 0.5 + 0.25 + 0.25 + 0.125) */
  CHECK(theta[0] == -1.625, "scheduled sgd: theta %.17g, expected -1.625", (double)theta[0]);
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestClip(void)
{
  QepOptimizer    o;
  PetscReal       theta[NP];
  const PetscReal g[NP] = {-20, 3, 1};
  /* sgd lr 0.1: θ − 0.1 g = (2.5, −1.3, 1.9), clipped to [−0.8, 2] → (2, −0.8, 1.9) */
  const PetscReal expect[NP] = {2.0, -0.8, 1.9};

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_optimizer sgd -qep_lr 0.1 -qep_param_clip -0.8,2", NP, &o));
  PetscCall(PetscArraycpy(theta, THETA0, NP));
  PetscCall(QepOptimizerStep(o, theta, g));
  for (PetscInt k = 0; k < NP; k++) CHECK(PetscAbsReal(theta[k] - expect[k]) <= TOL, "clip: theta[%" PetscInt_FMT "] = %.17g, expected %.17g", k, (double)theta[k], (double)expect[k]);
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestPenalty(void)
{
  QepOptimizer    o;
  const PetscReal theta[4] = {0.5, -1.5, 2.0, 1.0};
  PetscReal       grad[4]  = {0.1, 0.2, 0.3, 0.4}, penalty = 2.0;
  /* B = 1, μ = 0.5: excess max(0, |θ|−1) = (0, 0.5, 1, 0) (θ = 1 sits on the bound: no penalty);
   * penalty = 0.5 (0.25 + 1) = 0.625, added to 2 → 2.625;
   * gradient 2μ sign(θ)(|θ|−1) = (0, −0.5, 1, 0), added to grad → (0.1, −0.3, 1.3, 0.4). */
  const PetscReal expect_grad[4] = {0.1, -0.3, 1.3, 0.4};

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_param_bound 1 -qep_param_penalty 0.5", 4, &o));
  PetscCall(QepOptimizerAddPenalty(o, theta, &penalty, grad));
  CHECK(PetscAbsReal(penalty - 2.625) <= TOL, "penalty %.17g, expected 2.625", (double)penalty);
  for (PetscInt k = 0; k < 4; k++) CHECK(PetscAbsReal(grad[k] - expect_grad[k]) <= TOL, "penalty gradient[%" PetscInt_FMT "] = %.17g, expected %.17g", k, (double)grad[k], (double)expect_grad[k]);
  PetscCall(QepOptimizerDestroy(&o));

  /* No bound: nothing is added. */
  PetscCall(CreateFromOptions("", 4, &o));
  penalty = 2.0;
  for (PetscInt k = 0; k < 4; k++) grad[k] = 0.1 * (k + 1);
  PetscCall(QepOptimizerAddPenalty(o, theta, &penalty, grad));
  CHECK(penalty == 2.0, "no bound: penalty changed to %g", (double)penalty);
  for (PetscInt k = 0; k < 4; k++) CHECK(grad[k] == 0.1 * (k + 1), "no bound: gradient[%" PetscInt_FMT "] changed", k);
  PetscCall(QepOptimizerDestroy(&o));

  /* The penalty gradient matches a central difference of the penalty (B = 0.3, μ = 2, one parameter). */
  PetscCall(CreateFromOptions("-qep_param_bound 0.3 -qep_param_penalty 2", 1, &o));
  {
    const PetscReal h = 1e-6, x = -0.7;
    PetscReal       pp = 0, pm = 0, g = 0, p0 = 0, xp = x + h, xm = x - h;
    PetscCall(QepOptimizerAddPenalty(o, &x, &p0, &g));
    PetscCall(QepOptimizerAddPenalty(o, &xp, &pp, NULL));
    PetscCall(QepOptimizerAddPenalty(o, &xm, &pm, NULL));
    /* 2 (0.7 − 0.3)² = 0.32, derivative 2·2·(−1)·0.4 = −1.6 */
    CHECK(PetscAbsReal(p0 - 0.32) <= TOL && PetscAbsReal(g + 1.6) <= TOL, "penalty at -0.7: %.17g (0.32), gradient %.17g (-1.6)", (double)p0, (double)g);
    CHECK(PetscAbsReal((pp - pm) / (2 * h) - g) <= 1e-8, "penalty gradient %.17g vs central difference %.17g", (double)g, (double)((pp - pm) / (2 * h)));
  }
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

/* Gradient of f(θ) = ½ Σ a_k (θ_k − c_k)², the test problem of the state and convergence checks. */
static const PetscReal QA[NP] = {1.0, 10.0, 100.0}, QC[NP] = {0.3, -0.7, 1.2};
static void QuadraticGradient(const PetscReal theta[], PetscReal g[])
{
  for (PetscInt k = 0; k < NP; k++) g[k] = QA[k] * (theta[k] - QC[k]);
}

static PetscErrorCode RunSteps(QepOptimizer o, PetscInt nsteps, PetscReal theta[])
{
  PetscReal g[NP];

  PetscFunctionBegin;
  for (PetscInt t = 0; t < nsteps; t++) {
    QuadraticGradient(theta, g);
    PetscCall(QepOptimizerStep(o, theta, g));
  }
  PetscFunctionReturn(0);
}

/* 5 steps, save, 5 more; a fresh optimizer restored from the save must take the same 5 steps bit for bit.
 * The cosine schedule makes every step's rate depend on the restored step count. */
static PetscErrorCode TestStateRoundTrip(const char type[])
{
  char         opts[256];
  QepOptimizer a, b;
  PetscReal    theta_a[NP], theta_saved[NP], theta_b[NP], *state, *again;
  PetscInt     nstate, nstate_b, steps;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(opts, sizeof(opts), "-qep_optimizer %s -qep_lr 0.01 -qep_lr_schedule cosine -qep_lr_min 0.001", type));
  PetscCall(CreateFromOptions(opts, NP, &a));
  PetscCall(QepOptimizerSetHorizon(a, 20));
  PetscCall(PetscArraycpy(theta_a, THETA0, NP));
  PetscCall(RunSteps(a, 5, theta_a));
  PetscCall(QepOptimizerGetStateSize(a, &nstate));
  PetscCall(PetscMalloc2(nstate, &state, nstate, &again));
  PetscCall(QepOptimizerGetState(a, state));
  PetscCall(PetscArraycpy(theta_saved, theta_a, NP));
  PetscCall(RunSteps(a, 5, theta_a));

  PetscCall(CreateFromOptions(opts, NP, &b));
  PetscCall(QepOptimizerSetHorizon(b, 20));
  PetscCall(QepOptimizerGetStateSize(b, &nstate_b));
  CHECK(nstate_b == nstate, "%s: state sizes %" PetscInt_FMT " vs %" PetscInt_FMT, type, nstate, nstate_b);
  PetscCall(QepOptimizerSetState(b, state));
  PetscCall(QepOptimizerGetStepCount(b, &steps));
  CHECK(steps == 5, "%s: restored step count %" PetscInt_FMT ", expected 5", type, steps);
  PetscCall(QepOptimizerGetState(b, again));
  CHECK(!memcmp(state, again, (size_t)nstate * sizeof(PetscReal)), "%s: GetState after SetState differs", type);
  PetscCall(PetscArraycpy(theta_b, theta_saved, NP));
  PetscCall(RunSteps(b, 5, theta_b));
  CHECK(!memcmp(theta_a, theta_b, sizeof(theta_a)), "%s: resumed run differs from the uninterrupted one (%.17g %.17g %.17g vs %.17g %.17g %.17g)", type, (double)theta_a[0], (double)theta_a[1],
        (double)theta_a[2], (double)theta_b[0], (double)theta_b[1], (double)theta_b[2]);
  CHECK(memcmp(theta_a, theta_saved, sizeof(theta_a)), "%s: the last 5 steps did not move theta", type);
  PetscCall(CheckSameOnAllRanks(type, NP, theta_b));
  PetscCall(PetscFree2(state, again));
  PetscCall(QepOptimizerDestroy(&a));
  PetscCall(QepOptimizerDestroy(&b));
  PetscFunctionReturn(0);
}

/* SetState refuses a state written by another type or parameter count (errors caught, not printed). */
static PetscErrorCode TestStateMismatch(void)
{
  QepOptimizer   adam, sgd;
  PetscReal      state[3 + 2 * NP];
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_optimizer adam", NP, &adam));
  PetscCall(CreateFromOptions("-qep_optimizer sgd", NP, &sgd));
  PetscCall(QepOptimizerGetState(adam, state));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = QepOptimizerSetState(sgd, state);
  PetscCall(PetscPopErrorHandler());
  CHECK(ierr == PETSC_ERR_USER_INPUT, "an adam state restored into sgd gave error %d, expected PETSC_ERR_USER_INPUT", (int)ierr);
  PetscCall(QepOptimizerDestroy(&adam));
  PetscCall(QepOptimizerDestroy(&sgd));
  PetscFunctionReturn(0);
}

/* A NaN gradient fails with PETSC_ERR_FP and leaves θ and the state as they were. */
static PetscErrorCode TestNaNLeavesThetaUntouched(void)
{
  QepOptimizer   o;
  PetscReal      theta[NP], g[NP], before[3 + 2 * NP], after[3 + 2 * NP];
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_optimizer adam -qep_param_clip -0.1,0.1", NP, &o));
  PetscCall(PetscArraycpy(theta, THETA0, NP));
  PetscCall(QepOptimizerStep(o, theta, GRADS[0]));
  PetscCall(QepOptimizerGetState(o, before));
  PetscCall(PetscArraycpy(g, GRADS[1], NP));
  g[2] = NAN;
  {
    const PetscReal kept[NP] = {theta[0], theta[1], theta[2]};
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = QepOptimizerStep(o, theta, g);
    PetscCall(PetscPopErrorHandler());
    CHECK(ierr == PETSC_ERR_FP, "NaN gradient gave error %d, expected PETSC_ERR_FP", (int)ierr);
    CHECK(!memcmp(kept, theta, sizeof(kept)), "NaN gradient changed theta");
  }
  PetscCall(QepOptimizerGetState(o, after));
  CHECK(!memcmp(before, after, sizeof(before)), "NaN gradient changed the optimizer state");
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

/* Adam with its defaults (lr 0.05) from θ = 0 on f = ½ Σ a_k (θ_k − c_k)², a = (1, 10, 100),
 * c = (0.3, −0.7, 1.2): max_k |θ_k − c_k| < 1e-6 by step 300 and stays there through step 400
 * (a float64 Python run of the same recurrence first reaches 1e-6 at step 258). */
static PetscErrorCode TestAdamConverges(void)
{
  QepOptimizer o;
  PetscReal    theta[NP] = {0, 0, 0}, worst = 0;

  PetscFunctionBegin;
  PetscCall(CreateFromOptions("-qep_optimizer adam", NP, &o));
  PetscCall(RunSteps(o, 300, theta));
  for (PetscInt t = 300; t <= 400; t++) {
    for (PetscInt k = 0; k < NP; k++) worst = PetscMax(worst, PetscAbsReal(theta[k] - QC[k]));
    PetscCall(RunSteps(o, 1, theta));
  }
  CHECK(worst < 1e-6, "adam: max |theta - c| over steps 300..400 is %g, expected < 1e-6", (double)worst);
  PetscCall(CheckSameOnAllRanks("adam convergence", NP, theta));
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

/* -mode run: one optimizer from the command line, one step (see the header). */
static PetscErrorCode RunFromCommandLine(void)
{
  QepOptimizer o;
  PetscReal    theta[NP], g[NP];
  PetscInt     horizon = 0, poison = -1;
  PetscBool    inf     = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-horizon", &horizon, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-poison", &poison, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-poison_inf", &inf, NULL));
  PetscCall(QepOptimizerCreate(PETSC_COMM_WORLD, NP, &o));
  PetscCall(QepOptimizerSetFromOptions(o));
  if (horizon) PetscCall(QepOptimizerSetHorizon(o, horizon));
  PetscCall(PetscArraycpy(theta, THETA0, NP));
  PetscCall(PetscArraycpy(g, GRADS[0], NP));
  if (poison >= 0 && poison < NP) g[poison] = inf ? INFINITY : NAN;
  PetscCall(QepOptimizerStep(o, theta, g));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "theta = %.17g %.17g %.17g\n", (double)theta[0], (double)theta[1], (double)theta[2]));
  PetscCall(QepOptimizerDestroy(&o));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char      mode[32] = "";
  PetscBool set;
  int       total;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mode", mode, sizeof(mode), &set));
  if (set) {
    PetscCheck(!strcmp(mode, "run"), PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "Unknown -mode %s; use run", mode);
    PetscCall(RunFromCommandLine());
    PetscCall(SlepcFinalize());
    return 0;
  }
  PetscCall(TestDefaults());
  PetscCall(TestFirstSteps(QEP_OPTIMIZER_SGD, SGD));
  PetscCall(TestFirstSteps(QEP_OPTIMIZER_MOMENTUM, MOMENTUM));
  PetscCall(TestFirstSteps(QEP_OPTIMIZER_ADAM, ADAM));
  PetscCall(TestFirstSteps(QEP_OPTIMIZER_ADAMAX, ADAMAX));
  PetscCall(TestSchedules());
  PetscCall(TestStepUsesSchedule());
  PetscCall(TestClip());
  PetscCall(TestPenalty());
  for (int t = QEP_OPTIMIZER_SGD; t <= QEP_OPTIMIZER_ADAMAX; t++) PetscCall(TestStateRoundTrip(QepOptimizerTypes[t]));
  PetscCall(TestStateMismatch());
  PetscCall(TestNaNLeavesThetaUntouched());
  PetscCall(TestAdamConverges());
  PetscCall(PetscOptionsClear(NULL));
  PetscCallMPI(MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscCheck(total == 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%d optimizer check(s) failed", total);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_optimizer: all checks passed\n"));
  PetscCall(SlepcFinalize());
  return 0;
}
