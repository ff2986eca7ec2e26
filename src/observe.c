/* observe.c — expectation values of many Pauli strings of a distributed state.
 * Invariant: for every flip group either the rank's row range is closed under r -> r ^ x (aligned to
 * 2^(highest bit of x + 1), decided collectively at creation) or a VecScatter brings psi[r ^ x] for
 * every owned r. Compute makes one pass per group and one MPI_Allreduce of all partial sums. */
#include "qepimpl.h"

struct _p_QepExpectation {
  MPI_Comm      comm;
  PetscInt      nstrings;
  QepPauli     *strings;
  QepFlipGroups groups;
  PetscInt      rstart, rend;
  VecScatter   *scatter; /* [ngroups]: NULL for groups that stay local */
  Vec          *remote;  /* [ngroups]: psi[r ^ x] for owned r */
  PetscReal    *partial; /* [nstrings + 1]: the last slot holds <psi|psi> */
};

static PetscBool RangeClosedUnderFlip(PetscInt rstart, PetscInt rend, uint64_t x)
{
  uint64_t block;
  if (!x) return PETSC_TRUE;
  block = (uint64_t)1 << (64 - __builtin_clzll(x)); /* 2^(highest bit + 1) */
  return ((uint64_t)rstart % block == 0 && (uint64_t)rend % block == 0) ? PETSC_TRUE : PETSC_FALSE;
}

static PetscErrorCode CreateFlipScatter(QepExpectation e, Vec layout, uint64_t x, VecScatter *sc, Vec *remote)
{
  PetscInt n = e->rend - e->rstart, *idx;
  IS       is;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &idx));
  for (PetscInt i = 0; i < n; i++) idx[i] = (PetscInt)((uint64_t)(e->rstart + i) ^ x);
  PetscCall(ISCreateGeneral(PETSC_COMM_SELF, n, idx, PETSC_OWN_POINTER, &is));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, n, remote));
  PetscCall(VecScatterCreate(layout, is, *remote, NULL, sc));
  PetscCall(ISDestroy(&is));
  PetscFunctionReturn(0);
}

PetscErrorCode QepExpectationCreate(Vec layout, PetscInt nstrings, const QepPauli strings[], QepExpectation *plan)
{
  QepExpectation e;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&e));
  PetscCall(PetscObjectGetComm((PetscObject)layout, &e->comm));
  e->nstrings = nstrings;
  PetscCall(PetscMalloc1(nstrings, &e->strings));
  if (nstrings) PetscCall(PetscArraycpy(e->strings, strings, nstrings));
  PetscCall(QepFlipGroupsCreate(nstrings, strings, &e->groups));
  PetscCall(QepFlipGroupsSetWeights(&e->groups, strings, NULL)); /* weights i^ny: unit coefficients */
  PetscCall(VecGetOwnershipRange(layout, &e->rstart, &e->rend));
  PetscCall(PetscCalloc2(e->groups.ngroups, &e->scatter, e->groups.ngroups, &e->remote));
  PetscCall(PetscMalloc1(nstrings + 1, &e->partial));
  for (PetscInt g = 0; g < e->groups.ngroups; g++) {
    PetscBool local = RangeClosedUnderFlip(e->rstart, e->rend, e->groups.x[g]), all;
    PetscCallMPI(MPI_Allreduce(&local, &all, 1, MPIU_BOOL, MPI_LAND, e->comm));
    if (!all) PetscCall(CreateFlipScatter(e, layout, e->groups.x[g], &e->scatter[g], &e->remote[g]));
  }
  *plan = e;
  PetscFunctionReturn(0);
}

PetscErrorCode QepExpectationDestroy(QepExpectation *plan)
{
  QepExpectation e = *plan;

  PetscFunctionBegin;
  if (!e) PetscFunctionReturn(0);
  for (PetscInt g = 0; g < e->groups.ngroups; g++) {
    PetscCall(VecScatterDestroy(&e->scatter[g]));
    PetscCall(VecDestroy(&e->remote[g]));
  }
  PetscCall(PetscFree2(e->scatter, e->remote));
  PetscCall(QepFlipGroupsDestroy(&e->groups));
  PetscCall(PetscFree(e->strings));
  PetscCall(PetscFree(e->partial));
  PetscCall(PetscFree(*plan));
  PetscFunctionReturn(0);
}

