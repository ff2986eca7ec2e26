/* generate.c — what the spin generators (src/model/generators.c) and the oscillator generators
 * (src/qho/generators.c) share: the bond lists of their lattices and the description text.
 * Invariant: every bond is stored as bi < bj, and each builder appends its bonds in one fixed order
 * (so generated coefficients, drawn per bond index, do not depend on anything else). The caller
 * sizes bi and bj; the builders never allocate and never fail. */
#include "qepimpl.h"
#include <stdarg.h>

void QepBondsAdd(QepBonds *b, PetscInt i, PetscInt j)
{
  b->bi[b->nbonds] = PetscMin(i, j);
  b->bj[b->nbonds] = PetscMax(i, j);
  b->nbonds++;
}

/* i -- i+1 for i = 0..n-2, then n-1 -- 0 for a ring. */
void QepBondsChain(QepBonds *b, PetscInt n, PetscBool ring)
{
  for (PetscInt i = 0; i + 1 < n; i++) QepBondsAdd(b, i, i + 1);
  if (ring) QepBondsAdd(b, n - 1, 0);
}

void QepBondsComplete(QepBonds *b, PetscInt n)
{
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = i + 1; j < n; j++) QepBondsAdd(b, i, j);
}

/* For each site x + lx*y in order, its +x then its +y neighbour. A wrap bond exists only where the
   extent is >= 3; for extent 2 it would repeat the open bond. */
void QepBondsSquare(QepBonds *b, PetscInt lx, PetscInt ly, PetscBool periodic)
{
  for (PetscInt y = 0; y < ly; y++)
    for (PetscInt x = 0; x < lx; x++) {
      PetscInt s = x + lx * y;
      if (x + 1 < lx) QepBondsAdd(b, s, s + 1);
      else if (periodic && lx >= 3) QepBondsAdd(b, s, lx * y);
      if (y + 1 < ly) QepBondsAdd(b, s, s + lx);
      else if (periodic && ly >= 3) QepBondsAdd(b, s, x);
    }
}

/* Every site of layer l couples to every site of layer l+1, layer by layer. */
void QepBondsLayered(QepBonds *b, PetscInt nlayers, const PetscInt layers[])
{
  PetscInt first = 0;
  for (PetscInt l = 0; l + 1 < nlayers; l++) {
    PetscInt next = first + layers[l];
    for (PetscInt i = first; i < next; i++)
      for (PetscInt j = next; j < next + layers[l + 1]; j++) QepBondsAdd(b, i, j);
    first = next;
  }
}

/* C's own %g on purpose: PETSc's adds a trailing '.' to whole numbers ("J=1." instead of "J=1"). */
void QepAppendFormat(char buf[], size_t len, const char fmt[], ...)
{
  size_t  used = strlen(buf);
  va_list ap;

  if (used + 1 >= len) return;
  va_start(ap, fmt);
  (void)vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}
