/* numeric.c — from an oscillator network to numbers: the QepQhoNumeric of H(θ, x) + β C(y), the
 * moments arrays, ⟨∂H/∂θ⟩ from moments, and the solve entry points (QepQhoGroundSolve,
 * QepQhoClassicalSolve) that pick the Gaussian or the Fock solver.
 * Invariant: a QepQhoNumeric built here has the network's pattern (QepQhoFinalize) and is identical
 * on every rank; every user-visible number (mass, quartic coefficient, stiffness) is checked here
 * with a message naming the mode, so the solvers only see valid Hamiltonians. */
#include "qhomodel.h"

PetscErrorCode QepQhoNumericAlloc(PetscInt n, PetscInt nk, QepQhoNumeric *num)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(num, sizeof(*num)));
  num->n  = n;
  num->nk = nk;
  PetscCall(PetscCalloc3(n, &num->mass, n, &num->force, n, &num->quartic));
  PetscCall(PetscCalloc3(nk, &num->ki, nk, &num->kj, nk, &num->kval));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoNumericFree(QepQhoNumeric *num)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(num->mass, num->force, num->quartic));
  PetscCall(PetscFree3(num->ki, num->kj, num->kval));
  num->n = num->nk = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoMomentsAlloc(const QepQhoNumeric *num, QepQhoMoments *mom)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(mom, sizeof(*mom)));
  PetscCall(PetscCalloc4(num->n, &mom->mean, num->nk, &mom->cov, num->n, &mom->pp, num->n, &mom->x4));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoMomentsFree(QepQhoMoments *mom)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(mom->mean, mom->cov, mom->pp, mom->x4));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoNumericAllocFor(QepQho q, QepQhoNumeric *num)
{
  PetscFunctionBegin;
  PetscCall(QepQhoNumericAlloc(q->n, q->nk, num));
  PetscCall(PetscArraycpy(num->ki, q->ki, q->nk));
  PetscCall(PetscArraycpy(num->kj, q->kj, q->nk));
  PetscFunctionReturn(0);
}

/* "parameter 'k_0_1' = 2" or "fixed", for messages about a coefficient's value. */
static void DescribeCoef(QepQho q, QepQhoCoef c, const PetscReal theta[], char buf[], size_t len)
{
  if (c.kind == QEP_VAR_PARAM) snprintf(buf, len, " (%g * parameter '%s' = %g)", (double)c.factor, q->param_names[c.index], (double)theta[c.index]);
  else buf[0] = 0;
}

static PetscErrorCode EvaluateMasses(QepQho q, const PetscReal th[], QepQhoNumeric *num)
{
  char why[160];

  PetscFunctionBegin;
  for (PetscInt i = 0; i < q->n; i++) {
    num->mass[i] = QepQhoCoefValue(q->mass[i], th, NULL);
    DescribeCoef(q, q->mass[i], th, why, sizeof(why));
    PetscCheck(num->mass[i] > 0 && !PetscIsInfOrNanReal(num->mass[i]), q->comm, PETSC_ERR_USER_INPUT, "Mass of mode %" PetscInt_FMT " is %g%s; masses must be positive", i,
               (double)num->mass[i], why);
  }
  PetscFunctionReturn(0);
}

/* ½ k (x_i − x_j − l)² = ½ k (x_i − x_j)² − k l (x_i − x_j) + ½ k l²; H holds −bᵀx. */
static void AddSprings(QepQho q, const PetscReal th[], QepQhoNumeric *num)
{
  for (PetscInt s = 0; s < q->nsprings; s++) {
    const QepQhoSpring *sp = &q->springs[s];
    PetscReal           k = QepQhoCoefValue(sp->k, th, NULL), l = QepQhoCoefValue(sp->rest, th, NULL);
    num->kval[sp->i] += k;
    num->kval[sp->j] += k;
    num->kval[q->spring_entry[s]] -= k;
    num->force[sp->i] += k * l;
    num->force[sp->j] -= k * l;
    num->constant += 0.5 * k * l * l;
  }
  for (PetscInt s = 0; s < q->nground; s++) {
    const QepQhoSpring *sp = &q->ground[s];
    PetscReal           k = QepQhoCoefValue(sp->k, th, NULL), r = QepQhoCoefValue(sp->rest, th, NULL);
    num->kval[sp->i] += k;
    num->force[sp->i] += k * r;
    num->constant += 0.5 * k * r * r;
  }
}

