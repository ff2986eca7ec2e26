/* parameters.c — the table of named trainable parameters that the spin model (QepModel) and the
 * oscillator network (QepQho) both keep: lookup by name and checked appends.
 * Invariant: names are unique, non-empty identifiers shorter than QEP_NAME_LEN that are not input
 * names x<k>; values are finite. Each model owns its arrays; these functions only act on them. */
#include "qepimpl.h"
#include "linefile.h"

PetscErrorCode QepParameterFind(PetscInt n, const char (*names)[QEP_NAME_LEN], const char name[], PetscInt *index)
{
  PetscFunctionBegin;
  *index = -1;
  for (PetscInt k = 0; k < n; k++)
    if (!strcmp(names[k], name)) {
      *index = k;
      break;
    }
  PetscFunctionReturn(0);
}

PetscErrorCode QepParameterAppend(MPI_Comm comm, const char name[], PetscReal value, PetscBool subnormal_ok, PetscInt *n, PetscInt *alloc, char (**names)[QEP_NAME_LEN], PetscReal **values, PetscInt *index)
{
  PetscInt existing;

  PetscFunctionBegin;
  PetscCheck(name && name[0], comm, PETSC_ERR_ARG_WRONG, "Parameter name is empty");
  PetscCheck(strlen(name) < QEP_NAME_LEN, comm, PETSC_ERR_ARG_WRONG, "Parameter name '%s' is longer than %d characters", name, QEP_NAME_LEN - 1);
  PetscCheck(!QepLineIsInputToken(name), comm, PETSC_ERR_ARG_WRONG, "Parameter name '%s' is reserved: x<number> names an input feature", name);
  PetscCheck(subnormal_ok ? !PetscIsInfOrNanReal(value) : (PetscIsNormalReal(value) || value == 0.0), comm, PETSC_ERR_ARG_WRONG, "Parameter '%s' has a non-finite initial value", name);
  PetscCall(QepParameterFind(*n, (const char(*)[QEP_NAME_LEN]) * names, name, &existing));
  PetscCheck(existing < 0, comm, PETSC_ERR_ARG_WRONG, "Parameter '%s' is declared twice", name);
  if (*n == *alloc) {
    *alloc = *alloc ? 2 * *alloc : 16;
    PetscCall(PetscRealloc(sizeof(**names) * (size_t)*alloc, names));
    PetscCall(PetscRealloc(sizeof(PetscReal) * (size_t)*alloc, values));
  }
  PetscCall(PetscStrncpy((*names)[*n], name, QEP_NAME_LEN));
  (*values)[*n] = value;
  if (index) *index = *n;
  (*n)++;
  PetscFunctionReturn(0);
}
