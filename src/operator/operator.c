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

typedef struct {
  QepFlipGroups groups;
} QepOperator_AIJ;

/* Columns of row r in ascending order, with the group each came from. */
static inline void RowColumns(const QepFlipGroups *fg, PetscInt row, PetscInt cols[], PetscInt grp[])
{
  for (PetscInt g = 0; g < fg->ngroups; g++) {
    cols[g] = (PetscInt)((uint64_t)row ^ fg->x[g]);
    grp[g]  = g;
  }
  PetscSortIntWithArray(fg->ngroups, cols, grp);
}

/* The structure in one shot: local CSR arrays with sorted global columns, handed to PETSc's
 * preallocation-from-CSR (values zero). Costs one temporary column array of the matrix's size. */
static PetscErrorCode SetUp_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;
  PetscInt         N   = (PetscInt)1 << op->nqubits, rstart, rend, nlocal = PETSC_DECIDE, ng;
  PetscInt        *ia, *ja, *grp;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsCreate(op->nstrings, op->strings, &aij->groups));
  ng = aij->groups.ngroups;
  PetscCall(PetscSplitOwnership(op->comm, &nlocal, &N));
  PetscCallMPI(MPI_Scan(&nlocal, &rend, 1, MPIU_INT, MPI_SUM, op->comm));
  rstart = rend - nlocal;
  PetscCheck((PetscLogDouble)nlocal * ng < (PetscLogDouble)PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "This rank would store %.0f nonzeros, more than a 32-bit PetscInt can index: use more ranks, -qep_operator shell, or the 64-bit-index build",
             (double)nlocal * ng);
  PetscCall(PetscMalloc3(nlocal + 1, &ia, nlocal * ng, &ja, ng, &grp));
  for (PetscInt i = 0; i <= nlocal; i++) ia[i] = i * ng;
  for (PetscInt i = 0; i < nlocal; i++) RowColumns(&aij->groups, rstart + i, ja + i * ng, grp);
  PetscCall(MatCreate(op->comm, &op->A));
  PetscCall(MatSetSizes(op->A, nlocal, nlocal, N, N));
  PetscCall(MatSetType(op->A, MATAIJ));
  if (op->prefix) PetscCall(MatSetOptionsPrefix(op->A, op->prefix));
  PetscCall(MatSeqAIJSetPreallocationCSR(op->A, ia, ja, NULL));
  PetscCall(MatMPIAIJSetPreallocationCSR(op->A, ia, ja, NULL));
  PetscCall(PetscFree3(ia, ja, grp));
  PetscCall(MatSetOption(op->A, MAT_NEW_NONZERO_LOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(op->A, MAT_HERMITIAN, PETSC_TRUE));
#if !defined(PETSC_USE_COMPLEX)
  PetscCall(MatSetOption(op->A, MAT_SYMMETRIC, PETSC_TRUE));
#endif
  PetscFunctionReturn(0);
}

/* Writes every value in place, row by row, straight into the diagonal and off-diagonal blocks. A
 * row's entries in each block are stored in ascending global column order (the off-diagonal
 * block's compressed columns keep the global order), so walking the row's sorted columns and
 * sending each value to its block visits the storage sequentially. */
static PetscErrorCode SetCoefficients_AIJ(QepOperator op)
{
  QepOperator_AIJ     *aij = (QepOperator_AIJ *)op->data;
  const QepFlipGroups *fg  = &aij->groups;
  PetscInt             rstart, rend, ng = fg->ngroups, *cols, *grp, nd = 0, no = 0, nd_total, no_total = 0;
  PetscScalar         *ad, *ao = NULL;
  Mat                  Ad, Ao = NULL;
  PetscBool            mpi;
  MatInfo              info;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsSetWeights(&aij->groups, op->strings, op->coeffs));
  PetscCall(MatGetOwnershipRange(op->A, &rstart, &rend));
  PetscCall(PetscObjectTypeCompare((PetscObject)op->A, MATMPIAIJ, &mpi));
  if (mpi) PetscCall(MatMPIAIJGetSeqAIJ(op->A, &Ad, &Ao, NULL));
  else Ad = op->A;
  PetscCall(MatGetInfo(Ad, MAT_LOCAL, &info));
  nd_total = (PetscInt)info.nz_used;
  if (Ao) {
    PetscCall(MatGetInfo(Ao, MAT_LOCAL, &info));
    no_total = (PetscInt)info.nz_used;
    PetscCall(MatSeqAIJGetArrayWrite(Ao, &ao));
  }
  PetscCall(MatSeqAIJGetArrayWrite(Ad, &ad));
  PetscCall(PetscMalloc2(ng, &cols, ng, &grp));
  for (PetscInt r = rstart; r < rend; r++) {
    RowColumns(fg, r, cols, grp);
    for (PetscInt j = 0; j < ng; j++) {
      PetscScalar v = QepFlipGroupElement(fg, grp[j], (uint64_t)cols[j]);
      if (cols[j] >= rstart && cols[j] < rend) ad[nd++] = v;
      else ao[no++] = v;
    }
  }
  PetscCall(PetscFree2(cols, grp));
  PetscCall(MatSeqAIJRestoreArrayWrite(Ad, &ad));
  if (Ao) PetscCall(MatSeqAIJRestoreArrayWrite(Ao, &ao));
  PetscCheck(nd == nd_total && no == no_total, PETSC_COMM_SELF, PETSC_ERR_PLIB, "aij value update wrote %" PetscInt_FMT "+%" PetscInt_FMT " entries into %" PetscInt_FMT "+%" PetscInt_FMT " slots",
             nd, no, nd_total, no_total);
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
  PetscCall(QepFlipGroupsDestroy(&aij->groups));
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
