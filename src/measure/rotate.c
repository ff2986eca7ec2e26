/* rotate.c — probabilities of a distributed state in the eigenbasis of a Pauli basis string
 * (QepRotatedProbabilities).
 *
 * U_B applies H·S† on every Y qubit and H on every X qubit. Written as U_B = H^{⊗X∪Y} · D with the
 * diagonal phase D|s> = (-i)^popcount(s & Y)|s>, the work is: one pass that multiplies each amplitude
 * by its phase (an exact sign/swap of real and imaginary parts), then an unnormalised Walsh–Hadamard
 * butterfly (a, b) -> (a + b, a - b) for every qubit of X∪Y, and finally p = |a|² 2^-k (k = |X∪Y|,
 * an exact power-of-two scale). Amplitudes live in a real work array with `comps` doubles per state:
 * 1 for real amplitudes (real build, no Y), 2 for (re, im) interleaved otherwise; a butterfly acts on
 * both parts alike, so qubit q is bit q + log2(comps) of the work index.
 *
 * Invariant: every rank applies the butterflies of X∪Y in ascending qubit order with the same
 * arithmetic, whatever the layout, so the probabilities are bit-identical at any rank count (and the
 * sampled shots with them). A qubit is "local" when every rank's ownership range is aligned to
 * 2^(q+1) (both partners of every pair on one rank): these are the lowest qubits, done in place with
 * cache-blocked passes. Every higher qubit is one exchange: when each rank's partner states form
 * exactly another rank's whole range (PETSc's default layout at a power-of-two rank count), the two
 * ranks swap their arrays with MPI_Sendrecv; otherwise a VecScatter brings the partners psi[i ^ 2^q]
 * that live on other ranks (for an irregular layout only those across the range ends) and pairs with
 * both partners local stay in place. */
#include "../qepimpl.h"
#include <qep/measure.h>

#define ROT_BLOCK_BITS 11 /* low pass: 2^11 doubles (16 KiB) per block stay in L1 for all its stages */
#define ROT_RUN_BITS   6  /* high passes: contiguous runs of 2^6 doubles (512 B, 8 cache lines) ... */
#define ROT_GROUP_BITS 5  /* ... for 2^5 combinations of up to 5 qubits: a 16 KiB tile per pass */

/* ---------------------------------------------------------------- local butterflies ------------ */
/* (a, b) -> (a + b, a - b): the only arithmetic of the rotation. Two stages fused into one 4-point
 * step (radix 4) perform exactly the same operations in the same order, so fusing never changes a
 * bit; it only halves the loads and stores. */
#define BUTTERFLY(a, b) \
  do { \
    const PetscReal a_ = (a), b_ = (b); \
    (a) = a_ + b_; \
    (b) = a_ - b_; \
  } while (0)

/* Stage of work bit b (h = 2^b) on the block x[0 .. size), size a multiple of 2h. */
static inline void Stage(PetscReal *restrict x, PetscInt64 size, PetscInt64 h)
{
  for (PetscInt64 j = 0; j < size; j += 2 * h)
    for (PetscInt64 k = j; k < j + h; k++) BUTTERFLY(x[k], x[k + h]);
}

/* Stages h1 < h2 fused: size a multiple of 2 h2. */
static inline void Stage2(PetscReal *restrict x, PetscInt64 size, PetscInt64 h1, PetscInt64 h2)
{
  for (PetscInt64 j = 0; j < size; j += 2 * h2)
    for (PetscInt64 i = j; i < j + h2; i += 2 * h1)
      for (PetscInt64 k = i; k < i + h1; k++) {
        PetscReal a0 = x[k], a1 = x[k + h1], a2 = x[k + h2], a3 = x[k + h1 + h2];
        BUTTERFLY(a0, a1);
        BUTTERFLY(a2, a3);
        BUTTERFLY(a0, a2);
        BUTTERFLY(a1, a3);
        x[k] = a0, x[k + h1] = a1, x[k + h2] = a2, x[k + h1 + h2] = a3;
      }
}

/* Work bits 0..2 of m3 on every group of 8 consecutive values, in registers (the short strides
 * 1, 2, 4 defeat the vectorised loops above). */
