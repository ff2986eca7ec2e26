/* test_measure.c — shot sampling, basis rotation and measurement settings (qep/measure.h) against
 * independent references. Every random number comes from QepRandomUniform with global indices and
 * every seed is fixed, so each check is deterministic and identical at any rank count.
 *
 * Cases (-cases a,b,...; default all):
 *   chisq        Pearson chi-square of 20000 shots of random distributions (n = 9, n = 16 with 15/16
 *                of the states exactly zero, and a 2-qubit distribution with zeros) between the
 *                0.001 and 0.999 quantiles (Wilson–Hilferty); zero-probability states never drawn;
 *                each rank's shots ascending and inside its ownership range; nshots = 0 gives none.
 *   rotation     QepRotatedProbabilities against explicit 2x2 rotations applied to the gathered
 *                state: every one of the 4^5 basis strings on 5 qubits, and 4 bases on 17 qubits
 *                (cache-blocked passes), in place and out of place, to 1e-13 of the largest p.
 *   sign         the eigenvector of eigenvalue +1 of X (and of Y in the complex build) gives bit 0
 *                with probability 1, the -1 one bit 1; the real Bell states (|00> -+ |11>)/√2 give
 *                Y0Y1 = ±1 and X0X1 = ∓1 on every shot.
 *   settings     greedy grouping: TFIM strings -> 2 settings (Z, X), XXZ-type couplings -> 3 settings
 *                (X, Y, Z), identity and duplicate strings, memberships and basis strings exactly.
 *   convergence  a TFIM ground state (n = 8, ground solver): every estimated string within
 *                5 sqrt((1 - e²)/N) of QepExpectation at N = 4000 and its reported standard error
 *                within 15 % of sqrt((1 - e²)/N) (|e| < 0.9); the variance of 200 means at N = 100
 *                within 35 % of (1 - e²)/N.
 *   ybasis       strings with Y factors on a random 4-qubit state (real build: even-Y strings; complex
 *                build: also odd-Y strings) against QepExpectation and a dense reference.
 * -out FILE      writes shot lists, rotated probabilities (hex) and estimates for the rank-invariance
 *                comparison (files from different rank counts must be byte-identical).
 * -skew          an irregular ownership layout (uneven ranges, rank 1 empty from 3 ranks on).
 * -bad nshots|qubit|zero|negative|estimate   calls the API with that bad input (must fail). */
#include <qep/qep.h>
#include <qep/measure.h>
#include <slepcsys.h>
#include "reference.h"
#include "check.h"

#define SEED 20240611 /* every case's fixed seed */

static PetscBool skew = PETSC_FALSE;

/* ---------------------------------------------------------------- helpers ---------------------- */
/* v(s) = u(seed, 0, s) - 0.5 (+ i (u(seed, 1, s) - 0.5) in the complex build), by global index. */
static PetscErrorCode FillRandom(Vec v, PetscInt64 seed)
{
  PetscScalar *a;
  PetscInt     rstart, rend;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &rstart, &rend));
  PetscCall(VecGetArray(v, &a));
  for (PetscInt s = rstart; s < rend; s++) {
    a[s - rstart] = QepRandomUniform(seed, 0, s) - 0.5;
#if defined(PETSC_USE_COMPLEX)
    a[s - rstart] += PETSC_i * (QepRandomUniform(seed, 1, s) - 0.5);
#endif
  }
  PetscCall(VecRestoreArray(v, &a));
  PetscFunctionReturn(0);
}


/* Every rank's shots concatenated in rank order, on every rank (caller PetscFree's). Also checks that
 * each rank's shots are ascending and inside the ownership range of layout. */
static PetscErrorCode GatherShots(Vec layout, PetscInt64 nlocal, const PetscInt64 shots[], PetscInt64 *ntotal, PetscInt64 **all)
{
  PetscMPIInt size, mine = (PetscMPIInt)nlocal, *counts, *displs;
  PetscInt    rstart, rend;

  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(layout, &rstart, &rend));
  for (PetscInt64 i = 0; i < nlocal; i++) {
    CHECK(shots[i] >= rstart && shots[i] < rend, "shot %" PetscInt64_FMT " = %" PetscInt64_FMT " outside this rank's range [%" PetscInt_FMT ", %" PetscInt_FMT ")", i, shots[i], rstart, rend);
    CHECK(i == 0 || shots[i - 1] <= shots[i], "shots not ascending at %" PetscInt64_FMT, i);
  }
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscMalloc2(size, &counts, size + 1, &displs));
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, PETSC_COMM_WORLD));
  displs[0] = 0;
  for (int r = 0; r < size; r++) displs[r + 1] = displs[r] + counts[r];
  *ntotal = displs[size];
  PetscCall(PetscMalloc1(*ntotal, all));
  PetscCallMPI(MPI_Allgatherv(shots, mine, MPIU_INT64, *all, counts, displs, MPIU_INT64, PETSC_COMM_WORLD));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

/* Quantile of chi-square with k degrees of freedom at standard-normal quantile z (Wilson–Hilferty). */
static double ChiSquareQuantile(double k, double z)
{
  const double c = 2.0 / (9.0 * k), t = 1.0 - c + z * sqrt(c);
  return k * t * t * t;
}
#define Z_0999 3.090232306167813 /* standard normal 0.999 quantile */

static QepPauli ParsePauli(const char *text)
{
  QepPauli p = {0, 0};
  for (const char *c = text; *c;) {
    if (*c == ' ') {
      c++;
      continue;
    }
    {
      char op = *c++;
      int  q  = 0;
      while (*c >= '0' && *c <= '9') q = 10 * q + (*c++ - '0');
      if (op != 'I') (void)QepPauliSetFactor(&p, op, q);
    }
  }
  return p;
}

