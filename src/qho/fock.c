/* qho/fock.c — ground states of an oscillator network in a truncated Fock space (QepQhoFock).
 *
 * Basis. Mode i keeps the d lowest Fock states |0>..|d-1> of a harmonic oscillator of frequency ω_i
 * centred at s_i:  x_i = s_i + ℓ_i Q_i,  p_i = i sqrt(ħ m_i ω_i / 2) (a_i† − a_i),  Q = a + a†,
 * ℓ_i = sqrt(ħ / (2 m_i ω_i)). The basis index is s = Σ_i n_i d^i (mode 0 fastest). The centre s is the
 * minimum of the classical potential ½xᵀKx − bᵀx + Σ λ_i x_i⁴ (= K⁻¹b when λ = 0; 0 when K is not
 * positive definite, which only a quartic network may have). A quartic mode's ω_i minimises the energy
 * of a Gaussian of that mode alone (ModeFrequency); a harmonic mode's ω_i is the natural frequency of
 * the network's Gaussian ground state, sqrt(⟨p_i²⟩/⟨δx_i²⟩)/m_i (NaturalFrequencies), whose Fock states
 * diagonalise that mode's reduced density matrix — the fastest-converging single-mode basis.
 *
 * Operators. Every power of a mode operator (Q^k for k ≤ 4, and (a† − a)²) is the PROJECTION P O P
 * of the infinite-space operator onto the kept levels — never a product of truncated matrices — so
 * the truncated harmonic oscillator is exactly diagonal, ħω(n + ½). The same projected matrices build
 * H and evaluate the moments, hence ⟨ψ|H|ψ⟩ reproduces the eigenvalue to rounding. All of them are
 * real, so H is real symmetric in the real and in the complex build. The classical energy at the centre
 * (c included) is kept out of the matrix and added to the eigenvalue.
 *
 * Solves. SLEPc Krylov–Schur for the smallest eigenvalue (options prefix fock_, tolerance 1e-12). A cold
 * solve — and every -fock_gap_every-th warm one — also computes the second eigenpair and fails on a
 * degenerate ground state (E1 − E0 < -fock_gap_tol · max(1, |E0|)); the other solves start from the
 * previous ground state and need one eigenpair only.
 *
 * Invariants. The sparsity structure depends only on (n, d, the stored pattern of K, which modes
 * carry a quartic term); every stored entry remembers the "step" (which term, which level offsets)
 * that produced it, so new numbers rewrite the values in place without sorting. Rows are split by
 * PetscSplitOwnership and all basis numbers are computed identically on every rank, so results
 * depend on the rank count only through rounding and the eigensolver tolerance. */
#include "qhoimpl.h"
#include <petscbt.h>
#include <slepceps.h>

#define FOCK_POWER          4                      /* x⁴ is the highest power of a position in H */
#define FOCK_WIDTH          (2 * FOCK_POWER + 1)   /* a one-mode operator couples levels n and n + o, |o| ≤ 4 */
#define FOCK_HARMONIC_BAND  2                      /* without a quartic term a mode needs offsets |o| ≤ 2 */
#define FOCK_DEFAULT_TOL    1e-12                  /* moments agree across rank counts to ~1e-12 */
#define FOCK_DEFAULT_GAP    1e-8                   /* relative E1 − E0 below which the ground state is degenerate */
#define FOCK_START_NOISE    1e-3                   /* random admixture to a gap-checking start: no symmetry sector is missed */
#define FOCK_GAP_EVERY      10                     /* a warm solve checks the gap every FOCK_GAP_EVERY-th time (-fock_gap_every) */
#define FOCK_SEED           20260106               /* seed of that admixture (rank-independent) */
#define FOCK_NCV            32                     /* Krylov basis of a cold solve: twice SLEPc's default for 2 eigenpairs, since
                                                      a quartic mode's wide spectrum made small spaces restart hundreds of times */
#define FOCK_NCV_WARM       16                     /* ... of a warm one-eigenpair solve (usually done within one basis) */
#define FOCK_MAXIT          10000                  /* restarts; SLEPc's default (100 for small spaces) is too few for that too */
#define FOCK_EPS_VECTORS    (FOCK_NCV + 8)         /* vectors an eigensolve holds (for the memory estimate) */
#define FOCK_NEWTON_MAXIT   100                    /* Newton steps / Jacobi sweeps of the small dense basis problems */

/* Projected one-mode operators, dimensionless: op[k][n * FOCK_WIDTH + o + FOCK_POWER] = <n|P O_k P|n+o>. */
enum { OP_Q1, OP_Q2, OP_Q3, OP_Q4, OP_PP, FOCK_NOPS }; /* Q^1..Q^4, (a† − a)² */

/* One kind of matrix entry: column = row + delta, the levels of mode[0] (and mode[1]) moved by
 * off[0] (off[1]). mode[0] = -1: the diagonal; mode[1] = -1: a one-mode term; else the coupling kidx. */
typedef struct {
  PetscInt delta, mode[2], off[2], kidx;
} FockStep;

/* The arrays the Mat uses in place; owned by the Mat through a container (a solver may outlive us). */
typedef struct {
  PetscInt    *di, *dj, *oi, *oj;
  PetscScalar *da, *oa;
} FockCSR;

struct _n_QepQhoFock {
  MPI_Comm  comm;
  PetscInt  d;
  PetscReal gap_tol;
  PetscInt  gap_every, since_gap; /* warm solves skip the gap (one eigenpair); every gap_every-th checks it */
  PetscReal *op[FOCK_NOPS];

  /* structure: valid while `setup`, rebuilt when the key (n, pattern, quartic modes) changes */
  PetscBool setup;
  PetscInt  n, nk, *ki, *kj;
  PetscBool *anharmonic;
  PetscInt  N, rstart, rend, *stride;
  PetscInt  nhsteps, nmsteps; /* steps of H, and of the moments (all modes to |o| ≤ 4) */
  FockStep *hsteps, *msteps;
  PetscInt *di, *dj, *oi, *oj, *dstep, *ostep; /* borrowed CSR + the step of every entry */
  PetscScalar *da, *oa;
  Mat        H;
  PetscInt   nghost, *ghost; /* sorted global indices the moments read from other ranks */
  Vec        ghostvec;
  VecScatter gather;

  /* basis and values of the current numbers */
  PetscReal *centre, *omega, *len, *onebody; /* onebody[(i * d + n) * FOCK_WIDTH + o + FOCK_POWER] */
  PetscReal  shift;                           /* classical energy at the centre, c included */

  EPS       eps;
  PetscBool user_ncv; /* -fock_eps_ncv given: keep it */
  Vec       psi;      /* last ground state (warm start while the dimension is unchanged) */
  PetscBool have_psi;
};

/* ------------------------------------------------------------------ projected ladder operators ---- */

/* w = Q v or w = (a† − a) v on levels 0..len-1 (v vanishes near the top, so nothing is cut). */
static void ApplyLadder(PetscInt len, PetscBool position, const PetscReal v[], PetscReal w[])
{
  for (PetscInt m = 0; m < len; m++) {
    PetscReal up = m > 0 ? PetscSqrtReal((PetscReal)m) * v[m - 1] : 0;           /* a† |m-1> */
    PetscReal dn = m + 1 < len ? PetscSqrtReal((PetscReal)(m + 1)) * v[m + 1] : 0; /* a |m+1> */
    w[m]         = position ? up + dn : up - dn;
  }
}

