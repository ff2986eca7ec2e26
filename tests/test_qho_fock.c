/* test_qho_fock.c — the truncated Fock-space solver of oscillator networks (QEP_QHO_SOLVER_FOCK),
 * through the public API of qep/qho.h only, against references that share no code with it.
 *
 *   -case single      one harmonic mode (ħ, mass, rest position, force): energy, mean, variance and ⟨p²⟩
 *                     equal the analytic oscillator at every d >= 2 (the basis sits at the equilibrium
 *                     with the exact frequency); two equal modes joined by a spring: the analytic
 *                     normal-mode values, every error falling monotonically for d = 3..8.
 *   -case chain       a 4-mode chain (ground springs with rest positions, couplings, masses, forces)
 *                     against the exact Gaussian solver: every error falls monotonically over
 *                     d = 4, 6, 8, 10, the energy is within 1e-8 at d = 10, and ⟨H⟩ rebuilt from the
 *                     moments equals the eigenvalue to 1e-10 at every d.
 *   -case anharmonic  one quartic mode: the known ground energy of p² + x² + x⁴, and an asymmetric one
 *                     (force, rest position, mass, ħ) against a sinc-DVR position-grid Hamiltonian
 *                     diagonalised with LAPACK: energy, mean, variance and ⟨p²⟩ to 1e-8.
 *   -case gradient    the centred QEP gradient on the Fock path against central finite differences of the
 *                     Fock loss (QepQhoGradientComputeLoss at θ ± h) for a 3-mode quartic network with
 *                     trainable springs: relative 1e-5.
 *   -case ranks       writes energy, means, pattern covariances and ⟨p²⟩ of a quartic and a harmonic
 *                     network to -out FILE ("name value" lines, %.17g); -compare F1,F2,... checks that such
 *                     files agree to -compare_tol (relative to max(1, |value|)).
 *   -case levels / huge / unbounded   bad input (1 level; a space beyond PetscInt or memory; springs
 *                     pushing away with no quartic term): must fail with a clear message (qep_error_test). */
#include <qep/qep.h>
#include <qep/qho.h>
#include <slepcsys.h>
#include "check.h"
#include "reference.h"

#define MAXN          4
#define MAX_FILES     8
#define QUARTIC_E0    1.392351641530291855657507876609934 /* p² + x² + x⁴ (Hioe & Montroll; Banerjee 1978) */
#define FLOOR         1e-12 /* below this an error is rounding: "monotone" no longer applies */
#define DVR_SPACING   0.1   /* sinc-DVR grid: exponentially accurate for momenta well below π/Δ */
#define DVR_HALFWIDTH 8.0   /* the quartic ground state has decayed below e^-100 there */

/* A chain: ground spring k0_i with rest position r_i, spring kc_i between i and i+1, force f_i,
 * quartic λ_i, mass m_i. Output: the last mode. */
typedef struct {
  PetscInt  n;
  PetscReal hbar, mass[MAXN], k0[MAXN], rest[MAXN], kc[MAXN], force[MAXN], quartic[MAXN];
} Chain;

typedef struct {
  PetscReal energy, mean[MAXN], cov[2 * MAXN], pp[MAXN];
} Moments;

static QepQhoCoef Const(PetscReal v)
{
  return (QepQhoCoef){QEP_VAR_CONST, 0, v};
}

static PetscErrorCode BuildChain(MPI_Comm comm, const Chain *c, QepQho *q)
{
  PetscFunctionBegin;
  PetscCall(QepQhoCreate(comm, q));
  PetscCall(QepQhoSetNumModes(*q, c->n));
  for (PetscInt i = 0; i < c->n; i++) {
    PetscCall(QepQhoSetMass(*q, i, Const(c->mass[i])));
    if (c->k0[i] != 0) PetscCall(QepQhoAddGroundSpring(*q, i, Const(c->k0[i]), Const(c->rest[i])));
    if (c->force[i] != 0) PetscCall(QepQhoAddForce(*q, i, Const(c->force[i])));
    if (c->quartic[i] != 0) PetscCall(QepQhoAddQuartic(*q, i, Const(c->quartic[i])));
    if (i + 1 < c->n && c->kc[i] != 0) PetscCall(QepQhoAddSpring(*q, i, i + 1, Const(c->kc[i]), Const(0)));
  }
  PetscCall(QepQhoAddOutput(*q, "last", c->n - 1));
  PetscCall(QepQhoSetHbar(*q, c->hbar));
  PetscCall(QepQhoFinalize(*q));
  PetscFunctionReturn(0);
}

