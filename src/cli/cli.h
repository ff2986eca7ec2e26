/* cli.h — the `qep` command-line driver: one function per subcommand, public API only. */
#pragma once
#include <qep/qep.h>

PetscErrorCode QepCliGround(MPI_Comm comm);
PetscErrorCode QepCliGradient(MPI_Comm comm);
PetscErrorCode QepCliTrain(MPI_Comm comm);
PetscErrorCode QepCliShots(MPI_Comm comm);
/* Parses a comma-separated list of reals from option `name` into a PetscMalloc'ed array (NULL, 0 if absent). */
PetscErrorCode QepCliGetRealList(const char name[], const char help[], PetscReal **values, PetscInt *n);
/* Writes the fields every JSON summary shares: command, versions, ranks, scalar type, all options. */
PetscErrorCode QepCliJSONHeader(QepJSON json, MPI_Comm comm, const char command[]);
/* One example of a model from -qep_input (input features) and -qep_target (one per output), checked against the model. */
PetscErrorCode QepCliReadExample(MPI_Comm comm, QepModel model, PetscReal **x, PetscReal **y);
/* PETSC_TRUE when -qep_model names an oscillator network (qho): the subcommands dispatch on it. */
PetscErrorCode QepCliIsOscillatorModel(PetscBool *qho);
