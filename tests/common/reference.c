/* reference.c — dense and free-fermion reference solutions for qep's tests (see reference.h).
 *
 * Owns: explicit Kronecker-product Hamiltonians, dense LAPACK eigen-decompositions, dense
 * expectation values, the Jordan-Wigner solution of the transverse-field Ising chain, and moving
 * distributed vectors to and from whole arrays.
 * Invariant: nothing here reads a Pauli string's x/z masks or applies libqep's bit tricks; a string
 * is seen only through QepPauliGetFactor, letter by letter, and turned into explicit 2x2 matrices.
 * Complex arithmetic is done on separate real and imaginary parts so the real build can check that
 * every term's imaginary part vanishes instead of silently dropping it. */
#include "reference.h"
#include <petscblaslapack.h>

/* Explicit 2x2 Pauli matrices, [row][column], split into real and imaginary parts. */
typedef struct {
  PetscReal re[2][2], im[2][2];
} RefPauliMatrix;

static const RefPauliMatrix RefPauliI = {{{1, 0}, {0, 1}}, {{0, 0}, {0, 0}}};
static const RefPauliMatrix RefPauliX = {{{0, 1}, {1, 0}}, {{0, 0}, {0, 0}}};
static const RefPauliMatrix RefPauliY = {{{0, 0}, {0, 0}}, {{0, -1}, {1, 0}}};
static const RefPauliMatrix RefPauliZ = {{{1, 0}, {0, -1}}, {{0, 0}, {0, 0}}};

static const RefPauliMatrix *RefPauliMatrixOf(char letter)
{
  switch (letter) {
  case 'X': return &RefPauliX;
  case 'Y': return &RefPauliY;
  case 'Z': return &RefPauliZ;
  default: return &RefPauliI;
  }
}