static PetscErrorCode Solve(QepQho q, QepQhoSolverType type, PetscInt levels, Moments *m)
{
  PetscFunctionBegin;
  PetscCall(QepQhoGroundSolve(q, type, levels, NULL, 0, NULL, &m->energy, m->mean, m->cov, m->pp));
  PetscFunctionReturn(0);
}

/* K_ij of the chain (both triangles), b and the constant of H, written out here from the definition
 * H = Σ p²/2m + Σ ½k0_i (x_i − r_i)² + Σ ½kc_i (x_i − x_{i+1})² − Σ f_i x_i + Σ λ_i x_i⁴. */
static PetscReal ChainK(const Chain *c, PetscInt i, PetscInt j)
{
  if (i == j) return c->k0[i] + (i > 0 ? c->kc[i - 1] : 0) + (i + 1 < c->n ? c->kc[i] : 0);
  if (PetscAbsInt(i - j) == 1) return -c->kc[PetscMin(i, j)];
  return 0;
}

/* ⟨H⟩ of a harmonic chain from its moments: Σ ⟨p²⟩/2m + ½ Σ_ij K_ij (cov_ij + μ_i μ_j) − bᵀμ + c, the
 * couplings read at the pattern positions of QepQhoGetPattern. */
static PetscErrorCode ExpectedEnergy(QepQho q, const Chain *c, const Moments *m, PetscReal *e)
{
  PetscInt        nk;
  const PetscInt *ki, *kj;

  PetscFunctionBegin;
  PetscCall(QepQhoGetPattern(q, &nk, &ki, &kj));
  *e = 0;
  for (PetscInt i = 0; i < c->n; i++) *e += m->pp[i] / (2 * c->mass[i]) - (c->force[i] + c->k0[i] * c->rest[i]) * m->mean[i] + 0.5 * c->k0[i] * c->rest[i] * c->rest[i];
  for (PetscInt t = 0; t < nk; t++) *e += (ki[t] == kj[t] ? 0.5 : 1.0) * ChainK(c, ki[t], kj[t]) * (m->cov[t] + m->mean[ki[t]] * m->mean[kj[t]]);
  PetscFunctionReturn(0);
}

/* Largest |a − b| per quantity: [0] energy, [1] means, [2] pattern covariances, [3] ⟨p²⟩. */
static void Errors(PetscInt n, PetscInt nk, const Moments *a, const Moments *b, PetscReal err[4])
{
  err[0] = PetscAbsReal(a->energy - b->energy);
  err[1] = err[2] = err[3] = 0;
  for (PetscInt i = 0; i < n; i++) {
    err[1] = PetscMax(err[1], PetscAbsReal(a->mean[i] - b->mean[i]));
    err[3] = PetscMax(err[3], PetscAbsReal(a->pp[i] - b->pp[i]));
  }
  for (PetscInt t = 0; t < nk; t++) err[2] = PetscMax(err[2], PetscAbsReal(a->cov[t] - b->cov[t]));
}

static const char *const QuantityNames[] = {"energy", "mean", "cov", "pp"};

/* ------------------------------------------------------------------------------------ single -- */

