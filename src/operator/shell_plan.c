/* shell_plan.c — the shell operator's plan: flip groups split by source (rank partner) and by
 * coefficient-table size, cache-tiled passes whose layers mix own and partner groups, the
 * diagonal's split tables, and the in-place coefficient refresh (coef, lane tables, diagonal).
 * Invariant (see shell_impl.h): every group lands in exactly one pass whose tile contains its local
 * flip mask; the plan depends only on the strings and the layout, never on the coefficients or the
 * rank, so every rank builds the same passes and partners swap matching tiles. */
#include "shell_impl.h"
#include "qepsimd.h"

#define SHELL_MAX_STRADDLE  8  /* straddling diagonal patterns cost ~1/8 op per row each; beyond this a stored d(l) (8 B/row) is cheaper */
#define SHELL_TLO_MAX_BITS  10 /* tlo is read for every block: keep it (8 KiB) in L1 */
#define SHELL_THI_MAX_BITS  22 /* thi is read once per 2^h rows; bound its memory to 32 MiB */

static inline uint64_t LowMask(int bits) { return bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1); }

/* n reals starting on a cache line (the vector kernel reads them in whole lines): *raw is the
 * allocation to free, *aligned the array. */
static PetscErrorCode MallocLineAligned(size_t n, PetscReal **raw, PetscReal **aligned)
{
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n + SHELL_CACHE_LINE / sizeof(PetscReal), raw));
  *aligned = (PetscReal *)(((uintptr_t)*raw + SHELL_CACHE_LINE - 1) & ~(uintptr_t)(SHELL_CACHE_LINE - 1));
  PetscFunctionReturn(0);
}

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

/* Opens group number sh->ngroups with flip x of the given source, its patterns starting at the next one. */
static void OpenGroup(QepOperator_Shell *sh, uint64_t x, PetscInt source)
{
  sh->groups[sh->ngroups++] = (ShellGroup){.x = x, .xv = x, .source = source, .p0 = sh->npatterns, .p1 = sh->npatterns};
}

/* Sorts the off-diagonal strings by (rank part of x, local x, local z) and builds patterns and
 * groups in that order (a flip mask with more than tablebits high patterns continues in another
 * group with the same x); records for every string its pattern and phase. Diagonal strings are
 * listed in diagstring[] with phase = sign of their rank bits. Sets the sources. */
static PetscErrorCode BuildGroups(QepOperator op, QepOperator_Shell *sh)
{
  const uint64_t localmask = LowMask((int)sh->nlocal);
  const uint64_t rankbits  = (uint64_t)sh->rank;
  StringKey     *keys;
  uint64_t      *sourcexrank;
  PetscInt       nk = 0, nhigh = 0;

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
  PetscCall(PetscMalloc1(nk + 2, &sourcexrank));
  sh->npatterns = sh->ngroups = sh->nflips = 0;
  sh->nsources  = 1; /* the local source always exists: pass 0 stages its tiles */
  sourcexrank[0] = 0;
  for (PetscInt k = 0; k < nk; k++) {
    PetscBool newflip = (k == 0 || keys[k].xrank != keys[k - 1].xrank || keys[k].xloc != keys[k - 1].xloc) ? PETSC_TRUE : PETSC_FALSE;
    PetscBool newpat  = (newflip || keys[k].zloc != keys[k - 1].zloc) ? PETSC_TRUE : PETSC_FALSE;
    PetscBool high    = keys[k].zloc >= SHELL_LANES ? PETSC_TRUE : PETSC_FALSE;
    if (keys[k].xrank != sourcexrank[sh->nsources - 1]) sourcexrank[sh->nsources++] = keys[k].xrank;
    if (newflip) sh->nflips++, nhigh = 0;
    if (newflip || (newpat && high && nhigh == sh->tablebits)) { /* patterns are sorted: no lane-only one follows a high one */
      OpenGroup(sh, keys[k].xloc, sh->nsources - 1);
      nhigh = 0;
    }
    if (newpat) {
      sh->patterns[sh->npatterns++].z = keys[k].zloc;
      nhigh += high;
    }
    sh->groups[sh->ngroups - 1].p1 = sh->npatterns;
    sh->strpattern[keys[k].t]      = sh->npatterns - 1;
  }
  PetscCall(PetscMalloc1(sh->nsources, &sh->sources));
  for (PetscInt s = 0; s < sh->nsources; s++) sh->sources[s].partner = (PetscMPIInt)((uint64_t)sh->rank ^ sourcexrank[s]);
  PetscCall(PetscFree(sourcexrank));
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(0);
}

