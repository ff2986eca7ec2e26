/* observe.c — expectation values of many Pauli strings of a distributed state.
 * Invariant: for every flip group either the rank's row range is closed under r -> r ^ x (aligned to
 * 2^(highest bit of x + 1), decided collectively at creation) or a VecScatter brings psi[r ^ x] for
 * every owned r. Compute goes once over the local rows in aligned tiles of 2^tilebits rows, every
 * group per tile (the tile's bra rows, and its partner rows for flips inside the tile, stay in cache for
 * all groups), then makes one MPI_Allreduce of all partial sums; it allocates nothing (every scratch
 * array belongs to the plan).
 *
 * With u_r = conj(bra_r) ket_{r^x}, entry k (mask z_k) of the group with flip x needs
 *     S_k = (-1)^|x & z_k| sum_r (-1)^|r & z_k| u_r,
 * accumulated tile by tile by one of three kernels, chosen per group at creation:
 *   transform  groups with at least `bits` entries: one Walsh-Hadamard transform of u per block of
 *              2^bits rows (bits <= tilebits) gives every entry's block sum at once;
 *   lanes      (real double builds, tiles of >= 8 rows) u in 8-lane vectors; an entry keeps one sum
 *              per lane, each 8-row chunk adds u with the chunk's sign (-1)^|chunk row & z| (a sign-bit
 *              flip), and the lane signs (-1)^|lane & z| are applied once at the end;
 *   rows       the per-row formula (complex builds, tiles of fewer than 8 rows).
 * -qep_expectation_vector false selects the scalar kernels (transform and rows) in every build.
 * For <psi|P|psi> the rows pair up with their partners: with H_k the sum over the rows whose bit h
 * (the top bit of x != 0) is clear, S_k = H_k + (-1)^ny_k conj(H_k) — half the rows, each read once.
 * Every kernel leaves out the rows with bit h: whole tiles or blocks, whole chunks, masked lanes or rows. */
#include "qepimpl.h"
#include "qepsimd.h"

#define EXPECT_TILE_BITS      12 /* tiles of up to 4096 rows (32 KiB): a tile and a partner tile stay in L1/L2 (12..14 measured alike at n = 24) */
#define EXPECT_TILE_MAX_BITS  16 /* upper bound of -qep_expectation_tile_bits */
#define EXPECT_BLOCK_MAX_BITS 10 /* transform blocks of up to 1024 rows: a block, its partner and its transform stay in L1 */
#define EXPECT_WHT_MIN_BITS   4  /* a transform of fewer than 16 rows does not pay for itself */
#define EXPECT_LANE_BITS      3  /* 8 doubles: one AVX-512 register */
#define EXPECT_LANES          (1 << EXPECT_LANE_BITS)

typedef enum { KERNEL_ROWS, KERNEL_LANES, KERNEL_TRANSFORM } GroupKernel;

struct _p_QepExpectation {
  MPI_Comm            comm;
  PetscInt            nstrings;
  QepPauli           *strings;
  QepFlipGroups       groups;
  PetscInt            rstart, rend;
  PetscInt            tilebits; /* rows go in aligned tiles of 2^tilebits: rstart and rend are multiples of it */
  PetscInt            bits;    /* transform blocks of 2^bits rows: min(tilebits, EXPECT_BLOCK_MAX_BITS) */
  PetscBool           vector;  /* SIMD kernels (real double builds on x86-64) */
  GroupKernel        *kernel;  /* [ngroups] */
  uint64_t           *halfbit; /* [ngroups]: top bit of x (Compute sums over the rows without it), 0 for x = 0 */
  VecScatter         *scatter; /* [ngroups]: NULL for groups that stay local */
  Vec                *remote;  /* [ngroups]: psi[r ^ x] for owned r */
  const PetscScalar **flipped; /* [ngroups]: remote arrays during a pass (NULL for local groups) */
  PetscScalar        *acc;     /* [nentries]: sums of the transform and rows kernels */
  PetscReal          *lanes;   /* [nentries * EXPECT_LANES]: per-lane sums of the lanes kernel */
  PetscScalar        *work;    /* [2^bits]: the transform's buffer */
  PetscReal          *partial; /* [nstrings + 1]: the last slot holds <psi|psi> */
};

static inline int Parity(uint64_t v) { return __builtin_popcountll(v) & 1; }

