/* sample.c — shots from a distributed probability vector (QepSampleDistribution).
 *
 * Invariant: the shot list depends only on (prob's global values, nshots, seed, stream), never on
 * the rank count or the ownership layout. Three steps make that exact:
 *   1. Quantisation. With pmax = max_s p(s) (an exact MPI_MAX) and e its binary exponent
 *      (pmax = m 2^e, 1/2 <= m < 1), every state gets the integer weight
 *          w(s) = floor(p(s) 2^(62 - e)) < 2^62,
 *      a product by a power of two, hence exact: w(s) is a function of p(s) and pmax alone. The most
 *      probable state has w >= 2^61; the floor costs every state less than one unit, a relative
 *      error below 2^(e-62) / p(s) <= 2^-61 pmax / p(s). p(s) = 0 (and p(s) < 2^(e-62)) gives w = 0:
 *      such a state is never sampled.
 *   2. Cumulative distribution. Local sums are exact unsigned 128-bit integers (at most 2^62 states
 *      times 2^62 < 2^124); a custom MPI_Op adds them exactly in MPI_Exscan (this rank's offset) and
 *      MPI_Allreduce (the total W). State s owns the integer interval [C(s), C(s) + w(s)).
 *   3. Shots. With key = splitmix64(splitmix64(seed) ^ stream) (exactly the key of QepRandomUniform),
 *      shot j draws r_j = h(2j) 2^64 + h(2j+1), h(c) = splitmix64(key ^ c), a uniform 128-bit integer,
 *      and u_j = floor(r_j W / 2^128) in [0, W). (The leading 53 bits of r_j are those behind
 *      QepRandomUniform(seed, stream, 2j).) Shot j lands on the state whose interval holds u_j.
 * Every rank hashes all N shots (cheap), keeps the u_j inside its own interval and locates them with
 * one of two O(local states + local shots) strategies; the kept shots are reported in ascending order
 * of state, so concatenating the ranks' lists in rank order gives the global sorted list. */
#include "../qepimpl.h"
#include <qep/measure.h>

#define QEP_WEIGHT_BITS    62 /* w(s) < 2^62: fits uint64_t, and 2^62 states * 2^62 < 2^128 */
#define SORT_DIGIT_BITS    11  /* radix-sort digit: 2^11 counters (16 KiB) stay in L1 */
#define WALK_BLOCK         256 /* states per block sum: the walk skips blocks without shots */

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- 128-bit helpers ------------- */
/* u128 travels through MPI as two uint64 words (low, high); the words avoid the 16-byte alignment
 * that unsigned __int128 would demand of MPI's buffers. */
typedef struct {
  uint64_t lo, hi;
} Words128;

static inline Words128 ToWords(u128 v) { return (Words128){(uint64_t)v, (uint64_t)(v >> 64)}; }
static inline u128     FromWords(Words128 w) { return ((u128)w.hi << 64) | w.lo; }

static void SumWords128(void *in, void *inout, int *len, MPI_Datatype *type)
{
  Words128 *a = (Words128 *)in, *b = (Words128 *)inout;
  for (int i = 0; i < *len; i++) b[i] = ToWords(FromWords(a[i]) + FromWords(b[i]));
}

/* Exact global sum of a 128-bit local value, and this rank's exclusive prefix (0 on rank 0). Collective. */
static PetscErrorCode ExactPrefixAndTotal(MPI_Comm comm, u128 local, u128 *prefix, u128 *total)
{
  MPI_Datatype type;
  MPI_Op       op;
  Words128     in = ToWords(local), pre = {0, 0}, tot;
  PetscMPIInt  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Type_contiguous(2, MPI_UINT64_T, &type));
  PetscCallMPI(MPI_Type_commit(&type));
  PetscCallMPI(MPI_Op_create(SumWords128, 1, &op));
  PetscCallMPI(MPI_Exscan(&in, &pre, 1, type, op, comm));
  PetscCallMPI(MPI_Allreduce(&in, &tot, 1, type, op, comm));
  PetscCallMPI(MPI_Op_free(&op));
  PetscCallMPI(MPI_Type_free(&type));
  *prefix = rank ? FromWords(pre) : 0; /* MPI_Exscan leaves rank 0's buffer undefined */
  *total  = FromWords(tot);
  PetscFunctionReturn(0);
}

