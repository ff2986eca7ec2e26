/* shell_plan.c — the shell operator's plan: flip groups split by rank partner, cache-tiled passes,
 * the diagonal's split tables, and the in-place coefficient refresh.
 * Invariant (see shell_impl.h): every group lands in exactly one pass whose tile contains its local
 * flip mask; the plan depends only on the strings and the layout, never on the coefficients. */
#include "shell_impl.h"

#define SHELL_MAX_STRADDLE  8  /* straddling diagonal patterns cost ~1/8 op per row each; beyond this a stored d(l) (8 B/row) is cheaper */
#define SHELL_TLO_MAX_BITS  10 /* tlo is read for every block: keep it (8 KiB) in L1 */
#define SHELL_THI_MAX_BITS  22 /* thi is read once per 2^h rows; bound its memory to 32 MiB */

static inline uint64_t LowMask(int bits) { return bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1); }

/* Deposits the low bits of value into the set bits of mask (software pdep). */
static uint64_t DepositBits(uint64_t value, uint64_t mask)
{
  uint64_t out = 0;
  for (uint64_t m = mask; m; m &= m - 1, value >>= 1)
    if (value & 1) out |= m & (~m + 1);
  return out;
}

/* Extracts the bits of value selected by mask into the low bits (software pext). */
static uint64_t ExtractBits(uint64_t value, uint64_t mask)
{
  uint64_t out = 0;
  int      k   = 0;
  for (uint64_t m = mask; m; m &= m - 1, k++)
    if (value & m & (~m + 1)) out |= (uint64_t)1 << k;
  return out;
}

/* (-i)^k for the phase of a string with k Y factors. */
static PetscScalar MinusIPower(int k)
{
#if defined(PETSC_USE_COMPLEX)
  switch (k & 3) {
  case 0: return 1.0;
  case 1: return -PETSC_i;
  case 2: return -1.0;
  default: return PETSC_i;
  }
#else
  return (k & 2) ? -1.0 : 1.0; /* odd k is rejected at set-up in the real build */
#endif
}

typedef struct {
  uint64_t xrank, xloc, zloc;
  PetscInt t;
} StringKey;

static int CompareStringKey(const void *a, const void *b)
{
  const StringKey *p = (const StringKey *)a, *q = (const StringKey *)b;
  if (p->xrank != q->xrank) return p->xrank < q->xrank ? -1 : 1;
  if (p->xloc != q->xloc) return p->xloc < q->xloc ? -1 : 1;
  if (p->zloc != q->zloc) return p->zloc < q->zloc ? -1 : 1;
  return (p->t > q->t) - (p->t < q->t);
}

/* Sorts the off-diagonal strings by (rank part of x, local x, local z) and builds patterns and
 * groups in that order; records for every string its pattern and phase. Diagonal strings are listed
 * in diagstring[] with phase = sign of their rank bits. Sets sh->nsources and the source of every group. */
static PetscErrorCode BuildGroups(QepOperator op, QepOperator_Shell *sh, PetscInt **groupsource, uint64_t **sourcexrank)
{
  const uint64_t localmask = LowMask((int)sh->nlocal);
  const uint64_t rankbits  = (uint64_t)sh->rank;
  StringKey     *keys;
  PetscInt       nk = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(op->nstrings + 1, &keys));
  PetscCall(PetscMalloc2(op->nstrings + 1, &sh->strpattern, op->nstrings + 1, &sh->strphase));
  PetscCall(PetscMalloc1(op->nstrings + 1, &sh->diagstring));
  sh->ndiagstrings = 0;
  for (PetscInt t = 0; t < op->nstrings; t++) {
    QepPauli p         = op->strings[t];
    int      ranksign  = (__builtin_popcountll((p.z >> sh->nlocal) & rankbits) & 1) ? -1 : 1;
    sh->strphase[t]    = MinusIPower(QepPauliNumY(p)) * (PetscReal)ranksign;
    sh->strpattern[t]  = -1;
    if (p.x == 0) sh->diagstring[sh->ndiagstrings++] = t;
    else keys[nk++] = (StringKey){p.x >> sh->nlocal, p.x & localmask, p.z & localmask, t};
  }
  qsort(keys, (size_t)nk, sizeof(StringKey), CompareStringKey);
  PetscCall(PetscMalloc1(nk + 1, &sh->patterns));
  PetscCall(PetscMalloc1(nk + 1, &sh->groups));
  PetscCall(PetscMalloc2(nk + 1, groupsource, nk + 2, sourcexrank));
  sh->npatterns = sh->ngroups = 0;
  sh->nsources           = 1; /* the local source always exists: its first pass writes y */
  (*sourcexrank)[0]      = 0;
  for (PetscInt k = 0; k < nk; k++) {
    PetscBool newgroup = (k == 0 || keys[k].xrank != keys[k - 1].xrank || keys[k].xloc != keys[k - 1].xloc) ? PETSC_TRUE : PETSC_FALSE;
    if (keys[k].xrank != (*sourcexrank)[sh->nsources - 1]) (*sourcexrank)[sh->nsources++] = keys[k].xrank;
    if (newgroup) {
      sh->groups[sh->ngroups]            = (ShellGroup){.x = keys[k].xloc, .xv = keys[k].xloc, .p0 = sh->npatterns, .p1 = sh->npatterns, .pure = PETSC_FALSE};
      (*groupsource)[sh->ngroups++]      = sh->nsources - 1;
    }
    if (newgroup || keys[k].zloc != keys[k - 1].zloc) sh->patterns[sh->npatterns++].z = keys[k].zloc;
    sh->groups[sh->ngroups - 1].p1 = sh->npatterns;
    sh->strpattern[keys[k].t]      = sh->npatterns - 1;
  }
  for (PetscInt g = 0; g < sh->ngroups; g++) {
    ShellGroup *gr = &sh->groups[g];
    gr->pure       = (gr->p1 - gr->p0 == 1 && sh->patterns[gr->p0].z == 0) ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(0);
}