/* ------------------------------------------------------------------ vector kernels ---------- */
#if defined(QEP_HAVE_V8) && !defined(PETSC_USE_COMPLEX)
  #define EXPECT_HAVE_VECTOR 1
  #define PERMUTE_CASES(CALL) \
  case 0: CALL(0); break; \
  case 1: CALL(1); break; \
  case 2: CALL(2); break; \
  case 3: CALL(3); break; \
  case 4: CALL(4); break; \
  case 5: CALL(5); break; \
  case 6: CALL(6); break; \
  case 7: CALL(7); break;

/* u of the 8 rows at c: bra[c + l] partner[(c + l) ^ pmask], with M = pmask's lane bits (a constant). */
QEP_V8_INLINE v8d Product8(const double *bra, const double *partner, uint64_t c, uint64_t pchunk, const unsigned M)
{
  return Load8(bra + c) * PERMUTE8(Load8(partner + (c ^ pchunk)), M);
}

/* u with its sign bits flipped where (-1)^|row & z| = -1 (row: first row of an 8-row chunk). */
QEP_V8_INLINE v8d Signed8(v8d u, uint64_t row, uint64_t z)
{
  const long long flip = (long long)((uint64_t)Parity(row & z) << 63);
  return (v8d)((v8i)u ^ flip);
}

/* Lanes whose index has no bit of `lanebits` (all ones there, zero elsewhere). */
QEP_V8_INLINE v8i KeepLanes(uint64_t lanebits)
{
  v8i keep;
  for (int l = 0; l < EXPECT_LANES; l++) keep[l] = ((uint64_t)l & lanebits) ? 0 : -1;
  return keep;
}

/* lanes[q][l] += sum over the tile's chunks c of (-1)^|(r0 + c) & z_q| u_c[l] for NB entries at once,
 * held in registers across the tile; rows with a bit of skip (one bit or none) are left out: whole
 * chunks for a bit above the lanes, through the lane mask keep for a lane bit. */
QEP_V8_INLINE void LanesRun(uint64_t B, uint64_t r0, const double *bra, const double *partner, uint64_t pchunk, uint64_t skip, v8i keep, const uint64_t *z, double *lanes, const unsigned M, const int NB)
{
  const uint64_t chunkskip = skip & ~(uint64_t)(EXPECT_LANES - 1);
  v8d            a[4], b[4] = {{0}};
  for (int q = 0; q < NB; q++) a[q] = Load8(lanes + q * EXPECT_LANES);
  if (B >= 2 * EXPECT_LANES && chunkskip != EXPECT_LANES) { /* pairs of chunks, kept or skipped together, two sums in flight */
    for (uint64_t c = 0; c < B; c += 2 * EXPECT_LANES) {
      v8d u, w;
      if (c & chunkskip) { /* first pair of a run of `chunkskip` rows whose bit is set: jump over the run */
        c += chunkskip - 2 * EXPECT_LANES;
        continue;
      }
      u = (v8d)((v8i)Product8(bra, partner, c, pchunk, M) & keep);
      w = (v8d)((v8i)Product8(bra, partner, c + EXPECT_LANES, pchunk, M) & keep);
      for (int q = 0; q < NB; q++) a[q] += Signed8(u, r0 + c, z[q]), b[q] += Signed8(w, r0 + c + EXPECT_LANES, z[q]);
    }
  } else
    for (uint64_t c = 0; c < B; c += EXPECT_LANES) {
      v8d u;
      if (c & chunkskip) continue; /* chunkskip = 8: every other chunk */
      u = (v8d)((v8i)Product8(bra, partner, c, pchunk, M) & keep);
      for (int q = 0; q < NB; q++) a[q] += Signed8(u, r0 + c, z[q]);
    }
  for (int q = 0; q < NB; q++) Store8(lanes + q * EXPECT_LANES, a[q] + b[q]);
}

