/* test_shell.c — the matrix-free operator (-qep_operator shell) against a brute-force reference.
 *
 * For random Pauli sums (n = 3..11, seeded through QepRandomUniform so every rank count sees the
 * same sums) containing the identity, Y-Y and three-body terms, flips on the top (rank) bits and
 * across small tile boundaries, and several strings sharing one flip mask with different z, every
 * owned row of H v, H^T v, H^H v and diag(H) is compared with a plain loop over all strings of
 *     (H v)[r] = sum_t c_t i^ny_t (-1)^popcount((r ^ x_t) & z_t) v[r ^ x_t]
 * on the gathered vector (relative 1e-12). Each sum is checked under several internal kernel,
 * tiling, diagonal and coefficient-table configurations (-qep_shell_table_bits 1 and 2 split flip
 * groups with several high z patterns), before and after an in-place coefficient change; an
 * n = 18 TFIM-like sum checks the tiling with tiles much smaller than the local vector, including
 * flips that need passes of their own, so that at 2 and 4 ranks tiles are swapped with partners in
 * passes that mix own and partner groups and in passes with partner groups only. MatMult is also
 * checked with v on a cache line and 16 bytes past one (read in place / staged).
 * With a rank count that is not a power of two the set-up must fail (tests/shell.cmake). */
#include <qep/qep.h>
#include <slepcsys.h>

#define TOL_REL 1e-12

static const char help[] = "Tests the shell operator against a brute-force reference.\n"
                           "  -n_max <11>: largest random sum\n  -n_tiling <18>: size of the tiling check (0: skip)\n";

/* Internal option sets the shell is checked with (tile bits small enough to force several passes). */
static const char *const kConfigs[] = {
  "",
  "-qep_shell_kernel scalar",
  "-qep_shell_tile_bits 4 -qep_shell_chunk_bits 3",
  "-qep_shell_tile_bits 3 -qep_shell_chunk_bits 0 -qep_shell_kernel scalar -qep_shell_diagonal stored",
  "-qep_shell_tile_bits 5 -qep_shell_chunk_bits 4 -qep_shell_diagonal stored",
  "-qep_shell_tile_bits 6 -qep_shell_chunk_bits 3 -qep_shell_diagonal table -qep_shell_split_bits 3",
  "-qep_shell_kernel scalar -qep_shell_diagonal table -qep_shell_split_bits 4",
  "-qep_shell_diagonal stored -qep_shell_split_bits 5",
  "-qep_shell_table_bits 1 -qep_shell_tile_bits 6 -qep_shell_chunk_bits 6",
  "-qep_shell_table_bits 2 -qep_shell_tile_bits 7 -qep_shell_chunk_bits 6 -qep_shell_prefetch 0",
};

static const char *const kShellOptions[] = {"-qep_shell_kernel",     "-qep_shell_tile_bits",   "-qep_shell_chunk_bits", "-qep_shell_diagonal",
                                            "-qep_shell_split_bits", "-qep_shell_table_bits", "-qep_shell_prefetch"};

static PetscBool Allowed(QepPauli p) { return QepIsComplexBuild() || QepPauliIsReal(p); }

static PetscErrorCode AddString(const char *spec, PetscInt n, PetscInt *ns, QepPauli s[])
{
  QepPauli p = {0, 0};
  char     op;
  int      q, used;

  PetscFunctionBegin;
  for (const char *c = spec; sscanf(c, " %c%d%n", &op, &q, &used) == 2; c += used) {
    if (q >= n) PetscFunctionReturn(0); /* does not fit this n */
    PetscCheck(QepPauliSetFactor(&p, op, q) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "bad test string %s", spec);
  }
  if (Allowed(p)) s[(*ns)++] = p;
  PetscFunctionReturn(0);
}