/* Table layout of a group with patterns pats[p0..p1-1] (see ShellGroup): which patterns are high,
 * the parities of the blocks of a step, and where its 2^nhigh lane vectors live in ftab. */
static void SetTableLayout(QepOperator_Shell *sh, ShellGroup *gr, const ShellPattern pats[], PetscInt p0, PetscInt p1)
{
  gr->nhigh = 0;
  memset(gr->kpar, 0, sizeof(gr->kpar));
  for (PetscInt p = p0; p < p1; p++) {
    uint64_t z = pats[p].z;
    if (z < SHELL_LANES) continue;
    for (int k = 0; k < SHELL_UNROLL; k++)
      if (__builtin_popcountll(((uint64_t)k << SHELL_LANE_BITS) & z) & 1) gr->kpar[k] |= (uint8_t)(1u << gr->nhigh);
    gr->zstep[gr->nhigh++] = z & ~(uint64_t)(SHELL_STEP - 1);
  }
  gr->pure = gr->nhigh == 0 ? PETSC_TRUE : PETSC_FALSE;
  gr->fofs = sh->nftab;
  sh->nftab += (PetscInt)SHELL_LANES << gr->nhigh;
}

static void SetGroupTables(QepOperator_Shell *sh)
{
  sh->nftab = 0;
  for (PetscInt g = 0; g < sh->ngroups; g++) SetTableLayout(sh, &sh->groups[g], sh->patterns, sh->groups[g].p0, sh->groups[g].p1);
}

/* Tile bits of a pass. */
static uint64_t PassTileMask(const ShellPass *pass) { return LowMask(pass->chunkbits) | pass->outer; }

/* Greedy pass assignment: pass 0 is the contiguous tile [0, tilebits); a group goes to the first
 * pass whose tile closes its flip, else widens the last pass (up to tilebits - chunkbits outer
 * bits), else opens a new one (a single wider mask gets a larger tile of its own). Groups are
 * visited local source first, so remote flips join the local passes whenever they fit. */
static PetscErrorCode AssignPasses(QepOperator_Shell *sh, PetscInt passof[])
{
  const int      b = (int)sh->tilebits, c = (int)sh->chunkbits;
  const uint64_t lowc = LowMask(c);

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(sh->ngroups + 1, &sh->passes));
  sh->npasses = 1;
  PetscCall(PetscMemzero(sh->passes, sizeof(ShellPass) * (size_t)(sh->ngroups + 1)));
  sh->passes[0].chunkbits = (int)PetscMin(sh->tilebits, sh->nlocal);
  for (PetscInt s = 0; s < sh->nsources; s++)
    for (PetscInt g = 0; g < sh->ngroups; g++) {
      const uint64_t x = sh->groups[g].x, o = x & ~lowc;
      ShellPass     *last = &sh->passes[sh->npasses - 1];
      if (sh->groups[g].source != s) continue;
      passof[g] = -1;
      for (PetscInt p = 0; p < sh->npasses && passof[g] < 0; p++)
        if (!(x & ~PassTileMask(&sh->passes[p]))) passof[g] = p;
      if (passof[g] >= 0) continue;
      if (sh->npasses > 1 && __builtin_popcountll(last->outer | o) <= b - c) last->outer |= o;
      else {
        last            = &sh->passes[sh->npasses++];
        last->chunkbits = c;
        last->outer     = o;
      }
      passof[g] = sh->npasses - 1;
    }
  PetscFunctionReturn(0);
}

/* Pure in-step group with a single flipped bit: applied with the layer's other such groups. */
static PetscBool IsFused(const ShellGroup *g) { return g->pure && g->x && g->x < SHELL_STEP && !(g->x & (g->x - 1)) ? PETSC_TRUE : PETSC_FALSE; }