/* One tile of a lanes group: entries four at a time, then one at a time. */
QEP_CLONES static void LanesTile(uint64_t B, uint64_t r0, const double *bra, const double *partner, uint64_t pmask, uint64_t skip, PetscInt nk, const uint64_t *z, double *lanes)
{
  const uint64_t pchunk = pmask & ~(uint64_t)(EXPECT_LANES - 1);
  const v8i      keep   = KeepLanes(skip & (EXPECT_LANES - 1));
  PetscInt       k;
  #define LANES_CALL(m) \
    for (k = 0; k + 4 <= nk; k += 4) LanesRun(B, r0, bra, partner, pchunk, skip, keep, z + k, lanes + k * EXPECT_LANES, m, 4); \
    for (; k < nk; k++) LanesRun(B, r0, bra, partner, pchunk, skip, keep, z + k, lanes + k * EXPECT_LANES, m, 1)
  switch (pmask & (EXPECT_LANES - 1)) {
    PERMUTE_CASES(LANES_CALL)
  }
  #undef LANES_CALL
}

/* u = products of the block (zero in the rows with a bit of skip), with the transform's three
 * in-lane stages already applied. */
QEP_V8_INLINE void TransformFill(uint64_t B, const double *bra, const double *partner, uint64_t pchunk, uint64_t skip, double *u, const unsigned M)
{
  const v8d s1 = {1, -1, 1, -1, 1, -1, 1, -1}, s2 = {1, 1, -1, -1, 1, 1, -1, -1}, s4 = {1, 1, 1, 1, -1, -1, -1, -1};
  const v8i keep = KeepLanes(skip & (EXPECT_LANES - 1));
  for (uint64_t c = 0; c < B; c += EXPECT_LANES) {
    v8d v = {0};
    if (!(c & skip)) v = (v8d)((v8i)Product8(bra, partner, c, pchunk, M) & keep);
    v     = PERMUTE8(v, 1) + s1 * v; /* lane l: v[l ^ 1] +- v[l], + where bit 0 of l is clear */
    v     = PERMUTE8(v, 2) + s2 * v;
    v     = PERMUTE8(v, 4) + s4 * v;
    Store8(u + c, v);
  }
}

/* u[m] = sum_j (-1)^|j & m| bra[j] partner[j ^ pmask] over the rows j of the block (B >= 16) without
 * a bit of skip. */
QEP_CLONES static void TransformBlockVector(uint64_t B, const double *bra, const double *partner, uint64_t pmask, uint64_t skip, double *u)
{
  const uint64_t pchunk = pmask & ~(uint64_t)(EXPECT_LANES - 1);
  #define FILL_CALL(m) TransformFill(B, bra, partner, pchunk, skip, u, m)
  switch (pmask & (EXPECT_LANES - 1)) {
    PERMUTE_CASES(FILL_CALL)
  }
  #undef FILL_CALL
  for (uint64_t h = EXPECT_LANES; h < B; h <<= 1)
    for (uint64_t i = 0; i < B; i += 2 * h)
      for (uint64_t j = i; j < i + h; j += EXPECT_LANES) {
        const v8d p = Load8(u + j), q = Load8(u + j + h);
        Store8(u + j, p + q);
        Store8(u + j + h, p - q);
      }
}

/* sum_i a_i^2 over n rows (any n). */
QEP_CLONES static double SumSquaresVector(uint64_t n, const double *a)
{
  v8d      s = {0}, t = {0};
  double   sum = 0.0;
  uint64_t i   = 0;
  for (; i + 2 * EXPECT_LANES <= n; i += 2 * EXPECT_LANES) {
    const v8d p = Load8(a + i), q = Load8(a + i + EXPECT_LANES);
    s += p * p;
    t += q * q;
  }
  s += t;
  for (int l = 0; l < EXPECT_LANES; l++) sum += s[l];
  for (; i < n; i++) sum += a[i] * a[i];
  return sum;
}
  #define EXPECT_LANE_SUMS EXPECT_LANES /* per-lane sums of an entry */
#else
  #define EXPECT_LANE_SUMS 0 /* no lanes kernel */
#endif

/* ------------------------------------------------------------------ scalar kernels ---------- */

/* acc[k] += sum_j (-1)^|(r0 + j) & z_k| conj(bra[j]) partner[j ^ pmask] over the tile's rows with j & skip clear. */
static void RowsTile(uint64_t B, uint64_t r0, const PetscScalar *bra, const PetscScalar *partner, uint64_t pmask, uint64_t skip, PetscInt nk, const uint64_t *z, PetscScalar *acc)
{
  for (uint64_t j = 0; j < B; j++) {
    PetscScalar u;
    if (j & skip) continue;
    u = PetscConj(bra[j]) * partner[j ^ pmask];
    for (PetscInt k = 0; k < nk; k++) acc[k] += Parity((r0 + j) & z[k]) ? -u : u;
  }
}

