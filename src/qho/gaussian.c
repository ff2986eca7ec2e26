/* gaussian.c — the exact Gaussian ground state of a quadratic oscillator network (QepQhoGaussian).
 *
 * H = Σ p_i²/(2 m_i) + ½ xᵀ K x − bᵀ x + c has the ground state
 *     mean μ = K⁻¹ b,   Σ = (ħ/2) M^-1/2 D^-1/2 M^-1/2,   ⟨p_i²⟩ = (ħ/2) m_i (D^1/2)_ii,
 *     E = (ħ/2) tr D^1/2 + c − ½ bᵀμ,   D = M^-1/2 K M^-1/2.
 * The mean is a distributed CG solve on the MPIAIJ K (prefix qho_mean_). Σ is needed only on K's
 * pattern (diagonal and coupled pairs), by one of two methods:
 *   dense      the eigen-decomposition of D on rank 0 (SLEPc DS, LAPACK divide and conquer), exact to
 *              rounding, O(n³) time and O(n²) memory: the reference path, n up to a few thousand;
 *   chebyshev  a Chebyshev expansion p(D) of D^-1/2 (and D^1/2) on [a, b] ⊇ spectrum(D), of the degree P
 *              that bounds |f − p| by tol·max f, applied to probing vectors of a distance-(P+1)
 *              colouring of K's graph: p(D)_ij = 0 beyond graph distance P, so every probe returns the
 *              pattern entries of p(D) exactly. Distributed: the owned rows of D̂ in local numbering act
 *              on row-major blocks of up to 64 probes (one PetscSF halo exchange per degree), all
 *              three-term recurrence steps fused; O(n · colours · P · degree) work, colours ≈ a
 *              fraction of the graph ball of radius P (≈ P²/2 on a square lattice).
 * Both methods prove K positive definite (all eigenvalues; or a Gershgorin bound / a SLEPc estimate of
 * λ_min(D) > 0) and fail clearly otherwise. Results are replicated on every rank; they do not depend
 * on the number of ranks beyond rounding (the colouring and initial vectors use global indices). */
#include "qhomodel.h"
#include <slepceps.h>
#include <slepcds.h>
#include <petscsf.h>

#define QHO_DENSE_AUTO_MAX     2000  /* auto: dense up to this n (a few seconds), chebyshev above */
#define QHO_MEAN_RTOL          1e-12 /* CG: the gradient differences means at β ~ 1e-3..1e-4 */
#define QHO_GAMG_MIN_N         5000  /* default preconditioner: Jacobi below, GAMG from here */
#define QHO_PD_RELTOL          1e-12 /* λ_min(D) <= this · λ_max(D): singular to working precision */
#define QHO_SPECTRUM_MARGIN    0.98  /* a = margin · (Ritz value − residual): a safe lower bound of λ_min */
#define QHO_SPECTRUM_TOL       1e-6  /* relative residual of the λ_min estimate (it only sets the interval) */
#define QHO_CHEB_MAX_DEGREE    5000  /* beyond this the dense method is cheaper anyway */
#define QHO_CHEB_NODES_MAX     (1 << 15)
#define QHO_COLOUR_WORK_MAX    4e9   /* greedy colouring visits n x (ball size) modes; above: colour = mode */
#define QHO_BLOCK_MAX          64    /* probes per block: 64-wide rows keep a lattice's stencil window in cache */
#define QHO_COLOUR_REUSE       4     /* a cached colouring for radius R' serves every R in [R' - 4, R'] */
#define QHO_BLOCK_BYTES        (512.0 * 1048576.0) /* per rank, for the two row-major blocks of probes */
#define QHO_DS_METHOD_DC       2     /* DSHEP method 2: LAPACK divide and conquer (dstedc) */
#define QHO_SEED               20260611
#define QHO_STREAM_EPS         7

struct _n_QepQhoGaussian {
  MPI_Comm        comm;
  PetscMPIInt     rank, size;
  QepQhoCovMethod method;
  PetscReal       tol;

  /* structure of the current pattern (rebuilt when the pattern changes) */
  PetscInt  n, nk, rstart, rend;
  PetscInt *ki, *kj;            /* copy of the pattern */
  PetscInt *adjptr, *adj, *ent; /* full symmetric adjacency (diagonal first), entry of each position */
  Mat       K, D;               /* K for the mean; D = M^-1/2 K M^-1/2 for the spectrum estimate */
  KSP       ksp;
  Vec       b, x, xall;
  VecScatter toall;
  PetscReal *guess;
  PetscBool  has_guess;
  EPS        eps;

  /* colouring cache */
  PetscInt *colour, ncolours, colour_radius;

  PetscBool fixed;
  PetscReal fix_a, fix_b;

  QepQhoSolveInfo info;
};

PetscErrorCode QepQhoGaussianCreate(MPI_Comm comm, QepQhoGaussian *gauss)
{
  QepQhoGaussian g;

  PetscFunctionBegin;
  PetscCall(PetscNew(&g));
  g->comm   = comm;
  g->method = QEP_QHO_COV_AUTO;
  g->tol    = 1e-12;
  PetscCallMPI(MPI_Comm_rank(comm, &g->rank));
  PetscCallMPI(MPI_Comm_size(comm, &g->size));
  *gauss = g;
  PetscFunctionReturn(0);
}

