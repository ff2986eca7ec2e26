/* matcount.c — counts operator applications without PETSc's logging.
 * The solvers report matrix-vector products; reading them from the MatMult event would need the
 * default log handler on at all times, whose two clock reads and bookkeeping per event cost ~10 % of
 * a 1024-amplitude training solve. Instead QepMatCountMultiplies(A) routes A's MATOP_MULT through a
 * wrapper that adds one to QepMatvecCount and calls A's own implementation, kept in a container
 * composed with A (so matrices of one type with different kernels, e.g. AIJ with and without
 * inodes, are each served correctly).
 * Invariant: wrapping is idempotent (a Mat handed to several solvers is counted once per product),
 * and calling it again re-wraps a Mat whose MATOP_MULT PETSc has reset (e.g. at assembly). */
#include "qepimpl.h"

#define QEP_MULT_KEY "QepMatMultOriginal"

PetscLogDouble QepMatvecCount = 0;

typedef PetscErrorCode (*MultFn)(Mat, Vec, Vec);

/* The last Mat served and its kernel, so that a run of products on one Mat skips the composed-object
 * lookup (a string search per call, ~2 % of a 1024-amplitude product). Keyed by the object id,
 * which PETSc never reuses, so a destroyed Mat cannot be mistaken for a new one at its address. */
static PetscObjectId lastId = 0;
static MultFn        lastMult;

static PetscErrorCode OriginalMult(Mat A, MultFn *mult)
{
  PetscObjectId  id;
  PetscContainer c = NULL;
  void          *f = NULL;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetId((PetscObject)A, &id));
  if (id != lastId) {
    PetscCall(PetscObjectQuery((PetscObject)A, QEP_MULT_KEY, (PetscObject *)&c));
    PetscCheck(c, PetscObjectComm((PetscObject)A), PETSC_ERR_PLIB, "Counted MatMult without the original kernel");
    PetscCall(PetscContainerGetPointer(c, &f));
    lastId = id, lastMult = *(MultFn *)f;
  }
  *mult = lastMult;
  PetscFunctionReturn(0);
}

static PetscErrorCode MatMult_Counted(Mat A, Vec x, Vec y)
{
  MultFn mult = NULL;

  PetscFunctionBegin;
  PetscCall(OriginalMult(A, &mult));
  QepMatvecCount += 1;
  PetscCall(mult(A, x, y));
  PetscFunctionReturn(0);
}

static PetscErrorCode FreeMultFn(void *p)
{
  return PetscFree(p);
}

PetscErrorCode QepMatCountMultiplies(Mat A)
{
  void (*f)(void) = NULL;
  MultFn        *orig;
  PetscContainer c;

  PetscFunctionBegin;
  PetscCall(MatGetOperation(A, MATOP_MULT, &f));
  if (f == (void (*)(void))MatMult_Counted) PetscFunctionReturn(0);
  PetscCheck(f, PetscObjectComm((PetscObject)A), PETSC_ERR_ARG_WRONG, "The operator has no MatMult");
  PetscCall(PetscNew(&orig));
  *orig = (MultFn)f;
  PetscCall(PetscContainerCreate(PETSC_COMM_SELF, &c));
  PetscCall(PetscContainerSetPointer(c, orig));
  PetscCall(PetscContainerSetUserDestroy(c, FreeMultFn));
  PetscCall(PetscObjectCompose((PetscObject)A, QEP_MULT_KEY, (PetscObject)c)); /* replaces an earlier one */
  PetscCall(PetscContainerDestroy(&c));
  lastId = 0; /* A's kernel may have changed */
  PetscCall(MatSetOperation(A, MATOP_MULT, (void (*)(void))MatMult_Counted));
  PetscFunctionReturn(0);
}