static PetscErrorCode CaseSingle(void)
{
  Chain     one = {.n = 1, .hbar = 0.7, .mass = {2.0}, .k0 = {3.0}, .rest = {0.4}, .force = {0.5}};
  Chain     two = {.n = 2, .hbar = 1.0, .mass = {1.0, 1.0}, .k0 = {1.0, 1.0}, .kc = {1.5}, .force = {0.3, -0.2}};
  QepQho    q;
  Moments   m, exact;
  PetscReal w, b, prev[4] = {PETSC_MAX_REAL, PETSC_MAX_REAL, PETSC_MAX_REAL, PETSC_MAX_REAL};

  PetscFunctionBegin;
  /* one mode: ω = sqrt(k/m), b = f + k r, μ = b/k, E = ħω/2 + ½k r² − b²/2k, Var x = ħ/2mω, ⟨p²⟩ = ħmω/2 */
  w            = PetscSqrtReal(one.k0[0] / one.mass[0]);
  b            = one.force[0] + one.k0[0] * one.rest[0];
  exact.energy = 0.5 * one.hbar * w + 0.5 * one.k0[0] * one.rest[0] * one.rest[0] - b * b / (2 * one.k0[0]);
  exact.mean[0] = b / one.k0[0];
  exact.cov[0]  = one.hbar / (2 * one.mass[0] * w);
  exact.pp[0]   = 0.5 * one.hbar * one.mass[0] * w;
  PetscCall(BuildChain(PETSC_COMM_WORLD, &one, &q));
  for (PetscInt d = 2; d <= 6; d += 2) {
    PetscReal err[4];
    PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, d, &m));
    Errors(1, 1, &m, &exact, err);
    for (int k = 0; k < 4; k++) CHECK(err[k] <= 1e-12, "single mode d=%d: %s error %.3e (Fock %.15g)", (int)d, QuantityNames[k], (double)err[k], (double)(k == 0 ? m.energy : k == 1 ? m.mean[0] : k == 2 ? m.cov[0] : m.pp[0]));
  }
  PetscCall(QepQhoDestroy(&q));

  /* two equal modes and a spring: normal modes ω_s = sqrt(k0/m), ω_a = sqrt((k0 + 2kc)/m) */
  {
    const PetscReal ws = PetscSqrtReal(two.k0[0] / two.mass[0]), wa = PetscSqrtReal((two.k0[0] + 2 * two.kc[0]) / two.mass[0]), h = two.hbar, mm = two.mass[0];
    const PetscReal K11 = two.k0[0] + two.kc[0], K12 = -two.kc[0], det = K11 * K11 - K12 * K12;
    exact.mean[0] = (K11 * two.force[0] - K12 * two.force[1]) / det;
    exact.mean[1] = (K11 * two.force[1] - K12 * two.force[0]) / det;
    exact.energy  = 0.5 * h * (ws + wa) - 0.5 * (two.force[0] * exact.mean[0] + two.force[1] * exact.mean[1]);
    exact.cov[0] = exact.cov[1] = 0.5 * (h / (2 * mm * ws) + h / (2 * mm * wa));
    exact.cov[2]                = 0.5 * (h / (2 * mm * ws) - h / (2 * mm * wa));
    exact.pp[0] = exact.pp[1] = 0.5 * (0.5 * h * mm * ws + 0.5 * h * mm * wa);
  }
  PetscCall(BuildChain(PETSC_COMM_WORLD, &two, &q));
  for (PetscInt d = 3; d <= 8; d++) {
    PetscReal err[4];
    PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, d, &m));
    Errors(2, 3, &m, &exact, err);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "two modes d=%2d  errors: energy %.3e mean %.3e cov %.3e pp %.3e\n", (int)d, (double)err[0], (double)err[1], (double)err[2], (double)err[3]));
    for (int k = 0; k < 4; k++) {
      CHECK(err[k] < prev[k] || err[k] < FLOOR, "two modes: %s error %.3e at d=%d did not fall below %.3e at d-1", QuantityNames[k], (double)err[k], (int)d, (double)prev[k]);
      prev[k] = err[k];
    }
  }
  CHECK(prev[0] < 1e-8 && prev[2] < 1e-6 && prev[3] < 1e-6, "two modes at d=8: errors energy %.3e cov %.3e pp %.3e too large", (double)prev[0], (double)prev[2], (double)prev[3]);
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------- chain -- */

