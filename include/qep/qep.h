/* qep/qep.h — the public API of qep, Quantum Equilibrium Propagation on PETSc/SLEPc.
 * Include this one header. Call SlepcInitialize before any qep function; qep registers its
 * log events and classes on first use (QepInitializePackage). */
#pragma once
#include <qep/pauli.h>
#include <qep/model.h>
#include <qep/operator.h>
#include <qep/solver.h>
#include <qep/observe.h>
#include <qep/io.h>
#include <qep/gradient.h>
#include <qep/train.h>
#include <qep/measure.h>
#include <qep/qho.h>

#define QEP_VERSION_STRING "0.1.0"

/* Registers qep's log events (idempotent; called by every Create). */
PETSC_EXTERN PetscErrorCode QepInitializePackage(void);
/* PETSC_TRUE in the complex-scalar build (odd-Y strings allowed). */
PETSC_EXTERN PetscBool QepIsComplexBuild(void);
/* Deterministic pseudo-random double in [0,1) from a seed and a global counter (splitmix64);
 * use it wherever results must not depend on the number of ranks. */
PETSC_EXTERN double QepRandomUniform(PetscInt64 seed, PetscInt64 stream, PetscInt64 counter);
