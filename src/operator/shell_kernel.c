/* shell_kernel.c — the shell operator's inner loops: one tile of a pass,
 *     y (+)= sum over the pass's groups g of f_g(l) src_g[l ^ x_g]   (plus D v in the first pass),
 * reading every partner row from staged copies of the tile (the own one and, for remote groups,
 * the partner rank's), so all those reads hit cache while the tile's rows of y stream through once.
 *
 * A tile is 2^popcount(outer) chunks of 2^chunkbits contiguous rows and is closed under every flip
 * of the pass; its staged copy holds the chunks one after the other (tile-local index).
 *
 * Two kernels share that iteration:
 *   vector  (real double builds) blocks of 8 rows in GCC vector registers, 8 blocks per step with
 *           all of the pass's groups accumulated in registers. A flip of the three lane bits is a
 *           constant lane permutation; a group's coefficients for a block are one lane vector of
 *           its precomputed table ftab, picked by the parities of the block's row against the
 *           group's high z patterns (computed once per step; the per-block part is a fixed table),
 *           so a group costs one load, one permutation and one FMA per block. Compiled for
 *           AVX-512, AVX2 and baseline x86-64, picked at load time.
 *   scalar  one row at a time in PetscScalar arithmetic (the complex build, and a cross-check).
 * Invariant: both produce y exactly as the formula in shell_impl.h; neither allocates nor fails. */
#include "shell_impl.h"

static inline int Parity(uint64_t v) { return __builtin_popcountll(v) & 1; }

static uint64_t DepositBits(uint64_t value, uint64_t mask)
{
  uint64_t out = 0;
  for (uint64_t m = mask; m; m &= m - 1, value >>= 1)
    if (value & 1) out |= m & (~m + 1);
  return out;
}

/* d(l) for one local row. */
static inline PetscReal DiagonalAt(const QepOperator_Shell *sh, uint64_t l)
{
  const ShellDiagonal *d = &sh->diag;
  PetscReal            v;

  if (d->stored) return d->stored[l];
  v = d->tlo[l & ((((uint64_t)1) << d->h) - 1)] + d->thi[l >> d->h];
  for (PetscInt s = 0; s < d->nstraddle; s++) v += Parity(l & d->dpat[s].z) ? -d->dcoef[s] : d->dcoef[s];
  return v;
}

void ShellDiagonalFill(const QepOperator_Shell *sh, PetscScalar *d)
{
  const uint64_t n = (uint64_t)1 << sh->nlocal;
  for (uint64_t l = 0; l < n; l++) d[l] = DiagonalAt(sh, l);
}

/* Tiles of a pass: the local bits that are neither chunk bits nor outer bits select the tile. */
typedef struct {
  uint64_t nontile, ntiles, nchunks, chunklen;
} PassShape;

static PassShape GetPassShape(const QepOperator_Shell *sh, const ShellPass *pass)
{
  PassShape s;
  uint64_t  local = (((uint64_t)1) << sh->nlocal) - 1, chunkmask = (((uint64_t)1) << pass->chunkbits) - 1;
  s.nontile       = local & ~(chunkmask | pass->outer);
  s.ntiles        = ((uint64_t)1) << __builtin_popcountll(s.nontile);
  s.nchunks       = ((uint64_t)1) << __builtin_popcountll(pass->outer);
  s.chunklen      = chunkmask + 1;
  return s;
}

uint64_t ShellPassTileCount(const QepOperator_Shell *sh, const ShellPass *pass) { return GetPassShape(sh, pass).ntiles; }

void ShellStageTile(const QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, const PetscScalar *src, PetscScalar *tile)
{
  PassShape s    = GetPassShape(sh, pass);
  uint64_t  base = DepositBits(t, s.nontile);
  for (uint64_t j = 0; j < s.nchunks; j++) memcpy(tile + j * s.chunklen, src + (base | pass->chunkoff[j]), s.chunklen * sizeof(PetscScalar));
}

/* ------------------------------------------------------------------ scalar kernel ---------- */

