/* test_expectation.c — QepExpectationCompute and QepExpectationComputeTransition against a brute-force
 * reference: every string is applied to the gathered state factor by factor with explicit 2x2 Pauli
 * matrices (no bit-mask formula), and <psi|P|psi>/<psi|psi> and Re <phi|P|psi> are summed directly.
 * States are random from QepRandomUniform with global indices, so every check is the same at any
 * rank count (and 1e-12 against the reference implies rank independence to 2e-12).
 *
 * For each n in -qubits (default 2,3,5,7,10,12) the string set mixes: the identity; every X_q and Z_q
 * (pure flips, diagonal); neighbour pairs ZZ, XX, YY, XZ, ZX (the complex build adds Y_q, XY, YZ);
 * one flip group with many strings (X_{n-1} times every Z_q and Z_q Z_{q+1}: the transform kernel,
 * a flip that crosses rank boundaries) and the same with X_0 X_{n-1} and with Y_{n-1}; flips
 * m | 2^(n-1) for every lane pattern m < 8 (with and without Z_1); and random strings.
 * Options: -skew (uneven ownership ranges, rank 1 empty from 3 ranks on), and the plan's own
 * -qep_expectation_vector / -qep_expectation_tile_bits to run the scalar kernels and small tiles. */
#include <qep/qep.h>
#include <slepcsys.h>
#include "reference.h"
#include "check.h"

#define SEED          20260311 /* the states' and random strings' fixed seed */
#define NRANDOM       24       /* random strings per n */
#define TOLERANCE     1e-12    /* absolute, for values of magnitude <= 1 */
#define MAX_TEST_BITS 16

static PetscBool skew = PETSC_FALSE;

/* ---------------------------------------------------------------- states ---------------------- */

/* psi_r with parts uniform in [-1, 1) drawn from the global row r (stream picks the state). */
static PetscErrorCode FillRandom(Vec v, PetscInt stream)
{
  PetscScalar *a;
  PetscInt     rstart, rend;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &rstart, &rend));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt r = rstart; r < rend; r++) {
    a[r - rstart] = 2.0 * QepRandomUniform(SEED, 2 * stream, r) - 1.0;
#if defined(PETSC_USE_COMPLEX)
    a[r - rstart] += PETSC_i * (2.0 * QepRandomUniform(SEED, 2 * stream + 1, r) - 1.0);
#endif
  }
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}


/* ---------------------------------------------------------------- reference ---------------------- */

/* w <- P w for P = i^ny (x) of the real 2x2 factors X = [[0,1],[1,0]], Z = [[1,0],[0,-1]] and
 * Y~ = -iY = [[0,-1],[1,0]], applied qubit by qubit to the pairs (w[s], w[s + 2^q]) with bit q of s clear. */
static void ApplyString(PetscInt n, QepPauli p, PetscScalar w[])
{
  const PetscInt N  = (PetscInt)1 << n;
  int            ny = 0;

  for (PetscInt q = 0; q < n; q++) {
    const char     f   = QepPauliGetFactor(p, (int)q);
    const PetscInt bit = (PetscInt)1 << q;
    double         m[2][2];
    if (f == 'I') continue;
    if (f == 'X') m[0][0] = 0, m[0][1] = 1, m[1][0] = 1, m[1][1] = 0;
    else if (f == 'Z') m[0][0] = 1, m[0][1] = 0, m[1][0] = 0, m[1][1] = -1;
    else m[0][0] = 0, m[0][1] = -1, m[1][0] = 1, m[1][1] = 0, ny++;
    for (PetscInt s = 0; s < N; s++)
      if (!(s & bit)) {
        const PetscScalar a = w[s], b = w[s + bit];
        w[s]       = m[0][0] * a + m[0][1] * b;
        w[s + bit] = m[1][0] * a + m[1][1] * b;
      }
  }
  for (PetscInt s = 0; s < N && ny % 2 == 0; s++) w[s] *= (ny % 4 == 0) ? 1.0 : -1.0;
#if defined(PETSC_USE_COMPLEX)
  for (PetscInt s = 0; s < N && ny % 2 == 1; s++) w[s] *= (ny % 4 == 1) ? PETSC_i : -PETSC_i;
#endif
}

