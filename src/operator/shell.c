/* shell.c — the matrix-free operator type (-qep_operator shell): a MATSHELL whose MatMult runs the
 * tiled passes of shell_plan.c / shell_kernel.c.
 *
 * Layout: P ranks (a power of two, 2^n >= 2P) each own 2^(n - log2 P) consecutive rows, so the top
 * log2 P bits of a row are its rank and a flip x pairs rank r with r ^ (x >> nlocal).
 * Communication: a pass with remote groups swaps each staged tile with the partners (the plan is
 * the same on every rank, so both sides stage the same tile); tile t + 1 is staged and its
 * Isend/Irecv posted before tile t is computed, and no whole vector is ever copied. A pass whose
 * one tile is the whole local vector (small states) reads v in place when v starts on a cache line.
 * Ownership: the shell context belongs to the Mat (freed by its context destroy), so a Mat that
 * outlives its QepOperator (e.g. held by an EPS) still works; op->data is a borrowed pointer.
 * Invariant: the context's coefficient tables equal op->coeffs after every setcoefficients. */
#include "shell_impl.h"

static const char *const ShellKernelTypes[]   = {"vector", "scalar", "ShellKernelType", "SHELL_KERNEL_", NULL};
static const char *const ShellDiagonalModes[] = {"auto", "table", "stored", "ShellDiagonalMode", "SHELL_DIAGONAL_", NULL};

#define SHELL_DEFAULT_TILE_BITS  16               /* staged tile of 2^16 doubles = 512 KiB: half of a 1 MiB L2 (y only streams through) */
#define SHELL_DEFAULT_CHUNK_BITS 8                /* 256 contiguous rows = 2 KiB per chunk: long enough for the prefetchers */
#define SHELL_MAX_MESSAGE        ((size_t)1 << 26) /* elements per MPI message: counts stay far below INT_MAX */
#define SHELL_LOG_MIN_BITS       14 /* QepShellMult logs products of >= 2^14 local rows: at 2^10 a product lasts ~0.4 us and the event's two clock reads added ~15 % (MatMult's own event times every product anyway) */

static PetscErrorCode ShellContextDestroy(void *ctx)
{
  QepOperator_Shell *sh = (QepOperator_Shell *)ctx;

  PetscFunctionBegin;
  if (!sh) PetscFunctionReturn(0);
  PetscCall(ShellPlanDestroy(sh));
  PetscCall(PetscFree(sh->stageraw));
  PetscCall(PetscFree(sh->requests));
  PetscCall(PetscFree(sh->slots));
  PetscCall(VecDestroy(&sh->work));
  if (sh->comm != MPI_COMM_NULL) PetscCall(PetscCommDestroy(&sh->comm));
  PetscCall(PetscFree(sh));
  PetscFunctionReturn(0);
}

static size_t TileLength(const ShellPass *pass) { return (size_t)1 << (pass->chunkbits + __builtin_popcountll(pass->outer)); }
static size_t MessageCount(size_t len) { return (len + SHELL_MAX_MESSAGE - 1) / SHELL_MAX_MESSAGE; }
/* The requests of buffer set b: a receive and a send per source and message of a full slot. */
static MPI_Request *RequestsOf(QepOperator_Shell *sh, int b) { return sh->requests + (size_t)b * 2 * (size_t)sh->nsources * MessageCount((size_t)1 << sh->maxtilebits); }

/* Stages tile t of v into buffer set b (slot 0) and posts the swaps of that slot with every remote
 * source of the pass (their copies land in slot source); *nreq receives the requests posted. */
static PetscErrorCode PostTile(QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, const PetscScalar *v, int b, PetscMPIInt *nreq)
{
  const size_t len = TileLength(pass), slot = (size_t)1 << sh->maxtilebits;
  PetscScalar *own = sh->stage[b];
  MPI_Request *req = RequestsOf(sh, b);

  PetscFunctionBegin;
  ShellStageTile(sh, pass, t, v, own);
  *nreq = 0;
  for (PetscInt L = 0; L < pass->nlayers; L++) {
    const PetscInt    s       = pass->layers[L].source;
    const PetscMPIInt partner = sh->sources[s].partner;
    if (s == 0) continue;
    for (size_t off = 0; off < len; off += SHELL_MAX_MESSAGE) {
      PetscMPIInt count = (PetscMPIInt)PetscMin(SHELL_MAX_MESSAGE, len - off);
      PetscCallMPI(MPI_Irecv(own + s * slot + off, count, MPIU_SCALAR, partner, 0, sh->comm, &req[(*nreq)++]));
      PetscCallMPI(MPI_Isend(own + off, count, MPIU_SCALAR, partner, 0, sh->comm, &req[(*nreq)++]));
    }
  }
  PetscFunctionReturn(0);
}

