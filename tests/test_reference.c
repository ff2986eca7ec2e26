/* test_reference.c — checks the reference solutions of tests/common/reference.c against each other
 * and against hand-written matrices, so that every other test can trust them.
 *
 * Owns: the Kronecker matrices of hand-checked strings, Hermiticity and P^2 = I of random sums,
 * dense expectation values of product states, the free-fermion TFIM energies (E0 and E1) against
 * dense diagonalisation for n = 2..10 (open and periodic, uniform and random couplings of both
 * signs, ordered and paramagnetic), the uniform-ring closed form, and Hellmann-Feynman consistency
 * between the free-fermion energy and the dense ground vector. Serial by nature; runs in seconds. */
#include <qep/qep.h>
#include "reference.h"

static const char help[] = "Checks qep's independent reference solutions (dense Kronecker, LAPACK, free fermions).\n";

/* Energies are O(n); LAPACK and the free-fermion solution both reach ~1e-14 on them. */
#define ENERGY_TOL 1e-10
/* Central differences with step FD_STEP: truncation ~ step^2, rounding ~ 1e-16 / step. */
#define FD_STEP 1e-5
#define FD_TOL  1e-7
/* Largest chain diagonalised densely; 2^10 = 1024 keeps each dense solve well under a second. */
#define MAX_DENSE_CHAIN 10
#define SEED            20240611

