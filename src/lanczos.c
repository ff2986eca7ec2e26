/* lanczos.c — a lean Lanczos eigensolver for the lowest eigenpair of a Hermitian operator
 * (`-qep_eigensolver lanczos`, used by QepGroundSolver).
 *
 * Why: Krylov-Schur orthogonalises every new vector against its whole basis; at 2^20 states and
 * beyond that costs several matvecs per step and ~20 vectors of memory. The ground state alone needs
 * neither: the three-term recurrence (no reorthogonalisation) finds the tridiagonal T_k whose lowest
 * Ritz pair has converged in ~ the same number of matvecs, with 3-5 vectors and two vector passes
 * per step. Loss of orthogonality only duplicates eigenvalues that have already converged, so it
 * cannot spoil the lowest one before it converges.
 * The Ritz vector x = sum_j s_j v_j is combined from stored Lanczos vectors when they fit the memory
 * budget (the recurrence then writes each vector straight into its slot), otherwise by a second
 * pass that regenerates v_0..v_k bit for bit from the stored recurrence coefficients (no dot
 * products, so no reductions either).
 * The recurrence keeps w_j = beta_j v_j unnormalised (w_0 = v_0): the scaling by 1/beta_j is folded
 * into the coefficients of the next update, which saves a vector pass per step.
 * Ritz checks: the lowest eigenpair of T_k comes from Rayleigh-quotient iteration started at the
 * previous check's Ritz vector, accepted only when a Sturm count proves no eigenvalue of T_k lies
 * below it; otherwise (first checks, or a start that converged elsewhere) from LAPACK stevr. A check
 * is O(k), so checks are affordable even when a step is a microsecond.
 * Deflation: given a unit vector psi (a converged ground state), the recurrence runs on
 * (1 - psi psi^H) H (1 - psi psi^H) from a start orthogonal to psi; its lowest eigenpair is the
 * first excited state.
 * Invariant: the returned residual is the true ||H x - theta x|| of the returned unit vector, and
 * *converged is true only when it meets the tolerance; otherwise the caller must not use x as a
 * result (QepGroundSolver falls back to SLEPc, warm-started from x). */
#include "qepimpl.h"
#include "qepsimd.h"
#include <slepcsys.h>
#include <slepcblaslapack.h>
#include <stdlib.h>

#define LANCZOS_RESIDUAL_SLACK 10.0 /* true residual may exceed the recurrence's estimate by this much */
#define LANCZOS_SMALL_LOCAL    65536 /* below this many local entries a Ritz check costs more than a step */
#define LANCZOS_MAX_STRIDE     8     /* ... so checks are spaced by the observed convergence rate, up to this */
#define LANCZOS_RQI_MAX_IT     6     /* Rayleigh-quotient iterations before a check falls back to stevr */
#define LANCZOS_FIRST_CHECK    4     /* no converged Ritz pair before this (unless the space is invariant) */
#define LANCZOS_BISECT_REL     1e-4  /* bisection before inverse iteration narrows the Gershgorin bracket this much */

struct _n_QepLanczos {
  Vec          prev, cur, next, first; /* recurrence vectors when not storing; first = v_0 for the second pass */
  Vec          wprev, wcur, wnext;     /* the vectors of the current step: three of the above, or basis slots */
  Vec         *basis;                  /* stored Lanczos vectors (while within the budget) */
  PetscInt     nbasis, abasis;
  PetscReal   *alpha, *beta; /* beta[j] couples v_{j-1} and v_j; beta[0] = 0 */
  PetscScalar *defl;         /* psi^H (H v_j) removed at step j (deflation) */
  PetscInt     acoef;
  PetscReal   *d, *e, *w, *z, *work; /* stevr work space for T_k; z = the lowest Ritz vector s */
  PetscReal   *ry, *rty, *rlu;       /* Rayleigh-quotient iteration: iterate, T y, LU factors (3 per row) */
  PetscScalar *zs;                   /* s / ||w_j||: the coefficients of the stored w_j in x */
  const PetscScalar **rows;          /* the stored vectors' arrays while combining */
  PetscBLASInt *iwork, *isuppz;
  PetscInt      atri;
  PetscInt      zk;            /* z holds the lowest Ritz vector of T_zk (0: none this solve) */
  PetscInt      nrqi, nstevr;  /* Ritz checks of this solve by each method (for PetscInfo) */
  PetscInt      lastk;         /* steps of the previous solve: sizes the decision to store the basis */
  PetscMPIInt   size;          /* ranks sharing the vectors: one rank needs no reductions */
};

PetscErrorCode QepLanczosCreate(QepLanczos *L)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(L));
  PetscFunctionReturn(0);
}

