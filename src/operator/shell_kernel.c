/* shell_kernel.c — the shell operator's inner loops: one tiled pass y (+)= sum_g f_g(l) src[l ^ x_g].
 *
 * A pass visits its tiles one after the other; a tile is 2^popcount(outer) chunks of 2^chunkbits
 * contiguous rows and is closed under every flip of the pass, so all partner reads of a tile hit
 * cache (L2) while the tile is being written. Each output row is written once per pass, with all of
 * the pass's groups accumulated in registers.
 *
 * Two kernels share that iteration:
 *   vector  (real double builds) blocks of 8 rows in GCC vector registers; a flip of the three lane
 *           bits is a constant lane permutation and a z pattern's lane signs come from a table, so a
 *           group costs one load, one permutation and one FMA per block (plus one popcount per
 *           pattern). Compiled for AVX-512, AVX2 and baseline x86-64, picked at load time.
 *   scalar  one row at a time in PetscScalar arithmetic (the complex build, and a cross-check).
 * Invariant: both produce y[l] = sum over the pass's groups (and D v in the first pass) exactly as
 * the formula in shell_impl.h; neither allocates nor fails. */
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

/* ------------------------------------------------------------------ scalar kernel ---------- */

static inline PetscScalar GroupCoefAt(const QepOperator_Shell *sh, const ShellGroup *g, uint64_t l)
{
  PetscScalar f = 0.0;
  for (PetscInt p = g->p0; p < g->p1; p++) f += Parity(l & sh->patterns[p].z) ? -sh->coef[p] : sh->coef[p];
  return f;
}

static void ChunkScalar(const QepOperator_Shell *sh, const ShellPass *pass, const PetscScalar *src, PetscScalar *y, PetscBool first, uint64_t start, uint64_t len)
{
  for (uint64_t l = start; l < start + len; l++) {
    PetscScalar acc = first ? DiagonalAt(sh, l) * src[l] : y[l];
    for (PetscInt g = pass->g0; g < pass->g1; g++) {
      const ShellGroup *gr = &sh->groups[g];
      acc += GroupCoefAt(sh, gr, l) * src[l ^ gr->x];
    }
    y[l] = acc;
  }
}

static void ApplyPassScalar(const QepOperator_Shell *sh, const ShellPass *pass, const PetscScalar *src, PetscScalar *y, PetscBool first)
{
  PassShape s = GetPassShape(sh, pass);
  for (uint64_t t = 0; t < s.ntiles; t++) {
    uint64_t base = DepositBits(t, s.nontile);
    for (uint64_t j = 0; j < s.nchunks; j++) ChunkScalar(sh, pass, src, y, first, base | pass->chunkoff[j], s.chunklen);
  }
}

/* ------------------------------------------------------------------ vector kernel ---------- */
#if !defined(PETSC_USE_COMPLEX) && defined(PETSC_USE_REAL_DOUBLE) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  #define SHELL_HAVE_VECTOR_KERNEL 1
  #define SHELL_INLINE             static inline __attribute__((always_inline))
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

SHELL_INLINE v8d Diagonal8(const ShellDiagonal *d, uint64_t r0)
{
  if (d->stored) return Load8(d->stored + r0);
  return Load8(d->tlo + (r0 & ((((uint64_t)1) << d->h) - 1))) + d->thi[r0 >> d->h] + SignedSum8(d->dpat, d->dcoef, 0, d->nstraddle, r0);
}

  /* All groups of segment m (pure: constant coefficient) or 8 + m (patterned) for the SHELL_UNROLL
   * blocks starting at r0: independent accumulators keep the FMA chains short. */
  #define PARTNER8(k, m) PERMUTE8(Load8(src + ((v0 + (k) * SHELL_LANES) ^ xh)), m)
  #define ACCUMULATE_PURE(m) \
    for (PetscInt g = g0; g < g1; g++) { \
      const uint64_t xh = groups[g].xv & ~(uint64_t)(SHELL_LANES - 1); \
      const double   a  = coef[groups[g].p0]; \
      for (int k = 0; k < SHELL_UNROLL; k++) acc[k] += a * PARTNER8(k, m); \
    }
  #define ACCUMULATE_PATTERNED(m) \
    for (PetscInt g = g0; g < g1; g++) { \
      const uint64_t xh = groups[g].xv & ~(uint64_t)(SHELL_LANES - 1); \
      for (int k = 0; k < SHELL_UNROLL; k++) acc[k] += SignedSum8(sh->patterns, coef, groups[g].p0, groups[g].p1, r0 + k * SHELL_LANES) * PARTNER8(k, m); \
    }
  #define SEGMENT_CASES(M, base) \
  case (base) + 0: M(0) break; \
  case (base) + 1: M(1) break; \
  case (base) + 2: M(2) break; \
  case (base) + 3: M(3) break; \
  case (base) + 4: M(4) break; \
  case (base) + 5: M(5) break; \
  case (base) + 6: M(6) break; \
  case (base) + 7: M(7) break;

