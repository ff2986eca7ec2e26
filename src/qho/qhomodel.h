/* qho/qhomodel.h — private layout of QepQho (an oscillator network), shared by the model, file,
 * generator, numeric and gradient modules of src/qho/.
 * Invariants: every element refers to modes 0..n-1 and to declared parameters; coupling springs have
 * i != j; the pattern (built by QepQhoFinalize) lists the diagonal 0..n-1 and then every distinct
 * coupled pair (min, max) sorted, and spring_entry[s] is the pattern entry of spring s. Everything
 * is replicated on every rank of comm. */
#pragma once
#include <qep/qho.h>
#include "qhoimpl.h"

typedef struct {
  PetscInt   i, j; /* j = -1 for a ground spring */
  QepQhoCoef k, rest;
} QepQhoSpring;

typedef struct {
  PetscInt   i;
  QepQhoCoef c;
} QepQhoTerm;

struct _p_QepQho {
  MPI_Comm  comm;
  PetscInt  n;
  PetscReal hbar;

  QepQhoCoef  *mass;     /* [n], default const 1 */
  PetscBool   *mass_set; /* [n] a `mass` line was seen (reader: at most one per mode) */
  PetscInt     nsprings, asprings;
  QepQhoSpring *springs;
  PetscInt     nground, aground;
  QepQhoSpring *ground;
  PetscInt     nforces, aforces;
  QepQhoTerm  *forces;
  PetscInt     nquartic, aquartic;
  QepQhoTerm  *quartic;

  PetscInt   nparams, aparams;
  char     (*param_names)[QEP_NAME_LEN];
  PetscReal *param_values;
  PetscInt   ninputs; /* 1 + largest input index used */
  PetscInt   noutputs, aoutputs;
  char     (*output_names)[QEP_NAME_LEN];
  PetscInt  *output_mode;
  char      *description;
  PetscBool  finalized;

  /* built by QepQhoFinalize */
  PetscInt  nk;
  PetscInt *ki, *kj;
  PetscInt *spring_entry; /* [nsprings] */

  /* solvers, created on first use and kept for warm starts */
  QepQhoCovMethod cov_method;
  PetscReal       cov_tol;
  QepQhoGaussian  gauss;
  QepQhoFock      fock;
  PetscInt        fock_levels;
  QepQhoNumeric   num;  /* scratch of QepQhoGroundSolve */
  QepQhoMoments   mom;
  PetscBool       have_scratch;
};

/* A coefficient's value at parameters theta and inputs x (x may be NULL: zeros). */
static inline PetscReal QepQhoCoefValue(QepQhoCoef c, const PetscReal theta[], const PetscReal x[])
{
  switch (c.kind) {
  case QEP_VAR_PARAM: return c.factor * theta[c.index];
  case QEP_VAR_INPUT: return x ? c.factor * x[c.index] : 0.0;
  default: return c.factor;
  }
}

static inline QepQhoCoef QepQhoConst(PetscReal v) { return (QepQhoCoef){QEP_VAR_CONST, 0, v}; }
static inline QepQhoCoef QepQhoParam(PetscInt k, PetscReal factor) { return (QepQhoCoef){QEP_VAR_PARAM, k, factor}; }

/* model.c: clears everything (before reading a file or generating into an existing object). */
PETSC_INTERN PetscErrorCode QepQhoReset(QepQho);
/* generators.c: builds the network from the -qep_lattice/-qep_n/-qep_qho_* options. */
PETSC_INTERN PetscErrorCode QepQhoGenerateFromOptions(QepQho);
/* numeric.c: H(θ, x) + β C(y) into num (allocated for this network by QepQhoNumericAllocFor). theta NULL:
 * the current parameters; x NULL: zero inputs; y may be NULL when beta = 0. Checks masses (> 0),
 * quartic coefficients (>= 0) and finiteness, naming the mode. */
PETSC_INTERN PetscErrorCode QepQhoNumericAllocFor(QepQho, QepQhoNumeric *);
PETSC_INTERN PetscErrorCode QepQhoEvaluate(QepQho, const PetscReal theta[], const PetscReal x[], PetscReal beta, const PetscReal y[], QepQhoNumeric *);
/* ⟨∂H/∂θ_k⟩ from the moments of a state, split into the mean part (μ only) and the fluctuation part
 * (covariance, ⟨p²⟩, ⟨x⁴⟩ − μ⁴): mean_part[k] + fluct_part[k] = ⟨∂H/∂θ_k⟩. Either array may be NULL. */
PETSC_INTERN PetscErrorCode QepQhoDerivativeExpectations(QepQho, const PetscReal theta[], const QepQhoMoments *, PetscReal mean_part[], PetscReal fluct_part[]);
/* The ground-state moments of num with the chosen solver (Gaussian or Fock, created on first use). */
PETSC_INTERN PetscErrorCode QepQhoSolveNumeric(QepQho, QepQhoSolverType, PetscInt levels, const QepQhoNumeric *, QepQhoMoments *);

/* gaussian.c extras (beyond the contract in qhoimpl.h). */
/* Covariance method and its tolerance (see QepQhoSetCovarianceMethod). */
PETSC_INTERN PetscErrorCode QepQhoGaussianSetMethod(QepQhoGaussian, QepQhoCovMethod, PetscReal tol);
/* The classical equilibrium K μ = b (distributed CG) into mean[n] (replicated) and its energy c − ½ bᵀμ. */
PETSC_INTERN PetscErrorCode QepQhoGaussianSolveMean(QepQhoGaussian, const QepQhoNumeric *, PetscReal mean[], PetscReal *energy);
/* Initial guess of the next mean solve (copied; NULL: start from the last solution). */
PETSC_INTERN PetscErrorCode QepQhoGaussianSetInitialGuess(QepQhoGaussian, const PetscReal mean[]);
/* Chebyshev method: spectrum interval [a, b] of D to use for the following solves (a <= 0: compute it
 * per solve again). The gradient fixes one interval for all phases of an estimate, so every phase
 * applies the same polynomial. ComputeSpectrumBounds returns the interval a solve of num would use. */
PETSC_INTERN PetscErrorCode QepQhoGaussianSetSpectrumBounds(QepQhoGaussian, PetscReal a, PetscReal b);
PETSC_INTERN PetscErrorCode QepQhoGaussianComputeSpectrumBounds(QepQhoGaussian, const QepQhoNumeric *, PetscReal *a, PetscReal *b);
/* The method that a solve of num would use (auto resolved). */
PETSC_INTERN PetscErrorCode QepQhoGaussianGetMethod(QepQhoGaussian, const QepQhoNumeric *, QepQhoCovMethod *);
PETSC_INTERN PetscErrorCode QepQhoGaussianGetInfo(QepQhoGaussian, QepQhoSolveInfo *);
/* Sequential dense eigen-decomposition of D = M^-1/2 K M^-1/2 (SLEPc DS, LAPACK divide and conquer)
 * on the calling rank: w[n] (in no particular order) and V (n x n column-major, column k for w[k]), PetscMalloc'ed. */
PETSC_INTERN PetscErrorCode QepQhoDenseEigen(const QepQhoNumeric *, PetscReal **w, PetscReal **V);
/* numeric.c: the network's Gaussian solver (created on first use). */
PETSC_INTERN PetscErrorCode QepQhoGetGaussian(QepQho, QepQhoGaussian *);
