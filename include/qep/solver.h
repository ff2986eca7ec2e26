/* qep/solver.h — ground states of a Hermitian operator with SLEPc.
 *
 * Wraps an EPS (Krylov-Schur, Hermitian, smallest real eigenvalue), or with -qep_eigensolver lanczos
 * qep's lean Lanczos, which hands any solve it cannot finish to the EPS. The options prefix is shared by
 * the EPS and by the solver's own options, so `-free_eps_tol` and `-free_qep_gap_tol` tune one
 * instance and `-nudged_...` another. Every Solve either returns a converged, non-degenerate ground
 * state or fails with PETSC_ERR_NOT_CONVERGED / PETSC_ERR_CONV_FAILED and a message; it never returns
 * an arbitrary state. The initial vector is deterministic (seed and global index, not rank). */
#pragma once
#include <petscmat.h>

typedef struct {
  PetscReal      energy;     /* lowest eigenvalue */
  PetscReal      gap;        /* E1 - E0 when computed, otherwise -1 */
  PetscReal      residual;   /* ||H psi - E psi||_2 with ||psi|| = 1 */
  PetscInt       iterations; /* EPS restarts, or Lanczos steps (plus EPS restarts after a fallback) */
  PetscInt       matvecs;    /* operator applications during the solve */
  PetscLogDouble time;       /* wall seconds of the solve */
} QepSolveStats;

typedef struct _p_QepGroundSolver *QepGroundSolver;

/* eps: SLEPc (Krylov-Schur unless -eps_type says otherwise); lanczos: qep's lean three-term Lanczos
 * (3-5 vectors, two vector passes per step; excited state by deflation), which hands over to SLEPc,
 * warm-started from its vectors, when it does not converge. */
typedef enum { QEP_EIGENSOLVER_EPS, QEP_EIGENSOLVER_LANCZOS } QepEigensolverType;
PETSC_EXTERN const char *const QepEigensolverTypes[];

PETSC_EXTERN PetscErrorCode QepGroundSolverCreate(MPI_Comm, QepGroundSolver *);
PETSC_EXTERN PetscErrorCode QepGroundSolverDestroy(QepGroundSolver *);
PETSC_EXTERN PetscErrorCode QepGroundSolverSetOptionsPrefix(QepGroundSolver, const char prefix[]);
PETSC_EXTERN PetscErrorCode QepGroundSolverSetOperator(QepGroundSolver, Mat);
/* Relative residual tolerance and iteration cap (PETSC_DEFAULT keeps the current value). */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetTolerances(QepGroundSolver, PetscReal tol, PetscInt maxit);
/* Compute E1 too and fail when E1 - E0 < gap_tol * max(1, |E0|). */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetComputeGap(QepGroundSolver, PetscBool);
PETSC_EXTERN PetscErrorCode QepGroundSolverGetComputeGap(QepGroundSolver, PetscBool *);
PETSC_EXTERN PetscErrorCode QepGroundSolverSetGapTolerance(QepGroundSolver, PetscReal);
/* Extra sentence appended to the degenerate-ground-state error (e.g. the symmetry that causes it); copied. */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetDegeneracyHint(QepGroundSolver, const char hint[]);
PETSC_EXTERN PetscErrorCode QepGroundSolverSetEigensolver(QepGroundSolver, QepEigensolverType);
PETSC_EXTERN PetscErrorCode QepGroundSolverGetEigensolver(QepGroundSolver, QepEigensolverType *);
/* Lanczos solves so far that SLEPc had to finish. */
PETSC_EXTERN PetscErrorCode QepGroundSolverGetFallbackCount(QepGroundSolver, PetscInt *);
/* Seed of the default (cold) initial vector. */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetSeed(QepGroundSolver, PetscInt64);
/* -[prefix]qep_gap, -[prefix]qep_gap_tol, -[prefix]qep_excited_tol, -[prefix]qep_init_seed, -[prefix]qep_eigensolver,
 * -[prefix]qep_lanczos_memory, -[prefix]qep_lanczos_max_it and the EPS options -[prefix]eps_*
 * (-eps_tol is the relative residual tolerance of both methods) */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetFromOptions(QepGroundSolver);
/* Warm start from v (copied) for the following solves; NULL returns to the cold start. */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetInitialVector(QepGroundSolver, Vec v);
/* Warm start from n <= 2 vectors (copied): the ground state and, for gap solves, the first excited
 * state, so a warm gap solve does not have to find the excited state from scratch (the Lanczos
 * method mixes 1 % of the cold start into the latter, so a level that has since crossed below it
 * is still found). n = 0: cold. */
PETSC_EXTERN PetscErrorCode QepGroundSolverSetInitialSpace(QepGroundSolver, PetscInt n, Vec v[]);
PETSC_EXTERN PetscErrorCode QepGroundSolverSolve(QepGroundSolver);
/* Borrowed: the normalised ground state of the last solve. */
PETSC_EXTERN PetscErrorCode QepGroundSolverGetState(QepGroundSolver, Vec *);
PETSC_EXTERN PetscErrorCode QepGroundSolverGetStats(QepGroundSolver, QepSolveStats *);
/* Borrowed: the normalised first excited state of the last solve (only when the gap was computed).
 * The Lanczos method converges it to relative residual max(-eps_tol, -qep_excited_tol). */
PETSC_EXTERN PetscErrorCode QepGroundSolverGetExcitedState(QepGroundSolver, Vec *);
/* The underlying EPS (borrowed), for users who want to set anything else. */
PETSC_EXTERN PetscErrorCode QepGroundSolverGetEPS(QepGroundSolver, void *eps);
