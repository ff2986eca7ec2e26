/* bench_qho.c — cost of oscillator-network ground states: the Gaussian solver against the network
 * size, split into its mean (CG) and covariance phases, and the truncated Fock solver against the
 * number of levels.
 *
 *   mpiexec -n 2 bench_qho -sizes 100,1000,10000,100000 [-cov auto|dense|chebyshev] [-qep_qho_cov_tol 1e-12]
 *           [-k 1 -k0 1] [-fock_modes 3 -fock_levels 4,8,12,16] [-reps 2]
 *
 * Gaussian: an L x L square lattice (n = L², L = round(sqrt(size))) of unit masses with coupling
 * springs k (± 30 %, QepRandomUniform) and ground springs k0, a bias force 0.1 on every mode,
 * built with the public API. For each n: the best of -reps solves (rank-0 wall clock after a
 * barrier): mean, covariance and total time, rank 0's CPU time (on a shared machine the gap to the
 * wall time is time spent waiting for a core), the covariance method used, the Chebyshev degree and
 * the probing colours. Fock: a chain of -fock_modes modes (k = 0.5, k0 = 1, quartic 0.1 on mode 0)
 * solved with QepQhoGroundSolve(QEP_QHO_SOLVER_FOCK) for each d of -fock_levels (d^n states).
 * One Markdown table row per case on rank 0. */
#include <qep/qep.h>
#include <qep/qho.h>
#include <slepcsys.h>
#include <sys/resource.h>

static const char help[] = "Times Gaussian (vs n) and Fock (vs levels) ground states of oscillator networks.\n";

#define MAX_LIST 32
#define SEED     20260612

/* CPU seconds (user + system) of this process so far. */
static PetscLogDouble CPUSeconds(void)
{
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (PetscLogDouble)u.ru_utime.tv_sec + 1e-6 * u.ru_utime.tv_usec + (PetscLogDouble)u.ru_stime.tv_sec + 1e-6 * u.ru_stime.tv_usec;
}

static PetscErrorCode BuildLattice(PetscInt L, PetscReal k, PetscReal k0, QepQho *q)
{
  PetscInt n = L * L, e = 0;

  PetscFunctionBegin;
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, q));
  PetscCall(QepQhoSetNumModes(*q, n));
  for (PetscInt i = 0; i < n; i++) {
    PetscInt x = i % L, y = i / L;
    if (x + 1 < L) PetscCall(QepQhoAddSpring(*q, i, i + 1, (QepQhoCoef){QEP_VAR_CONST, 0, k * (0.7 + 0.6 * QepRandomUniform(SEED, 1, e++))}, (QepQhoCoef){QEP_VAR_CONST, 0, 0}));
    if (y + 1 < L) PetscCall(QepQhoAddSpring(*q, i, i + L, (QepQhoCoef){QEP_VAR_CONST, 0, k * (0.7 + 0.6 * QepRandomUniform(SEED, 1, e++))}, (QepQhoCoef){QEP_VAR_CONST, 0, 0}));
    PetscCall(QepQhoAddGroundSpring(*q, i, (QepQhoCoef){QEP_VAR_CONST, 0, k0}, (QepQhoCoef){QEP_VAR_CONST, 0, 0}));
    PetscCall(QepQhoAddForce(*q, i, (QepQhoCoef){QEP_VAR_CONST, 0, 0.1}));
  }
  PetscCall(QepQhoFinalize(*q));
  PetscFunctionReturn(0);
}

