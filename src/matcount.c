/* matcount.c — counts operator applications without PETSc's logging.
 * The solvers report matrix-vector products; reading them from the MatMult event would need the
 * default log handler on at all times, whose two clock reads and bookkeeping per event cost ~10 % of
 * a 1024-amplitude training solve. Instead QepMatCountMultiplies(A) routes A's MATOP_MULT through a
 * wrapper that adds one to QepMatvecCount and calls the type's own implementation.
 * Invariant: every Mat of one type shares one original MatMult (the table is keyed by type name),
 * and wrapping is idempotent, so a Mat handed to several solvers is counted once per product. */
#include "qepimpl.h"

#define QEP_COUNTED_TYPES 16

PetscLogDouble QepMatvecCount = 0;

typedef PetscErrorCode (*MultFn)(Mat, Vec, Vec);

static struct {
  char   type[64];
  MultFn mult;
} originals[QEP_COUNTED_TYPES];
static int noriginals = 0;

static PetscErrorCode MatMult_Counted(Mat A, Vec x, Vec y)
{
  MatType type;

  PetscFunctionBegin;
  PetscCall(MatGetType(A, &type));
  for (int i = 0; i < noriginals; i++)
    if (!strcmp(originals[i].type, type)) {
      QepMatvecCount += 1;
      PetscCall(originals[i].mult(A, x, y));
      PetscFunctionReturn(0);
    }
  SETERRQ(PetscObjectComm((PetscObject)A), PETSC_ERR_PLIB, "No MatMult recorded for matrix type %s", type);
}

PetscErrorCode QepMatCountMultiplies(Mat A)
{
  void (*f)(void) = NULL;
  MatType type;
  int     i;

  PetscFunctionBegin;
  PetscCall(MatGetOperation(A, MATOP_MULT, &f));
  if (f == (void (*)(void))MatMult_Counted) PetscFunctionReturn(0);
  PetscCheck(f, PetscObjectComm((PetscObject)A), PETSC_ERR_ARG_WRONG, "The operator has no MatMult");
  PetscCall(MatGetType(A, &type));
  for (i = 0; i < noriginals; i++)
    if (!strcmp(originals[i].type, type)) break;
  if (i == noriginals) {
    PetscCheck(noriginals < QEP_COUNTED_TYPES && strlen(type) < sizeof(originals[0].type), PETSC_COMM_SELF, PETSC_ERR_SUP, "Too many matrix types to count products of (%s)", type);
    PetscCall(PetscStrncpy(originals[i].type, type, sizeof(originals[i].type)));
    originals[i].mult = (MultFn)f;
    noriginals++;
  }
  PetscCheck(originals[i].mult == (MultFn)f, PetscObjectComm((PetscObject)A), PETSC_ERR_SUP, "Matrices of type %s with different MatMult implementations cannot be counted", type);
  PetscCall(MatSetOperation(A, MATOP_MULT, (void (*)(void))MatMult_Counted));
  PetscFunctionReturn(0);
}
