/* operator.c — QepOperator life cycle (common to all types) and the assembled MPIAIJ type.
 * aij invariant: every local row r holds exactly one entry per flip group, at column r ^ x_g (the
 * diagonal included even when it is zero), so the nonzero structure never depends on the values
 * and coefficient updates rewrite the stored values in place (MAT_NEW_NONZERO_LOCATION_ERR guards
 * against any path that would add entries). */
#include "operatorimpl.h"

const char *const QepOperatorTypes[] = {"aij", "shell", "QepOperatorType", "QEP_OPERATOR_", NULL};

PetscErrorCode QepOperatorCreate(MPI_Comm comm, QepOperator *op)
{
  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(op));
  (*op)->comm = comm;
  (*op)->type = QEP_OPERATOR_AIJ;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorDestroy(QepOperator *op)
{
  PetscFunctionBegin;
  if (!*op) PetscFunctionReturn(0);
  if ((*op)->ops.destroy) PetscCall((*op)->ops.destroy(*op));
  PetscCall(MatDestroy(&(*op)->A));
  PetscCall(PetscFree((*op)->strings));
  PetscCall(PetscFree((*op)->coeffs));
  PetscCall(PetscFree((*op)->prefix));
  PetscCall(PetscFree(*op));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetStrings(QepOperator op, PetscInt nqubits, PetscInt nstrings, const QepPauli strings[])
{
  PetscFunctionBegin;
  PetscCheck(!op->setup, op->comm, PETSC_ERR_ORDER, "The strings of an operator are fixed once it is set up");
  PetscCheck(nqubits >= 1 && nqubits <= QepMaxQubits(), op->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Operator on %" PetscInt_FMT " qubits; this build allows 1..%" PetscInt_FMT, nqubits, QepMaxQubits());
  for (PetscInt t = 0; t < nstrings; t++) {
    PetscCheck(QepPauliMaxQubit(strings[t]) < nqubits, op->comm, PETSC_ERR_ARG_OUTOFRANGE, "String %" PetscInt_FMT " acts outside %" PetscInt_FMT " qubits", t, nqubits);
    PetscCheck(QepIsComplexBuild() || QepPauliIsReal(strings[t]), op->comm, PETSC_ERR_SUP, "String %" PetscInt_FMT " has an odd number of Y factors; needs the complex build", t);
  }
  PetscCall(PetscFree(op->strings));
  PetscCall(PetscFree(op->coeffs));
  PetscCall(PetscMalloc1(nstrings, &op->strings));
  PetscCall(PetscCalloc1(nstrings, &op->coeffs));
  if (nstrings) PetscCall(PetscArraycpy(op->strings, strings, nstrings));
  op->nqubits  = nqubits;
  op->nstrings = nstrings;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetType(QepOperator op, QepOperatorType type)
{
  PetscFunctionBegin;
  PetscCheck(!op->setup || type == op->type, op->comm, PETSC_ERR_ORDER, "Cannot change the type of an operator after set-up");
  op->type = type;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorGetType(QepOperator op, QepOperatorType *type)
{
  PetscFunctionBegin;
  *type = op->type;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetOptionsPrefix(QepOperator op, const char prefix[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(op->prefix));
  if (prefix) PetscCall(PetscStrallocpy(prefix, &op->prefix));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetFromOptions(QepOperator op)
{
  QepOperatorType type = op->type;

  PetscFunctionBegin;
  PetscOptionsBegin(op->comm, op->prefix, "QEP Hamiltonian operator options", "QepOperator");
  PetscCall(PetscOptionsEnum("-qep_operator", "Hamiltonian storage: aij (assembled MPIAIJ) or shell (matrix-free)", "QepOperatorSetType",
                             QepOperatorTypes, (PetscEnum)type, (PetscEnum *)&type, NULL));
  PetscOptionsEnd();
  PetscCall(QepOperatorSetType(op, type));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetUp(QepOperator op)
{
  PetscFunctionBegin;
  if (op->setup) PetscFunctionReturn(0);
  PetscCheck(op->strings || op->nstrings == 0, op->comm, PETSC_ERR_ORDER, "Call QepOperatorSetStrings before QepOperatorSetUp");
  PetscCheck(op->nqubits > 0, op->comm, PETSC_ERR_ORDER, "Call QepOperatorSetStrings before QepOperatorSetUp");
  PetscCall(PetscLogEventBegin(QEP_OperatorSetUp, 0, 0, 0, 0));
  if (op->type == QEP_OPERATOR_AIJ) PetscCall(QepOperatorCreate_AIJ(op));
  else PetscCall(QepOperatorCreate_Shell(op));
  PetscCall(op->ops.setup(op));
  PetscCall(PetscLogEventEnd(QEP_OperatorSetUp, 0, 0, 0, 0));
  op->setup = PETSC_TRUE;
  PetscCall(PetscLogEventBegin(QEP_OperatorUpdate, 0, 0, 0, 0));
  PetscCall(op->ops.setcoefficients(op));
  PetscCall(PetscLogEventEnd(QEP_OperatorUpdate, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorSetCoefficients(QepOperator op, const PetscReal coeffs[])
{
  PetscFunctionBegin;
  for (PetscInt t = 0; t < op->nstrings; t++)
    PetscCheck(!PetscIsInfOrNanReal(coeffs[t]), op->comm, PETSC_ERR_FP, "Coefficient %" PetscInt_FMT " of the operator is not finite", t);
  if (op->nstrings) PetscCall(PetscArraycpy(op->coeffs, coeffs, op->nstrings));
  if (!op->setup) PetscCall(QepOperatorSetUp(op)); /* SetUp pushes the coefficients */
  else {
    PetscCall(PetscLogEventBegin(QEP_OperatorUpdate, 0, 0, 0, 0));
    PetscCall(op->ops.setcoefficients(op));
    PetscCall(PetscLogEventEnd(QEP_OperatorUpdate, 0, 0, 0, 0));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorGetMat(QepOperator op, Mat *A)
{
  PetscFunctionBegin;
  PetscCheck(op->setup, op->comm, PETSC_ERR_ORDER, "Call QepOperatorSetUp first");
  *A = op->A;
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorCreateVec(QepOperator op, Vec *v)
{
  PetscFunctionBegin;
  PetscCheck(op->setup, op->comm, PETSC_ERR_ORDER, "Call QepOperatorSetUp first");
  PetscCall(MatCreateVecs(op->A, v, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorGetInfo(QepOperator op, PetscInt *ngroups, PetscLogDouble *nnz)
{
  PetscFunctionBegin;
  PetscCheck(op->setup, op->comm, PETSC_ERR_ORDER, "Call QepOperatorSetUp first");
  PetscCall(op->ops.getinfo(op, ngroups, nnz));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- aij ---------------------------- */

/* The CSR arrays are ours and PETSc uses them in place (MatCreateMPIAIJWithSplitArrays): the
 * diagonal block with local column indices (dj), the off-diagonal block with global ones (oj, which
 * PETSc compresses in place at assembly, keeping the order). Values are rewritten in da/oa. */
typedef struct {
  PetscInt    *di, *dj, *oi, *oj;
  PetscScalar *da, *oa;
} QepCSRArrays;

typedef uint16_t QepGroupIndex; /* flip group of a stored entry; models with more groups re-sort rows instead */
#define QEP_GROUP_INDEX_MAX UINT16_MAX

typedef struct {
  QepFlipGroups  groups;
  PetscInt       rstart, rend;
  PetscInt      *di, *dj, *oi, *oj; /* borrowed from the arrays the Mat owns (see AttachArrays) */
  PetscScalar   *da, *oa;
  QepGroupIndex *dg, *og; /* flip group of every stored entry (NULL: too many groups) */
} QepOperator_AIJ;

static PetscErrorCode DestroyCSRArrays(void *ctx)
{
  QepCSRArrays *csr = (QepCSRArrays *)ctx;

  PetscFunctionBegin;
  PetscCall(PetscFree2(csr->di, csr->oi));
  PetscCall(PetscFree4(csr->dj, csr->da, csr->oj, csr->oa));
  PetscCall(PetscFree(csr));
  PetscFunctionReturn(0);
}

/* The Mat uses our arrays in place, and a solver may hold the Mat longer than the operator lives:
 * the Mat owns them through a composed container, freed when its last reference goes. */
static PetscErrorCode AttachArrays(Mat A, QepOperator_AIJ *aij)
{
  QepCSRArrays  *csr;
  PetscContainer container;

  PetscFunctionBegin;
  PetscCall(PetscNew(&csr));
  csr->di = aij->di;
  csr->dj = aij->dj;
  csr->oi = aij->oi;
  csr->oj = aij->oj;
  csr->da = aij->da;
  csr->oa = aij->oa;
  PetscCall(PetscContainerCreate(PetscObjectComm((PetscObject)A), &container));
  PetscCall(PetscContainerSetPointer(container, csr));
  PetscCall(PetscContainerSetUserDestroy(container, DestroyCSRArrays));
  PetscCall(PetscObjectCompose((PetscObject)A, "QepCSRArrays", (PetscObject)container));
  PetscCall(PetscContainerDestroy(&container));
  PetscFunctionReturn(0);
}

/* Sorts the row's columns (ascending) carrying their groups along; rows have a few dozen entries, so
 * insertion sort beats a general sort. */
static inline void RowColumns(const QepFlipGroups *fg, PetscInt row, PetscInt cols[], PetscInt grp[])
{
  for (PetscInt g = 0; g < fg->ngroups; g++) {
    PetscInt c = (PetscInt)((uint64_t)row ^ fg->x[g]), k = g;
    while (k > 0 && cols[k - 1] > c) {
      cols[k] = cols[k - 1];
      grp[k]  = grp[k - 1];
      k--;
    }
    cols[k] = c;
    grp[k]  = g;
  }
}

static PetscErrorCode AllocateCSR(QepOperator op, QepOperator_AIJ *aij)
{
  const PetscInt nlocal = aij->rend - aij->rstart, ng = aij->groups.ngroups;
  PetscInt      *cols, *grp;

  PetscFunctionBegin;
  PetscCall(PetscCalloc2(nlocal + 1, &aij->di, nlocal + 1, &aij->oi));
  PetscCall(PetscMalloc2(ng, &cols, ng, &grp));
  for (PetscInt i = 0; i < nlocal; i++) { /* count: every column r ^ x lands in exactly one block */
    PetscInt nd = 0;
    for (PetscInt g = 0; g < ng; g++) {
      PetscInt c = (PetscInt)((uint64_t)(aij->rstart + i) ^ aij->groups.x[g]);
      nd += (c >= aij->rstart && c < aij->rend);
    }
    aij->di[i + 1] = aij->di[i] + nd;
    aij->oi[i + 1] = aij->oi[i] + ng - nd;
  }
  PetscCall(PetscMalloc4(aij->di[nlocal], &aij->dj, aij->di[nlocal], &aij->da, aij->oi[nlocal] + 1, &aij->oj, aij->oi[nlocal] + 1, &aij->oa));
  if (ng <= QEP_GROUP_INDEX_MAX) PetscCall(PetscMalloc2(aij->di[nlocal], &aij->dg, aij->oi[nlocal] + 1, &aij->og));
  for (PetscInt i = 0; i < nlocal; i++) {
    PetscInt pd = aij->di[i], po = aij->oi[i];
    RowColumns(&aij->groups, aij->rstart + i, cols, grp);
    for (PetscInt j = 0; j < ng; j++) {
      if (cols[j] >= aij->rstart && cols[j] < aij->rend) {
        if (aij->dg) aij->dg[pd] = (QepGroupIndex)grp[j];
        aij->dj[pd++] = cols[j] - aij->rstart;
      } else {
        if (aij->og) aij->og[po] = (QepGroupIndex)grp[j];
        aij->oj[po++] = cols[j];
      }
    }
  }
  PetscCall(PetscArrayzero(aij->da, aij->di[nlocal]));
  PetscCall(PetscArrayzero(aij->oa, aij->oi[nlocal] + 1));
  PetscCall(PetscFree2(cols, grp));
  PetscFunctionReturn(0);
}

static PetscErrorCode SetUp_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;
  PetscInt         N   = (PetscInt)1 << op->nqubits, nlocal = PETSC_DECIDE, ng;
  PetscMPIInt      size;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsCreate(op->nstrings, op->strings, &aij->groups));
  ng = aij->groups.ngroups;
  PetscCall(PetscSplitOwnership(op->comm, &nlocal, &N));
  PetscCallMPI(MPI_Scan(&nlocal, &aij->rend, 1, MPIU_INT, MPI_SUM, op->comm));
  aij->rstart = aij->rend - nlocal;
  PetscCall(QepCheckMemory(op->comm, (PetscLogDouble)nlocal * ng * (sizeof(PetscInt) + sizeof(PetscScalar) + sizeof(QepGroupIndex)), "the assembled (aij) Hamiltonian"));
  {
    PetscLogDouble entries = (PetscLogDouble)nlocal * ng, most;
    PetscCallMPI(MPI_Allreduce(&entries, &most, 1, MPI_DOUBLE, MPI_MAX, op->comm));
    PetscCheck(most < (PetscLogDouble)PETSC_MAX_INT, op->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "A rank would store %.0f nonzeros, more than this build's PetscInt can index: use more ranks, -qep_operator shell, or the 64-bit-index build (-DQEP_INDEX64=ON)",
               (double)most);
  }
  PetscCall(AllocateCSR(op, aij));
  PetscCallMPI(MPI_Comm_size(op->comm, &size));
  if (size == 1) PetscCall(MatCreateSeqAIJWithArrays(op->comm, nlocal, nlocal, aij->di, aij->dj, aij->da, &op->A));
  else PetscCall(MatCreateMPIAIJWithSplitArrays(op->comm, nlocal, nlocal, N, N, aij->di, aij->dj, aij->da, aij->oi, aij->oj, aij->oa, &op->A));
  PetscCall(AttachArrays(op->A, aij));
  if (op->prefix) PetscCall(MatSetOptionsPrefix(op->A, op->prefix));
  PetscCall(MatSetOption(op->A, MAT_NEW_NONZERO_LOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(op->A, MAT_HERMITIAN, PETSC_TRUE));
#if !defined(PETSC_USE_COMPLEX)
  PetscCall(MatSetOption(op->A, MAT_SYMMETRIC, PETSC_TRUE));
#endif
  PetscFunctionReturn(0);
}

/* Rewrites every value in place from each entry's stored flip group (no sorting): entry e of row r
 * holds group g at column r ^ x_g. */
static void WriteValuesFromGroups(const QepOperator_AIJ *aij)
{
  const QepFlipGroups *fg = &aij->groups;

  for (PetscInt r = aij->rstart; r < aij->rend; r++) {
    const PetscInt i = r - aij->rstart;
    for (PetscInt e = aij->di[i]; e < aij->di[i + 1]; e++) aij->da[e] = QepFlipGroupElement(fg, aij->dg[e], (uint64_t)r ^ fg->x[aij->dg[e]]);
    for (PetscInt e = aij->oi[i]; e < aij->oi[i + 1]; e++) aij->oa[e] = QepFlipGroupElement(fg, aij->og[e], (uint64_t)r ^ fg->x[aij->og[e]]);
  }
}

/* The same without stored groups: a row's entries are stored in ascending global column order in
 * each block, so walking its sorted columns visits da/oa sequentially. */
static PetscErrorCode WriteValuesSorted(const QepOperator_AIJ *aij)
{
  const QepFlipGroups *fg = &aij->groups;
  const PetscInt       ng = fg->ngroups;
  PetscInt            *cols, *grp, pd = 0, po = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(ng, &cols, ng, &grp));
  for (PetscInt r = aij->rstart; r < aij->rend; r++) {
    RowColumns(fg, r, cols, grp);
    for (PetscInt j = 0; j < ng; j++) {
      PetscScalar v = QepFlipGroupElement(fg, grp[j], (uint64_t)cols[j]);
      if (cols[j] >= aij->rstart && cols[j] < aij->rend) aij->da[pd++] = v;
      else aij->oa[po++] = v;
    }
  }
  PetscCall(PetscFree2(cols, grp));
  PetscCheck(pd == aij->di[aij->rend - aij->rstart] && po == aij->oi[aij->rend - aij->rstart], PETSC_COMM_SELF, PETSC_ERR_PLIB, "aij value update out of step with the structure");
  PetscFunctionReturn(0);
}

static PetscErrorCode SetCoefficients_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsSetWeights(&aij->groups, op->strings, op->coeffs));
  if (aij->dg) WriteValuesFromGroups(aij);
  else PetscCall(WriteValuesSorted(aij));
  /* An (empty) assembly marks A as changed, so solvers and spectral transformations never reuse stale data. */
  PetscCall(MatAssemblyBegin(op->A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(op->A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

static PetscErrorCode GetInfo_AIJ(QepOperator op, PetscInt *ngroups, PetscLogDouble *nnz)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;
  MatInfo          info;

  PetscFunctionBegin;
  PetscCall(MatGetInfo(op->A, MAT_GLOBAL_SUM, &info));
  if (ngroups) *ngroups = aij->groups.ngroups;
  if (nnz) *nnz = info.nz_used;
  PetscFunctionReturn(0);
}

static PetscErrorCode Destroy_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;

  PetscFunctionBegin;
  if (!aij) PetscFunctionReturn(0);
  PetscCall(QepFlipGroupsDestroy(&aij->groups)); /* the CSR arrays belong to the Mat */
  PetscCall(PetscFree2(aij->dg, aij->og));
  PetscCall(PetscFree(op->data));
  PetscFunctionReturn(0);
}

PetscErrorCode QepOperatorCreate_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij;

  PetscFunctionBegin;
  PetscCall(PetscNew(&aij));
  op->data                = aij;
  op->ops.setup           = SetUp_AIJ;
  op->ops.setcoefficients = SetCoefficients_AIJ;
  op->ops.destroy         = Destroy_AIJ;
  op->ops.getinfo         = GetInfo_AIJ;
  PetscFunctionReturn(0);
}