#define WHT_MAX_BITS 10 /* blocks of up to 1024 rows: the transform stays in L1 */

/* Rows [i0, i0 + 2^b) of a group at once (global rows r = rstart + i0 + j aligned to 2^b): with
 * col = r ^ x, the sign of entry k is (-1)^|col_hi & z_k| (-1)^|col_lo & z_k|, so one Walsh-Hadamard
 * transform W[m] = sum_l (-1)^|l & m| u[l] of u[col_lo] = conj(bra_r) ket_col gives every entry's
 * block sum as +-W[z_k & (2^b - 1)]: b additions per row instead of one per row and entry.
 * The ket amplitude of block row j is partner[j ^ pmask]: the received copy in row order (pmask 0) or
 * the local partner block, which the flip permutes within (pmask = x's low bits). */
static void AccumulateBlockWHT(PetscInt b, uint64_t x, uint64_t r0, const PetscScalar *bra, const PetscScalar *partner, uint64_t pmask, PetscInt nk, const uint64_t *z, PetscScalar *u, PetscScalar *acc)
{
  const uint64_t B = (uint64_t)1 << b, lo = B - 1, hi = (r0 ^ x) & ~lo;

  for (uint64_t j = 0; j < B; j++) u[j ^ (x & lo)] = PetscConj(bra[j]) * partner[j ^ pmask];
  for (uint64_t h = 1; h < B; h <<= 1)
    for (uint64_t i = 0; i < B; i += 2 * h)
      for (uint64_t j = i; j < i + h; j++) {
        const PetscScalar p = u[j], q = u[j + h];
        u[j] = p + q, u[j + h] = p - q;
      }
  for (PetscInt k = 0; k < nk; k++) acc[k] += (__builtin_popcountll(hi & z[k]) & 1) ? -u[z[k] & lo] : u[z[k] & lo];
}

/* partial[t] += sum_r conj(bra_r) i^ny (-1)^|(r^x)&z| ket_{r^x} for every entry t of group g, in one
 * pass over the rows (rows outer, so a group with many strings still reads the state once).
 * flipped[i] = ket[r_i ^ x] when the flip leaves the rank, NULL otherwise. Groups with at least as
 * many entries as transform bits go block by block through AccumulateBlockWHT. */
static PetscErrorCode AccumulateGroup(QepExpectation e, PetscInt g, const PetscScalar *bra, const PetscScalar *psi, const PetscScalar *flipped)
{
  const QepFlipGroups *fg = &e->groups;
  const uint64_t       x  = fg->x[g];
  const PetscInt       n = e->rend - e->rstart, k0 = fg->start[g], nk = fg->start[g + 1] - k0;
  const uint64_t      *z  = fg->z + k0;
  PetscScalar         *acc;
  PetscInt             b  = WHT_MAX_BITS;

  PetscFunctionBegin;
  if (!nk) PetscFunctionReturn(0);
  PetscCall(PetscCalloc1(nk, &acc));
  while (b > 0 && (((uint64_t)e->rstart | (uint64_t)n) & (((uint64_t)1 << b) - 1))) b--; /* blocks aligned in global rows */
  if (nk >= b && b >= 4) {
    const uint64_t B = (uint64_t)1 << b, lo = B - 1;
    PetscScalar    u[1 << WHT_MAX_BITS];
    for (PetscInt i0 = 0; i0 < n; i0 += (PetscInt)B) {
      const uint64_t r0 = (uint64_t)(e->rstart + i0);
      if (flipped) AccumulateBlockWHT(b, x, r0, bra + i0, flipped + i0, 0, nk, z, u, acc);
      else AccumulateBlockWHT(b, x, r0, bra + i0, psi + (((r0 ^ x) & ~lo) - (uint64_t)e->rstart), x & lo, nk, z, u, acc);
    }
  } else
    for (PetscInt i = 0; i < n; i++) {
      const uint64_t    col  = (uint64_t)(e->rstart + i) ^ x;
      const PetscScalar term = PetscConj(bra[i]) * (flipped ? flipped[i] : psi[col - (uint64_t)e->rstart]);
      for (PetscInt k = 0; k < nk; k++) acc[k] += (__builtin_popcountll(col & z[k]) & 1) ? -term : term;
    }
  for (PetscInt k = 0; k < nk; k++) e->partial[fg->string[k0 + k]] += PetscRealPart(fg->weight[k0 + k] * acc[k]);
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}