static PetscErrorCode CaseChain(void)
{
  Chain     c = {.n = 4, .hbar = 1.0, .mass = {1.0, 1.2, 0.9, 1.1}, .k0 = {0.5, 0.4, 0.6, 0.5}, .rest = {0.1, 0, -0.1, 0}, .kc = {1.2, 1.0, 1.1}, .force = {0.3, -0.2, 0.1, 0.25}};
  QepQho    q;
  Moments   gauss, fock;
  PetscInt  nk;
  PetscReal prev[4] = {PETSC_MAX_REAL, PETSC_MAX_REAL, PETSC_MAX_REAL, PETSC_MAX_REAL}, err[4] = {0, 0, 0, 0};
  const PetscInt *ki, *kj;

  PetscFunctionBegin;
  PetscCall(BuildChain(PETSC_COMM_WORLD, &c, &q));
  PetscCall(QepQhoGetPattern(q, &nk, &ki, &kj));
  CHECK(nk == 7, "chain pattern has %d entries, expected 4 diagonal + 3 couplings", (int)nk);
  PetscCall(Solve(q, QEP_QHO_SOLVER_GAUSSIAN, 0, &gauss));
  for (PetscInt d = 4; d <= 10; d += 2) {
    PetscReal e = 0;
    PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, d, &fock));
    Errors(c.n, nk, &fock, &gauss, err);
    PetscCall(ExpectedEnergy(q, &c, &fock, &e));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "chain d=%2d  errors vs Gaussian: energy %.3e mean %.3e cov %.3e pp %.3e;  <H> - E = %.1e\n", (int)d, (double)err[0], (double)err[1], (double)err[2], (double)err[3], (double)(e - fock.energy)));
    CHECK(PetscAbsReal(e - fock.energy) <= 1e-10 * PetscMax(1, PetscAbsReal(fock.energy)), "chain d=%d: <H> from the moments %.15g differs from the eigenvalue %.15g", (int)d, (double)e, (double)fock.energy);
    for (int k = 0; k < 4; k++) {
      CHECK(err[k] < prev[k] || err[k] < FLOOR, "chain: %s error %.3e at d=%d did not fall below %.3e at d-2", QuantityNames[k], (double)err[k], (int)d, (double)prev[k]);
      prev[k] = err[k];
    }
  }
  CHECK(err[0] < 1e-8, "chain at d=10: energy error %.3e >= 1e-8", (double)err[0]);
  CHECK(err[1] < 1e-6 && err[2] < 1e-5 && err[3] < 1e-5, "chain at d=10: errors mean %.3e cov %.3e pp %.3e too large", (double)err[1], (double)err[2], (double)err[3]);
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------- anharmonic -- */

/* Colbert–Miller sinc-DVR on the grid x_j = −L + jΔ: T_jk = ħ²/(2mΔ²) · {π²/3 if j = k, 2(−1)^(j−k)/(j−k)²};
 * V diagonal. The ground state of T + V by LAPACK gives E, ⟨x⟩, Var x and ⟨p²⟩ = 2m ⟨T⟩. */
