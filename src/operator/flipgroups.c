/* flipgroups.c — strings grouped by flip mask, shared by the aij operator and the expectation plan.
 * Invariant: x[] strictly ascending with x[0] = 0; entries of group g are start[g]..start[g+1]-1 and
 * all have flip mask x[g]; weight[e] = c_t i^ny_t of the entry's string after SetWeights. */
#include "qepimpl.h"

typedef struct {
  uint64_t x;
  PetscInt t;
} XKey;

static int CompareXKey(const void *a, const void *b)
{
  const XKey *p = (const XKey *)a, *q = (const XKey *)b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->t > q->t) - (p->t < q->t);
}

PetscErrorCode QepFlipGroupsCreate(PetscInt nstrings, const QepPauli strings[], QepFlipGroups *fg)
{
  XKey    *keys;
  PetscInt g = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(fg, sizeof(*fg)));
  PetscCall(PetscMalloc1(nstrings + 1, &keys));
  for (PetscInt t = 0; t < nstrings; t++) {
    keys[t].x = strings[t].x;
    keys[t].t = t;
  }
  qsort(keys, (size_t)nstrings, sizeof(XKey), CompareXKey);
  /* at most nstrings + 1 groups (the diagonal one may be empty) */
  PetscCall(PetscMalloc2(nstrings + 1, &fg->x, nstrings + 2, &fg->start));
  PetscCall(PetscMalloc3(nstrings, &fg->string, nstrings, &fg->z, nstrings, &fg->weight));
  fg->x[0]     = 0;
  fg->start[0] = 0;
  for (PetscInt e = 0; e < nstrings; e++) {
    if (keys[e].x != fg->x[g]) {
      g++;
      fg->x[g]     = keys[e].x;
      fg->start[g] = e;
    }
    fg->string[e] = keys[e].t;
    fg->z[e]      = strings[keys[e].t].z;
    fg->weight[e] = 0.0;
  }
  fg->ngroups            = g + 1;
  fg->start[fg->ngroups] = nstrings;
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(0);
}

PetscErrorCode QepFlipGroupsSetWeights(QepFlipGroups *fg, const QepPauli strings[], const PetscReal coeffs[])
{
  PetscFunctionBegin;
  for (PetscInt e = 0; e < fg->start[fg->ngroups]; e++) {
    PetscInt t    = fg->string[e];
    fg->weight[e] = coeffs ? coeffs[t] * QepIPower(QepPauliNumY(strings[t])) : QepIPower(QepPauliNumY(strings[t]));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepFlipGroupsDestroy(QepFlipGroups *fg)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(fg->x, fg->start));
  PetscCall(PetscFree3(fg->string, fg->z, fg->weight));
  fg->ngroups = 0;
  PetscFunctionReturn(0);
}
