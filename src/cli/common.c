/* common.c — small helpers shared by the qep subcommands: list options and the JSON header. */
#include "cli.h"
#include <slepcsys.h>

PetscErrorCode QepCliGetRealList(const char name[], const char help[], PetscReal **values, PetscInt *n)
{
  PetscInt  max = 4096;
  PetscBool set;

  PetscFunctionBegin;
  *values = NULL;
  *n      = 0;
  PetscCall(PetscMalloc1(max, values));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "qep list options", NULL);
  PetscCall(PetscOptionsRealArray(name, help, NULL, *values, &max, &set));
  PetscOptionsEnd();
  if (!set) {
    PetscCall(PetscFree(*values));
    PetscFunctionReturn(0);
  }
  for (PetscInt i = 0; i < max; i++)
    PetscCheck(!PetscIsInfOrNanReal((*values)[i]), PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "%s: entry %" PetscInt_FMT " is not a finite number", name, i);
  *n = max;
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliJSONHeader(QepJSON json, MPI_Comm comm, const char command[])
{
  PetscMPIInt size;
  char        petsc[128], slepc[128];
  char       *opts;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscGetVersion(petsc, sizeof(petsc)));
  PetscCall(SlepcGetVersion(slepc, sizeof(slepc)));
  PetscCall(PetscOptionsGetAll(NULL, &opts));
  PetscCall(QepJSONString(json, "command", command));
  PetscCall(QepJSONString(json, "qep_version", QEP_VERSION_STRING));
  PetscCall(QepJSONString(json, "petsc_version", petsc));
  PetscCall(QepJSONString(json, "slepc_version", slepc));
  PetscCall(QepJSONString(json, "scalar", QepIsComplexBuild() ? "complex" : "real"));
  PetscCall(QepJSONInt(json, "index_bits", (PetscInt64)(8 * sizeof(PetscInt))));
  PetscCall(QepJSONInt(json, "ranks", size));
  PetscCall(QepJSONString(json, "options", opts));
  PetscCall(PetscFree(opts));
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliReadExample(MPI_Comm comm, QepModel model, PetscReal **x, PetscReal **y)
{
  PetscInt ninputs, noutputs, nx, ny;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumInputs(model, &ninputs));
  PetscCall(QepModelGetNumOutputs(model, &noutputs));
  PetscCall(QepCliGetRealList("-qep_input", "Input features x0,x1,... of the example", x, &nx));
  PetscCall(QepCliGetRealList("-qep_target", "Targets, one per model output in the model's output order", y, &ny));
  PetscCheck(nx == ninputs, comm, PETSC_ERR_USER_INPUT, "-qep_input has %" PetscInt_FMT " values but the model has %" PetscInt_FMT " input features", nx, ninputs);
  PetscCheck(ny == noutputs, comm, PETSC_ERR_USER_INPUT, "-qep_target has %" PetscInt_FMT " values but the model has %" PetscInt_FMT " outputs", ny, noutputs);
  PetscFunctionReturn(0);
}

PetscErrorCode QepCliIsOscillatorModel(PetscBool *qho)
{
  char type[64] = "";

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-qep_model", type, sizeof(type), NULL));
  PetscCall(PetscStrcmp(type, "qho", qho));
  PetscFunctionReturn(0);
}