static PetscErrorCode BenchGaussian(PetscInt nsizes, const PetscInt sizes[], QepQhoCovMethod method, PetscReal tol, PetscReal k, PetscReal k0, PetscInt reps)
{
  PetscMPIInt size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\nGaussian solver, square lattice, k = %g (+-30%%), k0 = %g, %d rank(s), covariance %s, tol %g\n\n", (double)k, (double)k0, (int)size,
                        QepQhoCovMethods[method], (double)tol));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| n | cov method | degree | colours | CG its | mean s | covariance s (colouring) | total s | rank-0 CPU s | energy |\n|---|---|---|---|---|---|---|---|---|---|\n"));
  for (PetscInt s = 0; s < nsizes; s++) {
    PetscInt        L = (PetscInt)PetscFloorReal(PetscSqrtReal((PetscReal)sizes[s]) + 0.5);
    QepQho          q;
    QepQhoSolveInfo info, best;
    PetscReal       E = 0;
    PetscLogDouble  t0, t1, c0, c1, tbest = 1e300, cbest = 0;
    PetscCall(PetscMemzero(&best, sizeof(best)));
    PetscCall(BuildLattice(L, k, k0, &q));
    PetscCall(QepQhoSetCovarianceMethod(q, method, tol));
    for (PetscInt r = 0; r < reps; r++) {
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      PetscCall(PetscTime(&t0));
      c0 = CPUSeconds();
      PetscCall(QepQhoGroundSolve(q, QEP_QHO_SOLVER_GAUSSIAN, 0, NULL, 0.0, NULL, &E, NULL, NULL, NULL));
      c1 = CPUSeconds();
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      PetscCall(PetscTime(&t1));
      PetscCall(QepQhoGetSolveInfo(q, &info));
      if (t1 - t0 < tbest) tbest = t1 - t0, best = info, cbest = c1 - c0;
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| %" PetscInt_FMT " | %s | %" PetscInt_FMT " | %" PetscInt_FMT " | %" PetscInt_FMT " | %.3f | %.3f (%.3f) | %.3f | %.3f | %.12g |\n", L * L,
                          QepQhoCovMethods[best.method], best.degree, best.colours, best.mean_iterations, best.time_mean, best.time_cov, best.time_colouring, tbest, cbest, (double)E));
    PetscCall(QepQhoDestroy(&q));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode BenchFock(PetscInt modes, PetscInt nlevels, const PetscInt levels[], PetscInt reps)
{
  QepQho      q;
  char        text[4096];
  size_t      used = 0;
  PetscMPIInt size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  used += (size_t)snprintf(text + used, sizeof(text) - used, "modes %d\nquartic 0 0.1\n", (int)modes);
  for (PetscInt i = 0; i < modes && used < sizeof(text) - 64; i++) {
    used += (size_t)snprintf(text + used, sizeof(text) - used, "ground %d 1\nforce %d 0.1\n", (int)i, (int)i);
    if (i + 1 < modes) used += (size_t)snprintf(text + used, sizeof(text) - used, "spring %d %d 0.5\n", (int)i, (int)i + 1);
  }
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, &q));
  PetscCall(QepQhoReadString(q, "bench-fock-chain", text));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\nFock solver, chain of %" PetscInt_FMT " modes (k 0.5, k0 1, quartic 0.1 on mode 0), %d rank(s)\n\n", modes, (int)size));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| d | states d^n | solve s | energy |\n|---|---|---|---|\n"));
  for (PetscInt l = 0; l < nlevels; l++) {
    PetscReal      E = 0;
    PetscLogDouble t0, t1, tbest = 1e300;
    for (PetscInt r = 0; r < reps; r++) {
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      PetscCall(PetscTime(&t0));
      PetscCall(QepQhoGroundSolve(q, QEP_QHO_SOLVER_FOCK, levels[l], NULL, 0.0, NULL, &E, NULL, NULL, NULL));
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      PetscCall(PetscTime(&t1));
      tbest = PetscMin(tbest, t1 - t0);
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| %" PetscInt_FMT " | %.0f | %.3f | %.12g |\n", levels[l], PetscPowReal((PetscReal)levels[l], (PetscReal)modes), tbest, (double)E));
  }
  PetscCall(QepQhoDestroy(&q));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt        sizes[MAX_LIST] = {100, 1000, 10000}, nsizes = MAX_LIST, levels[MAX_LIST] = {4, 8, 12, 16}, nlevels = MAX_LIST, modes = 3, reps = 1;
  PetscBool       set;
  PetscReal       k = 1.0, k0 = 1.0, tol = 1e-12;
  QepQhoCovMethod method = QEP_QHO_COV_AUTO;
  PetscBool       fock = PETSC_TRUE, gauss = PETSC_TRUE;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "bench_qho", NULL);
  PetscCall(PetscOptionsIntArray("-sizes", "Gaussian: lattice sizes n (rounded to L*L)", NULL, sizes, &nsizes, &set));
  if (!set) nsizes = 3;
  PetscCall(PetscOptionsEnum("-cov", "covariance method", NULL, QepQhoCovMethods, (PetscEnum)method, (PetscEnum *)&method, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_cov_tol", "Chebyshev tolerance", NULL, tol, &tol, NULL));
  PetscCall(PetscOptionsReal("-k", "coupling stiffness (mean)", NULL, k, &k, NULL));
  PetscCall(PetscOptionsReal("-k0", "ground stiffness", NULL, k0, &k0, NULL));
  PetscCall(PetscOptionsBool("-gaussian", "run the Gaussian table", NULL, gauss, &gauss, NULL));
  PetscCall(PetscOptionsBool("-fock", "run the Fock table", NULL, fock, &fock, NULL));
  PetscCall(PetscOptionsInt("-fock_modes", "Fock: chain length", NULL, modes, &modes, NULL));
  PetscCall(PetscOptionsIntArray("-fock_levels", "Fock: levels d per mode", NULL, levels, &nlevels, &set));
  if (!set) nlevels = 4;
  PetscCall(PetscOptionsInt("-reps", "runs per case (best kept)", NULL, reps, &reps, NULL));
  PetscOptionsEnd();
  if (gauss) PetscCall(BenchGaussian(nsizes, sizes, method, tol, k, k0, PetscMax(reps, 1)));
  if (fock) PetscCall(BenchFock(modes, nlevels, levels, PetscMax(reps, 1)));
  PetscCall(SlepcFinalize());
  return 0;
}
