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
 *           so a group costs one load, one permutation and one FMA per block. A step holds its 8
 *           blocks of v in registers (they serve D v too), so a pure flip inside the step (x < 64)
 *           reads no memory at all: the single-bit ones (transverse fields on qubits 0..5) run as
 *           one fused block of code per set of bits, the others one segment per x; farther flips
 *           and table groups read their partner step. Every segment is a switch case with its
 *           permutations as constants, and the step loop keeps no branch per block. Compiled for
 *           AVX-512, AVX2 and baseline x86-64, picked at load time.
 *   scalar  one row at a time in PetscScalar arithmetic (the complex build, and a cross-check).
 * Invariant: both produce y exactly as the formula in shell_impl.h; neither allocates nor fails. */
#include "shell_impl.h"
#include "qepsimd.h"

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
    for (PetscInt g = layer->g0; g < layer->segstart[layer->nseg]; g++) acc += GroupCoefAt(sh, &sh->groups[g], l) * src[v ^ sh->groups[g].xv];
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
#if defined(QEP_HAVE_V8) && !defined(PETSC_USE_COMPLEX)
  #define SHELL_HAVE_VECTOR_KERNEL 1
  #define SHELL_PREFETCH_LOCALITY  2 /* prefetcht1: towards L2, the staging copy reads it from there */

QEP_V8_INLINE v8d LoadAligned8(const double *p) { return *(const v8d *)p; } /* staged tiles, ftab, tlo, stored */

/* The straddling diagonal patterns' part of d(l) for the SHELL_STEP rows from r0 (pattern by pattern:
 * the rare case of more straddles than a lane table holds), written to out. Not inlined: its loop
 * would otherwise cost the step loop its registers. */
static void __attribute__((noinline)) StraddleSums(const ShellDiagonal *d, uint64_t r0, double out[SHELL_STEP])
{
  for (int k = 0; k < SHELL_UNROLL; k++) {
    v8d f = {0};
    for (PetscInt p = 0; p < d->nstraddle; p++) {
      uint64_t z = d->dpat[p].z;
      double   a = Parity((r0 + k * SHELL_LANES) & z) ? -d->dcoef[p] : d->dcoef[p];
      f += a * Load8(kLaneSign8[z & (SHELL_LANES - 1)]);
    }
    Store8(out + k * SHELL_LANES, f);
  }
}

/* Sign word of a group for the step starting at row r0: bit j = parity(r0 & z_j). */
QEP_V8_INLINE unsigned StepSigns(const ShellGroup *g, uint64_t r0)
{
  unsigned s = 0;
  for (int j = 0; j < g->nhigh; j++) s |= (unsigned)Parity(r0 & g->zstep[j]) << j;
  return s;
}

/* How a step starts its accumulators: y (+=, later passes) or d(l) v (pass 0), d(l) from one array
 * (direct), or from the split tables plus the straddles from their lane table or pattern by pattern. */
typedef enum { STEP_ADD, STEP_DIRECT, STEP_TABLED, STEP_SUMS } StepStart;

static StepStart GetStepStart(const ShellDiagonal *d, PetscBool first)
{
  if (!first) return STEP_ADD;
  return d->direct ? STEP_DIRECT : (d->tabled ? STEP_TABLED : STEP_SUMS);
}

