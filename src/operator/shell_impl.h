/* shell_impl.h — private data of the matrix-free (MATSHELL) operator: the plan built once at SetUp
 * and the coefficient tables rebuilt in place by SetCoefficients.
 *
 * Indices: a rank owns nlocal = n - log2(P) low bits; global row r = rank << nlocal | l. With
 * w_t = c_t (-i)^ny_t the operator is (Hv)[r] = sum_t w_t (-1)^popcount(r & z_t) v[r ^ x_t], so a
 * flip group (strings with one x) contributes f_x(r) v[r ^ x] with f_x(r) = sum over its distinct
 * local z patterns p of a_p (-1)^popcount(l & z_p), a_p collecting the strings' w_t and the (fixed)
 * sign of their rank bits. A group whose rank part of x is nonzero reads the partner rank's vector.
 *
 * Invariants:
 *   - every group holds at most SHELL_MAX_TABLE_BITS patterns with z above the lane bits (a flip
 *     mask with more is split into several groups with the same x), so its coefficient for every
 *     block of 8 rows is one of 2^nhigh precomputed lane vectors (ftab);
 *   - groups[] is ordered by pass, then layer (source), then the layer's fused groups by bit, then
 *     segment key (see SHELL_SEGMENT_KEYS); every group of a pass has its local flip mask inside
 *     the pass's tile bits, so a tile is closed under all of the pass's flips, local and remote
 *     alike: the partner's copy of the same tile is all a remote group needs;
 *   - a pass marked whole reads no partner and has one tile, the local vector in row order, so it
 *     may read v itself instead of a staged copy;
 *   - pass 0 covers the contiguous bits [0, tile bits) and writes y = D v + ...; later passes add;
 *   - the plan is identical on every rank (it depends on the strings and the layout only), so
 *     partners visit the same tiles in the same order and exchange them tile by tile;
 *   - coef[], ftab[] and the diagonal tables describe op->coeffs of the last SetCoefficients
 *     (ftab also holds the diagonal's straddling patterns as one table when there are at most
 *     SHELL_MAX_TABLE_BITS of them); ftab, tlo and stored start on a cache line. */
#pragma once
#include "operatorimpl.h"

#define SHELL_LANE_BITS      3                     /* a block of 8 consecutive rows is one SIMD step */
#define SHELL_LANES          (1 << SHELL_LANE_BITS)
#define SHELL_UNROLL         8                     /* blocks in flight per step of the vector kernel */
#define SHELL_STEP_BITS      (SHELL_LANE_BITS + 3) /* log2(SHELL_LANES * SHELL_UNROLL): a chunk holds whole steps */
#define SHELL_STEP           (1 << SHELL_STEP_BITS)
#define SHELL_CACHE_LINE     64 /* bytes; staged tiles and lane tables start on a line boundary */
#define SHELL_MAX_TABLE_BITS 4 /* high patterns per group: 2^4 lane vectors = 1 KiB of table, read from L1 */

typedef enum { SHELL_KERNEL_VECTOR = 0, SHELL_KERNEL_SCALAR = 1 } ShellKernelType;
typedef enum { SHELL_DIAGONAL_AUTO = 0, SHELL_DIAGONAL_TABLE = 1, SHELL_DIAGONAL_STORED = 2 } ShellDiagonalMode;

/* One distinct local z pattern of a flip group (or one straddling diagonal pattern). */
typedef struct {
  uint64_t z; /* local z bits */
} ShellPattern;

/* A flip group (or a part of one, see the invariants) of one source. Its patterns p0..p1-1 are
 * sorted by z, so the lane-only ones (z < 8) come first and the nhigh others last. */
typedef struct {
  uint64_t  x;      /* local flip mask */
  uint64_t  xv;     /* the same flip in the tile-local index of its pass (chunk bits, then outer bits) */
  PetscInt  source; /* sources[source] holds the vector it reads */
  PetscInt  p0, p1; /* its patterns: patterns[p0..p1-1], coefficients coef[p0..p1-1] */
  PetscBool pure;   /* nhigh == 0: the same lane vector of coefficients for every block */
  int       nhigh;
  uint64_t  zstep[SHELL_MAX_TABLE_BITS]; /* high pattern j: its z bits at or above SHELL_STEP_BITS */
  uint8_t   kpar[SHELL_UNROLL];          /* bit j: parity of (block k's offset in its step) & z_j */
  PetscInt  fofs;                        /* ftab[fofs + 8 s + lane]: coefficient for sign word s (bit j: parity of the row & z_j) */
} ShellGroup;

/* Segment keys (GroupOrderKey): a pure group whose flip stays inside a step (local x < SHELL_STEP)
 * reads the step's own blocks, key = x; any other ("far") group has key = SHELL_INSTEP_KEYS +
 * 2 SHELL_LANES * table? + SHELL_LANES * (permutes blocks?) + (x & 7). Keys ascend, in-step first.
 * Pure in-step groups with a single flipped bit (x = 1 << b, b < SHELL_STEP_BITS: transverse fields
 * on the low qubits) are not in a segment: the layer applies them together ("fused"). */
#define SHELL_INSTEP_KEYS  SHELL_STEP
#define SHELL_SEGMENT_KEYS (SHELL_INSTEP_KEYS + 4 * SHELL_LANES)

/* The groups of one source inside a pass: groups[g0..] are first the fused ones (one per set bit of
 * fused, ascending), then segments with one key each (GroupOrderKey). */
typedef struct {
  PetscInt source;
  PetscInt g0;
  int      fused; /* bit b set: a pure group with x = 1 << b */
  PetscInt nseg;
  PetscInt ninstep; /* segments 0..ninstep-1 hold in-step groups */
  int      segkey[SHELL_SEGMENT_KEYS];
  PetscInt segstart[SHELL_SEGMENT_KEYS + 1]; /* segment s is groups[segstart[s]..segstart[s+1]-1]; segstart[nseg] ends the layer */
} ShellLayer;

