/* qep/qho.h — quantum harmonic oscillator networks: models, exact ground states and QEP gradients.
 *
 * n oscillators (modes) with masses m_i, coupling springs k_ij with rest lengths l_ij, springs to the
 * ground k_i with rest positions r_i, forces and optional quartic terms:
 *     H = Σ p_i²/(2 m_i) + Σ_(ij) ½ k_ij (x_i − x_j − l_ij)² + Σ_i ½ k_i (x_i − r_i)² − Σ_i f_i x_i + Σ_i λ_i x_i⁴.
 * Every stiffness, rest length, force, mass and quartic coefficient is factor × {1 | θ_k | x_a}
 * (a fixed number, a trainable parameter, or — forces only — an input feature). Outputs are named
 * mode positions; the cost is C = ½ Σ_o (x_o − y_o)² and the loss ⟨C⟩ of the free ground state.
 *
 * Without quartic terms the ground state is Gaussian: mean K μ = b (distributed CG), covariance
 * Σ = (ħ/2) M^-1/2 D^-1/2 M^-1/2 with D = M^-1/2 K M^-1/2 (dense eigen-decomposition or a distributed
 * Chebyshev/probing method, -qep_qho_cov). A truncated Fock space solves any network (-qep_qho_solver fock).
 * The model is replicated on every rank of its communicator (O(n + springs) numbers). */
#pragma once
#include <qep/model.h>
#include <qep/gradient.h>

typedef struct _p_QepQho *QepQho;
typedef enum { QEP_QHO_SOLVER_GAUSSIAN = 0, QEP_QHO_SOLVER_FOCK = 1 } QepQhoSolverType;
PETSC_EXTERN const char *const QepQhoSolverTypes[];
/* How the Gaussian solver computes the covariance (see README "Oscillator networks"). */
typedef enum { QEP_QHO_COV_AUTO = 0, QEP_QHO_COV_DENSE = 1, QEP_QHO_COV_CHEBYSHEV = 2 } QepQhoCovMethod;
PETSC_EXTERN const char *const QepQhoCovMethods[];

/* A coefficient: factor × {1 | θ_index | x_index} (QEP_VAR_INPUT only for forces). */
typedef struct {
  QepVarKind kind;
  PetscInt   index;
  PetscReal  factor;
} QepQhoCoef;

PETSC_EXTERN PetscErrorCode QepQhoCreate(MPI_Comm, QepQho *);
PETSC_EXTERN PetscErrorCode QepQhoDestroy(QepQho *);
/* -qep_qho_file FILE, or the generator (-qep_lattice, -qep_n, -qep_qho_k, ...); then -qep_hbar
 * (overrides the file), -qep_qho_write FILE, -qep_qho_view, and the solver options -qep_qho_cov,
 * -qep_qho_cov_tol, -qho_mean_ksp_* (read again by every solve's set-up). */
PETSC_EXTERN PetscErrorCode QepQhoSetFromOptions(QepQho);
/* Collective: rank 0 reads, every rank parses; errors name file:line. */
PETSC_EXTERN PetscErrorCode QepQhoRead(QepQho, const char path[]);
PETSC_EXTERN PetscErrorCode QepQhoReadString(QepQho, const char name[], const char text[]);
/* Exact round trip, atomic (QepWriteFileAtomic). */
PETSC_EXTERN PetscErrorCode QepQhoWrite(QepQho, const char path[]);
PETSC_EXTERN PetscErrorCode QepQhoView(QepQho, PetscViewer);

/* Building a network in code (the reader and the generators use exactly these). Indices are modes
 * 0..n-1; QepQhoSetNumModes comes first. Finalize checks the network and builds K's pattern. */