/* floor(a b / 2^128): the high half of the 256-bit product, from four 64x64 partial products. */
static inline u128 MulHigh128(u128 a, u128 b)
{
  const uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
  const u128     p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
  const u128     mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10; /* < 3 2^64: no overflow */
  return p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

static inline int BitLength128(u128 v)
{
  const uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
  return hi ? 128 - __builtin_clzll(hi) : (lo ? 64 - __builtin_clzll(lo) : 0);
}

/* ---------------------------------------------------------------- random shots ----------------- */
static inline uint64_t SplitMix64(uint64_t z)
{
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* u_j in [0, total): see step 3 of the file comment. */
static inline u128 ShotPoint(uint64_t key, uint64_t j, u128 total)
{
  const u128 r = ((u128)SplitMix64(key ^ (2 * j)) << 64) | SplitMix64(key ^ (2 * j + 1));
  return MulHigh128(r, total);
}

/* ---------------------------------------------------------------- quantisation ----------------- */
/* w = floor(p 2^shift) as two exact power-of-two products (2^shift alone may overflow a double when
 * pmax is tiny); an intermediate underflow only happens when the result is below 1 anyway. */
typedef struct {
  double s1, s2;
} WeightScale;

static WeightScale MakeWeightScale(double pmax)
{
  int e, shift;
  (void)frexp(pmax, &e); /* pmax = m 2^e, 1/2 <= m < 1, so every p <= pmax is below 2^e */
  shift = QEP_WEIGHT_BITS - e;
  return (WeightScale){ldexp(1.0, shift / 2), ldexp(1.0, shift - shift / 2)};
}

/* The value is below 2^62, so the (fast) signed conversion is exact. */
static inline uint64_t Weight(PetscReal p, WeightScale sc) { return (uint64_t)(int64_t)((p * sc.s1) * sc.s2); }

static inline PetscReal ProbabilityOf(PetscScalar v) { return PetscRealPart(v); }

/* Global max of prob and whether any entry is negative, NaN or infinite. Collective. */
static PetscErrorCode ScanProbabilities(Vec prob, PetscReal *pmax, PetscBool *bad)
{
  const PetscScalar *a;
  PetscInt           n;
  double             loc[2] = {0.0, 0.0}, glob[2]; /* {max p, 1 if some entry is invalid} */
  MPI_Comm           comm;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)prob, &comm));
  PetscCall(VecGetLocalSize(prob, &n));
  PetscCall(VecGetArrayRead(prob, &a));
  {
    PetscReal pmax_local = 0;
    PetscInt  nbad       = 0;
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal p = ProbabilityOf(a[i]);
      nbad += !(p >= 0 && p <= PETSC_MAX_REAL); /* negative, NaN or infinite */
      pmax_local = p > pmax_local ? p : pmax_local;
    }
    loc[0] = pmax_local;
    loc[1] = nbad ? 1.0 : 0.0;
  }
  PetscCall(VecRestoreArrayRead(prob, &a));
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_MAX, comm));
  *pmax = glob[0];
  *bad  = glob[1] > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Sum of the local weights; bend[b] receives the running sum at the end of block b of WALK_BLOCK
 * states (the last block may be shorter), so a walk can skip blocks without shots. */
static u128 LocalWeightSum(const PetscScalar *a, PetscInt n, WeightScale sc, u128 bend[])
{
  u128 sum = 0;
  for (PetscInt b0 = 0; b0 < n; b0 += WALK_BLOCK) {
    const PetscInt b1 = PetscMin(n, b0 + WALK_BLOCK);
    for (PetscInt i = b0; i < b1; i++) sum += Weight(ProbabilityOf(a[i]), sc);
    bend[b0 / WALK_BLOCK] = sum;
  }
  return sum;
}