/* Greedy pass assignment for the groups gsel[0..n-1] of one source. Pass 0 is the contiguous tile
 * [0, tilebits); the rest share chunkbits low bits and collect up to tilebits - chunkbits outer bits
 * (a single wider mask gets a pass of its own with a larger tile). passof[i] receives the pass. */
static PetscErrorCode AssignPasses(const QepOperator_Shell *sh, PetscInt n, const uint64_t x[], PetscInt passof[], PetscInt *npass, uint64_t outer[])
{
  const int      b = (int)sh->tilebits, c = (int)sh->chunkbits;
  const uint64_t lowc = LowMask(c), lowb = LowMask(b);
  uint64_t       cur = 0;
  PetscInt       np  = 1;

  PetscFunctionBegin;
  outer[0] = 0;
  /* x[] is sorted ascending within a source, so masks with similar high bits are adjacent */
  for (PetscInt i = 0; i < n; i++) {
    uint64_t o = x[i] & ~lowc;
    if (!(x[i] & ~lowb)) continue;
    if (np > 1 && __builtin_popcountll(cur | o) <= b - c) cur |= o;
    else {
      if (np > 1) outer[np - 1] = cur;
      cur = o;
      np++;
    }
  }
  if (np > 1) outer[np - 1] = cur;
  for (PetscInt i = 0; i < n; i++) {
    uint64_t o = x[i] & ~lowc;
    passof[i]  = -1;
    if (!(x[i] & ~lowb)) passof[i] = 0;
    else
      for (PetscInt p = 1; p < np && passof[i] < 0; p++)
        if ((o & ~outer[p]) == 0) passof[i] = p;
    PetscCheck(passof[i] >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "shell plan: flip group not covered by any pass");
  }
  *npass = np;
  PetscFunctionReturn(0);
}

static int GroupOrderKey(const ShellGroup *g) { return (g->pure ? 0 : SHELL_LANES) + (int)(g->x & (SHELL_LANES - 1)); }

