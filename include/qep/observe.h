/* qep/observe.h — expectation values <psi|P_t|psi> of many Pauli strings of a distributed state.
 *
 * A QepExpectation plan groups the strings by flip mask once. Compute makes one pass over the local
 * rows per flip group (remote amplitudes psi[r ^ x] are brought in by a VecScatter per flip mask that
 * crosses ownership ranges) and a single MPI_Allreduce of the length-T array of partial sums. */
#pragma once
#include <qep/pauli.h>
#include <petscvec.h>

typedef struct _p_QepExpectation *QepExpectation;

/* layout: any vector with the row distribution of the states that will be passed to Compute. */
PETSC_EXTERN PetscErrorCode QepExpectationCreate(Vec layout, PetscInt nstrings, const QepPauli strings[], QepExpectation *);
PETSC_EXTERN PetscErrorCode QepExpectationDestroy(QepExpectation *);
/* values[t] = <psi|P_t|psi> / <psi|psi>, identical on every rank. */
PETSC_EXTERN PetscErrorCode QepExpectationCompute(QepExpectation, Vec psi, PetscReal values[]);
/* values[t] = Re <phi|P_t|psi> (no normalisation): the transition elements of linear response. */
PETSC_EXTERN PetscErrorCode QepExpectationComputeTransition(QepExpectation, Vec phi, Vec psi, PetscReal values[]);