/* Waits for the swaps of buffer set b (time logged as QepShellExchange). */
static PetscErrorCode WaitTile(QepOperator_Shell *sh, int b, PetscMPIInt nreq)
{
  PetscFunctionBegin;
  if (!nreq) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(QEP_ShellExchange, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(nreq, RequestsOf(sh, b), MPI_STATUSES_IGNORE));
  PetscCall(PetscLogEventEnd(QEP_ShellExchange, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscBool PassIsLocal(const ShellPass *pass)
{
  for (PetscInt L = 0; L < pass->nlayers; L++)
    if (pass->layers[L].source != 0) return PETSC_FALSE;
  return PETSC_TRUE;
}

/* A pass whose one tile is the whole local vector in row order (pass->whole) reads v itself, as
 * staging would only copy it, when the kernel can: the vector kernel needs v on a cache line. */
static PetscBool PassReadsDirectly(const QepOperator_Shell *sh, const ShellPass *pass, const PetscScalar *v)
{
  if (!pass->whole) return PETSC_FALSE;
  return sh->kernel == SHELL_KERNEL_SCALAR || ((uintptr_t)v & (SHELL_CACHE_LINE - 1)) == 0 ? PETSC_TRUE : PETSC_FALSE;
}

/* One pass over all tiles. A local pass stages each tile right before it is used (two staged
 * tiles would not fit in L2 together); a pass with remote groups posts tile t + 1 before
 * computing tile t, so the swap travels while this rank computes. */
static PetscErrorCode ApplyPass(QepOperator_Shell *sh, const ShellPass *pass, const PetscScalar *v, PetscScalar *y, PetscBool first)
{
  const uint64_t  ntiles = ShellPassTileCount(sh, pass);
  const PetscBool local  = PassIsLocal(pass);
  PetscMPIInt     nreq[2] = {0, 0};

  PetscFunctionBegin;
  if (PassReadsDirectly(sh, pass, v)) {
    PetscScalar *const direct[1] = {(PetscScalar *)v}; /* read only */
    ShellApplyTile(sh, pass, 0, direct, y, first, NULL);
    PetscFunctionReturn(0);
  }
  if (!local) PetscCall(PostTile(sh, pass, 0, v, 0, &nreq[0]));
  for (uint64_t t = 0; t < ntiles; t++) {
    const int b = local ? 0 : (int)(t & 1);
    if (local) ShellStageTile(sh, pass, t, v, sh->stage[0]);
    else if (t + 1 < ntiles) PetscCall(PostTile(sh, pass, t + 1, v, 1 - b, &nreq[1 - b]));
    PetscCall(WaitTile(sh, b, nreq[b]));
    ShellApplyTile(sh, pass, t, sh->slots + b * sh->nsources, y, first, local && sh->prefetch ? v : NULL);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode MatMult_QepShell(Mat A, Vec v, Vec y)
{
  QepOperator_Shell *sh;
  const PetscScalar *va;
  PetscScalar       *ya;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &sh));
  if (sh->nlocal >= SHELL_LOG_MIN_BITS) PetscCall(PetscLogEventBegin(QEP_ShellMult, A, v, y, 0));
  PetscCall(VecGetArrayRead(v, &va));
  PetscCall(VecGetArrayWrite(y, &ya));
  for (PetscInt p = 0; p < sh->npasses; p++) PetscCall(ApplyPass(sh, &sh->passes[p], va, ya, p == 0 ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(VecRestoreArrayWrite(y, &ya));
  PetscCall(VecRestoreArrayRead(v, &va));
  sh->nmult++;
  PetscCall(PetscLogFlops(2.0 * (PetscLogDouble)(sh->nflips + 1) * (PetscLogDouble)((size_t)1 << sh->nlocal)));
  if (sh->nlocal >= SHELL_LOG_MIN_BITS) PetscCall(PetscLogEventEnd(QEP_ShellMult, A, v, y, 0));
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
  sh->tablebits = SHELL_MAX_TABLE_BITS;
  sh->prefetch  = PETSC_TRUE;
  PetscOptionsBegin(op->comm, op->prefix, "Matrix-free (shell) operator options", "QepOperator");
  PetscCall(PetscOptionsInt("-qep_shell_tile_bits", "log2 of the rows in one cache tile", "", sh->tilebits, &sh->tilebits, NULL));
  PetscCall(PetscOptionsInt("-qep_shell_chunk_bits", "log2 of the contiguous rows per chunk in outer-bit passes", "", sh->chunkbits, &sh->chunkbits, NULL));
  PetscCall(PetscOptionsEnum("-qep_shell_kernel", "Inner loop: vector (SIMD blocks of 8 rows, real build) or scalar", "", ShellKernelTypes, (PetscEnum)sh->kernel, (PetscEnum *)&sh->kernel, NULL));
  PetscCall(PetscOptionsInt("-qep_shell_split_bits", "Diagonal table split bit h (0: choose the one with the fewest straddling terms)", "", sh->splitbits, &sh->splitbits, NULL));
  PetscCall(PetscOptionsEnum("-qep_shell_diagonal", "Diagonal: auto, table (split lookup tables) or stored (one value per row)", "", ShellDiagonalModes, (PetscEnum)sh->diagmode, (PetscEnum *)&sh->diagmode, NULL));
  PetscCall(PetscOptionsBool("-qep_shell_prefetch", "Prefetch the next tile of a local pass while computing this one", "", sh->prefetch, &sh->prefetch, NULL));
  PetscCall(PetscOptionsInt("-qep_shell_table_bits", "Most z patterns above the lane bits per coefficient table (more split a flip group; internal, for tests)", "", sh->tablebits, &sh->tablebits, NULL));
  PetscOptionsEnd();
  PetscCheck(sh->tablebits >= 1 && sh->tablebits <= SHELL_MAX_TABLE_BITS, op->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_shell_table_bits must be in [1, %d]", SHELL_MAX_TABLE_BITS);
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

/* Two sets (double buffering) of one tile slot per source, each slot on a cache-line boundary,
 * and the requests of their swaps. */
static PetscErrorCode AllocateStaging(QepOperator_Shell *sh)
{
  const size_t slot = (size_t)1 << sh->maxtilebits, nslots = 2 * (size_t)sh->nsources;
  PetscScalar *base;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(nslots * slot + SHELL_CACHE_LINE / sizeof(PetscScalar), &sh->stageraw));
  PetscCall(PetscMalloc1(nslots, &sh->slots));
  PetscCall(PetscMalloc1(2 * nslots * MessageCount(slot), &sh->requests)); /* see RequestsOf */
  base = (PetscScalar *)(((uintptr_t)sh->stageraw + SHELL_CACHE_LINE - 1) & ~(uintptr_t)(SHELL_CACHE_LINE - 1));
  for (int b = 0; b < 2; b++) sh->stage[b] = base + (size_t)b * sh->nsources * slot;
  for (size_t k = 0; k < nslots; k++) sh->slots[k] = base + k * slot;
  PetscFunctionReturn(0);
}

/* One -info line per pass: its tile shape and which sources it reads. */
static PetscErrorCode InfoPasses(Mat A, const QepOperator_Shell *sh)
{
  PetscFunctionBegin;
  for (PetscInt p = 0; p < sh->npasses; p++) {
    const ShellPass *pass = &sh->passes[p];
    PetscInt         remote = 0, groups = 0;
    for (PetscInt L = 0; L < pass->nlayers; L++) {
      remote += pass->layers[L].source != 0;
      groups += pass->layers[L].segstart[pass->layers[L].nseg] - pass->layers[L].g0;
    }
    PetscCall(PetscInfo(A, "shell pass %" PetscInt_FMT ": %d chunk bits + %d outer bits, %" PetscInt_FMT " groups, %" PetscInt_FMT " partner source(s)%s\n", p, pass->chunkbits, __builtin_popcountll(pass->outer), groups,
                        remote, pass->nlayers > 0 && remote == pass->nlayers ? " only" : ""));
  }
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
  PetscCall(AllocateStaging(sh));
  PetscCall(CreateShellMat(op, sh)); /* from here on the Mat owns sh */
  PetscCall(InfoPasses(op->A, sh));
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
  PetscInt           ng = sh->nflips + (sh->ndiagstrings > 0 ? 1 : 0);

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