static PetscErrorCode DVRGround(const Chain *c, Moments *m)
{
  const PetscInt  N = (PetscInt)(2 * DVR_HALFWIDTH / DVR_SPACING) + 1;
  const PetscReal t = c->hbar * c->hbar / (2 * c->mass[0] * DVR_SPACING * DVR_SPACING);
  PetscScalar    *H, *vec;
  PetscReal      *eval, x1 = 0, x2 = 0, kin = 0;

  PetscFunctionBegin;
  PetscCall(PetscCalloc3(N * N, &H, N * N, &vec, N, &eval));
  for (PetscInt j = 0; j < N; j++) {
    const PetscReal x = -DVR_HALFWIDTH + j * DVR_SPACING;
    for (PetscInt k = 0; k < N; k++) H[j + k * N] = (j == k) ? t * PETSC_PI * PETSC_PI / 3 : t * 2 * (((j - k) % 2) ? -1.0 : 1.0) / ((PetscReal)(j - k) * (j - k));
    H[j + j * N] += 0.5 * c->k0[0] * (x - c->rest[0]) * (x - c->rest[0]) - c->force[0] * x + c->quartic[0] * x * x * x * x;
  }
  PetscCall(RefDenseEigen(N, H, eval, vec));
  for (PetscInt j = 0; j < N; j++) {
    const PetscReal x = -DVR_HALFWIDTH + j * DVR_SPACING, p2 = PetscRealPart(PetscConj(vec[j]) * vec[j]);
    x1 += x * p2;
    x2 += x * x * p2;
    for (PetscInt k = 0; k < N; k++)
      if (k != j) kin += PetscRealPart(PetscConj(vec[j]) * H[j + k * N] * vec[k]);
    kin += PetscRealPart(PetscConj(vec[j]) * vec[j]) * t * PETSC_PI * PETSC_PI / 3;
  }
  m->energy  = eval[0];
  m->mean[0] = x1;
  m->cov[0]  = x2 - x1 * x1;
  m->pp[0]   = 2 * c->mass[0] * kin;
  PetscCall(PetscFree3(H, vec, eval));
  PetscFunctionReturn(0);
}

static PetscErrorCode CaseAnharmonic(void)
{
  Chain     known = {.n = 1, .hbar = 1.0, .mass = {0.5}, .k0 = {2.0}, .quartic = {1.0}}; /* p² + x² + x⁴ */
  Chain     skew  = {.n = 1, .hbar = 0.8, .mass = {1.3}, .k0 = {1.0}, .rest = {0.2}, .force = {0.5}, .quartic = {0.3}};
  Chain     well  = {.n = 1, .hbar = 1.0, .mass = {1.0}, .k0 = {-1.0}, .force = {0.05}, .quartic = {0.1}}; /* wells near ±1.58, barrier 0.625 */
  QepQho    q;
  Moments   m, ref = {0};
  PetscReal err[4], prev = PETSC_MAX_REAL;

  PetscFunctionBegin;
  PetscCall(BuildChain(PETSC_COMM_WORLD, &known, &q));
  for (PetscInt d = 10; d <= 40; d += 10) {
    PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, d, &m));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "p^2 + x^2 + x^4, d=%2d: E0 = %.16f  error %.3e\n", (int)d, (double)m.energy, (double)(m.energy - QUARTIC_E0)));
    CHECK(PetscAbsReal(m.energy - QUARTIC_E0) < prev || PetscAbsReal(m.energy - QUARTIC_E0) < FLOOR, "quartic oscillator: error at d=%d did not fall", (int)d);
    prev = PetscAbsReal(m.energy - QUARTIC_E0);
  }
  CHECK(prev < 1e-10, "quartic oscillator at d=40: E0 = %.16f, known %.16f", (double)m.energy, (double)QUARTIC_E0);
  CHECK(PetscAbsReal(m.mean[0]) < 1e-10, "symmetric quartic oscillator: <x> = %.3e", (double)m.mean[0]);
  PetscCall(QepQhoDestroy(&q));

  for (int w = 0; w < 2; w++) {
    const Chain *c = w ? &well : &skew;
    PetscInt     d = w ? 96 : 48;
    PetscCall(DVRGround(c, &ref));
    PetscCall(BuildChain(PETSC_COMM_WORLD, c, &q));
    PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, d, &m));
    Errors(1, 1, &m, &ref, err);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s, d=%d vs sinc-DVR (%d points): E %.15f (DVR %.15f); errors energy %.3e mean %.3e var %.3e pp %.3e\n", w ? "tilted double well" : "asymmetric quartic mode", (int)d,
                          (int)(2 * DVR_HALFWIDTH / DVR_SPACING + 1), (double)m.energy, (double)ref.energy, (double)err[0], (double)err[1], (double)err[2], (double)err[3]));
    for (int k = 0; k < 4; k++) CHECK(err[k] < 1e-8, "%s: %s error %.3e vs the DVR reference", w ? "tilted double well" : "asymmetric quartic mode", QuantityNames[k], (double)err[k]);
    PetscCall(QepQhoDestroy(&q));
  }
  PetscFunctionReturn(0);
}

