/* qho/qhoimpl.h — the numeric contract between an oscillator-network model and its two solvers.
 *
 * A model (parameters, inputs, nudge) is evaluated into a QepQhoNumeric: the Hamiltonian
 *     H = Σ_i p_i²/(2 m_i) + ½ xᵀ K x − bᵀ x + c + Σ_i λ_i x_i⁴
 * with K symmetric (stored as its upper triangle, diagonal included). The Gaussian solver (λ = 0)
 * and the truncated Fock solver both turn it into QepQhoMoments of the ground state; the gradient
 * maps moments to ⟨∂H/∂θ_k⟩ and never knows which solver produced them. Everything here is
 * replicated on every rank of the model's communicator (O(n + edges) numbers). */
#pragma once
#include "qepimpl.h"

typedef struct {
  PetscInt   n;        /* modes */
  PetscReal  hbar;
  PetscReal *mass;     /* [n] > 0 */
  PetscInt   nk;       /* stored entries of the upper triangle of K */
  PetscInt  *ki, *kj;  /* [nk] ki <= kj; entries 0..n-1 are the diagonal (i,i) in order, then the couplings */
  PetscReal *kval;     /* [nk] */
  PetscReal *force;    /* [n] b (H contains −bᵀx) */
  PetscReal  constant; /* c */
  PetscReal *quartic;  /* [n] λ_i >= 0 (H contains Σ λ_i x_i⁴) */
} QepQhoNumeric;

typedef struct {
  PetscReal  energy; /* ground-state energy, constant c included */
  PetscReal *mean;   /* [n]  ⟨x_i⟩ */
  PetscReal *cov;    /* [nk] ⟨x_i x_j⟩ − ⟨x_i⟩⟨x_j⟩ on the stored pattern of K (diagonal first) */
  PetscReal *pp;     /* [n]  ⟨p_i²⟩ */
  PetscReal *x4;     /* [n]  ⟨x_i⁴⟩ */
} QepQhoMoments;

/* Allocate / free the arrays of a numeric Hamiltonian with n modes and nk stored K entries. */
PETSC_INTERN PetscErrorCode QepQhoNumericAlloc(PetscInt n, PetscInt nk, QepQhoNumeric *);
PETSC_INTERN PetscErrorCode QepQhoNumericFree(QepQhoNumeric *);
PETSC_INTERN PetscErrorCode QepQhoMomentsAlloc(const QepQhoNumeric *, QepQhoMoments *);
PETSC_INTERN PetscErrorCode QepQhoMomentsFree(QepQhoMoments *);

/* Exact Gaussian ground state (requires λ = 0 and K positive definite; clear errors otherwise). */
typedef struct _n_QepQhoGaussian *QepQhoGaussian;
PETSC_INTERN PetscErrorCode QepQhoGaussianCreate(MPI_Comm, QepQhoGaussian *);
PETSC_INTERN PetscErrorCode QepQhoGaussianSolve(QepQhoGaussian, const QepQhoNumeric *, QepQhoMoments *);
PETSC_INTERN PetscErrorCode QepQhoGaussianDestroy(QepQhoGaussian *);

/* Truncated Fock space: d levels per mode, a distributed sparse d^n x d^n matrix, SLEPc ground state
 * (options prefix fock_). Accepts λ > 0 (anharmonic networks). */
typedef struct _n_QepQhoFock *QepQhoFock;
PETSC_INTERN PetscErrorCode QepQhoFockCreate(MPI_Comm, PetscInt levels, QepQhoFock *);
PETSC_INTERN PetscErrorCode QepQhoFockSolve(QepQhoFock, const QepQhoNumeric *, QepQhoMoments *);
PETSC_INTERN PetscErrorCode QepQhoFockDestroy(QepQhoFock *);