PETSC_EXTERN PetscErrorCode QepQhoSetNumModes(QepQho, PetscInt n);
PETSC_EXTERN PetscErrorCode QepQhoAddParameter(QepQho, const char name[], PetscReal value, PetscInt *index);
PETSC_EXTERN PetscErrorCode QepQhoFindParameter(QepQho, const char name[], PetscInt *index); /* -1 if absent */
PETSC_EXTERN PetscErrorCode QepQhoAddSpring(QepQho, PetscInt i, PetscInt j, QepQhoCoef k, QepQhoCoef rest);
PETSC_EXTERN PetscErrorCode QepQhoAddGroundSpring(QepQho, PetscInt i, QepQhoCoef k, QepQhoCoef rest);
PETSC_EXTERN PetscErrorCode QepQhoSetMass(QepQho, PetscInt i, QepQhoCoef m); /* default: 1 */
PETSC_EXTERN PetscErrorCode QepQhoAddForce(QepQho, PetscInt i, QepQhoCoef f);
PETSC_EXTERN PetscErrorCode QepQhoAddQuartic(QepQho, PetscInt i, QepQhoCoef lambda);
PETSC_EXTERN PetscErrorCode QepQhoAddOutput(QepQho, const char name[], PetscInt i);
PETSC_EXTERN PetscErrorCode QepQhoSetDescription(QepQho, const char text[]);
PETSC_EXTERN PetscErrorCode QepQhoFinalize(QepQho);

PETSC_EXTERN PetscErrorCode QepQhoGetSizes(QepQho, PetscInt *nmodes, PetscInt *nparams, PetscInt *ninputs, PetscInt *noutputs);
PETSC_EXTERN PetscErrorCode QepQhoGetParameters(QepQho, PetscReal theta[]);
PETSC_EXTERN PetscErrorCode QepQhoSetParameters(QepQho, const PetscReal theta[]);
PETSC_EXTERN PetscErrorCode QepQhoGetParameterName(QepQho, PetscInt k, const char **name);
PETSC_EXTERN PetscErrorCode QepQhoGetOutputName(QepQho, PetscInt o, const char **name);
PETSC_EXTERN PetscErrorCode QepQhoGetOutputMode(QepQho, PetscInt o, PetscInt *mode);
PETSC_EXTERN PetscErrorCode QepQhoGetHbar(QepQho, PetscReal *);
/* hbar >= 0; hbar = 0 is the classical limit (Gaussian solver only: zero covariance). */
PETSC_EXTERN PetscErrorCode QepQhoSetHbar(QepQho, PetscReal);
PETSC_EXTERN PetscErrorCode QepQhoGetDescription(QepQho, const char **);

typedef struct {
  PetscInt  nsprings, nground, nforces, nquartic; /* elements as added (parallel springs count twice) */
  PetscInt  nedges;                               /* distinct coupled pairs (off-diagonal entries of K) */
  PetscBool trainable_mass, has_quartic;
} QepQhoInfo;
PETSC_EXTERN PetscErrorCode QepQhoGetInfo(QepQho, QepQhoInfo *);

/* pattern of K's upper triangle: entries 0..nmodes-1 are the diagonal, then the couplings (ki < kj, sorted) */
PETSC_EXTERN PetscErrorCode QepQhoGetPattern(QepQho, PetscInt *nk, const PetscInt **ki, const PetscInt **kj);

/* Covariance method of the Gaussian solver and its tolerance (relative to the largest entry of D^-1/2);
 * also -qep_qho_cov auto|dense|chebyshev, -qep_qho_cov_tol. */
PETSC_EXTERN PetscErrorCode QepQhoSetCovarianceMethod(QepQho, QepQhoCovMethod, PetscReal tol);

/* ground state of H(θ, x) + β C(y) (beta = 0: free; y may be NULL then); any output array may be NULL;
   cov on the pattern of K; levels only for the Fock solver (d per mode) */
PETSC_EXTERN PetscErrorCode QepQhoGroundSolve(QepQho, QepQhoSolverType, PetscInt levels, const PetscReal x[], PetscReal beta, const PetscReal y[], PetscReal *energy,
                                              PetscReal mean[], PetscReal cov[], PetscReal pp[]);
/* the classical equilibrium of the inputs x: μ = K⁻¹ b (no quantum part), and its energy c − ½ bᵀμ (either may be NULL) */
PETSC_EXTERN PetscErrorCode QepQhoClassicalSolve(QepQho, const PetscReal x[], PetscReal beta, const PetscReal y[], PetscReal *energy, PetscReal mean[]);

/* What the last Gaussian solve did (method actually used, Chebyshev degree, probing colours, spectrum
 * bounds of D, CG iterations, phase times). */
