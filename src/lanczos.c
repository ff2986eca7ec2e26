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
 * budget, otherwise by a second pass that regenerates v_0..v_k bit for bit from the stored
 * recurrence coefficients (no dot products, so no reductions either).
 * The recurrence keeps w_j = beta_j v_j unnormalised (w_0 = v_0): the scaling by 1/beta_j is folded
 * into the coefficients of the next update, which saves a vector pass per step.
 * Deflation: given a unit vector psi (a converged ground state), the recurrence runs on
 * (1 - psi psi^H) H (1 - psi psi^H) from a start orthogonal to psi; its lowest eigenpair is the
 * first excited state.
 * Invariant: the returned residual is the true ||H x - theta x|| of the returned unit vector, and
 * *converged is true only when it meets the tolerance; otherwise the caller must not use x as a
 * result (QepGroundSolver falls back to SLEPc, warm-started from x). */
#include "qepimpl.h"
#include <slepcsys.h>
#include <slepcblaslapack.h>

#define LANCZOS_RESIDUAL_SLACK 10.0 /* true residual may exceed the recurrence's estimate by this much */
#define LANCZOS_SMALL_LOCAL    65536 /* below this many local entries a Ritz check costs more than a step */
#define LANCZOS_MAX_STRIDE     8     /* ... so checks are spaced by the observed convergence rate, up to this */

struct _n_QepLanczos {
  Vec          prev, cur, next, first; /* recurrence vectors; first = v_0 for the second pass */
  Vec         *basis;                  /* stored Lanczos vectors (while within the budget) */
  PetscInt     nbasis, abasis;
  PetscReal   *alpha, *beta; /* beta[j] couples v_{j-1} and v_j; beta[0] = 0 */
  PetscScalar *defl;         /* psi^H (H v_j) removed at step j (deflation) */
  PetscInt     acoef;
  PetscReal   *d, *e, *w, *z, *work; /* stevr work space for T_k; z = the lowest Ritz vector s */
  PetscScalar *zs;                     /* s as scalars, for VecMAXPY */
  PetscBLASInt *iwork, *isuppz;
  PetscInt      atri;
  PetscInt      lastk; /* steps of the previous solve: sizes the decision to store the basis */
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
  PetscCall(PetscFree((*L)->zs));
  PetscCall(PetscFree(*L));
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
  PetscCall(VecDuplicate(x, &L->prev));
  PetscCall(VecDuplicate(x, &L->cur));
  PetscCall(VecDuplicate(x, &L->next));
  PetscCall(VecDuplicate(x, &L->first));
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
    PetscCall(PetscFree(L->zs));
    PetscCall(PetscMalloc1(na, &L->zs));
    PetscCall(PetscMalloc7(na, &L->d, na, &L->e, na, &L->w, na, &L->z, 20 * na, &L->work, 10 * na, &L->iwork, 2 * na, &L->isuppz));
    L->atri = na;
  }
  PetscFunctionReturn(0);
}

/* Lowest eigenpair (theta, s) of T_k (diagonal alpha[0..k-1], off-diagonal beta[1..k-1]); s in L->z. */
static PetscErrorCode LowestRitzPair(QepLanczos L, PetscInt k, PetscReal *theta)
{
  PetscBLASInt n, one = 1, m = 0, lwork, liwork, info = 0;
  PetscReal    zero = 0.0, abstol = 0.0;

  PetscFunctionBegin;
  if (k == 1) {
    *theta  = L->alpha[0];
    L->z[0] = 1.0;
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
  PetscFunctionReturn(0);
}

/* Local sums use four partial accumulators in registers: the loops then pipeline (and vectorise
 * where the compiler may), and no accumulator's address escapes to alias the arrays. */
#define LANCZOS_ACC 4

/* alpha = Re(cur^H w), c = psi^H w (psi may be NULL): one pass, one reduction. */
static PetscErrorCode StepDots(Vec w, Vec cur, Vec psi, PetscReal *alpha, PetscScalar *c)
{
  const PetscScalar *restrict wa, *restrict va, *restrict pa = NULL;
  PetscScalar sa[LANCZOS_ACC] = {0}, sc[LANCZOS_ACC] = {0}, loc[2], glob[2];
  PetscInt    n, i;
  MPI_Comm    comm;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)w, &comm));
  PetscCall(VecGetLocalSize(w, &n));
  PetscCall(VecGetArrayRead(w, (const PetscScalar **)&wa));
  PetscCall(VecGetArrayRead(cur, (const PetscScalar **)&va));
  if (psi) PetscCall(VecGetArrayRead(psi, (const PetscScalar **)&pa));
  for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
    for (int r = 0; r < LANCZOS_ACC; r++) {
      sa[r] += PetscConj(va[i + r]) * wa[i + r];
      if (pa) sc[r] += PetscConj(pa[i + r]) * wa[i + r];
    }
  for (; i < n; i++) {
    sa[0] += PetscConj(va[i]) * wa[i];
    if (pa) sc[0] += PetscConj(pa[i]) * wa[i];
  }
  if (psi) PetscCall(VecRestoreArrayRead(psi, (const PetscScalar **)&pa));
  PetscCall(VecRestoreArrayRead(cur, (const PetscScalar **)&va));
  PetscCall(VecRestoreArrayRead(w, (const PetscScalar **)&wa));
  loc[0] = (sa[0] + sa[1]) + (sa[2] + sa[3]);
  loc[1] = (sc[0] + sc[1]) + (sc[2] + sc[3]);
  PetscCall(MPIU_Allreduce(loc, glob, 2, MPIU_SCALAR, MPIU_SUM, comm));
  *alpha = PetscRealPart(glob[0]);
  *c     = glob[1];
  PetscFunctionReturn(0);
}