/* Columns of P Q^k P and P (a† − a)² P, computed by applying the infinite ladder operators to |c> on
 * d + FOCK_POWER + 1 levels (k ≤ 4 steps from c ≤ d-1 never reach the last one). */
static PetscErrorCode BuildLadderTables(PetscInt d, PetscReal *op[FOCK_NOPS])
{
  const PetscInt len = d + FOCK_POWER + 1;
  PetscReal     *v, *w, *t;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < FOCK_NOPS; k++) PetscCall(PetscCalloc1(d * FOCK_WIDTH, &op[k]));
  PetscCall(PetscMalloc2(len, &v, len, &w));
  for (PetscInt c = 0; c < d; c++) {
    for (PetscInt kind = 0; kind < 2; kind++) { /* kind 0: powers of Q; kind 1: (a† − a)² */
      PetscCall(PetscArrayzero(v, len));
      v[c] = 1;
      for (PetscInt k = 1; k <= (kind ? 2 : FOCK_POWER); k++) {
        ApplyLadder(len, kind ? PETSC_FALSE : PETSC_TRUE, v, w);
        t = v, v = w, w = t;
        if (kind && k < 2) continue;
        for (PetscInt r = PetscMax(0, c - FOCK_POWER); r <= PetscMin(d - 1, c + FOCK_POWER); r++) op[kind ? OP_PP : OP_Q1 + k - 1][r * FOCK_WIDTH + c - r + FOCK_POWER] = v[r];
      }
    }
  }
  PetscCall(PetscFree2(v, w));
  PetscFunctionReturn(0);
}

static inline PetscReal Table(const PetscReal tab[], PetscInt level, PetscInt off)
{
  return tab[level * FOCK_WIDTH + off + FOCK_POWER];
}

/* --------------------------------------------------------------------------- input checks -------- */