PetscErrorCode QepQhoEvaluate(QepQho q, const PetscReal theta[], const PetscReal x[], PetscReal beta, const PetscReal y[], QepQhoNumeric *num)
{
  const PetscReal *th = theta ? theta : q->param_values;

  PetscFunctionBegin;
  PetscCheck(q->finalized, q->comm, PETSC_ERR_ORDER, "Finalize the oscillator network (QepQhoFinalize, or read/generate it) first");
  PetscCheck(num->n == q->n && num->nk == q->nk, q->comm, PETSC_ERR_ARG_SIZ, "QepQhoNumeric sized for another network");
  PetscCheck(beta == 0 || y || !q->noutputs, q->comm, PETSC_ERR_ARG_NULL, "A nudged solve (beta != 0) needs the targets y");
  for (PetscInt a = 0; x && a < q->ninputs; a++) PetscCheck(!PetscIsInfOrNanReal(x[a]), q->comm, PETSC_ERR_USER_INPUT, "Input feature x%" PetscInt_FMT " is not a finite number", a);
  num->hbar     = q->hbar;
  num->constant = 0;
  PetscCall(PetscArrayzero(num->kval, q->nk));
  PetscCall(PetscArrayzero(num->force, q->n));
  PetscCall(PetscArrayzero(num->quartic, q->n));
  PetscCall(EvaluateMasses(q, th, num));
  AddSprings(q, th, num);
  for (PetscInt t = 0; t < q->nforces; t++) num->force[q->forces[t].i] += QepQhoCoefValue(q->forces[t].c, th, x);
  for (PetscInt t = 0; t < q->nquartic; t++) num->quartic[q->quartic[t].i] += QepQhoCoefValue(q->quartic[t].c, th, NULL);
  for (PetscInt o = 0; beta != 0 && o < q->noutputs; o++) { /* β C = β ½ (x_o − y_o)² */
    PetscInt i = q->output_mode[o];
    num->kval[i] += beta;
    num->force[i] += beta * y[o];
    num->constant += 0.5 * beta * y[o] * y[o];
  }
  for (PetscInt i = 0; i < q->n; i++) {
    PetscCheck(num->quartic[i] >= 0, q->comm, PETSC_ERR_USER_INPUT, "Quartic coefficient of mode %" PetscInt_FMT " is %g; it must be >= 0 (a negative x^4 term has no ground state)", i,
               (double)num->quartic[i]);
    PetscCheck(!PetscIsInfOrNanReal(num->force[i]) && !PetscIsInfOrNanReal(num->quartic[i]), q->comm, PETSC_ERR_USER_INPUT, "Force or quartic coefficient of mode %" PetscInt_FMT " is not finite", i);
  }
  for (PetscInt e = 0; e < q->nk; e++)
    PetscCheck(!PetscIsInfOrNanReal(num->kval[e]), q->comm, PETSC_ERR_USER_INPUT, "Stiffness entry (%" PetscInt_FMT ", %" PetscInt_FMT ") is not finite", q->ki[e], q->kj[e]);
  PetscFunctionReturn(0);
}

/* ∂/∂θ of ½ k (d − l)² with d = x_i − x_j (or x_i for a ground spring): stiffness part ½⟨(d − l)²⟩
 * = ½ (μ_d − l)² + ½ Var d, rest part −k (μ_d − l). */
static void SpringDerivatives(const QepQhoSpring *sp, PetscReal k, PetscReal l, PetscReal md, PetscReal vd, PetscReal mean[], PetscReal fluct[])
{
  PetscReal dev = md - l;
  if (sp->k.kind == QEP_VAR_PARAM) {
    mean[sp->k.index] += sp->k.factor * 0.5 * dev * dev;
    fluct[sp->k.index] += sp->k.factor * 0.5 * vd;
  }
  if (sp->rest.kind == QEP_VAR_PARAM) mean[sp->rest.index] -= sp->rest.factor * k * dev;
}

