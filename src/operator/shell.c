/* shell.c — the matrix-free operator type (-qep_operator shell): a MATSHELL whose MatMult runs the
 * tiled passes of shell_plan.c / shell_kernel.c, exchanging whole local vectors with the rank
 * partners of flips on rank bits.
 *
 * Layout: P ranks (a power of two, 2^n >= 2P) each own 2^(n - log2 P) consecutive rows, so the top
 * log2 P bits of a row are its rank and a flip x pairs rank r with r ^ (x >> nlocal).
 * Ownership: the shell context belongs to the Mat (freed by its context destroy), so a Mat that
 * outlives its QepOperator (e.g. held by an EPS) still works; op->data is a borrowed pointer.
 * Invariant: the context's coefficient tables equal op->coeffs after every setcoefficients. */
#include "shell_impl.h"

static const char *const ShellKernelTypes[]   = {"vector", "scalar", "ShellKernelType", "SHELL_KERNEL_", NULL};
static const char *const ShellDiagonalModes[] = {"auto", "table", "stored", "ShellDiagonalMode", "SHELL_DIAGONAL_", NULL};

#define SHELL_DEFAULT_TILE_BITS  16               /* staged tile of 2^16 doubles = 512 KiB: half of a 1 MiB L2 (y only streams through) */
#define SHELL_DEFAULT_CHUNK_BITS 8                /* 256 contiguous rows = 2 KiB per chunk: long enough for the prefetchers */
#define SHELL_CACHE_LINE         64               /* bytes; the staged tile starts on a line boundary */
#define SHELL_MAX_MESSAGE        ((size_t)1 << 26) /* elements per MPI message: counts stay far below INT_MAX */

static PetscErrorCode ShellContextDestroy(void *ctx)
{
  QepOperator_Shell *sh = (QepOperator_Shell *)ctx;

  PetscFunctionBegin;
  if (!sh) PetscFunctionReturn(0);
  PetscCall(ShellPlanDestroy(sh));
  PetscCall(PetscFree(sh->recvbuf));
  PetscCall(PetscFree(sh->scratchraw));
  PetscCall(VecDestroy(&sh->work));
  if (sh->comm != MPI_COMM_NULL) PetscCall(PetscCommDestroy(&sh->comm));
  PetscCall(PetscFree(sh));
  PetscFunctionReturn(0);
}

/* recvbuf <- the partner's whole local vector (it receives ours at the same time). */
static PetscErrorCode ExchangeWithPartner(QepOperator_Shell *sh, PetscMPIInt partner, const PetscScalar *mine)
{
  const size_t n = (size_t)1 << sh->nlocal;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(QEP_ShellExchange, 0, 0, 0, 0));
  for (size_t off = 0; off < n; off += SHELL_MAX_MESSAGE) {
    PetscMPIInt count = (PetscMPIInt)PetscMin(SHELL_MAX_MESSAGE, n - off);
    PetscCallMPI(MPI_Sendrecv(mine + off, count, MPIU_SCALAR, partner, 0, sh->recvbuf + off, count, MPIU_SCALAR, partner, 0, sh->comm, MPI_STATUS_IGNORE));
  }
  PetscCall(PetscLogEventEnd(QEP_ShellExchange, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode MatMult_QepShell(Mat A, Vec v, Vec y)
{
  QepOperator_Shell *sh;
  const PetscScalar *va;
  PetscScalar       *ya;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &sh));
  PetscCall(PetscLogEventBegin(QEP_ShellMult, A, v, y, 0));
  PetscCall(VecGetArrayRead(v, &va));
  PetscCall(VecGetArrayWrite(y, &ya));
  for (PetscInt s = 0; s < sh->nsources; s++) {
    const ShellSource *src = &sh->sources[s];
    if (s > 0) PetscCall(ExchangeWithPartner(sh, src->partner, va));
    for (PetscInt p = src->pass0; p < src->pass1; p++) ShellApplyPass(sh, &sh->passes[p], s == 0 ? va : sh->recvbuf, ya, (s == 0 && p == src->pass0) ? PETSC_TRUE : PETSC_FALSE);
  }
  PetscCall(VecRestoreArrayWrite(y, &ya));
  PetscCall(VecRestoreArrayRead(v, &va));
  sh->nmult++;
  PetscCall(PetscLogFlops(2.0 * (PetscLogDouble)(sh->ngroups + 1) * (PetscLogDouble)((size_t)1 << sh->nlocal)));
  PetscCall(PetscLogEventEnd(QEP_ShellMult, A, v, y, 0));
  PetscFunctionReturn(0);
}

/* H^T = conj(H) since H is Hermitian: H^T v = conj(H conj(v)); in the real build H^T = H. */
static PetscErrorCode MatMultTranspose_QepShell(Mat A, Vec v, Vec y)
{
#if defined(PETSC_USE_COMPLEX)
  QepOperator_Shell *sh;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &sh));
  if (!sh->work) PetscCall(VecDuplicate(v, &sh->work));
  PetscCall(VecCopy(v, sh->work));
  PetscCall(VecConjugate(sh->work));
  PetscCall(MatMult_QepShell(A, sh->work, y));
  PetscCall(VecConjugate(y));
  PetscFunctionReturn(0);