static PetscErrorCode CheckNumeric(MPI_Comm comm, const QepQhoNumeric *h)
{
  PetscFunctionBegin;
  PetscCheck(h->n >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Oscillator network with %" PetscInt_FMT " modes; need at least one", h->n);
  PetscCheck(h->hbar > 0 && !PetscIsInfOrNanReal(h->hbar), comm, PETSC_ERR_ARG_OUTOFRANGE, "hbar must be positive and finite, got %g", (double)h->hbar);
  PetscCheck(h->nk >= h->n, comm, PETSC_ERR_ARG_WRONG, "The pattern of K stores %" PetscInt_FMT " entries, fewer than its %" PetscInt_FMT " diagonal entries", h->nk, h->n);
  for (PetscInt i = 0; i < h->n; i++) {
    PetscCheck(h->mass[i] > 0 && !PetscIsInfOrNanReal(h->mass[i]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Mass of mode %" PetscInt_FMT " is %g; masses must be positive", i, (double)h->mass[i]);
    PetscCheck(h->quartic[i] >= 0 && !PetscIsInfOrNanReal(h->quartic[i]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Quartic coefficient of mode %" PetscInt_FMT " is %g; it must be >= 0", i, (double)h->quartic[i]);
    PetscCheck(!PetscIsInfOrNanReal(h->force[i]), comm, PETSC_ERR_FP, "Force on mode %" PetscInt_FMT " is not finite", i);
    PetscCheck(h->ki[i] == i && h->kj[i] == i, comm, PETSC_ERR_PLIB, "Entry %" PetscInt_FMT " of the pattern of K must be the diagonal (%" PetscInt_FMT ",%" PetscInt_FMT ")", i, i, i);
  }
  for (PetscInt e = 0; e < h->nk; e++) {
    PetscCheck(!PetscIsInfOrNanReal(h->kval[e]), comm, PETSC_ERR_FP, "Spring constant K(%" PetscInt_FMT ",%" PetscInt_FMT ") is not finite", h->ki[e], h->kj[e]);
    if (e >= h->n)
      PetscCheck(h->ki[e] >= 0 && h->ki[e] < h->kj[e] && h->kj[e] < h->n, comm, PETSC_ERR_PLIB, "Coupling %" PetscInt_FMT " of K joins (%" PetscInt_FMT ",%" PetscInt_FMT "); need 0 <= i < j < %" PetscInt_FMT,
                 e, h->ki[e], h->kj[e], h->n);
  }
  PetscCheck(!PetscIsInfOrNanReal(h->constant), comm, PETSC_ERR_FP, "The constant of H is not finite");
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------- the basis (values) -- */

/* In-place Cholesky factor (lower) of the dense m x m A; PETSC_FALSE when A is not positive definite. */
static PetscBool CholeskyFactor(PetscInt m, PetscReal A[])
{
  for (PetscInt j = 0; j < m; j++) {
    PetscReal s = A[j * m + j];
    for (PetscInt k = 0; k < j; k++) s -= A[j * m + k] * A[j * m + k];
    if (!(s > 0)) return PETSC_FALSE;
    A[j * m + j] = PetscSqrtReal(s);
    for (PetscInt i = j + 1; i < m; i++) {
      PetscReal t = A[i * m + j];
      for (PetscInt k = 0; k < j; k++) t -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = t / A[j * m + j];
    }
  }
  return PETSC_TRUE;
}

/* x = (L Lᵀ)⁻¹ b for a factor from CholeskyFactor (x may alias b). */
static void CholeskySolve(PetscInt m, const PetscReal L[], const PetscReal b[], PetscReal x[])
{
  for (PetscInt i = 0; i < m; i++) {
    PetscReal s = b[i];
    for (PetscInt k = 0; k < i; k++) s -= L[i * m + k] * x[k];
    x[i] = s / L[i * m + i];
  }
  for (PetscInt i = m - 1; i >= 0; i--) {
    PetscReal s = x[i];
    for (PetscInt k = i + 1; k < m; k++) s -= L[k * m + i] * x[k];
    x[i] = s / L[i * m + i];
  }
}

/* Dense symmetric K (n x n) from the stored upper triangle. */
static void DenseSprings(const QepQhoNumeric *h, PetscReal K[])
{
  for (PetscInt i = 0; i < h->n * h->n; i++) K[i] = 0;
  for (PetscInt e = 0; e < h->nk; e++) {
    K[h->ki[e] * h->n + h->kj[e]] += h->kval[e];
    if (h->ki[e] != h->kj[e]) K[h->kj[e] * h->n + h->ki[e]] += h->kval[e];
  }
}

/* V(x) = ½xᵀKx − bᵀx + Σ λ_i x_i⁴, the classical potential; its gradient goes to g if non-NULL. */
static PetscReal ClassicalPotential(const QepQhoNumeric *h, const PetscReal K[], const PetscReal x[], PetscReal g[])
{
  PetscReal v = 0;
  for (PetscInt i = 0; i < h->n; i++) {
    PetscReal kx = 0;
    for (PetscInt j = 0; j < h->n; j++) kx += K[i * h->n + j] * x[j];
    v += 0.5 * x[i] * kx - h->force[i] * x[i] + h->quartic[i] * PetscPowRealInt(x[i], 4);
    if (g) g[i] = kx - h->force[i] + 4 * h->quartic[i] * PetscPowRealInt(x[i], 3);
  }
  return v;
}

/* H is bounded below iff K is positive definite on the modes without a quartic term. */
static PetscErrorCode CheckBounded(MPI_Comm comm, const QepQhoNumeric *h, const PetscReal K[], PetscReal work[])
{
  PetscInt m = 0, *harm;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(h->n, &harm));
  for (PetscInt i = 0; i < h->n; i++)
    if (h->quartic[i] == 0) harm[m++] = i;
  for (PetscInt a = 0; a < m; a++)
    for (PetscInt b = 0; b < m; b++) work[a * m + b] = K[harm[a] * h->n + harm[b]];
  PetscCheck(CholeskyFactor(m, work), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "The oscillator network is unbounded below: the spring matrix K restricted to the %" PetscInt_FMT " modes without a quartic term is not positive definite. "
             "Add ground springs or quartic terms",
             m);
  PetscCall(PetscFree(harm));
  PetscFunctionReturn(0);
}

/* s = argmin V by Newton with backtracking from K⁻¹b when K is positive definite (V is then strictly
 * convex, so this converges; for λ = 0 the start is the answer), else s = 0 (only a network with quartic
 * terms may have an indefinite K; its minimum need not be unique, and 0 keeps any symmetry).
 * L, g, dx, trial: n x n, n, n, n of workspace. */
static void ClassicalCentre(const QepQhoNumeric *h, const PetscReal K[], PetscReal s[], PetscReal L[], PetscReal g[], PetscReal dx[], PetscReal trial[])
{
  const PetscInt n = h->n;

  for (PetscInt i = 0; i < n * n; i++) L[i] = K[i];
  for (PetscInt i = 0; i < n; i++) s[i] = 0;
  if (!CholeskyFactor(n, L)) return;
  CholeskySolve(n, L, h->force, s);
  for (PetscInt it = 0; it < FOCK_NEWTON_MAXIT; it++) {
    PetscReal v = ClassicalPotential(h, K, s, g), slope = 0, step = 1, dmax = 0, smax = 0;
    for (PetscInt i = 0; i < n * n; i++) L[i] = K[i];
    for (PetscInt i = 0; i < n; i++) L[i * n + i] += 12 * h->quartic[i] * s[i] * s[i];
    if (!CholeskyFactor(n, L)) return; /* cannot happen: the Hessian only grew */
    CholeskySolve(n, L, g, dx);
    for (PetscInt i = 0; i < n; i++) {
      slope -= g[i] * dx[i];
      dmax = PetscMax(dmax, PetscAbsReal(dx[i]));
      smax = PetscMax(smax, PetscAbsReal(s[i]));
    }
    if (dmax <= 10 * PETSC_MACHINE_EPSILON * (1 + smax)) return; /* converged to rounding */
    for (PetscInt ls = 0; ls < 60; ls++, step *= 0.5) {
      for (PetscInt i = 0; i < n; i++) trial[i] = s[i] - step * dx[i];
      if (ClassicalPotential(h, K, trial, NULL) <= v + 1e-4 * step * slope) break;
    }
    for (PetscInt i = 0; i < n; i++) s[i] = trial[i];
  }
}

/* Eigen-decomposition of the symmetric m x m A (row-major) by cyclic Jacobi rotations: A is overwritten
 * and its diagonal holds the eigenvalues; the columns of V are the eigenvectors. */
static void JacobiEigen(PetscInt m, PetscReal A[], PetscReal V[])
{
  for (PetscInt i = 0; i < m * m; i++) V[i] = (i % (m + 1) == 0) ? 1 : 0;
  for (PetscInt sweep = 0; sweep < FOCK_NEWTON_MAXIT; sweep++) {
    PetscReal off = 0, all = 0;
    for (PetscInt i = 0; i < m * m; i++) {
      all += A[i] * A[i];
      if (i % (m + 1)) off += A[i] * A[i];
    }
    if (off <= PetscSqr(PETSC_MACHINE_EPSILON) * all) return;
    for (PetscInt p = 0; p < m; p++)
      for (PetscInt q = p + 1; q < m; q++) {
        PetscReal apq = A[p * m + q], theta, t, c, sn;
        if (apq == 0) continue;
        theta = (A[q * m + q] - A[p * m + p]) / (2 * apq);
        t     = (theta >= 0 ? 1 : -1) / (PetscAbsReal(theta) + PetscSqrtReal(theta * theta + 1));
        c     = 1 / PetscSqrtReal(t * t + 1);
        sn    = t * c;
        for (PetscInt k = 0; k < m; k++) { /* A <- A J, V <- V J */
          PetscReal akp = A[k * m + p], akq = A[k * m + q], vkp = V[k * m + p], vkq = V[k * m + q];
          A[k * m + p] = c * akp - sn * akq;
          A[k * m + q] = sn * akp + c * akq;
          V[k * m + p] = c * vkp - sn * vkq;
          V[k * m + q] = sn * vkp + c * vkq;
        }
        for (PetscInt k = 0; k < m; k++) { /* A <- Jᵀ A */
          PetscReal apk = A[p * m + k], aqk = A[q * m + k];
          A[p * m + k] = c * apk - sn * aqk;
          A[q * m + k] = sn * apk + c * aqk;
        }
      }
  }
}

/* Ground state of the harmonic network with springs Keff: the variances C_i = ⟨δx_i²⟩ and
 * P_i = ⟨p_i²⟩, from A = M^-½ Keff M^-½ = V diag(a) Vᵀ: C = (ħ/2) M^-½ A^-½ M^-½, P = (ħ/2) M^½ A^½ M^½.
 * PETSC_FALSE if Keff is not positive definite. A, V: n x n workspace. */
static PetscBool HarmonicWidths(const QepQhoNumeric *h, const PetscReal Keff[], PetscReal A[], PetscReal V[], PetscReal C[], PetscReal P[])
{
  const PetscInt n = h->n;

  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) A[i * n + j] = Keff[i * n + j] / PetscSqrtReal(h->mass[i] * h->mass[j]);
  JacobiEigen(n, A, V);
  for (PetscInt k = 0; k < n; k++)
    if (!(A[k * n + k] > 0)) return PETSC_FALSE;
  for (PetscInt i = 0; i < n; i++) {
    PetscReal c = 0, p = 0;
    for (PetscInt k = 0; k < n; k++) {
      c += V[i * n + k] * V[i * n + k] / PetscSqrtReal(A[k * n + k]);
      p += V[i * n + k] * V[i * n + k] * PetscSqrtReal(A[k * n + k]);
    }
    C[i] = 0.5 * h->hbar * c / h->mass[i];
    P[i] = 0.5 * h->hbar * p * h->mass[i];
  }
  return PETSC_TRUE;
}

/* ω minimising ⟨H_i⟩ over Gaussians of mode i alone centred at s: ħω/4 + kħ/(4mω) + 3λħ²/(4m²ω²) with the
 * curvature k = K_ii + 12λs², i.e. the positive root of m²ω³ − kmω − 6λħ = 0 (sqrt(k/m) when λ = 0).
 * The cubic is convex on ω > 0 and the start lies right of the root, so Newton decreases monotonically. */
static PetscReal ModeFrequency(PetscReal m, PetscReal k, PetscReal lambda, PetscReal hbar)
{
  PetscReal w;

  if (lambda == 0) return PetscSqrtReal(k / m);
  w = PetscSqrtReal(PetscMax(k, 0) / m) + PetscCbrtReal(6 * lambda * hbar / (m * m));
  for (PetscInt it = 0; it < FOCK_NEWTON_MAXIT; it++) {
    PetscReal f = m * m * w * w * w - k * m * w - 6 * lambda * hbar, fp = 3 * m * m * w * w - k * m, next = w - f / fp;
    if (!(next < w)) break; /* converged to rounding */
    w = next;
  }
  return w;
}

/* Harmonic modes of a coupled network get the frequency of the Gaussian ground state's one-mode
 * reduced density matrix, ω_i = sqrt(P_i/C_i)/m_i: its eigenvectors are exactly the Fock states of that
 * frequency, so they are the best single-mode basis (for λ = 0 the truncation error then falls about
 * 5x faster per level than with sqrt(K_ii/m_i) on a strongly coupled chain). The Gaussian is that of the
 * springs K with every diagonal entry replaced by the independent-mode stiffness m_i ω_i² (= K_ii for a
 * harmonic mode). Quartic modes keep their independent-mode frequency (as good as any Gaussian choice
 * in tests, and never worse); nothing changes when that matrix is not positive definite.
 * Keff, A, V, C, P: n x n, n x n, n x n, n, n of workspace. */
static void NaturalFrequencies(const QepQhoNumeric *h, const PetscReal K[], PetscReal omega[], PetscReal Keff[], PetscReal A[], PetscReal V[], PetscReal C[], PetscReal P[])
{
  const PetscInt n = h->n;

  for (PetscInt i = 0; i < n * n; i++) Keff[i] = K[i];
  for (PetscInt i = 0; i < n; i++) Keff[i * n + i] = h->mass[i] * omega[i] * omega[i];
  if (!HarmonicWidths(h, Keff, A, V, C, P)) return;
  for (PetscInt i = 0; i < n; i++)
    if (h->quartic[i] == 0) omega[i] = PetscSqrtReal(P[i] / C[i]) / h->mass[i];
}

/* One-mode operator of mode i in physical units: p²/2m plus the polynomial in q = x − s collecting the
 * mode's own terms and the linear parts of its couplings, (K s − b)_i q + (½K_ii) q² + λ (s + q)⁴ − const. */
static void OneBodyTable(const QepQhoFock f, const QepQhoNumeric *h, PetscInt i, PetscReal ks, PetscReal tab[])
{
  const PetscReal s = f->centre[i], l = f->len[i], lam = h->quartic[i];
  const PetscReal c[FOCK_POWER + 1] = {0, ks - h->force[i] + 4 * lam * s * s * s, 0.5 * h->kval[i] + 6 * lam * s * s, 4 * lam * s, lam};
  const PetscReal kinetic = -0.25 * h->hbar * f->omega[i]; /* p²/2m = −(ħω/4)(a† − a)² */

  for (PetscInt e = 0; e < f->d * FOCK_WIDTH; e++) {
    PetscReal v = kinetic * f->op[OP_PP][e], lk = 1;
    for (PetscInt k = 1; k <= FOCK_POWER; k++) {
      lk *= l;
      v += c[k] * lk * f->op[OP_Q1 + k - 1][e];
    }
    tab[e] = v;
  }
}

/* Centre, frequencies, lengths, one-mode tables and the constant shift for the numbers in h. Every
 * rank computes the same numbers (replicated, deterministic, O(n³) for the n modes). */
static PetscErrorCode ComputeBasis(QepQhoFock f, const QepQhoNumeric *h)
{
  const PetscInt n = h->n;
  PetscReal     *K, *Keff, *A, *V, *v1, *v2, *v3;

  PetscFunctionBegin;
  PetscCall(PetscMalloc7(n * n, &K, n * n, &Keff, n * n, &A, n * n, &V, n, &v1, n, &v2, n, &v3));
  DenseSprings(h, K);
  PetscCall(CheckBounded(f->comm, h, K, A));
  ClassicalCentre(h, K, f->centre, A, v1, v2, v3);
  for (PetscInt i = 0; i < n; i++) f->omega[i] = ModeFrequency(h->mass[i], h->kval[i] + 12 * h->quartic[i] * f->centre[i] * f->centre[i], h->quartic[i], h->hbar);
  NaturalFrequencies(h, K, f->omega, Keff, A, V, v1, v2);
  f->shift = h->constant + ClassicalPotential(h, K, f->centre, NULL);
  for (PetscInt i = 0; i < n; i++) {
    PetscReal ks = 0;
    PetscCheck(f->omega[i] > 0 && !PetscIsInfOrNanReal(f->omega[i]), f->comm, PETSC_ERR_FP, "No valid Fock basis frequency for mode %" PetscInt_FMT, i);
    f->len[i] = PetscSqrtReal(h->hbar / (2 * h->mass[i] * f->omega[i]));
    for (PetscInt j = 0; j < n; j++) ks += K[i * n + j] * f->centre[j];
    OneBodyTable(f, h, i, ks, f->onebody + i * f->d * FOCK_WIDTH);
  }
  PetscCall(PetscFree7(K, Keff, A, V, v1, v2, v3));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------- structure ------- */

static int CompareSteps(const void *a, const void *b)
{
  const FockStep *x = (const FockStep *)a, *y = (const FockStep *)b;
  if (x->delta != y->delta) return x->delta < y->delta ? -1 : 1;
  for (int k = 0; k < 2; k++) {
    if (x->mode[k] != y->mode[k]) return x->mode[k] < y->mode[k] ? -1 : 1;
    if (x->off[k] != y->off[k]) return x->off[k] < y->off[k] ? -1 : 1;
  }
  return 0;
}

/* Entries per row of the step list (before the boundary drops some): see BuildSteps. */
static PetscInt StepCount(QepQhoFock f, PetscBool moments)
{
  PetscInt cnt = 1 + 4 * (f->nk - f->n);
  for (PetscInt i = 0; i < f->n; i++) cnt += 2 * PetscMin(f->d - 1, moments || f->anharmonic[i] ? FOCK_POWER : FOCK_HARMONIC_BAND);
  return cnt;
}

/* The kinds of entries of a row, sorted by column offset: the diagonal, every mode's offsets
 * 1 ≤ |o| ≤ band(i), and the four (±1, ±1) moves of every coupling. Two steps with equal delta are
 * never both valid in one row (a column fixes the levels), so a row visits valid steps in strictly
 * ascending column order. */
static PetscErrorCode BuildSteps(QepQhoFock f, PetscBool moments, PetscInt *nsteps, FockStep **steps)
{
  const PetscInt cnt = StepCount(f, moments);
  PetscInt       t   = 0, *band;
  FockStep      *st;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(f->n, &band));
  for (PetscInt i = 0; i < f->n; i++) band[i] = PetscMin(f->d - 1, moments || f->anharmonic[i] ? FOCK_POWER : FOCK_HARMONIC_BAND);
  PetscCall(PetscMalloc1(cnt, &st));
  st[t++] = (FockStep){0, {-1, -1}, {0, 0}, -1};
  for (PetscInt i = 0; i < f->n; i++)
    for (PetscInt o = -band[i]; o <= band[i]; o++)
      if (o) st[t++] = (FockStep){o * f->stride[i], {i, -1}, {o, 0}, -1};
  for (PetscInt e = f->n; e < f->nk; e++)
    for (PetscInt a = -1; a <= 1; a += 2)
      for (PetscInt b = -1; b <= 1; b += 2) st[t++] = (FockStep){a * f->stride[f->ki[e]] + b * f->stride[f->kj[e]], {f->ki[e], f->kj[e]}, {a, b}, e};
  qsort(st, (size_t)cnt, sizeof(FockStep), CompareSteps);
  PetscCall(PetscFree(band));
  *nsteps = cnt;
  *steps  = st;
  PetscFunctionReturn(0);
}

static inline PetscBool StepValid(const FockStep *st, PetscInt d, const PetscInt lv[])
{
  for (int k = 0; k < 2; k++)
    if (st->mode[k] >= 0) {
      PetscInt to = lv[st->mode[k]] + st->off[k];
      if (to < 0 || to >= d) return PETSC_FALSE;
    }
  return PETSC_TRUE;
}

static void LevelsOf(PetscInt s, PetscInt n, PetscInt d, PetscInt lv[])
{
  for (PetscInt i = 0; i < n; i++, s /= d) lv[i] = s % d;
}

static inline void NextLevels(PetscInt n, PetscInt d, PetscInt lv[])
{
  for (PetscInt i = 0; i < n && ++lv[i] == d; i++) lv[i] = 0;
}

/* d^n must be indexable by PetscInt and the matrix, vectors and eigensolver basis must fit (checked
 * in floating point before any index is formed). */
static PetscErrorCode CheckDimension(QepQhoFock f)
{
  const PetscLogDouble states = PetscPowReal((PetscReal)f->d, (PetscReal)f->n), tables = (PetscLogDouble)(FOCK_NOPS + f->n) * f->d * FOCK_WIDTH;
  const PetscInt       row    = StepCount(f, PETSC_TRUE);
  PetscMPIInt          size;
  PetscLogDouble       local;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(f->comm, &size));
  local = states / size;
  PetscCheck(states < (PetscLogDouble)PETSC_MAX_INT && local * row < (PetscLogDouble)PETSC_MAX_INT && tables < (PetscLogDouble)PETSC_MAX_INT, f->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Truncated Fock space too large: %" PetscInt_FMT " modes x %" PetscInt_FMT " levels is %.4g states (%.4g stored entries per rank), more than this build's PetscInt can index (%.4g). "
             "Use fewer levels, more ranks, or the exact Gaussian solver for a harmonic network",
             f->n, f->d, (double)states, (double)(local * row), (double)PETSC_MAX_INT);
  PetscCall(QepCheckMemory(f->comm, local * (row * (2 * sizeof(PetscInt) + sizeof(PetscScalar)) + FOCK_EPS_VECTORS * sizeof(PetscScalar)) + tables * sizeof(PetscReal),
                           "the truncated Fock-space Hamiltonian and its eigensolver"));
  PetscFunctionReturn(0);
}

static PetscErrorCode DestroyCSR(void *ctx)
{
  FockCSR *csr = (FockCSR *)ctx;

  PetscFunctionBegin;
  PetscCall(PetscFree2(csr->di, csr->oi));
  PetscCall(PetscFree4(csr->dj, csr->da, csr->oj, csr->oa));
  PetscCall(PetscFree(csr));
  PetscFunctionReturn(0);
}

static PetscErrorCode AttachCSR(QepQhoFock f)
{
  FockCSR       *csr;
  PetscContainer container;

  PetscFunctionBegin;
  PetscCall(PetscNew(&csr));
  *csr = (FockCSR){f->di, f->dj, f->oi, f->oj, f->da, f->oa};
  PetscCall(PetscContainerCreate(f->comm, &container));
  PetscCall(PetscContainerSetPointer(container, csr));
  PetscCall(PetscContainerSetUserDestroy(container, DestroyCSR));
  PetscCall(PetscObjectCompose((PetscObject)f->H, "QepQhoFockCSR", (PetscObject)container));
  PetscCall(PetscContainerDestroy(&container));
  PetscFunctionReturn(0);
}

/* CSR of the local rows: valid steps in ascending column order, split into the diagonal block (local
 * columns) and the off-diagonal block (global columns), with the step of every entry. */
static PetscErrorCode AllocateCSR(QepQhoFock f)
{
  const PetscInt nlocal = f->rend - f->rstart;
  PetscInt      *lv;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(f->n, &lv));
  PetscCall(PetscCalloc2(nlocal + 1, &f->di, nlocal + 1, &f->oi));
  LevelsOf(f->rstart, f->n, f->d, lv);
  for (PetscInt r = f->rstart; r < f->rend; r++, NextLevels(f->n, f->d, lv)) {
    PetscInt nd = 0, no = 0;
    for (PetscInt t = 0; t < f->nhsteps; t++) {
      if (!StepValid(&f->hsteps[t], f->d, lv)) continue;
      if (r + f->hsteps[t].delta >= f->rstart && r + f->hsteps[t].delta < f->rend) nd++;
      else no++;
    }
    f->di[r - f->rstart + 1] = f->di[r - f->rstart] + nd;
    f->oi[r - f->rstart + 1] = f->oi[r - f->rstart] + no;
  }
  PetscCall(PetscMalloc4(f->di[nlocal], &f->dj, f->di[nlocal], &f->da, f->oi[nlocal] + 1, &f->oj, f->oi[nlocal] + 1, &f->oa));
  PetscCall(PetscMalloc2(f->di[nlocal], &f->dstep, f->oi[nlocal] + 1, &f->ostep));
  LevelsOf(f->rstart, f->n, f->d, lv);
  for (PetscInt r = f->rstart, pd = 0, po = 0; r < f->rend; r++, NextLevels(f->n, f->d, lv)) {
    for (PetscInt t = 0; t < f->nhsteps; t++) {
      PetscInt c = r + f->hsteps[t].delta;
      if (!StepValid(&f->hsteps[t], f->d, lv)) continue;
      if (c >= f->rstart && c < f->rend) {
        f->dj[pd]      = c - f->rstart;
        f->dstep[pd++] = t;
      } else {
        f->oj[po]      = c;
        f->ostep[po++] = t;
      }
    }
  }
  PetscCall(PetscArrayzero(f->da, f->di[nlocal]));
  PetscCall(PetscArrayzero(f->oa, f->oi[nlocal] + 1));
  PetscCall(PetscFree(lv));
  PetscFunctionReturn(0);
}

static PetscErrorCode CreateMatrix(QepQhoFock f)
{
  const PetscInt nlocal = f->rend - f->rstart;
  PetscMPIInt    size;

  PetscFunctionBegin;
  PetscCall(AllocateCSR(f));
  PetscCallMPI(MPI_Comm_size(f->comm, &size));
  if (size == 1) PetscCall(MatCreateSeqAIJWithArrays(f->comm, nlocal, nlocal, f->di, f->dj, f->da, &f->H));
  else PetscCall(MatCreateMPIAIJWithSplitArrays(f->comm, nlocal, nlocal, f->N, f->N, f->di, f->dj, f->da, f->oi, f->oj, f->oa, &f->H));
  PetscCall(AttachCSR(f));
  PetscCall(MatSetOption(f->H, MAT_NEW_NONZERO_LOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(f->H, MAT_HERMITIAN, PETSC_TRUE));
  PetscCall(MatSetOption(f->H, MAT_SYMMETRIC, PETSC_TRUE)); /* real symmetric in both builds */
  PetscFunctionReturn(0);
}

/* The moments read ψ at every column of every moment step; the off-rank ones (they lie within
 * max|delta| of the owned range) are gathered once per solve by a scatter built here. */
static PetscErrorCode CreateGhostScatter(QepQhoFock f)
{
  PetscInt maxdelta = 0, lo, hi, *lv;
  PetscBT  mark;
  IS       is;
  Vec      psi;

  PetscFunctionBegin;
  for (PetscInt t = 0; t < f->nmsteps; t++) maxdelta = PetscMax(maxdelta, PetscAbsInt(f->msteps[t].delta));
  lo = PetscMax(0, f->rstart - maxdelta);
  hi = PetscMin(f->N, f->rend + maxdelta);
  PetscCall(PetscBTCreate(hi - lo, &mark));
  PetscCall(PetscMalloc1(f->n, &lv));
  LevelsOf(f->rstart, f->n, f->d, lv);
  for (PetscInt r = f->rstart; r < f->rend; r++, NextLevels(f->n, f->d, lv))
    for (PetscInt t = 0; t < f->nmsteps; t++) {
      PetscInt c = r + f->msteps[t].delta;
      if ((c < f->rstart || c >= f->rend) && StepValid(&f->msteps[t], f->d, lv)) PetscCall(PetscBTSet(mark, c - lo));
    }
  f->nghost = 0;
  for (PetscInt c = lo; c < hi; c++) f->nghost += PetscBTLookup(mark, c - lo) ? 1 : 0;
  PetscCall(PetscMalloc1(f->nghost, &f->ghost));
  for (PetscInt c = lo, g = 0; c < hi; c++)
    if (PetscBTLookup(mark, c - lo)) f->ghost[g++] = c;
  PetscCall(PetscBTDestroy(&mark));
  PetscCall(PetscFree(lv));
  PetscCall(ISCreateGeneral(PETSC_COMM_SELF, f->nghost, f->ghost, PETSC_USE_POINTER, &is));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, f->nghost, &f->ghostvec));
  PetscCall(MatCreateVecs(f->H, &psi, NULL));
  PetscCall(VecScatterCreate(psi, is, f->ghostvec, NULL, &f->gather));
  PetscCall(VecDestroy(&psi));
  PetscCall(ISDestroy(&is));
  PetscFunctionReturn(0);
}

static PetscErrorCode DestroyStructure(QepQhoFock f)
{
  PetscFunctionBegin;
  PetscCall(MatDestroy(&f->H)); /* frees the CSR arrays when the last reference goes */
  PetscCall(PetscFree2(f->dstep, f->ostep));
  PetscCall(PetscFree(f->hsteps));
  PetscCall(PetscFree(f->msteps));
  PetscCall(PetscFree(f->ghost));
  PetscCall(VecDestroy(&f->ghostvec));
  PetscCall(VecScatterDestroy(&f->gather));
  PetscCall(PetscFree3(f->ki, f->kj, f->anharmonic));
  PetscCall(PetscFree(f->stride));
  PetscCall(PetscFree4(f->centre, f->omega, f->len, f->onebody));
  f->setup = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Does the structure built for the last numbers serve h? */
static PetscBool StructureMatches(QepQhoFock f, const QepQhoNumeric *h)
{
  if (!f->setup || f->n != h->n || f->nk != h->nk) return PETSC_FALSE;
  for (PetscInt e = 0; e < h->nk; e++)
    if (f->ki[e] != h->ki[e] || f->kj[e] != h->kj[e]) return PETSC_FALSE;
  for (PetscInt i = 0; i < h->n; i++)
    if (f->anharmonic[i] != (h->quartic[i] > 0 ? PETSC_TRUE : PETSC_FALSE)) return PETSC_FALSE;
  return PETSC_TRUE;
}

static PetscErrorCode CheckDistinctCouplings(QepQhoFock f)
{
  PetscInt m = f->nk - f->n, *key;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(m, &key));
  for (PetscInt e = 0; e < m; e++) key[e] = f->ki[f->n + e] * f->n + f->kj[f->n + e];
  PetscCall(PetscSortInt(m, key));
  for (PetscInt e = 1; e < m; e++)
    PetscCheck(key[e] != key[e - 1], f->comm, PETSC_ERR_ARG_WRONG, "The pattern of K stores the coupling (%" PetscInt_FMT ",%" PetscInt_FMT ") twice", key[e] / f->n, key[e] % f->n);
  PetscCall(PetscFree(key));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetUpStructure(QepQhoFock f, const QepQhoNumeric *h)
{
  PetscInt nlocal = PETSC_DECIDE, N;

  PetscFunctionBegin;
  PetscCall(DestroyStructure(f));
  f->n  = h->n;
  f->nk = h->nk;
  PetscCall(PetscMalloc3(h->nk, &f->ki, h->nk, &f->kj, h->n, &f->anharmonic));
  PetscCall(PetscArraycpy(f->ki, h->ki, h->nk));
  PetscCall(PetscArraycpy(f->kj, h->kj, h->nk));
  for (PetscInt i = 0; i < h->n; i++) f->anharmonic[i] = h->quartic[i] > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(CheckDimension(f)); /* first: it bounds n, so n² below cannot overflow */
  PetscCall(CheckDistinctCouplings(f));
  PetscCall(PetscMalloc4(h->n, &f->centre, h->n, &f->omega, h->n, &f->len, h->n * f->d * FOCK_WIDTH, &f->onebody));
  if (!f->op[0]) PetscCall(BuildLadderTables(f->d, f->op));
  PetscCall(PetscMalloc1(h->n, &f->stride));
  for (PetscInt i = 0; i < h->n; i++) f->stride[i] = i ? f->stride[i - 1] * f->d : 1;
  f->N = f->stride[h->n - 1] * f->d;
  N    = f->N;
  PetscCall(PetscSplitOwnership(f->comm, &nlocal, &N));
  PetscCallMPI(MPI_Scan(&nlocal, &f->rend, 1, MPIU_INT, MPI_SUM, f->comm));
  f->rstart = f->rend - nlocal;
  PetscCall(BuildSteps(f, PETSC_FALSE, &f->nhsteps, &f->hsteps));
  PetscCall(BuildSteps(f, PETSC_TRUE, &f->nmsteps, &f->msteps));
  PetscCall(CreateMatrix(f));
  PetscCall(CreateGhostScatter(f));
  if (f->psi) {
    PetscInt size;
    PetscCall(VecGetSize(f->psi, &size));
    if (size != f->N) {
      PetscCall(VecDestroy(&f->psi));
      f->have_psi = PETSC_FALSE;
    }
  }
  f->setup = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------ values --------- */

static inline PetscReal StepValue(const QepQhoFock f, const QepQhoNumeric *h, const FockStep *st, const PetscInt lv[])
{
  const PetscInt W = f->d * FOCK_WIDTH;
  if (st->mode[0] < 0) {
    PetscReal v = 0;
    for (PetscInt i = 0; i < f->n; i++) v += Table(f->onebody + i * W, lv[i], 0);
    return v;
  }
  if (st->mode[1] < 0) return Table(f->onebody + st->mode[0] * W, lv[st->mode[0]], st->off[0]);
  return h->kval[st->kidx] * f->len[st->mode[0]] * f->len[st->mode[1]] * Table(f->op[OP_Q1], lv[st->mode[0]], st->off[0]) * Table(f->op[OP_Q1], lv[st->mode[1]], st->off[1]);
}

static PetscErrorCode WriteValues(QepQhoFock f, const QepQhoNumeric *h)
{
  PetscInt *lv;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(f->n, &lv));
  LevelsOf(f->rstart, f->n, f->d, lv);
  for (PetscInt r = 0; r < f->rend - f->rstart; r++, NextLevels(f->n, f->d, lv)) {
    for (PetscInt e = f->di[r]; e < f->di[r + 1]; e++) f->da[e] = StepValue(f, h, &f->hsteps[f->dstep[e]], lv);
    for (PetscInt e = f->oi[r]; e < f->oi[r + 1]; e++) f->oa[e] = StepValue(f, h, &f->hsteps[f->ostep[e]], lv);
  }
  PetscCall(PetscFree(lv));
  /* an (empty) assembly marks H as changed, so the eigensolver never reuses stale data */
  PetscCall(MatAssemblyBegin(f->H, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(f->H, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

/* --------------------------------------------------------------------------- eigensolve -------- */

/* Start vector: the previous ground state, or cold |0...0> (the product of the basis Gaussians); a solve
 * that checks the gap adds a small rank-independent random part so that every symmetry sector is
 * present (the first excited state may lie in another one). */
static PetscErrorCode StartVector(QepQhoFock f, PetscReal noise, Vec v)
{
  PetscScalar *a;

  PetscFunctionBegin;
  if (f->have_psi) PetscCall(VecCopy(f->psi, v));
  else PetscCall(VecSet(v, 0));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt s = f->rstart; s < f->rend; s++) a[s - f->rstart] += noise * (2 * QepRandomUniform(FOCK_SEED, 0, s) - 1) + (!f->have_psi && s == 0 ? 1 : 0);
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckConverged(QepQhoFock f, PetscInt nev)
{
  PetscInt           nconv, its, maxit;
  PetscReal          tol;
  EPSConvergedReason reason;

  PetscFunctionBegin;
  PetscCall(EPSGetConverged(f->eps, &nconv));
  PetscCall(EPSGetConvergedReason(f->eps, &reason));
  PetscCall(EPSGetIterationNumber(f->eps, &its));
  PetscCall(EPSGetTolerances(f->eps, &tol, &maxit));
  PetscCheck(nconv >= nev, f->comm, PETSC_ERR_NOT_CONVERGED,
             "Fock-space ground-state solve (%" PetscInt_FMT " modes x %" PetscInt_FMT " levels) did not converge: %" PetscInt_FMT " of %" PetscInt_FMT " eigenpairs after %" PetscInt_FMT
             " iterations (limit %" PetscInt_FMT ", tolerance %g, reason %s). Raise -fock_eps_max_it, loosen -fock_eps_tol, or enlarge -fock_eps_ncv",
             f->n, f->d, nconv, nev, its, maxit, (double)tol, EPSConvergedReasons[reason]);
  PetscFunctionReturn(0);
}

/* The ground state into f->psi. A cold solve, and every gap_every-th warm one, also computes the second
 * eigenpair and fails on a degenerate ground state; other warm solves need one eigenpair from the
 * previous state (a fraction of the matrix-vector products of a cold solve: bench/bench_qho_fock.c). */
static PetscErrorCode GroundState(QepQhoFock f, PetscReal *e0)
{
  const PetscBool check = !f->have_psi || (f->gap_every > 0 && f->since_gap + 1 >= f->gap_every);
  const PetscInt  nev   = check ? PetscMin(2, f->N) : 1;
  PetscScalar    l0, l1;
  PetscReal      gap;
  PetscInt       curnev, ncv, mpd;
  Vec            start;

  PetscFunctionBegin;
  PetscCall(EPSSetOperators(f->eps, f->H, NULL));
  PetscCall(EPSGetDimensions(f->eps, &curnev, &ncv, &mpd));
  if (!f->user_ncv) ncv = PetscMin(f->N, check ? FOCK_NCV : FOCK_NCV_WARM);
  if (curnev != nev || !f->user_ncv) PetscCall(EPSSetDimensions(f->eps, nev, ncv, mpd));
  PetscCall(MatCreateVecs(f->H, &start, NULL));
  PetscCall(StartVector(f, check ? FOCK_START_NOISE : 0, start));
  PetscCall(EPSSetInitialSpace(f->eps, 1, &start)); /* must be set again before every EPSSolve */
  PetscCall(EPSSolve(f->eps));
  PetscCall(VecDestroy(&start));
  PetscCall(CheckConverged(f, nev));
  if (!f->psi) PetscCall(MatCreateVecs(f->H, &f->psi, NULL));
  f->have_psi = PETSC_FALSE;
  PetscCall(EPSGetEigenpair(f->eps, 0, &l0, NULL, f->psi, NULL));
  PetscCall(VecNormalize(f->psi, NULL));
  *e0 = PetscRealPart(l0);
  if (nev > 1) {
    PetscCall(EPSGetEigenpair(f->eps, 1, &l1, NULL, NULL, NULL));
    gap = PetscRealPart(l1) - *e0;
    PetscCheck(gap >= f->gap_tol * PetscMax(1.0, PetscAbsReal(*e0)), f->comm, PETSC_ERR_CONV_FAILED,
               "Degenerate ground state in the truncated Fock space: E1 - E0 = %g is below %g. The network's ground state is not unique (e.g. a "
               "symmetric double well), so its moments and the QEP gradient are undefined. Break the symmetry (a force, stiffer springs) or lower -fock_gap_tol if the gap is real",
               (double)gap, (double)(f->gap_tol * PetscMax(1.0, PetscAbsReal(*e0))));
  }
  f->since_gap = check ? 0 : f->since_gap + 1;
  f->have_psi  = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------ moments -------- */

/* ψ_c from the owned part or the gathered ghosts (binary search; the ghost set holds every column a
 * moment step reaches off this rank). */
static inline PetscScalar PsiAt(const QepQhoFock f, const PetscScalar *own, const PetscScalar *ghost, PetscInt c)
{
  PetscInt lo = 0, hi = f->nghost - 1;

  if (c >= f->rstart && c < f->rend) return own[c - f->rstart];
  while (lo < hi) {
    PetscInt mid = lo + (hi - lo) / 2;
    if (f->ghost[mid] < c) lo = mid + 1;
    else hi = mid;
  }
  return ghost[lo];
}

/* acc layout: [0] ⟨ψ|ψ⟩, [1 + i*FOCK_NOPS + op] ⟨P O_op P⟩ of mode i, [1 + n*FOCK_NOPS + e - n] ⟨Q_i Q_j⟩
 * of coupling e; every entry is a sum over the owned rows of Re(ψ_r* O_rc ψ_c). */
static PetscErrorCode AccumulateMoments(QepQhoFock f, PetscReal acc[])
{
  const PetscInt     nops = f->n * FOCK_NOPS;
  const PetscScalar *own, *ghost;
  PetscInt          *lv;

  PetscFunctionBegin;
  PetscCall(VecScatterBegin(f->gather, f->psi, f->ghostvec, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(f->gather, f->psi, f->ghostvec, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(f->psi, &own));
  PetscCall(VecGetArrayRead(f->ghostvec, &ghost));
  PetscCall(PetscMalloc1(f->n, &lv));
  LevelsOf(f->rstart, f->n, f->d, lv);
  for (PetscInt r = f->rstart; r < f->rend; r++, NextLevels(f->n, f->d, lv)) {
    const PetscScalar pr = PetscConj(own[r - f->rstart]);
    for (PetscInt t = 0; t < f->nmsteps; t++) {
      const FockStep *st = &f->msteps[t];
      PetscReal       w;
      if (!StepValid(st, f->d, lv)) continue;
      w = PetscRealPart(pr * PsiAt(f, own, ghost, r + st->delta));
      if (st->mode[0] < 0) {
        acc[0] += w;
        for (PetscInt i = 0; i < f->n; i++)
          for (PetscInt k = 0; k < FOCK_NOPS; k++) acc[1 + i * FOCK_NOPS + k] += w * Table(f->op[k], lv[i], 0);
      } else if (st->mode[1] < 0) {
        for (PetscInt k = 0; k < FOCK_NOPS; k++) acc[1 + st->mode[0] * FOCK_NOPS + k] += w * Table(f->op[k], lv[st->mode[0]], st->off[0]);
      } else acc[1 + nops + st->kidx - f->n] += w * Table(f->op[OP_Q1], lv[st->mode[0]], st->off[0]) * Table(f->op[OP_Q1], lv[st->mode[1]], st->off[1]);
    }
  }
  PetscCall(PetscFree(lv));
  PetscCall(VecRestoreArrayRead(f->ghostvec, &ghost));
  PetscCall(VecRestoreArrayRead(f->psi, &own));
  PetscFunctionReturn(0);
}

/* Physical moments from the dimensionless ones: x = s + ℓQ, p² = −(ħmω/2)(a† − a)². */
static PetscErrorCode ComputeMoments(QepQhoFock f, const QepQhoNumeric *h, QepQhoMoments *mom)
{
  const PetscInt nacc = 1 + f->n * FOCK_NOPS + f->nk - f->n;
  PetscReal     *loc, *acc;

  PetscFunctionBegin;
  PetscCall(PetscCalloc2(nacc, &loc, nacc, &acc));
  PetscCall(AccumulateMoments(f, loc));
  PetscCall(MPIU_Allreduce(loc, acc, nacc, MPIU_REAL, MPIU_SUM, f->comm));
  for (PetscInt a = 1; a < nacc; a++) acc[a] /= acc[0];
  for (PetscInt i = 0; i < f->n; i++) {
    const PetscReal *q = acc + 1 + i * FOCK_NOPS, s = f->centre[i], l = f->len[i];
    mom->mean[i] = s + l * q[OP_Q1];
    mom->cov[i]  = l * l * (q[OP_Q2] - q[OP_Q1] * q[OP_Q1]);
    mom->pp[i]   = -0.5 * h->hbar * h->mass[i] * f->omega[i] * q[OP_PP];
    mom->x4[i]   = PetscPowRealInt(s, 4) + 4 * PetscPowRealInt(s, 3) * l * q[OP_Q1] + 6 * s * s * l * l * q[OP_Q2] + 4 * s * PetscPowRealInt(l, 3) * q[OP_Q3] + PetscPowRealInt(l, 4) * q[OP_Q4];
  }
  for (PetscInt e = f->n; e < f->nk; e++) {
    const PetscInt  i = f->ki[e], j = f->kj[e];
    const PetscReal qi = acc[1 + i * FOCK_NOPS + OP_Q1], qj = acc[1 + j * FOCK_NOPS + OP_Q1];
    mom->cov[e] = f->len[i] * f->len[j] * (acc[1 + f->n * FOCK_NOPS + e - f->n] - qi * qj);
  }
  PetscCall(PetscFree2(loc, acc));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------- public (intern) -- */

PetscErrorCode QepQhoFockCreate(MPI_Comm comm, PetscInt levels, QepQhoFock *fock)
{
  QepQhoFock f;

  PetscFunctionBegin;
  PetscCheck(levels >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "The Fock solver needs at least 2 levels per mode, got %" PetscInt_FMT, levels);
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&f));
  f->comm    = comm;
  f->d       = levels;
  f->gap_tol   = FOCK_DEFAULT_GAP;
  f->gap_every = FOCK_GAP_EVERY;
  PetscCall(EPSCreate(comm, &f->eps));
  PetscCall(EPSSetOptionsPrefix(f->eps, "fock_"));
  PetscCall(EPSSetType(f->eps, EPSKRYLOVSCHUR));
  PetscCall(EPSSetProblemType(f->eps, EPS_HEP));
  PetscCall(EPSSetWhichEigenpairs(f->eps, EPS_SMALLEST_REAL));
  PetscCall(EPSSetTolerances(f->eps, FOCK_DEFAULT_TOL, FOCK_MAXIT));
  PetscCall(EPSSetDimensions(f->eps, 2, PETSC_DEFAULT, PETSC_DEFAULT));
  PetscOptionsBegin(comm, "fock_", "Truncated Fock-space oscillator solver", "QepQhoFock");
  PetscCall(PetscOptionsReal("-gap_tol", "Degenerate if E1-E0 < gap_tol*max(1,|E0|) (E0 without the classical energy)", "QepQhoFockSolve", f->gap_tol, &f->gap_tol, NULL));
  PetscCall(PetscOptionsInt("-gap_every", "Also check the gap on every k-th solve from a previous state (1: always; 0: only on cold solves)", "QepQhoFockSolve", f->gap_every, &f->gap_every, NULL));
  PetscOptionsEnd();
  PetscCheck(f->gap_every >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fock_gap_every must be >= 0, got %" PetscInt_FMT, f->gap_every);
  PetscCheck(f->gap_tol >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fock_gap_tol must be >= 0, got %g", (double)f->gap_tol);
  PetscCall(EPSSetFromOptions(f->eps));
  PetscCall(PetscOptionsHasName(NULL, "fock_", "-eps_ncv", &f->user_ncv));
  *fock = f;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoFockSolve(QepQhoFock f, const QepQhoNumeric *h, QepQhoMoments *mom)
{
  PetscReal e0 = 0;

  PetscFunctionBegin;
  PetscCall(CheckNumeric(f->comm, h));
  PetscCall(PetscLogEventBegin(QEP_QhoFockSetUp, 0, 0, 0, 0));
  if (!StructureMatches(f, h)) PetscCall(SetUpStructure(f, h));
  PetscCall(ComputeBasis(f, h));
  PetscCall(WriteValues(f, h));
  PetscCall(PetscLogEventEnd(QEP_QhoFockSetUp, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(QEP_QhoFockSolve, 0, 0, 0, 0));
  PetscCall(GroundState(f, &e0));
  mom->energy = e0 + f->shift;
  PetscCall(ComputeMoments(f, h, mom));
  PetscCall(PetscLogEventEnd(QEP_QhoFockSolve, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoFockDestroy(QepQhoFock *fock)
{
  PetscFunctionBegin;
  if (!*fock) PetscFunctionReturn(0);
  PetscCall(DestroyStructure(*fock));
  PetscCall(EPSDestroy(&(*fock)->eps));
  PetscCall(VecDestroy(&(*fock)->psi));
  for (PetscInt k = 0; k < FOCK_NOPS; k++) PetscCall(PetscFree((*fock)->op[k]));
  PetscCall(PetscFree(*fock));
  PetscFunctionReturn(0);
}