static inline PetscScalar GroupCoefAt(const QepOperator_Shell *sh, const ShellGroup *g, uint64_t l)
{
  PetscScalar f = 0.0;
  for (PetscInt p = g->p0; p < g->p1; p++) f += Parity(l & sh->patterns[p].z) ? -sh->coef[p] : sh->coef[p];
  return f;
}

/* Row l of the tile, at tile-local index v. */
static inline PetscScalar RowScalar(const QepOperator_Shell *sh, const ShellPass *pass, PetscScalar *const staged[], PetscScalar acc, uint64_t l, uint64_t v)
{
  for (PetscInt L = 0; L < pass->nlayers; L++) {
    const ShellLayer  *layer = &pass->layers[L];
    const PetscScalar *src   = staged[layer->source];
    for (PetscInt g = layer->segstart[0]; g < layer->segstart[layer->nseg]; g++) acc += GroupCoefAt(sh, &sh->groups[g], l) * src[v ^ sh->groups[g].xv];
  }
  return acc;
}

static void ApplyTileScalar(const QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, PetscScalar *const staged[], PetscScalar *y, PetscBool first)
{
  PassShape s    = GetPassShape(sh, pass);
  uint64_t  base = DepositBits(t, s.nontile);
  for (uint64_t j = 0; j < s.nchunks; j++)
    for (uint64_t i = 0, l = base | pass->chunkoff[j], v = j * s.chunklen; i < s.chunklen; i++, l++, v++) y[l] = RowScalar(sh, pass, staged, first ? DiagonalAt(sh, l) * staged[0][v] : y[l], l, v);
}

/* ------------------------------------------------------------------ vector kernel ---------- */
#if !defined(PETSC_USE_COMPLEX) && defined(PETSC_USE_REAL_DOUBLE) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  #define SHELL_HAVE_VECTOR_KERNEL 1
  #define SHELL_INLINE             static inline __attribute__((always_inline))
  #define SHELL_PREFETCH_LOCALITY  2 /* prefetcht1: towards L2, the staging copy reads it from there */
  #define SHELL_CLONES             __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

  /* every helper taking or returning a vector is static and always inlined: no ABI is crossed
   * (GCC reports -Wpsabi at the end of the file, so the pragma stays in force to the end) */
  #pragma GCC diagnostic ignored "-Wpsabi"

typedef double    v8d __attribute__((vector_size(64)));
typedef double    v8du __attribute__((vector_size(64), aligned(8))); /* PETSc arrays are only 16-byte aligned */
typedef long long v8i __attribute__((vector_size(64)));

/* kLaneSign[m][lane] = (-1)^popcount(lane & m) */
static const double kLaneSign[SHELL_LANES][SHELL_LANES] = {
  {1, 1, 1, 1, 1, 1, 1, 1},     {1, -1, 1, -1, 1, -1, 1, -1}, {1, 1, -1, -1, 1, 1, -1, -1}, {1, -1, -1, 1, 1, -1, -1, 1},
  {1, 1, 1, 1, -1, -1, -1, -1}, {1, -1, 1, -1, -1, 1, -1, 1}, {1, 1, -1, -1, -1, -1, 1, 1}, {1, -1, -1, 1, -1, 1, 1, -1},
};

SHELL_INLINE v8d Load8(const double *p) { return *(const v8du *)p; }
SHELL_INLINE v8d LoadAligned8(const double *p) { return *(const v8d *)p; } /* staged tiles and ftab */
SHELL_INLINE void Store8(double *p, v8d v) { *(v8du *)p = v; }
  #define PERMUTE8(v, m) __builtin_shuffle((v), (v8i){0 ^ (m), 1 ^ (m), 2 ^ (m), 3 ^ (m), 4 ^ (m), 5 ^ (m), 6 ^ (m), 7 ^ (m)})