static inline void Stages8(PetscReal *restrict x, PetscInt64 size, uint64_t m3)
{
  for (PetscInt64 g = 0; g < size; g += 8) {
    PetscReal v[8];
    for (int i = 0; i < 8; i++) v[i] = x[g + i];
    if (m3 & 1)
      for (int i = 0; i < 8; i += 2) BUTTERFLY(v[i], v[i + 1]);
    if (m3 & 2)
      for (int i = 0; i < 8; i += (i & 1) ? 3 : 1) BUTTERFLY(v[i], v[i + 2]); /* i = 0, 1, 4, 5 */
    if (m3 & 4)
      for (int i = 0; i < 4; i++) BUTTERFLY(v[i], v[i + 4]);
    for (int i = 0; i < 8; i++) x[g + i] = v[i];
  }
}

/* The stages of mask on one block, ascending: bits 0..2 in registers, the rest two at a time. */
static void BlockStages(PetscReal *x, PetscInt64 size, uint64_t mask)
{
  uint64_t rest = mask & ~(uint64_t)7;

  if (mask & 7) Stages8(x, size, mask & 7);
  while (rest) {
    const PetscInt64 h1 = (PetscInt64)1 << __builtin_ctzll(rest);
    rest &= rest - 1;
    if (rest) {
      Stage2(x, size, h1, (PetscInt64)1 << __builtin_ctzll(rest));
      rest &= rest - 1;
    } else Stage(x, size, h1);
  }
}

/* All work bits of mask below ROT_BLOCK_BITS, ascending, one cache-resident block at a time. */
static void LowPass(PetscReal *x, PetscInt64 len, uint64_t mask)
{
  const PetscInt64 block = PetscMax(8, (PetscInt64)1 << (64 - __builtin_clzll(mask))); /* >= 2^(highest bit + 1) */

  if (len % block) { /* a tiny local array (fewer than 8 values): plain stages */
    for (uint64_t m = mask; m; m &= m - 1) Stage(x, len, (PetscInt64)1 << __builtin_ctzll(m));
    return;
  }
  for (PetscInt64 base = 0; base < len; base += block) BlockStages(x + base, block, mask);
}

/* The bits[0..nb) (ascending, all >= ROT_RUN_BITS) in one pass over tiles: a tile is the 2^nb
 * combinations of those bits times a contiguous run of 2^ROT_RUN_BITS doubles, for every setting of
 * the remaining bits; within a tile the stages run in ascending bit order, two at a time. */
static void HighPass(PetscReal *x, PetscInt64 len, const int bits[], int nb)
{
  const PetscInt64 run = (PetscInt64)1 << ROT_RUN_BITS;
  PetscInt64       off[1 << ROT_GROUP_BITS];
  uint64_t         gmask = 0;

  for (int k = 0; k < nb; k++) gmask |= (uint64_t)1 << bits[k];
  for (int c = 0; c < (1 << nb); c++) { /* off[c]: the bits of c deposited on the group's bit positions */
    off[c] = 0;
    for (int k = 0; k < nb; k++)
      if (c >> k & 1) off[c] += (PetscInt64)1 << bits[k];
  }
  for (PetscInt64 base = 0; base < len; base += run) {
    if ((uint64_t)base & gmask) continue; /* not a tile origin */
    for (int k = 0; k < nb; k += 2) {
      const PetscInt64 h1 = (PetscInt64)1 << bits[k];
      if (k + 1 < nb) {
        const PetscInt64 h2 = (PetscInt64)1 << bits[k + 1];
        for (int c = 0; c < (1 << nb); c++) {
          PetscReal *restrict p;
          if (c >> k & 3) continue;
          p = x + base + off[c];
          for (PetscInt64 e = 0; e < run; e++) {
            PetscReal a0 = p[e], a1 = p[e + h1], a2 = p[e + h2], a3 = p[e + h1 + h2];
            BUTTERFLY(a0, a1);
            BUTTERFLY(a2, a3);
            BUTTERFLY(a0, a2);
            BUTTERFLY(a1, a3);
            p[e] = a0, p[e + h1] = a1, p[e + h2] = a2, p[e + h1 + h2] = a3;
          }
        }
      } else {
        for (int c = 0; c < (1 << nb); c++) {
          PetscReal *restrict p;
          if (c >> k & 1) continue;
          p = x + base + off[c];
          for (PetscInt64 e = 0; e < run; e++) BUTTERFLY(p[e], p[e + h1]);
        }
      }
    }
  }
}

