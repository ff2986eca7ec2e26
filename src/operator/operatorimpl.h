/* operatorimpl.h — private layout of QepOperator shared by operator.c (common + aij) and shell.c.
 * Invariant: strings[] and coeffs[] have nstrings entries and are identical on every rank; A exists
 * exactly when setup is true, and its values equal sum_t coeffs[t] P_t after every SetCoefficients. */
#pragma once
#include "qepimpl.h"

typedef struct {
  PetscErrorCode (*setup)(QepOperator);        /* build the structure, create A */
  PetscErrorCode (*setcoefficients)(QepOperator); /* push op->coeffs into A in place */
  PetscErrorCode (*destroy)(QepOperator);      /* free data (A is destroyed by the caller) */
  PetscErrorCode (*getinfo)(QepOperator, PetscInt *ngroups, PetscLogDouble *nnz);
} QepOperatorOps;

struct _p_QepOperator {
  MPI_Comm        comm;
  QepOperatorType type;
  char           *prefix;
  PetscInt        nqubits;
  PetscInt        nstrings;
  QepPauli       *strings;
  PetscReal      *coeffs;
  Mat             A;
  PetscBool       setup;
  QepOperatorOps  ops;
  void           *data; /* type-specific */
};

/* Fill op->ops and build the operator of the given type (called by QepOperatorSetUp). */
PETSC_INTERN PetscErrorCode QepOperatorCreate_AIJ(QepOperator);
PETSC_INTERN PetscErrorCode QepOperatorCreate_Shell(QepOperator);