/* ---------------------------------------------------------------- chi-square ------------------- */
/* Samples nshots from prob and tests the counts against prob with Pearson's chi-square (states with
 * expected count >= 5 are their own bins, the rest are pooled). */
static PetscErrorCode ChiSquare(const char *label, Vec prob, PetscInt64 nshots, PetscInt64 stream)
{
  PetscScalar *p;
  PetscInt64   nlocal, *shots, ntotal, *all, *count;
  PetscInt     N;
  double       psum = 0, chi2 = 0, pooled_e = 0, pooled_o = 0, k = 0;

  PetscFunctionBegin;
  PetscCall(VecGetSize(prob, &N));
  PetscCall(RefGatherAll(prob, &p));
  PetscCall(QepSampleDistribution(prob, nshots, SEED, stream, &nlocal, &shots));
  PetscCall(GatherShots(prob, nlocal, shots, &ntotal, &all));
  CHECK(ntotal == nshots, "%s: %" PetscInt64_FMT " shots in total, asked for %" PetscInt64_FMT, label, ntotal, nshots);
  PetscCall(PetscCalloc1(N, &count));
  for (PetscInt64 i = 0; i < ntotal; i++) count[all[i]]++;
  for (PetscInt s = 0; s < N; s++) psum += PetscRealPart(p[s]);
  for (PetscInt s = 0; s < N; s++) {
    const double e = nshots * PetscRealPart(p[s]) / psum;
    if (PetscRealPart(p[s]) == 0) CHECK(count[s] == 0, "%s: state %" PetscInt_FMT " has probability 0 but was drawn %" PetscInt64_FMT " times", label, s, count[s]);
    if (e >= 5) {
      chi2 += (count[s] - e) * (count[s] - e) / e;
      k++;
    } else pooled_e += e, pooled_o += (double)count[s];
  }
  if (pooled_e > 0) {
    chi2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    k++;
  }
  {
    const double dof = k - 1, hi = ChiSquareQuantile(dof, Z_0999), lo = ChiSquareQuantile(dof, -Z_0999);
    CHECK(dof >= 1 && chi2 < hi && chi2 > lo, "%s: chi-square %.2f with %g dof outside [%.2f, %.2f] (0.001 and 0.999 quantiles)", label, chi2, dof, lo, hi);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "chisq %-28s shots=%" PetscInt64_FMT " bins=%.0f chi2=%.2f quantiles[0.001,0.999]=[%.2f, %.2f]\n", label, nshots, k, chi2, lo, hi));
  }
  PetscCall(PetscFree(count));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(shots));
  PetscCall(PetscFree(p));
  PetscFunctionReturn(0);
}