/* Every work bit of mask (each with both partners in x[0 .. len)), ascending. */
static void LocalButterflies(PetscReal *x, PetscInt64 len, uint64_t mask)
{
  const uint64_t low = mask & (((uint64_t)1 << ROT_BLOCK_BITS) - 1);
  uint64_t       high = mask & ~low;

  if (low) LowPass(x, len, low);
  while (high) {
    int bits[ROT_GROUP_BITS], nb = 0;
    for (; high && nb < ROT_GROUP_BITS; high &= high - 1) bits[nb++] = __builtin_ctzll(high);
    HighPass(x, len, bits, nb);
  }
}

/* ---------------------------------------------------------------- exchanged qubits ------------- */
typedef struct {
  MPI_Comm  comm;
  PetscInt  rstart, n; /* owned states [rstart, rstart + n) */
  int       comps;     /* doubles per state in the work array */
  PetscInt  bs;        /* PetscScalars per state in the work Vec */
  Vec       work;      /* the work array as a Vec: prob itself, or a wrapper of own */
  PetscReal *own;      /* the (re, im) array of the real build's Y rotations, else NULL */
} RotWork;

#define ROT_MSG_DOUBLES ((PetscInt64)1 << 27) /* largest message (1 GiB): counts stay far below INT_MAX */

/* The rank whose whole range is the partner range [lo ^ h, hi ^ h) of this rank's whole range (the
 * usual power-of-two layout for the qubits above the local block): then the pairing of qubit q is a
 * perfect matching of ranks. *partner = -1 for an empty range, -2 when there is no such rank. */
static PetscErrorCode WholeRangePartner(RotWork *w, uint64_t h, PetscMPIInt *partner)
{
  const PetscInt *ranges;
  PetscMPIInt     size;
  const uint64_t  lo = (uint64_t)w->rstart, hi = (uint64_t)(w->rstart + w->n);

  PetscFunctionBegin;
  *partner = w->n ? -2 : -1;
  if (!w->n || (lo & ~(h - 1)) != ((hi - 1) & ~(h - 1))) PetscFunctionReturn(0); /* must sit in one half of a 2h block */
  PetscCall(VecGetOwnershipRanges(w->work, &ranges));
  PetscCallMPI(MPI_Comm_size(w->comm, &size));
  for (PetscMPIInt r = 0; r < size; r++)
    if ((uint64_t)(ranges[r] / w->bs) == (lo ^ h) && (uint64_t)(ranges[r + 1] / w->bs) == ((hi - 1) ^ h) + 1) *partner = r;
  PetscFunctionReturn(0);
}

/* Exchanges the whole work array with the partner rank into recv (comps * n doubles), in messages
 * of at most ROT_MSG_DOUBLES. */
static PetscErrorCode SwapWithPartner(RotWork *w, PetscMPIInt partner, const PetscReal *send, PetscReal *recv)
{
  MPI_Comm    comm;
  PetscMPIInt tag;
  PetscInt64  total = (PetscInt64)w->comps * w->n;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)w->work, &comm)); /* PETSc's private communicator and a fresh tag */
  PetscCall(PetscObjectGetNewTag((PetscObject)w->work, &tag));
  for (PetscInt64 off = 0; off < total; off += ROT_MSG_DOUBLES) {
    const PetscMPIInt count = (PetscMPIInt)PetscMin(ROT_MSG_DOUBLES, total - off);
    PetscCallMPI(MPI_Sendrecv(send + off, count, MPIU_REAL, partner, tag, recv + off, count, MPIU_REAL, partner, tag, comm, MPI_STATUS_IGNORE));
  }
  PetscFunctionReturn(0);
}