/* sum_p a_p (-1)^popcount((r0 + lane) & z_p) for the 8 lanes of the block starting at r0. */
SHELL_INLINE v8d SignedSum8(const ShellPattern *pat, const PetscReal *coef, PetscInt p0, PetscInt p1, uint64_t r0)
{
  v8d f = {0};
  for (PetscInt p = p0; p < p1; p++) {
    uint64_t z = pat[p].z;
    double   a = Parity(r0 & z) ? -coef[p] : coef[p];
    f += a * Load8(kLaneSign[z & (SHELL_LANES - 1)]);
  }
  return f;
}

/* Sign word of a group for the step starting at row r0: bit j = parity(r0 & z_j). */
SHELL_INLINE unsigned StepSigns(const ShellGroup *g, uint64_t r0)
{
  unsigned s = 0;
  for (int j = 0; j < g->nhigh; j++) s |= (unsigned)Parity(r0 & g->zstep[j]) << j;
  return s;
}

/* d(l) for the block at row rk; straddles from their table (sign word s) or pattern by pattern. */
SHELL_INLINE v8d Diagonal8(const ShellDiagonal *d, const double *ftab, uint64_t rk, unsigned s)
{
  v8d split;
  if (d->stored) return Load8(d->stored + rk);
  split = Load8(d->tlo + (rk & ((((uint64_t)1) << d->h) - 1))) + d->thi[rk >> d->h];
  if (d->tabled) return split + LoadAligned8(ftab + d->straddle.fofs + (s << SHELL_LANE_BITS));
  return split + SignedSum8(d->dpat, d->dcoef, 0, d->nstraddle, rk);
}


  /* All groups of a segment with lane permutation m (pure: one lane vector; table) for the SHELL_UNROLL blocks
   * of the step at tile-local v0 / row r0. Block k's partner is block k ^ m3 of the partner step. */
  #define PARTNER8(k, m) PERMUTE8(LoadAligned8(p + (((k) ^ m3) << SHELL_LANE_BITS)), m)
  #define GROUP_PROLOGUE(general) \
    const ShellGroup *gr = &groups[g]; \
    const double     *p  = src + (v0 ^ (gr->xv & ~(uint64_t)(SHELL_STEP - 1))); \
    const unsigned    m3 = general ? (unsigned)(gr->xv >> SHELL_LANE_BITS) & (SHELL_UNROLL - 1) : 0; \
    const double     *F  = ftab + gr->fofs;
  #define ACCUMULATE_PURE(m, general) \
    for (PetscInt g = g0; g < g1; g++) { \
      GROUP_PROLOGUE(general) \
      const v8d f = LoadAligned8(F); \
      for (unsigned k = 0; k < SHELL_UNROLL; k++) acc[k] += f * PARTNER8(k, m); \
    }
  #define ACCUMULATE_TABLE(m, general) \
    for (PetscInt g = g0; g < g1; g++) { \
      GROUP_PROLOGUE(general) \
      const unsigned s0 = StepSigns(gr, r0); \
      for (unsigned k = 0; k < SHELL_UNROLL; k++) acc[k] += LoadAligned8(F + ((s0 ^ gr->kpar[k]) << SHELL_LANE_BITS)) * PARTNER8(k, m); \
    }
  /* segment key = 16 table + 8 (flip touches bits 3..5) + (x & 7), see GroupOrderKey in shell_plan.c:
   * blocks are permuted only in the segments that need it, so the others index with constants */
  #define SEGMENT_CASES(M, base, general) \
  case (base) + 0: M(0, general) break; \
  case (base) + 1: M(1, general) break; \
  case (base) + 2: M(2, general) break; \
  case (base) + 3: M(3, general) break; \
  case (base) + 4: M(4, general) break; \
  case (base) + 5: M(5, general) break; \
  case (base) + 6: M(6, general) break; \
  case (base) + 7: M(7, general) break;

