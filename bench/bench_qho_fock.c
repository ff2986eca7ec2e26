/* bench_qho_fock.c — cost of truncated Fock-space ground states of oscillator chains against d, n and
 * the exact Gaussian solver.
 *
 *   mpiexec -n 2 bench_qho_fock -modes 2,3,4 -max_states 300000 [-quartic 0.1] [-reps 3] [-fock_eps_* ...]
 *
 * Network (built in code with the public API of qep/qho.h): an open chain of n unit masses, ground
 * springs k0 = θ (trainable, θ = 1), couplings 0.5 between neighbours, forces 0.1 i, ħ = 1, and with
 * -quartic λ a term λ x_i⁴ on every mode. For every n and every d of the ladder 4, 6, 8, 12, 16, 24, ...
 * with d^n <= -max_states it measures (best of -reps, wall clock of the slowest rank):
 *   t_cold   a solve on a fresh QepQho: Fock structure, values, eigensolve and moments from scratch;
 *   t_warm   a solve after θ changes by 1e-4: values rewritten in place, eigensolve warm-started;
 *   mv_cold, mv_warm  matrix-vector products of those solves (PETSc's MatMult event count);
 *   t_gauss  the exact Gaussian solve of the same chain (harmonic chains only);
 *   dE       Fock energy minus the Gaussian energy (harmonic chains only): the truncation error.
 * One line per (n, d) on rank 0. */
#include <qep/qep.h>
#include <qep/qho.h>
#include <slepcsys.h>

static const char help[] = "Times Fock-space ground states of oscillator chains against the Gaussian solver.\n"
                           "  -modes <2,3,4> -max_states <300000> -quartic <0> -reps <3>\n";

#define MAX_MODES_LIST 8
#define THETA_STEP     1e-4 /* parameter change before the warm solve (one finite-difference evaluation) */

static const PetscInt Ladder[] = {4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};

static PetscErrorCode BuildChain(PetscInt n, PetscReal quartic, QepQho *q)
{
  PetscInt k;

  PetscFunctionBegin;
  PetscCall(QepQhoCreate(PETSC_COMM_WORLD, q));
  PetscCall(QepQhoSetNumModes(*q, n));
  PetscCall(QepQhoAddParameter(*q, "k0", 1.0, &k));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(QepQhoAddGroundSpring(*q, i, (QepQhoCoef){QEP_VAR_PARAM, k, 1.0}, (QepQhoCoef){QEP_VAR_CONST, 0, 0.0}));
    if (i) PetscCall(QepQhoAddForce(*q, i, (QepQhoCoef){QEP_VAR_CONST, 0, 0.1 * i}));
    if (quartic > 0) PetscCall(QepQhoAddQuartic(*q, i, (QepQhoCoef){QEP_VAR_CONST, 0, quartic}));
    if (i + 1 < n) PetscCall(QepQhoAddSpring(*q, i, i + 1, (QepQhoCoef){QEP_VAR_CONST, 0, 0.5}, (QepQhoCoef){QEP_VAR_CONST, 0, 0.0}));
  }
  PetscCall(QepQhoAddOutput(*q, "last", n - 1));
  PetscCall(QepQhoFinalize(*q));
  PetscFunctionReturn(0);
}

static PetscErrorCode MatMults(PetscLogDouble *count)
{
  PetscLogEvent      ev;
  PetscEventPerfInfo info;

  PetscFunctionBegin;
  PetscCall(PetscLogEventGetId("MatMult", &ev));
  PetscCall(PetscLogEventGetPerfInfo(PETSC_DETERMINE, ev, &info));
  *count = info.count;
  PetscFunctionReturn(0);
}

/* Wall seconds and MatMults of one ground solve (after a barrier, so the slowest rank counts). */
static PetscErrorCode TimedSolve(QepQho q, QepQhoSolverType type, PetscInt d, PetscReal *energy, PetscLogDouble *dt, PetscLogDouble *mv)
{
  PetscLogDouble t0, t1, m0, m1;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(MatMults(&m0));
  PetscCall(PetscTime(&t0));
  PetscCall(QepQhoGroundSolve(q, type, d, NULL, 0, NULL, energy, NULL, NULL, NULL));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(&t1));
  PetscCall(MatMults(&m1));
  *dt = t1 - t0;
  *mv = m1 - m0;
  PetscFunctionReturn(0);
}