/* --------------------------------------------------------------------------------- gradient -- */

/* Three modes, trainable ground springs θ0..θ2 and couplings θ3, θ4, fixed quartic terms, input
 * forces x0 on mode 0 and x1 on mode 2, outputs modes 1 and 2. */
static PetscErrorCode BuildTrainable(QepQho *q)
{
  const PetscReal theta[5] = {1.0, 1.2, 0.9, 0.4, 0.3}, lambda[3] = {0.1, 0.2, 0.15};
  const char     *names[5] = {"k0", "k1", "k2", "c01", "c12"};
  PetscInt        idx[5];

  PetscFunctionBegin;
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, q));
  PetscCall(QepQhoSetNumModes(*q, 3));
  for (int k = 0; k < 5; k++) PetscCall(QepQhoAddParameter(*q, names[k], theta[k], &idx[k]));
  for (int i = 0; i < 3; i++) {
    PetscCall(QepQhoAddGroundSpring(*q, i, (QepQhoCoef){QEP_VAR_PARAM, idx[i], 1.0}, Const(0.1 * i)));
    PetscCall(QepQhoAddQuartic(*q, i, Const(lambda[i])));
  }
  PetscCall(QepQhoAddSpring(*q, 0, 1, (QepQhoCoef){QEP_VAR_PARAM, idx[3], 1.0}, Const(0)));
  PetscCall(QepQhoAddSpring(*q, 1, 2, (QepQhoCoef){QEP_VAR_PARAM, idx[4], 1.0}, Const(0)));
  PetscCall(QepQhoAddForce(*q, 0, (QepQhoCoef){QEP_VAR_INPUT, 0, 1.0}));
  PetscCall(QepQhoAddForce(*q, 2, (QepQhoCoef){QEP_VAR_INPUT, 1, 1.0}));
  PetscCall(QepQhoAddOutput(*q, "x1", 1));
  PetscCall(QepQhoAddOutput(*q, "x2", 2));
  PetscCall(QepQhoFinalize(*q));
  PetscFunctionReturn(0);
}

static PetscErrorCode CaseGradient(PetscInt levels)
{
  const PetscReal x[2] = {0.5, -0.3}, y[2] = {0.2, -0.1}, h = 1e-4;
  QepQho          q;
  QepQhoGradient  g;
  PetscInt        np;
  PetscReal       theta[8], grad[8], fd[8], loss, lp, lm, num = 0, den = 0;

  PetscFunctionBegin;
  PetscCall(BuildTrainable(&q));
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(QepQhoGradientCreate(q, &g));
  PetscCall(QepQhoGradientSetEstimator(g, QEP_ESTIMATOR_CENTERED));
  PetscCall(QepQhoGradientSetBeta(g, 1e-3));
  PetscCall(QepQhoGradientSetSolver(g, QEP_QHO_SOLVER_FOCK, levels));
  PetscCall(QepQhoGradientSetFromOptions(g));
  PetscCall(QepQhoGradientSetUp(g));
  PetscCall(QepQhoGradientCompute(g, -1, x, y, &loss, grad));
  PetscCall(QepQhoGetParameters(q, theta));
  for (PetscInt k = 0; k < np; k++) { /* central differences of the Fock loss, independent of the estimator */
    const PetscReal t0 = theta[k];
    theta[k] = t0 + h;
    PetscCall(QepQhoSetParameters(q, theta));
    PetscCall(QepQhoGradientComputeLoss(g, -1, x, y, &lp, NULL));
    theta[k] = t0 - h;
    PetscCall(QepQhoSetParameters(q, theta));
    PetscCall(QepQhoGradientComputeLoss(g, -1, x, y, &lm, NULL));
    theta[k] = t0;
    PetscCall(QepQhoSetParameters(q, theta));
    fd[k] = (lp - lm) / (2 * h);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "theta_%d: QEP (Fock d=%d) %+.12f   FD %+.12f\n", (int)k, (int)levels, (double)grad[k], (double)fd[k]));
    num += PetscSqr(grad[k] - fd[k]);
    den += PetscSqr(fd[k]);
  }
  CHECK(den > 1e-6, "the finite-difference gradient vanishes (%.3e): the test would be empty", (double)PetscSqrtReal(den));
  CHECK(PetscSqrtReal(num / den) < 1e-5, "Fock QEP gradient vs finite differences of the Fock loss: relative error %.3e >= 1e-5", (double)PetscSqrtReal(num / den));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "loss %.15f; QEP vs FD relative error %.3e\n", (double)loss, (double)PetscSqrtReal(num / den)));
  PetscCall(QepQhoGradientDestroy(&g));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------ rank counts -- */