static PetscErrorCode RefCheckDenseSize(PetscInt n)
{
  PetscFunctionBegin;
  PetscCheck(n >= 1 && n <= REF_DENSE_MAX_QUBITS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Dense reference with %" PetscInt_FMT " qubits; allowed are 1..%d", n, REF_DENSE_MAX_QUBITS);
  PetscFunctionReturn(0);
}

/* out (2d x 2d) = in (d x d) (x) s, column-major; the row index of the product is i_in*2 + i_s. */
static void RefKron2(PetscInt d, const PetscReal inRe[], const PetscReal inIm[], const RefPauliMatrix *s, PetscReal outRe[], PetscReal outIm[])
{
  const PetscInt D = 2 * d;
  for (PetscInt j1 = 0; j1 < d; j1++)
    for (PetscInt i1 = 0; i1 < d; i1++) {
      const PetscReal ar = inRe[i1 + j1 * d], ai = inIm[i1 + j1 * d];
      for (PetscInt j2 = 0; j2 < 2; j2++)
        for (PetscInt i2 = 0; i2 < 2; i2++) {
          const PetscInt r = 2 * i1 + i2, c = 2 * j1 + j2;
          outRe[r + c * D] = ar * s->re[i2][j2] - ai * s->im[i2][j2];
          outIm[r + c * D] = ar * s->im[i2][j2] + ai * s->re[i2][j2];
        }
    }
}

/* H += coeff * sigma_{n-1} (x) ... (x) sigma_0. The product of the n-1 high factors is formed in
 * the ping-pong buffers (each at least 4^(n-1) long); the last factor, qubit 0, is fused with the
 * accumulation so no 4^n temporary is needed. */
static PetscErrorCode RefAddKroneckerTerm(PetscInt n, QepPauli p, PetscReal coeff, PetscReal *bufRe[2], PetscReal *bufIm[2], PetscScalar H[])
{
  PetscInt              d = 1, cur = 0;
  const PetscInt        N = (PetscInt)1 << n;
  const RefPauliMatrix *s0;

  PetscFunctionBegin;
  bufRe[0][0] = 1;
  bufIm[0][0] = 0;
  for (PetscInt q = n - 1; q >= 1; q--, d *= 2, cur ^= 1) RefKron2(d, bufRe[cur], bufIm[cur], RefPauliMatrixOf(QepPauliGetFactor(p, (int)q)), bufRe[cur ^ 1], bufIm[cur ^ 1]);
  s0 = RefPauliMatrixOf(QepPauliGetFactor(p, 0));
  for (PetscInt j1 = 0; j1 < d; j1++)
    for (PetscInt i1 = 0; i1 < d; i1++)
      for (PetscInt j2 = 0; j2 < 2; j2++)
        for (PetscInt i2 = 0; i2 < 2; i2++) {
          const PetscReal ar = bufRe[cur][i1 + j1 * d], ai = bufIm[cur][i1 + j1 * d];
          const PetscReal re = coeff * (ar * s0->re[i2][j2] - ai * s0->im[i2][j2]);
          const PetscReal im = coeff * (ar * s0->im[i2][j2] + ai * s0->re[i2][j2]);
          const PetscInt  k  = (2 * i1 + i2) + (2 * j1 + j2) * N;
#if defined(PETSC_USE_COMPLEX)
          H[k] += PetscCMPLX(re, im);
#else
          /* Entries are products of 0, +-1, +-i and coeff: exact, so "real" means exactly zero.
           * RefCheckStrings already rejected odd-Y strings; this re-checks it numerically. */
          PetscCheck(im == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Kronecker product of an even-Y string has an imaginary entry %g", (double)im);
          H[k] += re;
#endif
        }
  PetscFunctionReturn(0);
}

/* Rejects, before anything is allocated, strings acting outside the n qubits and (real build)
 * strings with an odd number of Y letters. */
static PetscErrorCode RefCheckStrings(PetscInt n, PetscInt nterms, const QepPauli strings[])
{
  PetscFunctionBegin;
  PetscCheck(nterms >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Negative number of terms %" PetscInt_FMT, nterms);
  for (PetscInt t = 0; t < nterms; t++) {
    char buf[256];
    int  ny = 0;
    QepPauliToString(strings[t], buf, sizeof(buf));
    for (int q = (int)n; q < QEP_PAULI_MAX_QUBITS; q++)
      PetscCheck(QepPauliGetFactor(strings[t], q) == 'I', PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Term %" PetscInt_FMT " (%s) acts on qubit %d of a %" PetscInt_FMT "-qubit system", t, buf, q, n);
    for (int q = 0; q < (int)n; q++) ny += QepPauliGetFactor(strings[t], q) == 'Y';
#if !defined(PETSC_USE_COMPLEX)
    PetscCheck(ny % 2 == 0, PETSC_COMM_SELF, PETSC_ERR_SUP, "Term %" PetscInt_FMT " (%s) has an odd number of Y factors, so its matrix is imaginary; only the complex build can represent it", t, buf);
#endif
  }
  PetscFunctionReturn(0);
}

PetscErrorCode RefDenseHamiltonian(PetscInt n, PetscInt nterms, const QepPauli strings[], const PetscReal coeffs[], PetscScalar **H)
{
  PetscInt   N, half;
  PetscReal *bufRe[2], *bufIm[2];

  PetscFunctionBegin;
  PetscCall(RefCheckDenseSize(n));
  PetscCall(RefCheckStrings(n, nterms, strings));
  N    = (PetscInt)1 << n;
  half = N / 2;
  PetscCall(PetscCalloc1(N * N, H));
  PetscCall(PetscMalloc4(half * half, &bufRe[0], half * half, &bufRe[1], half * half, &bufIm[0], half * half, &bufIm[1]));
  for (PetscInt t = 0; t < nterms; t++) PetscCall(RefAddKroneckerTerm(n, strings[t], coeffs[t], bufRe, bufIm, *H));
  PetscCall(PetscFree4(bufRe[0], bufRe[1], bufIm[0], bufIm[1]));
  PetscFunctionReturn(0);
}

PetscErrorCode RefDenseHamiltonianFromSum(PetscInt n, const QepPauliSum *sum, PetscScalar **H)
{
  PetscFunctionBegin;
  PetscCall(RefDenseHamiltonian(n, sum->n, sum->strings, sum->coeffs, H));
  PetscFunctionReturn(0);
}

/* LAPACK ?syev / ?heev on A (overwritten with eigenvectors when wantVectors). */
static PetscErrorCode RefLapackHermitianEigen(PetscBLASInt bN, PetscScalar A[], PetscBool wantVectors, PetscReal evals[])
{
  const char   *jobz  = wantVectors ? "V" : "N";
  PetscBLASInt  lwork = -1, info = 0;
  PetscScalar   query, *work;
  PetscReal    *rwork = NULL;

  PetscFunctionBegin;
#if defined(PETSC_USE_COMPLEX)
  PetscCall(PetscMalloc1(PetscMax(1, 3 * bN - 2), &rwork));
  PetscCallBLAS("LAPACKheev", LAPACKheev_(jobz, "L", &bN, A, &bN, evals, &query, &lwork, rwork, &info));
#else
  PetscCallBLAS("LAPACKsyev", LAPACKsyev_(jobz, "L", &bN, A, &bN, evals, &query, &lwork, &info));
#endif
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK eigen workspace query failed with info %d", (int)info);
  lwork = (PetscBLASInt)PetscRealPart(query);
  PetscCall(PetscMalloc1(lwork, &work));
#if defined(PETSC_USE_COMPLEX)
  PetscCallBLAS("LAPACKheev", LAPACKheev_(jobz, "L", &bN, A, &bN, evals, work, &lwork, rwork, &info));
#else
  PetscCallBLAS("LAPACKsyev", LAPACKsyev_(jobz, "L", &bN, A, &bN, evals, work, &lwork, &info));
#endif
  PetscCall(PetscFree(work));
  PetscCall(PetscFree(rwork));
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK Hermitian eigensolver failed with info %d (%s)", (int)info, info < 0 ? "illegal argument" : "no convergence");
  PetscFunctionReturn(0);
}

PetscErrorCode RefDenseEigen(PetscInt N, const PetscScalar H[], PetscReal evals[], PetscScalar evecs[])
{
  PetscBLASInt bN;
  PetscScalar *A = evecs;

  PetscFunctionBegin;
  PetscCheck(N >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Matrix size %" PetscInt_FMT " must be positive", N);
  PetscCall(PetscBLASIntCast(N, &bN));
  if (!A) PetscCall(PetscMalloc1(N * N, &A));
  PetscCall(PetscArraycpy(A, H, N * N));
  PetscCall(RefLapackHermitianEigen(bN, A, evecs ? PETSC_TRUE : PETSC_FALSE, evals));
  if (!evecs) PetscCall(PetscFree(A));
  PetscFunctionReturn(0);
}

/* Multiplies v by the unit phase that makes its largest-modulus entry real and positive. */
static void RefFixPhase(PetscInt N, PetscScalar v[])
{
  PetscInt    imax = 0;
  PetscScalar phase;
  for (PetscInt i = 1; i < N; i++)
    if (PetscAbsScalar(v[i]) > PetscAbsScalar(v[imax])) imax = i;
  phase = PetscConj(v[imax]) / PetscAbsScalar(v[imax]);
  for (PetscInt i = 0; i < N; i++) v[i] *= phase;
}

PetscErrorCode RefDenseGround(PetscInt n, const PetscScalar H[], PetscReal *E0, PetscReal *E1, PetscScalar psi0[])
{
  PetscInt     N;
  PetscReal   *evals;
  PetscScalar *evecs = NULL;

  PetscFunctionBegin;
  PetscCall(RefCheckDenseSize(n));
  N = (PetscInt)1 << n;
  PetscCall(PetscMalloc1(N, &evals));
  if (psi0) PetscCall(PetscMalloc1(N * N, &evecs));
  PetscCall(RefDenseEigen(N, H, evals, evecs));
  if (E0) *E0 = evals[0];
  if (E1) *E1 = evals[1];
  if (psi0) {
    PetscCall(PetscArraycpy(psi0, evecs, N)); /* column 0; LAPACK returns it normalised */
    RefFixPhase(N, psi0);
  }
  PetscCall(PetscFree(evecs));
  PetscCall(PetscFree(evals));
  PetscFunctionReturn(0);
}

PetscErrorCode RefDenseMatVec(PetscInt N, const PetscScalar H[], const PetscScalar x[], PetscScalar y[])
{
  PetscFunctionBegin;
  for (PetscInt r = 0; r < N; r++) y[r] = 0;
  for (PetscInt c = 0; c < N; c++)
    for (PetscInt r = 0; r < N; r++) y[r] += H[r + c * N] * x[c];
  PetscFunctionReturn(0);
}

PetscErrorCode RefDenseExpectation(PetscInt n, const PetscScalar psi[], PetscInt nterms, const QepPauli strings[], const PetscReal coeffs[], PetscReal *value)
{
  PetscInt     N;
  PetscScalar *O, *Opsi, num = 0;
  PetscReal    norm2 = 0;

  PetscFunctionBegin;
  PetscCall(RefDenseHamiltonian(n, nterms, strings, coeffs, &O));
  N = (PetscInt)1 << n;
  PetscCall(PetscMalloc1(N, &Opsi));
  PetscCall(RefDenseMatVec(N, O, psi, Opsi));
  for (PetscInt i = 0; i < N; i++) {
    num += PetscConj(psi[i]) * Opsi[i];
    norm2 += PetscRealPart(PetscConj(psi[i]) * psi[i]);
  }
  PetscCall(PetscFree(Opsi));
  PetscCall(PetscFree(O));
  PetscCheck(norm2 > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "Expectation value of the zero vector is undefined");
  *value = PetscRealPart(num) / norm2; /* O is Hermitian: the imaginary part is rounding only */
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------------
 * Transverse-field Ising chain by Jordan-Wigner.
 *
 * A Hadamard on every qubit (spectrum-preserving) turns H into -sum J_i X_i X_{i+1} - sum h_i Z_i.
 * With Majoranas a_j = (prod_{k<j} Z_k) X_j, b_j = (prod_{k<j} Z_k) Y_j:
 *     Z_j = -i a_j b_j,   X_j X_{j+1} = -i b_j a_{j+1},   X_{n-1} X_0 = i P b_{n-1} a_0,
 * where P = prod_j Z_j (= prod_j X_j in the original frame) is the conserved fermion parity. Hence
 *     H = i sum_jk W_jk a_j b_k,  W_jj = h_j,  W_{j+1,j} = -J_j,  and (periodic) W_{0,n-1} = P J_{n-1}:
 * even parity P = +1 gives antiperiodic, odd parity P = -1 periodic fermion boundary conditions.
 * With W = U diag(s) V^T the rotated Majoranas give H = sum_k s_k (i a'_k b'_k), levels
 * -S + 2 sum_{excited k} s_k, S = sum_k s_k. The parity of the fermionic vacuum is
 * det(U) det(V) = sign(det W) and det W = prod_j h_j + P prod_j J_j (open chain: no constraint). A
 * sector whose vacuum has the wrong parity needs an odd number of quasi-particles. */

/* Lowest two levels of one parity sector from its ascending singular values s[0] <= s[1] <= ... */
static void RefSectorLevels(PetscReal S, PetscReal s0, PetscReal s1, PetscBool vacuumAllowed, PetscReal lev[2])
{
  if (vacuumAllowed) {
    lev[0] = -S;
    lev[1] = -S + 2 * (s0 + s1);
  } else {
    lev[0] = -S + 2 * s0;
    lev[1] = -S + 2 * s1;
  }
}

/* The two smallest of the four sector levels (with multiplicity). */
static void RefLowestTwo(const PetscReal even[2], const PetscReal odd[2], PetscReal *E0, PetscReal *E1)
{
  PetscReal all[4] = {even[0], even[1], odd[0], odd[1]};
  PetscReal lo = PETSC_MAX_REAL, next = PETSC_MAX_REAL;
  for (int i = 0; i < 4; i++) {
    if (all[i] < lo) {
      next = lo;
      lo   = all[i];
    } else if (all[i] < next) next = all[i];
  }
  *E0 = lo;
  if (E1) *E1 = next;
}

/* Ascending singular values of the real n x n column-major W: the upper half of the spectrum of
 * the symmetric [[0, W], [W^T, 0]], whose eigenvalues are exactly +-s_k (absolute accuracy
 * eps*||W||, unlike the square roots of the eigenvalues of W^T W). */
static PetscErrorCode RefSingularValues(PetscInt n, const PetscReal W[], PetscReal s[])
{
  const PetscInt m = 2 * n;
  PetscScalar   *B;
  PetscReal     *ev;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(m * m, &B));
  PetscCall(PetscMalloc1(m, &ev));
  for (PetscInt c = 0; c < n; c++)
    for (PetscInt r = 0; r < n; r++) {
      B[r + (n + c) * m] = W[r + c * n];
      B[(n + c) + r * m] = W[r + c * n];
    }
  PetscCall(RefDenseEigen(m, B, ev, NULL));
  for (PetscInt k = 0; k < n; k++) s[k] = PetscAbsReal(ev[n + k]);
  PetscCall(PetscSortReal(n, s));
  PetscCall(PetscFree(ev));
  PetscCall(PetscFree(B));
  PetscFunctionReturn(0);
}

/* W of the open chain (cornerSign = 0) or of the periodic chain in parity sector cornerSign = P. */
static void RefTFIMMajoranaMatrix(PetscInt n, const PetscReal J[], const PetscReal h[], PetscReal cornerSign, PetscReal W[])
{
  for (PetscInt k = 0; k < n * n; k++) W[k] = 0;
  for (PetscInt j = 0; j < n; j++) W[j + j * n] = h[j];
  for (PetscInt j = 0; j + 1 < n; j++) W[(j + 1) + j * n] = -J[j];
  if (cornerSign != 0) W[0 + (n - 1) * n] += cornerSign * J[n - 1];
}

/* Lowest two levels of the sector with parity P (periodic) from its W. */
static PetscErrorCode RefTFIMSector(PetscInt n, const PetscReal J[], const PetscReal h[], PetscReal P, PetscReal W[], PetscReal s[], PetscReal lev[2])
{
  PetscReal S = 0, prodH = 1, prodJ = 1, det;

  PetscFunctionBegin;
  RefTFIMMajoranaMatrix(n, J, h, P, W);
  PetscCall(RefSingularValues(n, W, s));
  for (PetscInt k = 0; k < n; k++) {
    S += s[k];
    prodH *= h[k];
    prodJ *= J[k];
  }
  det = prodH + P * prodJ;
  /* det == 0 means s[0] == 0: both choices give the same levels. */
  RefSectorLevels(S, s[0], s[1], (det == 0 || (det > 0) == (P > 0)) ? PETSC_TRUE : PETSC_FALSE, lev);
  PetscFunctionReturn(0);
}

PetscErrorCode RefTFIMFreeFermionLevels(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, PetscReal *E0, PetscReal *E1)
{
  PetscReal *W, *s;

  PetscFunctionBegin;
  PetscCheck(n >= 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TFIM chain with %" PetscInt_FMT " sites; at least 2 are needed", n);
  PetscCall(PetscMalloc2(n * n, &W, n, &s));
  if (periodic) {
    PetscReal even[2], odd[2];
    PetscCall(RefTFIMSector(n, J, h, +1.0, W, s, even));
    PetscCall(RefTFIMSector(n, J, h, -1.0, W, s, odd));
    RefLowestTwo(even, odd, E0, E1);
  } else {
    PetscReal S = 0;
    RefTFIMMajoranaMatrix(n, J, h, 0.0, W);
    PetscCall(RefSingularValues(n, W, s));
    for (PetscInt k = 0; k < n; k++) S += s[k];
    *E0 = -S; /* every occupation pattern is a state of the open chain */
    if (E1) *E1 = -S + 2 * s[0];
  }
  PetscCall(PetscFree2(W, s));
  PetscFunctionReturn(0);
}

PetscErrorCode RefTFIMFreeFermion(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, PetscReal *E0)
{
  PetscFunctionBegin;
  PetscCall(RefTFIMFreeFermionLevels(n, J, h, periodic, E0, NULL));
  PetscFunctionReturn(0);
}

/* Uniform ring, one sector: momenta k = (2m - 1 + shift) pi / n with shift 0 (P = +1) or 1 (P = -1). */
static void RefUniformSector(PetscInt n, PetscReal J, PetscReal h, PetscReal P, PetscReal lev[2])
{
  PetscReal S = 0, s0 = PETSC_MAX_REAL, s1 = PETSC_MAX_REAL, powH = 1, powJ = 1, det;
  for (PetscInt m = 1; m <= n; m++) {
    const PetscReal k = (2 * m - 1 + (P > 0 ? 0 : 1)) * PETSC_PI / n;
    const PetscReal e = PetscSqrtReal(PetscMax(0.0, J * J + h * h - 2 * J * h * PetscCosReal(k)));
    S += e;
    if (e < s0) {
      s1 = s0;
      s0 = e;
    } else if (e < s1) s1 = e;
    powH *= h;
    powJ *= J;
  }
  det = powH + P * powJ;
  RefSectorLevels(S, s0, s1, (det == 0 || (det > 0) == (P > 0)) ? PETSC_TRUE : PETSC_FALSE, lev);
}

PetscErrorCode RefTFIMUniformPeriodic(PetscInt n, PetscReal J, PetscReal h, PetscReal *E0, PetscReal *E1)
{
  PetscReal even[2], odd[2];

  PetscFunctionBegin;
  PetscCheck(n >= 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TFIM ring with %" PetscInt_FMT " sites; at least 2 are needed", n);
  RefUniformSector(n, J, h, +1.0, even);
  RefUniformSector(n, J, h, -1.0, odd);
  RefLowestTwo(even, odd, E0, E1);
  PetscFunctionReturn(0);
}

PetscErrorCode RefTFIMPauliSum(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, QepPauliSum *sum)
{
  const PetscInt nbonds = periodic ? n : n - 1;

  PetscFunctionBegin;
  PetscCheck(n >= 2 && n <= QEP_PAULI_MAX_QUBITS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TFIM chain with %" PetscInt_FMT " sites; allowed are 2..%d", n, QEP_PAULI_MAX_QUBITS);
  for (PetscInt i = 0; i < nbonds; i++) {
    QepPauli p = {0, 0};
    PetscCheck(QepPauliSetFactor(&p, 'Z', (int)i) == 0 && QepPauliSetFactor(&p, 'Z', (int)((i + 1) % n)) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Could not build Z%" PetscInt_FMT " Z%" PetscInt_FMT, i, (i + 1) % n);
    PetscCall(QepPauliSumAdd(sum, p, -J[i]));
  }
  for (PetscInt i = 0; i < n; i++) {
    QepPauli p = {0, 0};
    PetscCheck(QepPauliSetFactor(&p, 'X', (int)i) == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Could not build X%" PetscInt_FMT, i);
    PetscCall(QepPauliSumAdd(sum, p, -h[i]));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode RefCreateState(PetscInt n, PetscBool skew, Vec *v)
{
  PetscMPIInt rank, size;
  PetscInt    N = (PetscInt)1 << n, local = PETSC_DECIDE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  if (skew) {
    double wsum = 0, before = 0, mine = (size >= 3 && rank == 1) ? 0 : (double)(rank + 1) * (rank + 1);
    for (int r = 0; r < size; r++) {
      const double w = (size >= 3 && r == 1) ? 0 : (double)(r + 1) * (r + 1);
      wsum += w;
      if (r < rank) before += w;
    }
    local = (rank == size - 1 ? N : (PetscInt)(N * ((before + mine) / wsum))) - (PetscInt)(N * (before / wsum));
  }
  PetscCall(VecCreate(PETSC_COMM_WORLD, v));
  PetscCall(VecSetSizes(*v, local, N));
  PetscCall(VecSetFromOptions(*v));
  PetscFunctionReturn(0);
}

PetscErrorCode RefGatherAll(Vec v, PetscScalar **all)
{
  VecScatter         sc;
  Vec                seq;
  const PetscScalar *a;
  PetscInt           N;

  PetscFunctionBegin;
  PetscCall(VecGetSize(v, &N));
  PetscCall(VecScatterCreateToAll(v, &sc, &seq));
  PetscCall(VecScatterBegin(sc, v, seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, v, seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(PetscMalloc1(N, all));
  PetscCall(VecGetArrayRead(seq, &a));
  PetscCall(PetscArraycpy(*all, a, N));
  PetscCall(VecRestoreArrayRead(seq, &a));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&seq));
  PetscFunctionReturn(0);
}

PetscErrorCode RefVecSetGlobal(Vec v, const PetscScalar a[])
{
  PetscInt     lo, hi;
  PetscScalar *x;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayWrite(v, &x));
  for (PetscInt i = lo; i < hi; i++) x[i - lo] = a[i];
  PetscCall(VecRestoreArrayWrite(v, &x));
  PetscFunctionReturn(0);
}