/* u[m] = sum_j (-1)^|j & m| conj(bra[j]) partner[j ^ pmask] over the rows j of the block without a bit of skip. */
static void TransformBlockScalar(uint64_t B, const PetscScalar *bra, const PetscScalar *partner, uint64_t pmask, uint64_t skip, PetscScalar *u)
{
  for (uint64_t j = 0; j < B; j++) u[j] = (j & skip) ? 0.0 : PetscConj(bra[j]) * partner[j ^ pmask];
  for (uint64_t h = 1; h < B; h <<= 1)
    for (uint64_t i = 0; i < B; i += 2 * h)
      for (uint64_t j = i; j < i + h; j++) {
        const PetscScalar p = u[j], q = u[j + h];
        u[j] = p + q, u[j + h] = p - q;
      }
}

static PetscReal SumSquares(PetscBool vector, PetscInt n, const PetscScalar *a)
{
  PetscReal sum = 0.0;
#if defined(EXPECT_HAVE_VECTOR)
  if (vector) return SumSquaresVector((uint64_t)n, a);
#endif
  for (PetscInt i = 0; i < n; i++) sum += PetscRealPart(PetscConj(a[i]) * a[i]);
  return sum;
}

/* ------------------------------------------------------------------ plan ---------- */

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

/* Largest tile bits <= maxbits that keep tiles aligned in global rows. */
static PetscInt TileBits(PetscInt rstart, PetscInt rend, PetscInt maxbits)
{
  PetscInt b = maxbits;
  while (b > 0 && (((uint64_t)rstart | (uint64_t)rend) & (((uint64_t)1 << b) - 1))) b--;
  return b;
}

/* -qep_expectation_vector and -qep_expectation_tile_bits (both for tests and benchmarks: the scalar
 * kernels are the complex build's, smaller tiles exercise tile and block edges). */
static PetscErrorCode ReadOptions(QepExpectation e)
{
  PetscBool vector  = PETSC_TRUE;
  PetscInt  maxbits = EXPECT_TILE_BITS;

  PetscFunctionBegin;
  PetscOptionsBegin(e->comm, NULL, "Expectation value options", "QepExpectation");
  PetscCall(PetscOptionsBool("-qep_expectation_vector", "SIMD kernels (real double build); false: the scalar kernels", "", vector, &vector, NULL));
  PetscCall(PetscOptionsInt("-qep_expectation_tile_bits", "log2 of the most rows per tile (internal, for tests)", "", maxbits, &maxbits, NULL));
  PetscOptionsEnd();
  PetscCheck(maxbits >= 0 && maxbits <= EXPECT_TILE_MAX_BITS, e->comm, PETSC_ERR_ARG_OUTOFRANGE, "-qep_expectation_tile_bits %" PetscInt_FMT " is out of range; allowed 0..%d", maxbits, EXPECT_TILE_MAX_BITS);
  e->tilebits = TileBits(e->rstart, e->rend, maxbits);
  e->bits     = PetscMin(e->tilebits, EXPECT_BLOCK_MAX_BITS);
#if defined(EXPECT_HAVE_VECTOR)
  e->vector = vector;
#else
  e->vector = PETSC_FALSE;
#endif
  PetscFunctionReturn(0);
}

/* Kernel of group g (it may differ between ranks: the tile size does) and the row bit over which
 * Compute halves it: the top bit of x for every x != 0, the same on every rank, since a pair of rows
 * must be counted under one rule even when its rows live on ranks with different kernels. */
static void ChooseKernel(QepExpectation e, PetscInt g)
{
  const uint64_t x  = e->groups.x[g];
  const PetscInt nk = e->groups.start[g + 1] - e->groups.start[g];

  e->halfbit[g] = x ? (uint64_t)1 << (63 - __builtin_clzll(x)) : 0;
  if (nk >= e->bits && e->bits >= EXPECT_WHT_MIN_BITS) e->kernel[g] = KERNEL_TRANSFORM;
  else if (e->vector && e->tilebits >= EXPECT_LANE_BITS) e->kernel[g] = KERNEL_LANES;
  else e->kernel[g] = KERNEL_ROWS;
}