/* Butterfly of qubit q whose partners all live on one other rank: a = u + v on the bit-0 side,
 * a = u - v on the bit-1 side (u the bit-0 amplitude), the same operations as a local butterfly. */
static PetscErrorCode MatchedButterfly(RotWork *w, PetscMPIInt partner, uint64_t h)
{
  const PetscInt64 total = (PetscInt64)w->comps * w->n;
  PetscReal       *v, *a;
  PetscScalar     *wa;

  PetscFunctionBegin;
  if (partner < 0) PetscFunctionReturn(0); /* empty range */
  PetscCall(PetscMalloc1(total, &v));
  PetscCall(VecGetArray(w->work, &wa));
  a = (PetscReal *)wa;
  PetscCall(SwapWithPartner(w, partner, a, v));
  if ((uint64_t)w->rstart & h)
    for (PetscInt64 i = 0; i < total; i++) a[i] = v[i] - a[i];
  else
    for (PetscInt64 i = 0; i < total; i++) a[i] = a[i] + v[i];
  PetscCall(VecRestoreArray(w->work, &wa));
  PetscCall(PetscFree(v));
  PetscFunctionReturn(0);
}

/* Butterfly of qubit q for any layout: partners outside [rstart, rstart+n) come in by one VecScatter
 * (in the order of the owned states that need them); pairs with both members here stay in place. */
static PetscErrorCode ScatteredButterfly(RotWork *w, uint64_t h)
{
  const uint64_t     lo = (uint64_t)w->rstart, hi = (uint64_t)(w->rstart + w->n);
  PetscInt           nrem = 0, *idx;
  IS                 is;
  Vec                remote;
  VecScatter         sc;
  const PetscScalar *r;
  const PetscReal   *rr;
  PetscScalar       *wa;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(w->n, &idx));
  for (PetscInt i = 0; i < w->n; i++) {
    const uint64_t partner = ((uint64_t)(w->rstart + i)) ^ h;
    if (partner < lo || partner >= hi) idx[nrem++] = (PetscInt)partner;
  }
  PetscCall(ISCreateBlock(PETSC_COMM_SELF, w->bs, nrem, idx, PETSC_COPY_VALUES, &is));
  PetscCall(PetscFree(idx));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, nrem * w->bs, &remote));
  PetscCall(VecScatterCreate(w->work, is, remote, NULL, &sc));
  PetscCall(VecScatterBegin(sc, w->work, remote, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, w->work, remote, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(remote, &r));
  PetscCall(VecGetArray(w->work, &wa));
  rr = (const PetscReal *)r;
  for (PetscInt i = 0, k = 0; i < w->n; i++) {
    const uint64_t g = (uint64_t)(w->rstart + i), partner = g ^ h;
    PetscReal     *a = (PetscReal *)wa + (PetscInt64)i * w->comps;
    if (partner >= lo && partner < hi) { /* both local: the pair is done once, from its bit-0 member */
      PetscReal *b = (PetscReal *)wa + (PetscInt64)(partner - lo) * w->comps;
      if (g & h) continue;
      for (int c = 0; c < w->comps; c++) BUTTERFLY(a[c], b[c]);
    } else { /* a is (bit 0) u + v or (bit 1) u - v with u the bit-0 amplitude: the same operations */
      const PetscReal *v = rr + (PetscInt64)(k++) * w->comps;
      for (int c = 0; c < w->comps; c++) a[c] = (g & h) ? v[c] - a[c] : a[c] + v[c];
    }
  }
  PetscCall(VecRestoreArray(w->work, &wa));
  PetscCall(VecRestoreArrayRead(remote, &r));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&remote));
  PetscCall(ISDestroy(&is));
  PetscFunctionReturn(0);
}

/* Butterfly of a qubit whose pairs cross ownership ranges: one message per rank pair when the
 * ranges match whole (every rank must agree), else a general scatter. Collective. */