/* A sweep over the local rows in tiles. The tile bits are the chunkbits lowest bits (contiguous)
 * plus the bits of outer; tiles differ in the other local bits. */
typedef struct {
  int         chunkbits;
  uint64_t    outer;
  uint64_t   *chunkoff; /* 2^popcount(outer) offsets of the chunks inside a tile */
  PetscInt    nlayers;
  ShellLayer *layers; /* layers[0] is the local source when present */
  PetscBool   whole;  /* no partner source and one tile, the whole local vector in row order (tile-local index = local row) */
} ShellPass;

/* The vector a group reads: the own one (partner == rank) or a partner rank's. */
typedef struct {
  PetscMPIInt partner;
} ShellSource;

/* Diagonal (x = 0) part: d(l) = tlo[l & lomask] + thi[l >> h] + sum_s dcoef[s] (-1)^popcount(l & dpat[s].z),
 * or the stored vector when too many patterns straddle the split. */
typedef struct {
  int           h;         /* split bit */
  PetscReal    *tlo, *thi; /* 2^h and 2^(nlocal - h) entries */
  PetscInt      nstraddle;
  ShellPattern *dpat;
  PetscReal    *dcoef;
  PetscReal    *stored; /* non-NULL: d(l) for every local row */
  PetscReal    *direct; /* stored, or tlo when h = nlocal (thi[0] is then folded into tlo): d(l) = direct[l]; else NULL */
  PetscReal    *tloraw, *storedraw; /* the allocations behind tlo and stored, which start on a cache line */
  PetscBool     tabled;   /* the straddles as one coefficient table (vector kernel), laid out in straddle */
  ShellGroup    straddle; /* only nhigh, zstep, kpar, fofs are used */
} ShellDiagonal;

typedef struct {
  /* layout */
  PetscInt    nqubits, nlocal;
  PetscMPIInt rank, size;
  MPI_Comm    comm;
  /* options */
  ShellKernelType   kernel;
  ShellDiagonalMode diagmode;
  PetscInt          tilebits, chunkbits, splitbits; /* splitbits 0: automatic */
  PetscInt          tablebits;                      /* high patterns per group, <= SHELL_MAX_TABLE_BITS */
  PetscBool         prefetch;                       /* local passes prefetch their next tile */
  /* plan */
  PetscInt      npatterns, ngroups, nflips, npasses, nsources;
  ShellPattern *patterns;
  ShellGroup   *groups;
  ShellPass    *passes;
  ShellSource  *sources;
  /* string t -> where its coefficient goes: pattern index (off-diagonal), or -1 (diagonal) */
  PetscInt    *strpattern;
  PetscScalar *strphase; /* (-i)^ny_t times the sign of the rank bits of z_t */
  PetscScalar *coef;     /* per pattern */
  PetscReal   *ftabraw, *ftab; /* per group 2^nhigh lane vectors (vector kernel), 64-byte aligned */
  PetscInt     nftab;
  ShellDiagonal diag;
  /* diagonal strings (for the tables): local z and rank-folded sign */
  PetscInt  ndiagstrings;
  PetscInt *diagstring;
  /* staging: tile buffers [2][nsources] (double-buffered: tile t+1 travels while tile t is computed) */
  PetscInt     maxtilebits;
  PetscScalar  *stageraw, *stage[2];
  PetscScalar **slots;    /* [2][nsources]: slots[b * nsources + s] holds source s's copy in set b (slot 0: the own tile) */
  MPI_Request  *requests; /* [2][2 nsources][messages per tile] */
  Vec          work;     /* complex MultTranspose: conj(v) */
  /* statistics */
  PetscInt64 nmult;
} QepOperator_Shell;

/* shell_plan.c */
PETSC_INTERN PetscErrorCode ShellPlanCreate(QepOperator, QepOperator_Shell *);
PETSC_INTERN PetscErrorCode ShellPlanDestroy(QepOperator_Shell *);
PETSC_INTERN PetscErrorCode ShellPlanSetCoefficients(QepOperator_Shell *, const QepPauli strings[], const PetscReal coeffs[], PetscInt nstrings);

/* shell_kernel.c; none of these allocate or fail. */
/* Number of tiles of a pass. */
PETSC_INTERN uint64_t ShellPassTileCount(const QepOperator_Shell *, const ShellPass *);
/* Copies tile t of src (chunk by chunk, tile-local order) into the contiguous buffer tile. */
PETSC_INTERN void ShellStageTile(const QepOperator_Shell *, const ShellPass *, uint64_t t, const PetscScalar *src, PetscScalar *tile);
/* Rows of tile t of y (+)= the pass's groups applied to the staged tiles (staged[s]: source s's copy).
 * next (or NULL): the vector whose tile t + 1 will be staged next; the vector kernel prefetches it. */
PETSC_INTERN void ShellApplyTile(const QepOperator_Shell *, const ShellPass *, uint64_t t, PetscScalar *const staged[], PetscScalar *y, PetscBool first, const PetscScalar *next);
/* PETSC_TRUE when the SIMD kernel exists in this build and fits nlocal local bits. */
PETSC_INTERN PetscBool ShellVectorKernelAvailable(PetscInt nlocal);
/* d(l) for the local rows [0, 2^nlocal) into d. */
PETSC_INTERN void ShellDiagonalFill(const QepOperator_Shell *, PetscScalar *d);

/* Number of MatMult calls applied by the shell operator (for statistics). */
PETSC_INTERN PetscErrorCode QepOperatorShellGetMultCount(QepOperator, PetscInt64 *);