/* Builds the passes of every source and reorders groups[] into pass order (see shell_impl.h). */
static PetscErrorCode BuildPasses(QepOperator_Shell *sh, const PetscInt groupsource[], const uint64_t sourcexrank[])
{
  ShellGroup *ordered;
  PetscInt   *passof, *gsel, nordered = 0;
  uint64_t   *x, *outer;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(sh->ngroups + 1, &ordered));
  PetscCall(PetscMalloc4(sh->ngroups + 1, &passof, sh->ngroups + 1, &gsel, sh->ngroups + 1, &x, sh->ngroups + 2, &outer));
  PetscCall(PetscMalloc1(sh->ngroups + sh->nsources + 1, &sh->passes));
  PetscCall(PetscMalloc1(sh->nsources, &sh->sources));
  sh->npasses = 0;
  for (PetscInt s = 0; s < sh->nsources; s++) {
    PetscInt n = 0, np;
    for (PetscInt g = 0; g < sh->ngroups; g++)
      if (groupsource[g] == s) {
        gsel[n] = g;
        x[n++]  = sh->groups[g].x;
      }
    PetscCall(AssignPasses(sh, n, x, passof, &np, outer));
    sh->sources[s].partner = (PetscMPIInt)((uint64_t)sh->rank ^ sourcexrank[s]);
    sh->sources[s].pass0   = sh->npasses;
    for (PetscInt p = 0; p < np; p++) {
      ShellPass *pass = &sh->passes[sh->npasses];
      PetscInt   cnt  = 0;
      for (PetscInt i = 0; i < n; i++) cnt += passof[i] == p;
      if (cnt == 0 && !(s == 0 && p == 0)) continue; /* the local pass 0 runs even without flips: it writes y = D v */
      pass->chunkbits = p == 0 ? (int)PetscMin(sh->tilebits, sh->nlocal) : (int)sh->chunkbits;
      pass->outer     = outer[p];
      pass->g0        = nordered;
      pass->nseg = 0;
      for (int key = 0; key < 2 * SHELL_LANES; key++) {
        PetscInt before = nordered;
        for (PetscInt i = 0; i < n; i++)
          if (passof[i] == p && GroupOrderKey(&sh->groups[gsel[i]]) == key) ordered[nordered++] = sh->groups[gsel[i]];
        if (nordered > before) {
          pass->segkey[pass->nseg]     = key;
          pass->segstart[pass->nseg++] = before;
        }
      }
      pass->segstart[pass->nseg] = pass->g1 = nordered;
      for (PetscInt g = pass->g0; g < pass->g1; g++) {
        uint64_t x     = ordered[g].x, low = LowMask(pass->chunkbits);
        ordered[g].xv  = (x & low) | (ExtractBits(x, pass->outer) << pass->chunkbits);
      }
      sh->maxtilebits = PetscMax(sh->maxtilebits, pass->chunkbits + __builtin_popcountll(pass->outer));
      {
        PetscInt nchunk = (PetscInt)1 << __builtin_popcountll(pass->outer);
        PetscCall(PetscMalloc1(nchunk, &pass->chunkoff));
        for (PetscInt j = 0; j < nchunk; j++) pass->chunkoff[j] = DepositBits((uint64_t)j, pass->outer);
      }
      sh->npasses++;
    }
    sh->sources[s].pass1 = sh->npasses;
  }
  PetscCheck(nordered == sh->ngroups, PETSC_COMM_SELF, PETSC_ERR_PLIB, "shell plan: lost flip groups");
  if (sh->ngroups) PetscCall(PetscArraycpy(sh->groups, ordered, sh->ngroups));
  PetscCall(PetscFree(ordered));
  PetscCall(PetscFree4(passof, gsel, x, outer));
  PetscFunctionReturn(0);
}

/* Number of distinct diagonal patterns with local z bits on both sides of bit h. */
static PetscInt CountStraddles(const QepOperator_Shell *sh, const QepPauli strings[], int h, ShellPattern *out)
{
  PetscInt n = 0;
  for (PetscInt k = 0; k < sh->ndiagstrings; k++) {
    uint64_t  z   = strings[sh->diagstring[k]].z & LowMask((int)sh->nlocal);
    PetscBool dup = PETSC_FALSE;
    if (!(z & LowMask(h)) || !(z >> h)) continue;
    if (out) {
      for (PetscInt s = 0; s < n && !dup; s++) dup = out[s].z == z ? PETSC_TRUE : PETSC_FALSE;
      if (!dup) out[n].z = z;
    }
    n += !dup;
  }
  return n;
}

/* Picks the split bit h with the fewest straddling patterns (ties: the largest h within the caps),
 * the straddling pattern list, the table storage, and whether d(l) is stored instead. */