/* Special strings (those that fit n), then 3n random ones and n random Z-type ones (room for 64 + 4n). */
static PetscErrorCode RandomStrings(PetscInt n, PetscInt64 seed, PetscInt *ns, QepPauli **strings)
{
  const char *special[] = {"I0", "Y0 Y1", "Z0 Z1 Z2", "X0 Z1 Y2", "X0 X1", "Y0 Y1", "Z3 X0 X1", "X0 Y1", "Z0 Z1", "X3 X4", "Z3 Z4", "Y2 Y5", "X2 X3 X4 X5",
                           "Y7 Z8 X9", "X6 X10", "Z1 Z10 X5", "Z1 Z2 Z3 Z4 Z5 Z6", "Z2 Z7", "Z0 Z9", "Z4 Z5"};
  char        buf[64];
  PetscInt    k = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(64 + 4 * n, strings));
  *ns = 0;
  for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) PetscCall(AddString(special[i], n, ns, *strings));
  /* flips on the top bits (the rank bits at 2 and 4 ranks), Y-Y across the whole register */
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X%d", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X%d X%d", (int)n - 2, (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Y%d Y%d Z0", (int)n - 2, (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Y0 Y%d", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Z%d X0 Y%d", (int)n - 1, (int)n - 2));
  PetscCall(AddString(buf, n, ns, *strings));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Z0 Z%d", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  /* one low flipped bit plus the top bit: at 2 and 4 ranks a partner's single-bit (fused) groups */
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X1 X%d", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *strings));
  if (n > 5) {
    PetscCall(PetscSNPrintf(buf, sizeof(buf), "X4 Z0 X%d", (int)n - 1));
    PetscCall(AddString(buf, n, ns, *strings));
  }
  for (PetscInt i = 0; i < 3 * n; i++) {
    QepPauli p = {0, 0};
    for (PetscInt q = 0; q < n; q++) {
      double u = QepRandomUniform(seed, 1, k++);
      if (u < 0.12) QepPauliSetFactor(&p, 'X', (int)q);
      else if (u < 0.24) QepPauliSetFactor(&p, 'Y', (int)q);
      else if (u < 0.36) QepPauliSetFactor(&p, 'Z', (int)q);
    }
    if (!Allowed(p)) p.z &= ~(p.x & p.z & (~(p.x & p.z) + 1)); /* real build: the lowest Y becomes an X */
    (*strings)[(*ns)++] = p;
  }
  for (PetscInt i = 0; i < n; i++) {
    QepPauli p = {0, 0};
    for (PetscInt q = 0; q < n; q++)
      if (QepRandomUniform(seed, 6, k++) < 0.3) QepPauliSetFactor(&p, 'Z', (int)q);
    (*strings)[(*ns)++] = p;
  }
  PetscFunctionReturn(0);
}

static void RandomCoefficients(PetscInt ns, PetscInt64 seed, PetscInt64 stream, PetscReal c[])
{
  for (PetscInt t = 0; t < ns; t++) c[t] = 2.0 * QepRandomUniform(seed, stream, t) - 1.0;
}

static PetscErrorCode RandomVector(Vec v, PetscInt64 seed)
{
  PetscInt     lo, hi;
  PetscScalar *a;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayWrite(v, &a));
  for (PetscInt r = lo; r < hi; r++) {
    a[r - lo] = QepRandomUniform(seed, 2, r) - 0.5;
#if defined(PETSC_USE_COMPLEX)
    a[r - lo] += PETSC_i * (QepRandomUniform(seed, 3, r) - 0.5);
#endif
  }
  PetscCall(VecRestoreArrayWrite(v, &a));
  PetscFunctionReturn(0);
}

static PetscScalar IPower(int k)
{
#if defined(PETSC_USE_COMPLEX)
  const PetscScalar table[4] = {1.0, PETSC_i, -1.0, -PETSC_i};
  return table[k & 3];
#else
  return (k & 2) ? -1.0 : 1.0;
#endif
}

typedef enum { REF_MULT, REF_TRANSPOSE, REF_HERMITIAN, REF_DIAGONAL } RefKind;

