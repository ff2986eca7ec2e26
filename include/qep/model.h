/* qep/model.h — the symbolic model: the single source of truth for a spin system.
 *
 * H(theta, x) = sum_t c_t(theta, x) P_t over distinct Pauli strings P_t, where each coefficient is
 * affine in the trainable parameters theta_k and the input features x_i:
 *     c_t = sum over couplings (t, kind, index, factor) of factor * {1 | theta_index | x_index}.
 * A parameter may tie several strings (one coupling per string, each with its own factor).
 * Named outputs are Pauli sums. The model is identical on every rank of its communicator;
 * nothing here is distributed. Qubit count n satisfies 2 <= n <= QepMaxQubits(). */
#pragma once
#include <qep/pauli.h>

typedef enum { QEP_VAR_CONST = 0, QEP_VAR_PARAM = 1, QEP_VAR_INPUT = 2 } QepVarKind;

typedef struct {
  PetscInt   string; /* index into the model's strings */
  QepVarKind kind;
  PetscInt   index;  /* parameter or input index; ignored for QEP_VAR_CONST */
  PetscReal  factor;
} QepCoupling;

typedef struct _p_QepModel *QepModel;

/* Largest qubit count the PetscInt of this build can index (30 for 32-bit, 62 for 64-bit). */
PETSC_EXTERN PetscInt QepMaxQubits(void);

PETSC_EXTERN PetscErrorCode QepModelCreate(MPI_Comm, QepModel *);
PETSC_EXTERN PetscErrorCode QepModelDestroy(QepModel *);
/* Reads -qep_model_file FILE, or builds -qep_model tfim|xxz|heisenberg with the generator options;
 * then applies -qep_model_write FILE (writes the model as a model file). */
PETSC_EXTERN PetscErrorCode QepModelSetFromOptions(QepModel);
/* Collective. Rank 0 reads the file, every rank parses the same text; errors name file:line. */
PETSC_EXTERN PetscErrorCode QepModelReadFile(QepModel, const char path[]);
/* Parses model-file text held in memory; name is used in error messages. Collective. */
PETSC_EXTERN PetscErrorCode QepModelReadString(QepModel, const char name[], const char text[]);
/* Writes the model as a model file that QepModelReadFile reads back to the same model. Rank 0 writes atomically. */
PETSC_EXTERN PetscErrorCode QepModelWriteFile(QepModel, const char path[]);
PETSC_EXTERN PetscErrorCode QepModelView(QepModel, PetscViewer);

/* Building a model in code (the file reader and the generators use exactly these). */
PETSC_EXTERN PetscErrorCode QepModelSetNumQubits(QepModel, PetscInt n);
PETSC_EXTERN PetscErrorCode QepModelAddParameter(QepModel, const char name[], PetscReal value, PetscInt *index);
PETSC_EXTERN PetscErrorCode QepModelFindParameter(QepModel, const char name[], PetscInt *index); /* -1 if absent */
/* Adds factor * {1 | theta_index | x_index} * p to H. Odd-Y strings are rejected in the real build. */
PETSC_EXTERN PetscErrorCode QepModelAddTerm(QepModel, QepPauli p, PetscReal factor, QepVarKind kind, PetscInt index);
/* Adds factor * p to output `name` (created on first use, in order of first appearance). */
PETSC_EXTERN PetscErrorCode QepModelAddOutputTerm(QepModel, const char name[], QepPauli p, PetscReal factor);
PETSC_EXTERN PetscErrorCode QepModelSetDescription(QepModel, const char text[]);
/* Checks the finished model: qubit count in range, every string inside it, outputs non-empty. Collective. */
PETSC_EXTERN PetscErrorCode QepModelFinalize(QepModel);

/* Queries. Returned arrays are borrowed: valid until the model changes or is destroyed. */
PETSC_EXTERN PetscErrorCode QepModelGetNumQubits(QepModel, PetscInt *);
PETSC_EXTERN PetscErrorCode QepModelGetStrings(QepModel, PetscInt *nstrings, const QepPauli **strings);
PETSC_EXTERN PetscErrorCode QepModelGetCouplings(QepModel, PetscInt *ncouplings, const QepCoupling **couplings);
PETSC_EXTERN PetscErrorCode QepModelGetNumParameters(QepModel, PetscInt *);
PETSC_EXTERN PetscErrorCode QepModelGetParameterName(QepModel, PetscInt k, const char **name);
PETSC_EXTERN PetscErrorCode QepModelGetParameters(QepModel, PetscReal theta[]);
PETSC_EXTERN PetscErrorCode QepModelSetParameters(QepModel, const PetscReal theta[]);
PETSC_EXTERN PetscErrorCode QepModelGetNumInputs(QepModel, PetscInt *);
PETSC_EXTERN PetscErrorCode QepModelGetNumOutputs(QepModel, PetscInt *);
PETSC_EXTERN PetscErrorCode QepModelGetOutput(QepModel, PetscInt o, const char **name, const QepPauliSum **sum);
PETSC_EXTERN PetscErrorCode QepModelGetDescription(QepModel, const char **);
/* c_t for every string t at parameters theta (NULL: the model's current values) and inputs x (NULL: zeros). */
PETSC_EXTERN PetscErrorCode QepModelComputeCoefficients(QepModel, const PetscReal theta[], const PetscReal x[], PetscReal coeffs[]);