/* One step of one layer: every segment with its constant permutation. */
SHELL_INLINE void LayerStep(const QepOperator_Shell *sh, const ShellLayer *layer, const double *src, uint64_t v0, uint64_t r0, v8d acc[SHELL_UNROLL])
{
  const ShellGroup *groups = sh->groups;
  const double     *ftab   = sh->ftab;
  for (PetscInt s = 0; s < layer->nseg; s++) {
    const PetscInt g0 = layer->segstart[s], g1 = layer->segstart[s + 1];
    switch (layer->segkey[s]) {
      SEGMENT_CASES(ACCUMULATE_PURE, 0, 0)
      SEGMENT_CASES(ACCUMULATE_PURE, SHELL_LANES, 1)
      SEGMENT_CASES(ACCUMULATE_TABLE, 2 * SHELL_LANES, 0)
      SEGMENT_CASES(ACCUMULATE_TABLE, 3 * SHELL_LANES, 1)
    }
  }
}

/* Rows [start, start + len) of y, in which row start is at tile-local index vstart. ahead (or NULL)
 * is the same chunk of the next tile: each step asks for its lines to be brought towards L2, so
 * the next staging copy overlaps this tile's arithmetic instead of waiting for DRAM. */
SHELL_INLINE void ChunkVector(const QepOperator_Shell *sh, const ShellPass *pass, double *const staged[], uint64_t vstart, double *y, const int first, uint64_t start, uint64_t len, const double *ahead)
{
  for (uint64_t r0 = start, v0 = vstart; r0 < start + len; r0 += SHELL_STEP, v0 += SHELL_STEP) {
    v8d acc[SHELL_UNROLL];
    if (ahead)
      for (int k = 0; k < SHELL_UNROLL; k++) __builtin_prefetch(ahead + (r0 - start) + k * SHELL_LANES, 0, SHELL_PREFETCH_LOCALITY);
    if (first) {
      const ShellDiagonal *d  = &sh->diag;
      const unsigned       s0 = d->tabled ? StepSigns(&d->straddle, r0) : 0;
      for (int k = 0; k < SHELL_UNROLL; k++) acc[k] = Diagonal8(d, sh->ftab, r0 + k * SHELL_LANES, s0 ^ d->straddle.kpar[k]) * LoadAligned8(staged[0] + v0 + k * SHELL_LANES);
    } else
      for (int k = 0; k < SHELL_UNROLL; k++) acc[k] = Load8(y + r0 + k * SHELL_LANES);
    for (PetscInt L = 0; L < pass->nlayers; L++) LayerStep(sh, &pass->layers[L], staged[pass->layers[L].source], v0, r0, acc);
    for (int k = 0; k < SHELL_UNROLL; k++) Store8(y + r0 + k * SHELL_LANES, acc[k]);
  }
}

SHELL_CLONES static void ApplyTileVector(const QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, double *const staged[], double *y, PetscBool first, const double *next)
{
  PassShape s    = GetPassShape(sh, pass);
  uint64_t  base = DepositBits(t, s.nontile), nextbase = t + 1 < s.ntiles ? DepositBits(t + 1, s.nontile) : 0;
  if (t + 1 >= s.ntiles) next = NULL;
  for (uint64_t j = 0; j < s.nchunks; j++) {
    const double *ahead = next ? next + (nextbase | pass->chunkoff[j]) : NULL;
    if (first) ChunkVector(sh, pass, staged, j * s.chunklen, y, 1, base | pass->chunkoff[j], s.chunklen, ahead);
    else ChunkVector(sh, pass, staged, j * s.chunklen, y, 0, base | pass->chunkoff[j], s.chunklen, ahead);
  }
}
#endif

void ShellApplyTile(const QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, PetscScalar *const staged[], PetscScalar *y, PetscBool first, const PetscScalar *next)
{
#if defined(SHELL_HAVE_VECTOR_KERNEL)
  if (sh->kernel == SHELL_KERNEL_VECTOR) {
    ApplyTileVector(sh, pass, t, staged, y, first, next);
    return;
  }
#endif
  ApplyTileScalar(sh, pass, t, staged, y, first);
}

PetscBool ShellVectorKernelAvailable(PetscInt nlocal)
{
#if defined(SHELL_HAVE_VECTOR_KERNEL)
  return nlocal >= SHELL_STEP_BITS ? PETSC_TRUE : PETSC_FALSE;
#else
  return PETSC_FALSE;
#endif
}
