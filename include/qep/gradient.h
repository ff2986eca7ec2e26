/* qep/gradient.h — QEP gradients of a loss with respect to every trainable parameter.
 *
 * For a model H(θ, x) with ∂H/∂θ_k = A_k = Σ_t a_tk P_t and a nudge observable C' (the cost
 * observable C, or Σ_o ε_o O_o with ε_o = ∂ℓ/∂⟨O_o⟩ for a loss ℓ of output expectations):
 *     g_k(β) = ⟨ψ_β|A_k|ψ_β⟩,   ψ_β = ground state of H + β C',   dL/dθ_k = g_k'(0).
 * QEP estimates g_k'(0) from ground states at a few β (the free one, β = 0, always included):
 *     onesided  (g(β) − g(0))/β                               bias O(β)
 *     centered  (g(β) − g(−β))/(2β)                           bias O(β²)
 *     fourpoint (−g(2β) + 8g(β) − 8g(−β) + g(−2β))/(12β)       bias O(β⁴)
 * Every phase computes all term expectations ⟨P_t⟩ in one pass and one MPI_Allreduce; g_k follows
 * through the term → parameter map. Nudged solves are warm-started from the free state; the free
 * solve of an example is warm-started from that example's previous free state when one is cached.
 * References: exact linear response (a distributed MINRES solve) and central finite differences. */
#pragma once
#include <qep/model.h>
#include <qep/solver.h>

typedef enum { QEP_ESTIMATOR_ONESIDED = 0, QEP_ESTIMATOR_CENTERED = 1, QEP_ESTIMATOR_FOURPOINT = 2 } QepEstimator;
PETSC_EXTERN const char *const QepEstimators[];
typedef enum { QEP_LOSS_OBSERVABLE = 0, QEP_LOSS_MSE = 1, QEP_LOSS_XENT = 2 } QepLossType;
PETSC_EXTERN const char *const QepLossTypes[];
typedef enum { QEP_REFERENCE_NONE = 0, QEP_REFERENCE_LINEAR = 1, QEP_REFERENCE_FD = 2 } QepReferenceType;
PETSC_EXTERN const char *const QepReferenceTypes[];

typedef struct {
  PetscInt       free_solves, nudged_solves;
  PetscInt       free_matvecs, nudged_matvecs; /* operator applications, summed over solves */
  PetscReal      gap;                          /* E1 − E0 of the last free solve (−1 if not computed) */
  PetscReal      energy;                       /* E0 of the last free solve */
  PetscLogDouble time_free, time_nudged;       /* wall seconds in free / nudged solves */
  PetscInt64     shots;                        /* projective measurements taken (shot mode), each one state preparation */
} QepGradientStats;

typedef struct _p_QepGradient *QepGradient;

/* The gradient object keeps a reference-free pointer to the model: the model must outlive it. */
PETSC_EXTERN PetscErrorCode QepGradientCreate(QepModel, QepGradient *);
PETSC_EXTERN PetscErrorCode QepGradientDestroy(QepGradient *);
PETSC_EXTERN PetscErrorCode QepGradientSetEstimator(QepGradient, QepEstimator);
PETSC_EXTERN PetscErrorCode QepGradientSetBeta(QepGradient, PetscReal);
PETSC_EXTERN PetscErrorCode QepGradientSetLoss(QepGradient, QepLossType);
/* -qep_estimator, -qep_beta, -qep_loss, -qep_operator, -qep_warm_cache_mb; the free and nudged
 * solvers read -free_eps_* / -free_qep_* and -nudged_eps_* / -nudged_qep_*. */
PETSC_EXTERN PetscErrorCode QepGradientSetFromOptions(QepGradient);
PETSC_EXTERN PetscErrorCode QepGradientGetSettings(QepGradient, QepEstimator *, PetscReal *beta, QepLossType *);
PETSC_EXTERN PetscErrorCode QepGradientSetUp(QepGradient);
/* Loss and its QEP gradient at the model's current parameters for one example: inputs x (length
 * = model inputs, NULL if none), targets y (one per output; NULL only for a model without outputs
 * and the observable loss), example >= 0 identifies the example for warm starts (-1: no caching).
 * grad has one entry per parameter. Collective. */
PETSC_EXTERN PetscErrorCode QepGradientCompute(QepGradient, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
/* The exact gradient by linear response, or by central finite differences of the loss (step h). */
PETSC_EXTERN PetscErrorCode QepGradientComputeReference(QepGradient, QepReferenceType, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
/* Loss (and output expectations ⟨O_o⟩ if out != NULL) at the model's current parameters: one free solve. */
PETSC_EXTERN PetscErrorCode QepGradientComputeLoss(QepGradient, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal out[]);
/* ⟨O_o⟩ of the last free solve. */
PETSC_EXTERN PetscErrorCode QepGradientGetOutputs(QepGradient, PetscReal out[]);
PETSC_EXTERN PetscErrorCode QepGradientGetStats(QepGradient, QepGradientStats *);
PETSC_EXTERN PetscErrorCode QepGradientResetStats(QepGradient);
/* Finite-difference step of the FD reference (default 1e-4). */
PETSC_EXTERN PetscErrorCode QepGradientSetFDStep(QepGradient, PetscReal);

/* ---------------------------------------------------------------- shots ------------------------- *
 * Shot mode (nshots > 0, -qep_shots N, -qep_shot_seed S; set before SetUp): every expectation the
 * gradient reads is the mean of N projective measurements per measurement setting and phase, as on
 * hardware. The measured strings (those carrying a parameter, the outputs and, for the observable
 * loss, the cost observable's strings) are grouped into qubit-wise commuting settings (qep/measure.h);
 * a gradient measures 1 + m phases (free + m nudged states of the stencil), each in every setting:
 * shots per gradient = N × settings × (1 + m), each shot one ground-state preparation. Error signals
 * of the mse/xent losses come from the free phase's shot estimates of the outputs. The free solve,
 * gap check and warm starts are unchanged; evaluation (ComputeLoss) stays exact.
 * Shots of a Compute use the stream set by SetShotStream (consumed by the next Compute), else a
 * counter of Compute calls; samples depend only on (seed, stream), never on the rank count. */
PETSC_EXTERN PetscErrorCode QepGradientSetShots(QepGradient, PetscInt64 nshots, PetscInt64 seed);
PETSC_EXTERN PetscErrorCode QepGradientGetShots(QepGradient, PetscInt64 *nshots, PetscInt64 *seed);
PETSC_EXTERN PetscErrorCode QepGradientSetShotStream(QepGradient, PetscInt64 stream);
/* Settings, phases per gradient and shots per gradient (N × settings × phases). Collective (sets up). */
PETSC_EXTERN PetscErrorCode QepGradientGetMeasurementPlan(QepGradient, PetscInt *nsettings, PetscInt *nphases, PetscInt64 *shots);
/* The measured strings (borrowed; valid while the gradient object lives). */
PETSC_EXTERN PetscErrorCode QepGradientGetMeasuredStrings(QepGradient, PetscInt *n, const QepPauli **strings);
/* Standard error of each entry of the last shot gradient, from the sample variances of its phases
 * (the variance given the nudge; the error signal's own shot noise is not included). 0 when exact. */
PETSC_EXTERN PetscErrorCode QepGradientGetStandardErrors(QepGradient, PetscReal se[]);
/* New shots (stream) on the states of the last Compute: no new solves for the observable loss; the
 * error-signal losses re-solve the nudged phases for their new nudge. */
PETSC_EXTERN PetscErrorCode QepGradientRemeasure(QepGradient, PetscInt64 stream, PetscReal *loss, PetscReal grad[]);