static PetscErrorCode DropBasis(QepLanczos L)
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < L->nbasis; j++) PetscCall(VecDestroy(&L->basis[j]));
  L->nbasis = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepLanczosDestroy(QepLanczos *L)
{
  PetscFunctionBegin;
  if (!*L) PetscFunctionReturn(0);
  PetscCall(DropBasis(*L));
  PetscCall(PetscFree((*L)->basis));
  PetscCall(VecDestroy(&(*L)->prev));
  PetscCall(VecDestroy(&(*L)->cur));
  PetscCall(VecDestroy(&(*L)->next));
  PetscCall(VecDestroy(&(*L)->first));
  PetscCall(PetscFree((*L)->alpha));
  PetscCall(PetscFree((*L)->beta));
  PetscCall(PetscFree((*L)->defl));
  PetscCall(PetscFree7((*L)->d, (*L)->e, (*L)->w, (*L)->z, (*L)->work, (*L)->iwork, (*L)->isuppz));
  PetscCall(PetscFree5((*L)->zs, (*L)->ry, (*L)->rty, (*L)->rlu, (*L)->rows));
  PetscCall(PetscFree(*L));
  PetscFunctionReturn(0);
}

#define LANCZOS_ALIGN 64 /* a cache line: the shell operator reads such a source in place */

static PetscErrorCode FreeAligned(void *ptr)
{
  free(ptr);
  return 0;
}

/* A vector shaped like `like` whose array starts on a cache line (PETSc's own allocations are only
 * 16-byte aligned, which makes the shell operator stage a copy of small sources before reading
 * them); the array lives in a container composed with the vector and goes with it. */
static PetscErrorCode DuplicateAligned(Vec like, Vec *v)
{
  PetscInt       n, N;
  PetscMPIInt    size;
  MPI_Comm       comm = PetscObjectComm((PetscObject)like);
  PetscScalar   *a    = NULL;
  PetscContainer c;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(like, &n));
  PetscCall(VecGetSize(like, &N));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(!posix_memalign((void **)&a, LANCZOS_ALIGN, sizeof(PetscScalar) * (size_t)PetscMax(n, 1)), PETSC_COMM_SELF, PETSC_ERR_MEM, "Out of memory for a Lanczos vector of %" PetscInt_FMT " entries", n);
  if (size == 1) PetscCall(VecCreateSeqWithArray(comm, 1, n, a, v));
  else PetscCall(VecCreateMPIWithArray(comm, 1, n, N, a, v));
  PetscCall(PetscContainerCreate(PETSC_COMM_SELF, &c));
  PetscCall(PetscContainerSetPointer(c, a));
  PetscCall(PetscContainerSetUserDestroy(c, FreeAligned));
  PetscCall(PetscObjectCompose((PetscObject)*v, "QepLanczosArray", (PetscObject)c));
  PetscCall(PetscContainerDestroy(&c));
  PetscFunctionReturn(0);
}

/* Work vectors shaped like x (recreated when the layout changes). */
static PetscErrorCode EnsureVectors(QepLanczos L, Vec x)
{
  PetscBool same = PETSC_FALSE;

  PetscFunctionBegin;
  if (L->cur) {
    PetscInt n0, n1, N0, N1;
    PetscCall(VecGetLocalSize(L->cur, &n0));
    PetscCall(VecGetLocalSize(x, &n1));
    PetscCall(VecGetSize(L->cur, &N0));
    PetscCall(VecGetSize(x, &N1));
    same = (n0 == n1 && N0 == N1) ? PETSC_TRUE : PETSC_FALSE;
  }
  if (same) PetscFunctionReturn(0);
  PetscCall(DropBasis(L));
  PetscCall(VecDestroy(&L->prev));
  PetscCall(VecDestroy(&L->cur));
  PetscCall(VecDestroy(&L->next));
  PetscCall(VecDestroy(&L->first));
  PetscCall(DuplicateAligned(x, &L->prev));
  PetscCall(DuplicateAligned(x, &L->cur));
  PetscCall(DuplicateAligned(x, &L->next));
  PetscCall(DuplicateAligned(x, &L->first));
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)x), &L->size));
  PetscFunctionReturn(0);
}