/* w <- scale w - alpha cur - beta prev - c psi, and its norm. Both passes of the solver use exactly
 * this code, so the second one regenerates the same vectors. */
static PetscErrorCode StepUpdate(Vec w, Vec cur, Vec prev, Vec psi, PetscReal scale, PetscReal alpha, PetscReal beta, PetscScalar c, PetscReal *norm)
{
  PetscScalar *restrict wa;
  const PetscScalar *restrict va, *restrict ua, *restrict pa = NULL;
  PetscReal acc[LANCZOS_ACC] = {0}, loc, glob;
  PetscInt  n, i;
  MPI_Comm  comm;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)w, &comm));
  PetscCall(VecGetLocalSize(w, &n));
  PetscCall(VecGetArray(w, (PetscScalar **)&wa));
  PetscCall(VecGetArrayRead(cur, (const PetscScalar **)&va));
  PetscCall(VecGetArrayRead(prev, (const PetscScalar **)&ua));
  if (psi) PetscCall(VecGetArrayRead(psi, (const PetscScalar **)&pa));
  for (i = 0; i + LANCZOS_ACC <= n; i += LANCZOS_ACC)
    for (int r = 0; r < LANCZOS_ACC; r++) {
      PetscScalar v = scale * wa[i + r] - alpha * va[i + r] - beta * ua[i + r];
      if (pa) v -= c * pa[i + r];
      wa[i + r] = v;
      acc[r] += PetscRealPart(PetscConj(v) * v);
    }
  for (; i < n; i++) {
    PetscScalar v = scale * wa[i] - alpha * va[i] - beta * ua[i];
    if (pa) v -= c * pa[i];
    wa[i] = v;
    acc[0] += PetscRealPart(PetscConj(v) * v);
  }
  if (psi) PetscCall(VecRestoreArrayRead(psi, (const PetscScalar **)&pa));
  PetscCall(VecRestoreArrayRead(prev, (const PetscScalar **)&ua));
  PetscCall(VecRestoreArrayRead(cur, (const PetscScalar **)&va));
  PetscCall(VecRestoreArray(w, (PetscScalar **)&wa));
  loc = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  PetscCall(MPIU_Allreduce(&loc, &glob, 1, MPIU_REAL, MPIU_SUM, comm));
  *norm = PetscSqrtReal(glob);
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

static PetscErrorCode KeepBasisVector(QepLanczos L, PetscInt j, Vec v, size_t budget, PetscBool *storing)
{
  PetscInt n;

  PetscFunctionBegin;
  if (!*storing) PetscFunctionReturn(0);
  PetscCall(VecGetLocalSize(v, &n));
  if ((size_t)(j + 1) * (size_t)n * sizeof(PetscScalar) > budget) { /* over the budget: two passes instead */
    *storing = PETSC_FALSE;
    PetscFunctionReturn(0);
  }
  if (j >= L->abasis) {
    L->abasis = PetscMax(2 * L->abasis, 64);
    PetscCall(PetscRealloc(sizeof(Vec) * (size_t)L->abasis, &L->basis)); /* slots from nbasis on are unset */
  }
  if (j >= L->nbasis) {
    PetscCall(VecDuplicate(v, &L->basis[j]));
    L->nbasis = j + 1;
  }
  PetscCall(VecCopy(v, L->basis[j]));
  PetscFunctionReturn(0);
}

/* ||w_j||: 1 for the normalised start, beta_j after it. */
static PetscReal NormOf(const QepLanczos L, PetscInt j) { return j == 0 ? 1.0 : L->beta[j]; }