typedef struct {
  QepQhoCovMethod method;
  PetscInt        degree, colours, blocks, mean_iterations;
  PetscReal       lambda_min, lambda_max; /* of D (dense: exact; chebyshev: the interval used) */
  PetscReal       cov_error_bound;        /* chebyshev: bound on |Σ error| relative to (ħ/2)·max|D^-1/2|; dense: 0 */
  PetscLogDouble  time_mean, time_cov; /* time_cov includes time_colouring */
  PetscLogDouble  time_colouring;      /* chebyshev: the greedy probing colouring (cached while the degree and pattern stay) */
} QepQhoSolveInfo;
PETSC_EXTERN PetscErrorCode QepQhoGetSolveInfo(QepQho, QepQhoSolveInfo *);

typedef struct _p_QepQhoGradient *QepQhoGradient;
typedef struct {
  PetscInt       free_solves, nudged_solves;
  PetscLogDouble time_free, time_nudged;
  PetscReal      energy;
} QepQhoGradientStats;
PETSC_EXTERN PetscErrorCode QepQhoGradientCreate(QepQho, QepQhoGradient *);
PETSC_EXTERN PetscErrorCode QepQhoGradientDestroy(QepQhoGradient *);
/* -qep_estimator onesided|centered|fourpoint, -qep_beta, -qep_qho_solver gaussian|fock, -qep_qho_levels d, -qep_fd_step h */
PETSC_EXTERN PetscErrorCode QepQhoGradientSetFromOptions(QepQhoGradient);
PETSC_EXTERN PetscErrorCode QepQhoGradientSetEstimator(QepQhoGradient, QepEstimator);
PETSC_EXTERN PetscErrorCode QepQhoGradientSetBeta(QepQhoGradient, PetscReal);
PETSC_EXTERN PetscErrorCode QepQhoGradientSetSolver(QepQhoGradient, QepQhoSolverType, PetscInt levels);
PETSC_EXTERN PetscErrorCode QepQhoGradientSetFDStep(QepQhoGradient, PetscReal);
PETSC_EXTERN PetscErrorCode QepQhoGradientGetSettings(QepQhoGradient, QepEstimator *, PetscReal *beta, QepQhoSolverType *, PetscInt *levels);
PETSC_EXTERN PetscErrorCode QepQhoGradientSetUp(QepQhoGradient);
/* loss = ⟨C⟩ = ½ Σ_o [(⟨x_o⟩ − y_o)² + Var x_o] of the free state and its QEP gradient (one entry per parameter);
   example >= 0 identifies the example (for warm starts; -1 none) */
PETSC_EXTERN PetscErrorCode QepQhoGradientCompute(QepQhoGradient, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
/* The last QepQhoGradientCompute split as grad = mean + zero_point: the same estimator applied to the
 * mean (classical, ⟨x⟩-only) part and to the fluctuation (covariance, ⟨p²⟩, quartic beyond μ⁴) part of ⟨∂H/∂θ⟩. */
PETSC_EXTERN PetscErrorCode QepQhoGradientGetParts(QepQhoGradient, PetscReal mean_part[], PetscReal zero_point_part[]);
/* QEP_REFERENCE_LINEAR: exact analytic gradient (dense, Gaussian solver); QEP_REFERENCE_FD: central finite differences of the exact loss */
PETSC_EXTERN PetscErrorCode QepQhoGradientComputeReference(QepQhoGradient, QepReferenceType, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
/* The classical elastic-network EP gradient (ħ = 0: equilibria K(β) μ = b(β) only, same estimator and β)
 * and its loss ½ Σ_o (μ_o − y_o)². */
PETSC_EXTERN PetscErrorCode QepQhoGradientComputeClassical(QepQhoGradient, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
/* loss and ⟨x_o⟩ (out, may be NULL) from one free solve */
PETSC_EXTERN PetscErrorCode QepQhoGradientComputeLoss(QepQhoGradient, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal out[]);
/* ⟨x_o⟩ and Var x_o of the last free solve (after Compute or ComputeLoss). */
PETSC_EXTERN PetscErrorCode QepQhoGradientGetOutputs(QepQhoGradient, PetscReal out[]);
PETSC_EXTERN PetscErrorCode QepQhoGradientGetOutputVariances(QepQhoGradient, PetscReal var[]);
PETSC_EXTERN PetscErrorCode QepQhoGradientGetStats(QepQhoGradient, QepQhoGradientStats *);
PETSC_EXTERN PetscErrorCode QepQhoGradientResetStats(QepQhoGradient);