static PetscErrorCode EnsureCoefficients(QepLanczos L, PetscInt k)
{
  PetscFunctionBegin;
  if (k > L->acoef) {
    L->acoef = PetscMax(2 * L->acoef, k + 64);
    PetscCall(PetscRealloc(sizeof(PetscReal) * (size_t)L->acoef, &L->alpha));
    PetscCall(PetscRealloc(sizeof(PetscReal) * (size_t)L->acoef, &L->beta));
    PetscCall(PetscRealloc(sizeof(PetscScalar) * (size_t)L->acoef, &L->defl));
  }
  if (k > L->atri) {
    PetscInt na = PetscMax(2 * L->atri, k + 64);
    PetscCall(PetscFree7(L->d, L->e, L->w, L->z, L->work, L->iwork, L->isuppz));
    PetscCall(PetscFree5(L->zs, L->ry, L->rty, L->rlu, L->rows));
    PetscCall(PetscMalloc5(na, &L->zs, na, &L->ry, na, &L->rty, 3 * na, &L->rlu, na, &L->rows));
    PetscCall(PetscMalloc7(na, &L->d, na, &L->e, na, &L->w, na, &L->z, 20 * na, &L->work, 10 * na, &L->iwork, 2 * na, &L->isuppz));
    L->atri = na;
    L->zk   = 0; /* z was not carried over */
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- Ritz pairs of T_k ---------- */
/* T_k: diagonal alpha[0..k-1], off-diagonal beta[1..k-1] (beta[i] couples rows i-1 and i). */

/* Lowest eigenpair by LAPACK (bisection and inverse iteration): always right, O(k) per bisection step. */
static PetscErrorCode RitzPairByStevr(QepLanczos L, PetscInt k, PetscReal *theta)
{
  PetscBLASInt n, one = 1, m = 0, lwork, liwork, info = 0;
  PetscReal    zero = 0.0, abstol = 0.0;

  PetscFunctionBegin;
  L->nstevr++;
  if (k == 1) {
    *theta  = L->alpha[0];
    L->z[0] = 1.0;
    L->zk   = 1;
    PetscFunctionReturn(0);
  }
  PetscCall(PetscBLASIntCast(k, &n));
  PetscCall(PetscBLASIntCast(20 * L->atri, &lwork));
  PetscCall(PetscBLASIntCast(10 * L->atri, &liwork));
  PetscCall(PetscArraycpy(L->d, L->alpha, k));
  PetscCall(PetscArraycpy(L->e, L->beta + 1, k - 1));
  PetscCallBLAS("LAPACKstevr", LAPACKstevr_("V", "I", &n, L->d, L->e, &zero, &zero, &one, &one, &abstol, &m, L->w, L->z, &n, L->isuppz, L->work, &lwork, L->iwork, &liwork, &info));
  PetscCheck(info == 0 && m == 1, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK stevr failed on the %" PetscInt_FMT "x%" PetscInt_FMT " Lanczos matrix (info %d)", k, k, (int)info);
  *theta = L->w[0];
  L->zk  = k;
  PetscFunctionReturn(0);
}

/* ty = T y; returns y^T T y. */
static PetscReal TridiagonalApply(PetscInt k, const PetscReal *a, const PetscReal *b, const PetscReal *y, PetscReal *ty)
{
  PetscReal q = 0;
  for (PetscInt i = 0; i < k; i++) {
    PetscReal v = a[i] * y[i];
    if (i > 0) v += b[i] * y[i - 1];
    if (i + 1 < k) v += b[i + 1] * y[i + 1];
    ty[i] = v;
    q += y[i] * v;
  }
  return q;
}

/* rhs <- (T - shift)^{-1} rhs by Gaussian elimination with partial pivoting (LAPACK dgtsv's
 * scheme); an exactly zero pivot becomes `floor`, as inverse iteration wants. lu: 3k reals. */
static void TridiagonalSolve(PetscInt k, const PetscReal *a, const PetscReal *b, PetscReal shift, PetscReal floor, PetscReal *rhs, PetscReal *lu)
{
  PetscReal *d = lu, *du = lu + k, *du2 = lu + 2 * k;

  for (PetscInt i = 0; i < k; i++) d[i] = a[i] - shift, du[i] = i + 1 < k ? b[i + 1] : 0, du2[i] = 0;
  for (PetscInt i = 0; i + 1 < k; i++) {
    const PetscReal dl = b[i + 1];
    if (PetscAbsReal(d[i]) >= PetscAbsReal(dl)) { /* no interchange */
      if (d[i] == 0) d[i] = floor;
      const PetscReal f = dl / d[i];
      d[i + 1] -= f * du[i];
      rhs[i + 1] -= f * rhs[i];
    } else { /* interchange rows i and i+1 */
      const PetscReal f = d[i] / dl, t = d[i + 1], r = rhs[i];
      d[i]     = dl;
      d[i + 1] = du[i] - f * t;
      if (i + 2 < k) {
        du2[i]    = du[i + 1];
        du[i + 1] = -f * du2[i];
      }
      du[i]      = t;
      rhs[i]     = rhs[i + 1];
      rhs[i + 1] = r - f * rhs[i + 1];
    }
  }
  if (d[k - 1] == 0) d[k - 1] = floor;
  rhs[k - 1] /= d[k - 1];
  if (k > 1) rhs[k - 2] = (rhs[k - 2] - du[k - 2] * rhs[k - 1]) / d[k - 2];
  for (PetscInt i = k - 3; i >= 0; i--) rhs[i] = (rhs[i] - du[i] * rhs[i + 1] - du2[i] * rhs[i + 2]) / d[i];
}

/* Number of eigenvalues of T below sigma: negative pivots of the LDL^T of T - sigma (Sylvester). */
static PetscInt EigenvaluesBelow(PetscInt k, const PetscReal *a, const PetscReal *b, PetscReal sigma, PetscReal pivmin)
{
  PetscInt  neg = 0;
  PetscReal d   = a[0] - sigma;
  for (PetscInt i = 0;; i++) {
    if (PetscAbsReal(d) < pivmin) d = -pivmin;
    neg += d < 0 ? 1 : 0;
    if (i + 1 == k) break;
    d = a[i + 1] - sigma - b[i + 1] * (b[i + 1] / d);
  }
  return neg;
}

/* Lowest eigenpair by Rayleigh-quotient iteration from the previous check's Ritz vector padded with
 * zeros (its residual in T_k is the previous estimate, so the iteration converges in 1-3 steps).
 * Accepted (*ok) only when the residual reached rounding level and no eigenvalue of T_k lies below
 * theta - (2 residual + rounding): then theta is the lowest one. */
static void RitzPairByRQI(QepLanczos L, PetscInt k, PetscReal anorm, PetscReal *theta, PetscBool *ok)
{
  const PetscReal *a = L->alpha, *b = L->beta;
  PetscReal       *y = L->ry, *ty = L->rty, th = 0, res = PETSC_MAX_REAL, nrm;
  const PetscReal  small = 64 * PETSC_MACHINE_EPSILON * anorm, pivmin = PETSC_MACHINE_EPSILON * PETSC_MACHINE_EPSILON * PetscMax(anorm, PETSC_SMALL);

  *ok = PETSC_FALSE;
  for (PetscInt i = 0; i < k; i++) y[i] = i < L->zk ? L->z[i] : 0;
  for (PetscInt it = 0;; it++) {
    nrm = 0;
    for (PetscInt i = 0; i < k; i++) nrm += y[i] * y[i];
    if (!(nrm > 0) || PetscIsInfOrNanReal(nrm)) return;
    nrm = 1 / PetscSqrtReal(nrm);
    for (PetscInt i = 0; i < k; i++) y[i] *= nrm;
    th  = TridiagonalApply(k, a, b, y, ty);
    res = 0;
    for (PetscInt i = 0; i < k; i++) res += (ty[i] - th * y[i]) * (ty[i] - th * y[i]);
    res = PetscSqrtReal(res);
    if (res <= small) break;
    if (it == LANCZOS_RQI_MAX_IT) return;
    TridiagonalSolve(k, a, b, th, PETSC_MACHINE_EPSILON * anorm, y, L->rlu);
  }
  if (EigenvaluesBelow(k, a, b, th - (2 * res + 8 * (PetscReal)k * PETSC_MACHINE_EPSILON * anorm), pivmin) != 0) return;
  PetscArraycpy(L->z, y, k);
  L->zk  = k;
  *theta = th;
  *ok    = PETSC_TRUE;
  L->nrqi++;
}

/* A start for RQI that lies near the lowest eigenvector of T_k, for when the previous Ritz vector
 * led elsewhere: Sturm-count bisection narrows [lo, hi] around the lowest eigenvalue (lo below it,
 * hi above it: the smallest diagonal entry bounds it from above), then two inverse iterations
 * shifted to lo, where T_k - lo is positive definite with its smallest eigenvalue alone near zero.
 * A few dozen O(k) passes, against LAPACK's full-precision bisection and its set-up. */
static void RitzStartByBisection(QepLanczos L, PetscInt k, PetscReal anorm)
{
  const PetscReal *a = L->alpha, *b = L->beta;
  const PetscReal  pivmin = PETSC_MACHINE_EPSILON * PETSC_MACHINE_EPSILON * PetscMax(anorm, PETSC_SMALL);
  PetscReal        lo = PETSC_MAX_REAL, hi = PETSC_MAX_REAL, width;
  PetscReal       *y = L->z;

  for (PetscInt i = 0; i < k; i++) {
    lo = PetscMin(lo, a[i] - (i ? PetscAbsReal(b[i]) : 0) - (i + 1 < k ? PetscAbsReal(b[i + 1]) : 0)); /* Gershgorin */
    hi = PetscMin(hi, a[i]);
  }
  width = hi - lo;
  for (PetscInt it = 0; it < 64 && hi - lo > LANCZOS_BISECT_REL * width; it++) {
    const PetscReal mid = 0.5 * (lo + hi);
    if (EigenvaluesBelow(k, a, b, mid, pivmin) == 0) lo = mid;
    else hi = mid;
  }
  for (PetscInt i = 0; i < k; i++) y[i] = 1.0;
  for (int it = 0; it < 2; it++) {
    PetscReal nrm = 0;
    TridiagonalSolve(k, a, b, lo, PETSC_MACHINE_EPSILON * anorm, y, L->rlu);
    for (PetscInt i = 0; i < k; i++) nrm += y[i] * y[i];
    nrm = nrm > 0 && !PetscIsInfOrNanReal(nrm) ? 1 / PetscSqrtReal(nrm) : 0;
    for (PetscInt i = 0; i < k; i++) y[i] *= nrm;
  }
  L->zk = k;
}

/* Lowest eigenpair (theta, s) of T_k; s in L->z. RQI from the previous check's Ritz vector (on the
 * first check: from e_0, the start vector, which a warm start makes nearly an eigenvector); if that
 * converges elsewhere, RQI from a bisection start; LAPACK only if both fail. */
static PetscErrorCode LowestRitzPair(QepLanczos L, PetscInt k, PetscReal *theta)
{
  PetscBool ok = PETSC_FALSE;

  PetscFunctionBegin;
  if (k > 2) {
    PetscReal anorm = 0;
    for (PetscInt i = 0; i < k; i++) anorm = PetscMax(anorm, PetscAbsReal(L->alpha[i]) + (i ? L->beta[i] : 0) + (i + 1 < k ? L->beta[i + 1] : 0));
    if (L->zk == 0) L->z[0] = 1.0, L->zk = 1;
    RitzPairByRQI(L, k, anorm, theta, &ok);
    if (!ok) {
      RitzStartByBisection(L, k, anorm);
      RitzPairByRQI(L, k, anorm, theta, &ok);
    }
  }
  if (!ok) PetscCall(RitzPairByStevr(L, k, theta));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- vector kernels ------------- */
/* Local sums use LANCZOS_ACC partial accumulators: four AVX-512 registers, so the loops vectorise
 * without reassociating a single sum; compiled for AVX-512, AVX2 and baseline x86-64 and picked at
 * load time (the states of small models live in L1, where these passes are compute-bound). */
#define LANCZOS_ACC 32

/* out[0] = v^H w, out[1] = p^H w (p may be NULL). */
QEP_CLONES static void DotsKernel(PetscInt n, const PetscScalar *restrict w, const PetscScalar *restrict v, const PetscScalar *restrict p, PetscScalar out[2])
{
  PetscScalar sa[LANCZOS_ACC] = {0}, sc[LANCZOS_ACC] = {0};
  PetscInt    i;

  if (p) {
    for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
      for (int r = 0; r < LANCZOS_ACC; r++) sa[r] += PetscConj(v[i + r]) * w[i + r], sc[r] += PetscConj(p[i + r]) * w[i + r];
    for (; i < n; i++) sa[0] += PetscConj(v[i]) * w[i], sc[0] += PetscConj(p[i]) * w[i];
  } else {
    for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
      for (int r = 0; r < LANCZOS_ACC; r++) sa[r] += PetscConj(v[i + r]) * w[i + r];
    for (; i < n; i++) sa[0] += PetscConj(v[i]) * w[i];
  }
  out[0] = out[1] = 0;
  for (int r = 0; r < LANCZOS_ACC; r++) out[0] += sa[r], out[1] += sc[r];
}

/* w <- scale w - alpha v - beta u - c p (p may be NULL); returns ||w||^2 (local). */
QEP_CLONES static PetscReal UpdateKernel(PetscInt n, PetscScalar *restrict w, const PetscScalar *restrict v, const PetscScalar *restrict u, const PetscScalar *restrict p, PetscReal scale, PetscReal alpha, PetscReal beta, PetscScalar c)
{
  PetscReal acc[LANCZOS_ACC] = {0}, sum = 0;
  PetscInt  i;

  if (p) {
    for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
      for (int r = 0; r < LANCZOS_ACC; r++) {
        const PetscScalar t = scale * w[i + r] - alpha * v[i + r] - beta * u[i + r] - c * p[i + r];
        w[i + r]            = t;
        acc[r] += PetscRealPart(PetscConj(t) * t);
      }
    for (; i < n; i++) {
      const PetscScalar t = scale * w[i] - alpha * v[i] - beta * u[i] - c * p[i];
      w[i]                = t;
      acc[0] += PetscRealPart(PetscConj(t) * t);
    }
  } else {
    for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
      for (int r = 0; r < LANCZOS_ACC; r++) {
        const PetscScalar t = scale * w[i + r] - alpha * v[i + r] - beta * u[i + r];
        w[i + r]            = t;
        acc[r] += PetscRealPart(PetscConj(t) * t);
      }
    for (; i < n; i++) {
      const PetscScalar t = scale * w[i] - alpha * v[i] - beta * u[i];
      w[i]                = t;
      acc[0] += PetscRealPart(PetscConj(t) * t);
    }
  }
  for (int r = 0; r < LANCZOS_ACC; r++) sum += acc[r];
  return sum;
}

#define LANCZOS_COMBINE_CHUNK 512 /* rows of x kept in L1 while the stored vectors stream past */

/* x = sum_{j<k} coef_j v_j, chunk by chunk, four vectors per sweep of the chunk. */
QEP_CLONES static void CombineKernel(PetscInt n, PetscInt k, const PetscScalar *coef, const PetscScalar *const *v, PetscScalar *restrict x)
{
  for (PetscInt i0 = 0; i0 < n; i0 += LANCZOS_COMBINE_CHUNK) {
    const PetscInt len = PetscMin(LANCZOS_COMBINE_CHUNK, n - i0);
    PetscScalar *restrict xc = x + i0;
    PetscInt j = 0;
    for (PetscInt i = 0; i < len; i++) xc[i] = 0;
    for (; j + 4 <= k; j += 4) {
      const PetscScalar c0 = coef[j], c1 = coef[j + 1], c2 = coef[j + 2], c3 = coef[j + 3];
      const PetscScalar *restrict v0 = v[j] + i0, *restrict v1 = v[j + 1] + i0, *restrict v2 = v[j + 2] + i0, *restrict v3 = v[j + 3] + i0;
      for (PetscInt i = 0; i < len; i++) xc[i] += c0 * v0[i] + c1 * v1[i] + c2 * v2[i] + c3 * v3[i];
    }
    for (; j < k; j++) {
      const PetscScalar c0 = coef[j], *restrict v0 = v[j] + i0;
      for (PetscInt i = 0; i < len; i++) xc[i] += c0 * v0[i];
    }
  }
}

/* Sums over the ranks (nothing to do on one). */
static PetscErrorCode SumOverRanks(QepLanczos L, Vec v, PetscScalar *vals, PetscMPIInt count, MPI_Datatype type)
{
  PetscFunctionBegin;
  if (L->size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, vals, count, type, MPIU_SUM, PetscObjectComm((PetscObject)v)));
  PetscFunctionReturn(0);
}

/* x = sum_{j<k} zs_j w_j from the stored basis (one pass over x). */
static PetscErrorCode CombineStored(QepLanczos L, PetscInt k, Vec x)
{
  PetscScalar *xa;
  PetscInt     n;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(x, &n));
  for (PetscInt j = 0; j < k; j++) PetscCall(VecGetArrayRead(L->basis[j], &L->rows[j]));
  PetscCall(VecGetArrayWrite(x, &xa));
  CombineKernel(n, k, L->zs, L->rows, xa);
  PetscCall(VecRestoreArrayWrite(x, &xa));
  for (PetscInt j = 0; j < k; j++) PetscCall(VecRestoreArrayRead(L->basis[j], &L->rows[j]));
  PetscFunctionReturn(0);
}

/* alpha = Re(cur^H w), c = psi^H w (psi may be NULL): one pass, one reduction. */
static PetscErrorCode StepDots(QepLanczos L, Vec w, Vec cur, Vec psi, PetscReal *alpha, PetscScalar *c)
{
  const PetscScalar *wa, *va, *pa = NULL;
  PetscScalar        dots[2];
  PetscInt           n;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(w, &n));
  PetscCall(VecGetArrayRead(w, &wa));
  PetscCall(VecGetArrayRead(cur, &va));
  if (psi) PetscCall(VecGetArrayRead(psi, &pa));
  DotsKernel(n, wa, va, pa, dots);
  if (psi) PetscCall(VecRestoreArrayRead(psi, &pa));
  PetscCall(VecRestoreArrayRead(cur, &va));
  PetscCall(VecRestoreArrayRead(w, &wa));
  PetscCall(SumOverRanks(L, w, dots, 2, MPIU_SCALAR));
  *alpha = PetscRealPart(dots[0]);
  *c     = dots[1];
  PetscFunctionReturn(0);
}

/* w <- scale w - alpha cur - beta prev - c psi, and its norm. Both passes of the solver use exactly
 * this code, so the second one regenerates the same vectors. */
static PetscErrorCode StepUpdate(QepLanczos L, Vec w, Vec cur, Vec prev, Vec psi, PetscReal scale, PetscReal alpha, PetscReal beta, PetscScalar c, PetscReal *norm)
{
  PetscScalar       *wa;
  const PetscScalar *va, *ua, *pa = NULL;
  PetscReal          sq;
  PetscInt           n;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(w, &n));
  PetscCall(VecGetArray(w, &wa));
  PetscCall(VecGetArrayRead(cur, &va));
  PetscCall(VecGetArrayRead(prev, &ua));
  if (psi) PetscCall(VecGetArrayRead(psi, &pa));
  sq = UpdateKernel(n, wa, va, ua, pa, scale, alpha, beta, c);
  if (psi) PetscCall(VecRestoreArrayRead(psi, &pa));
  PetscCall(VecRestoreArrayRead(prev, &ua));
  PetscCall(VecRestoreArrayRead(cur, &va));
  PetscCall(VecRestoreArray(w, &wa));
  if (L->size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &sq, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)w)));
  *norm = PetscSqrtReal(sq);
  PetscFunctionReturn(0);
}

