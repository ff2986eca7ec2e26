/* test_qho.c — oscillator networks (qep/qho.h) against independent references.
 *
 * Networks are built here through the public building API from a small description (Net) drawn with
 * QepRandomUniform, so every rank and rank count builds the same one. Checks (-checks a,b,...):
 *   analytic    1 mode (ω = sqrt(k/m): E = ħω/2 − f²/2k, Var = ħ/(2mω), ⟨p²⟩ = ħmω/2) and 2 modes
 *               (normal modes sqrt(k0/m), sqrt((k0+2k)/m)), with the dense and Chebyshev covariances;
 *   dense       random networks of 30 and 47 modes (unequal masses, rest lengths, ground rest positions,
 *               forces, inputs): mean, covariance on K's pattern, ⟨p²⟩ and energy against a dense
 *               reference computed here (LAPACK syev of M^-1/2 K M^-1/2 built from the description),
 *               to 1e-10, for both covariance methods;
 *   chebyshev   the distributed Chebyshev/probing covariance against the dense one: a 500-mode chain
 *               (probing colours << n) and a 24x24 lattice, at -qep_qho_cov_tol 1e-12 (to 1e-10 relative)
 *               and 1e-6 (every entry within the error bound the method reports);
 *   gradient    centred QEP (β = 1e-4) vs the exact analytic reference vs finite differences (1e-6
 *               relative) on a network with trainable stiffnesses, rest lengths, ground springs, forces
 *               and masses; the same with the Chebyshev covariance; the loss against the dense reference;
 *   bias        log-log slopes 1, 2, 4 of |QEP − exact| for onesided / centred / four-point and their
 *               1, 2, 4 nudged solves;
 *   classical   ħ → 0: the QEP gradient at ħ = 1e-9 equals the classical elastic-network EP gradient;
 *               at ħ = 1 its mean part equals the classical gradient and the zero-point part equals the
 *               difference of the exact gradients at ħ = 1 and ħ = 0 (the exact gradient at ħ = 0 is the
 *               classical one);
 *   roundtrip   write → read → write gives the same text and the same numbers (file and generator);
 *   fock        a quartic network on the truncated Fock solver: centred QEP vs finite differences.
 * -out FILE writes numbers that must not depend on the rank count; -compare F1,F2 -compare_tol t
 * compares such files. -bad_file FILE [-bad_fock d] reads an oscillator file and solves its ground
 * state (for the error tests); -bad_generator does the same for the generator options. */
#include <qep/qep.h>
#include <qep/qho.h>
#include <slepcsys.h>
#include "reference.h"

#define MAX_LIST   16
#define SEED       20260611
#define MAX_ELEMS  4096

/* ------------------------------------------------------------------------------ network description */

typedef struct {
  PetscInt  i, j;     /* j = -1: ground spring */
  PetscReal k, rest;
} Spring;

typedef struct {
  PetscInt  n, nsprings, nforces, ninputs, noutputs;
  PetscReal hbar, mass[MAX_ELEMS], bias[MAX_ELEMS];
  Spring    spring[MAX_ELEMS];
  PetscInt  input_mode[MAX_LIST], output_mode[MAX_LIST];
  PetscBool trainable; /* every stiffness, rest length, ground spring, bias and the first two masses */
} Net;

static PetscReal Uniform(PetscInt64 stream, PetscInt64 counter, PetscReal lo, PetscReal hi) { return lo + (hi - lo) * QepRandomUniform(SEED, stream, counter); }

/* A chain plus n/2 random extra springs, ground springs everywhere, random masses, rest lengths and
 * forces, 2 inputs (modes 0, 1), 2 outputs (modes n-1, n-2). */
static void RandomNet(PetscInt n, PetscInt64 stream, PetscReal hbar, PetscBool trainable, Net *net)
{
  PetscInt c = 0;

  PetscMemzero(net, sizeof(*net));
  net->n         = n;
  net->hbar      = hbar;
  net->trainable = trainable;
  for (PetscInt i = 0; i < n; i++) {
    net->mass[i] = Uniform(stream, 10 * i, 0.5, 2.0);
    net->bias[i] = Uniform(stream, 10 * i + 1, -0.5, 0.5);
  }
  for (PetscInt i = 0; i + 1 < n; i++) net->spring[net->nsprings++] = (Spring){i, i + 1, Uniform(stream, 100000 + i, 0.5, 1.5), Uniform(stream, 200000 + i, -0.2, 0.2)};
  for (PetscInt e = 0; e < n / 2; e++) {
    PetscInt i = (PetscInt)Uniform(stream, 300000 + 2 * e, 0, n), j = (PetscInt)Uniform(stream, 300001 + 2 * e, 0, n);
    if (i == j) continue;
    net->spring[net->nsprings++] = (Spring){i, j, Uniform(stream, 400000 + e, 0.2, 1.0), Uniform(stream, 500000 + e, -0.2, 0.2)};
    c++;
  }
  for (PetscInt i = 0; i < n; i++) net->spring[net->nsprings++] = (Spring){i, -1, Uniform(stream, 600000 + i, 0.3, 1.0), Uniform(stream, 700000 + i, -0.1, 0.1)};
  net->ninputs       = 2;
  net->input_mode[0] = 0, net->input_mode[1] = 1;
  net->noutputs       = 2;
  net->output_mode[0] = n - 1, net->output_mode[1] = n - 2;
}