/* w_{j+1} = H v_j - alpha_j v_j - beta_j v_{j-1} - defl_j psi from next = H w_j, in terms of the
 * unnormalised w_j (cur) and w_{j-1} (prev). */
static PetscErrorCode Advance(QepLanczos L, PetscInt j, Vec psi, PetscReal *norm)
{
  const PetscReal nj = NormOf(L, j), nprev = j > 0 ? NormOf(L, j - 1) : 1.0;

  PetscFunctionBegin;
  PetscCall(StepUpdate(L->next, L->cur, L->prev, psi, 1.0 / nj, L->alpha[j] / nj, L->beta[j] / nprev, L->defl[j], norm));
  PetscFunctionReturn(0);
}

/* Rotates the roles prev <- cur <- next <- (old prev). */
static void Rotate(QepLanczos L)
{
  Vec t   = L->prev;
  L->prev = L->cur;
  L->cur  = L->next;
  L->next = t;
}

/* Second pass: x = sum_{j<k} s_j v_j with v_j regenerated from the stored coefficients. */
static PetscErrorCode CombineByRecurrence(QepLanczos L, Mat A, Vec psi, PetscInt k, Vec x)
{
  PetscReal norm;

  PetscFunctionBegin;
  PetscCall(VecSet(L->prev, 0.0));
  PetscCall(VecCopy(L->first, L->cur));
  PetscCall(VecSet(x, 0.0));
  for (PetscInt j = 0; j < k; j++) {
    PetscCall(VecAXPY(x, L->z[j] / NormOf(L, j), L->cur));
    if (j == k - 1) break;
    PetscCall(MatMult(A, L->cur, L->next));
    PetscCall(Advance(L, j, psi, &norm));
    Rotate(L);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepLanczosSolve(QepLanczos L, Mat A, Vec start, Vec psi, PetscReal tol, PetscInt maxit, size_t budget, Vec x, PetscReal *theta, PetscReal *residual, PetscInt *steps, PetscBool *converged)
{
  PetscInt  k = 0, N;
  PetscReal estimate = PETSC_MAX_REAL, anorm = 0, rq;
  PetscBool storing, done = PETSC_FALSE;
  PetscInt  nloc, nextcheck = 1, lastcheck = 0;
  PetscReal lastestimate = 0, target;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(QEP_Lanczos, A, 0, 0, 0));
  PetscCall(EnsureVectors(L, x));
  PetscCall(VecGetSize(x, &N));
  PetscCall(VecGetLocalSize(x, &nloc));
  /* store the basis only when the whole run is expected to fit: copies and first touches of
   * vectors that are then dropped would cost more than the second pass saves */
  storing = (size_t)PetscMin(PetscMax(32, L->lastk + 16), maxit + 1) * (size_t)nloc * sizeof(PetscScalar) <= budget ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(FirstVector(L, start, psi)); /* start may be x itself: it is copied before x is written */
  PetscCall(VecCopy(L->first, L->cur));
  PetscCall(VecSet(L->prev, 0.0));
  for (PetscInt j = 0; j < maxit && !done; j++) {
    PetscReal   a, b;
    PetscScalar c = 0;
    PetscBool   invariant;
    PetscCall(EnsureCoefficients(L, j + 2));
    if (j == 0) L->beta[0] = 0;
    PetscCall(KeepBasisVector(L, j, L->cur, budget, &storing));
    PetscCall(MatMult(A, L->cur, L->next));
    PetscCall(StepDots(L->next, L->cur, psi, &a, &c)); /* w_j^H H w_j and psi^H H w_j */
    L->alpha[j] = a / (NormOf(L, j) * NormOf(L, j)), L->defl[j] = c / NormOf(L, j);
    PetscCall(Advance(L, j, psi, &b));
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
    if (!done) Rotate(L);
  }
  *steps   = k;
  L->lastk = k;
  if (storing) {
    for (PetscInt j = 0; j < k; j++) L->zs[j] = L->z[j] / NormOf(L, j); /* the stored w_j are unnormalised */
    PetscCall(VecSet(x, 0.0));
    PetscCall(VecMAXPY(x, k, L->zs, L->basis));
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
  PetscCall(PetscInfo(A, "Lanczos: %" PetscInt_FMT " steps, %s basis, theta %.15g, estimate %g, true residual %g, %s\n", k, storing ? "stored" : "regenerated", (double)rq, (double)estimate, (double)*residual,
                      *converged ? "converged" : "NOT converged"));
  PetscFunctionReturn(0);
}