/* prob(s) = |v(s)|² of FillRandom, with a fraction `zeros` of the states (chosen by hash) set to 0. */
static PetscErrorCode RandomProbabilities(PetscInt n, PetscInt64 seed, double zeros, Vec *prob)
{
  PetscScalar *a;
  PetscInt     rstart, rend;

  PetscFunctionBegin;
  PetscCall(RefCreateState(n, skew, prob));
  PetscCall(FillRandom(*prob, seed));
  PetscCall(VecGetOwnershipRange(*prob, &rstart, &rend));
  PetscCall(VecGetArray(*prob, &a));
  for (PetscInt s = rstart; s < rend; s++) {
    const PetscReal m = PetscAbsScalar(a[s - rstart]);
    a[s - rstart]     = QepRandomUniform(seed, 2, s) < zeros ? 0.0 : m * m;
  }
  PetscCall(VecRestoreArray(*prob, &a));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestChiSquare(void)
{
  Vec prob;

  PetscFunctionBegin;
  /* n = 9: 512 states, about 40 shots each (more shots than states per rank: counting strategy) */
  PetscCall(RandomProbabilities(9, SEED, 0.0, &prob));
  PetscCall(ChiSquare("random n=9", prob, 20000, 1));
  PetscCall(VecDestroy(&prob));
  /* n = 16 with 15/16 of the states zero: fewer shots than states per rank (sort-and-walk strategy) */
  PetscCall(RandomProbabilities(16, SEED + 1, 15.0 / 16.0, &prob));
  PetscCall(ChiSquare("sparse n=16", prob, 20000, 2));
  PetscCall(VecDestroy(&prob));
  { /* p = (1, 0, 0, 3)/4 on 2 qubits (unnormalised input) */
    PetscInt64 nlocal, *shots;
    PetscCall(RefCreateState(2, skew, &prob));
    PetscCall(VecSetValue(prob, 0, 1.0, INSERT_VALUES));
    PetscCall(VecSetValue(prob, 3, 3.0, INSERT_VALUES));
    PetscCall(VecAssemblyBegin(prob));
    PetscCall(VecAssemblyEnd(prob));
    PetscCall(ChiSquare("(1,0,0,3)/4", prob, 4000, 3));
    PetscCall(QepSampleDistribution(prob, 0, SEED, 3, &nlocal, &shots));
    CHECK(nlocal == 0 && shots == NULL, "nshots = 0 gave %" PetscInt64_FMT " shots", nlocal);
    PetscCall(VecDestroy(&prob));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- rotation --------------------- */
/* Reference: |U_B psi|² with U_B applied qubit by qubit as an explicit 2x2 matrix
 * (X: H = [[1, 1], [1, -1]]/√2; Y: H S† = [[1, -i], [1, i]]/√2), on separate real/imaginary arrays. */
static PetscErrorCode ReferenceRotated(PetscInt n, const PetscScalar psi[], QepPauli basis, PetscReal prob[])
{
  const PetscInt N = (PetscInt)1 << n;
  PetscReal     *re, *im;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(N, &re, N, &im));
  for (PetscInt s = 0; s < N; s++) re[s] = PetscRealPart(psi[s]), im[s] = PetscImaginaryPart(psi[s]);
  for (int q = 0; q < n; q++) {
    const char f = QepPauliGetFactor(basis, q);
    /* U = [[u00, u01], [u10, u11]] with entries (re, im) */
    double u[2][2][2] = {{{1, 0}, {1, 0}}, {{1, 0}, {-1, 0}}};
    if (f != 'X' && f != 'Y') continue;
    if (f == 'Y') u[0][1][0] = 0, u[0][1][1] = -1, u[1][1][0] = 0, u[1][1][1] = 1;
    for (PetscInt s = 0; s < N; s++) {
      PetscInt t = s | ((PetscInt)1 << q);
      double   a0r, a0i, a1r, a1i;
      if (s & ((PetscInt)1 << q)) continue;
      a0r = re[s], a0i = im[s], a1r = re[t], a1i = im[t];
      re[s] = (u[0][0][0] * a0r - u[0][0][1] * a0i + u[0][1][0] * a1r - u[0][1][1] * a1i) / PETSC_SQRT2;
      im[s] = (u[0][0][0] * a0i + u[0][0][1] * a0r + u[0][1][0] * a1i + u[0][1][1] * a1r) / PETSC_SQRT2;
      re[t] = (u[1][0][0] * a0r - u[1][0][1] * a0i + u[1][1][0] * a1r - u[1][1][1] * a1i) / PETSC_SQRT2;
      im[t] = (u[1][0][0] * a0i + u[1][0][1] * a0r + u[1][1][0] * a1i + u[1][1][1] * a1r) / PETSC_SQRT2;
    }
  }
  for (PetscInt s = 0; s < N; s++) prob[s] = re[s] * re[s] + im[s] * im[s];
  PetscCall(PetscFree2(re, im));
  PetscFunctionReturn(0);
}

/* Rotation of psi (gathered copy all[]) into basis, checked against the reference; in_place also
 * runs it with prob == psi on a copy. Returns the largest deviation. */
static PetscErrorCode CheckRotation(PetscInt n, Vec psi, const PetscScalar all[], QepPauli basis, PetscBool in_place, PetscReal *worst, PetscReal *pmax)
{
  const PetscInt N = (PetscInt)1 << n;
  PetscReal     *ref;
  PetscScalar   *got;
  Vec            prob;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(N, &ref));
  PetscCall(ReferenceRotated(n, all, basis, ref));
  PetscCall(VecDuplicate(psi, &prob));
  if (in_place) PetscCall(VecCopy(psi, prob));
  PetscCall(QepRotatedProbabilities(in_place ? prob : psi, basis, prob));
  PetscCall(RefGatherAll(prob, &got));
  for (PetscInt s = 0; s < N; s++) {
    *worst = PetscMax(*worst, PetscAbsReal(PetscRealPart(got[s]) - ref[s]));
    *pmax  = PetscMax(*pmax, ref[s]);
  }
  PetscCall(PetscFree(got));
  PetscCall(PetscFree(ref));
  PetscCall(VecDestroy(&prob));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRotation(void)
{
  const char *big[] = {"X0 X1 X2 X3 X4 X5 X6 X7 X8 X9 X10 X11 X12 X13 X14 X15 X16", "Y0 Y1 Y2 Y3 Y4 Y5 Y6 Y7 Y8 Y9 Y10 Y11 Y12 Y13 Y14 Y15 Y16",
                       "X0 Y2 Z3 X5 Y9 X10 Y11 X12 X13 Y14 X15 Y16", "Z0 X11 Y12 X13 X14 Y15 X16"};
  PetscInt    n;

  PetscFunctionBegin;
  for (n = 5; n <= 17; n += 12) {
    Vec          psi;
    PetscScalar *all;
    PetscReal    worst = 0, pmax = 0;
    PetscInt     nb    = n == 5 ? 1024 : 4;
    PetscCall(RefCreateState(n, skew, &psi));
    PetscCall(FillRandom(psi, SEED + n));
    PetscCall(RefGatherAll(psi, &all));
    for (PetscInt b = 0; b < nb; b++) {
      QepPauli basis = {0, 0};
      if (n == 5)
        for (int q = 0; q < 5; q++) (void)QepPauliSetFactor(&basis, "IXYZ"[(b >> (2 * q)) & 3], q); /* every basis string */
      else basis = ParsePauli(big[b]);
      PetscCall(CheckRotation(n, psi, all, basis, (b % 7) == 3 ? PETSC_TRUE : PETSC_FALSE, &worst, &pmax));
    }
    CHECK(worst <= 1e-13 * pmax, "rotation n=%" PetscInt_FMT ": largest deviation from the explicit 2x2 rotations %.3e (largest probability %.3e)", n, (double)worst, (double)pmax);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rotation n=%2" PetscInt_FMT " bases=%4" PetscInt_FMT " max |p - p_ref| = %.2e (largest p %.3e)\n", n, nb, (double)worst, (double)pmax));
    PetscCall(PetscFree(all));
    PetscCall(VecDestroy(&psi));
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- sign convention -------------- */
/* Samples psi (set from amp[]) in basis; every shot must be `want` (a basis index). */
static PetscErrorCode ExpectAllShots(const char *label, PetscInt n, const PetscScalar amp[], const char *basis, PetscInt64 want)
{
  Vec        psi, prob;
  PetscInt64 nlocal, *shots, ntotal, *all, bad = 0;
  PetscInt   rstart, rend;

  PetscFunctionBegin;
  PetscCall(RefCreateState(n, skew, &psi));
  PetscCall(VecGetOwnershipRange(psi, &rstart, &rend));
  for (PetscInt s = rstart; s < rend; s++) PetscCall(VecSetValue(psi, s, amp[s], INSERT_VALUES));
  PetscCall(VecAssemblyBegin(psi));
  PetscCall(VecAssemblyEnd(psi));
  PetscCall(VecDuplicate(psi, &prob));
  PetscCall(QepRotatedProbabilities(psi, ParsePauli(basis), prob));
  PetscCall(QepSampleDistribution(prob, 1000, SEED, 7, &nlocal, &shots));
  PetscCall(GatherShots(prob, nlocal, shots, &ntotal, &all));
  for (PetscInt64 i = 0; i < ntotal; i++) bad += all[i] != want;
  CHECK(ntotal == 1000 && bad == 0, "%s in basis %s: %" PetscInt64_FMT " of %" PetscInt64_FMT " shots differ from %" PetscInt64_FMT, label, basis, bad, ntotal, want);
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(shots));
  PetscCall(VecDestroy(&prob));
  PetscCall(VecDestroy(&psi));
  PetscFunctionReturn(0);
}

/* Estimates of strings on a state given by amp[] (n qubits) with QepMeasurement; mean and exact. */
static PetscErrorCode EstimateStrings(PetscInt n, Vec psi, PetscInt ns, const QepPauli strings[], PetscInt64 nshots, PetscInt64 stream, PetscReal mean[], PetscReal err[], PetscReal exact[])
{
  QepMeasurement m;
  QepExpectation plan;

  PetscFunctionBegin;
  PetscCall(QepMeasurementCreate(PETSC_COMM_WORLD, n, &m));
  PetscCall(QepMeasurementSetStrings(m, ns, strings));
  PetscCall(QepMeasurementSetUp(m));
  PetscCall(QepMeasurementEstimate(m, psi, nshots, SEED, stream, mean, err));
  PetscCall(QepMeasurementDestroy(&m));
  PetscCall(QepExpectationCreate(psi, ns, strings, &plan));
  PetscCall(QepExpectationCompute(plan, psi, exact));
  PetscCall(QepExpectationDestroy(&plan));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSign(void)
{
  const PetscReal r = 1 / PETSC_SQRT2;

  PetscFunctionBegin;
  {
    const PetscScalar plus[2] = {r, r}, minus[2] = {r, -r}, zero[2] = {1, 0}, one[2] = {0, 1};
    PetscCall(ExpectAllShots("|+>", 1, plus, "X0", 0));
    PetscCall(ExpectAllShots("|->", 1, minus, "X0", 1));
    PetscCall(ExpectAllShots("|0>", 1, zero, "Z0", 0));
    PetscCall(ExpectAllShots("|1>", 1, one, "Z0", 1));
    PetscCall(ExpectAllShots("|1>", 1, one, "I", 1));
  }
#if defined(PETSC_USE_COMPLEX)
  {
    const PetscScalar yplus[2] = {r, r * PETSC_i}, yminus[2] = {r, -r * PETSC_i};
    PetscCall(ExpectAllShots("(|0>+i|1>)/sqrt2", 1, yplus, "Y0", 0));
    PetscCall(ExpectAllShots("(|0>-i|1>)/sqrt2", 1, yminus, "Y0", 1));
  }
#endif
  { /* real Bell states: Y0Y1 (|00> - |11>) = +(|00> - |11>), X0X1 gives -1; and the opposite for + */
    const char *names[2] = {"(|00>-|11>)/sqrt2", "(|00>+|11>)/sqrt2"};
    QepPauli    strings[3];
    strings[0] = ParsePauli("Y0 Y1");
    strings[1] = ParsePauli("X0 X1");
    strings[2] = ParsePauli("Z0 Z1");
    for (int k = 0; k < 2; k++) {
      const PetscReal sgn = k == 0 ? -1 : 1;
      Vec             psi;
      PetscReal       mean[3], err[3], exact[3], want[3] = {-sgn, sgn, 1};
      PetscInt        rstart, rend;
      PetscCall(RefCreateState(2, skew, &psi));
      PetscCall(VecGetOwnershipRange(psi, &rstart, &rend));
      if (rstart <= 0 && 0 < rend) PetscCall(VecSetValue(psi, 0, r, INSERT_VALUES));
      if (rstart <= 3 && 3 < rend) PetscCall(VecSetValue(psi, 3, sgn * r, INSERT_VALUES));
      PetscCall(VecAssemblyBegin(psi));
      PetscCall(VecAssemblyEnd(psi));
      PetscCall(EstimateStrings(2, psi, 3, strings, 1000, 11, mean, err, exact));
      for (int t = 0; t < 3; t++) {
        CHECK(mean[t] == want[t] && err[t] == 0, "%s: string %d mean %g (stderr %g), expected exactly %g", names[k], t, (double)mean[t], (double)err[t], (double)want[t]);
        CHECK(PetscAbsReal(exact[t] - want[t]) < 1e-14, "%s: QepExpectation of string %d is %g, expected %g", names[k], t, (double)exact[t], (double)want[t]);
      }
      PetscCall(VecDestroy(&psi));
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "sign conventions checked (X%s, Bell states in YY/XX/ZZ)\n", QepIsComplexBuild() ? ", Y" : ""));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- settings --------------------- */
/* Checks setting s of m: its basis string and its members (indices, ascending). */
static PetscErrorCode ExpectSetting(QepMeasurement m, const char *label, PetscInt s, const char *basis, PetscInt nwant, const PetscInt want[])
{
  QepPauli        b;
  PetscInt        nm;
  const PetscInt *mem;
  char            got[256];

  PetscFunctionBegin;
  PetscCall(QepMeasurementGetSetting(m, s, &b, &nm, &mem));
  QepPauliToString(b, got, sizeof(got));
  CHECK(QepPauliEqual(b, ParsePauli(basis)), "%s: setting %" PetscInt_FMT " has basis %s, expected %s", label, s, got, basis);
  CHECK(nm == nwant, "%s: setting %" PetscInt_FMT " has %" PetscInt_FMT " members, expected %" PetscInt_FMT, label, s, nm, nwant);
  for (PetscInt k = 0; k < PetscMin(nm, nwant); k++) CHECK(mem[k] == want[k], "%s: setting %" PetscInt_FMT " member %" PetscInt_FMT " is %" PetscInt_FMT ", expected %" PetscInt_FMT, label, s, k, mem[k], want[k]);
  for (PetscInt k = 0; k < nm; k++) {
    PetscInt back;
    PetscCall(QepMeasurementGetStringSetting(m, mem[k], &back));
    CHECK(back == s, "%s: string %" PetscInt_FMT " is a member of setting %" PetscInt_FMT " but GetStringSetting says %" PetscInt_FMT, label, mem[k], s, back);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSettings(void)
{
  QepMeasurement m;
  QepPauli       s[64];
  PetscInt       ns = 0, nset;
  char           buf[32];

  PetscFunctionBegin;
  /* TFIM on 6 qubits, strings interleaved X_i, Z_i Z_{i+1}, Z_i (input order must not matter) */
  for (int i = 0; i < 6; i++) {
    snprintf(buf, sizeof(buf), "X%d", i), s[ns++] = ParsePauli(buf);
    if (i < 5) snprintf(buf, sizeof(buf), "Z%d Z%d", i, i + 1), s[ns++] = ParsePauli(buf);
    snprintf(buf, sizeof(buf), "Z%d", i), s[ns++] = ParsePauli(buf);
  }
  PetscCall(QepMeasurementCreate(PETSC_COMM_WORLD, 6, &m));
  PetscCall(QepMeasurementSetStrings(m, ns, s));
  PetscCall(QepMeasurementGetNumSettings(m, &nset));
  CHECK(nset == 2, "TFIM n=6: %" PetscInt_FMT " settings, expected 2", nset);
  if (nset == 2) {
    /* indices: X_i = 3i, Z_iZ_{i+1} = 3i+1 (i < 5), Z_i = 3i+2 (i < 5), Z_5 = 16 */
    const PetscInt zmem[] = {1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16}, xmem[] = {0, 3, 6, 9, 12, 15};
    PetscCall(ExpectSetting(m, "TFIM", 0, "Z0 Z1 Z2 Z3 Z4 Z5", 11, zmem)); /* created first: ZZ has the largest weight */
    PetscCall(ExpectSetting(m, "TFIM", 1, "X0 X1 X2 X3 X4 X5", 6, xmem));
  }
  /* XX, YY, ZZ couplings plus fields X, Z; then the identity and a duplicate */
  ns = 0;
  for (int i = 0; i < 5; i++) {
    snprintf(buf, sizeof(buf), "X%d X%d", i, i + 1), s[ns++] = ParsePauli(buf);
    snprintf(buf, sizeof(buf), "Y%d Y%d", i, i + 1), s[ns++] = ParsePauli(buf);
    snprintf(buf, sizeof(buf), "Z%d Z%d", i, i + 1), s[ns++] = ParsePauli(buf);
  }
  s[ns++] = ParsePauli("X2");        /* 15 */
  s[ns++] = ParsePauli("Z4");        /* 16 */
  s[ns++] = ParsePauli("I");         /* 17 */
  s[ns++] = ParsePauli("Y3 Y4");     /* 18: duplicate of 10 */
  PetscCall(QepMeasurementSetStrings(m, ns, s));
  PetscCall(QepMeasurementGetNumSettings(m, &nset));
  CHECK(nset == 3, "XYZ chain n=6: %" PetscInt_FMT " settings, expected 3", nset);
  if (nset == 3) {
    const PetscInt xm[] = {0, 3, 6, 9, 12, 15, 17}, ym[] = {1, 4, 7, 10, 13, 18}, zm[] = {2, 5, 8, 11, 14, 16};
    PetscCall(ExpectSetting(m, "XYZ", 0, "X0 X1 X2 X3 X4 X5", 7, xm)); /* the identity joins setting 0 */
    PetscCall(ExpectSetting(m, "XYZ", 1, "Y0 Y1 Y2 Y3 Y4 Y5", 6, ym));
    PetscCall(ExpectSetting(m, "XYZ", 2, "Z0 Z1 Z2 Z3 Z4 Z5", 6, zm));
  }
  /* weight order: Z0 X1 Y4 (weight 3, input last) opens setting 0; X0 Z1 conflicts with it on qubit 0
     and opens setting 1; the lighter X1 and Z0 then join setting 0 */
  ns      = 0;
  s[ns++] = ParsePauli("X1");
  s[ns++] = ParsePauli("Z0");
  s[ns++] = ParsePauli("X0 Z1");
  s[ns++] = ParsePauli("Z0 X1 Y4");
  PetscCall(QepMeasurementSetStrings(m, ns, s));
  PetscCall(QepMeasurementGetNumSettings(m, &nset));
  CHECK(nset == 2, "mixed strings: %" PetscInt_FMT " settings, expected 2", nset);
  if (nset == 2) {
    const PetscInt m0[] = {0, 1, 3}, m1[] = {2};
    PetscCall(ExpectSetting(m, "mixed", 0, "Z0 X1 Y4", 3, m0));
    PetscCall(ExpectSetting(m, "mixed", 1, "X0 Z1", 1, m1));
  }
  PetscCall(QepMeasurementDestroy(&m));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "settings: TFIM -> 2, XYZ chain -> 3, weight order checked\n"));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- convergence ------------------ */
/* Ground state of H = -Σ Z_i Z_{i+1} - 1.3 Σ X_i - 0.2 Σ Z_i (open chain, n qubits); caller destroys. */
static PetscErrorCode TFIMGroundState(PetscInt n, Vec *psi)
{
  QepPauliSum     H;
  PetscReal      *J, *h;
  QepOperator     op;
  QepGroundSolver solver;
  Mat             A;
  Vec             g;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n, &J, n, &h));
  for (PetscInt i = 0; i < n; i++) J[i] = 1.0, h[i] = 1.3;
  PetscCall(QepPauliSumInit(&H));
  PetscCall(RefTFIMPauliSum(n, J, h, PETSC_FALSE, &H));
  for (PetscInt i = 0; i < n; i++) {
    QepPauli z = {0, 0};
    (void)QepPauliSetFactor(&z, 'Z', (int)i);
    PetscCall(QepPauliSumAdd(&H, z, -0.2));
  }
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, H.n, H.strings));
  PetscCall(QepOperatorSetUp(op));
  PetscCall(QepOperatorSetCoefficients(op, H.coeffs));
  PetscCall(QepOperatorGetMat(op, &A));
  PetscCall(QepGroundSolverCreate(PETSC_COMM_WORLD, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, A));
  PetscCall(QepGroundSolverSetFromOptions(solver));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetState(solver, &g));
  PetscCall(VecDuplicate(g, psi));
  PetscCall(VecCopy(g, *psi));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(QepPauliSumFree(&H));
  PetscCall(PetscFree2(J, h));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestConvergence(void)
{
  const PetscInt   n = 8, N = 4000, R = 200, NR = 100;
  QepPauli         s[64];
  PetscInt         ns = 0;
  PetscReal        mean[64], err[64], exact[64], worst_z = 0, worst_se = 0;
  Vec              psi;
  char             buf[32];
  const char      *extra[] = {"X0 Z1 X2", "Y0 Y3", "Z2 X5", "Y2 Y3 Z5 Z6", "X1 Y4 Y7"};

  PetscFunctionBegin;
  for (int i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "Z%d", i), s[ns++] = ParsePauli(buf);
    snprintf(buf, sizeof(buf), "X%d", i), s[ns++] = ParsePauli(buf);
    if (i + 1 < n) {
      snprintf(buf, sizeof(buf), "Z%d Z%d", i, i + 1), s[ns++] = ParsePauli(buf);
      snprintf(buf, sizeof(buf), "X%d X%d", i, i + 1), s[ns++] = ParsePauli(buf);
      snprintf(buf, sizeof(buf), "Y%d Y%d", i, i + 1), s[ns++] = ParsePauli(buf);
    }
  }
  for (int k = 0; k < 5; k++) s[ns++] = ParsePauli(extra[k]);
  s[ns++] = ParsePauli("I");
  PetscCall(TFIMGroundState(n, &psi));
  PetscCall(EstimateStrings(n, psi, ns, s, N, 100, mean, err, exact));
  for (PetscInt t = 0; t < ns; t++) {
    const PetscReal sigma = PetscSqrtReal(PetscMax(0, 1 - exact[t] * exact[t]) / N);
    char            name[64];
    QepPauliToString(s[t], name, sizeof(name));
    CHECK(PetscAbsReal(mean[t] - exact[t]) <= 5 * sigma + 1e-12, "<%s>: shot mean %.5f vs exact %.5f: |diff| %.2e > 5 sigma = %.2e", name, (double)mean[t], (double)exact[t],
          (double)PetscAbsReal(mean[t] - exact[t]), (double)(5 * sigma));
    if (sigma > 0) worst_z = PetscMax(worst_z, PetscAbsReal(mean[t] - exact[t]) / sigma);
    if (PetscAbsReal(exact[t]) < 0.9) {
      CHECK(PetscAbsReal(err[t] - sigma) <= 0.15 * sigma, "<%s>: reported stderr %.5f vs sqrt((1 - e^2)/N) = %.5f (more than 15%% apart)", name, (double)err[t], (double)sigma);
      worst_se = PetscMax(worst_se, PetscAbsReal(err[t] - sigma) / sigma);
    }
    if (QepPauliIsIdentity(s[t])) CHECK(mean[t] == 1 && err[t] == 0, "identity: mean %g stderr %g", (double)mean[t], (double)err[t]);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "convergence: %" PetscInt_FMT " strings, N=%" PetscInt_FMT ": max |mean - exact|/sigma = %.2f, max stderr rel. error = %.3f\n", ns, N,
                        (double)worst_z, (double)worst_se));
  { /* variance of R means of X3 at NR shots each, over distinct streams */
    QepMeasurement m;
    QepPauli       x3 = ParsePauli("X3");
    PetscReal      e, mu = 0, var = 0, *means, want;
    QepExpectation plan;
    PetscCall(PetscMalloc1(R, &means));
    PetscCall(QepMeasurementCreate(PETSC_COMM_WORLD, n, &m));
    PetscCall(QepMeasurementSetStrings(m, 1, &x3));
    for (PetscInt r = 0; r < R; r++) PetscCall(QepMeasurementEstimate(m, psi, NR, SEED, 1000 + r, &means[r], NULL));
    for (PetscInt r = 0; r < R; r++) mu += means[r] / R;
    for (PetscInt r = 0; r < R; r++) var += (means[r] - mu) * (means[r] - mu) / (R - 1);
    PetscCall(QepExpectationCreate(psi, 1, &x3, &plan));
    PetscCall(QepExpectationCompute(plan, psi, &e));
    PetscCall(QepExpectationDestroy(&plan));
    want = (1 - e * e) / NR;
    CHECK(PetscAbsReal(var - want) <= 0.35 * want, "variance of %" PetscInt_FMT " means of <X3> at N=%" PetscInt_FMT ": %.3e, expected (1 - e^2)/N = %.3e within 35%%", R, NR, (double)var,
          (double)want);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "variance: %" PetscInt_FMT " means of <X3> = %.4f at N=%" PetscInt_FMT ": var %.4e vs (1-e^2)/N %.4e (ratio %.3f)\n", R, (double)e, NR, (double)var,
                          (double)want, (double)(var / want)));
    PetscCall(QepMeasurementDestroy(&m));
    PetscCall(PetscFree(means));
  }
  PetscCall(VecDestroy(&psi));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- Y bases ---------------------- */