PetscErrorCode QepQhoDerivativeExpectations(QepQho q, const PetscReal theta[], const QepQhoMoments *mom, PetscReal mean_part[], PetscReal fluct_part[])
{
  const PetscReal *th = theta ? theta : q->param_values, *mu = mom->mean, *cov = mom->cov;
  PetscReal       *mean, *fluct;

  PetscFunctionBegin;
  PetscCall(PetscCalloc2(PetscMax(q->nparams, 1), &mean, PetscMax(q->nparams, 1), &fluct));
  for (PetscInt s = 0; s < q->nsprings; s++) {
    const QepQhoSpring *sp = &q->springs[s];
    PetscReal           var = cov[sp->i] + cov[sp->j] - 2 * cov[q->spring_entry[s]];
    SpringDerivatives(sp, QepQhoCoefValue(sp->k, th, NULL), QepQhoCoefValue(sp->rest, th, NULL), mu[sp->i] - mu[sp->j], var, mean, fluct);
  }
  for (PetscInt s = 0; s < q->nground; s++) {
    const QepQhoSpring *sp = &q->ground[s];
    SpringDerivatives(sp, QepQhoCoefValue(sp->k, th, NULL), QepQhoCoefValue(sp->rest, th, NULL), mu[sp->i], cov[sp->i], mean, fluct);
  }
  for (PetscInt t = 0; t < q->nforces; t++) /* −f x_i */
    if (q->forces[t].c.kind == QEP_VAR_PARAM) mean[q->forces[t].c.index] -= q->forces[t].c.factor * mu[q->forces[t].i];
  for (PetscInt i = 0; i < q->n; i++) /* p²/(2m): −⟨p²⟩/(2m²) per unit of mass */
    if (q->mass[i].kind == QEP_VAR_PARAM) {
      PetscReal m = QepQhoCoefValue(q->mass[i], th, NULL);
      fluct[q->mass[i].index] -= q->mass[i].factor * mom->pp[i] / (2 * m * m);
    }
  for (PetscInt t = 0; t < q->nquartic; t++) /* λ x⁴: μ⁴ is the mean part, the rest fluctuation */
    if (q->quartic[t].c.kind == QEP_VAR_PARAM) {
      PetscInt  i = q->quartic[t].i;
      PetscReal m4 = mu[i] * mu[i] * mu[i] * mu[i];
      mean[q->quartic[t].c.index] += q->quartic[t].c.factor * m4;
      fluct[q->quartic[t].c.index] += q->quartic[t].c.factor * (mom->x4[i] - m4);
    }
  if (mean_part) PetscCall(PetscArraycpy(mean_part, mean, q->nparams));
  if (fluct_part) PetscCall(PetscArraycpy(fluct_part, fluct, q->nparams));
  PetscCall(PetscFree2(mean, fluct));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------ solves */

static PetscErrorCode GetGaussian(QepQho q, QepQhoGaussian *g)
{
  PetscFunctionBegin;
  if (!q->gauss) {
    PetscCall(QepQhoGaussianCreate(q->comm, &q->gauss));
    PetscCall(QepQhoGaussianSetMethod(q->gauss, q->cov_method, q->cov_tol));
  }
  *g = q->gauss;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetGaussian(QepQho q, QepQhoGaussian *g)
{
  PetscFunctionBegin;
  PetscCall(GetGaussian(q, g));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoSolveNumeric(QepQho q, QepQhoSolverType type, PetscInt levels, const QepQhoNumeric *num, QepQhoMoments *mom)
{
  PetscFunctionBegin;
  if (type == QEP_QHO_SOLVER_GAUSSIAN) {
    QepQhoGaussian g = NULL;
    for (PetscInt i = 0; i < num->n; i++)
      PetscCheck(num->quartic[i] == 0, q->comm, PETSC_ERR_SUP,
                 "Mode %" PetscInt_FMT " has a quartic term (lambda = %g): the ground state is not Gaussian; quartic terms need -qep_qho_solver fock (with -qep_qho_levels d)", i,
                 (double)num->quartic[i]);
    PetscCall(GetGaussian(q, &g));
    PetscCall(QepQhoGaussianSolve(g, num, mom));
  } else if (type == QEP_QHO_SOLVER_FOCK) {
    PetscCheck(levels >= 2, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "The Fock solver needs -qep_qho_levels d >= 2 levels per mode (got %" PetscInt_FMT ")", levels);
    PetscCheck(num->hbar > 0, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "hbar = 0 is the classical limit, which only the Gaussian solver handles; the Fock solver needs hbar > 0");
    if (q->fock && q->fock_levels != levels) PetscCall(QepQhoFockDestroy(&q->fock));
    if (!q->fock) {
      PetscCall(QepQhoFockCreate(q->comm, levels, &q->fock));
      q->fock_levels = levels;
    }
    PetscCall(QepQhoFockSolve(q->fock, num, mom));
  } else SETERRQ(q->comm, PETSC_ERR_ARG_WRONG, "Unknown oscillator solver %d; use gaussian or fock", (int)type);
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGroundSolve(QepQho q, QepQhoSolverType type, PetscInt levels, const PetscReal x[], PetscReal beta, const PetscReal y[], PetscReal *energy, PetscReal mean[],
                                 PetscReal cov[], PetscReal pp[])
{
  PetscFunctionBegin;
  PetscCall(QepQhoEvaluate(q, NULL, x, beta, y, &q->num));
  PetscCall(QepQhoSolveNumeric(q, type, levels, &q->num, &q->mom));
  if (energy) *energy = q->mom.energy;
  if (mean) PetscCall(PetscArraycpy(mean, q->mom.mean, q->n));
  if (cov) PetscCall(PetscArraycpy(cov, q->mom.cov, q->nk));
  if (pp) PetscCall(PetscArraycpy(pp, q->mom.pp, q->n));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoClassicalSolve(QepQho q, const PetscReal x[], PetscReal beta, const PetscReal y[], PetscReal *energy, PetscReal mean[])
{
  QepQhoGaussian g = NULL;
  PetscReal      E;

  PetscFunctionBegin;
  PetscCall(QepQhoEvaluate(q, NULL, x, beta, y, &q->num));
  for (PetscInt i = 0; i < q->n; i++)
    PetscCheck(q->num.quartic[i] == 0, q->comm, PETSC_ERR_SUP, "Mode %" PetscInt_FMT " has a quartic term: the classical equilibrium K mu = b ignores it; remove quartic terms", i);
  PetscCall(GetGaussian(q, &g));
  PetscCall(QepQhoGaussianSolveMean(g, &q->num, q->mom.mean, &E));
  if (energy) *energy = E;
  if (mean) PetscCall(PetscArraycpy(mean, q->mom.mean, q->n));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGetSolveInfo(QepQho q, QepQhoSolveInfo *info)
{
  QepQhoGaussian g = NULL;

  PetscFunctionBegin;
  PetscCall(GetGaussian(q, &g));
  PetscCall(QepQhoGaussianGetInfo(g, info));
  PetscFunctionReturn(0);
}
