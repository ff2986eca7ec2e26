/* qep/io.h — run summaries (JSON) and states (HDF5).
 *
 * A QepJSON accumulates a document on every rank (cheap) and rank 0 writes it atomically:
 * a temporary file in the same directory, fsync, rename. A half-written summary never exists. */
#pragma once
#include <petscvec.h>

typedef struct _p_QepJSON *QepJSON;

PETSC_EXTERN PetscErrorCode QepJSONCreate(MPI_Comm, QepJSON *);
PETSC_EXTERN PetscErrorCode QepJSONDestroy(QepJSON *);
/* Nesting: key is NULL inside arrays and for the top-level object. */
PETSC_EXTERN PetscErrorCode QepJSONBeginObject(QepJSON, const char key[]);
PETSC_EXTERN PetscErrorCode QepJSONEndObject(QepJSON);
PETSC_EXTERN PetscErrorCode QepJSONBeginArray(QepJSON, const char key[]);
PETSC_EXTERN PetscErrorCode QepJSONEndArray(QepJSON);
PETSC_EXTERN PetscErrorCode QepJSONString(QepJSON, const char key[], const char value[]);
PETSC_EXTERN PetscErrorCode QepJSONReal(QepJSON, const char key[], PetscReal value); /* non-finite -> null */
PETSC_EXTERN PetscErrorCode QepJSONInt(QepJSON, const char key[], PetscInt64 value);
PETSC_EXTERN PetscErrorCode QepJSONBool(QepJSON, const char key[], PetscBool value);
PETSC_EXTERN PetscErrorCode QepJSONWriteFile(QepJSON, const char path[]);

/* Writes (atomically) an HDF5 file holding the state as dataset "/psi" and scalar attributes
 * "energy" and "nqubits" on it. Needs PETSc built with HDF5; errors clearly otherwise. */
PETSC_EXTERN PetscErrorCode QepStateWriteHDF5(Vec psi, const char path[], PetscInt nqubits, PetscReal energy);

/* Atomic text write from rank 0: tmp file, fsync, rename. */
PETSC_EXTERN PetscErrorCode QepWriteFileAtomic(MPI_Comm, const char path[], const char text[], size_t len);