static PetscErrorCode TestYBasis(void)
{
  const char *real_strings[]    = {"Y0 Y1", "X0 Y1 Y2", "Y1 Y3", "Y0 Z1 Y2 X3", "Y0 Y1 Y2 Y3", "X0 X1"};
  const char *complex_strings[] = {"Y0", "X0 Y1", "Y2 Z3", "Y0 Y1 Y2"};
  const PetscInt n = 4, N = 20000;
  QepPauli       s[16];
  PetscInt       ns = 0;
  PetscReal      mean[16], err[16], exact[16], dense[16];
  Vec            psi;
  PetscScalar   *all;

  PetscFunctionBegin;
  for (int k = 0; k < 6; k++) s[ns++] = ParsePauli(real_strings[k]);
  if (QepIsComplexBuild())
    for (int k = 0; k < 4; k++) s[ns++] = ParsePauli(complex_strings[k]);
  PetscCall(RefCreateState(n, skew, &psi));
  PetscCall(FillRandom(psi, SEED + 5));
  PetscCall(RefGatherAll(psi, &all));
  PetscCall(EstimateStrings(n, psi, ns, s, N, 200, mean, err, exact));
  for (PetscInt t = 0; t < ns; t++) {
    const PetscReal one = 1, sigma = PetscSqrtReal(PetscMax(0, 1 - exact[t] * exact[t]) / N);
    char            name[64];
    PetscCall(RefDenseExpectation(n, all, 1, &s[t], &one, &dense[t]));
    QepPauliToString(s[t], name, sizeof(name));
    CHECK(PetscAbsReal(exact[t] - dense[t]) < 1e-12, "<%s>: QepExpectation %.15f vs dense %.15f", name, (double)exact[t], (double)dense[t]);
    CHECK(PetscAbsReal(mean[t] - dense[t]) <= 5 * sigma + 1e-12, "<%s>: shot mean %.5f vs exact %.5f: |diff| %.2e > 5 sigma = %.2e", name, (double)mean[t], (double)dense[t],
          (double)PetscAbsReal(mean[t] - dense[t]), (double)(5 * sigma));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ybasis <%-12s> exact % .5f shots % .5f +- %.5f\n", name, (double)dense[t], (double)mean[t], (double)err[t]));
  }
  /* the test is only sharp if the sign of the Y strings is visible: |<Y0 Y1>| must exceed 10 sigma */
  CHECK(PetscAbsReal(dense[0]) > 10 * PetscSqrtReal(1.0 / N), "test state too weak: <Y0 Y1> = %g", (double)dense[0]);
  PetscCall(PetscFree(all));
  PetscCall(VecDestroy(&psi));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- rank-invariance dump --------- */
static PetscErrorCode DumpShots(FILE *fp, const char *label, Vec prob, PetscInt64 nshots, PetscInt64 stream)
{
  PetscInt64 nlocal, *shots, ntotal, *all;

  PetscFunctionBegin;
  PetscCall(QepSampleDistribution(prob, nshots, SEED, stream, &nlocal, &shots));
  PetscCall(GatherShots(prob, nlocal, shots, &ntotal, &all));
  PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "shots %s %" PetscInt64_FMT "\n", label, ntotal));
  for (PetscInt64 i = 0; i < ntotal; i++) PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%" PetscInt64_FMT "\n", all[i]));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(shots));
  PetscFunctionReturn(0);
}