/* Reference product (or diagonal) for the owned rows, from the vector gathered on every rank. */
static PetscErrorCode ReferenceApply(PetscInt ns, const QepPauli s[], const PetscReal c[], RefKind kind, Vec v, Vec out)
{
  Vec                all;
  VecScatter         sc;
  const PetscScalar *va;
  PetscScalar       *o;
  PetscInt           lo, hi;

  PetscFunctionBegin;
  PetscCall(VecScatterCreateToAll(v, &sc, &all));
  PetscCall(VecScatterBegin(sc, v, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, v, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(all, &va));
  PetscCall(VecGetOwnershipRange(out, &lo, &hi));
  PetscCall(VecGetArrayWrite(out, &o));
  for (PetscInt r = lo; r < hi; r++) {
    PetscScalar sum = 0.0;
    for (PetscInt t = 0; t < ns; t++) {
      uint64_t    col = (uint64_t)r ^ s[t].x;
      PetscScalar h   = c[t] * IPower(QepPauliNumY(s[t]));
      switch (kind) {
      case REF_MULT: /* H[r][col] = c i^ny (-1)^popcount(col & z) */
        sum += h * (PetscReal)QepPauliZSign(s[t], col) * va[col];
        break;
      case REF_TRANSPOSE: /* H^T[r][col] = H[col][r] = c i^ny (-1)^popcount(r & z) */
        sum += h * (PetscReal)QepPauliZSign(s[t], (uint64_t)r) * va[col];
        break;
      case REF_HERMITIAN:
        sum += PetscConj(h * (PetscReal)QepPauliZSign(s[t], (uint64_t)r)) * va[col];
        break;
      case REF_DIAGONAL:
        if (s[t].x == 0) sum += h * (PetscReal)QepPauliZSign(s[t], (uint64_t)r);
        break;
      }
    }
    o[r - lo] = sum;
  }
  PetscCall(VecRestoreArrayWrite(out, &o));
  PetscCall(VecRestoreArrayRead(all, &va));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&all));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckClose(Vec got, Vec want, const char *what, PetscInt n, const char *config)
{
  Vec       diff;
  PetscReal err, scale;

  PetscFunctionBegin;
  PetscCall(VecDuplicate(got, &diff));
  PetscCall(VecWAXPY(diff, -1.0, want, got));
  PetscCall(VecNorm(diff, NORM_INFINITY, &err));
  PetscCall(VecNorm(want, NORM_INFINITY, &scale));
  PetscCall(VecDestroy(&diff));
  PetscCheck(scale > 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s n=%" PetscInt_FMT " [%s]: reference is zero, the check would be vacuous", what, n, config);
  PetscCheck(err <= TOL_REL * scale, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%s n=%" PetscInt_FMT " [%s]: max error %.3e vs max value %.3e", what, n, config, (double)err, (double)scale);
  PetscFunctionReturn(0);
}

/* MatMult with v and y in arrays of our own, v starting on a 64-byte boundary (offset 0) or 16 bytes
 * past one: a pass whose tile is the whole local vector reads an aligned v in place and stages a
 * copy of a misaligned one (vector kernel), so both paths are compared with the reference. */
static PetscErrorCode CheckPlacedMult(Mat A, Vec v, Vec yref, PetscInt n, const char *config)
{
  const size_t line = 64;
  PetscInt     nlocal;
  PetscScalar *raw, *base;

  PetscFunctionBegin;
  PetscCall(MatGetLocalSize(A, &nlocal, NULL));
  PetscCall(PetscMalloc1(2 * (size_t)nlocal + 2 * line / sizeof(PetscScalar), &raw));
  base = (PetscScalar *)(((uintptr_t)raw + line - 1) & ~(uintptr_t)(line - 1));
  for (int shifted = 0; shifted < 2; shifted++) {
    PetscScalar *va = (PetscScalar *)((char *)base + (shifted ? 16 : 0));
    Vec          vp, yp;
    PetscCall(VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, nlocal, PETSC_DECIDE, va, &vp));
    PetscCall(VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, nlocal, PETSC_DECIDE, va + nlocal, &yp));
    PetscCall(VecCopy(v, vp));
    PetscCall(MatMult(A, vp, yp));
    PetscCall(CheckClose(yp, yref, shifted ? "MatMult (v 16 bytes past a cache line)" : "MatMult (v on a cache line)", n, config));
    PetscCall(VecDestroy(&vp));
    PetscCall(VecDestroy(&yp));
  }
  PetscCall(PetscFree(raw));
  PetscFunctionReturn(0);
}