/* Rows [start, start + len) of y from the staged tile src, in which row start is at vstart and a
 * group's flip is its tile-local mask xv. */
SHELL_INLINE void ChunkVector(const QepOperator_Shell *sh, const ShellPass *pass, const double *src, uint64_t vstart, double *y, const int first, uint64_t start, uint64_t len)
{
  const ShellGroup *groups = sh->groups;
  const double     *coef   = sh->coef;
  for (uint64_t r0 = start, v0 = vstart; r0 < start + len; r0 += SHELL_STEP, v0 += SHELL_STEP) {
    v8d acc[SHELL_UNROLL];
    for (int k = 0; k < SHELL_UNROLL; k++) {
      const uint64_t rk = r0 + k * SHELL_LANES;
      acc[k]            = first ? Diagonal8(&sh->diag, rk) * Load8(src + v0 + k * SHELL_LANES) : Load8(y + rk);
    }
    for (int s = 0; s < pass->nseg; s++) { /* only the non-empty segments, each with its constant permutation */
      const PetscInt g0 = pass->segstart[s], g1 = pass->segstart[s + 1];
      switch (pass->segkey[s]) {
        SEGMENT_CASES(ACCUMULATE_PURE, 0)
        SEGMENT_CASES(ACCUMULATE_PATTERNED, SHELL_LANES)
      }
    }
    for (int k = 0; k < SHELL_UNROLL; k++) Store8(y + r0 + k * SHELL_LANES, acc[k]);
  }
}

/* Each tile is first gathered, chunk by chunk, into the 64-byte aligned scratch (tile-local index
 * j << chunkbits | lo): the DRAM reads are sequential per chunk, every partner load then hits one
 * L2-resident cache line (PETSc arrays are only 16-byte aligned), and y is streamed once. */
SHELL_CLONES static void ApplyPassVector(const QepOperator_Shell *sh, const ShellPass *pass, const double *src, double *y, PetscBool first)
{
  PassShape s = GetPassShape(sh, pass);
  double   *tile = sh->scratch;
  for (uint64_t t = 0; t < s.ntiles; t++) {
    uint64_t base = DepositBits(t, s.nontile);
    for (uint64_t j = 0; j < s.nchunks; j++) memcpy(tile + j * s.chunklen, src + (base | pass->chunkoff[j]), s.chunklen * sizeof(double));
    for (uint64_t j = 0; j < s.nchunks; j++) {
      if (first) ChunkVector(sh, pass, tile, j * s.chunklen, y, 1, base | pass->chunkoff[j], s.chunklen);
      else ChunkVector(sh, pass, tile, j * s.chunklen, y, 0, base | pass->chunkoff[j], s.chunklen);
    }
  }
}
#endif

void ShellApplyPass(const QepOperator_Shell *sh, const ShellPass *pass, const PetscScalar *src, PetscScalar *y, PetscBool first)
{
#if defined(SHELL_HAVE_VECTOR_KERNEL)
  if (sh->kernel == SHELL_KERNEL_VECTOR) {
    ApplyPassVector(sh, pass, src, y, first);
    return;
  }
#endif
  ApplyPassScalar(sh, pass, src, y, first);
}

PetscBool ShellVectorKernelAvailable(PetscInt nlocal)
{
#if defined(SHELL_HAVE_VECTOR_KERNEL)
  return nlocal >= SHELL_STEP_BITS ? PETSC_TRUE : PETSC_FALSE;
#else
  return PETSC_FALSE;
#endif
}