PetscErrorCode QepExpectationCreate(Vec layout, PetscInt nstrings, const QepPauli strings[], QepExpectation *plan)
{
  QepExpectation e;
  PetscInt       ng, nentries;

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
  PetscCall(ReadOptions(e));
  ng       = e->groups.ngroups;
  nentries = e->groups.start[ng];
  PetscCall(PetscCalloc5(ng, &e->scatter, ng, &e->remote, ng, &e->flipped, ng, &e->kernel, ng, &e->halfbit));
  PetscCall(PetscMalloc4(nentries, &e->acc, nentries * EXPECT_LANE_SUMS, &e->lanes, (PetscInt)1 << e->bits, &e->work, nstrings + 1, &e->partial));
  for (PetscInt g = 0; g < ng; g++) {
    PetscBool local = RangeClosedUnderFlip(e->rstart, e->rend, e->groups.x[g]), all;
    PetscCallMPI(MPI_Allreduce(&local, &all, 1, MPIU_BOOL, MPI_LAND, e->comm));
    if (!all) PetscCall(CreateFlipScatter(e, layout, e->groups.x[g], &e->scatter[g], &e->remote[g]));
    ChooseKernel(e, g);
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
  PetscCall(PetscFree5(e->scatter, e->remote, e->flipped, e->kernel, e->halfbit));
  PetscCall(PetscFree4(e->acc, e->lanes, e->work, e->partial));
  PetscCall(QepFlipGroupsDestroy(&e->groups));
  PetscCall(PetscFree(e->strings));
  PetscCall(PetscFree(*plan));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------ compute ---------- */

/* Block sums of every entry of the transform group g from the block's transform u (rows from r0). */
static void PickTransformSums(QepExpectation e, PetscInt g, uint64_t r0, const PetscScalar *u)
{
  const QepFlipGroups *fg = &e->groups;
  const uint64_t       lo = ((uint64_t)1 << e->bits) - 1;

  for (PetscInt k = fg->start[g]; k < fg->start[g + 1]; k++) {
    const uint64_t z = fg->z[k];
    e->acc[k] += Parity(r0 & z) ? -u[z & lo] : u[z & lo];
  }
}

/* One transform block of B = 2^bits rows of a transform group: e->work gets its Walsh-Hadamard transform. */
static void TransformBlock(QepExpectation e, uint64_t B, const PetscScalar *bra, const PetscScalar *partner, uint64_t pmask, uint64_t skip)
{
#if defined(EXPECT_HAVE_VECTOR)
  if (e->vector) {
    TransformBlockVector(B, bra, partner, pmask, skip, e->work);
    return;
  }
#endif
  TransformBlockScalar(B, bra, partner, pmask, skip, e->work);
}

/* Group g on the tile of local rows [i0, i0 + T), T = 2^tilebits. The ket amplitude of tile row j is
 * partner[j ^ pmask]: the received copy in row order (pmask 0) or the local partner tile, which the
 * flip permutes within (pmask = x's bits below T). half: the bit of the rows to leave out, or 0. */
static void AccumulateTile(QepExpectation e, PetscInt g, PetscInt i0, const PetscScalar *bra, const PetscScalar *ket, uint64_t half)
{
  const QepFlipGroups *fg = &e->groups;
  const uint64_t       T = (uint64_t)1 << e->tilebits, B = (uint64_t)1 << e->bits, x = fg->x[g], r0 = (uint64_t)(e->rstart + i0);
  const PetscInt       k0 = fg->start[g], nk = fg->start[g + 1] - k0;
  const PetscScalar   *partner = e->flipped[g] ? e->flipped[g] + i0 : ket + (((r0 ^ x) & ~(T - 1)) - (uint64_t)e->rstart);
  const uint64_t       pmask   = e->flipped[g] ? 0 : x & (T - 1), skip = half < T ? half : 0;

  if (!nk || (half >= T && (r0 & half))) return; /* the whole tile pairs with rows summed elsewhere */
  bra += i0;
  switch (e->kernel[g]) {
  case KERNEL_TRANSFORM:
    for (uint64_t j0 = 0; j0 < T; j0 += B) { /* block rows j0 + j pair with partner[((j0 ^ pmask) & ~(B - 1)) + (j ^ (pmask & (B - 1)))] */
      if (skip >= B && (j0 & skip)) continue;
      TransformBlock(e, B, bra + j0, partner + ((j0 ^ pmask) & ~(B - 1)), pmask & (B - 1), skip < B ? skip : 0);
      PickTransformSums(e, g, r0 + j0, e->work);
    }
    break;
  case KERNEL_LANES:
#if defined(EXPECT_HAVE_VECTOR)
    LanesTile(T, r0, bra, partner, pmask, skip, nk, fg->z + k0, e->lanes + k0 * EXPECT_LANES);
#endif
    break;
  case KERNEL_ROWS:
    RowsTile(T, r0, bra, partner, pmask, skip, nk, fg->z + k0, e->acc + k0);
    break;
  }
}

/* partial[t] += Re(w_t S_t) from the kernels' sums (halved: Compute summed half the rows of the
 * groups with a halfbit). */
static void FinishSums(QepExpectation e, PetscBool halved)
{
  const QepFlipGroups *fg = &e->groups;

  for (PetscInt g = 0; g < fg->ngroups; g++)
    for (PetscInt k = fg->start[g]; k < fg->start[g + 1]; k++) {
      const uint64_t z = fg->z[k];
      const PetscInt t = fg->string[k];
      PetscScalar    s = e->acc[k];
#if defined(EXPECT_HAVE_VECTOR)
      if (e->kernel[g] == KERNEL_LANES)
        for (int l = 0; l < EXPECT_LANES; l++) s += kLaneSign8[z & (EXPECT_LANES - 1)][l] * e->lanes[k * EXPECT_LANES + l];
#endif
      if (Parity(fg->x[g] & z)) s = -s;
      if (halved && e->halfbit[g]) s += (QepPauliNumY(e->strings[t]) & 1) ? -PetscConj(s) : PetscConj(s);
      e->partial[t] += PetscRealPart(fg->weight[k] * s);
    }
}

/* One pass over the local rows with bra/ket arrays; remote ket amplitudes come in by scatter.
 * halved (bra == ket only) sums each halvable group over half the rows. */
static PetscErrorCode AccumulateAll(QepExpectation e, Vec bra, Vec ket, PetscBool halved)
{
  const PetscInt     ng = e->groups.ngroups, nlocal = e->rend - e->rstart, T = (PetscInt)1 << e->tilebits;
  const PetscScalar *b, *k;

  PetscFunctionBegin;
  for (PetscInt g = 0; g < ng; g++)
    if (e->scatter[g]) {
      PetscCall(VecScatterBegin(e->scatter[g], ket, e->remote[g], INSERT_VALUES, SCATTER_FORWARD));
      PetscCall(VecScatterEnd(e->scatter[g], ket, e->remote[g], INSERT_VALUES, SCATTER_FORWARD));
    }
  PetscCall(VecGetArrayRead(bra, &b));
  PetscCall(VecGetArrayRead(ket, &k));
  for (PetscInt g = 0; g < ng; g++)
    if (e->remote[g]) PetscCall(VecGetArrayRead(e->remote[g], &e->flipped[g]));
  PetscCall(PetscArrayzero(e->acc, e->groups.start[ng]));
  PetscCall(PetscArrayzero(e->lanes, e->groups.start[ng] * EXPECT_LANE_SUMS));
  for (PetscInt i0 = 0; i0 < nlocal; i0 += T)
    for (PetscInt g = 0; g < ng; g++) AccumulateTile(e, g, i0, b, k, halved ? e->halfbit[g] : 0);
  FinishSums(e, halved);
  for (PetscInt g = 0; g < ng; g++)
    if (e->remote[g]) PetscCall(VecRestoreArrayRead(e->remote[g], &e->flipped[g]));
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
  e->partial[e->nstrings] = SumSquares(e->vector, e->rend - e->rstart, a);
  PetscCall(VecRestoreArrayRead(psi, &a));
  PetscCall(AccumulateAll(e, psi, psi, PETSC_TRUE));
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
  PetscCall(AccumulateAll(e, phi, psi, PETSC_FALSE));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, e->partial, (PetscMPIInt)e->nstrings, MPIU_REAL, MPIU_SUM, e->comm));
  for (PetscInt t = 0; t < e->nstrings; t++) values[t] = e->partial[t];
  PetscCall(PetscLogEventEnd(QEP_Expectation, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
