/* pauli.c — Pauli strings as (x, z) bit masks and Pauli sums with merged duplicates.
 * Invariant of QepPauliSum: strings[0..n) are pairwise distinct; coeffs[i] belongs to strings[i]. */
#include "qepimpl.h"

int QepPauliSetFactor(QepPauli *p, char op, int q)
{
  uint64_t bit;
  if (q < 0 || q >= QEP_PAULI_MAX_QUBITS) return 2;
  bit = (uint64_t)1 << q;
  switch (op) {
  case 'I': case 'i': return 0;
  case 'X': case 'x': case 'Y': case 'y': case 'Z': case 'z': break;
  default: return 1;
  }
  if ((p->x | p->z) & bit) return 3;
  if (op == 'X' || op == 'x' || op == 'Y' || op == 'y') p->x |= bit;
  if (op == 'Z' || op == 'z' || op == 'Y' || op == 'y') p->z |= bit;
  return 0;
}

char QepPauliGetFactor(QepPauli p, int q)
{
  int xb = (int)((p.x >> q) & 1), zb = (int)((p.z >> q) & 1);
  if (xb && zb) return 'Y';
  if (xb) return 'X';
  if (zb) return 'Z';
  return 'I';
}

void QepPauliToString(QepPauli p, char buf[], size_t len)
{
  size_t used = 0;
  if (!len) return;
  buf[0] = 0;
  if (QepPauliIsIdentity(p)) {
    snprintf(buf, len, "I");
    return;
  }
  for (int q = 0; q < QEP_PAULI_MAX_QUBITS && used < len; q++) {
    char f = QepPauliGetFactor(p, q);
    int  w;
    if (f == 'I') continue;
    w = snprintf(buf + used, len - used, used ? " %c%d" : "%c%d", f, q);
    if (w < 0) return;
    used += (size_t)w;
  }
}

void QepPauliMultiply(QepPauli a, QepPauli b, QepPauli *c, int *phase)
{
  /* P(x,z) = i^ny X^x Z^z and Z^za X^xb = (-1)^|za & xb| X^xb Z^za, hence
     P_a P_b = i^(na + nb + 2|za & xb| - nc) P_c with c = a xor b. */
  QepPauli r = {a.x ^ b.x, a.z ^ b.z};
  int      k = QepPauliNumY(a) + QepPauliNumY(b) + 2 * __builtin_popcountll(a.z & b.x) - QepPauliNumY(r);
  *c         = r;
  *phase     = ((k % 4) + 4) % 4;
}

PetscBool QepPauliCommute(QepPauli a, QepPauli b)
{
  int anti = __builtin_popcountll(a.x & b.z) + __builtin_popcountll(a.z & b.x);
  return (anti % 2) == 0 ? PETSC_TRUE : PETSC_FALSE;
}

PetscErrorCode QepPauliSumInit(QepPauliSum *s)
{
  PetscFunctionBegin;
  PetscCall(PetscMemzero(s, sizeof(*s)));
  PetscFunctionReturn(0);
}

PetscErrorCode QepPauliSumFind(const QepPauliSum *s, QepPauli p, PetscInt *index)
{
  PetscFunctionBegin;
  *index = -1;
  for (PetscInt i = 0; i < s->n; i++)
    if (QepPauliEqual(s->strings[i], p)) {
      *index = i;
      break;
    }
  PetscFunctionReturn(0);
}

PetscErrorCode QepPauliSumAdd(QepPauliSum *s, QepPauli p, PetscReal c)
{
  PetscInt i;

  PetscFunctionBegin;
  PetscCall(QepPauliSumFind(s, p, &i));
  if (i >= 0) {
    s->coeffs[i] += c;
    PetscFunctionReturn(0);
  }
  if (s->n == s->alloc) {
    PetscInt newalloc = s->alloc ? 2 * s->alloc : 8;
    PetscCall(PetscRealloc(sizeof(QepPauli) * (size_t)newalloc, &s->strings));
    PetscCall(PetscRealloc(sizeof(PetscReal) * (size_t)newalloc, &s->coeffs));
    s->alloc = newalloc;
  }
  s->strings[s->n] = p;
  s->coeffs[s->n]  = c;
  s->n++;
  PetscFunctionReturn(0);
}

PetscErrorCode QepPauliSumCopy(const QepPauliSum *src, QepPauliSum *dst)
{
  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(dst));
  for (PetscInt i = 0; i < src->n; i++) PetscCall(QepPauliSumAdd(dst, src->strings[i], src->coeffs[i]));
  PetscFunctionReturn(0);
}

PetscErrorCode QepPauliSumFree(QepPauliSum *s)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(s->strings));
  PetscCall(PetscFree(s->coeffs));
  s->n = s->alloc = 0;
  PetscFunctionReturn(0);
}
