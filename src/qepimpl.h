/* qepimpl.h — private definitions shared by the modules of libqep (never installed).
 * Holds the model's storage, the log events of every phase and small internal helpers. */
#pragma once
#include <qep/qep.h>

/* Log events: registered once in QepInitializePackage (src/qep.c), so -log_view shows every phase. */
PETSC_EXTERN PetscLogEvent QEP_ModelRead, QEP_ModelGenerate, QEP_OperatorSetUp, QEP_OperatorUpdate, QEP_ShellMult,
  QEP_ShellExchange, QEP_GroundSolve, QEP_Expectation, QEP_StateWrite, QEP_Rotate, QEP_Sample, QEP_QhoMean, QEP_QhoCovariance,
  QEP_QhoFockSetUp, QEP_QhoFockSolve, QEP_Lanczos;

#define QEP_NAME_LEN 64 /* longest parameter/output name, including the terminator */

typedef struct {
  char        name[QEP_NAME_LEN];
  QepPauliSum sum;
} QepOutput;

struct _p_QepModel {
  MPI_Comm comm;
  PetscInt nqubits;  /* set explicitly (file `qubits` line, generator) or 0 = infer from the strings */
  PetscInt nstrings; /* distinct Hamiltonian strings */
  PetscInt astrings;
  QepPauli *strings;
  PetscInt *slot;  /* open-addressing hash of strings: slot[h] = string index or -1 */
  PetscInt  nslots; /* power of two, > 2 * nstrings */
  PetscInt ncouplings; /* affine coefficient form of every string */
  PetscInt acouplings;
  QepCoupling *couplings;
  PetscInt   nparams, aparams;
  char     (*param_names)[QEP_NAME_LEN];
  PetscReal *param_values;
  PetscInt   ninputs; /* 1 + largest input index referenced */
  PetscInt   noutputs, aoutputs;
  QepOutput *outputs;
  char      *description;
  PetscBool  finalized;
};

/* Bond lists of the generators' lattices (src/generate.c): pairs bi[e] < bj[e] in a fixed order.
 * The caller allocates bi and bj large enough; the builders append. */
typedef struct {
  PetscInt  nbonds;
  PetscInt *bi, *bj;
} QepBonds;
PETSC_INTERN void QepBondsAdd(QepBonds *, PetscInt i, PetscInt j);
PETSC_INTERN void QepBondsChain(QepBonds *, PetscInt n, PetscBool ring);
PETSC_INTERN void QepBondsComplete(QepBonds *, PetscInt n);
PETSC_INTERN void QepBondsSquare(QepBonds *, PetscInt lx, PetscInt ly, PetscBool periodic);
PETSC_INTERN void QepBondsLayered(QepBonds *, PetscInt nlayers, const PetscInt layers[]);
/* Appends printf-formatted text to buf (truncating, never overflowing); for model descriptions. */
PETSC_INTERN void QepAppendFormat(char buf[], size_t len, const char fmt[], ...) __attribute__((format(printf, 3, 4)));

/* Named parameter tables (src/parameters.c), shared by the spin model and the oscillator network.
 * Find sets *index = -1 when absent. Append checks the name (non-empty, short enough, not x<k>), the
 * value (finite; normal or 0 unless subnormal_ok) and uniqueness, grows the arrays and appends. */
PETSC_INTERN PetscErrorCode QepParameterFind(PetscInt n, const char (*names)[QEP_NAME_LEN], const char name[], PetscInt *index);
PETSC_INTERN PetscErrorCode QepParameterAppend(MPI_Comm, const char name[], PetscReal value, PetscBool subnormal_ok, PetscInt *n, PetscInt *alloc, char (**names)[QEP_NAME_LEN], PetscReal **values, PetscInt *index);

/* Index of string p in the model, adding it if new. */
PETSC_INTERN PetscErrorCode QepModelInternString(QepModel, QepPauli p, PetscInt *index);
/* Clears everything (used before reading a new file into an existing model). */
PETSC_INTERN PetscErrorCode QepModelReset(QepModel);
/* Builds a generated model from the -qep_model/-qep_lattice/... options (src/model/generators.c). */
PETSC_INTERN PetscErrorCode QepModelGenerateFromOptions(QepModel, const char type[]);
/* Fails with PETSC_ERR_MEM and a message naming `what` when this rank would need more than the
 * machine's physical memory for it (a clear error instead of a failed malloc deep inside PETSc). Collective. */
PETSC_INTERN PetscErrorCode QepCheckMemory(MPI_Comm, PetscLogDouble bytes_per_rank, const char what[]);
/* Reads a whole text file on rank 0 and broadcasts it; *text is PetscMalloc'ed (caller frees). Collective. */
PETSC_INTERN PetscErrorCode QepReadTextFile(MPI_Comm, const char path[], char **text);