static PetscErrorCode CheckClose(const char what[], PetscReal got, PetscReal want, PetscReal tol)
{
  PetscFunctionBegin;
  PetscCheck(PetscAbsReal(got - want) <= tol, PETSC_COMM_SELF, PETSC_ERR_PLIB, "%s: got %.15g, expected %.15g (|diff| %.3g > tol %.3g)", what, (double)got, (double)want,
             (double)PetscAbsReal(got - want), (double)tol);
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseString(const char text[], QepPauli *p)
{
  PetscFunctionBegin;
  p->x = p->z = 0;
  for (const char *c = text; *c;) {
    char letter = *c++;
    int  q      = 0;
    PetscCheck(*c >= '0' && *c <= '9', PETSC_COMM_SELF, PETSC_ERR_PLIB, "Bad test string %s", text);
    while (*c >= '0' && *c <= '9') q = 10 * q + (*c++ - '0');
    PetscCheck(QepPauliSetFactor(p, letter, q) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Bad test string %s", text);
    while (*c == ' ') c++;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseStringf(QepPauli *p, const char fmt[], int a, int b)
{
  char text[64];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(text, sizeof(text), fmt, a, b));
  PetscCall(ParseString(text, p));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- Kronecker matrices by hand */

/* expected[r][c] = re + i im, row-major as written on paper. */
static PetscErrorCode CheckMatrix(const char name[], PetscInt n, PetscInt nterms, const char *texts[], const PetscReal coeffs[], const PetscReal re[], const PetscReal im[])
{
  const PetscInt N = (PetscInt)1 << n;
  QepPauli       strings[8];
  PetscScalar   *H;

  PetscFunctionBegin;
  for (PetscInt t = 0; t < nterms; t++) PetscCall(ParseString(texts[t], &strings[t]));
  PetscCall(RefDenseHamiltonian(n, nterms, strings, coeffs, &H));
  for (PetscInt r = 0; r < N; r++)
    for (PetscInt c = 0; c < N; c++) {
      const PetscScalar h = H[r + c * N];
      PetscCheck(PetscRealPart(h) == re[r * N + c] && PetscImaginaryPart(h) == (im ? im[r * N + c] : 0), PETSC_COMM_SELF, PETSC_ERR_PLIB,
                 "%s: entry (%" PetscInt_FMT ",%" PetscInt_FMT ") is %g%+gi, expected %g%+gi", name, r, c, (double)PetscRealPart(h), (double)PetscImaginaryPart(h),
                 (double)re[r * N + c], (double)(im ? im[r * N + c] : 0));
    }
  PetscCall(PetscFree(H));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestHandMatrices(void)
{
  const PetscReal one[]  = {1};
  const char     *xx[]   = {"X0 X1"};
  const PetscReal xxM[]  = {0, 0, 0, 1, /**/ 0, 0, 1, 0, /**/ 0, 1, 0, 0, /**/ 1, 0, 0, 0};
  const char     *yy[]   = {"Y0 Y1"};
  const PetscReal yyM[]  = {0, 0, 0, -1, /**/ 0, 0, 1, 0, /**/ 0, 1, 0, 0, /**/ -1, 0, 0, 0};
  const char     *z0[]   = {"Z0"};
  const PetscReal z0M[]  = {1, 0, 0, 0, /**/ 0, -1, 0, 0, /**/ 0, 0, 1, 0, /**/ 0, 0, 0, -1};
  const char     *x1[]   = {"X1"};
  const PetscReal x1M[]  = {0, 0, 1, 0, /**/ 0, 0, 0, 1, /**/ 1, 0, 0, 0, /**/ 0, 1, 0, 0};
  const char     *zx[]   = {"Z0 X1"};
  const PetscReal half[] = {0.5};
  const PetscReal zxM[]  = {0, 0, 0.5, 0, /**/ 0, 0, 0, -0.5, /**/ 0.5, 0, 0, 0, /**/ 0, -0.5, 0, 0};
  /* X0 X1 + Y0 Y1 = 2 (|01><10| + |10><01|): the flip-flop term. */
  const char     *xxyy[]  = {"X0 X1", "Y1 Y0"};
  const PetscReal ones[]  = {1, 1};
  const PetscReal xxyyM[] = {0, 0, 0, 0, /**/ 0, 0, 2, 0, /**/ 0, 2, 0, 0, /**/ 0, 0, 0, 0};
  /* Z2 on three qubits: the top Kronecker factor. */
  const char     *z2[]  = {"Z2"};
  const PetscReal z2M[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                           0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1};

  PetscFunctionBegin;
  PetscCall(CheckMatrix("X0 X1", 2, 1, xx, one, xxM, NULL));
  PetscCall(CheckMatrix("Y0 Y1", 2, 1, yy, one, yyM, NULL));
  PetscCall(CheckMatrix("Z0", 2, 1, z0, one, z0M, NULL));
  PetscCall(CheckMatrix("X1", 2, 1, x1, one, x1M, NULL));
  PetscCall(CheckMatrix("0.5 Z0 X1", 2, 1, zx, half, zxM, NULL));
  PetscCall(CheckMatrix("X0 X1 + Y0 Y1", 2, 2, xxyy, ones, xxyyM, NULL));
  PetscCall(CheckMatrix("Z2", 3, 1, z2, one, z2M, NULL));
#if defined(PETSC_USE_COMPLEX)
  {
    /* Y0 Z1 = Z (x) Y = diag(Y, -Y) with Y = [[0, -i], [i, 0]]. */
    const char     *yz[]   = {"Y0 Z1"};
    const PetscReal zero[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const PetscReal yzIm[] = {0, -1, 0, 0, /**/ 1, 0, 0, 0, /**/ 0, 0, 0, 1, /**/ 0, 0, -1, 0};
    /* Y1 alone: <0|Y1|2> = -i, <2|Y1|0> = i (qubit 1 is bit 1). */
    const char     *y1[]   = {"Y1"};
    const PetscReal y1Im[] = {0, 0, -1, 0, /**/ 0, 0, 0, -1, /**/ 1, 0, 0, 0, /**/ 0, 1, 0, 0};
    const char     *y0[]   = {"Y0"};
    const PetscReal zero1[] = {0, 0, 0, 0}, y0Im[] = {0, -1, 1, 0};
    PetscCall(CheckMatrix("Y0 Z1", 2, 1, yz, one, zero, yzIm));
    PetscCall(CheckMatrix("Y1", 2, 1, y1, one, zero, y1Im));
    PetscCall(CheckMatrix("Y0 (n=1)", 1, 1, y0, one, zero1, y0Im));
  }
#else
  {
    /* The real build must refuse an imaginary string rather than drop its imaginary part. */
    QepPauli       p;
    PetscScalar   *H = NULL;
    PetscErrorCode ierr;
    PetscCall(ParseString("Y0 Z1", &p));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = RefDenseHamiltonian(2, 1, &p, one, &H);
    PetscCall(PetscPopErrorHandler());
    PetscCheck(ierr == PETSC_ERR_SUP && !H, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Real build accepted the odd-Y string Y0 Z1 (error %d)", (int)ierr);
  }
#endif
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "hand-written Kronecker matrices: ok\n"));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- structural properties */

/* A random string on n <= 16 qubits; in the real build the Y count is made even (last Y -> X). */
static PetscErrorCode RandomString(PetscInt n, PetscInt64 stream, PetscInt64 *counter, QepPauli *p)
{
  const char letters[] = "IXYZ";
  char       l[16];

  PetscFunctionBegin;
  for (int q = 0; q < (int)n; q++) l[q] = letters[(int)(4 * QepRandomUniform(SEED, stream, (*counter)++))];
#if !defined(PETSC_USE_COMPLEX)
  {
    int lastY = -1, ny = 0;
    for (int q = 0; q < (int)n; q++)
      if (l[q] == 'Y') lastY = q, ny++;
    if (ny % 2) l[lastY] = 'X';
  }
#endif
  p->x = p->z = 0;
  for (int q = 0; q < (int)n; q++) PetscCheck(QepPauliSetFactor(p, l[q], q) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "QepPauliSetFactor failed");
  PetscFunctionReturn(0);
}

static PetscErrorCode TestHermitianAndSquares(void)
{
  const PetscInt n = 4, N = 16, nterms = 12;
  PetscInt64     counter = 0;
  QepPauli       strings[12];
  PetscReal      coeffs[12], one = 1;
  PetscScalar   *H, *P, sq[16];

  PetscFunctionBegin;
  for (PetscInt t = 0; t < nterms; t++) {
    PetscCall(RandomString(n, 1, &counter, &strings[t]));
    coeffs[t] = 2 * QepRandomUniform(SEED, 2, t) - 1;
  }
  PetscCall(RefDenseHamiltonian(n, nterms, strings, coeffs, &H));
  for (PetscInt r = 0; r < N; r++)
    for (PetscInt c = 0; c < N; c++)
      PetscCheck(PetscAbsScalar(H[r + c * N] - PetscConj(H[c + r * N])) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Random Pauli sum is not Hermitian at (%" PetscInt_FMT ",%" PetscInt_FMT ")", r, c);
  PetscCall(PetscFree(H));
  /* Every Pauli string squares to the identity. */
  for (PetscInt t = 0; t < nterms; t++) {
    PetscCall(RefDenseHamiltonian(n, 1, &strings[t], &one, &P));
    for (PetscInt c = 0; c < N; c++) {
      PetscCall(RefDenseMatVec(N, P, &P[c * N], sq)); /* P (P e_c) */
      for (PetscInt r = 0; r < N; r++) PetscCheck(PetscAbsScalar(sq[r] - (r == c ? 1.0 : 0.0)) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "P^2 != I for random string %" PetscInt_FMT, t);
    }
    PetscCall(PetscFree(P));
  }
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "Hermiticity and P^2 = I of random strings: ok\n"));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- expectation values */

static PetscErrorCode ExpectString(PetscInt n, const PetscScalar psi[], const char text[], PetscReal want)
{
  QepPauli  p;
  PetscReal one = 1, got;
  char      what[64];

  PetscFunctionBegin;
  PetscCall(ParseString(text, &p));
  PetscCall(RefDenseExpectation(n, psi, 1, &p, &one, &got));
  PetscCall(PetscSNPrintf(what, sizeof(what), "<%s>", text));
  PetscCall(CheckClose(what, got, want, 1e-14));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestProductStateExpectations(void)
{
  const PetscInt n = 3, N = 8;
  PetscScalar    psi[8];

  PetscFunctionBegin;
  for (PetscInt i = 0; i < N; i++) psi[i] = i == 0 ? 1 : 0; /* |000> */
  PetscCall(ExpectString(n, psi, "Z0", 1));
  PetscCall(ExpectString(n, psi, "Z2", 1));
  PetscCall(ExpectString(n, psi, "X1", 0));
  PetscCall(ExpectString(n, psi, "Z0 Z2", 1));
  for (PetscInt i = 0; i < N; i++) psi[i] = i == 5 ? 3 : 0; /* |101> = |q2=1,q1=0,q0=1>, unnormalised */
  PetscCall(ExpectString(n, psi, "Z0", -1));
  PetscCall(ExpectString(n, psi, "Z1", 1));
  PetscCall(ExpectString(n, psi, "Z0 Z2", 1));
  PetscCall(ExpectString(n, psi, "Z1 Z2", -1));
  for (PetscInt i = 0; i < N; i++) psi[i] = 2; /* |+++>, unnormalised */
  PetscCall(ExpectString(n, psi, "X0", 1));
  PetscCall(ExpectString(n, psi, "X0 X2", 1));
  PetscCall(ExpectString(n, psi, "Z1", 0));
  PetscCall(ExpectString(n, psi, "Y0 Y1", 0));
  for (PetscInt i = 0; i < N; i++) psi[i] = (i >> 1) & 1 ? -1 : 1; /* |+ - +> (qubit 1 is |->) */
  PetscCall(ExpectString(n, psi, "X1", -1));
  PetscCall(ExpectString(n, psi, "X0 X1", -1));
#if defined(PETSC_USE_COMPLEX)
  /* (|0> + i|1>)/sqrt2 on qubit 0, |0> on qubits 1, 2: the +1 eigenstate of Y0. */
  for (PetscInt i = 0; i < N; i++) psi[i] = 0;
  psi[0] = 1;
  psi[1] = PETSC_i;
  PetscCall(ExpectString(n, psi, "Y0", 1));
  PetscCall(ExpectString(n, psi, "X0", 0));
  PetscCall(ExpectString(n, psi, "Y0 Z1", 1));
  PetscCall(ExpectString(n, psi, "Y0 X1", 0));
#endif
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "product-state expectation values: ok\n"));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- TFIM: couplings */

typedef enum { UNIFORM_FERRO, UNIFORM_PARA, UNIFORM_CRITICAL, UNIFORM_AFM_NEG_FIELD, RANDOM_ORDERED, RANDOM_PARA, RANDOM_MIXED, NUM_COUPLING_SETS } CouplingSet;
static const char *const CouplingSetNames[] = {"uniform J=1 h=0.4", "uniform J=0.6 h=1.3", "uniform J=h=1", "uniform J=-1 h=-0.35", "random |J|>|h|", "random |J|<|h|", "random mixed"};

static PetscReal RandomSigned(PetscInt64 stream, PetscInt64 counter, PetscReal lo, PetscReal hi)
{
  const PetscReal mag  = lo + (hi - lo) * QepRandomUniform(SEED, stream, 2 * counter);
  const PetscBool neg  = QepRandomUniform(SEED, stream, 2 * counter + 1) < 0.5 ? PETSC_TRUE : PETSC_FALSE;
  return neg ? -mag : mag;
}

/* J[0..n) and h[0..n) for one coupling set; J[n-1] is only used by periodic chains. */
static void FillCouplings(CouplingSet set, PetscInt n, PetscReal J[], PetscReal h[])
{
  const PetscInt64 stream = 1000 * (PetscInt64)set + n;
  for (PetscInt i = 0; i < n; i++) {
    switch (set) {
    case UNIFORM_FERRO: J[i] = 1.0, h[i] = 0.4; break;
    case UNIFORM_PARA: J[i] = 0.6, h[i] = 1.3; break;
    case UNIFORM_CRITICAL: J[i] = 1.0, h[i] = 1.0; break;
    case UNIFORM_AFM_NEG_FIELD: J[i] = -1.0, h[i] = -0.35; break;
    case RANDOM_ORDERED: J[i] = RandomSigned(stream, i, 0.8, 1.6), h[i] = RandomSigned(stream, n + i, 0.05, 0.6); break;
    case RANDOM_PARA: J[i] = RandomSigned(stream, i, 0.05, 0.6), h[i] = RandomSigned(stream, n + i, 0.8, 1.6); break;
    default: J[i] = RandomSigned(stream, i, 0, 1.5), h[i] = RandomSigned(stream, n + i, 0, 1.5); break;
    }
  }
}

/* Dense E0, E1 of the TFIM (eigenvalues only), and optionally the ground vector and the matrix. */
static PetscErrorCode DenseTFIM(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, PetscReal *E0, PetscReal *E1)
{
  QepPauliSum  sum;
  PetscScalar *H;

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(&sum));
  PetscCall(RefTFIMPauliSum(n, J, h, periodic, &sum));
  PetscCall(RefDenseHamiltonianFromSum(n, &sum, &H));
  PetscCall(RefDenseGround(n, H, E0, E1, NULL));
  PetscCall(PetscFree(H));
  PetscCall(QepPauliSumFree(&sum));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- TFIM: free fermions vs dense */

static PetscErrorCode TestFreeFermionVsDense(void)
{
  PetscReal J[MAX_DENSE_CHAIN], h[MAX_DENSE_CHAIN], maxdiff = 0;
  PetscInt  ncases = 0;

  PetscFunctionBegin;
  for (PetscInt n = 2; n <= MAX_DENSE_CHAIN; n++)
    for (int set = 0; set < NUM_COUPLING_SETS; set++)
      for (int pbc = 0; pbc < 2; pbc++) {
        const PetscBool periodic = pbc ? PETSC_TRUE : PETSC_FALSE;
        PetscReal       fE0, fE1, fE0only, dE0, dE1;
        char            what[128];
        /* The 1024 x 1024 solves dominate the run time: at n = 10 keep one set per phase. */
        if (n == MAX_DENSE_CHAIN && set != RANDOM_ORDERED && set != RANDOM_PARA) continue;
        FillCouplings((CouplingSet)set, n, J, h);
        PetscCall(RefTFIMFreeFermionLevels(n, J, h, periodic, &fE0, &fE1));
        PetscCall(RefTFIMFreeFermion(n, J, h, periodic, &fE0only));
        PetscCall(DenseTFIM(n, J, h, periodic, &dE0, &dE1));
        PetscCall(PetscSNPrintf(what, sizeof(what), "E0, n=%" PetscInt_FMT " %s %s", n, periodic ? "periodic" : "open", CouplingSetNames[set]));
        PetscCall(CheckClose(what, fE0, dE0, ENERGY_TOL));
        PetscCall(CheckClose(what, fE0only, fE0, 0));
        PetscCall(PetscSNPrintf(what, sizeof(what), "E1, n=%" PetscInt_FMT " %s %s", n, periodic ? "periodic" : "open", CouplingSetNames[set]));
        PetscCall(CheckClose(what, fE1, dE1, ENERGY_TOL));
        maxdiff = PetscMax(maxdiff, PetscMax(PetscAbsReal(fE0 - dE0), PetscAbsReal(fE1 - dE1)));
        ncases++;
      }
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "free fermions vs dense, n=2..%d: %" PetscInt_FMT " cases, max |diff| of E0, E1 = %.2e\n", MAX_DENSE_CHAIN, ncases, (double)maxdiff));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- TFIM: uniform closed form */

/* The textbook formula, valid when J, h > 0: E0 = -sum over k = (2m-1) pi / n of s(k). */
static PetscReal TextbookNeveuSchwarzE0(PetscInt n, PetscReal J, PetscReal h)
{
  PetscReal E = 0;
  for (PetscInt m = 1; m <= n; m++) E -= PetscSqrtReal(J * J + h * h - 2 * J * h * PetscCosReal((2 * m - 1) * PETSC_PI / n));
  return E;
}

static PetscErrorCode TestUniformClosedForm(void)
{
  /* Both signs of J and h, both phases, the critical point, and the classical limits h = 0
   * (frustrated for J < 0 on odd rings) and J = 0. */
  const PetscReal pairs[][2] = {
    {1.0, 0.4}, {0.6, 1.3}, {1.0, 1.0}, {-1.0, 0.4}, {-1.0, -0.35}, {0.5, -1.2}, {-0.7, -0.7}, {-0.8, 0.8}, {1.0, 0.0}, {-1.0, 0.0}, {0.0, 0.9},
  };
  const PetscInt npairs = (PetscInt)(sizeof(pairs) / sizeof(pairs[0]));
  PetscReal      J[MAX_DENSE_CHAIN], h[MAX_DENSE_CHAIN], maxdiff = 0;
  PetscInt       ncases = 0;

  PetscFunctionBegin;
  for (PetscInt n = 2; n <= 9; n++)
    for (PetscInt c = 0; c < npairs; c++) {
      PetscReal cE0, cE1, fE0, fE1, dE0, dE1;
      char      what[128];
      for (PetscInt i = 0; i < n; i++) J[i] = pairs[c][0], h[i] = pairs[c][1];
      PetscCall(RefTFIMUniformPeriodic(n, pairs[c][0], pairs[c][1], &cE0, &cE1));
      PetscCall(RefTFIMFreeFermionLevels(n, J, h, PETSC_TRUE, &fE0, &fE1));
      PetscCall(DenseTFIM(n, J, h, PETSC_TRUE, &dE0, &dE1));
      PetscCall(PetscSNPrintf(what, sizeof(what), "closed form, n=%" PetscInt_FMT " J=%g h=%g", n, (double)pairs[c][0], (double)pairs[c][1]));
      PetscCall(CheckClose(what, cE0, fE0, ENERGY_TOL));
      PetscCall(CheckClose(what, cE0, dE0, ENERGY_TOL));
      PetscCall(CheckClose(what, cE1, fE1, ENERGY_TOL));
      PetscCall(CheckClose(what, cE1, dE1, ENERGY_TOL));
      if (pairs[c][0] > 0 && pairs[c][1] > 0) PetscCall(CheckClose(what, TextbookNeveuSchwarzE0(n, pairs[c][0], pairs[c][1]), dE0, ENERGY_TOL));
      maxdiff = PetscMax(maxdiff, PetscMax(PetscAbsReal(cE0 - dE0), PetscAbsReal(cE1 - dE1)));
      ncases++;
    }
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "uniform-ring closed form vs free fermions and dense: %" PetscInt_FMT " cases, max |diff| = %.2e\n", ncases, (double)maxdiff));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- ground vector and expectation */

/* Hellmann-Feynman: dE0/dh_i = -<X_i> and dE0/dJ_i = -<Z_i Z_i+1> in the (gapped) ground state.
 * The derivatives come from the free-fermion energy, the expectations from the dense ground vector,
 * so this ties RefDenseGround's vector and RefDenseExpectation to an independent solution. */
static PetscErrorCode TestHellmannFeynman(PetscBool periodic)
{
  const PetscInt n = 6, N = 64, nbonds = periodic ? n : n - 1;
  PetscReal      J[6], h[6], E0, E1, Ep, Em, value, one = 1, maxdiff = 0;
  PetscScalar   *H, psi[64], Hpsi[64];
  QepPauliSum    sum;
  PetscReal      resid = 0;

  PetscFunctionBegin;
  FillCouplings(RANDOM_PARA, n, J, h);
  PetscCall(QepPauliSumInit(&sum));
  PetscCall(RefTFIMPauliSum(n, J, h, periodic, &sum));
  PetscCall(RefDenseHamiltonianFromSum(n, &sum, &H));
  PetscCall(RefDenseGround(n, H, &E0, &E1, psi));
  PetscCheck(E1 - E0 > 0.1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Paramagnetic test chain unexpectedly has gap %g", (double)(E1 - E0));
  /* The returned vector is a normalised eigenvector. */
  PetscCall(RefDenseMatVec(N, H, psi, Hpsi));
  for (PetscInt i = 0; i < N; i++) resid += PetscRealPart(PetscConj(Hpsi[i] - E0 * psi[i]) * (Hpsi[i] - E0 * psi[i]));
  PetscCall(CheckClose("||H psi0 - E0 psi0||", PetscSqrtReal(resid), 0, 1e-12));
  PetscCall(RefDenseExpectation(n, psi, sum.n, sum.strings, sum.coeffs, &value));
  PetscCall(CheckClose("<psi0|H|psi0>", value, E0, ENERGY_TOL));
  for (PetscInt i = 0; i < n + nbonds; i++) {
    PetscReal *x = i < n ? &h[i] : &J[i - n], saved = *x;
    QepPauli   p = {0, 0};
    char       what[64];
    if (i < n) PetscCall(ParseStringf(&p, "X%d", (int)i, 0));
    else PetscCall(ParseStringf(&p, "Z%d Z%d", (int)(i - n), (int)((i - n + 1) % n)));
    PetscCall(RefDenseExpectation(n, psi, 1, &p, &one, &value));
    *x = saved + FD_STEP;
    PetscCall(RefTFIMFreeFermion(n, J, h, periodic, &Ep));
    *x = saved - FD_STEP;
    PetscCall(RefTFIMFreeFermion(n, J, h, periodic, &Em));
    *x = saved;
    PetscCall(PetscSNPrintf(what, sizeof(what), "Hellmann-Feynman %s%" PetscInt_FMT " (%s)", i < n ? "h" : "J", i < n ? i : i - n, periodic ? "periodic" : "open"));
    PetscCall(CheckClose(what, (Ep - Em) / (2 * FD_STEP), -value, FD_TOL));
    maxdiff = PetscMax(maxdiff, PetscAbsReal((Ep - Em) / (2 * FD_STEP) + value));
  }
  PetscCall(PetscFree(H));
  PetscCall(QepPauliSumFree(&sum));
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "Hellmann-Feynman (%s, n=%" PetscInt_FMT "): max |dE0/dc + <P>| = %.2e\n", periodic ? "periodic" : "open", n, (double)maxdiff));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- argument errors */

static PetscErrorCode TestArgumentErrors(void)
{
  QepPauli       p;
  PetscReal      one = 1, J[2] = {1, 1}, h[2] = {1, 1}, E0;
  PetscScalar   *H = NULL;
  PetscErrorCode e1, e2, e3;

  PetscFunctionBegin;
  PetscCall(ParseString("X3", &p));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  e1 = RefDenseHamiltonian(3, 1, &p, &one, &H);                 /* qubit outside the system */
  e2 = RefDenseHamiltonian(REF_DENSE_MAX_QUBITS + 1, 1, &p, &one, &H); /* too large for dense */
  e3 = RefTFIMFreeFermion(1, J, h, PETSC_FALSE, &E0);           /* not a chain */
  PetscCall(PetscPopErrorHandler());
  PetscCheck(e1 == PETSC_ERR_ARG_OUTOFRANGE && e2 == PETSC_ERR_ARG_OUTOFRANGE && e3 == PETSC_ERR_ARG_OUTOFRANGE && !H, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "Bad arguments were not rejected: errors %d %d %d", (int)e1, (int)e2, (int)e3);
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "argument errors: ok\n"));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscMPIInt size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCheck(size == 1, PETSC_COMM_WORLD, PETSC_ERR_WRONG_MPI_SIZE, "test_reference is serial; run it on 1 rank");
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "test_reference (%s build)\n", QepIsComplexBuild() ? "complex" : "real"));
  PetscCall(TestHandMatrices());
  PetscCall(TestHermitianAndSquares());
  PetscCall(TestProductStateExpectations());
  PetscCall(TestArgumentErrors());
  PetscCall(TestFreeFermionVsDense());
  PetscCall(TestUniformClosedForm());
  PetscCall(TestHellmannFeynman(PETSC_FALSE));
  PetscCall(TestHellmannFeynman(PETSC_TRUE));
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "test_reference: all checks passed\n"));
  PetscCall(PetscFinalize());
  return 0;
}
