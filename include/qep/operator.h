/* qep/operator.h — a Pauli sum sum_t c_t P_t as a distributed PETSc Mat.
 *
 * The structure (which strings may ever carry a coefficient) is fixed at SetUp; coefficients change
 * in place with QepOperatorSetCoefficients without rebuilding anything. Two types:
 *   aij   MPIAIJ, exact preallocation, filled row by row; any rank count.
 *   shell matrix-free MATSHELL applying the strings grouped by flip mask; rows are split in equal
 *         power-of-two blocks, so the rank count must be a power of two. */
#pragma once
#include <qep/pauli.h>
#include <petscmat.h>

typedef enum { QEP_OPERATOR_AIJ = 0, QEP_OPERATOR_SHELL = 1 } QepOperatorType;
PETSC_EXTERN const char *const QepOperatorTypes[];

typedef struct _p_QepOperator *QepOperator;

PETSC_EXTERN PetscErrorCode QepOperatorCreate(MPI_Comm, QepOperator *);
PETSC_EXTERN PetscErrorCode QepOperatorDestroy(QepOperator *);
/* Copies the strings; every later coefficient array is indexed like them. */
PETSC_EXTERN PetscErrorCode QepOperatorSetStrings(QepOperator, PetscInt nqubits, PetscInt nstrings, const QepPauli strings[]);
PETSC_EXTERN PetscErrorCode QepOperatorSetType(QepOperator, QepOperatorType);
PETSC_EXTERN PetscErrorCode QepOperatorGetType(QepOperator, QepOperatorType *);
PETSC_EXTERN PetscErrorCode QepOperatorSetOptionsPrefix(QepOperator, const char prefix[]);
/* -qep_operator aij|shell */
PETSC_EXTERN PetscErrorCode QepOperatorSetFromOptions(QepOperator);
/* Builds the structure; the Mat exists afterwards (with all coefficients zero until set). */
PETSC_EXTERN PetscErrorCode QepOperatorSetUp(QepOperator);
/* Sets c_t for every string, in place. Collective; coeffs identical on every rank. */
PETSC_EXTERN PetscErrorCode QepOperatorSetCoefficients(QepOperator, const PetscReal coeffs[]);
/* Borrowed reference; valid until the operator is destroyed. */
PETSC_EXTERN PetscErrorCode QepOperatorGetMat(QepOperator, Mat *);
/* A new vector with the operator's row layout (caller destroys). */
PETSC_EXTERN PetscErrorCode QepOperatorCreateVec(QepOperator, Vec *);
/* Number of stored nonzeros (aij) or of string applications per row (shell), summed over ranks. */
PETSC_EXTERN PetscErrorCode QepOperatorGetInfo(QepOperator, PetscInt *ngroups, PetscLogDouble *nnz);