static PetscErrorCode BuildDiagonal(QepOperator op, QepOperator_Shell *sh)
{
  ShellDiagonal *d     = &sh->diag;
  const int      nloc  = (int)sh->nlocal;
  const int      hmin  = sh->splitbits ? (int)sh->splitbits : PetscMax(PetscMin(SHELL_LANE_BITS, nloc), nloc - SHELL_THI_MAX_BITS);
  const int      hmax  = sh->splitbits ? (int)sh->splitbits : PetscMax(hmin, PetscMin(nloc, SHELL_TLO_MAX_BITS));
  PetscInt       best  = PETSC_MAX_INT;
  PetscBool      store;

  PetscFunctionBegin;
  d->h = hmax;
  for (int h = hmax; h >= hmin; h--) {
    PetscInt n = CountStraddles(sh, op->strings, h, NULL);
    if (n < best) {
      best = n;
      d->h = h;
    }
  }
  PetscCall(PetscMalloc2(best + 1, &d->dpat, best + 1, &d->dcoef));
  d->nstraddle = CountStraddles(sh, op->strings, d->h, d->dpat);
  PetscCall(PetscMalloc2((size_t)1 << d->h, &d->tlo, (size_t)1 << (nloc - d->h), &d->thi));
  store = sh->diagmode == SHELL_DIAGONAL_STORED || (sh->diagmode == SHELL_DIAGONAL_AUTO && d->nstraddle > SHELL_MAX_STRADDLE) ? PETSC_TRUE : PETSC_FALSE;
  d->stored = NULL;
  if (store) PetscCall(PetscMalloc1((size_t)1 << nloc, &d->stored));
  /* diagonal strings point at their straddle slot (or -1: they live in the tables) */
  for (PetscInt k = 0; k < sh->ndiagstrings; k++) {
    PetscInt t = sh->diagstring[k];
    uint64_t z = op->strings[t].z & LowMask(nloc);
    for (PetscInt s = 0; s < d->nstraddle; s++)
      if (d->dpat[s].z == z) sh->strpattern[t] = s;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ShellPlanCreate(QepOperator op, QepOperator_Shell *sh)
{
  PetscInt *groupsource;
  uint64_t *sourcexrank;

  PetscFunctionBegin;
  PetscCall(BuildGroups(op, sh, &groupsource, &sourcexrank));
  PetscCall(BuildPasses(sh, groupsource, sourcexrank));
  PetscCall(PetscFree2(groupsource, sourcexrank));
  PetscCall(BuildDiagonal(op, sh));
  PetscCall(PetscMalloc1(sh->npatterns + 1, &sh->coef));
  PetscFunctionReturn(0);
}

PetscErrorCode ShellPlanDestroy(QepOperator_Shell *sh)
{
  PetscFunctionBegin;
  for (PetscInt p = 0; p < sh->npasses; p++) PetscCall(PetscFree(sh->passes[p].chunkoff));
  PetscCall(PetscFree(sh->passes));
  PetscCall(PetscFree(sh->sources));
  PetscCall(PetscFree(sh->patterns));
  PetscCall(PetscFree(sh->groups));
  PetscCall(PetscFree2(sh->strpattern, sh->strphase));
  PetscCall(PetscFree(sh->diagstring));
  PetscCall(PetscFree(sh->coef));
  PetscCall(PetscFree2(sh->diag.dpat, sh->diag.dcoef));
  PetscCall(PetscFree2(sh->diag.tlo, sh->diag.thi));
  PetscCall(PetscFree(sh->diag.stored));
  PetscFunctionReturn(0);
}

/* In-place Walsh-Hadamard transform: t[s] <- sum_z t[z] (-1)^popcount(s & z), 2^bits entries. */
static void WalshHadamard(PetscReal t[], int bits)
{
  const size_t n = (size_t)1 << bits;
  for (size_t half = 1; half < n; half <<= 1)
    for (size_t i = 0; i < n; i += 2 * half)
      for (size_t j = i; j < i + half; j++) {
        PetscReal a = t[j], b = t[j + half];
        t[j]        = a + b;
        t[j + half] = a - b;
      }
}

/* Diagonal tables from the coefficients: a string's weight goes to the spectrum of the half its z
 * lives in (tlo: z below h, thi: z at or above h), and one transform per table evaluates all. */
static PetscErrorCode SetDiagonalCoefficients(QepOperator_Shell *sh, const QepPauli strings[], const PetscReal coeffs[])
{
  ShellDiagonal *d    = &sh->diag;
  const int      nloc = (int)sh->nlocal, h = d->h;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(d->tlo, (size_t)1 << h));
  PetscCall(PetscArrayzero(d->thi, (size_t)1 << (nloc - h)));
  PetscCall(PetscArrayzero(d->dcoef, d->nstraddle));
  for (PetscInt k = 0; k < sh->ndiagstrings; k++) {
    PetscInt  t = sh->diagstring[k];
    uint64_t  z = strings[t].z & LowMask(nloc);
    PetscReal w = coeffs[t] * PetscRealPart(sh->strphase[t]);
    if (sh->strpattern[t] >= 0) d->dcoef[sh->strpattern[t]] += w;
    else if (!(z >> h)) d->tlo[z] += w;
    else d->thi[z >> h] += w;
  }
  WalshHadamard(d->tlo, h);
  WalshHadamard(d->thi, nloc - h);
  if (d->stored) {
    PetscReal *stored = d->stored;
    d->stored         = NULL; /* evaluate from the tables, then keep the result */
#if defined(PETSC_USE_COMPLEX)
    {
      PetscScalar *tmp;
      PetscCall(PetscMalloc1((size_t)1 << nloc, &tmp));
      ShellDiagonalFill(sh, tmp);
      for (size_t l = 0; l < (size_t)1 << nloc; l++) stored[l] = PetscRealPart(tmp[l]);
      PetscCall(PetscFree(tmp));
    }
#else
    ShellDiagonalFill(sh, stored);
#endif
    d->stored = stored;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ShellPlanSetCoefficients(QepOperator_Shell *sh, const QepPauli strings[], const PetscReal coeffs[], PetscInt nstrings)
{
  PetscFunctionBegin;
  PetscCall(PetscArrayzero(sh->coef, sh->npatterns));
  for (PetscInt t = 0; t < nstrings; t++)
    if (strings[t].x != 0) sh->coef[sh->strpattern[t]] += coeffs[t] * sh->strphase[t];
  PetscCall(SetDiagonalCoefficients(sh, strings, coeffs));
  PetscFunctionReturn(0);
}
