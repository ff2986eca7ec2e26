/* test_model_read.c — reads a model through the options path (QepModelCreate + QepModelSetFromOptions,
 * i.e. -qep_model_file FILE and -qep_model_write FILE) and prints
 *     qubits N strings T params P inputs I outputs O
 * The cases of tests/modelfile.cmake use it to check the user-facing messages of bad model files
 * (qep_error_test) and the counts of good ones: with -expect "<that line>" it fails unless the
 * printed line is exactly that, so a success case checks real numbers, not only "no error". */
#include <slepcsys.h>
#include <qep/qep.h>

int main(int argc, char **argv)
{
  QepModel  m;
  PetscInt  n, nstrings, nparams, ninputs, noutputs;
  char      summary[256], expect[256];
  PetscBool has_expect;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "Reads -qep_model_file and prints its size; -expect \"<line>\" checks it"));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &m));
  PetscCall(QepModelSetFromOptions(m));
  PetscCall(QepModelGetNumQubits(m, &n));
  PetscCall(QepModelGetStrings(m, &nstrings, NULL));
  PetscCall(QepModelGetNumParameters(m, &nparams));
  PetscCall(QepModelGetNumInputs(m, &ninputs));
  PetscCall(QepModelGetNumOutputs(m, &noutputs));
  snprintf(summary, sizeof(summary), "qubits %" PetscInt_FMT " strings %" PetscInt_FMT " params %" PetscInt_FMT " inputs %" PetscInt_FMT " outputs %" PetscInt_FMT, n,
           nstrings, nparams, ninputs, noutputs);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", summary));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-expect", expect, sizeof(expect), &has_expect));
  PetscCheck(!has_expect || !strcmp(summary, expect), PETSC_COMM_WORLD, PETSC_ERR_PLIB, "Read '%s', expected '%s'", summary, expect);
  PetscCall(QepModelDestroy(&m));
  PetscCall(SlepcFinalize());
  return 0;
}
