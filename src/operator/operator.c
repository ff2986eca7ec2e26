/* operator.c — QepOperator life cycle (common to all types) and the assembled MPIAIJ type.
 * aij invariant: every local row r holds exactly one entry per flip group, at column r ^ x_g (the
 * diagonal included even when it is zero), so the nonzero structure never depends on the values
 * and coefficient updates rewrite values in place (MAT_NEW_NONZERO_LOCATION_ERR guards this). */
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

/* Columns of local row r in ascending order with the group each came from. */
static void RowColumns(const QepFlipGroups *fg, PetscInt row, PetscInt cols[], PetscInt grp[])
{
  for (PetscInt g = 0; g < fg->ngroups; g++) {
    cols[g] = (PetscInt)((uint64_t)row ^ fg->x[g]);
    grp[g]  = g;
  }
  PetscSortIntWithArray(fg->ngroups, cols, grp);
}

static PetscErrorCode SetUp_AIJ(QepOperator op)
{
  QepOperator_AIJ *aij = (QepOperator_AIJ *)op->data;
  PetscInt         N   = (PetscInt)1 << op->nqubits, rstart, rend, nlocal = PETSC_DECIDE, ng;
  PetscInt        *d_nnz, *o_nnz, *cols, *grp;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsCreate(op->nstrings, op->strings, &aij->groups));
  ng = aij->groups.ngroups;
  PetscCall(PetscSplitOwnership(op->comm, &nlocal, &N));
  PetscCallMPI(MPI_Scan(&nlocal, &rend, 1, MPIU_INT, MPI_SUM, op->comm));
  rstart = rend - nlocal;
  PetscCall(PetscMalloc4(nlocal, &d_nnz, nlocal, &o_nnz, ng, &cols, ng, &grp));
  for (PetscInt i = 0; i < nlocal; i++) {
    PetscInt r = rstart + i;
    d_nnz[i] = o_nnz[i] = 0;
    for (PetscInt g = 0; g < ng; g++) {
      PetscInt c = (PetscInt)((uint64_t)r ^ aij->groups.x[g]);
      if (c >= rstart && c < rend) d_nnz[i]++;
      else o_nnz[i]++;
    }
  }
  PetscCall(MatCreate(op->comm, &op->A));
  PetscCall(MatSetSizes(op->A, nlocal, nlocal, N, N));
  PetscCall(MatSetType(op->A, MATAIJ));
  if (op->prefix) PetscCall(MatSetOptionsPrefix(op->A, op->prefix));
  PetscCall(MatSeqAIJSetPreallocation(op->A, 0, d_nnz));
  PetscCall(MatMPIAIJSetPreallocation(op->A, 0, d_nnz, 0, o_nnz));
  PetscCall(MatSetOption(op->A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(op->A, MAT_HERMITIAN, PETSC_TRUE));
#if !defined(PETSC_USE_COMPLEX)
  PetscCall(MatSetOption(op->A, MAT_SYMMETRIC, PETSC_TRUE));
#endif
  PetscCall(PetscFree4(d_nnz, o_nnz, cols, grp));
  PetscFunctionReturn(0);
}

/* Writes every value, row by row (one MatSetValues per row, columns sorted). */
static PetscErrorCode SetCoefficients_AIJ(QepOperator op)
{
  QepOperator_AIJ     *aij = (QepOperator_AIJ *)op->data;
  const QepFlipGroups *fg  = &aij->groups;
  PetscInt             rstart, rend, ng = fg->ngroups, *cols, *grp;
  PetscScalar         *vals;

  PetscFunctionBegin;
  PetscCall(QepFlipGroupsSetWeights(&aij->groups, op->strings, op->coeffs));
  PetscCall(MatGetOwnershipRange(op->A, &rstart, &rend));
  PetscCall(PetscMalloc3(ng, &cols, ng, &grp, ng, &vals));
  for (PetscInt r = rstart; r < rend; r++) {
    RowColumns(fg, r, cols, grp);
    for (PetscInt j = 0; j < ng; j++) vals[j] = QepFlipGroupElement(fg, grp[j], (uint64_t)cols[j]);
    PetscCall(MatSetValues(op->A, 1, &r, ng, cols, vals, INSERT_VALUES));
  }
  PetscCall(PetscFree3(cols, grp, vals));
  PetscCall(MatAssemblyBegin(op->A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(op->A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatSetOption(op->A, MAT_NEW_NONZERO_LOCATION_ERR, PETSC_TRUE));
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