/* v_0: the start, made orthogonal to psi (when deflating) and normalised. */
static PetscErrorCode FirstVector(QepLanczos L, Vec start, Vec psi)
{
  PetscReal norm;

  PetscFunctionBegin;
  PetscCall(VecCopy(start, L->first));
  if (psi) {
    PetscScalar c;
    PetscCall(VecDot(L->first, psi, &c)); /* psi^H first */
    PetscCall(VecAXPY(L->first, -c, psi));
  }
  PetscCall(VecNormalize(L->first, &norm));
  PetscCheck(norm > 0, PetscObjectComm((PetscObject)start), PETSC_ERR_ARG_WRONG, "The Lanczos start vector is zero%s", psi ? " after removing the ground state" : "");
  PetscFunctionReturn(0);
}

/* Basis slot j, created on first use (slots persist across solves of the same layout). */
static PetscErrorCode BasisSlot(QepLanczos L, PetscInt j, Vec *v)
{
  PetscFunctionBegin;
  if (j >= L->abasis) {
    L->abasis = PetscMax(2 * L->abasis, 64);
    PetscCall(PetscRealloc(sizeof(Vec) * (size_t)L->abasis, &L->basis)); /* slots from nbasis on are unset */
  }
  for (; L->nbasis <= j; L->nbasis++) PetscCall(DuplicateAligned(L->first, &L->basis[L->nbasis]));
  *v = L->basis[j];
  PetscFunctionReturn(0);
}