static PetscErrorCode DumpHex(FILE *fp, const char *label, PetscInt n, const PetscReal v[])
{
  char buf[64];

  PetscFunctionBegin;
  PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "hex %s %" PetscInt_FMT "\n", label, n));
  for (PetscInt i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "%a", (double)v[i]);
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, fp, "%s\n", buf));
  }
  PetscFunctionReturn(0);
}

/* Shot lists, rotated probabilities and estimates that must not depend on the rank count. */
static PetscErrorCode Dump(const char *path)
{
  const PetscInt n = 10, N = 1 << 10;
  const char    *bases[] = {"X0 X1 X2 X3 X4 X5 X6 X7 X8 X9", "X0 Y1 Z2 X3 Y5 X7 Y8 X9"};
  FILE          *fp;
  Vec            psi, prob;
  PetscInt       rstart, rend;
  PetscScalar   *all;
  PetscReal     *re;

  PetscFunctionBegin;
  PetscCall(PetscFOpen(PETSC_COMM_WORLD, path, "w", &fp));
  PetscCall(RefCreateState(n, skew, &prob));
  /* p(s) ∝ (s+1)^3: most of the mass on the last ranks, so the two locating strategies both run */
  PetscCall(VecGetOwnershipRange(prob, &rstart, &rend));
  for (PetscInt s = rstart; s < rend; s++) PetscCall(VecSetValue(prob, s, (PetscReal)(s + 1) * (s + 1) * (s + 1), INSERT_VALUES));
  PetscCall(VecAssemblyBegin(prob));
  PetscCall(VecAssemblyEnd(prob));
  PetscCall(DumpShots(fp, "cubic", prob, 900, 1));
  PetscCall(DumpShots(fp, "cubic-many", prob, 20000, 2));
  PetscCall(RefCreateState(n, skew, &psi));
  PetscCall(FillRandom(psi, SEED));
  PetscCall(PetscMalloc1(N, &re));
  for (int b = 0; b < 2; b++) {
    PetscCall(QepRotatedProbabilities(psi, ParsePauli(bases[b]), prob));
    PetscCall(RefGatherAll(prob, &all));
    for (PetscInt s = 0; s < N; s++) re[s] = PetscRealPart(all[s]);
    PetscCall(DumpHex(fp, bases[b], N, re));
    PetscCall(DumpShots(fp, bases[b], prob, 3000, 3 + b));
    PetscCall(PetscFree(all));
  }
  { /* estimates of a few strings: integer sums, so bit-identical */
    const char *names[] = {"X0 X1", "Z3", "Y1 Y5", "X7 Y8 Y9 Z2", "I", "Z0 Z9"};
    QepPauli    s[6];
    PetscReal   mean[6], err[6];
    QepMeasurement m;
    for (int k = 0; k < 6; k++) s[k] = ParsePauli(names[k]);
    PetscCall(QepMeasurementCreate(PETSC_COMM_WORLD, n, &m));
    PetscCall(QepMeasurementSetStrings(m, 6, s));
    PetscCall(QepMeasurementEstimate(m, psi, 5000, SEED, 50, mean, err));
    PetscCall(QepMeasurementDestroy(&m));
    PetscCall(DumpHex(fp, "estimate-mean", 6, mean));
    PetscCall(DumpHex(fp, "estimate-stderr", 6, err));
  }
  PetscCall(PetscFree(re));
  PetscCall(VecDestroy(&psi));
  PetscCall(VecDestroy(&prob));
  PetscCall(PetscFClose(PETSC_COMM_WORLD, fp));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "wrote %s\n", path));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- bad input -------------------- */