static PetscErrorCode WriteMoments(FILE *fp, const char *tag, PetscInt n, PetscInt nk, const Moments *m)
{
  PetscFunctionBegin;
  PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%s_energy %.17g\n", tag, (double)m->energy));
  for (PetscInt i = 0; i < n; i++) PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%s_mean%d %.17g\n%s_pp%d %.17g\n", tag, (int)i, (double)m->mean[i], tag, (int)i, (double)m->pp[i]));
  for (PetscInt t = 0; t < nk; t++) PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%s_cov%d %.17g\n", tag, (int)t, (double)m->cov[t]));
  PetscFunctionReturn(0);
}

static PetscErrorCode CaseRanks(const char out[])
{
  Chain    quartic  = {.n = 3, .hbar = 1.0, .mass = {1.0, 1.3, 0.8}, .k0 = {1.0, -0.3, 1.2}, .rest = {0, 0.2, 0}, .kc = {0.5, 0.7}, .force = {0.2, 0, -0.3}, .quartic = {0.1, 0.4, 0.2}};
  Chain    harmonic = {.n = 4, .hbar = 0.9, .mass = {1.0, 1.0, 2.0, 1.0}, .k0 = {1.0, 1.0, 1.0, 1.0}, .kc = {0.5, 0.5, 0.5}, .force = {0.1, 0.2, 0.3, 0.4}};
  QepQho   q;
  Moments  m;
  PetscInt nk;
  FILE    *fp;

  PetscFunctionBegin;
  PetscCall(PetscFOpen(PETSC_COMM_WORLD, out, "w", &fp));
  PetscCall(BuildChain(PETSC_COMM_WORLD, &quartic, &q));
  PetscCall(QepQhoGetPattern(q, &nk, NULL, NULL));
  PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, 12, &m));
  PetscCall(WriteMoments(fp, "quartic", quartic.n, nk, &m));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(BuildChain(PETSC_COMM_WORLD, &harmonic, &q));
  PetscCall(QepQhoGetPattern(q, &nk, NULL, NULL));
  PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, 8, &m));
  PetscCall(WriteMoments(fp, "harmonic", harmonic.n, nk, &m));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(PetscFClose(PETSC_COMM_WORLD, fp));
  PetscFunctionReturn(0);
}