static PetscErrorCode Param(QepQho q, PetscBool trainable, const char fmt[], PetscInt a, PetscReal value, QepQhoCoef *c)
{
  char     name[64];
  PetscInt k;

  PetscFunctionBegin;
  if (!trainable) {
    *c = (QepQhoCoef){QEP_VAR_CONST, 0, value};
    PetscFunctionReturn(0);
  }
  PetscCall(PetscSNPrintf(name, sizeof(name), fmt, a));
  PetscCall(QepQhoAddParameter(q, name, value, &k));
  *c = (QepQhoCoef){QEP_VAR_PARAM, k, 1.0};
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildNet(const Net *net, QepQho q)
{
  char name[16];

  PetscFunctionBegin;
  PetscCall(QepQhoSetNumModes(q, net->n));
  PetscCall(QepQhoSetHbar(q, net->hbar));
  for (PetscInt s = 0; s < net->nsprings; s++) {
    const Spring *sp = &net->spring[s];
    QepQhoCoef    k, l;
    PetscCall(Param(q, net->trainable, sp->j < 0 ? "g%d" : "k%d", s, sp->k, &k));
    PetscCall(Param(q, net->trainable, sp->j < 0 ? "r%d" : "l%d", s, sp->rest, &l));
    if (sp->j < 0) PetscCall(QepQhoAddGroundSpring(q, sp->i, k, l));
    else PetscCall(QepQhoAddSpring(q, sp->i, sp->j, k, l));
  }
  for (PetscInt i = 0; i < net->n; i++) {
    QepQhoCoef c;
    PetscCall(Param(q, net->trainable && i < 2, "m%d", i, net->mass[i], &c));
    if (c.kind == QEP_VAR_PARAM || c.factor != 1.0) PetscCall(QepQhoSetMass(q, i, c));
    PetscCall(Param(q, net->trainable, "f%d", i, net->bias[i], &c));
    PetscCall(QepQhoAddForce(q, i, c));
  }
  for (PetscInt a = 0; a < net->ninputs; a++) PetscCall(QepQhoAddForce(q, net->input_mode[a], (QepQhoCoef){QEP_VAR_INPUT, a, 1.0}));
  for (PetscInt o = 0; o < net->noutputs; o++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "y%d", (int)o));
    PetscCall(QepQhoAddOutput(q, name, net->output_mode[o]));
  }
  PetscCall(QepQhoFinalize(q));
  PetscFunctionReturn(0);
}

static void Example(const Net *net, PetscReal x[], PetscReal y[])
{
  for (PetscInt a = 0; a < net->ninputs; a++) x[a] = Uniform(77, a, -0.5, 0.5);
  for (PetscInt o = 0; o < net->noutputs; o++) y[o] = Uniform(78, o, -0.5, 0.5);
}

/* ----------------------------------------------------------------------------- dense reference */

typedef struct {
  PetscReal *mean, *cov /* n x n */, *pp, energy;
} Dense;

/* From the description alone: K, b, c; D = M^-1/2 K M^-1/2 = V Λ Vᵀ (LAPACK); μ = K⁻¹ b; Σ, ⟨p²⟩, E. */
static PetscErrorCode DenseReference(const Net *net, const PetscReal x[], Dense *d)
{
  PetscInt     n = net->n;
  PetscScalar *K, *D, *V;
  PetscReal   *b, *w, *s, *tmp, c = 0, bmu = 0, trace = 0;

  PetscFunctionBegin;
  PetscCall(PetscCalloc3((size_t)n * n, &K, (size_t)n * n, &D, (size_t)n * n, &V));
  PetscCall(PetscCalloc4(n, &b, n, &w, n, &s, n, &tmp));
  PetscCall(PetscCalloc3(n, &d->mean, (size_t)n * n, &d->cov, n, &d->pp));
  for (PetscInt q = 0; q < net->nsprings; q++) {
    const Spring *sp = &net->spring[q];
    PetscInt      i = sp->i, j = sp->j;
    if (j < 0) { /* ½ k (x_i − r)² */
      K[i + i * n] += sp->k;
      b[i] += sp->k * sp->rest;
      c += 0.5 * sp->k * sp->rest * sp->rest;
    } else { /* ½ k (x_i − x_j − l)² */
      K[i + i * n] += sp->k, K[j + j * n] += sp->k, K[i + j * n] -= sp->k, K[j + i * n] -= sp->k;
      b[i] += sp->k * sp->rest, b[j] -= sp->k * sp->rest;
      c += 0.5 * sp->k * sp->rest * sp->rest;
    }
  }
  for (PetscInt i = 0; i < n; i++) b[i] += net->bias[i];
  for (PetscInt a = 0; a < net->ninputs; a++) b[net->input_mode[a]] += x ? x[a] : 0;
  for (PetscInt i = 0; i < n; i++) s[i] = 1 / PetscSqrtReal(net->mass[i]);
  for (PetscInt j = 0; j < n; j++)
    for (PetscInt i = 0; i < n; i++) D[i + j * n] = K[i + j * n] * s[i] * s[j];
  PetscCall(RefDenseEigen(n, D, w, V));
  PetscCheck(w[0] > 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "test network is not positive definite");
  for (PetscInt k = 0; k < n; k++) { /* μ = S V Λ⁻¹ Vᵀ S b */
    PetscReal t = 0;
    for (PetscInt i = 0; i < n; i++) t += PetscRealPart(V[i + k * n]) * s[i] * b[i];
    tmp[k] = t / w[k];
  }
  for (PetscInt i = 0; i < n; i++) {
    PetscReal t = 0, pp = 0;
    for (PetscInt k = 0; k < n; k++) t += PetscRealPart(V[i + k * n]) * tmp[k];
    d->mean[i] = s[i] * t;
    for (PetscInt k = 0; k < n; k++) pp += PetscSqr(PetscRealPart(V[i + k * n])) * PetscSqrtReal(w[k]);
    d->pp[i] = 0.5 * net->hbar * net->mass[i] * pp;
  }
  for (PetscInt j = 0; j < n; j++)
    for (PetscInt i = 0; i < n; i++) {
      PetscReal t = 0;
      for (PetscInt k = 0; k < n; k++) t += PetscRealPart(V[i + k * n] * V[j + k * n]) / PetscSqrtReal(w[k]);
      d->cov[i + j * n] = 0.5 * net->hbar * s[i] * s[j] * t;
    }
  for (PetscInt i = 0; i < n; i++) bmu += b[i] * d->mean[i];
  for (PetscInt k = 0; k < n; k++) trace += PetscSqrtReal(w[k]);
  d->energy = 0.5 * net->hbar * trace + c - 0.5 * bmu;
  PetscCall(PetscFree3(K, D, V));
  PetscCall(PetscFree4(b, w, s, tmp));
  PetscFunctionReturn(0);
}

static PetscErrorCode DenseFree(Dense *d)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(d->mean, d->cov, d->pp));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------- helpers */