/* Mat product of the given kind against the reference. */
static PetscErrorCode CheckProduct(Mat A, PetscInt n, PetscInt ns, const QepPauli s[], const PetscReal c[], RefKind kind, const char *config)
{
  Vec         v, y, yref;
  const char *names[] = {"MatMult", "MatMultTranspose", "MatMultHermitianTranspose", "MatGetDiagonal"};

  PetscFunctionBegin;
  PetscCall(MatCreateVecs(A, &v, &y));
  PetscCall(VecDuplicate(y, &yref));
  PetscCall(RandomVector(v, 1000 + n + 10 * kind));
  if (kind == REF_MULT) PetscCall(MatMult(A, v, y));
  else if (kind == REF_TRANSPOSE) PetscCall(MatMultTranspose(A, v, y));
  else if (kind == REF_HERMITIAN) PetscCall(MatMultHermitianTranspose(A, v, y));
  else PetscCall(MatGetDiagonal(A, y));
  PetscCall(ReferenceApply(ns, s, c, kind, v, yref));
  PetscCall(CheckClose(y, yref, names[kind], n, config));
  if (kind == REF_MULT) PetscCall(CheckPlacedMult(A, v, yref, n, config));
  PetscCall(VecDestroy(&v));
  PetscCall(VecDestroy(&y));
  PetscCall(VecDestroy(&yref));
  PetscFunctionReturn(0);
}

/* Distinct flip masks, counting the diagonal when a Z-type string exists. */
static PetscInt CountFlipGroups(PetscInt ns, const QepPauli s[])
{
  PetscInt ng = 0;
  for (PetscInt t = 0; t < ns; t++) {
    PetscBool seen = PETSC_FALSE;
    for (PetscInt u = 0; u < t && !seen; u++) seen = s[u].x == s[t].x ? PETSC_TRUE : PETSC_FALSE;
    ng += !seen;
  }
  return ng;
}

static PetscErrorCode CheckSum(PetscInt n, PetscInt ns, const QepPauli s[], PetscInt64 seed, const char *config, PetscBool full)
{
  QepOperator    op;
  Mat            A;
  PetscReal     *c;
  PetscInt       ngroups;
  PetscLogDouble nnz;

  PetscFunctionBegin;
  PetscCall(PetscOptionsInsertString(NULL, config));
  PetscCall(PetscMalloc1(ns, &c));
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, ns, s));
  PetscCall(QepOperatorSetType(op, QEP_OPERATOR_SHELL));
  PetscCall(QepOperatorSetUp(op));
  RandomCoefficients(ns, seed, 4, c);
  PetscCall(QepOperatorSetCoefficients(op, c));
  PetscCall(QepOperatorGetMat(op, &A));
  PetscCall(CheckProduct(A, n, ns, s, c, REF_MULT, config));
  PetscCall(CheckProduct(A, n, ns, s, c, REF_DIAGONAL, config));
  if (full) {
    PetscCall(CheckProduct(A, n, ns, s, c, REF_TRANSPOSE, config));
    PetscCall(CheckProduct(A, n, ns, s, c, REF_HERMITIAN, config));
  }
  /* in place: new coefficients, same Mat */
  RandomCoefficients(ns, seed, 5, c);
  PetscCall(QepOperatorSetCoefficients(op, c));
  PetscCall(CheckProduct(A, n, ns, s, c, REF_MULT, config));
  PetscCall(CheckProduct(A, n, ns, s, c, REF_DIAGONAL, config));
  PetscCall(QepOperatorGetInfo(op, &ngroups, &nnz));
  PetscCheck(ngroups == CountFlipGroups(ns, s), PETSC_COMM_WORLD, PETSC_ERR_PLIB, "GetInfo: %" PetscInt_FMT " flip groups, expected %" PetscInt_FMT, ngroups, CountFlipGroups(ns, s));
  PetscCheck(nnz == (PetscLogDouble)ngroups * ldexp(1.0, (int)n), PETSC_COMM_WORLD, PETSC_ERR_PLIB, "GetInfo: nnz %g, expected 2^n * groups", nnz);
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(PetscFree(c));
  for (size_t k = 0; k < sizeof(kShellOptions) / sizeof(kShellOptions[0]); k++) PetscCall(PetscOptionsClearValue(NULL, kShellOptions[k]));
  PetscFunctionReturn(0);
}