/* QEP finite-difference stencil in β, shared by spin and oscillator gradients:
 * dL/dθ ≈ w0 g(0) + Σ_{j<m} w_j g(b_j), m <= 4 (src/gradient/gradient.c). */
PETSC_INTERN void QepEstimatorStencil(QepEstimator, PetscReal beta, PetscInt *m, PetscReal b[], PetscReal w[], PetscReal *w0);
/* The largest |β_j| the estimator nudges with (2β for four-point). */
static inline PetscReal QepEstimatorLargestNudge(QepEstimator e, PetscReal beta) { return (e == QEP_ESTIMATOR_FOURPOINT ? 2 : 1) * beta; }

/* i^k as a PetscScalar; in the real build only even k is meaningful (odd k is rejected upstream). */
static inline PetscScalar QepIPower(int k)
{
  switch (((k % 4) + 4) % 4) {
  case 0: return 1.0;
  case 2: return -1.0;
#if defined(PETSC_USE_COMPLEX)
  case 1: return PETSC_i;
  default: return -PETSC_i;
#else
  default: return 0.0; /* unreachable for real strings */
#endif
  }
}

/* Flip groups: strings sharing a flip mask x, sorted by x (the diagonal group x = 0 always exists).
 * weight[t] = c_t i^ny_t is refreshed by QepFlipGroupsSetWeights whenever the coefficients change. */
typedef struct {
  PetscInt     ngroups;
  uint64_t    *x;      /* [ngroups] ascending, x[0] = 0 */
  PetscInt    *start;  /* [ngroups+1] group g holds entries start[g] .. start[g+1]-1 */
  PetscInt    *string; /* [nentries] string index of each entry */
  uint64_t    *z;      /* [nentries] z mask of each entry */
  PetscScalar *weight; /* [nentries] */
} QepFlipGroups;

PETSC_INTERN PetscErrorCode QepFlipGroupsCreate(PetscInt nstrings, const QepPauli strings[], QepFlipGroups *);
PETSC_INTERN PetscErrorCode QepFlipGroupsSetWeights(QepFlipGroups *, const QepPauli strings[], const PetscReal coeffs[]);
PETSC_INTERN PetscErrorCode QepFlipGroupsDestroy(QepFlipGroups *);
/* <col ^ x_g | sum_{t in g} w_t P_t | col> for a column (basis state) col. */
static inline PetscScalar QepFlipGroupElement(const QepFlipGroups *fg, PetscInt g, uint64_t col)
{
  PetscScalar v = 0.0;
  for (PetscInt e = fg->start[g]; e < fg->start[g + 1]; e++) v += (__builtin_popcountll(col & fg->z[e]) & 1) ? -fg->weight[e] : fg->weight[e];
  return v;
}

/* Operator applications (src/matcount.c): QepMatCountMultiplies(A) makes every MatMult of A add one
 * to QepMatvecCount (idempotent). */
PETSC_INTERN PetscLogDouble QepMatvecCount;
PETSC_INTERN PetscErrorCode QepMatCountMultiplies(Mat);

/* Warm start a x + b y (x or y may be the solver's own state: both are read before init is written). */
PETSC_INTERN PetscErrorCode QepGroundSolverSetInitialCombination(QepGroundSolver, PetscScalar a, Vec x, PetscScalar b, Vec y);

/* Lean Lanczos for the lowest eigenpair (src/lanczos.c). Solve runs the three-term recurrence from
 * start (which may alias x) on H, or on (1 - psi psi^H) H (1 - psi psi^H) when psi (unit) is given,
 * until the lowest Ritz pair's residual estimate is below tol |theta| or maxit steps; the Ritz vector
 * is combined from stored Lanczos vectors while they fit `budget` bytes per rank, else by a second
 * pass. x gets the unit Ritz vector, theta its Rayleigh quotient, residual its true ||H x - theta x||;
 * converged says whether that residual meets the tolerance (else x is only a warm start). */
typedef struct _n_QepLanczos *QepLanczos;
PETSC_INTERN PetscErrorCode QepLanczosCreate(QepLanczos *);
PETSC_INTERN PetscErrorCode QepLanczosDestroy(QepLanczos *);
PETSC_INTERN PetscErrorCode QepLanczosSolve(QepLanczos, Mat A, Vec start, Vec psi, PetscReal tol, PetscInt maxit, size_t budget, Vec x, PetscReal *theta, PetscReal *residual, PetscInt *steps, PetscBool *converged);