static PetscErrorCode Check(PetscBool ok, const char what[], double got, double want, double tol)
{
  PetscFunctionBegin;
  PetscCheck(ok, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: got %.15g, expected %.15g (tolerance %.2e)", what, got, want, tol);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckClose(const char what[], PetscReal got, PetscReal want, PetscReal tol)
{
  PetscFunctionBegin;
  PetscCall(Check(PetscAbsReal(got - want) <= tol, what, got, want, tol));
  PetscFunctionReturn(0);
}

static PetscReal Norm(PetscInt n, const PetscReal v[])
{
  PetscReal s = 0;
  for (PetscInt i = 0; i < n; i++) s += v[i] * v[i];
  return PetscSqrtReal(s);
}

static PetscReal DiffNorm(PetscInt n, const PetscReal a[], const PetscReal b[])
{
  PetscReal s = 0;
  for (PetscInt i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return PetscSqrtReal(s);
}

/* ||got − want|| <= tol ||want||, with ||want|| > 0 so the comparison means something. */
static PetscErrorCode CheckRelative(const char what[], PetscInt n, const PetscReal got[], const PetscReal want[], PetscReal tol)
{
  PetscReal err = DiffNorm(n, got, want), ref = Norm(n, want);

  PetscFunctionBegin;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %-46s ||diff||/||ref|| = %.3e (||ref|| %.3e)\n", what, (double)(err / ref), (double)ref));
  PetscCheck(ref > 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: the reference is zero, so the test proves nothing", what);
  PetscCheck(err <= tol * ref, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: ||diff|| / ||ref|| = %.3e > %.1e", what, (double)(err / ref), (double)tol);
  PetscFunctionReturn(0);
}

typedef struct {
  PetscReal energy, *mean, *cov, *pp;
  PetscInt  n, nk;
} Ground;

static PetscErrorCode SolveGround(QepQho q, QepQhoCovMethod method, PetscReal tol, const PetscReal x[], Ground *g)
{
  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(q, &g->n, NULL, NULL, NULL));
  PetscCall(QepQhoGetPattern(q, &g->nk, NULL, NULL));
  PetscCall(PetscMalloc3(g->n, &g->mean, g->nk, &g->cov, g->n, &g->pp));
  PetscCall(QepQhoSetCovarianceMethod(q, method, tol));
  PetscCall(QepQhoGroundSolve(q, QEP_QHO_SOLVER_GAUSSIAN, 0, x, 0.0, NULL, &g->energy, g->mean, g->cov, g->pp));
  PetscFunctionReturn(0);
}

static PetscErrorCode GroundFree(Ground *g)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(g->mean, g->cov, g->pp));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- analytic */

static PetscErrorCode CheckAnalytic(void)
{
  const QepQhoCovMethod methods[2] = {QEP_QHO_COV_DENSE, QEP_QHO_COV_CHEBYSHEV};

  PetscFunctionBegin;
  for (PetscInt mth = 0; mth < 2; mth++) {
    QepQho    q;
    Ground    g;
    PetscReal k = 2, m = 0.5, hbar = 0.7, f = 0.3, w = PetscSqrtReal(k / m), k12 = 0.8, m2 = 1.3, w1, w2;
    /* one mode */
    PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
    PetscCall(QepQhoReadString(q, "one-mode", "modes 1\nhbar 0.7\nmass 0 0.5\nground 0 2\nforce 0 0.3\n"));
    PetscCall(SolveGround(q, methods[mth], 1e-13, NULL, &g));
    PetscCall(CheckClose("1 mode: energy", g.energy, 0.5 * hbar * w - f * f / (2 * k), 1e-13));
    PetscCall(CheckClose("1 mode: mean", g.mean[0], f / k, 1e-13));
    PetscCall(CheckClose("1 mode: Var x", g.cov[0], hbar / (2 * m * w), 1e-13));
    PetscCall(CheckClose("1 mode: <p^2>", g.pp[0], 0.5 * hbar * m * w, 1e-13));
    PetscCall(GroundFree(&g));
    PetscCall(QepQhoDestroy(&q));
    /* two equal masses: normal modes sqrt(k0/m) (x0 + x1) and sqrt((k0 + 2 k12)/m) (x0 − x1) */
    PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
    PetscCall(QepQhoReadString(q, "two-mode", "modes 2\nhbar 0.7\nmass 0 1.3\nmass 1 1.3\nground 0 2\nground 1 2\nspring 0 1 0.8\n"));
    PetscCall(SolveGround(q, methods[mth], 1e-13, NULL, &g));
    w1 = PetscSqrtReal(k / m2), w2 = PetscSqrtReal((k + 2 * k12) / m2);
    PetscCall(CheckClose("2 modes: energy", g.energy, 0.5 * hbar * (w1 + w2), 1e-13));
    PetscCall(CheckClose("2 modes: Var x0", g.cov[0], hbar / (4 * m2) * (1 / w1 + 1 / w2), 1e-13));
    PetscCall(CheckClose("2 modes: Var x1", g.cov[1], hbar / (4 * m2) * (1 / w1 + 1 / w2), 1e-13));
    PetscCall(CheckClose("2 modes: Cov x0 x1", g.cov[2], hbar / (4 * m2) * (1 / w1 - 1 / w2), 1e-13));
    PetscCall(CheckClose("2 modes: <p0^2>", g.pp[0], hbar * m2 / 4 * (w1 + w2), 1e-13));
    PetscCall(GroundFree(&g));
    PetscCall(QepQhoDestroy(&q));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  analytic 1- and 2-mode ground states (%s covariance): ok\n", QepQhoCovMethods[methods[mth]]));
  }
  PetscFunctionReturn(0);
}

/* -------------------------------------------------------------------------------------------- dense */

/* Library ground state vs the dense reference of the same description: mean, pattern covariance,
 * ⟨p²⟩ relative to their largest entry, energy relative to max(1, |E|). */
static PetscErrorCode CompareToDense(QepQho q, const Net *net, const PetscReal x[], QepQhoCovMethod method, PetscReal tol)
{
  Ground          g;
  Dense           d;
  PetscInt        nk;
  const PetscInt *ki, *kj;
  PetscReal       emu = 0, ecov = 0, epp = 0, smu = 0, scov = 0, spp = 0, eE;

  PetscFunctionBegin;
  PetscCall(SolveGround(q, method, 1e-12, x, &g));
  PetscCall(DenseReference(net, x, &d));
  PetscCall(QepQhoGetPattern(q, &nk, &ki, &kj));
  for (PetscInt i = 0; i < net->n; i++) {
    emu = PetscMax(emu, PetscAbsReal(g.mean[i] - d.mean[i])), smu = PetscMax(smu, PetscAbsReal(d.mean[i]));
    epp = PetscMax(epp, PetscAbsReal(g.pp[i] - d.pp[i])), spp = PetscMax(spp, PetscAbsReal(d.pp[i]));
  }
  for (PetscInt e = 0; e < nk; e++) {
    PetscReal ref = d.cov[ki[e] + kj[e] * net->n];
    ecov = PetscMax(ecov, PetscAbsReal(g.cov[e] - ref)), scov = PetscMax(scov, PetscAbsReal(ref));
  }
  eE = PetscAbsReal(g.energy - d.energy) / PetscMax(1, PetscAbsReal(d.energy));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  n=%-4" PetscInt_FMT " %-9s vs dense LAPACK: mean %.1e, cov %.1e (%" PetscInt_FMT " entries), <p^2> %.1e, energy %.1e (relative)\n", net->n,
                        QepQhoCovMethods[method], (double)(emu / smu), (double)(ecov / scov), nk, (double)(epp / spp), (double)eE));
  PetscCall(Check(emu <= tol * smu && ecov <= tol * scov && epp <= tol * spp && eE <= tol, "dense comparison: worst relative error", (double)PetscMax(PetscMax(emu / smu, ecov / scov), PetscMax(epp / spp, eE)), 0, tol));
  PetscCall(DenseFree(&d));
  PetscCall(GroundFree(&g));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckDense(void)
{
  const PetscInt sizes[2] = {30, 47};

  PetscFunctionBegin;
  for (PetscInt t = 0; t < 2; t++) {
    Net      *net;
    QepQho    q;
    PetscReal x[MAX_LIST], y[MAX_LIST];
    PetscCall(PetscNew(&net));
    RandomNet(sizes[t], 100 + t, 0.8, PETSC_FALSE, net);
    Example(net, x, y);
    PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
    PetscCall(BuildNet(net, q));
    PetscCall(CompareToDense(q, net, x, QEP_QHO_COV_DENSE, 1e-10));
    PetscCall(CompareToDense(q, net, x, QEP_QHO_COV_CHEBYSHEV, 1e-10));
    PetscCall(QepQhoDestroy(&q));
    PetscCall(PetscFree(net));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- chebyshev */

/* Chebyshev at tol against dense: relative 1e-10 when tol <= 1e-12; otherwise every entry within the
 * reported bound, |ΔΣ_ij| <= (ħ/2) m_i^-1/2 m_j^-1/2 · bound · λ_min^-1/2. */
static PetscErrorCode ChebyshevVsDense(QepQho q, const char label[], PetscReal tol, PetscBool expect_probing, FILE *out)
{
  Ground          gd, gc;
  QepQhoSolveInfo info;
  PetscInt        n, nk;
  PetscReal       worst = 0, scale = 0, ratio = 0, hbar;

  PetscFunctionBegin;
  PetscCall(SolveGround(q, QEP_QHO_COV_DENSE, 1e-12, NULL, &gd));
  PetscCall(SolveGround(q, QEP_QHO_COV_CHEBYSHEV, tol, NULL, &gc));
  PetscCall(QepQhoGetSolveInfo(q, &info));
  PetscCall(QepQhoGetSizes(q, &n, NULL, NULL, NULL));
  PetscCall(QepQhoGetPattern(q, &nk, NULL, NULL));
  PetscCall(QepQhoGetHbar(q, &hbar));
  PetscCheck(info.method == QEP_QHO_COV_CHEBYSHEV, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "the Chebyshev method was not used");
  PetscCheck(!expect_probing || info.colours < n / 4, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: expected probing with few colours, got %" PetscInt_FMT " colours for %" PetscInt_FMT " modes", label,
             info.colours, n);
  for (PetscInt e = 0; e < nk; e++) {
    PetscReal d = PetscAbsReal(gc.cov[e] - gd.cov[e]), bound;
    worst = PetscMax(worst, d);
    scale = PetscMax(scale, PetscAbsReal(gd.cov[e]));
    bound = 0.5 * hbar * info.cov_error_bound / PetscSqrtReal(info.lambda_min) * 4.0; /* masses in these tests are >= 0.25: s_i s_j <= 4 */
    ratio = PetscMax(ratio, d / bound);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %-28s tol %.0e: degree %3" PetscInt_FMT ", %4" PetscInt_FMT " colours, max |dcov| %.2e (relative %.2e), bound %.2e, energy diff %.1e\n", label,
                        (double)tol, info.degree, info.colours, (double)worst, (double)(worst / scale), (double)info.cov_error_bound, (double)PetscAbsReal(gc.energy - gd.energy)));
  if (tol <= 1e-12) PetscCall(Check(worst <= 1e-10 * scale, "Chebyshev vs dense covariance (relative)", (double)(worst / scale), 0, 1e-10));
  PetscCall(Check(ratio <= 1.0, "Chebyshev covariance error / reported bound", (double)ratio, 1, 1));
  PetscCall(Check(PetscAbsReal(gc.energy - gd.energy) <= PetscMax(1e-9, 10 * tol) * PetscAbsReal(gd.energy), "Chebyshev vs dense energy", (double)gc.energy, (double)gd.energy,
                  (double)PetscMax(1e-9, 10 * tol)));
  if (out) {
    for (PetscInt e = 0; e < nk; e += PetscMax(1, nk / 50)) PetscCall(PetscFPrintf(PETSC_COMM_WORLD, out, "cov_%s e%" PetscInt_FMT " %.17g\n", label, e, (double)gc.cov[e]));
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, out, "energy_%s all %.17g\n", label, (double)gc.energy));
  }
  PetscCall(GroundFree(&gd));
  PetscCall(GroundFree(&gc));
  PetscFunctionReturn(0);
}

/* A chain (n = 500) and a 24x24 lattice with random stiffnesses and masses in [0.25, 1]. */
static PetscErrorCode LatticeText(PetscInt L, PetscBool chain, char **text)
{
  PetscInt n   = chain ? L : L * L;
  size_t   cap = 256 + (size_t)n * 200, used = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(cap, text));
  used += (size_t)snprintf(*text + used, cap - used, "modes %d\nhbar 0.9\n", (int)n);
  for (PetscInt i = 0; i < n; i++) {
    used += (size_t)snprintf(*text + used, cap - used, "mass %d %.17g\nground %d %.17g\n", (int)i, (double)Uniform(5, i, 0.25, 1.0), (int)i, (double)Uniform(6, i, 0.8, 1.6));
    if (chain) {
      if (i + 1 < n) used += (size_t)snprintf(*text + used, cap - used, "spring %d %d %.17g\n", (int)i, (int)i + 1, (double)Uniform(7, i, 0.5, 1.0));
    } else {
      PetscInt x = i % L, y = i / L;
      if (x + 1 < L) used += (size_t)snprintf(*text + used, cap - used, "spring %d %d %.17g\n", (int)i, (int)i + 1, (double)Uniform(7, 2 * i, 0.5, 1.0));
      if (y + 1 < L) used += (size_t)snprintf(*text + used, cap - used, "spring %d %d %.17g\n", (int)i, (int)(i + L), (double)Uniform(7, 2 * i + 1, 0.5, 1.0));
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckChebyshev(FILE *out)
{
  PetscFunctionBegin;
  for (PetscInt t = 0; t < 2; t++) {
    QepQho q;
    char  *text;
    PetscCall(LatticeText(t == 0 ? 500 : 24, t == 0 ? PETSC_TRUE : PETSC_FALSE, &text));
    PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
    PetscCall(QepQhoReadString(q, t == 0 ? "chain500" : "square24x24", text));
    PetscCall(ChebyshevVsDense(q, t == 0 ? "chain500" : "square24", 1e-12, t == 0 ? PETSC_TRUE : PETSC_FALSE, out));
    PetscCall(ChebyshevVsDense(q, t == 0 ? "chain500_loose" : "square24_loose", 1e-6, PETSC_FALSE, NULL));
    PetscCall(QepQhoDestroy(&q));
    PetscCall(PetscFree(text));
  }
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------- gradient */

static PetscErrorCode GradientNet(PetscReal hbar, Net *net, QepQho *q)
{
  PetscFunctionBegin;
  RandomNet(10, 300, hbar, PETSC_TRUE, net);
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, q));
  PetscCall(BuildNet(net, *q));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckGradient(FILE *out)
{
  Net           *net;
  QepQho         q;
  QepQhoGradient grad;
  PetscInt       np;
  PetscReal      x[MAX_LIST], y[MAX_LIST], *gq, *glr, *gfd, *gcheb, Lq, Llr, Lfd, Ldense = 0;
  Dense          d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&net));
  PetscCall(GradientNet(0.8, net, &q));
  Example(net, x, y);
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(PetscMalloc4(np, &gq, np, &glr, np, &gfd, np, &gcheb));
  PetscCall(QepQhoGradientCreate(q, &grad));
  PetscCall(QepQhoGradientSetEstimator(grad, QEP_ESTIMATOR_CENTERED));
  PetscCall(QepQhoGradientSetBeta(grad, 1e-4));
  PetscCall(QepQhoGradientSetFromOptions(grad));
  PetscCall(QepQhoSetCovarianceMethod(q, QEP_QHO_COV_DENSE, 1e-12));
  PetscCall(QepQhoGradientCompute(grad, 0, x, y, &Lq, gq));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_LINEAR, x, y, &Llr, glr));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_FD, x, y, &Lfd, gfd));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  gradient of %" PetscInt_FMT " parameters (stiffnesses, rest lengths, ground springs, forces, 2 masses):\n", np));
  PetscCall(CheckRelative("centred QEP (beta 1e-4) vs exact analytic", np, gq, glr, 1e-6));
  PetscCall(CheckRelative("finite differences vs exact analytic", np, gfd, glr, 1e-6));
  PetscCall(DenseReference(net, x, &d));
  for (PetscInt o = 0; o < net->noutputs; o++) {
    PetscInt i = net->output_mode[o];
    Ldense += 0.5 * (PetscSqr(d.mean[i] - y[o]) + d.cov[i + i * net->n]);
  }
  PetscCall(DenseFree(&d));
  PetscCall(CheckClose("loss of QepQhoGradientCompute vs the dense reference", Lq, Ldense, 1e-11 * PetscMax(1, Ldense)));
  PetscCall(CheckClose("loss of the analytic reference vs the dense reference", Llr, Ldense, 1e-11 * PetscMax(1, Ldense)));
  PetscCall(QepQhoSetCovarianceMethod(q, QEP_QHO_COV_CHEBYSHEV, 1e-12));
  PetscCall(QepQhoGradientCompute(grad, 1, x, y, &Lq, gcheb));
  PetscCall(CheckRelative("centred QEP with the Chebyshev covariance", np, gcheb, glr, 1e-6));
  if (out)
    for (PetscInt k = 0; k < np; k++) {
      const char *name;
      PetscCall(QepQhoGetParameterName(q, k, &name));
      PetscCall(PetscFPrintf(PETSC_COMM_WORLD, out, "qep %s %.17g\nqep_cheb %s %.17g\nexact %s %.17g\n", name, (double)gq[k], name, (double)gcheb[k], name, (double)glr[k]));
    }
  PetscCall(PetscFree4(gq, glr, gfd, gcheb));
  PetscCall(QepQhoGradientDestroy(&grad));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(PetscFree(net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- bias */

static PetscErrorCode CheckBias(void)
{
  Net           *net;
  QepQho         q;
  QepQhoGradient grad;
  PetscInt       np;
  PetscReal      x[MAX_LIST], y[MAX_LIST], *g, *ref, L;
  const PetscReal betas[3] = {0.2, 0.1, 0.05};

  PetscFunctionBegin;
  PetscCall(PetscNew(&net));
  PetscCall(GradientNet(0.8, net, &q));
  Example(net, x, y);
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(PetscMalloc2(np, &g, np, &ref));
  PetscCall(QepQhoGradientCreate(q, &grad));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_LINEAR, x, y, &L, ref));
  for (PetscInt e = QEP_ESTIMATOR_ONESIDED; e <= QEP_ESTIMATOR_FOURPOINT; e++) {
    PetscReal           err[3], slope, order = e == QEP_ESTIMATOR_ONESIDED ? 1 : e == QEP_ESTIMATOR_CENTERED ? 2 : 4;
    QepQhoGradientStats st;
    PetscCall(QepQhoGradientSetEstimator(grad, (QepEstimator)e));
    for (PetscInt b = 0; b < 3; b++) {
      PetscCall(QepQhoGradientSetBeta(grad, betas[b]));
      PetscCall(QepQhoGradientResetStats(grad));
      PetscCall(QepQhoGradientCompute(grad, -1, x, y, &L, g));
      PetscCall(QepQhoGradientGetStats(grad, &st));
      PetscCheck(st.free_solves == 1 && st.nudged_solves == (PetscInt)order, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: %" PetscInt_FMT " free and %" PetscInt_FMT " nudged solves, expected 1 and %d",
                 QepEstimators[e], st.free_solves, st.nudged_solves, (int)order);
      err[b] = DiffNorm(np, g, ref);
    }
    slope = PetscLogReal(err[0] / err[2]) / PetscLogReal(betas[0] / betas[2]);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %-9s |QEP - exact| at beta 0.2/0.1/0.05: %.2e %.2e %.2e, slope %.2f (order %g)\n", QepEstimators[e], (double)err[0], (double)err[1],
                          (double)err[2], (double)slope, (double)order));
    PetscCall(Check(PetscAbsReal(slope - order) < 0.3, "estimator bias order", (double)slope, (double)order, 0.3));
  }
  PetscCall(PetscFree2(g, ref));
  PetscCall(QepQhoGradientDestroy(&grad));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(PetscFree(net));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------- classical */