/* Re <phi|P|psi> by brute force on gathered vectors. */
static PetscErrorCode ReferenceElement(PetscInt n, QepPauli p, const PetscScalar phi[], const PetscScalar psi[], PetscReal *value)
{
  const PetscInt N = (PetscInt)1 << n;
  PetscScalar   *w, sum = 0.0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(N, &w));
  PetscCall(PetscArraycpy(w, psi, N));
  ApplyString(n, p, w);
  for (PetscInt s = 0; s < N; s++) sum += PetscConj(phi[s]) * w[s];
  *value = PetscRealPart(sum);
  PetscCall(PetscFree(w));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- strings ---------------------- */

static PetscErrorCode AddFactors(QepPauliSum *sum, int n, const char *letters, const int *qubits, int count)
{
  QepPauli p = {0, 0};

  PetscFunctionBegin;
  for (int i = 0; i < count; i++) {
    if (qubits[i] < 0 || qubits[i] >= n) PetscFunctionReturn(0); /* not on this many qubits */
    if (QepPauliSetFactor(&p, letters[i], qubits[i])) PetscFunctionReturn(0); /* same qubit twice */
  }
  if (!QepPauliIsReal(p)) {
#if !defined(PETSC_USE_COMPLEX)
    PetscFunctionReturn(0); /* odd-Y strings exist only in the complex build */
#endif
  }
  PetscCall(QepPauliSumAdd(sum, p, 1.0));
  PetscFunctionReturn(0);
}

static PetscErrorCode AddOne(QepPauliSum *sum, int n, char a, int p)
{
  PetscFunctionBegin;
  PetscCall(AddFactors(sum, n, (char[]){a}, (int[]){p}, 1));
  PetscFunctionReturn(0);
}

static PetscErrorCode AddTwo(QepPauliSum *sum, int n, char a, int p, char b, int q)
{
  PetscFunctionBegin;
  PetscCall(AddFactors(sum, n, (char[]){a, b}, (int[]){p, q}, 2));
  PetscFunctionReturn(0);
}

/* A flip group of many strings: flip letters on `flip` qubits, times every Z_q and Z_q Z_{q+1} on the others. */
static PetscErrorCode AddManyInGroup(QepPauliSum *sum, int n, const char *letters, const int *flip, int nflip)
{
  PetscFunctionBegin;
  for (int q = 0; q < n; q++)
    for (int len = 1; len <= 2; len++) {
      char l[4];
      int  qs[4];
      for (int i = 0; i < nflip; i++) l[i] = letters[i], qs[i] = flip[i];
      for (int i = 0; i < len; i++) l[nflip + i] = 'Z', qs[nflip + i] = q + i;
      PetscCall(AddFactors(sum, n, l, qs, nflip + len));
    }
  PetscFunctionReturn(0);
}