static PetscErrorCode RunBad(const char *what)
{
  Vec            prob;
  PetscInt64     nlocal, *shots = NULL;
  PetscBool      match;
  QepMeasurement m;
  QepPauli       p = ParsePauli("Z0 X6");

  PetscFunctionBegin;
  PetscCall(RefCreateState(6, skew, &prob));
  PetscCall(VecSet(prob, 1.0));
  PetscCall(PetscStrcmp(what, "nshots", &match));
  if (match) PetscCall(QepSampleDistribution(prob, -1, SEED, 0, &nlocal, &shots));
  PetscCall(PetscStrcmp(what, "zero", &match));
  if (match) {
    PetscCall(VecSet(prob, 0.0));
    PetscCall(QepSampleDistribution(prob, 10, SEED, 0, &nlocal, &shots));
  }
  PetscCall(PetscStrcmp(what, "negative", &match));
  if (match) {
    PetscCall(VecSetValue(prob, 63, -0.5, INSERT_VALUES));
    PetscCall(VecAssemblyBegin(prob));
    PetscCall(VecAssemblyEnd(prob));
    PetscCall(QepSampleDistribution(prob, 10, SEED, 0, &nlocal, &shots));
  }
  PetscCall(QepMeasurementCreate(PETSC_COMM_WORLD, 6, &m));
  PetscCall(PetscStrcmp(what, "qubit", &match));
  if (match) PetscCall(QepMeasurementSetStrings(m, 1, &p));
  PetscCall(PetscStrcmp(what, "estimate", &match));
  if (match) {
    PetscReal mean;
    p = ParsePauli("Z0 X5");
    PetscCall(QepMeasurementSetStrings(m, 1, &p));
    PetscCall(QepMeasurementEstimate(m, prob, 0, SEED, 0, &mean, NULL));
  }
  PetscCall(QepMeasurementDestroy(&m));
  PetscCall(PetscFree(shots));
  PetscCall(VecDestroy(&prob));
  SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-bad %s: no error was raised (or unknown mode; use nshots, qubit, zero, negative, estimate)", what);
}