#else
  return MatMult_QepShell(A, v, y);
#endif
}

static PetscErrorCode MatGetDiagonal_QepShell(Mat A, Vec d)
{
  QepOperator_Shell *sh;
  PetscScalar       *da;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &sh));
  PetscCall(VecGetArrayWrite(d, &da));
  ShellDiagonalFill(sh, da);
  PetscCall(VecRestoreArrayWrite(d, &da));
  PetscFunctionReturn(0);
}

/* Rank-count rules of the layout; nlocal = n - log2 P. */
static PetscErrorCode CheckLayout(QepOperator op, QepOperator_Shell *sh)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(op->comm, &sh->size));
  PetscCallMPI(MPI_Comm_rank(op->comm, &sh->rank));
  PetscCheck((sh->size & (sh->size - 1)) == 0, op->comm, PETSC_ERR_SUP,
             "the shell operator needs a power-of-two number of ranks; got %d; use -qep_operator aij or 1,2,4,8,... ranks", sh->size);
  sh->nqubits = op->nqubits;
  sh->nlocal  = op->nqubits - (PetscInt)(__builtin_ctz((unsigned)sh->size));
  PetscCheck(sh->nlocal >= 1, op->comm, PETSC_ERR_SUP,
             "the shell operator needs at least 2 basis states per rank; 2^%" PetscInt_FMT " states on %d ranks; use at most %d ranks or -qep_operator aij", op->nqubits, sh->size,
             1 << (op->nqubits - 1));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadShellOptions(QepOperator op, QepOperator_Shell *sh)
{
  PetscFunctionBegin;
  sh->tilebits  = SHELL_DEFAULT_TILE_BITS;
  sh->chunkbits = SHELL_DEFAULT_CHUNK_BITS;
  sh->kernel    = SHELL_KERNEL_VECTOR;
  sh->diagmode  = SHELL_DIAGONAL_AUTO;
  sh->splitbits = 0;
  PetscOptionsBegin(op->comm, op->prefix, "Matrix-free (shell) operator options", "QepOperator");
  PetscCall(PetscOptionsInt("-qep_shell_tile_bits", "log2 of the rows in one cache tile", "", sh->tilebits, &sh->tilebits, NULL));
  PetscCall(PetscOptionsInt("-qep_shell_chunk_bits", "log2 of the contiguous rows per chunk in outer-bit passes", "", sh->chunkbits, &sh->chunkbits, NULL));
  PetscCall(PetscOptionsEnum("-qep_shell_kernel", "Inner loop: vector (SIMD blocks of 8 rows, real build) or scalar", "", ShellKernelTypes, (PetscEnum)sh->kernel, (PetscEnum *)&sh->kernel, NULL));
  PetscCall(PetscOptionsInt("-qep_shell_split_bits", "Diagonal table split bit h (0: choose the one with the fewest straddling terms)", "", sh->splitbits, &sh->splitbits, NULL));
  PetscCall(PetscOptionsEnum("-qep_shell_diagonal", "Diagonal: auto, table (split lookup tables) or stored (one value per row)", "", ShellDiagonalModes, (PetscEnum)sh->diagmode, (PetscEnum *)&sh->diagmode, NULL));
  PetscOptionsEnd();
  PetscCheck(sh->tilebits >= 1 && sh->chunkbits >= 0, op->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_shell_tile_bits must be >= 1 and -qep_shell_chunk_bits >= 0");
  if (sh->kernel == SHELL_KERNEL_VECTOR && !ShellVectorKernelAvailable(sh->nlocal)) sh->kernel = SHELL_KERNEL_SCALAR;
  {
    PetscInt minbits = sh->kernel == SHELL_KERNEL_VECTOR ? SHELL_STEP_BITS : 0; /* a SIMD step never leaves a chunk */
    sh->tilebits     = PetscMin(PetscMax(sh->tilebits, minbits), sh->nlocal);
    sh->chunkbits    = PetscMin(PetscMax(sh->chunkbits, minbits), sh->tilebits);
    if (sh->splitbits) sh->splitbits = PetscMin(PetscMax(sh->splitbits, PetscMin(SHELL_LANE_BITS, sh->nlocal)), sh->nlocal);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CreateShellMat(QepOperator op, QepOperator_Shell *sh)
{
  PetscInt  nrows = (PetscInt)1 << sh->nlocal, N = (PetscInt)1 << sh->nqubits;
  PetscBool real  = PETSC_TRUE;

  PetscFunctionBegin;
  for (PetscInt t = 0; t < op->nstrings; t++) real = real && QepPauliIsReal(op->strings[t]);
  PetscCall(MatCreateShell(op->comm, nrows, nrows, N, N, sh, &op->A));
  PetscCall(MatShellSetContextDestroy(op->A, ShellContextDestroy));
  if (op->prefix) PetscCall(MatSetOptionsPrefix(op->A, op->prefix));
  PetscCall(MatShellSetOperation(op->A, MATOP_MULT, (void (*)(void))MatMult_QepShell));
  PetscCall(MatShellSetOperation(op->A, MATOP_MULT_TRANSPOSE, (void (*)(void))MatMultTranspose_QepShell));
  PetscCall(MatShellSetOperation(op->A, MATOP_MULT_HERMITIAN_TRANSPOSE, (void (*)(void))MatMult_QepShell));
  PetscCall(MatShellSetOperation(op->A, MATOP_GET_DIAGONAL, (void (*)(void))MatGetDiagonal_QepShell));
  PetscCall(MatSetOption(op->A, MAT_HERMITIAN, PETSC_TRUE));
  PetscCall(MatSetOption(op->A, MAT_SYMMETRIC, real)); /* odd-Y strings make imaginary antisymmetric entries */
  PetscCall(MatSetOption(op->A, MAT_SYMMETRY_ETERNAL, PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetUp_Shell(QepOperator op)
{
  QepOperator_Shell *sh = (QepOperator_Shell *)op->data;
  PetscMPIInt        tag;

  PetscFunctionBegin;
  PetscCall(CheckLayout(op, sh));
  for (PetscInt t = 0; t < op->nstrings; t++)
    PetscCheck(QepIsComplexBuild() || QepPauliIsReal(op->strings[t]), op->comm, PETSC_ERR_SUP, "String %" PetscInt_FMT " has an odd number of Y factors; needs the complex build", t);
  PetscCall(ReadShellOptions(op, sh));
  PetscCall(PetscCommDuplicate(op->comm, &sh->comm, &tag));
  PetscCall(ShellPlanCreate(op, sh));
  if (sh->nsources > 1) PetscCall(PetscMalloc1((size_t)1 << sh->nlocal, &sh->recvbuf));
  if (sh->kernel == SHELL_KERNEL_VECTOR) {
    PetscCall(PetscMalloc1(((size_t)1 << sh->maxtilebits) + SHELL_CACHE_LINE / sizeof(PetscScalar), &sh->scratchraw));
    sh->scratch = (PetscScalar *)(((uintptr_t)sh->scratchraw + SHELL_CACHE_LINE - 1) & ~(uintptr_t)(SHELL_CACHE_LINE - 1));
  }
  PetscCall(CreateShellMat(op, sh)); /* from here on the Mat owns sh */
  PetscCall(PetscInfo(op->A, "shell plan: %" PetscInt_FMT " local bits, %" PetscInt_FMT " groups, %" PetscInt_FMT " patterns, %" PetscInt_FMT " sources, %" PetscInt_FMT " passes; diagonal split %d, %" PetscInt_FMT " straddling, %s; %s kernel\n",
                      sh->nlocal, sh->ngroups, sh->npatterns, sh->nsources, sh->npasses, sh->diag.h, sh->diag.nstraddle, sh->diag.stored ? "stored" : "tables",
                      ShellKernelTypes[sh->kernel]));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetCoefficients_Shell(QepOperator op)
{
  QepOperator_Shell *sh = (QepOperator_Shell *)op->data;

  PetscFunctionBegin;
  PetscCall(ShellPlanSetCoefficients(sh, op->strings, op->coeffs, op->nstrings));
  PetscFunctionReturn(0);
}

/* ngroups: distinct flip masks x (the diagonal counts when a Z-type string exists);
 * nnz: string-group applications per MatMult summed over all rows, 2^n * ngroups (the entries an
 * assembled matrix of the same structure would store). */
static PetscErrorCode GetInfo_Shell(QepOperator op, PetscInt *ngroups, PetscLogDouble *nnz)
{
  QepOperator_Shell *sh = (QepOperator_Shell *)op->data;
  PetscInt           ng = sh->ngroups + (sh->ndiagstrings > 0 ? 1 : 0);

  PetscFunctionBegin;
  if (ngroups) *ngroups = ng;
  if (nnz) *nnz = (PetscLogDouble)ng * ldexp(1.0, (int)sh->nqubits);
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_Shell(QepOperator op)
{
  PetscFunctionBegin;
  if (!op->A) PetscCall(ShellContextDestroy(op->data)); /* set-up failed before the Mat took ownership */
  op->data = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorShellGetMultCount(QepOperator op, PetscInt64 *count)
{
  PetscFunctionBegin;
  PetscCheck(op->type == QEP_OPERATOR_SHELL && op->data, op->comm, PETSC_ERR_ARG_WRONG, "Not a set-up shell operator");
  *count = ((QepOperator_Shell *)op->data)->nmult;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorCreate_Shell(QepOperator op)
{
  QepOperator_Shell *sh;

  PetscFunctionBegin;
  PetscCall(PetscNew(&sh));
  sh->comm                = MPI_COMM_NULL;
  op->data                = sh;
  op->ops.setup           = SetUp_Shell;
  op->ops.setcoefficients = SetCoefficients_Shell;
  op->ops.destroy         = Destroy_Shell;
  op->ops.getinfo         = GetInfo_Shell;
  PetscFunctionReturn(0);
}