/* The vector that receives w_{j+1}: basis slot j+1 while the stored basis stays within the budget;
 * otherwise (switching once from slots to the three recurrence vectors) the one of prev/cur/next
 * that holds neither w_j nor w_{j-1}. */
static PetscErrorCode ChooseNext(QepLanczos L, PetscInt j, size_t budget, PetscBool *storing)
{
  PetscFunctionBegin;
  if (*storing) {
    PetscInt n;
    PetscCall(VecGetLocalSize(L->wcur, &n));
    if ((size_t)(j + 2) * (size_t)n * sizeof(PetscScalar) <= budget) {
      PetscCall(BasisSlot(L, j + 1, &L->wnext));
      PetscFunctionReturn(0);
    }
    *storing = PETSC_FALSE; /* over the budget: the Ritz vector will come from a second pass */
    PetscCall(VecCopy(L->wcur, L->cur));
    if (L->wprev != L->prev) PetscCall(VecCopy(L->wprev, L->prev));
    L->wcur = L->cur, L->wprev = L->prev;
  }
  L->wnext = (L->prev != L->wprev && L->prev != L->wcur) ? L->prev : (L->cur != L->wprev && L->cur != L->wcur) ? L->cur : L->next;
  PetscFunctionReturn(0);
}

/* ||w_j||: 1 for the normalised start, beta_j after it. */
static PetscReal NormOf(const QepLanczos L, PetscInt j) { return j == 0 ? 1.0 : L->beta[j]; }