static PetscErrorCode CheckClassical(void)
{
  Net           *net;
  QepQho         q;
  QepQhoGradient grad;
  PetscInt       np;
  PetscReal      x[MAX_LIST], y[MAX_LIST], *g, *gm, *gz, *gc, *ref1, *ref0, *diff, *work, L, Lc;

  PetscFunctionBegin;
  PetscCall(PetscNew(&net));
  PetscCall(GradientNet(1e-9, net, &q));
  Example(net, x, y);
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(PetscMalloc1(7 * np, &work));
  g = work, gm = work + np, gz = work + 2 * np, gc = work + 3 * np, ref1 = work + 4 * np, ref0 = work + 5 * np, diff = work + 6 * np;
  PetscCall(QepQhoGradientCreate(q, &grad));
  PetscCall(QepQhoGradientSetBeta(grad, 1e-4));
  /* ħ → 0 */
  PetscCall(QepQhoGradientCompute(grad, -1, x, y, &L, g));
  PetscCall(QepQhoGradientComputeClassical(grad, x, y, &Lc, gc));
  PetscCall(CheckRelative("QEP at hbar 1e-9 vs classical elastic EP", np, g, gc, 1e-6));
  PetscCall(CheckClose("loss at hbar 1e-9 vs classical loss", L, Lc, 1e-8));
  /* ħ = 1: mean part = classical; zero-point part = exact(ħ=1) − exact(ħ=0) */
  PetscCall(QepQhoSetHbar(q, 1.0));
  PetscCall(QepQhoGradientCompute(grad, -1, x, y, &L, g));
  PetscCall(QepQhoGradientGetParts(grad, gm, gz));
  PetscCall(CheckRelative("mean part at hbar 1 vs classical elastic EP", np, gm, gc, 1e-8));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_LINEAR, x, y, &L, ref1));
  PetscCall(QepQhoSetHbar(q, 0.0));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_LINEAR, x, y, &L, ref0));
  for (PetscInt k = 0; k < np; k++) diff[k] = ref1[k] - ref0[k];
  PetscCall(CheckRelative("zero-point part vs exact(hbar 1) - exact(hbar 0)", np, gz, diff, 1e-6));
  PetscCall(CheckRelative("exact(hbar 0) vs classical elastic EP", np, ref0, gc, 1e-6));
  for (PetscInt k = 0; k < np; k++) diff[k] = g[k] - gc[k];
  PetscCall(CheckRelative("QEP(hbar 1) - classical vs zero-point part", np, diff, gz, 1e-9));
  PetscCall(PetscFree(work));
  PetscCall(QepQhoGradientDestroy(&grad));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(PetscFree(net));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------- roundtrip */