/* Open chain: ZZ on every bond, X on every site, plus long-range XX/YY and a straddling ZZ. */
static PetscErrorCode TilingStrings(PetscInt n, PetscInt *ns, QepPauli **s)
{
  char buf[64];

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(3 * n + 16, s));
  *ns = 0;
  for (PetscInt q = 0; q < n; q++) {
    PetscCall(PetscSNPrintf(buf, sizeof(buf), "X%d", (int)q));
    PetscCall(AddString(buf, n, ns, *s));
    if (q + 1 < n) {
      PetscCall(PetscSNPrintf(buf, sizeof(buf), "Z%d Z%d", (int)q, (int)q + 1));
      PetscCall(AddString(buf, n, ns, *s));
    }
  }
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X2 X%d", (int)n - 3));
  PetscCall(AddString(buf, n, ns, *s));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Y2 Y%d", (int)n - 3));
  PetscCall(AddString(buf, n, ns, *s));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "Z0 Z%d", (int)n / 2));
  PetscCall(AddString(buf, n, ns, *s));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X5 X6 X7 X%d Z9", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *s));
  /* flips whose outer bits no pass of the single flips holds: they widen the last pass or open one
   * of their own (at 2 and 4 ranks a pass with only a partner's tiles) */
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X9 X13 X%d", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *s));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "X10 X14 X%d Z3 Z12", (int)n - 1));
  PetscCall(AddString(buf, n, ns, *s));
  /* one flip mask with five high z patterns: more than a coefficient table holds */
  for (int k = 0; k < 5; k++) {
    PetscCall(PetscSNPrintf(buf, sizeof(buf), "X4 X11 Z%d Z%d", 6 + k, 12 + k));
    PetscCall(AddString(buf, n, ns, *s));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    nmax = 11, ntiling = 18, ns;
  PetscMPIInt size;
  QepPauli   *s;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n_max", &nmax, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n_tiling", &ntiling, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  for (PetscInt n = 3; n <= nmax; n++) {
    if (((PetscInt)1 << n) < 2 * size && (size & (size - 1)) == 0) continue; /* too few rows per rank */
    PetscCall(RandomStrings(n, 77 + n, &ns, &s));
    for (size_t k = 0; k < sizeof(kConfigs) / sizeof(kConfigs[0]); k++) PetscCall(CheckSum(n, ns, s, 77 + n, kConfigs[k], k == 0 || k == 2 ? PETSC_TRUE : PETSC_FALSE));
    PetscCall(PetscFree(s));
  }
  if (ntiling > 0) {
    PetscCall(TilingStrings(ntiling, &ns, &s));
    PetscCall(CheckSum(ntiling, ns, s, 5, "-qep_shell_tile_bits 8 -qep_shell_chunk_bits 4", PETSC_FALSE));
    PetscCall(CheckSum(ntiling, ns, s, 6, "", PETSC_FALSE));
    PetscCall(CheckSum(ntiling, ns, s, 7, "-qep_shell_tile_bits 10 -qep_shell_chunk_bits 7 -qep_shell_table_bits 2", PETSC_FALSE));
    PetscCall(PetscFree(s));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_shell: all checks passed on %d rank(s)\n", size));
  PetscCall(SlepcFinalize());
  return 0;
}