/* Segment key of a group that is not fused (see shell_impl.h): pure in-step flips by their whole x
 * (the vector kernel's lane permutation and block swap are constants of the segment), the others
 * by table?, whether they permute the blocks of a step (bits 3..5) and their lane permutation x & 7. */
static int GroupOrderKey(const ShellGroup *g)
{
  int blocks = (g->x >> SHELL_LANE_BITS) & (SHELL_UNROLL - 1) ? SHELL_LANES : 0; /* chunks hold whole steps: xv has the same bits 0..5 */
  if (g->pure && g->x < SHELL_STEP) return (int)g->x;
  return SHELL_INSTEP_KEYS + (g->pure ? 0 : 2 * SHELL_LANES) + blocks + (int)(g->x & (SHELL_LANES - 1));
}

/* Appends to ordered[] the groups of pass p and source s: the fused ones by bit, then the others
 * by segment key; fills the layer. A flip mask has at most one pure group (a split one's first
 * part already holds high patterns), so a bit is fused at most once. */
static PetscErrorCode BuildLayer(const QepOperator_Shell *sh, const PetscInt passof[], PetscInt p, PetscInt s, ShellGroup ordered[], PetscInt *nordered, ShellLayer *layer)
{
  PetscFunctionBegin;
  layer->source  = s;
  layer->g0      = *nordered;
  layer->fused   = 0;
  layer->nseg    = 0;
  layer->ninstep = 0;
  for (int b = 0; b < SHELL_STEP_BITS; b++)
    for (PetscInt g = 0; g < sh->ngroups; g++)
      if (passof[g] == p && sh->groups[g].source == s && IsFused(&sh->groups[g]) && sh->groups[g].x == ((uint64_t)1 << b)) {
        PetscCheck(!(layer->fused >> b & 1), PETSC_COMM_SELF, PETSC_ERR_PLIB, "shell plan: two pure groups flip bit %d", b);
        layer->fused |= 1 << b;
        ordered[(*nordered)++] = sh->groups[g];
      }
  for (int key = 0; key < SHELL_SEGMENT_KEYS; key++) {
    PetscInt before = *nordered;
    for (PetscInt g = 0; g < sh->ngroups; g++)
      if (passof[g] == p && sh->groups[g].source == s && !IsFused(&sh->groups[g]) && GroupOrderKey(&sh->groups[g]) == key) ordered[(*nordered)++] = sh->groups[g];
    if (*nordered > before) {
      layer->ninstep += key < SHELL_INSTEP_KEYS;
      layer->segkey[layer->nseg]     = key;
      layer->segstart[layer->nseg++] = before;
    }
  }
  layer->segstart[layer->nseg] = *nordered;
  PetscFunctionReturn(0);
}

