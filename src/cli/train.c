/* train.c — `qep train`: QEP training with progress lines, a CSV log of every step, atomic
 * checkpoints and a JSON summary; all of it configured through -qep_* options (see -help). */
#include "cli.h"

PetscErrorCode QepCliTrain(MPI_Comm comm)
{
  QepTrainer     trainer;
  QepTrainResult r;
  QepModel       model;
  QepQho         qho;
  PetscInt       n, np;
  PetscMPIInt    size;
  char           json[PETSC_MAX_PATH_LEN] = "";
  PetscBool      has_json;
  const char    *desc;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-qep_json", json, sizeof(json), &has_json));
  PetscCall(QepTrainerCreate(comm, &trainer));
  PetscCall(QepTrainerSetFromOptions(trainer));
  PetscCall(QepTrainerGetModel(trainer, &model));
  PetscCall(QepTrainerGetOscillators(trainer, &qho));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (model) {
    PetscCall(QepModelGetNumQubits(model, &n));
    PetscCall(QepModelGetNumParameters(model, &np));
    PetscCall(QepModelGetDescription(model, &desc));
    PetscCall(PetscPrintf(comm, "qep train: %s\n  qubits %" PetscInt_FMT ", parameters %" PetscInt_FMT ", ranks %d\n", desc, n, np, (int)size));
  } else {
    PetscCall(QepQhoGetSizes(qho, &n, &np, NULL, NULL));
    PetscCall(PetscPrintf(comm, "qep train: oscillator network\n  modes %" PetscInt_FMT ", parameters %" PetscInt_FMT ", ranks %d\n", n, np, (int)size));
  }
  PetscCall(QepTrainerRun(trainer));
  PetscCall(QepTrainerGetResult(trainer, &r));
  PetscCall(PetscPrintf(comm, "qep train: %" PetscInt_FMT " steps in %.2f s (%.3f s/step), %.4g %s\n", r.steps, r.time, r.time / PetscMax(1, r.steps), (double)r.matvecs,
                        model ? "matvecs" : "ground-state solves"));
  PetscCall(PetscPrintf(comm, "  final batch loss %.6f, test loss %.6f", (double)r.train_loss, (double)r.test_loss));
  if (r.test_accuracy >= 0) PetscCall(PetscPrintf(comm, ", test accuracy %.4f", (double)r.test_accuracy));
  PetscCall(PetscPrintf(comm, "\n"));
  if (has_json) PetscCall(QepTrainerWriteJSON(trainer, json));
  PetscCall(QepTrainerDestroy(&trainer));
  PetscFunctionReturn(0);
}