/* ---------------------------------------------------------------- shots of this rank ----------- */
/* Offsets d = u_j - lo of the shots whose u_j falls in [lo, lo + width); *d PetscMalloc'ed. */
static PetscErrorCode KeepLocalShots(PetscInt64 nshots, uint64_t key, u128 total, u128 lo, u128 width, PetscInt64 *nkept, u128 **d)
{
  PetscInt64 cap = 0, k = 0;
  u128      *buf = NULL;

  PetscFunctionBegin;
  if (width > 0) {
    /* expected count nshots * width / total, plus slack; grown by doubling if exceeded */
    cap = (PetscInt64)((double)nshots * ((double)width / (double)total)) + 16;
    PetscCall(PetscMalloc1(cap, &buf));
    for (PetscInt64 j = 0; j < nshots; j++) {
      const u128 off = ShotPoint(key, (uint64_t)j, total) - lo; /* wraps to a huge value below lo */
      if (off >= width) continue;
      if (k == cap) {
        u128 *bigger;
        PetscCall(PetscMalloc1(2 * cap, &bigger));
        PetscCall(PetscArraycpy(bigger, buf, k));
        PetscCall(PetscFree(buf));
        buf = bigger;
        cap *= 2;
      }
      buf[k++] = off;
    }
  }
  *nkept = k;
  *d     = buf;
  PetscFunctionReturn(0);
}

/* Sorts the k offsets, all below width, ascending in expected O(k). They are uniform, so their top
 * log2(k) + 1 bits (about half an offset per key value) are sorted by an LSD radix sort in digits of
 * SORT_DIGIT_BITS (cache-sized counters), after which only equal keys can be out of order and one
 * insertion pass finishes the job. */
static PetscErrorCode SortOffsets(PetscInt64 k, u128 d[], u128 width)
{
  const int  keybits = PetscMin(64, (k > 1 ? 64 - __builtin_clzll((uint64_t)(k - 1)) : 0) + 1);
  const int  shift   = PetscMax(0, BitLength128(width) - keybits);
  PetscInt64 count[(1 << SORT_DIGIT_BITS) + 1];
  u128      *tmp, *src = d, *dst;

  PetscFunctionBegin;
  if (k < 2) PetscFunctionReturn(0);
  PetscCall(PetscMalloc1(k, &tmp));
  dst = tmp;
  for (int lo = 0; lo < keybits; lo += SORT_DIGIT_BITS) { /* one stable counting pass per digit */
    const uint64_t mask = ((uint64_t)1 << SORT_DIGIT_BITS) - 1;
    u128          *swap;
    PetscCall(PetscArrayzero(count, (1 << SORT_DIGIT_BITS) + 1));
    for (PetscInt64 i = 0; i < k; i++) count[(((uint64_t)(src[i] >> shift) >> lo) & mask) + 1]++;
    for (int b = 0; b < (1 << SORT_DIGIT_BITS); b++) count[b + 1] += count[b];
    for (PetscInt64 i = 0; i < k; i++) dst[count[((uint64_t)(src[i] >> shift) >> lo) & mask]++] = src[i];
    swap = src, src = dst, dst = swap;
  }
  for (PetscInt64 i = 1; i < k; i++) { /* only offsets with equal keys can still be out of order */
    const u128 v = src[i];
    PetscInt64 j = i;
    for (; j > 0 && src[j - 1] > v; j--) src[j] = src[j - 1];
    src[j] = v;
  }
  if (src != d) PetscCall(PetscArraycpy(d, src, k));
  PetscCall(PetscFree(tmp));
  PetscFunctionReturn(0);
}

/* Few shots per state: sort the offsets and match them in order with the local states, skipping
 * whole blocks that receive no shot (bend[] from LocalWeightSum): O(k + n / WALK_BLOCK + the states
 * of the blocks that are hit). State i owns [start, end) = [C(i), C(i) + w(i)). */
static PetscErrorCode LocateByWalk(const PetscScalar *a, PetscInt rstart, WeightScale sc, const u128 bend[], PetscInt64 k, u128 d[], u128 width, PetscInt64 shots[])
{
  PetscInt i = 0, b = 0;
  u128     start = 0, end = 0;

  PetscFunctionBegin;
  PetscCall(SortOffsets(k, d, width));
  if (k) end = Weight(ProbabilityOf(a[0]), sc);
  for (PetscInt64 j = 0; j < k; j++) {
    const u128 u = d[j]; /* u < width = bend[last block], so neither loop runs past the end */
    if (u >= bend[b]) {
      while (u >= bend[b]) b++;
      i     = b * WALK_BLOCK;
      start = bend[b - 1];
      end   = start + Weight(ProbabilityOf(a[i]), sc);
    }
    while (u >= end) {
      i++;
      start = end;
      end   = start + Weight(ProbabilityOf(a[i]), sc);
    }
    shots[j] = (PetscInt64)rstart + i;
  }
  PetscFunctionReturn(0);
}