/* One pass over every flip group with bra/ket arrays; remote ket amplitudes come in by scatter. */
static PetscErrorCode AccumulateAll(QepExpectation e, Vec bra, Vec ket)
{
  const PetscScalar *b, *k;

  PetscFunctionBegin;
  for (PetscInt g = 0; g < e->groups.ngroups; g++)
    if (e->scatter[g]) {
      PetscCall(VecScatterBegin(e->scatter[g], ket, e->remote[g], INSERT_VALUES, SCATTER_FORWARD));
      PetscCall(VecScatterEnd(e->scatter[g], ket, e->remote[g], INSERT_VALUES, SCATTER_FORWARD));
    }
  PetscCall(VecGetArrayRead(bra, &b));
  PetscCall(VecGetArrayRead(ket, &k));
  for (PetscInt g = 0; g < e->groups.ngroups; g++) {
    const PetscScalar *flipped = NULL;
    if (e->remote[g]) PetscCall(VecGetArrayRead(e->remote[g], &flipped));
    PetscCall(AccumulateGroup(e, g, b, k, flipped));
    if (e->remote[g]) PetscCall(VecRestoreArrayRead(e->remote[g], &flipped));
  }
  PetscCall(VecRestoreArrayRead(ket, &k));
  PetscCall(VecRestoreArrayRead(bra, &b));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckLayout(QepExpectation e, Vec v)
{
  PetscInt rstart, rend;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &rstart, &rend));
  PetscCheck(rstart == e->rstart && rend == e->rend, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "State layout differs from the one the expectation plan was made for");
  PetscFunctionReturn(0);
}

PetscErrorCode QepExpectationCompute(QepExpectation e, Vec psi, PetscReal values[])
{
  const PetscScalar *a;

  PetscFunctionBegin;
  PetscCall(CheckLayout(e, psi));
  PetscCall(PetscLogEventBegin(QEP_Expectation, 0, 0, 0, 0));
  PetscCall(PetscArrayzero(e->partial, e->nstrings + 1));
  PetscCall(VecGetArrayRead(psi, &a));
  for (PetscInt i = 0; i < e->rend - e->rstart; i++) e->partial[e->nstrings] += PetscRealPart(PetscConj(a[i]) * a[i]);
  PetscCall(VecRestoreArrayRead(psi, &a));
  PetscCall(AccumulateAll(e, psi, psi));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, e->partial, (PetscMPIInt)(e->nstrings + 1), MPIU_REAL, MPIU_SUM, e->comm));
  PetscCheck(e->partial[e->nstrings] > 0, e->comm, PETSC_ERR_ARG_WRONG, "Expectation values of a zero state");
  for (PetscInt t = 0; t < e->nstrings; t++) values[t] = e->partial[t] / e->partial[e->nstrings];
  PetscCall(PetscLogEventEnd(QEP_Expectation, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode QepExpectationComputeTransition(QepExpectation e, Vec phi, Vec psi, PetscReal values[])
{
  PetscFunctionBegin;
  PetscCall(CheckLayout(e, phi));
  PetscCall(CheckLayout(e, psi));
  PetscCall(PetscLogEventBegin(QEP_Expectation, 0, 0, 0, 0));
  PetscCall(PetscArrayzero(e->partial, e->nstrings + 1));
  PetscCall(AccumulateAll(e, phi, psi));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, e->partial, (PetscMPIInt)e->nstrings, MPIU_REAL, MPIU_SUM, e->comm));
  for (PetscInt t = 0; t < e->nstrings; t++) values[t] = e->partial[t];
  PetscCall(PetscLogEventEnd(QEP_Expectation, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