static PetscErrorCode BenchOne(PetscInt n, PetscInt d, PetscReal quartic, PetscInt reps)
{
  PetscLogDouble t_cold = PETSC_MAX_REAL, t_warm = PETSC_MAX_REAL, t_gauss = PETSC_MAX_REAL, mv_cold = 0, mv_warm = 0, dt, mv;
  PetscReal      e_fock = 0, e_gauss = 0, theta;

  PetscFunctionBegin;
  for (PetscInt r = 0; r < reps; r++) {
    QepQho q;
    PetscCall(BuildChain(n, quartic, &q));
    PetscCall(TimedSolve(q, QEP_QHO_SOLVER_FOCK, d, &e_fock, &dt, &mv));
    if (dt < t_cold) t_cold = dt, mv_cold = mv;
    PetscCall(QepQhoGetParameters(q, &theta));
    theta += THETA_STEP;
    PetscCall(QepQhoSetParameters(q, &theta));
    PetscCall(TimedSolve(q, QEP_QHO_SOLVER_FOCK, d, NULL, &dt, &mv));
    if (dt < t_warm) t_warm = dt, mv_warm = mv;
    theta -= THETA_STEP;
    PetscCall(QepQhoSetParameters(q, &theta));
    if (quartic == 0) {
      PetscCall(TimedSolve(q, QEP_QHO_SOLVER_GAUSSIAN, 0, &e_gauss, &dt, &mv));
      t_gauss = PetscMin(t_gauss, dt);
    }
    PetscCall(QepQhoDestroy(&q));
  }
  if (quartic == 0)
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%5d %5d %10.0f %10.4f %10.4f %8.0f %8.0f %10.5f %12.3e\n", (int)n, (int)d, (double)PetscPowReal(d, n), t_cold, t_warm, mv_cold, mv_warm, t_gauss,
                          (double)(e_fock - e_gauss)));
  else PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%5d %5d %10.0f %10.4f %10.4f %8.0f %8.0f %10s %12s   E = %.12f\n", (int)n, (int)d, (double)PetscPowReal(d, n), t_cold, t_warm, mv_cold, mv_warm, "-", "-", (double)e_fock));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    modes[MAX_MODES_LIST] = {2, 3, 4}, nmodes = MAX_MODES_LIST, reps = 3;
  PetscReal   max_states = 3e5, quartic = 0;
  PetscBool   set;
  PetscMPIInt size;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, help));
  PetscCall(PetscLogDefaultBegin()); /* MatMults() reads the MatMult event count */
  PetscCall(PetscOptionsGetIntArray(NULL, NULL, "-modes", modes, &nmodes, &set));
  if (!set) nmodes = 3;
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-max_states", &max_states, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-quartic", &quartic, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));
  PetscCheck(reps >= 1 && quartic >= 0, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-reps must be >= 1 and -quartic >= 0");
  PetscCall(QepInitializePackage()); /* turns logging on: the MatMult counts need it */
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "# bench_qho_fock: %d rank(s), quartic %g, best of %d; times in seconds\n", (int)size, (double)quartic, (int)reps));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%5s %5s %10s %10s %10s %8s %8s %10s %12s\n", "n", "d", "states", "t_cold", "t_warm", "mv_cold", "mv_warm", "t_gauss", "dE"));
  for (PetscInt m = 0; m < nmodes; m++)
    for (size_t l = 0; l < sizeof(Ladder) / sizeof(Ladder[0]) && PetscPowReal(Ladder[l], modes[m]) <= max_states; l++) PetscCall(BenchOne(modes[m], Ladder[l], quartic, reps));
  PetscCall(SlepcFinalize());
  return 0;
}