/* Builds the passes and their layers and reorders groups[] into pass order (see shell_impl.h). */
static PetscErrorCode BuildPasses(QepOperator_Shell *sh)
{
  ShellGroup *ordered;
  PetscInt   *passof, nordered = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(sh->ngroups + 1, &ordered, sh->ngroups + 1, &passof));
  PetscCall(AssignPasses(sh, passof));
  sh->maxtilebits = 0;
  for (PetscInt p = 0; p < sh->npasses; p++) {
    ShellPass *pass   = &sh->passes[p];
    PetscInt   nchunk = (PetscInt)1 << __builtin_popcountll(pass->outer), first = nordered;
    PetscCall(PetscMalloc1(sh->nsources, &pass->layers));
    for (PetscInt s = 0; s < sh->nsources; s++) {
      PetscInt before = nordered;
      PetscCall(BuildLayer(sh, passof, p, s, ordered, &nordered, &pass->layers[pass->nlayers]));
      if (nordered > before) pass->nlayers++;
    }
    for (PetscInt g = first; g < nordered; g++) {
      uint64_t x    = ordered[g].x;
      ordered[g].xv = (x & LowMask(pass->chunkbits)) | (ExtractBits(x, pass->outer) << pass->chunkbits);
    }
    sh->maxtilebits = PetscMax(sh->maxtilebits, pass->chunkbits + __builtin_popcountll(pass->outer));
    pass->whole     = pass->chunkbits == sh->nlocal && !pass->outer && (pass->nlayers == 0 || (pass->nlayers == 1 && pass->layers[0].source == 0)) ? PETSC_TRUE : PETSC_FALSE;
    PetscCall(PetscMalloc1(nchunk, &pass->chunkoff));
    for (PetscInt j = 0; j < nchunk; j++) pass->chunkoff[j] = DepositBits((uint64_t)j, pass->outer);
  }
  PetscCheck(nordered == sh->ngroups, PETSC_COMM_SELF, PETSC_ERR_PLIB, "shell plan: lost flip groups");
  if (sh->ngroups) PetscCall(PetscArraycpy(sh->groups, ordered, sh->ngroups));
  PetscCall(PetscFree2(ordered, passof));
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
  PetscCall(MallocLineAligned((size_t)1 << d->h, &d->tloraw, &d->tlo));
  PetscCall(PetscMalloc1((size_t)1 << (nloc - d->h), &d->thi));
  store = sh->diagmode == SHELL_DIAGONAL_STORED || (sh->diagmode == SHELL_DIAGONAL_AUTO && d->nstraddle > SHELL_MAX_STRADDLE) ? PETSC_TRUE : PETSC_FALSE;
  d->stored = NULL;
  if (store) PetscCall(MallocLineAligned((size_t)1 << nloc, &d->storedraw, &d->stored));
  d->direct = store ? d->stored : (d->h == nloc ? d->tlo : NULL);
  d->tabled = !store && d->nstraddle <= SHELL_MAX_TABLE_BITS && d->h >= SHELL_LANE_BITS ? PETSC_TRUE : PETSC_FALSE; /* h >= 3: every straddle is high */
  if (d->tabled) SetTableLayout(sh, &d->straddle, d->dpat, 0, d->nstraddle);
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
  PetscFunctionBegin;
  PetscCall(BuildGroups(op, sh));
  SetGroupTables(sh);
  PetscCall(BuildPasses(sh));
  PetscCall(BuildDiagonal(op, sh));
  PetscCall(PetscMalloc1(sh->npatterns + 1, &sh->coef));
  PetscCall(MallocLineAligned((size_t)sh->nftab, &sh->ftabraw, &sh->ftab));
  PetscFunctionReturn(0);
}

PetscErrorCode ShellPlanDestroy(QepOperator_Shell *sh)
{
  PetscFunctionBegin;
  for (PetscInt p = 0; p < sh->npasses; p++) {
    PetscCall(PetscFree(sh->passes[p].chunkoff));
    PetscCall(PetscFree(sh->passes[p].layers));
  }
  PetscCall(PetscFree(sh->passes));
  PetscCall(PetscFree(sh->sources));
  PetscCall(PetscFree(sh->patterns));
  PetscCall(PetscFree(sh->groups));
  PetscCall(PetscFree2(sh->strpattern, sh->strphase));
  PetscCall(PetscFree(sh->diagstring));
  PetscCall(PetscFree(sh->coef));
  PetscCall(PetscFree(sh->ftabraw));
  PetscCall(PetscFree2(sh->diag.dpat, sh->diag.dcoef));
  PetscCall(PetscFree(sh->diag.tloraw));
  PetscCall(PetscFree(sh->diag.thi));
  PetscCall(PetscFree(sh->diag.storedraw));
  PetscFunctionReturn(0);
}

/* Levels half = first, 2 first, ... of the in-place Walsh-Hadamard transform of t[0 .. n). */
static inline __attribute__((always_inline)) void WalshHadamardLevels(PetscReal t[], size_t n, size_t first)
{
  for (size_t half = first; half < n; half <<= 1)
    for (size_t i = 0; i < n; i += 2 * half)
      for (size_t j = i; j < i + half; j++) {
        PetscReal a = t[j], b = t[j + half];
        t[j]        = a + b;
        t[j + half] = a - b;
      }
}

#if defined(QEP_HAVE_V8)
/* The three lowest levels inside each 8-entry vector (a lane swap, then y + s x with s = -1 on the
 * lanes that take a - b: the same sums as the plain loop), the rest as contiguous loops the clones
 * vectorise. Coefficient refreshes run it every phase of every example, at n = 10 over 1024
 * entries: as plain loops it cost a fifth of a 10-qubit training step's products. */