/* d(l) for the SHELL_UNROLL blocks of the step at row r0 (how: see StepStart; not STEP_ADD). */
QEP_V8_INLINE void DiagonalStep(const ShellDiagonal *d, const double *ftab, uint64_t r0, StepStart how, v8d dg[SHELL_UNROLL])
{
  const uint64_t lomask = (((uint64_t)1) << d->h) - 1;
  if (how == STEP_DIRECT) {
    for (int k = 0; k < SHELL_UNROLL; k++) dg[k] = LoadAligned8(d->direct + r0 + k * SHELL_LANES);
    return;
  }
  for (int k = 0; k < SHELL_UNROLL; k++) {
    const uint64_t rk = r0 + k * SHELL_LANES;
    dg[k]             = LoadAligned8(d->tlo + (rk & lomask)) + d->thi[rk >> d->h];
  }
  if (how == STEP_TABLED) {
    const unsigned s0 = StepSigns(&d->straddle, r0);
    const double  *F  = ftab + d->straddle.fofs;
    for (int k = 0; k < SHELL_UNROLL; k++) dg[k] += LoadAligned8(F + ((s0 ^ d->straddle.kpar[k]) << SHELL_LANE_BITS));
  } else {
    double sums[SHELL_STEP];
    StraddleSums(d, r0, sums);
    for (int k = 0; k < SHELL_UNROLL; k++) dg[k] += Load8(sums + k * SHELL_LANES);
  }
}

  /* In-step flips (pure, x < SHELL_STEP; the segment's constant c = x): block k's partner is block
   * k ^ (c >> 3) of this very step, held in registers (blk), its lanes permuted by c & 7. (The
   * single-bit keys are fused instead; their cases stay only to keep the case list uniform.) */
  #define ACCUMULATE_INSTEP(c) \
    for (PetscInt g = g0; g < g1; g++) { \
      const v8d f = LoadAligned8(ftab + groups[g].fofs); \
      for (unsigned k = 0; k < SHELL_UNROLL; k++) acc[k] += f * PERMUTE8(blk[k ^ ((c) >> SHELL_LANE_BITS)], (c) & (SHELL_LANES - 1)); \
    }
  /* Far flips (and all table groups): block k's partner is block k ^ m3 of the partner step, its
   * lanes permuted by m; f is the group's lane vector (pure) or its table's entry for the block's
   * sign word. general: the segment's flips permute the blocks of a step (m3 != 0). */
  #define GROUP_COEF_PURE(k)  f
  #define GROUP_COEF_TABLE(k) LoadAligned8(F + ((s0 ^ gr->kpar[k]) << SHELL_LANE_BITS))
  #define GROUP_SIGNS_PURE    const v8d f = LoadAligned8(F);
  #define GROUP_SIGNS_TABLE   const unsigned s0 = StepSigns(gr, r0);
  #define ACCUMULATE_FAR(m, kind, general) \
    for (PetscInt g = g0; g < g1; g++) { \
      const ShellGroup *gr = &groups[g]; \
      const double     *p  = src + (v0 ^ (gr->xv & ~(uint64_t)(SHELL_STEP - 1))); \
      const unsigned    m3 = general ? (unsigned)(gr->xv >> SHELL_LANE_BITS) & (SHELL_UNROLL - 1) : 0; \
      const double     *F  = ftab + gr->fofs; \
      GROUP_SIGNS_##kind \
      for (unsigned k = 0; k < SHELL_UNROLL; k++) acc[k] += GROUP_COEF_##kind(k) * PERMUTE8(LoadAligned8(p + ((k ^ m3) << SHELL_LANE_BITS)), m); \
    }
  /* the segment keys of GroupOrderKey (shell_plan.c), each a case with its permutation constant */
  #define CASES8(M, base, ...) \
  case (base) + 0: M((base) + 0, __VA_ARGS__) break; \
  case (base) + 1: M((base) + 1, __VA_ARGS__) break; \
  case (base) + 2: M((base) + 2, __VA_ARGS__) break; \
  case (base) + 3: M((base) + 3, __VA_ARGS__) break; \
  case (base) + 4: M((base) + 4, __VA_ARGS__) break; \
  case (base) + 5: M((base) + 5, __VA_ARGS__) break; \
  case (base) + 6: M((base) + 6, __VA_ARGS__) break; \
  case (base) + 7: M((base) + 7, __VA_ARGS__) break;
  #define INSTEP(key, unused)      ACCUMULATE_INSTEP(key)
  #define FAR_PURE(key, general)  ACCUMULATE_FAR((key) & (SHELL_LANES - 1), PURE, general)
  #define FAR_TABLE(key, general) ACCUMULATE_FAR((key) & (SHELL_LANES - 1), TABLE, general)

/* The fused groups of a layer (mask: its fused bits, a constant here), gr[j] for the j-th set bit:
 * bits 0..2 permute the lanes of a block, bits 3..5 swap whole blocks of blk. */
  #define FUSED_BIT(b, m, m3) \
    if (mask >> (b) & 1) { \
      const v8d f = LoadAligned8(ftab + gr[j++].fofs); \
      for (unsigned k = 0; k < SHELL_UNROLL; k++) acc[k] += f * PERMUTE8(blk[k ^ (m3)], m); \
    }
QEP_V8_INLINE void FusedStep(const int mask, const ShellGroup *gr, const double *ftab, v8d acc[SHELL_UNROLL], const v8d blk[SHELL_UNROLL])
{
  int j = 0;
  FUSED_BIT(0, 1, 0)
  FUSED_BIT(1, 2, 0)
  FUSED_BIT(2, 4, 0)
  FUSED_BIT(3, 0, 1)
  FUSED_BIT(4, 0, 2)
  FUSED_BIT(5, 0, 4)
}
  #define FUSED(mask, unused) FusedStep(mask, groups + layer->g0, ftab, acc, blk);

/* One step of one layer: its fused groups and in-step segments on blk (this step's blocks of src),
 * then its far segments. */