static PetscErrorCode CompareFiles(PetscInt nfiles, char *files[], PetscReal tol)
{
  PetscReal worst = 0;
  PetscInt  lines = 0;

  PetscFunctionBegin;
  PetscCheck(nfiles >= 2, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-compare needs at least two files");
  for (PetscInt f = 1; f < nfiles; f++) {
    FILE  *ref, *fp;
    char   n0[256], n1[256];
    double v0, v1;
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[0], "r", &ref));
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[f], "r", &fp));
    for (lines = 0; fscanf(ref, "%255s %lf", n0, &v0) == 2; lines++) {
      PetscBool same;
      CHECK(fscanf(fp, "%255s %lf", n1, &v1) == 2, "%s ends before %s", files[f], files[0]);
      if (nfail) break;
      PetscCall(PetscStrcmp(n0, n1, &same));
      CHECK(same, "%s line %d holds %s, %s holds %s", files[f], (int)lines + 1, n1, files[0], n0);
      CHECK(PetscAbsReal(v0 - v1) <= tol * PetscMax(1, PetscAbsReal(v0)), "%s vs %s: %s = %.17g vs %.17g", files[f], files[0], n0, v1, v0);
      worst = PetscMax(worst, PetscAbsReal(v0 - v1) / PetscMax(1, PetscAbsReal(v0)));
    }
    CHECK(lines > 0, "%s holds no values", files[0]);
    CHECK(fscanf(fp, "%255s", n1) != 1, "%s has more lines than %s", files[f], files[0]);
    PetscCall(PetscFClose(PETSC_COMM_SELF, ref));
    PetscCall(PetscFClose(PETSC_COMM_SELF, fp));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%d files of %d values agree; largest relative difference %.3e (tolerance %.1e)\n", (int)nfiles, (int)lines, (double)worst, (double)tol));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------- bad input -- */

static PetscErrorCode CaseBad(PetscInt nmodes, PetscInt levels, PetscReal k0)
{
  Chain   c = {.n = nmodes, .hbar = 1.0};
  QepQho  q;
  Moments m;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < nmodes; i++) {
    c.mass[i] = 1;
    c.k0[i]   = k0;
    c.kc[i]   = 0.2;
  }
  PetscCall(BuildChain(PETSC_COMM_WORLD, &c, &q));
  PetscCall(Solve(q, QEP_QHO_SOLVER_FOCK, levels, &m)); /* must fail */
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "solved %d modes x %d levels although it should have failed\n", (int)nmodes, (int)levels));
  nfail++;
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char      which[64] = "", out[PETSC_MAX_PATH_LEN] = "", *files[MAX_FILES];
  PetscInt  nfiles = MAX_FILES, levels = 14;
  PetscBool compare, match = PETSC_FALSE;
  PetscReal tol = 1e-10;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "Fock-space oscillator solver tests"));
  PetscCall(PetscOptionsGetStringArray(NULL, NULL, "-compare", files, &nfiles, &compare));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-compare_tol", &tol, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-case", which, sizeof(which), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof(out), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-levels", &levels, NULL));
  if (compare) {
    PetscCall(CompareFiles(nfiles, files, tol));
    for (PetscInt f = 0; f < nfiles; f++) PetscCall(PetscFree(files[f]));
  } else {
    const char *cases[] = {"single", "chain", "anharmonic", "gradient", "ranks", "levels", "huge", "unbounded"};
    PetscInt    c       = 0;
    for (; c < (PetscInt)(sizeof(cases) / sizeof(cases[0])); c++) {
      PetscCall(PetscStrcmp(which, cases[c], &match));
      if (match) break;
    }
    PetscCheck(match, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-case %s: unknown; use single, chain, anharmonic, gradient, ranks (with -out), levels, huge or unbounded", which);
    switch (c) {
    case 0: PetscCall(CaseSingle()); break;
    case 1: PetscCall(CaseChain()); break;
    case 2: PetscCall(CaseAnharmonic()); break;
    case 3: PetscCall(CaseGradient(levels)); break;
    case 4:
      PetscCheck(out[0], PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-case ranks needs -out FILE");
      PetscCall(CaseRanks(out));
      break;
    case 5: PetscCall(CaseBad(2, 1, 1.0)); break;
    case 6: PetscCall(CaseBad(3, 100000, 1.0)); break;
    default: PetscCall(CaseBad(2, 6, -0.5)); break; /* springs that push away, no quartic term */
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: %d failure(s)\n", compare ? "compare" : which, nfail));
  PetscCall(SlepcFinalize());
  return nfail ? 1 : 0;
}