/* Random strings: each qubit I, X, Y or Z with equal odds (odd-Y ones are dropped in the real build). */
static PetscErrorCode AddRandom(QepPauliSum *sum, int n)
{
  static const char letters[] = "IXYZ";

  PetscFunctionBegin;
  for (int t = 0; t < NRANDOM; t++) {
    QepPauli p = {0, 0};
    for (int q = 0; q < n; q++) QepPauliSetFactor(&p, letters[(int)(4 * QepRandomUniform(SEED, 100 + n, 64 * t + q))], q);
#if !defined(PETSC_USE_COMPLEX)
    if (!QepPauliIsReal(p)) continue;
#endif
    PetscCall(QepPauliSumAdd(sum, p, 1.0));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildStrings(int n, QepPauliSum *sum)
{
  const int top = n - 1;

  PetscFunctionBegin;
  PetscCall(QepPauliSumAdd(sum, (QepPauli){0, 0}, 1.0)); /* identity: the diagonal group's z = 0 */
  for (int q = 0; q < n; q++) {
    PetscCall(AddOne(sum, n, 'X', q));
    PetscCall(AddOne(sum, n, 'Z', q));
    PetscCall(AddOne(sum, n, 'Y', q)); /* complex build only */
    PetscCall(AddTwo(sum, n, 'Z', q, 'Z', q + 1));
    PetscCall(AddTwo(sum, n, 'X', q, 'X', q + 1));
    PetscCall(AddTwo(sum, n, 'Y', q, 'Y', q + 1));
    PetscCall(AddTwo(sum, n, 'X', q, 'Z', q + 1));
    PetscCall(AddTwo(sum, n, 'Z', q, 'X', q + 1));
    PetscCall(AddTwo(sum, n, 'X', q, 'Y', q + 1)); /* complex build only */
    PetscCall(AddTwo(sum, n, 'Y', q, 'Z', q + 1)); /* complex build only */
  }
  PetscCall(AddManyInGroup(sum, n, "X", (int[]){top}, 1));
  PetscCall(AddManyInGroup(sum, n, "XX", (int[]){0, top}, 2));
  PetscCall(AddManyInGroup(sum, n, "Y", (int[]){top}, 1));
  for (int m = 1; m < 8 && m < (1 << top); m++) { /* every lane permutation, with the top bit as the pair bit */
    char l[4] = {0};
    int  qs[4], c = 0;
    for (int b = 0; b < 3; b++)
      if (m & (1 << b)) l[c] = 'X', qs[c++] = b;
    l[c] = 'X', qs[c++] = top;
    PetscCall(AddFactors(sum, n, l, qs, c));
    if (!(m & 2)) {
      l[c] = 'Z', qs[c] = 1;
      PetscCall(AddFactors(sum, n, l, qs, c + 1));
    }
  }
  PetscCall(AddRandom(sum, n));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- the check ---------------------- */

static PetscErrorCode CheckQubits(PetscInt n)
{
  QepPauliSum    sum;
  QepExpectation plan;
  Vec            psi, phi;
  PetscScalar   *psiall, *phiall;
  PetscReal     *got, *tr, norm2 = 0.0;
  PetscInt       N = (PetscInt)1 << n;

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(&sum));
  PetscCall(BuildStrings((int)n, &sum));
  PetscCall(RefCreateState(n, skew, &psi));
  PetscCall(VecDuplicate(psi, &phi));
  PetscCall(FillRandom(psi, 0));
  PetscCall(FillRandom(phi, 1));
  PetscCall(RefGatherAll(psi, &psiall));
  PetscCall(RefGatherAll(phi, &phiall));
  for (PetscInt s = 0; s < N; s++) norm2 += PetscRealPart(PetscConj(psiall[s]) * psiall[s]);
  PetscCall(PetscMalloc2(sum.n, &got, sum.n, &tr));
  PetscCall(QepExpectationCreate(psi, sum.n, sum.strings, &plan));
  for (int call = 0; call < 2; call++) { /* twice: a second call must not see the first one's sums */
    PetscCall(QepExpectationCompute(plan, psi, got));
    PetscCall(QepExpectationComputeTransition(plan, phi, psi, tr));
    for (PetscInt t = 0; t < sum.n; t++) {
      PetscReal want, want_tr;
      char      name[256];
      QepPauliToString(sum.strings[t], name, sizeof(name));
      PetscCall(ReferenceElement(n, sum.strings[t], psiall, psiall, &want));
      PetscCall(ReferenceElement(n, sum.strings[t], phiall, psiall, &want_tr));
      want /= norm2;
      CHECK(PetscAbsReal(got[t] - want) < TOLERANCE, "n = %" PetscInt_FMT ": <%s> = %.15g, reference %.15g", n, name, (double)got[t], (double)want);
      CHECK(PetscAbsReal(tr[t] - want_tr) < TOLERANCE * N, "n = %" PetscInt_FMT ": Re <phi|%s|psi> = %.15g, reference %.15g", n, name, (double)tr[t], (double)want_tr);
    }
  }
  PetscCall(QepExpectationDestroy(&plan));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "n = %2" PetscInt_FMT ": %3" PetscInt_FMT " strings checked\n", n, sum.n));
  PetscCall(PetscFree2(got, tr));
  PetscCall(PetscFree(psiall));
  PetscCall(PetscFree(phiall));
  PetscCall(VecDestroy(&psi));
  PetscCall(VecDestroy(&phi));
  PetscCall(QepPauliSumFree(&sum));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt  qubits[32] = {2, 3, 5, 7, 10, 12}, nq = 32;
  PetscBool set;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "Tests qep/observe.h against brute force: -qubits 2,3,..., -skew\n"));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-skew", &skew, NULL));
  PetscCall(PetscOptionsGetIntArray(NULL, NULL, "-qubits", qubits, &nq, &set));
  if (!set) nq = 6;
  for (PetscInt i = 0; i < nq; i++) {
    PetscCheck(qubits[i] >= 2 && qubits[i] <= MAX_TEST_BITS, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-qubits %" PetscInt_FMT " is out of range; allowed 2..%d", qubits[i], MAX_TEST_BITS);
    PetscCall(CheckQubits(qubits[i]));
  }
  {
    int total;
    PetscCallMPI(MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD));
    PetscCheck(total == 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%d expectation check(s) failed", total);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "all expectation checks passed\n"));
  PetscCall(SlepcFinalize());
  return 0;
}