/* w_{j+1} = H v_j - alpha_j v_j - beta_j v_{j-1} - defl_j psi from next = H w_j, in terms of the
 * unnormalised w_j (cur) and w_{j-1} (prev). */
static PetscErrorCode Advance(QepLanczos L, PetscInt j, Vec next, Vec cur, Vec prev, Vec psi, PetscReal *norm)
{
  const PetscReal nj = NormOf(L, j), nprev = j > 0 ? NormOf(L, j - 1) : 1.0;

  PetscFunctionBegin;
  PetscCall(StepUpdate(L, next, cur, prev, psi, 1.0 / nj, L->alpha[j] / nj, L->beta[j] / nprev, L->defl[j], norm));
  PetscFunctionReturn(0);
}

/* Second pass: x = sum_{j<k} s_j v_j with v_j regenerated from the stored coefficients. */
static PetscErrorCode CombineByRecurrence(QepLanczos L, Mat A, Vec psi, PetscInt k, Vec x)
{
  PetscReal norm;
  Vec       prev = L->prev, cur = L->cur, next = L->next, t;

  PetscFunctionBegin;
  PetscCall(VecSet(prev, 0.0));
  PetscCall(VecCopy(L->first, cur));
  PetscCall(VecSet(x, 0.0));
  for (PetscInt j = 0; j < k; j++) {
    PetscCall(VecAXPY(x, L->z[j] / NormOf(L, j), cur));
    if (j == k - 1) break;
    PetscCall(MatMult(A, cur, next));
    PetscCall(Advance(L, j, next, cur, prev, psi, &norm));
    t = prev, prev = cur, cur = next, next = t;
  }
  PetscFunctionReturn(0);
}