static PetscErrorCode ReadTextFile(const char path[], char **text)
{
  FILE  *f;
  long   len;
  size_t got;

  PetscFunctionBegin;
  PetscCall(PetscFOpen(PETSC_COMM_SELF, path, "r", &f));
  fseek(f, 0, SEEK_END);
  len = ftell(f);
  fseek(f, 0, SEEK_SET);
  PetscCall(PetscMalloc1(len + 1, text));
  got = fread(*text, 1, (size_t)len, f);
  (*text)[got] = 0;
  PetscCall(PetscFClose(PETSC_COMM_SELF, f));
  PetscFunctionReturn(0);
}

/* q → file a → q2 → file b: a == b, and the ground states of q and q2 agree exactly. */
static PetscErrorCode RoundTrip(QepQho q, const char dir[], const char label[], PetscBool gaussian)
{
  char      a[PETSC_MAX_PATH_LEN], b[PETSC_MAX_PATH_LEN], *ta, *tb;
  QepQho    q2;
  PetscBool same;
  PetscInt  n, np, ni, no, n2, np2, ni2, no2;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(a, sizeof(a), "%s/qho_roundtrip_%s_a.model", dir, label));
  PetscCall(PetscSNPrintf(b, sizeof(b), "%s/qho_roundtrip_%s_b.model", dir, label));
  PetscCall(QepQhoWrite(q, a));
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q2));
  PetscCall(QepQhoRead(q2, a));
  PetscCall(QepQhoWrite(q2, b));
  PetscCall(QepQhoGetSizes(q, &n, &np, &ni, &no));
  PetscCall(QepQhoGetSizes(q2, &n2, &np2, &ni2, &no2));
  PetscCheck(n == n2 && np == np2 && ni == ni2 && no == no2, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: sizes changed in the round trip", label);
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(ReadTextFile(a, &ta));
  PetscCall(ReadTextFile(b, &tb));
  { /* line 1 names the qep version and line 2 the description (the source file): compare the rest */
    const char *la = strchr(strchr(ta, '\n') + 1, '\n'), *lb = strchr(strchr(tb, '\n') + 1, '\n');
    same = (la && lb && !strcmp(la, lb)) ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCheck(same, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: written files %s and %s differ", label, a, b);
  if (gaussian) {
    PetscReal E1, E2, *x;
    PetscCall(PetscCalloc1(PetscMax(ni, 1), &x));
    for (PetscInt k = 0; k < ni; k++) x[k] = 0.1 * (k + 1);
    PetscCall(QepQhoGroundSolve(q, QEP_QHO_SOLVER_GAUSSIAN, 0, x, 0.0, NULL, &E1, NULL, NULL, NULL));
    PetscCall(QepQhoGroundSolve(q2, QEP_QHO_SOLVER_GAUSSIAN, 0, x, 0.0, NULL, &E2, NULL, NULL, NULL));
    PetscCheck(E1 == E2, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: energy %.17g after the round trip, %.17g before", label, (double)E2, (double)E1);
    PetscCall(PetscFree(x));
  }
  {
    PetscReal *t1, *t2;
    PetscCall(PetscMalloc2(PetscMax(np, 1), &t1, PetscMax(np, 1), &t2));
    PetscCall(QepQhoGetParameters(q, t1));
    PetscCall(QepQhoGetParameters(q2, t2));
    for (PetscInt k = 0; k < np; k++) PetscCheck(t1[k] == t2[k], PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s: parameter %" PetscInt_FMT " changed in the round trip", label, k);
    PetscCall(PetscFree2(t1, t2));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  round trip %-10s: %" PetscInt_FMT " modes, %" PetscInt_FMT " parameters, identical text%s\n", label, n, np, gaussian ? " and energy" : ""));
  PetscCall(PetscFree(ta));
  PetscCall(PetscFree(tb));
  PetscCall(QepQhoDestroy(&q2));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckRoundTrip(const char dir[], const char example[])
{
  Net   *net;
  QepQho q;

  PetscFunctionBegin;
  PetscCall(PetscNew(&net));
  PetscCall(GradientNet(0.37, net, &q));
  PetscCall(RoundTrip(q, dir, "built", PETSC_TRUE));
  PetscCall(QepQhoDestroy(&q));
  PetscCall(PetscFree(net));
  if (example[0]) { /* a hand-written file with loops, quartic terms and every coefficient form */
    PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
    PetscCall(QepQhoRead(q, example));
    PetscCall(RoundTrip(q, dir, "example", PETSC_FALSE));
    PetscCall(QepQhoDestroy(&q));
  }
  /* a generated network with every trainable kind (the options are set only for this read) */
  PetscCall(PetscOptionsInsertString(NULL, "-qep_lattice square -qep_n 16 -qep_qho_k_spread 0.3 -qep_qho_k_trainable -qep_qho_k0_trainable -qep_qho_rest 0.1 -qep_qho_rest_trainable "
                                           "-qep_qho_mass_trainable -qep_qho_bias_trainable -qep_qho_quartic 0.05 -qep_qho_inputs 0,1 -qep_qho_outputs 15 -qep_seed 3"));
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
  PetscCall(QepQhoSetFromOptions(q));
  {
    const char *set[] = {"-qep_lattice", "-qep_n", "-qep_qho_k_spread", "-qep_qho_k_trainable", "-qep_qho_k0_trainable", "-qep_qho_rest", "-qep_qho_rest_trainable", "-qep_qho_mass_trainable",
                         "-qep_qho_bias_trainable", "-qep_qho_quartic", "-qep_qho_inputs", "-qep_qho_outputs", "-qep_seed"};
    for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++) PetscCall(PetscOptionsClearValue(NULL, set[k]));
  }
  PetscCall(RoundTrip(q, dir, "generated", PETSC_FALSE));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------------- fock */

static PetscErrorCode CheckFock(PetscInt levels)
{
  QepQho         q;
  QepQhoGradient grad;
  PetscInt       np;
  PetscReal      x[1] = {0.2}, y[1] = {0.15}, *g, *gfd, *gm, *gz, L, Lfd;

  PetscFunctionBegin;
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
  PetscCall(QepQhoReadString(q, "quartic-network",
                             "modes 2\nhbar 0.6\nparam k 0.7\nparam g 1.1\nparam lam 0.3\nparam f 0.1\nparam m 1.2\n"
                             "spring 0 1 k 0.2\nground 0 g\nground 1 1.3\nquartic 0 lam\nquartic 1 0.1\nforce 0 x0\nforce 1 f\nmass 1 m\noutput y 1\n"));
  PetscCall(QepQhoGetSizes(q, NULL, &np, NULL, NULL));
  PetscCall(PetscMalloc4(np, &g, np, &gfd, np, &gm, np, &gz));
  PetscCall(QepQhoGradientCreate(q, &grad));
  PetscCall(QepQhoGradientSetSolver(grad, QEP_QHO_SOLVER_FOCK, levels));
  PetscCall(QepQhoGradientSetBeta(grad, 1e-3));
  PetscCall(QepQhoGradientCompute(grad, 0, x, y, &L, g));
  PetscCall(QepQhoGradientGetParts(grad, gm, gz));
  PetscCall(QepQhoGradientComputeReference(grad, QEP_REFERENCE_FD, x, y, &Lfd, gfd));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  quartic network, Fock solver with %" PetscInt_FMT " levels per mode, loss %.10f:\n", levels, (double)L));
  PetscCall(CheckRelative("centred QEP (beta 1e-3) vs finite differences", np, g, gfd, 1e-5));
  PetscCall(Check(Norm(np, gz) > 1e-3 * Norm(np, g), "the fluctuation part of a quartic network is not negligible", (double)Norm(np, gz), 0, 0));
  PetscCall(CheckClose("loss of QEP vs loss of the reference", L, Lfd, 1e-10));
  PetscCall(PetscFree4(g, gfd, gm, gz));
  PetscCall(QepQhoGradientDestroy(&grad));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------- bad input, files */

static PetscErrorCode RunBad(const char file[], PetscBool generator, PetscInt fock)
{
  QepQho    q;
  PetscReal E;

  PetscFunctionBegin;
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
  if (generator) PetscCall(QepQhoSetFromOptions(q));
  else PetscCall(QepQhoRead(q, file));
  PetscCall(QepQhoGroundSolve(q, fock ? QEP_QHO_SOLVER_FOCK : QEP_QHO_SOLVER_GAUSSIAN, fock, NULL, 0.0, NULL, &E, NULL, NULL, NULL));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "no error: energy %.15g\n", (double)E));
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

static PetscErrorCode CompareFiles(PetscInt nfiles, char *files[], PetscReal tol)
{
  FILE     *ref, *fp;
  char      l0[256], n0[256], l1[256], n1[256];
  double    v0, v1, worst = 0.0;
  PetscInt  lines = 0;

  PetscFunctionBegin;
  PetscCheck(nfiles >= 2, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-compare needs at least two files");
  for (PetscInt f = 1; f < nfiles; f++) {
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[0], "r", &ref));
    PetscCall(PetscFOpen(PETSC_COMM_SELF, files[f], "r", &fp));
    lines = 0;
    while (fscanf(ref, "%255s %255s %lf", l0, n0, &v0) == 3) {
      PetscCheck(fscanf(fp, "%255s %255s %lf", l1, n1, &v1) == 3, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s ends before %s", files[f], files[0]);
      PetscCheck(!strcmp(l0, l1) && !strcmp(n0, n1), PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s line %" PetscInt_FMT ": %s %s, but %s has %s %s", files[f], lines + 1, l1, n1, files[0], l0, n0);
      PetscCheck(PetscAbsReal(v0 - v1) <= tol * PetscMax(1, PetscAbsReal(v0)), PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s vs %s: %s %s differs: %.17g vs %.17g", files[f], files[0], l0, n0, v1, v0);
      worst = PetscMax(worst, fabs(v0 - v1) / PetscMax(1, fabs(v0)));
      lines++;
    }
    PetscCheck(lines > 0, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s holds no lines", files[0]);
    PetscCheck(fscanf(fp, "%255s", l1) != 1, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "%s has more lines than %s", files[f], files[0]);
    PetscCall(PetscFClose(PETSC_COMM_SELF, ref));
    PetscCall(PetscFClose(PETSC_COMM_SELF, fp));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%" PetscInt_FMT " files of %" PetscInt_FMT " numbers agree; largest relative difference %.3e <= %.1e\n", nfiles, lines, worst, (double)tol));
  PetscFunctionReturn(0);
}

static PetscErrorCode RunChecks(void)
{
  char      list[MAX_LIST][64], *checks[MAX_LIST], out[PETSC_MAX_PATH_LEN] = "", dir[PETSC_MAX_PATH_LEN] = ".", example[PETSC_MAX_PATH_LEN] = "";
  PetscInt  nchecks = MAX_LIST, levels = 14;
  PetscBool hasout;
  FILE     *fp = NULL;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < MAX_LIST; k++) checks[k] = list[k];
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "test_qho", NULL);
  PetscCall(PetscOptionsStringArray("-checks", "checks to run", NULL, checks, &nchecks, NULL));
  PetscCall(PetscOptionsString("-out", "write rank-independent numbers here", NULL, out, out, sizeof(out), &hasout));
  PetscCall(PetscOptionsString("-dir", "directory for round-trip files", NULL, dir, dir, sizeof(dir), NULL));
  PetscCall(PetscOptionsString("-example", "hand-written oscillator file for the round trip", NULL, example, example, sizeof(example), NULL));
  PetscCall(PetscOptionsInt("-levels", "Fock levels per mode of the fock check", NULL, levels, &levels, NULL));
  PetscOptionsEnd();
  if (hasout) PetscCall(PetscFOpen(PETSC_COMM_WORLD, out, "w", &fp));
  for (PetscInt c = 0; c < nchecks; c++) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "check %s\n", checks[c]));
    if (!strcmp(checks[c], "analytic")) PetscCall(CheckAnalytic());
    else if (!strcmp(checks[c], "dense")) PetscCall(CheckDense());
    else if (!strcmp(checks[c], "chebyshev")) PetscCall(CheckChebyshev(fp));
    else if (!strcmp(checks[c], "gradient")) PetscCall(CheckGradient(fp));
    else if (!strcmp(checks[c], "bias")) PetscCall(CheckBias());
    else if (!strcmp(checks[c], "classical")) PetscCall(CheckClassical());
    else if (!strcmp(checks[c], "roundtrip")) PetscCall(CheckRoundTrip(dir, example));
    else if (!strcmp(checks[c], "fock")) PetscCall(CheckFock(levels));
    else SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "unknown check '%s'", checks[c]);
    PetscCall(PetscFree(checks[c]));
  }
  if (fp) PetscCall(PetscFClose(PETSC_COMM_WORLD, fp));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char      bad[PETSC_MAX_PATH_LEN] = "", cmp[4096] = "";
  PetscBool hasbad, hascmp, generator = PETSC_FALSE;
  PetscInt  fock = 0;
  PetscReal tol  = 1e-10;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "test_qho: oscillator networks against independent references"));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "test_qho", NULL);
  PetscCall(PetscOptionsString("-bad_file", "read this oscillator file and solve it (error tests)", NULL, bad, bad, sizeof(bad), &hasbad));
  PetscCall(PetscOptionsBool("-bad_generator", "generate from the options and solve (error tests)", NULL, generator, &generator, NULL));
  PetscCall(PetscOptionsInt("-bad_fock", "solve with the Fock solver and this many levels", NULL, fock, &fock, NULL));
  PetscCall(PetscOptionsString("-compare", "comma-separated files to compare", NULL, cmp, cmp, sizeof(cmp), &hascmp));
  PetscCall(PetscOptionsReal("-compare_tol", "relative tolerance of -compare", NULL, tol, &tol, NULL));
  PetscOptionsEnd();
  if (hasbad || generator) PetscCall(RunBad(bad, generator, fock));
  else if (hascmp) {
    char    *files[64];
    PetscInt nfiles = 0;
    for (char *tok = strtok(cmp, ","); tok && nfiles < 64; tok = strtok(NULL, ",")) files[nfiles++] = tok;
    PetscCall(CompareFiles(nfiles, files, tol));
  } else PetscCall(RunChecks());
  PetscCall(SlepcFinalize());
  return 0;
}