int main(int argc, char **argv)
{
  char      cases[256] = "chisq,rotation,sign,settings,convergence,ybasis", out[PETSC_MAX_PATH_LEN], bad[64];
  PetscBool has_out, has_bad;
  struct {
    const char *name;
    PetscErrorCode (*run)(void);
  } table[] = {
    {"chisq",       TestChiSquare  },
    {"rotation",    TestRotation   },
    {"sign",        TestSign       },
    {"settings",    TestSettings   },
    {"convergence", TestConvergence},
    {"ybasis",      TestYBasis     },
  };

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "Tests qep/measure.h: -cases, -out FILE, -skew, -bad MODE\n"));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-cases", cases, sizeof(cases), NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-skew", &skew, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof(out), &has_out));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-bad", bad, sizeof(bad), &has_bad));
  if (has_bad) PetscCall(RunBad(bad));
  for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
    PetscBool found;
    PetscCall(PetscStrInList(table[k].name, cases, ',', &found));
    if (found) PetscCall(table[k].run());
  }
  if (has_out) PetscCall(Dump(out));
  {
    int total;
    PetscCallMPI(MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD));
    PetscCheck(total == 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%d measurement check(s) failed", total);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "all measurement checks passed\n"));
  PetscCall(SlepcFinalize());
  return 0;
}