/* The recurrence's vectors at step 0: w_0 = v_0 (in slot 0 when storing), w_{-1} = 0. */
static PetscErrorCode StartRecurrence(QepLanczos L, PetscBool storing)
{
  PetscFunctionBegin;
  if (storing) PetscCall(BasisSlot(L, 0, &L->wcur));
  else L->wcur = L->cur;
  PetscCall(VecCopy(L->first, L->wcur));
  L->wprev = L->prev;
  PetscCall(VecSet(L->wprev, 0.0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepLanczosSolve(QepLanczos L, Mat A, Vec start, Vec psi, PetscReal tol, PetscInt maxit, size_t budget, Vec x, PetscReal *theta, PetscReal *residual, PetscInt *steps, PetscBool *converged)
{
  PetscInt  k = 0, N;
  PetscReal estimate = PETSC_MAX_REAL, anorm = 0, rq;
  PetscBool storing, done = PETSC_FALSE;
  PetscInt  nloc, nextcheck = LANCZOS_FIRST_CHECK, lastcheck = 0;
  PetscReal lastestimate = 0, target;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(QEP_Lanczos, A, 0, 0, 0));
  PetscCall(EnsureVectors(L, x));
  PetscCall(VecGetSize(x, &N));
  PetscCall(VecGetLocalSize(x, &nloc));
  /* store the basis only when the whole run is expected to fit: first touches of vectors that are
   * then dropped would cost more than the second pass saves */
  storing = (size_t)PetscMin(PetscMax(32, L->lastk + 16), maxit + 1) * (size_t)nloc * sizeof(PetscScalar) <= budget ? PETSC_TRUE : PETSC_FALSE;
  L->zk = L->nrqi = L->nstevr = 0;
  PetscCall(FirstVector(L, start, psi)); /* start may be x itself: it is copied before x is written */
  PetscCall(StartRecurrence(L, storing));
  for (PetscInt j = 0; j < maxit && !done; j++) {
    PetscReal   a = 0, b = 0;
    PetscScalar c = 0;
    PetscBool   invariant;
    PetscCall(EnsureCoefficients(L, j + 2));
    if (j == 0) L->beta[0] = 0;
    PetscCall(ChooseNext(L, j, budget, &storing));
    PetscCall(MatMult(A, L->wcur, L->wnext));
    PetscCall(StepDots(L, L->wnext, L->wcur, psi, &a, &c)); /* w_j^H H w_j and psi^H H w_j */
    L->alpha[j] = a / (NormOf(L, j) * NormOf(L, j)), L->defl[j] = c / NormOf(L, j);
    PetscCall(Advance(L, j, L->wnext, L->wcur, L->wprev, psi, &b));
    L->beta[j + 1] = b;
    k              = j + 1;
    anorm          = PetscMax(anorm, PetscAbsReal(L->alpha[j]) + b + L->beta[j]);
    invariant      = b <= 100 * PETSC_MACHINE_EPSILON * anorm ? PETSC_TRUE : PETSC_FALSE; /* T_k's spectrum is exact */
    if (k >= nextcheck || invariant || k >= N || k == maxit) {
      PetscCall(LowestRitzPair(L, k, theta));
      estimate = b * PetscAbsReal(L->z[k - 1]);
      target   = tol * PetscMax(PetscAbsReal(*theta), PETSC_SMALL);
      /* converged Ritz pair, or an invariant subspace, or the whole space */
      if (estimate <= target || invariant || k >= N) done = PETSC_TRUE;
      nextcheck = k + 1;
      if (nloc < LANCZOS_SMALL_LOCAL && lastcheck && estimate < lastestimate) { /* skip checks that cannot succeed yet */
        PetscReal rate = PetscLogReal(lastestimate / estimate) / (PetscReal)(k - lastcheck), ahead = PetscLogReal(estimate / target) / rate;
        nextcheck = k + (PetscInt)PetscMax(1, PetscMin(LANCZOS_MAX_STRIDE, 0.8 * ahead));
      }
      lastcheck = k, lastestimate = estimate;
    }
    if (!done) L->wprev = L->wcur, L->wcur = L->wnext;
  }
  *steps   = k;
  L->lastk = k;
  if (L->zk != k) PetscCall(LowestRitzPair(L, k, theta)); /* maxit reached between checks */
  if (storing) {
    for (PetscInt j = 0; j < k; j++) L->zs[j] = L->z[j] / NormOf(L, j); /* the stored w_j are unnormalised */
    PetscCall(CombineStored(L, k, x));
  } else PetscCall(CombineByRecurrence(L, A, psi, k, x));
  { /* the returned pair: Rayleigh quotient and true residual of the normalised combination */
    PetscScalar hx;
    PetscCall(VecNormalize(x, NULL));
    PetscCall(MatMult(A, x, L->next));
    PetscCall(VecDot(L->next, x, &hx));
    rq = PetscRealPart(hx);
    PetscCall(VecAXPY(L->next, -rq, x));
    PetscCall(VecNorm(L->next, NORM_2, residual));
    *theta = rq;
  }
  *converged = (done && *residual <= LANCZOS_RESIDUAL_SLACK * tol * PetscMax(PetscAbsReal(rq), PETSC_SMALL)) ? PETSC_TRUE : PETSC_FALSE;
  if (!storing) PetscCall(DropBasis(L));
  PetscCall(PetscLogEventEnd(QEP_Lanczos, A, 0, 0, 0));
  PetscCall(PetscInfo(A, "Lanczos: %" PetscInt_FMT " steps, %s basis, Ritz checks %" PetscInt_FMT " by RQI + %" PetscInt_FMT " by stevr, theta %.15g, estimate %g, true residual %g, %s\n", k, storing ? "stored" : "regenerated", L->nrqi, L->nstevr, (double)rq, (double)estimate, (double)*residual,
                      *converged ? "converged" : "NOT converged"));
  PetscFunctionReturn(0);
}