/* Many shots per state: binary-search each offset in the local cumulative weights, count hits per
 * state, and emit the states in order (no sort of the shots needed). */
static PetscErrorCode LocateByCounting(const PetscScalar *a, PetscInt n, PetscInt rstart, WeightScale sc, PetscInt64 k, const u128 d[], PetscInt64 shots[])
{
  u128       *cdf, cum = 0;
  PetscInt64 *hits, j = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &cdf));
  PetscCall(PetscCalloc1(n, &hits));
  for (PetscInt i = 0; i < n; i++) cdf[i] = cum += Weight(ProbabilityOf(a[i]), sc);
  for (PetscInt64 s = 0; s < k; s++) { /* first i with cdf[i] > d: a zero-weight state never is */
    PetscInt lo = 0, hi = n - 1;
    while (lo < hi) {
      const PetscInt mid = lo + (hi - lo) / 2;
      if (cdf[mid] > d[s]) hi = mid;
      else lo = mid + 1;
    }
    hits[lo]++;
  }
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt64 h = 0; h < hits[i]; h++) shots[j++] = (PetscInt64)rstart + i;
  PetscCall(PetscFree(hits));
  PetscCall(PetscFree(cdf));
  PetscFunctionReturn(0);
}

PetscErrorCode QepSampleDistribution(Vec prob, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscInt64 *nlocal, PetscInt64 **shots)
{
  MPI_Comm           comm;
  PetscReal          pmax;
  PetscBool          bad;
  PetscInt           n, rstart;
  const PetscScalar *a;
  WeightScale        sc;
  u128               width, lo, total, *d, *bend;
  PetscInt64         k = 0;
  const uint64_t     key = SplitMix64(SplitMix64((uint64_t)seed) ^ (uint64_t)stream);

  PetscFunctionBegin;
  PetscCheck(nlocal, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "nlocal must not be NULL");
  PetscCheck(shots, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "shots must not be NULL");
  PetscCall(QepInitializePackage());
  PetscCall(PetscObjectGetComm((PetscObject)prob, &comm));
  PetscCheck(nshots >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of shots nshots = %" PetscInt64_FMT " is negative; it must be >= 0", nshots);
  *nlocal = 0;
  *shots  = NULL;
  if (nshots == 0) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(QEP_Sample, prob, 0, 0, 0));
  PetscCall(ScanProbabilities(prob, &pmax, &bad));
  PetscCheck(!bad, comm, PETSC_ERR_ARG_WRONG, "Sampling needs probabilities that are non-negative and finite; this vector has a negative, NaN or infinite entry");
  PetscCheck(pmax > 0, comm, PETSC_ERR_ARG_WRONG, "Cannot sample: the state has zero norm (every probability is 0)");
  sc = MakeWeightScale(pmax);
  PetscCall(VecGetLocalSize(prob, &n));
  PetscCall(VecGetOwnershipRange(prob, &rstart, NULL));
  PetscCall(VecGetArrayRead(prob, &a));
  PetscCall(PetscMalloc1(n / WALK_BLOCK + 1, &bend));
  width = LocalWeightSum(a, n, sc, bend);
  PetscCall(ExactPrefixAndTotal(comm, width, &lo, &total));
  PetscCheck(total > 0, comm, PETSC_ERR_PLIB, "Cannot sample: the state has zero norm (total integer weight 0)");
  PetscCall(KeepLocalShots(nshots, key, total, lo, width, &k, &d));
  PetscCall(PetscMalloc1(k, shots));
  if (k >= n) PetscCall(LocateByCounting(a, n, rstart, sc, k, d, *shots));
  else PetscCall(LocateByWalk(a, rstart, sc, bend, k, d, width, *shots));
  PetscCall(VecRestoreArrayRead(prob, &a));
  PetscCall(PetscFree(d));
  PetscCall(PetscFree(bend));
  *nlocal = k;
  PetscCall(PetscLogEventEnd(QEP_Sample, prob, 0, 0, 0));
  PetscFunctionReturn(0);
}