QEP_V8_INLINE void LayerStep(const QepOperator_Shell *sh, const ShellLayer *layer, const double *src, uint64_t v0, uint64_t r0, v8d acc[SHELL_UNROLL], const v8d blk[SHELL_UNROLL])
{
  const ShellGroup *groups = sh->groups;
  const double     *ftab   = sh->ftab;
  PetscInt          s      = 0;
  switch (layer->fused) {
    CASES8(FUSED, 0, 0)
    CASES8(FUSED, 8, 0)
    CASES8(FUSED, 16, 0)
    CASES8(FUSED, 24, 0)
    CASES8(FUSED, 32, 0)
    CASES8(FUSED, 40, 0)
    CASES8(FUSED, 48, 0)
    CASES8(FUSED, 56, 0)
  }
  for (; s < layer->ninstep; s++) {
    const PetscInt g0 = layer->segstart[s], g1 = layer->segstart[s + 1];
    switch (layer->segkey[s]) {
      CASES8(INSTEP, 0, 0)
      CASES8(INSTEP, 8, 0)
      CASES8(INSTEP, 16, 0)
      CASES8(INSTEP, 24, 0)
      CASES8(INSTEP, 32, 0)
      CASES8(INSTEP, 40, 0)
      CASES8(INSTEP, 48, 0)
      CASES8(INSTEP, 56, 0)
    }
  }
  for (; s < layer->nseg; s++) {
    const PetscInt g0 = layer->segstart[s], g1 = layer->segstart[s + 1];
    switch (layer->segkey[s]) {
      CASES8(FAR_PURE, SHELL_INSTEP_KEYS, 0)
      CASES8(FAR_PURE, SHELL_INSTEP_KEYS + SHELL_LANES, 1)
      CASES8(FAR_TABLE, SHELL_INSTEP_KEYS + 2 * SHELL_LANES, 0)
      CASES8(FAR_TABLE, SHELL_INSTEP_KEYS + 3 * SHELL_LANES, 1)
    }
  }
}

/* Rows [start, start + len) of y, in which row start is at tile-local index vstart; how: y += ...
 * or y = D v + .... Each step keeps its 8 blocks of one source in registers (blk: pass 0 loads the
 * own ones for D v; a layer of another source with in-step flips loads its own). ahead (or NULL) is
 * the same chunk of the next tile: each step asks for its lines to be brought towards L2, so the
 * next staging copy overlaps this tile's arithmetic instead of waiting for DRAM. */
QEP_V8_INLINE void ChunkVector(const QepOperator_Shell *sh, const ShellPass *pass, double *const staged[], uint64_t vstart, double *y, StepStart how, uint64_t start, uint64_t len, const double *ahead)
{
  for (uint64_t r0 = start, v0 = vstart; r0 < start + len; r0 += SHELL_STEP, v0 += SHELL_STEP) {
    v8d      acc[SHELL_UNROLL], blk[SHELL_UNROLL];
    PetscInt held = -1; /* the source whose blocks blk holds */
    if (ahead)
      for (int k = 0; k < SHELL_UNROLL; k++) __builtin_prefetch(ahead + (r0 - start) + k * SHELL_LANES, 0, SHELL_PREFETCH_LOCALITY);
    if (how == STEP_ADD)
      for (int k = 0; k < SHELL_UNROLL; k++) acc[k] = Load8(y + r0 + k * SHELL_LANES), blk[k] = acc[k];
    else {
      DiagonalStep(&sh->diag, sh->ftab, r0, how, acc);
      for (int k = 0; k < SHELL_UNROLL; k++) {
        blk[k] = LoadAligned8(staged[0] + v0 + k * SHELL_LANES);
        acc[k] *= blk[k];
      }
      held = 0;
    }
    for (PetscInt L = 0; L < pass->nlayers; L++) {
      const ShellLayer *layer = &pass->layers[L];
      const double     *src   = staged[layer->source];
      if ((layer->fused || layer->ninstep) && held != layer->source) {
        for (int k = 0; k < SHELL_UNROLL; k++) blk[k] = LoadAligned8(src + v0 + k * SHELL_LANES);
        held = layer->source;
      }
      LayerStep(sh, layer, src, v0, r0, acc, blk);
    }
    for (int k = 0; k < SHELL_UNROLL; k++) Store8(y + r0 + k * SHELL_LANES, acc[k]);
  }
}

QEP_CLONES static void ApplyTileVector(const QepOperator_Shell *sh, const ShellPass *pass, uint64_t t, double *const staged[], double *y, PetscBool first, const double *next)
{
  PassShape       s    = GetPassShape(sh, pass);
  uint64_t        base = DepositBits(t, s.nontile), nextbase = t + 1 < s.ntiles ? DepositBits(t + 1, s.nontile) : 0;
  const StepStart how  = GetStepStart(&sh->diag, first);
  if (t + 1 >= s.ntiles) next = NULL;
  for (uint64_t j = 0; j < s.nchunks; j++) {
    const double *ahead = next ? next + (nextbase | pass->chunkoff[j]) : NULL;
    ChunkVector(sh, pass, staged, j * s.chunklen, y, how, base | pass->chunkoff[j], s.chunklen, ahead);
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