QEP_CLONES static void WalshHadamardVector(double t[], int bits)
{
  const size_t  n  = (size_t)1 << bits;
  const v8d     s1 = {1, -1, 1, -1, 1, -1, 1, -1}, s2 = {1, 1, -1, -1, 1, 1, -1, -1}, s4 = {1, 1, 1, 1, -1, -1, -1, -1};

  for (size_t i = 0; i < n; i += 8) {
    v8d x = Load8(t + i);
    x     = PERMUTE8(x, 1) + s1 * x;
    x     = PERMUTE8(x, 2) + s2 * x;
    x     = PERMUTE8(x, 4) + s4 * x;
    Store8(t + i, x);
  }
  WalshHadamardLevels(t, n, 8);
}
#endif

/* In-place Walsh-Hadamard transform: t[s] <- sum_z t[z] (-1)^popcount(s & z), 2^bits entries. */
static void WalshHadamard(PetscReal t[], int bits)
{
#if defined(QEP_HAVE_V8)
  if (bits >= 3) {
    WalshHadamardVector(t, bits);
    return;
  }
#endif
  WalshHadamardLevels(t, (size_t)1 << bits, 1);
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
  if (h == nloc) { /* one thi entry: fold it in, so tlo alone is d(l) (d->direct) */
    for (size_t l = 0; l < (size_t)1 << h; l++) d->tlo[l] += d->thi[0];
    d->thi[0] = 0.0;
  }
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

/* (-1)^popcount(lane & z) */
static PetscReal LaneSign(int lane, uint64_t z) { return (__builtin_popcountll((uint64_t)lane & z) & 1) ? -1.0 : 1.0; }

/* ftab from coef: entry s of a group is sum_p a_p (-1)^popcount(lane & z_p) with the sign of high
 * pattern j flipped when bit j of s is set (the parity of the block's row & z_j). */
static void SetLaneTables(QepOperator_Shell *sh)
{
  const ShellDiagonal *d = &sh->diag;
  if (d->tabled) { /* the straddling diagonal patterns, all high */
    for (PetscInt s = 0; s < ((PetscInt)1 << d->nstraddle); s++)
      for (int lane = 0; lane < SHELL_LANES; lane++) {
        PetscReal f = 0.0;
        for (PetscInt j = 0; j < d->nstraddle; j++) f += d->dcoef[j] * LaneSign(lane, d->dpat[j].z) * (((s >> j) & 1) ? -1.0 : 1.0);
        sh->ftab[d->straddle.fofs + SHELL_LANES * s + lane] = f;
      }
  }
  for (PetscInt g = 0; g < sh->ngroups; g++) {
    const ShellGroup *gr = &sh->groups[g];
    for (PetscInt s = 0; s < ((PetscInt)1 << gr->nhigh); s++)
      for (int lane = 0; lane < SHELL_LANES; lane++) {
        PetscReal f = 0.0;
        int       j = 0;
        for (PetscInt p = gr->p0; p < gr->p1; p++) {
          uint64_t  z    = sh->patterns[p].z;
          PetscReal sign = LaneSign(lane, z);
          if (z >= SHELL_LANES && ((s >> j++) & 1)) sign = -sign;
          f += PetscRealPart(sh->coef[p]) * sign;
        }
        sh->ftab[gr->fofs + SHELL_LANES * s + lane] = f;
      }
  }
}

PetscErrorCode ShellPlanSetCoefficients(QepOperator_Shell *sh, const QepPauli strings[], const PetscReal coeffs[], PetscInt nstrings)
{
  PetscFunctionBegin;
  PetscCall(PetscArrayzero(sh->coef, sh->npatterns));
  for (PetscInt t = 0; t < nstrings; t++)
    if (strings[t].x != 0) sh->coef[sh->strpattern[t]] += coeffs[t] * sh->strphase[t];
  PetscCall(SetDiagonalCoefficients(sh, strings, coeffs));
  SetLaneTables(sh); /* read by the vector kernel only, which exists in real builds */
  PetscFunctionReturn(0);
}
