/* shell_impl.h — private data of the matrix-free (MATSHELL) operator: the plan built once at SetUp
 * and the coefficient tables rebuilt in place by SetCoefficients.
 *
 * Indices: a rank owns nlocal = n - log2(P) low bits; global row r = rank << nlocal | l. With
 * w_t = c_t (-i)^ny_t the operator is (Hv)[r] = sum_t w_t (-1)^popcount(r & z_t) v[r ^ x_t], so a
 * flip group (all strings with one x) contributes f_x(r) v[r ^ x] with f_x(r) = sum over its distinct
 * local z patterns p of a_p (-1)^popcount(l & z_p), a_p collecting the strings' w_t and the (fixed)
 * sign of their rank bits.
 *
 * Invariants:
 *   - groups[] is ordered by source, then pass, then (patterned, x & 7); every group of a pass has
 *     its local flip mask inside the pass's tile bits, so a tile is closed under the pass's flips;
 *   - source 0 is the local one and its pass 0 covers the contiguous bits [0, tile bits): that pass
 *     runs first and writes y = D v + ..., every other pass accumulates into y;
 *   - coef[] and the diagonal tables always describe op->coeffs of the last SetCoefficients. */
#pragma once
#include "operatorimpl.h"

#define SHELL_LANE_BITS 3                     /* a block of 8 consecutive rows is one SIMD step */
#define SHELL_LANES     (1 << SHELL_LANE_BITS)
#define SHELL_UNROLL    8                      /* blocks in flight per step of the vector kernel */
#define SHELL_STEP_BITS (SHELL_LANE_BITS + 3)  /* log2(SHELL_LANES * SHELL_UNROLL): a chunk holds whole steps */
#define SHELL_STEP      (1 << SHELL_STEP_BITS)

typedef enum { SHELL_KERNEL_VECTOR = 0, SHELL_KERNEL_SCALAR = 1 } ShellKernelType;
typedef enum { SHELL_DIAGONAL_AUTO = 0, SHELL_DIAGONAL_TABLE = 1, SHELL_DIAGONAL_STORED = 2 } ShellDiagonalMode;

/* One distinct local z pattern of a flip group (or one straddling diagonal pattern). */
typedef struct {
  uint64_t z; /* local z bits */
} ShellPattern;

/* One flip group restricted to the strings with a given rank part of x. */
typedef struct {
  uint64_t x;      /* local flip mask */
  uint64_t xv;     /* the same flip in the tile-local index of its pass (chunk bits, then outer bits) */
  PetscInt p0, p1; /* its patterns: patterns[p0..p1-1], coefficients coef[p0..p1-1] */
  PetscBool pure;  /* a single pattern with z == 0: f_x is the constant coef[p0] */
} ShellGroup;

/* A sweep over the local rows in tiles; applies groups[g0..g1-1]. The tile bits are the chunkbits
 * lowest bits (contiguous) plus the bits of outer; tiles differ in the other local bits. */
typedef struct {
  int       chunkbits;
  uint64_t  outer;
  PetscInt  g0, g1;
  PetscInt  nseg;                          /* non-empty segments of groups with one key = 8*patterned + (x & 7) */
  int       segkey[2 * SHELL_LANES];
  PetscInt  segstart[2 * SHELL_LANES + 1]; /* segment s is groups[segstart[s]..segstart[s+1]-1] */
  uint64_t *chunkoff;                 /* 2^popcount(outer) offsets of the chunks inside a tile */
} ShellPass;

/* Groups whose flip reaches rank partner (local source: partner = own rank, no exchange). */
typedef struct {
  PetscMPIInt partner;
  PetscInt    pass0, pass1;
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
  /* plan */
  PetscInt      npatterns, ngroups, npasses, nsources;
  ShellPattern *patterns;
  ShellGroup   *groups;
  ShellPass    *passes;
  ShellSource  *sources;
  /* string t -> where its coefficient goes: pattern index (off-diagonal), or -1 (diagonal) */
  PetscInt    *strpattern;
  PetscScalar *strphase; /* (-i)^ny_t times the sign of the rank bits of z_t */
  PetscScalar *coef;     /* per pattern */
  ShellDiagonal diag;
  /* diagonal strings (for the tables): local z and rank-folded sign */
  PetscInt  ndiagstrings;
  PetscInt *diagstring;
  /* communication */
  PetscScalar *recvbuf;
  PetscScalar *scratchraw, *scratch; /* one staged tile (largest over passes), 64-byte aligned */
  PetscInt     maxtilebits;
  Vec          work; /* complex MultTranspose: conj(v) */
  /* statistics */
  PetscInt64 nmult;
} QepOperator_Shell;

/* shell_plan.c */
PETSC_INTERN PetscErrorCode ShellPlanCreate(QepOperator, QepOperator_Shell *);
PETSC_INTERN PetscErrorCode ShellPlanDestroy(QepOperator_Shell *);
PETSC_INTERN PetscErrorCode ShellPlanSetCoefficients(QepOperator_Shell *, const QepPauli strings[], const PetscReal coeffs[], PetscInt nstrings);

/* shell_kernel.c: one pass over the local rows; src is the local or the partner's vector. Cannot fail. */
PETSC_INTERN void ShellApplyPass(const QepOperator_Shell *, const ShellPass *, const PetscScalar *src, PetscScalar *y, PetscBool first);
/* PETSC_TRUE when the SIMD kernel exists in this build and fits nlocal local bits. */
PETSC_INTERN PetscBool ShellVectorKernelAvailable(PetscInt nlocal);
/* d(l) for the local rows [0, 2^nlocal) into d. */
PETSC_INTERN void ShellDiagonalFill(const QepOperator_Shell *, PetscScalar *d);

/* Number of MatMult calls applied by the shell operator (for statistics). */
PETSC_INTERN PetscErrorCode QepOperatorShellGetMultCount(QepOperator, PetscInt64 *);