static PetscErrorCode ExchangedButterfly(RotWork *w, int q)
{
  const uint64_t h = (uint64_t)1 << q;
  PetscMPIInt    partner;
  int            matched, all;

  PetscFunctionBegin;
  PetscCall(WholeRangePartner(w, h, &partner));
  matched = partner != -2;
  PetscCallMPI(MPI_Allreduce(&matched, &all, 1, MPI_INT, MPI_LAND, w->comm));
  if (all) PetscCall(MatchedButterfly(w, partner, h));
  else PetscCall(ScatteredButterfly(w, h));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- driver ----------------------- */
/* Highest A such that every rank's range is a multiple of 2^A at both ends (an empty range imposes
 * nothing): qubits q < A have both pair partners on one rank. Collective. */
static PetscErrorCode GlobalAlignmentBits(MPI_Comm comm, PetscInt rstart, PetscInt rend, int nqubits, int *A)
{
  const uint64_t ends = (uint64_t)rstart | (uint64_t)rend;
  int            mine = (rstart == rend || !ends) ? nqubits : PetscMin(nqubits, __builtin_ctzll(ends));

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&mine, A, 1, MPI_INT, MPI_MIN, comm));
  PetscFunctionReturn(0);
}

/* x[i] = psi[i] (-i)^popcount((rstart + i) & ymask), with comps doubles per state. */
static void LoadWithPhase(const PetscScalar *psi, PetscInt rstart, PetscInt n, uint64_t ymask, int comps, PetscReal *x)
{
  for (PetscInt64 i = 0; i < n; i++) {
    const int       k  = __builtin_popcountll(((uint64_t)(rstart + i)) & ymask) & 3;
    const PetscReal re = PetscRealPart(psi[i]), im = PetscImaginaryPart(psi[i]);
    if (comps == 1) {
      x[i] = re; /* no Y: k = 0 */
      continue;
    }
    switch (k) { /* (re + i im) (-i)^k */
    case 0: x[2 * i] = re, x[2 * i + 1] = im; break;
    case 1: x[2 * i] = im, x[2 * i + 1] = -re; break;
    case 2: x[2 * i] = -re, x[2 * i + 1] = -im; break;
    default: x[2 * i] = -im, x[2 * i + 1] = re; break;
    }
  }
}

static PetscErrorCode CheckRotationArgs(Vec psi, QepPauli basis, Vec prob, int *nqubits)
{
  MPI_Comm comm;
  PetscInt N, a0, a1, b0, b1;
  int      same, all;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)psi, &comm));
  PetscCall(VecGetSize(psi, &N));
  PetscCheck(N >= 2 && (N & (N - 1)) == 0, comm, PETSC_ERR_ARG_SIZ, "State length %" PetscInt_FMT " is not a power of two >= 2", N);
  *nqubits = __builtin_ctzll((uint64_t)N);
  PetscCheck(QepPauliMaxQubit(basis) < *nqubits, comm, PETSC_ERR_ARG_OUTOFRANGE, "Basis string acts on qubit %d but the state has %d qubits", QepPauliMaxQubit(basis), *nqubits);
  PetscCall(VecGetOwnershipRange(psi, &a0, &a1));
  PetscCall(VecGetOwnershipRange(prob, &b0, &b1));
  same = (a0 == b0 && a1 == b1);
  PetscCallMPI(MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, comm));
  PetscCheck(all, comm, PETSC_ERR_ARG_INCOMP, "prob must have the layout of psi (same ownership ranges on every rank)");
  PetscFunctionReturn(0);
}

/* The work Vec: prob itself when a state's amplitude fits a PetscScalar of prob (complex build, or
 * real build without Y), else a wrapper around a new (re, im) array. */
static PetscErrorCode CreateWork(Vec prob, RotWork *w)
{
  PetscFunctionBegin;
  if (w->comps * sizeof(PetscReal) == sizeof(PetscScalar)) {
    w->work = prob;
    w->own  = NULL;
    PetscCall(PetscObjectReference((PetscObject)prob));
  } else {
    int fits = (PetscInt64)w->n * w->bs <= PETSC_MAX_INT, all;
    PetscCallMPI(MPI_Allreduce(&fits, &all, 1, MPI_INT, MPI_LAND, w->comm));
    PetscCheck(all, w->comm, PETSC_ERR_ARG_OUTOFRANGE, "Too many states on one rank for the (re, im) work array of a Y rotation in this 32-bit-index build; use more ranks");
    PetscCall(PetscMalloc1((PetscInt64)w->comps * w->n, &w->own));
    PetscCall(VecCreateMPIWithArray(w->comm, w->bs, w->n * w->bs, PETSC_DECIDE, (PetscScalar *)w->own, &w->work));
  }
  PetscFunctionReturn(0);
}

