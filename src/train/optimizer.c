/* optimizer.c — QepOptimizer: first-order updates of a replicated parameter vector θ.
 *
 * Owns the update rules (sgd, momentum, adam, adamax), the learning-rate schedules, the hard bounds
 * (clipping after each step) and the soft quadratic penalty beyond a bound, plus the checkpoint state.
 *
 * Invariants:
 *   - every rank holds the same settings and state, and the arithmetic is purely local and in a fixed
 *     order, so equal gradients give bit-identical θ on every rank and for every rank count;
 *   - the whole mutable state is `steps` and the moment vectors m, v (steps counts completed Steps; the
 *     t-th Step, t = steps, uses the scheduled rate lr_t and bias corrections with exponent t + 1), so
 *     Get/SetState round-trips it bit for bit and a restored optimizer continues exactly;
 *   - a Step with a non-finite gradient entry fails before touching θ or the state.
 *
 * Moments by type (unused ones stay zero and are not part of the state):
 *   momentum: m = velocity v_t = μ v_{t-1} + g;                     θ −= lr_t v_t
 *   adam:     m = β1 m + (1−β1) g, v = β2 v + (1−β2) g²;            θ −= lr_t m̂ / (√v̂ + ε),
 *             m̂ = m / (1 − β1^(t+1)), v̂ = v / (1 − β2^(t+1))        (Kingma & Ba 2015, Algorithm 1)
 *   adamax:   m = β1 m + (1−β1) g, v = u = max(β2 u, |g|);          θ −= (lr_t / (1 − β1^(t+1))) m / (u + ε)
 *             (Algorithm 2 of the same paper, which has no ε; ε is added to u in the denominator, as in
 *             Keras, so that a parameter whose gradient has always been zero gets a zero step, not 0/0).
 * State layout (GetState): [type, nparams, steps, m[0..n) if momentum/adam/adamax, v[0..n) if adam/adamax];
 * the first two entries only let SetState reject a checkpoint written by a different optimizer. */
#include "qepimpl.h"

const char *const QepOptimizerTypes[] = {"sgd", "momentum", "adam", "adamax", "QepOptimizerType", "QEP_OPTIMIZER_", NULL};
const char *const QepScheduleTypes[]  = {"constant", "step", "exponential", "cosine", "QepScheduleType", "QEP_SCHEDULE_", NULL};

#define QEP_OPT_DEFAULT_LR          0.05  /* a safe start for parameters of order one with O(1) gradients */
#define QEP_OPT_DEFAULT_MOMENTUM    0.9
#define QEP_OPT_DEFAULT_BETA1       0.9   /* Kingma & Ba's defaults */
#define QEP_OPT_DEFAULT_BETA2       0.999
#define QEP_OPT_DEFAULT_EPS         1e-8
#define QEP_OPT_DEFAULT_DECAY       0.5   /* step/exponential: halve the rate ... */
#define QEP_OPT_DEFAULT_DECAY_STEPS 100   /* ... every 100 steps */
#define QEP_OPT_DEFAULT_PENALTY     1.0   /* μ when only -qep_param_bound is given */
#define QEP_OPT_STATE_HEADER        3     /* type, nparams, steps */

struct _p_QepOptimizer {
  MPI_Comm         comm;
  PetscInt         n; /* number of parameters */
  QepOptimizerType type;
  PetscReal        lr, momentum, beta1, beta2, eps;
  QepScheduleType  schedule;
  PetscReal        decay, lr_min;
  PetscInt         decay_steps;
  PetscInt         horizon; /* planned number of steps; 0 = not set */
  PetscBool        clip;    /* hard bounds clip_lo <= θ_k <= clip_hi after every step */
  PetscReal        clip_lo, clip_hi;
  PetscBool        soft; /* penalty μ Σ max(0, |θ_k| − B)² */
  PetscReal        bound, penalty;
  PetscInt         steps; /* completed Steps */
  PetscReal       *m, *v; /* moments (length n each), see the table above */
};