static PetscErrorCode DestroyStructure(QepQhoGaussian g)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(g->ki, g->kj));
  PetscCall(PetscFree3(g->adjptr, g->adj, g->ent));
  PetscCall(MatDestroy(&g->K));
  PetscCall(MatDestroy(&g->D));
  PetscCall(KSPDestroy(&g->ksp));
  PetscCall(VecDestroy(&g->b));
  PetscCall(VecDestroy(&g->x));
  PetscCall(VecDestroy(&g->xall));
  PetscCall(VecScatterDestroy(&g->toall));
  PetscCall(EPSDestroy(&g->eps));
  PetscCall(PetscFree(g->guess));
  PetscCall(PetscFree(g->colour));
  g->n = g->nk = g->ncolours = g->colour_radius = 0;
  g->has_guess = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianDestroy(QepQhoGaussian *gauss)
{
  PetscFunctionBegin;
  if (!*gauss) PetscFunctionReturn(0);
  PetscCall(DestroyStructure(*gauss));
  PetscCall(PetscFree(*gauss));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianSetMethod(QepQhoGaussian g, QepQhoCovMethod method, PetscReal tol)
{
  PetscFunctionBegin;
  g->method = method;
  g->tol    = tol;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianGetMethod(QepQhoGaussian g, const QepQhoNumeric *num, QepQhoCovMethod *method)
{
  PetscFunctionBegin;
  *method = g->method;
  if (*method == QEP_QHO_COV_AUTO) *method = num->n <= QHO_DENSE_AUTO_MAX ? QEP_QHO_COV_DENSE : QEP_QHO_COV_CHEBYSHEV;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianSetSpectrumBounds(QepQhoGaussian g, PetscReal a, PetscReal b)
{
  PetscFunctionBegin;
  g->fixed = (a > 0 && b > a) ? PETSC_TRUE : PETSC_FALSE;
  g->fix_a = a;
  g->fix_b = b;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianGetInfo(QepQhoGaussian g, QepQhoSolveInfo *info)
{
  PetscFunctionBegin;
  *info = g->info;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianSetInitialGuess(QepQhoGaussian g, const PetscReal mean[])
{
  PetscFunctionBegin;
  if (!mean || !g->guess) PetscFunctionReturn(0); /* no structure yet: the first solve starts from zero */
  PetscCall(PetscArraycpy(g->guess, mean, g->n));
  g->has_guess = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------- structure of K */

static PetscBool SamePattern(QepQhoGaussian g, const QepQhoNumeric *num)
{
  if (g->n != num->n || g->nk != num->nk) return PETSC_FALSE;
  for (PetscInt e = 0; e < num->nk; e++)
    if (g->ki[e] != num->ki[e] || g->kj[e] != num->kj[e]) return PETSC_FALSE;
  return PETSC_TRUE;
}

/* Row i of the full symmetric pattern: the diagonal, then the neighbours (ascending, since the
 * pattern is sorted); ent[] maps each position to its pattern entry. */
static PetscErrorCode BuildAdjacency(QepQhoGaussian g, const QepQhoNumeric *num)
{
  PetscInt n = num->n, *count, *fill, total = n + 2 * (num->nk - n);

  PetscFunctionBegin;
  PetscCall(PetscMalloc3(n + 1, &g->adjptr, total, &g->adj, total, &g->ent));
  PetscCall(PetscMalloc2(n, &count, n, &fill));
  for (PetscInt i = 0; i < n; i++) count[i] = 1;
  for (PetscInt e = n; e < num->nk; e++) {
    count[num->ki[e]]++;
    count[num->kj[e]]++;
  }
  g->adjptr[0] = 0;
  for (PetscInt i = 0; i < n; i++) {
    g->adjptr[i + 1]   = g->adjptr[i] + count[i];
    g->adj[g->adjptr[i]] = i;
    g->ent[g->adjptr[i]] = i;
    fill[i]              = g->adjptr[i] + 1;
  }
  for (PetscInt e = n; e < num->nk; e++) {
    PetscInt i = num->ki[e], j = num->kj[e];
    g->adj[fill[i]] = j, g->ent[fill[i]++] = e;
    g->adj[fill[j]] = i, g->ent[fill[j]++] = e;
  }
  PetscCall(PetscFree2(count, fill));
  PetscFunctionReturn(0);
}

static PetscErrorCode CreatePatternMatrix(QepQhoGaussian g, Mat *A)
{
  PetscInt *dnz, *onz, nloc = g->rend - g->rstart;

  PetscFunctionBegin;
  PetscCall(MatCreate(g->comm, A));
  PetscCall(MatSetSizes(*A, nloc, nloc, g->n, g->n));
  PetscCall(MatSetType(*A, MATAIJ));
  PetscCall(PetscCalloc2(nloc, &dnz, nloc, &onz));
  for (PetscInt i = g->rstart; i < g->rend; i++)
    for (PetscInt p = g->adjptr[i]; p < g->adjptr[i + 1]; p++) {
      PetscInt j = g->adj[p];
      if (j >= g->rstart && j < g->rend) dnz[i - g->rstart]++;
      else onz[i - g->rstart]++;
    }
  PetscCall(MatXAIJSetPreallocation(*A, 1, dnz, onz, NULL, NULL));
  PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SYMMETRY_ETERNAL, PETSC_TRUE));
  PetscCall(PetscFree2(dnz, onz));
  PetscFunctionReturn(0);
}

/* A_ij = scale_i scale_j value(e) + shift δ_ij on the owned rows (scale NULL: 1). */
static PetscErrorCode FillPatternMatrix(QepQhoGaussian g, Mat A, const PetscReal kval[], const PetscReal scale[], PetscReal alpha, PetscReal shift)
{
  PetscScalar *row;
  PetscInt     maxdeg = 0;

  PetscFunctionBegin;
  for (PetscInt i = g->rstart; i < g->rend; i++) maxdeg = PetscMax(maxdeg, g->adjptr[i + 1] - g->adjptr[i]);
  PetscCall(PetscMalloc1(PetscMax(maxdeg, 1), &row));
  for (PetscInt i = g->rstart; i < g->rend; i++) {
    PetscInt p0 = g->adjptr[i], deg = g->adjptr[i + 1] - p0;
    for (PetscInt p = 0; p < deg; p++) {
      PetscInt j = g->adj[p0 + p];
      row[p]     = alpha * kval[g->ent[p0 + p]] * (scale ? scale[i] * scale[j] : 1.0) + (j == i ? shift : 0.0);
    }
    PetscCall(MatSetValues(A, 1, &i, deg, g->adj + p0, row, INSERT_VALUES));
  }
  PetscCall(PetscFree(row));
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

static PetscErrorCode CreateMeanSolver(QepQhoGaussian g)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPCreate(g->comm, &g->ksp));
  PetscCall(KSPSetOptionsPrefix(g->ksp, "qho_mean_"));
  PetscCall(KSPSetType(g->ksp, KSPCG));
  PetscCall(KSPGetPC(g->ksp, &pc));
  PetscCall(PCSetType(pc, g->n >= QHO_GAMG_MIN_N ? PCGAMG : PCJACOBI));
  PetscCall(KSPSetTolerances(g->ksp, QHO_MEAN_RTOL, 1e-300, PETSC_DEFAULT, PetscMax(10000, 10 * g->n)));
  PetscCall(KSPSetOperators(g->ksp, g->K, g->K));
  PetscCall(KSPSetFromOptions(g->ksp));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetUpStructure(QepQhoGaussian g, const QepQhoNumeric *num)
{
  PetscInt nloc = PETSC_DECIDE;

  PetscFunctionBegin;
  if (SamePattern(g, num)) PetscFunctionReturn(0);
  PetscCall(DestroyStructure(g));
  g->n  = num->n;
  g->nk = num->nk;
  PetscCall(PetscMalloc2(num->nk, &g->ki, num->nk, &g->kj));
  PetscCall(PetscArraycpy(g->ki, num->ki, num->nk));
  PetscCall(PetscArraycpy(g->kj, num->kj, num->nk));
  PetscCall(PetscSplitOwnership(g->comm, &nloc, &g->n));
  PetscCallMPI(MPI_Scan(&nloc, &g->rend, 1, MPIU_INT, MPI_SUM, g->comm));
  g->rstart = g->rend - nloc;
  PetscCall(BuildAdjacency(g, num));
  PetscCall(CreatePatternMatrix(g, &g->K));
  PetscCall(MatCreateVecs(g->K, &g->x, &g->b));
  PetscCall(VecScatterCreateToAll(g->x, &g->toall, &g->xall));
  PetscCall(PetscCalloc1(g->n, &g->guess));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------ mean */

static PetscErrorCode NotPositiveDefinite(QepQhoGaussian g, PetscReal lmin)
{
  PetscFunctionBegin;
  SETERRQ(g->comm, PETSC_ERR_USER_INPUT,
          "The stiffness matrix is not positive definite (smallest eigenvalue of M^-1/2 K M^-1/2: %g), so the network has no ground state: add springs to the ground "
          "(-qep_qho_k0 > 0, or 'ground <i> <k>' lines) or make negative stiffnesses weaker; a network without ground springs can drift freely",
          (double)lmin);
}

static PetscErrorCode CheckMeanConvergence(QepQhoGaussian g)
{
  KSPConvergedReason reason;
  PetscInt           its;

  PetscFunctionBegin;
  PetscCall(KSPGetConvergedReason(g->ksp, &reason));
  PetscCall(KSPGetIterationNumber(g->ksp, &its));
  PetscCheck(reason != KSP_DIVERGED_INDEFINITE_MAT && reason != KSP_DIVERGED_INDEFINITE_PC, g->comm, PETSC_ERR_USER_INPUT,
             "The stiffness matrix is not positive definite (CG met negative curvature), so the network has no ground state: add springs to the ground "
             "(-qep_qho_k0 > 0, or 'ground <i> <k>' lines) or make negative stiffnesses weaker");
  PetscCheck(reason > 0, g->comm, PETSC_ERR_NOT_CONVERGED,
             "The mean solve K mu = b did not converge (%s after %" PetscInt_FMT " CG iterations). The stiffness matrix may be singular or not positive definite (add springs "
             "to the ground, -qep_qho_k0 > 0) or badly conditioned (try -qho_mean_pc_type gamg or -qho_mean_ksp_max_it)",
             KSPConvergedReasons[reason], its);
  g->info.mean_iterations = its;
  PetscFunctionReturn(0);
}

/* μ = K⁻¹ b (replicated into mean) and the classical energy c − ½ bᵀμ. */
static PetscErrorCode MeanSolve(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal mean[], PetscReal *energy)
{
  PetscReal          bnorm = 0, bmu = 0;
  const PetscScalar *xa;
  PetscScalar       *ba, *xl;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(QEP_QhoMean, 0, 0, 0, 0));
  PetscCall(FillPatternMatrix(g, g->K, num->kval, NULL, 1.0, 0.0));
  if (!g->ksp) PetscCall(CreateMeanSolver(g));
  for (PetscInt i = 0; i < g->n; i++) bnorm = PetscMax(bnorm, PetscAbsReal(num->force[i]));
  g->info.mean_iterations = 0;
  if (bnorm == 0) PetscCall(PetscArrayzero(mean, g->n)); /* replicated b: every rank takes this branch */
  else {
    PetscCall(VecGetArray(g->b, &ba));
    PetscCall(VecGetArray(g->x, &xl));
    for (PetscInt i = g->rstart; i < g->rend; i++) {
      ba[i - g->rstart] = num->force[i];
      xl[i - g->rstart] = g->has_guess ? g->guess[i] : 0.0;
    }
    PetscCall(VecRestoreArray(g->x, &xl));
    PetscCall(VecRestoreArray(g->b, &ba));
    PetscCall(KSPSetInitialGuessNonzero(g->ksp, g->has_guess));
    PetscCall(KSPSolve(g->ksp, g->b, g->x));
    PetscCall(CheckMeanConvergence(g));
    PetscCall(VecScatterBegin(g->toall, g->x, g->xall, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecScatterEnd(g->toall, g->x, g->xall, INSERT_VALUES, SCATTER_FORWARD));
    PetscCall(VecGetArrayRead(g->xall, &xa));
    for (PetscInt i = 0; i < g->n; i++) mean[i] = PetscRealPart(xa[i]);
    PetscCall(VecRestoreArrayRead(g->xall, &xa));
  }
  for (PetscInt i = 0; i < g->n; i++) bmu += num->force[i] * mean[i];
  *energy = num->constant - 0.5 * bmu;
  PetscCall(PetscArraycpy(g->guess, mean, g->n)); /* warm start of the next solve */
  g->has_guess = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(QEP_QhoMean, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianSolveMean(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal mean[], PetscReal *energy)
{
  PetscLogDouble t0, t1;

  PetscFunctionBegin;
  PetscCall(SetUpStructure(g, num));
  PetscCall(PetscTime(&t0));
  PetscCall(MeanSolve(g, num, mean, energy));
  PetscCall(PetscTime(&t1));
  g->info.time_mean = t1 - t0;
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------ dense covariance */

PetscErrorCode QepQhoDenseEigen(const QepQhoNumeric *num, PetscReal **w, PetscReal **V)
{
  DS           ds;
  PetscScalar *A, *Q;
  PetscInt     n = num->n, ld;
  PetscReal   *s;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &s));
  for (PetscInt i = 0; i < n; i++) s[i] = 1.0 / PetscSqrtReal(num->mass[i]);
  PetscCall(DSCreate(PETSC_COMM_SELF, &ds));
  PetscCall(DSSetType(ds, DSHEP));
  PetscCall(DSSetMethod(ds, QHO_DS_METHOD_DC));
  PetscCall(DSAllocate(ds, n));
  PetscCall(DSSetDimensions(ds, n, 0, 0));
  PetscCall(DSGetLeadingDimension(ds, &ld));
  PetscCall(DSGetArray(ds, DS_MAT_A, &A));
  for (PetscInt j = 0; j < n; j++) PetscCall(PetscArrayzero(A + j * ld, n));
  for (PetscInt e = 0; e < num->nk; e++) {
    PetscInt i = num->ki[e], j = num->kj[e];
    A[i + j * ld] = A[j + i * ld] = num->kval[e] * s[i] * s[j];
  }
  PetscCall(DSRestoreArray(ds, DS_MAT_A, &A));
  PetscCall(DSSetState(ds, DS_STATE_RAW));
  PetscCall(PetscMalloc2(n, w, (size_t)n * n, V));
  {
    PetscScalar *wr;
    PetscCall(PetscMalloc1(n, &wr));
    PetscCall(DSSolve(ds, wr, NULL));
    for (PetscInt k = 0; k < n; k++) (*w)[k] = PetscRealPart(wr[k]);
    PetscCall(PetscFree(wr));
  }
  PetscCall(DSGetArray(ds, DS_MAT_Q, &Q));
  for (PetscInt k = 0; k < n; k++)
    for (PetscInt i = 0; i < n; i++) (*V)[i + k * n] = PetscRealPart(Q[i + k * ld]);
  PetscCall(DSRestoreArray(ds, DS_MAT_Q, &Q));
  PetscCall(DSDestroy(&ds));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(0);
}

/* What the covariance methods return (replicated): (D^-1/2) on the pattern, (D^1/2)_ii, tr D^1/2,
 * and the spectrum interval. */
typedef struct {
  PetscReal *invsqrt; /* [nk] */
  PetscReal *sqrtdiag; /* [n] */
  PetscReal  lmin, lmax;
} CovResult;

/* Rank 0: invsqrt on the pattern and sqrtdiag from the eigenpairs. status[0] = 1 on success. */
static PetscErrorCode DenseOnRoot(const QepQhoNumeric *num, CovResult *r, PetscReal status[3])
{
  PetscReal *w, *V, *VT, *ws, *wi;
  PetscInt   n = num->n;

  PetscFunctionBegin;
  PetscCall(QepQhoDenseEigen(num, &w, &V));
  status[1] = PETSC_MAX_REAL;
  status[2] = -PETSC_MAX_REAL;
  for (PetscInt k = 0; k < n; k++) status[1] = PetscMin(status[1], w[k]), status[2] = PetscMax(status[2], w[k]);
  status[0] = (status[1] > 0 && status[1] > QHO_PD_RELTOL * PetscAbsReal(status[2])) ? 1 : 0;
  if (status[0] == 1) {
    PetscCall(PetscMalloc3((size_t)n * n, &VT, n, &ws, n, &wi));
    for (PetscInt k = 0; k < n; k++) {
      ws[k] = PetscSqrtReal(w[k]);
      wi[k] = 1.0 / ws[k];
      for (PetscInt i = 0; i < n; i++) VT[k + i * n] = V[i + k * n]; /* row i of V, contiguous */
    }
    for (PetscInt e = 0; e < num->nk; e++) {
      const PetscReal *a = VT + num->ki[e] * n, *b = VT + num->kj[e] * n;
      PetscReal        sum = 0;
      for (PetscInt k = 0; k < n; k++) sum += a[k] * b[k] * wi[k];
      r->invsqrt[e] = sum;
    }
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal *a = VT + i * n;
      PetscReal        sum = 0;
      for (PetscInt k = 0; k < n; k++) sum += a[k] * a[k] * ws[k];
      r->sqrtdiag[i] = sum;
    }
    PetscCall(PetscFree3(VT, ws, wi));
  }
  PetscCall(PetscFree2(w, V));
  PetscFunctionReturn(0);
}

static PetscErrorCode DenseCovariance(QepQhoGaussian g, const QepQhoNumeric *num, CovResult *r)
{
  PetscReal status[3] = {0, 0, 0};
  PetscInt  n         = num->n;

  PetscFunctionBegin;
  PetscCall(QepCheckMemory(g->comm, g->rank == 0 ? 40.0 * n * (PetscLogDouble)n : 0.0, "the dense covariance (eigen-decomposition of D on rank 0)"));
  if (g->rank == 0) PetscCall(DenseOnRoot(num, r, status));
  PetscCallMPI(MPI_Bcast(status, 3, MPIU_REAL, 0, g->comm));
  if (status[0] != 1) PetscCall(NotPositiveDefinite(g, status[1]));
  PetscCallMPI(MPI_Bcast(r->invsqrt, (PetscMPIInt)num->nk, MPIU_REAL, 0, g->comm));
  PetscCallMPI(MPI_Bcast(r->sqrtdiag, (PetscMPIInt)n, MPIU_REAL, 0, g->comm));
  r->lmin                 = status[1];
  r->lmax                 = status[2];
  g->info.degree          = 0;
  g->info.colours         = 0;
  g->info.blocks          = 0;
  g->info.cov_error_bound = 0;
  g->info.time_colouring  = 0;
  PetscFunctionReturn(0);
}

/* -------------------------------------------------------------------------- spectrum of D (Chebyshev) */

/* Gershgorin: every eigenvalue of D lies in [min_i (D_ii − R_i), max_i (D_ii + R_i)]. */
static void Gershgorin(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal *lo, PetscReal *hi)
{
  *lo = PETSC_MAX_REAL;
  *hi = -PETSC_MAX_REAL;
  for (PetscInt i = 0; i < g->n; i++) {
    PetscReal di = num->kval[i] / num->mass[i], radius = 0;
    for (PetscInt p = g->adjptr[i] + 1; p < g->adjptr[i + 1]; p++) radius += PetscAbsReal(num->kval[g->ent[p]]) / PetscSqrtReal(num->mass[i] * num->mass[g->adj[p]]);
    *lo = PetscMin(*lo, di - radius);
    *hi = PetscMax(*hi, di + radius);
  }
}

static PetscErrorCode FillScaledD(QepQhoGaussian g, const QepQhoNumeric *num)
{
  PetscReal *s;

  PetscFunctionBegin;
  if (!g->D) PetscCall(CreatePatternMatrix(g, &g->D));
  PetscCall(PetscMalloc1(g->n, &s));
  for (PetscInt i = 0; i < g->n; i++) s[i] = 1.0 / PetscSqrtReal(num->mass[i]);
  PetscCall(FillPatternMatrix(g, g->D, num->kval, s, 1.0, 0.0));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(0);
}

/* The smallest eigenvalue of D by Krylov-Schur from a rank-independent start: Ritz value θ >= λ_min
 * and residual ρ. converged = PETSC_FALSE when SLEPc did not converge within its iteration cap. */
static PetscErrorCode EstimateLambdaMin(QepQhoGaussian g, PetscInt maxit, PetscReal *theta, PetscReal *resid, PetscBool *converged)
{
  Vec          v0;
  PetscScalar *va, eig;
  PetscInt     nconv;

  PetscFunctionBegin;
  if (!g->eps) {
    PetscCall(EPSCreate(g->comm, &g->eps));
    PetscCall(EPSSetOptionsPrefix(g->eps, "qho_spectrum_"));
    PetscCall(EPSSetProblemType(g->eps, EPS_HEP));
    PetscCall(EPSSetType(g->eps, EPSKRYLOVSCHUR));
    PetscCall(EPSSetWhichEigenpairs(g->eps, EPS_SMALLEST_REAL));
    PetscCall(EPSSetDimensions(g->eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
  }
  PetscCall(EPSSetOperators(g->eps, g->D, NULL));
  PetscCall(EPSSetTolerances(g->eps, QHO_SPECTRUM_TOL, maxit));
  PetscCall(EPSSetFromOptions(g->eps));
  PetscCall(MatCreateVecs(g->D, &v0, NULL));
  PetscCall(VecGetArray(v0, &va));
  for (PetscInt i = g->rstart; i < g->rend; i++) va[i - g->rstart] = QepRandomUniform(QHO_SEED, QHO_STREAM_EPS, i) - 0.5;
  PetscCall(VecRestoreArray(v0, &va));
  PetscCall(EPSSetInitialSpace(g->eps, 1, &v0));
  PetscCall(EPSSolve(g->eps));
  PetscCall(EPSGetConverged(g->eps, &nconv));
  *converged = nconv > 0 ? PETSC_TRUE : PETSC_FALSE;
  *theta = 0, *resid = 0;
  if (nconv > 0) {
    PetscCall(EPSGetEigenpair(g->eps, 0, &eig, NULL, NULL, NULL));
    PetscCall(EPSComputeError(g->eps, 0, EPS_ERROR_ABSOLUTE, resid));
    *theta = PetscRealPart(eig);
  }
  PetscCall(VecDestroy(&v0));
  PetscFunctionReturn(0);
}

/* [a, b] ⊇ spectrum(D) and proof of positive definiteness: b from Gershgorin; a the larger of the
 * Gershgorin lower bound and margin·(θ − ρ) from SLEPc. Needs D filled. */
static PetscErrorCode SpectrumBounds(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal *a, PetscReal *b)
{
  PetscReal lo, hi, theta = 0, resid = 0;
  PetscBool converged = PETSC_FALSE;

  PetscFunctionBegin;
  Gershgorin(g, num, &lo, &hi);
  PetscCall(EstimateLambdaMin(g, lo > 0 ? 20 : 10000, &theta, &resid, &converged));
  if (converged && theta <= QHO_PD_RELTOL * hi) PetscCall(NotPositiveDefinite(g, theta));
  PetscCheck(converged || lo > 0, g->comm, PETSC_ERR_NOT_CONVERGED,
             "Could not establish that the stiffness matrix is positive definite: the estimate of the smallest eigenvalue of M^-1/2 K M^-1/2 did not converge (try "
             "-qho_spectrum_eps_max_it, or -qep_qho_cov dense)");
  *a = PetscMax(lo, converged ? QHO_SPECTRUM_MARGIN * (theta - resid) : lo);
  *b = hi;
  PetscCheck(*a > 0, g->comm, PETSC_ERR_USER_INPUT, "The smallest eigenvalue of M^-1/2 K M^-1/2 is %g with uncertainty %g: the stiffness matrix is (nearly) singular; add springs to the ground (-qep_qho_k0 > 0)",
             (double)theta, (double)resid);
  if (*b <= *a) *b = *a * (1 + 1e-8); /* D = λ I: any tiny interval around it */
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianComputeSpectrumBounds(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal *a, PetscReal *b)
{
  PetscFunctionBegin;
  PetscCall(SetUpStructure(g, num));
  PetscCall(FillScaledD(g, num));
  PetscCall(SpectrumBounds(g, num, a, b));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ Chebyshev coefficients and degree */

/* c_k of f(x) = x^power on [a, b] from N Chebyshev nodes (c_0 halved): f ≈ Σ c_k T_k(t), x = (b−a)/2 t + (b+a)/2. */
static void ChebyshevCoefficients(PetscReal a, PetscReal b, PetscReal power, PetscInt N, PetscReal c[], PetscReal fx[])
{
  for (PetscInt j = 0; j < N; j++) fx[j] = PetscPowReal(0.5 * (b - a) * PetscCosReal(PETSC_PI * (j + 0.5) / N) + 0.5 * (b + a), power);
  for (PetscInt k = 0; k < N; k++) {
    PetscReal sum = 0;
    for (PetscInt j = 0; j < N; j++) sum += fx[j] * PetscCosReal(PETSC_PI * k * (j + 0.5) / N);
    c[k] = 2.0 * sum / N;
  }
  c[0] *= 0.5;
}

/* Smallest P with Σ_{k>P} |c_k| <= bound (N − 1 when none). */
static PetscInt DegreeFor(PetscInt N, const PetscReal c[], PetscReal bound, PetscReal *tail)
{
  PetscReal t = 0;
  for (PetscInt P = N - 1; P >= 0; P--) {
    if (t + PetscAbsReal(c[P]) > bound) {
      *tail = t;
      return P;
    }
    t += PetscAbsReal(c[P]);
  }
  *tail = t;
  return 0;
}

typedef struct {
  PetscInt   degree;
  PetscReal *c1, *c2; /* x^-1/2 and x^1/2 */
  PetscReal  bound;   /* tail of x^-1/2 relative to a^-1/2 */
} Expansion;

static PetscErrorCode BuildExpansion(QepQhoGaussian g, PetscReal a, PetscReal b, Expansion *ex)
{
  PetscReal kappa = b / a, rho, tail1, tail2;
  PetscInt  N, P1, P2;
  PetscReal *c1, *c2, *fx;

  PetscFunctionBegin;
  rho = (PetscSqrtReal(kappa) + 1) / PetscMax(PetscSqrtReal(kappa) - 1, 1e-300);
  N   = (PetscInt)PetscMin(QHO_CHEB_NODES_MAX, 2.0 * PetscLogReal(4.0 / g->tol) / PetscLogReal(PetscMax(rho, 1.0 + 1e-12)) + 64);
  for (;;) {
    PetscCall(PetscMalloc3(N, &c1, N, &c2, N, &fx));
    ChebyshevCoefficients(a, b, -0.5, N, c1, fx);
    ChebyshevCoefficients(a, b, 0.5, N, c2, fx);
    P1 = DegreeFor(N, c1, g->tol / PetscSqrtReal(a), &tail1);
    P2 = DegreeFor(N, c2, g->tol * PetscSqrtReal(b), &tail2);
    if (PetscMax(P1, P2) < N / 2 || N >= QHO_CHEB_NODES_MAX) break; /* coefficients beyond 2P are resolved */
    PetscCall(PetscFree3(c1, c2, fx));
    N *= 2;
  }
  ex->degree = PetscMax(P1, P2);
  ex->bound  = tail1 * PetscSqrtReal(a);
  PetscCheck(ex->degree <= QHO_CHEB_MAX_DEGREE && ex->degree < N / 2, g->comm, PETSC_ERR_SUP,
             "The Chebyshev covariance needs degree %" PetscInt_FMT " for tolerance %g: M^-1/2 K M^-1/2 is badly conditioned (spectrum in [%g, %g]); use -qep_qho_cov dense "
             "(n <= a few thousand), stronger ground springs, or a larger -qep_qho_cov_tol",
             ex->degree, (double)g->tol, (double)a, (double)b);
  PetscCall(PetscMalloc2(ex->degree + 1, &ex->c1, ex->degree + 1, &ex->c2));
  PetscCall(PetscArraycpy(ex->c1, c1, ex->degree + 1));
  PetscCall(PetscArraycpy(ex->c2, c2, ex->degree + 1));
  PetscCall(PetscFree3(c1, c2, fx));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------ probing colouring */

/* Number of modes within graph distance R of v (stops counting at `cap`). */
static PetscInt BallSize(QepQhoGaussian g, PetscInt v, PetscInt R, PetscInt cap, PetscInt mark[], PetscInt stamp, PetscInt queue[])
{
  PetscInt head = 0, tail = 0, level_end, depth = 0;

  queue[tail++] = v;
  mark[v]       = stamp;
  level_end     = tail;
  while (head < tail && depth < R && tail < cap) {
    PetscInt u = queue[head++];
    for (PetscInt p = g->adjptr[u] + 1; p < g->adjptr[u + 1]; p++)
      if (mark[g->adj[p]] != stamp) {
        mark[g->adj[p]] = stamp;
        queue[tail++]   = g->adj[p];
      }
    if (head == level_end) {
      depth++;
      level_end = tail;
    }
  }
  return tail;
}

/* Greedy distance-R colouring in mode order (the same on every rank): two modes of one colour are
 * more than R apart. A colouring for a larger radius is valid for a smaller one (with a few more
 * colours than needed), so later solves whose degree dropped a little (training steps) reuse it. Falls back to colour = mode (n probes) when the greedy pass would visit more than
 * QHO_COLOUR_WORK_MAX modes (balls covering most of a large network: then colours ≈ n anyway). */
static PetscErrorCode BuildColouring(QepQhoGaussian g, PetscInt R)
{
  PetscInt *mark, *queue, *forbid, n = g->n, stamp = 0, probe[3] = {0, n / 2, n - 1}, big = 0;

  PetscFunctionBegin;
  if (g->colour && g->colour_radius >= R && g->colour_radius <= R + QHO_COLOUR_REUSE) PetscFunctionReturn(0);
  PetscCall(PetscFree(g->colour));
  PetscCall(PetscMalloc1(n, &g->colour));
  PetscCall(PetscMalloc3(n, &mark, n, &queue, n + 1, &forbid));
  for (PetscInt i = 0; i < n; i++) mark[i] = -1;
  for (PetscInt i = 0; i <= n; i++) forbid[i] = -1;
  for (PetscInt t = 0; t < 3; t++) big = PetscMax(big, BallSize(g, probe[t], R, n, mark, stamp++, queue));
  g->ncolours = 0;
  if ((PetscLogDouble)big * n > QHO_COLOUR_WORK_MAX) {
    for (PetscInt i = 0; i < n; i++) g->colour[i] = i;
    g->ncolours = n;
  } else {
    for (PetscInt v = 0; v < n; v++) {
      PetscInt size = BallSize(g, v, R, n, mark, stamp, queue), c = 0;
      g->colour[v] = -1;
      for (PetscInt q = 1; q < size; q++)
        if (queue[q] < v) forbid[g->colour[queue[q]]] = v; /* modes before v are coloured */
      while (forbid[c] == v) c++;
      g->colour[v] = c;
      g->ncolours  = PetscMax(g->ncolours, c + 1);
      stamp++;
    }
  }
  g->colour_radius = R;
  PetscCall(PetscFree3(mark, queue, forbid));
  PetscFunctionReturn(0);
}

/* --------------------------------------------------------------------------- Chebyshev probing */

/* D̂ = (2D − (a+b) I)/(b − a) on the owned rows in local numbering (owned rows 0..nloc-1, then the
 * ghost rows this rank reads), and the star forest that fills the ghost rows of a row-major block. */
typedef struct {
  PetscInt   nloc, nghost;
  PetscInt  *rowptr, *col;
  PetscReal *val;
  PetscSF    sf;
} LocalOp;

static PetscErrorCode LocalOpCreate(QepQhoGaussian g, const QepQhoNumeric *num, PetscReal a, PetscReal b, LocalOp *op)
{
  PetscInt    nloc = g->rend - g->rstart, nnz = g->adjptr[g->rend] - g->adjptr[g->rstart], *ghost, ng = 0;
  PetscReal   alpha = 2.0 / (b - a), shift = -(b + a) / (b - a);
  PetscLayout layout;

  PetscFunctionBegin;
  op->nloc = nloc;
  PetscCall(PetscMalloc1(PetscMax(nnz, 1), &ghost));
  for (PetscInt p = g->adjptr[g->rstart]; p < g->adjptr[g->rend]; p++)
    if (g->adj[p] < g->rstart || g->adj[p] >= g->rend) ghost[ng++] = g->adj[p];
  PetscCall(PetscSortRemoveDupsInt(&ng, ghost));
  op->nghost = ng;
  PetscCall(PetscMalloc3(nloc + 1, &op->rowptr, PetscMax(nnz, 1), &op->col, PetscMax(nnz, 1), &op->val));
  op->rowptr[0] = 0;
  for (PetscInt i = g->rstart; i < g->rend; i++) {
    PetscInt r = i - g->rstart, pos = op->rowptr[r];
    for (PetscInt p = g->adjptr[i]; p < g->adjptr[i + 1]; p++, pos++) {
      PetscInt j = g->adj[p], loc;
      if (j >= g->rstart && j < g->rend) loc = j - g->rstart;
      else {
        PetscCall(PetscFindInt(j, ng, ghost, &loc));
        loc += nloc;
      }
      op->col[pos] = loc;
      op->val[pos] = alpha * num->kval[g->ent[p]] / PetscSqrtReal(num->mass[i] * num->mass[j]) + (j == i ? shift : 0.0);
    }
    op->rowptr[r + 1] = pos;
  }
  PetscCall(PetscLayoutCreate(g->comm, &layout));
  PetscCall(PetscLayoutSetLocalSize(layout, nloc));
  PetscCall(PetscLayoutSetSize(layout, g->n));
  PetscCall(PetscLayoutSetUp(layout));
  PetscCall(PetscSFCreate(g->comm, &op->sf));
  PetscCall(PetscSFSetGraphLayout(op->sf, layout, ng, NULL, PETSC_COPY_VALUES, ghost));
  PetscCall(PetscSFSetUp(op->sf));
  PetscCall(PetscLayoutDestroy(&layout));
  PetscCall(PetscFree(ghost));
  PetscFunctionReturn(0);
}

static PetscErrorCode LocalOpDestroy(LocalOp *op)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(op->rowptr, op->col, op->val));
  PetscCall(PetscSFDestroy(&op->sf));
  PetscFunctionReturn(0);
}

/* One probe of the pattern: column col of the block at owned row `row` gives pattern entry e. */
typedef struct {
  PetscInt row, col, e;
} Probe;

/* The probes of colours [c0, c0 + nb): every owned pattern row ki whose partner kj has such a colour. */
static PetscErrorCode BlockProbes(QepQhoGaussian g, PetscInt c0, PetscInt nb, PetscInt *np, Probe **probes)
{
  PetscInt count = 0;

  PetscFunctionBegin;
  for (PetscInt pass = 0; pass < 2; pass++) {
    if (pass == 1) PetscCall(PetscMalloc1(PetscMax(count, 1), probes));
    count = 0;
    for (PetscInt e = 0; e < g->nk; e++) {
      PetscInt i = g->ki[e], c = g->colour[g->kj[e]];
      if (i < g->rstart || i >= g->rend || c < c0 || c >= c0 + nb) continue;
      if (pass == 1) (*probes)[count] = (Probe){i - g->rstart, c - c0, e};
      count++;
    }
  }
  *np = count;
  PetscFunctionReturn(0);
}

/* acc1 += c1 T on every probe, acc2 += c2 T on the diagonal ones (T row-major with nb columns). */
static void Accumulate(PetscInt np, const Probe pr[], const PetscReal *T, PetscInt nb, PetscInt n, PetscReal c1, PetscReal c2, PetscReal acc1[], PetscReal acc2[])
{
  for (PetscInt p = 0; p < np; p++) {
    PetscReal t = T[pr[p].row * nb + pr[p].col];
    acc1[pr[p].e] += c1 * t;
    if (pr[p].e < n) acc2[pr[p].e] += c2 * t;
  }
}

/* W ← 2 D̂ X − W (first: W ← D̂ X) on the owned rows, X row-major with ghost rows filled. */
static void ChebyshevStep(const LocalOp *op, PetscInt nb, const PetscReal *X, PetscReal *W, PetscBool first, PetscReal *acc)
{
  for (PetscInt i = 0; i < op->nloc; i++) {
    PetscReal *w = W + i * nb;
    for (PetscInt c = 0; c < nb; c++) acc[c] = 0;
    for (PetscInt p = op->rowptr[i]; p < op->rowptr[i + 1]; p++) {
      const PetscReal  v = op->val[p], *x = X + op->col[p] * nb;
      for (PetscInt c = 0; c < nb; c++) acc[c] += v * x[c];
    }
    if (first)
      for (PetscInt c = 0; c < nb; c++) w[c] = acc[c];
    else
      for (PetscInt c = 0; c < nb; c++) w[c] = 2 * acc[c] - w[c];
  }
}

/* The Chebyshev recurrence on one block of nb colour probes (colours c0.. c0+nb-1), accumulating the
 * pattern entries of p1(D) and the diagonal of p2(D). X and W hold (nloc + nghost) x nb each. */
static PetscErrorCode ProbeBlock(QepQhoGaussian g, const LocalOp *op, MPI_Datatype unit, const Expansion *ex, PetscReal *X, PetscReal *W, PetscReal *scratch, PetscInt c0,
                                 PetscInt nb, PetscInt width, PetscReal acc1[], PetscReal acc2[])
{
  PetscInt np, nrow = op->nloc + op->nghost;
  Probe   *pr;

  PetscFunctionBegin;
  PetscCall(BlockProbes(g, c0, nb, &np, &pr));
  PetscCall(PetscArrayzero(X, (size_t)nrow * width));
  for (PetscInt i = g->rstart; i < g->rend; i++) /* T_0: the indicator of each colour */
    if (g->colour[i] >= c0 && g->colour[i] < c0 + nb) X[(i - g->rstart) * width + g->colour[i] - c0] = 1.0;
  Accumulate(np, pr, X, width, g->n, ex->c1[0], ex->c2[0], acc1, acc2);
  for (PetscInt k = 1; k <= ex->degree; k++) {
    PetscReal *t;
    PetscCall(PetscSFBcastBegin(op->sf, unit, X, X + (size_t)op->nloc * width, MPI_REPLACE));
    PetscCall(PetscSFBcastEnd(op->sf, unit, X, X + (size_t)op->nloc * width, MPI_REPLACE));
    ChebyshevStep(op, width, X, W, k == 1 ? PETSC_TRUE : PETSC_FALSE, scratch); /* W = T_k */
    Accumulate(np, pr, W, width, g->n, ex->c1[k], ex->c2[k], acc1, acc2);
    t = X, X = W, W = t; /* X = T_k, W = T_{k-1} */
  }
  PetscCall(PetscLogFlops(2.0 * ex->degree * (op->rowptr[op->nloc] + op->nloc) * width));
  PetscCall(PetscFree(pr));
  PetscFunctionReturn(0);
}

/* Columns per block: two (nloc + nghost) x nb blocks within the per-rank budget (same on every rank). */
static PetscErrorCode BlockWidth(QepQhoGaussian g, const LocalOp *op, PetscInt *nb)
{
  PetscInt rows = op->nloc + op->nghost, maxrows;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&rows, &maxrows, 1, MPIU_INT, MPI_MAX, g->comm));
  *nb = (PetscInt)PetscMin(PetscMin((PetscReal)g->ncolours, QHO_BLOCK_MAX), PetscMax(1.0, QHO_BLOCK_BYTES / (2.0 * sizeof(PetscReal) * PetscMax(maxrows, 1))));
  PetscOptionsBegin(g->comm, NULL, "Chebyshev covariance", "QepQho");
  PetscCall(PetscOptionsInt("-qep_qho_cov_block", "Probing vectors per block (memory: 2 x (n_local + ghosts) x block reals per rank)", "QepQhoGroundSolve", *nb, nb, NULL));
  PetscOptionsEnd();
  PetscCheck(*nb >= 1, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_qho_cov_block must be >= 1");
  *nb = PetscMin(*nb, g->ncolours);
  PetscFunctionReturn(0);
}

static PetscErrorCode ChebyshevCovariance(QepQhoGaussian g, const QepQhoNumeric *num, CovResult *r)
{
  PetscReal    a, b, *X, *W, *scratch, *acc1, *acc2;
  Expansion    ex;
  LocalOp      op;
  PetscInt     nb;
  MPI_Datatype unit;

  PetscFunctionBegin;
  PetscCall(FillScaledD(g, num));
  if (g->fixed) a = g->fix_a, b = g->fix_b;
  else PetscCall(SpectrumBounds(g, num, &a, &b));
  PetscCall(BuildExpansion(g, a, b, &ex));
  {
    PetscLogDouble t0, t1;
    PetscCall(PetscTime(&t0));
    PetscCall(BuildColouring(g, ex.degree + 1));
    PetscCall(PetscTime(&t1));
    g->info.time_colouring = t1 - t0;
  }
  PetscCall(LocalOpCreate(g, num, a, b, &op));
  PetscCall(BlockWidth(g, &op, &nb));
  PetscCallMPI(MPI_Type_contiguous((PetscMPIInt)nb, MPIU_REAL, &unit));
  PetscCallMPI(MPI_Type_commit(&unit));
  PetscCall(PetscMalloc3((size_t)(op.nloc + op.nghost) * nb + 1, &X, (size_t)(op.nloc + op.nghost) * nb + 1, &W, nb, &scratch));
  PetscCall(PetscCalloc2(g->nk, &acc1, g->n, &acc2));
  for (PetscInt c0 = 0; c0 < g->ncolours; c0 += nb) PetscCall(ProbeBlock(g, &op, unit, &ex, X, W, scratch, c0, PetscMin(nb, g->ncolours - c0), nb, acc1, acc2));
  PetscCallMPI(MPI_Allreduce(acc1, r->invsqrt, (PetscMPIInt)g->nk, MPIU_REAL, MPIU_SUM, g->comm));
  PetscCallMPI(MPI_Allreduce(acc2, r->sqrtdiag, (PetscMPIInt)g->n, MPIU_REAL, MPIU_SUM, g->comm));
  r->lmin                 = a;
  r->lmax                 = b;
  g->info.degree          = ex.degree;
  g->info.colours         = g->ncolours;
  g->info.blocks          = (g->ncolours + nb - 1) / nb;
  g->info.cov_error_bound = ex.bound;
  PetscCall(PetscFree2(acc1, acc2));
  PetscCall(PetscFree3(X, W, scratch));
  PetscCallMPI(MPI_Type_free(&unit));
  PetscCall(LocalOpDestroy(&op));
  PetscCall(PetscFree2(ex.c1, ex.c2));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------- the solve */

static PetscErrorCode FillMoments(const QepQhoNumeric *num, const CovResult *r, PetscReal eclassical, QepQhoMoments *mom)
{
  PetscReal h2 = 0.5 * num->hbar, trace = 0;

  PetscFunctionBegin;
  for (PetscInt e = 0; e < num->nk; e++) mom->cov[e] = h2 * r->invsqrt[e] / PetscSqrtReal(num->mass[num->ki[e]] * num->mass[num->kj[e]]);
  for (PetscInt i = 0; i < num->n; i++) {
    PetscReal mu = mom->mean[i], s2 = mom->cov[i];
    mom->pp[i] = h2 * num->mass[i] * r->sqrtdiag[i];
    mom->x4[i] = mu * mu * mu * mu + 6 * mu * mu * s2 + 3 * s2 * s2;
    trace += r->sqrtdiag[i];
  }
  mom->energy = h2 * trace + eclassical;
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGaussianSolve(QepQhoGaussian g, const QepQhoNumeric *num, QepQhoMoments *mom)
{
  CovResult       r;
  PetscReal       eclassical;
  QepQhoCovMethod method;
  PetscLogDouble  t0, t1, t2;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < num->n; i++)
    PetscCheck(num->quartic[i] == 0, g->comm, PETSC_ERR_SUP, "Mode %" PetscInt_FMT " has a quartic term: the ground state is not Gaussian; quartic terms need -qep_qho_solver fock", i);
  PetscCall(SetUpStructure(g, num));
  PetscCall(QepQhoGaussianGetMethod(g, num, &method));
  PetscCall(PetscTime(&t0));
  PetscCall(MeanSolve(g, num, mom->mean, &eclassical));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscLogEventBegin(QEP_QhoCovariance, 0, 0, 0, 0));
  PetscCall(PetscCalloc2(num->nk, &r.invsqrt, num->n, &r.sqrtdiag));
  if (method == QEP_QHO_COV_DENSE) PetscCall(DenseCovariance(g, num, &r));
  else PetscCall(ChebyshevCovariance(g, num, &r));
  PetscCall(FillMoments(num, &r, eclassical, mom));
  g->info.method     = method;
  g->info.lambda_min = r.lmin;
  g->info.lambda_max = r.lmax;
  PetscCall(PetscFree2(r.invsqrt, r.sqrtdiag));
  PetscCall(PetscLogEventEnd(QEP_QhoCovariance, 0, 0, 0, 0));
  PetscCall(PetscTime(&t2));
  g->info.time_mean = t1 - t0;
  g->info.time_cov  = t2 - t1;
  PetscFunctionReturn(0);
}