/* The rotated amplitudes in w's array: phases, local butterflies, then the exchanged qubits. */
static PetscErrorCode RotateIntoWork(Vec psi, QepPauli basis, int nqubits, RotWork *w)
{
  const uint64_t     xmask = basis.x, ymask = basis.x & basis.z;
  const int          shift = w->comps == 2 ? 1 : 0; /* work bit of qubit q: q + shift */
  PetscScalar       *wa;
  const PetscScalar *ps;
  uint64_t           local;
  int                A;

  PetscFunctionBegin;
  PetscCall(GlobalAlignmentBits(w->comm, w->rstart, w->rstart + w->n, nqubits, &A));
  local = xmask & (((uint64_t)1 << A) - 1);
  PetscCall(VecGetArray(w->work, &wa));
  if (psi == w->work) ps = wa; /* in place: each entry is read before it is written */
  else PetscCall(VecGetArrayRead(psi, &ps));
  LoadWithPhase(ps, w->rstart, w->n, ymask, w->comps, (PetscReal *)wa);
  if (psi != w->work) PetscCall(VecRestoreArrayRead(psi, &ps));
  if (local && w->n) LocalButterflies((PetscReal *)wa, (PetscInt64)w->comps * w->n, local << shift);
  PetscCall(VecRestoreArray(w->work, &wa));
  for (uint64_t m = xmask & ~local; m; m &= m - 1) PetscCall(ExchangedButterfly(w, __builtin_ctzll(m)));
  PetscFunctionReturn(0);
}

PetscErrorCode QepRotatedProbabilities(Vec psi, QepPauli basis, Vec prob)
{
  int          nqubits = 0;
  RotWork      w;
  PetscScalar *pa, *wa;
  PetscInt     rend;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(CheckRotationArgs(psi, basis, prob, &nqubits));
  PetscCall(PetscLogEventBegin(QEP_Rotate, psi, prob, 0, 0));
  PetscCall(PetscObjectGetComm((PetscObject)psi, &w.comm));
  PetscCall(VecGetOwnershipRange(psi, &w.rstart, &rend));
  w.n = rend - w.rstart;
#if defined(PETSC_USE_COMPLEX)
  w.comps = 2; /* a PetscScalar is (re, im) */
  w.bs    = 1;
#else
  w.comps = (basis.x & basis.z) ? 2 : 1; /* real amplitudes stay real without Y */
  w.bs    = w.comps;
#endif
  PetscCall(CreateWork(prob, &w));
  PetscCall(RotateIntoWork(psi, basis, nqubits, &w));
  { /* p = |a|^2 2^-k: a power-of-two scale, exact */
    const PetscReal  scale = ldexp(1.0, -__builtin_popcountll(basis.x));
    const PetscReal *x;
    PetscCall(VecGetArray(w.work, &wa));
    if (w.work == prob) pa = wa; /* entry i is read (x[comps i ..]) before pa[i] is written */
    else PetscCall(VecGetArray(prob, &pa));
    x = (const PetscReal *)wa;
    for (PetscInt i = 0; i < w.n; i++) {
      PetscReal s = 0;
      for (int c = 0; c < w.comps; c++) s += x[(PetscInt64)i * w.comps + c] * x[(PetscInt64)i * w.comps + c];
      pa[i] = s * scale;
    }
    if (w.work != prob) PetscCall(VecRestoreArray(prob, &pa));
    PetscCall(VecRestoreArray(w.work, &wa));
  }
  PetscCall(VecDestroy(&w.work));
  PetscCall(PetscFree(w.own));
  PetscCall(PetscLogEventEnd(QEP_Rotate, psi, prob, 0, 0));
  PetscFunctionReturn(0);
}