/* ------------------------------------------------------------------ validation ------------------ */

static PetscErrorCode CheckLearningRate(MPI_Comm comm, PetscReal lr)
{
  PetscFunctionBegin;
  PetscCheck(lr > 0 && !PetscIsInfOrNanReal(lr), comm, PETSC_ERR_ARG_OUTOFRANGE, "Learning rate (-qep_lr) must be positive and finite; got %g", (double)lr);
  PetscFunctionReturn(0);
}

/* A rate in [0, 1): momentum μ and the Adam decay rates β1, β2 (1 would never forget, > 1 diverges). */
static PetscErrorCode CheckUnitRate(MPI_Comm comm, const char what[], const char option[], PetscReal r)
{
  PetscFunctionBegin;
  PetscCheck(r >= 0 && r < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s (%s) must be in [0, 1); got %g", what, option, (double)r);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckSettings(QepOptimizer o)
{
  PetscFunctionBegin;
  PetscCall(CheckLearningRate(o->comm, o->lr));
  PetscCall(CheckUnitRate(o->comm, "Momentum", "-qep_momentum", o->momentum));
  PetscCall(CheckUnitRate(o->comm, "Adam beta1", "-qep_adam_beta1", o->beta1));
  PetscCall(CheckUnitRate(o->comm, "Adam beta2", "-qep_adam_beta2", o->beta2));
  PetscCheck(o->eps > 0 && !PetscIsInfOrNanReal(o->eps), o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Adam epsilon (-qep_adam_eps) must be positive and finite; got %g", (double)o->eps);
  PetscCheck(o->decay > 0 && o->decay <= 1, o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Learning-rate decay factor (-qep_lr_decay) must be in (0, 1]; got %g", (double)o->decay);
  PetscCheck(o->decay_steps >= 1, o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Learning-rate decay interval (-qep_lr_decay_steps) must be at least 1 step; got %" PetscInt_FMT, o->decay_steps);
  PetscCheck(o->lr_min >= 0 && o->lr_min <= o->lr, o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Cosine floor (-qep_lr_min) must be in [0, lr = %g]; got %g", (double)o->lr, (double)o->lr_min);
  PetscCheck(!o->clip || (PetscIsNormalReal(o->clip_hi - o->clip_lo) && o->clip_lo < o->clip_hi), o->comm, PETSC_ERR_USER_INPUT,
             "-qep_param_clip lo,hi needs finite lo < hi; got %g,%g", (double)o->clip_lo, (double)o->clip_hi);
  PetscCheck(!o->soft || (o->bound >= 0 && !PetscIsInfOrNanReal(o->bound)), o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Soft bound (-qep_param_bound) must be finite and >= 0; got %g", (double)o->bound);
  PetscCheck(!o->soft || (o->penalty >= 0 && !PetscIsInfOrNanReal(o->penalty)), o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Penalty strength (-qep_param_penalty) must be finite and >= 0; got %g",
             (double)o->penalty);
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ life cycle ------------------ */

PetscErrorCode QepOptimizerCreate(MPI_Comm comm, PetscInt nparams, QepOptimizer *opt)
{
  QepOptimizer o;

  PetscFunctionBegin;
  PetscCheck(nparams >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of parameters must be >= 0; got %" PetscInt_FMT, nparams);
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&o));
  o->comm        = comm;
  o->n           = nparams;
  o->type        = QEP_OPTIMIZER_ADAM;
  o->lr          = QEP_OPT_DEFAULT_LR;
  o->momentum    = QEP_OPT_DEFAULT_MOMENTUM;
  o->beta1       = QEP_OPT_DEFAULT_BETA1;
  o->beta2       = QEP_OPT_DEFAULT_BETA2;
  o->eps         = QEP_OPT_DEFAULT_EPS;
  o->schedule    = QEP_SCHEDULE_CONSTANT;
  o->decay       = QEP_OPT_DEFAULT_DECAY;
  o->decay_steps = QEP_OPT_DEFAULT_DECAY_STEPS;
  o->penalty     = QEP_OPT_DEFAULT_PENALTY;
  PetscCall(PetscCalloc2(nparams, &o->m, nparams, &o->v));
  *opt = o;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerDestroy(QepOptimizer *opt)
{
  PetscFunctionBegin;
  if (!*opt) PetscFunctionReturn(0);
  PetscCall(PetscFree2((*opt)->m, (*opt)->v));
  PetscCall(PetscFree(*opt));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerSetType(QepOptimizer o, QepOptimizerType type)
{
  PetscFunctionBegin;
  PetscCheck(type >= QEP_OPTIMIZER_SGD && type <= QEP_OPTIMIZER_ADAMAX, o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown optimizer type %d; use sgd, momentum, adam or adamax", (int)type);
  if (type != o->type) { /* another rule's moments mean nothing to this one: start them from zero */
    PetscCall(PetscArrayzero(o->m, o->n));
    PetscCall(PetscArrayzero(o->v, o->n));
  }
  o->type = type;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerSetLearningRate(QepOptimizer o, PetscReal lr)
{
  PetscFunctionBegin;
  PetscCall(CheckLearningRate(o->comm, lr));
  o->lr = lr;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerSetHorizon(QepOptimizer o, PetscInt nsteps)
{
  PetscFunctionBegin;
  PetscCheck(nsteps >= 1, o->comm, PETSC_ERR_ARG_OUTOFRANGE, "The horizon (planned number of steps) must be at least 1; got %" PetscInt_FMT, nsteps);
  o->horizon = nsteps;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerSetFromOptions(QepOptimizer o)
{
  QepOptimizerType type = o->type;
  PetscReal        lr = o->lr, clip[2] = {o->clip_lo, o->clip_hi};
  PetscInt         nclip = 2;
  PetscBool        setclip = PETSC_FALSE, setbound = PETSC_FALSE, setpenalty = PETSC_FALSE;

  PetscFunctionBegin;
  PetscOptionsBegin(o->comm, NULL, "QEP optimizer options", "QepOptimizer");
  PetscCall(PetscOptionsEnum("-qep_optimizer", "Update rule: sgd, momentum (heavy ball), adam or adamax", "QepOptimizerSetType", QepOptimizerTypes, (PetscEnum)type, (PetscEnum *)&type, NULL));
  PetscCall(PetscOptionsReal("-qep_lr", "Base learning rate lr (> 0)", "QepOptimizerSetLearningRate", lr, &lr, NULL));
  PetscCall(PetscOptionsReal("-qep_momentum", "Momentum mu in [0,1): v = mu v + g, theta -= lr v", "QepOptimizerSetFromOptions", o->momentum, &o->momentum, NULL));
  PetscCall(PetscOptionsReal("-qep_adam_beta1", "Adam/Adamax first-moment decay beta1 in [0,1)", "QepOptimizerSetFromOptions", o->beta1, &o->beta1, NULL));
  PetscCall(PetscOptionsReal("-qep_adam_beta2", "Adam second-moment (Adamax infinity-norm) decay beta2 in [0,1)", "QepOptimizerSetFromOptions", o->beta2, &o->beta2, NULL));
  PetscCall(PetscOptionsReal("-qep_adam_eps", "Adam/Adamax denominator offset epsilon (> 0)", "QepOptimizerSetFromOptions", o->eps, &o->eps, NULL));
  PetscCall(PetscOptionsEnum("-qep_lr_schedule", "Learning-rate schedule lr_t: constant, step, exponential or cosine (needs the horizon)", "QepOptimizerGetLearningRate", QepScheduleTypes,
                             (PetscEnum)o->schedule, (PetscEnum *)&o->schedule, NULL));
  PetscCall(PetscOptionsReal("-qep_lr_decay", "Decay factor in (0,1]: step lr*decay^floor(t/steps), exponential lr*decay^(t/steps)", "QepOptimizerGetLearningRate", o->decay, &o->decay, NULL));
  PetscCall(PetscOptionsInt("-qep_lr_decay_steps", "Steps per decay of the step/exponential schedules (>= 1)", "QepOptimizerGetLearningRate", o->decay_steps, &o->decay_steps, NULL));
  PetscCall(PetscOptionsReal("-qep_lr_min", "Cosine floor lr_min in [0,lr]: lr_t = lr_min + (lr-lr_min)(1+cos(pi t/T))/2", "QepOptimizerGetLearningRate", o->lr_min, &o->lr_min, NULL));
  PetscCall(PetscOptionsRealArray("-qep_param_clip", "Hard bounds lo,hi (default none): every parameter is clipped to [lo,hi] after each step", "QepOptimizerStep", clip, &nclip, &setclip));
  PetscCall(PetscOptionsReal("-qep_param_bound", "Soft bound B >= 0 (default none): penalty mu*sum max(0,|theta|-B)^2 added to the loss", "QepOptimizerAddPenalty", o->bound, &o->bound, &setbound));
  PetscCall(PetscOptionsReal("-qep_param_penalty", "Strength mu >= 0 of the soft-bound penalty (needs -qep_param_bound)", "QepOptimizerAddPenalty", o->penalty, &o->penalty, &setpenalty));
  PetscOptionsEnd();
  PetscCheck(!setclip || nclip == 2, o->comm, PETSC_ERR_USER_INPUT, "-qep_param_clip needs two values lo,hi; got %" PetscInt_FMT, nclip);
  PetscCheck(!setpenalty || setbound || o->soft, o->comm, PETSC_ERR_USER_INPUT, "-qep_param_penalty %g has no effect without -qep_param_bound B (the penalty acts where |theta| > B)", (double)o->penalty);
  if (setclip) {
    o->clip    = PETSC_TRUE;
    o->clip_lo = clip[0];
    o->clip_hi = clip[1];
  }
  if (setbound) o->soft = PETSC_TRUE;
  PetscCall(QepOptimizerSetType(o, type));
  o->lr = lr;
  PetscCall(CheckSettings(o));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ schedule -------------------- */

/* lr_t for step t (t = 0, 1, ...). The cosine schedule stays at lr_min past its horizon. */
static PetscErrorCode ScheduledRate(QepOptimizer o, PetscInt t, PetscReal *lr)
{
  PetscFunctionBegin;
  switch (o->schedule) {
  case QEP_SCHEDULE_CONSTANT:
    *lr = o->lr;
    break;
  case QEP_SCHEDULE_STEP:
    *lr = o->lr * PetscPowReal(o->decay, (PetscReal)(t / o->decay_steps)); /* integer division: floor for t >= 0 */
    break;
  case QEP_SCHEDULE_EXPONENTIAL:
    *lr = o->lr * PetscPowReal(o->decay, (PetscReal)t / (PetscReal)o->decay_steps);
    break;
  case QEP_SCHEDULE_COSINE:
    PetscCheck(o->horizon > 0, o->comm, PETSC_ERR_ORDER,
               "The cosine learning-rate schedule needs the planned number of steps: call QepOptimizerSetHorizon first (or use -qep_lr_schedule constant|step|exponential)");
    *lr = o->lr_min + 0.5 * (o->lr - o->lr_min) * (1 + PetscCosReal(PETSC_PI * (PetscReal)PetscMin(t, o->horizon) / (PetscReal)o->horizon));
    break;
  default:
    SETERRQ(o->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown learning-rate schedule %d", (int)o->schedule);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerGetLearningRate(QepOptimizer o, PetscReal *lr)
{
  PetscFunctionBegin;
  PetscCall(ScheduledRate(o, o->steps, lr));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerGetStepCount(QepOptimizer o, PetscInt *steps)
{
  PetscFunctionBegin;
  *steps = o->steps;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ penalty and step ------------ */

PetscErrorCode QepOptimizerAddPenalty(QepOptimizer o, const PetscReal theta[], PetscReal *penalty, PetscReal grad[])
{
  PetscReal sum = 0;

  PetscFunctionBegin;
  if (!o->soft) PetscFunctionReturn(0);
  for (PetscInt k = 0; k < o->n; k++) {
    const PetscReal excess = PetscAbsReal(theta[k]) - o->bound;
    if (!(excess > 0)) continue;
    sum += excess * excess;
    if (grad) grad[k] += 2 * o->penalty * (theta[k] > 0 ? 1.0 : -1.0) * excess;
  }
  if (penalty) *penalty += o->penalty * sum;
  PetscFunctionReturn(0);
}

/* Fails, naming the first bad entry, unless every gradient entry is finite. */
static PetscErrorCode CheckGradient(QepOptimizer o, const PetscReal grad[])
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < o->n; k++)
    PetscCheck(!PetscIsInfOrNanReal(grad[k]), o->comm, PETSC_ERR_FP, "Gradient entry %" PetscInt_FMT " is %s: the solve upstream failed; the parameters were left unchanged", k,
               PetscIsNanReal(grad[k]) ? "NaN" : "inf");
  PetscFunctionReturn(0);
}

/* 1 − β^(t+1): the bias correction of a moment average that started at zero, for step t. */
static inline PetscReal BiasCorrection(PetscReal beta, PetscInt t) { return 1 - PetscPowReal(beta, (PetscReal)(t + 1)); }

static void UpdateSGD(QepOptimizer o, PetscReal lr, PetscReal theta[], const PetscReal g[])
{
  for (PetscInt k = 0; k < o->n; k++) theta[k] -= lr * g[k];
}

static void UpdateMomentum(QepOptimizer o, PetscReal lr, PetscReal theta[], const PetscReal g[])
{
  for (PetscInt k = 0; k < o->n; k++) {
    o->m[k] = o->momentum * o->m[k] + g[k];
    theta[k] -= lr * o->m[k];
  }
}

static void UpdateAdam(QepOptimizer o, PetscReal lr, PetscReal theta[], const PetscReal g[])
{
  const PetscReal c1 = BiasCorrection(o->beta1, o->steps), c2 = BiasCorrection(o->beta2, o->steps);

  for (PetscInt k = 0; k < o->n; k++) {
    o->m[k] = o->beta1 * o->m[k] + (1 - o->beta1) * g[k];
    o->v[k] = o->beta2 * o->v[k] + (1 - o->beta2) * g[k] * g[k];
    theta[k] -= lr * (o->m[k] / c1) / (PetscSqrtReal(o->v[k] / c2) + o->eps);
  }
}

static void UpdateAdamax(QepOptimizer o, PetscReal lr, PetscReal theta[], const PetscReal g[])
{
  const PetscReal step = lr / BiasCorrection(o->beta1, o->steps);

  for (PetscInt k = 0; k < o->n; k++) {
    o->m[k] = o->beta1 * o->m[k] + (1 - o->beta1) * g[k];
    o->v[k] = PetscMax(o->beta2 * o->v[k], PetscAbsReal(g[k]));
    theta[k] -= step * o->m[k] / (o->v[k] + o->eps);
  }
}

static void Clip(QepOptimizer o, PetscReal theta[])
{
  for (PetscInt k = 0; k < o->n; k++) theta[k] = PetscMin(PetscMax(theta[k], o->clip_lo), o->clip_hi);
}

PetscErrorCode QepOptimizerStep(QepOptimizer o, PetscReal theta[], const PetscReal grad[])
{
  PetscReal lr;

  PetscFunctionBegin;
  PetscCall(CheckGradient(o, grad));
  PetscCall(ScheduledRate(o, o->steps, &lr)); /* may fail (cosine without horizon): still nothing touched */
  switch (o->type) {
  case QEP_OPTIMIZER_SGD: UpdateSGD(o, lr, theta, grad); break;
  case QEP_OPTIMIZER_MOMENTUM: UpdateMomentum(o, lr, theta, grad); break;
  case QEP_OPTIMIZER_ADAM: UpdateAdam(o, lr, theta, grad); break;
  case QEP_OPTIMIZER_ADAMAX: UpdateAdamax(o, lr, theta, grad); break;
  }
  if (o->clip) Clip(o, theta);
  o->steps++;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ checkpoint state ------------ */

/* How many moment vectors the type keeps: sgd none, momentum the velocity, adam/adamax two. */
static PetscInt NumMoments(QepOptimizerType type)
{
  switch (type) {
  case QEP_OPTIMIZER_SGD: return 0;
  case QEP_OPTIMIZER_MOMENTUM: return 1;
  default: return 2;
  }
}

PetscErrorCode QepOptimizerGetStateSize(QepOptimizer o, PetscInt *nstate)
{
  PetscFunctionBegin;
  *nstate = QEP_OPT_STATE_HEADER + NumMoments(o->type) * o->n;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOptimizerGetState(QepOptimizer o, PetscReal state[])
{
  const PetscInt nm = NumMoments(o->type);

  PetscFunctionBegin;
  state[0] = (PetscReal)o->type;
  state[1] = (PetscReal)o->n;
  state[2] = (PetscReal)o->steps; /* exact: integers up to 2^53 are representable */
  if (nm >= 1) PetscCall(PetscArraycpy(state + QEP_OPT_STATE_HEADER, o->m, o->n));
  if (nm >= 2) PetscCall(PetscArraycpy(state + QEP_OPT_STATE_HEADER + o->n, o->v, o->n));
  PetscFunctionReturn(0);
}

/* Name of the type code stored in a state (any real may arrive from a corrupted checkpoint). */
static const char *TypeName(PetscReal code)
{
  for (int t = QEP_OPTIMIZER_SGD; t <= QEP_OPTIMIZER_ADAMAX; t++)
    if (code == (PetscReal)t) return QepOptimizerTypes[t];
  return "unknown";
}

PetscErrorCode QepOptimizerSetState(QepOptimizer o, const PetscReal state[])
{
  const PetscInt nm = NumMoments(o->type);
  PetscInt       nstate;

  PetscFunctionBegin;
  PetscCheck(state[0] == (PetscReal)o->type && state[1] == (PetscReal)o->n, o->comm, PETSC_ERR_USER_INPUT,
             "Optimizer state was saved by a %s optimizer with %g parameters; this one is %s with %" PetscInt_FMT " parameters", TypeName(state[0]), (double)state[1], QepOptimizerTypes[o->type], o->n);
  PetscCheck(state[2] >= 0 && state[2] == PetscFloorReal(state[2]) && state[2] < (PetscReal)PETSC_MAX_INT, o->comm, PETSC_ERR_USER_INPUT, "Optimizer state has an invalid step count %g",
             (double)state[2]);
  PetscCall(QepOptimizerGetStateSize(o, &nstate));
  for (PetscInt i = QEP_OPT_STATE_HEADER; i < nstate; i++)
    PetscCheck(!PetscIsInfOrNanReal(state[i]), o->comm, PETSC_ERR_USER_INPUT, "Optimizer state entry %" PetscInt_FMT " is not finite", i);
  o->steps = (PetscInt)state[2];
  if (nm >= 1) PetscCall(PetscArraycpy(o->m, state + QEP_OPT_STATE_HEADER, o->n));
  if (nm >= 2) PetscCall(PetscArraycpy(o->v, state + QEP_OPT_STATE_HEADER + o->n, o->n));
  PetscFunctionReturn(0);
}
