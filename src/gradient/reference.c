/* reference.c — exact gradients to check QEP against.
 * Linear response: dL/dθ_k = 2 Re⟨φ|A_k|ψ0⟩ with (H − E0) φ = −(1 − |ψ0⟩⟨ψ0|) C'|ψ0⟩, solved by
 * MINRES (options prefix lr_) on the projected operator (1 − P0)(H − E0)(1 − P0), which is
 * symmetric and positive definite on the complement of ψ0 (its smallest eigenvalue is the gap).
 * Finite differences: (L(θ + h e_k) − L(θ − h e_k)) / 2h, every solve warm-started from ψ0. */
#include "gradientimpl.h"
#include <petscksp.h>

typedef struct {
  Mat       H;
  Vec       psi0;
  PetscReal E0;
} ProjectedShift;

/* y = (1 − P0)(H − E0)(1 − P0) x */
static PetscErrorCode ProjectedShiftMult(Mat M, Vec x, Vec y)
{
  ProjectedShift *ctx;
  Vec             xp;
  PetscScalar     a;

  PetscFunctionBegin;
  PetscCall(MatShellGetContext(M, &ctx));
  PetscCall(VecDuplicate(x, &xp));
  PetscCall(VecCopy(x, xp));
  PetscCall(VecDot(xp, ctx->psi0, &a)); /* ⟨ψ0|x⟩ */
  PetscCall(VecAXPY(xp, -a, ctx->psi0));
  PetscCall(MatMult(ctx->H, xp, y));
  PetscCall(VecAXPY(y, -ctx->E0, xp));
  PetscCall(VecDot(y, ctx->psi0, &a));
  PetscCall(VecAXPY(y, -a, ctx->psi0));
  PetscCall(VecDestroy(&xp));
  PetscFunctionReturn(0);
}

/* rhs = −(1 − P0) C'ψ0: C' is applied through the operator with the nudge as coefficients. */
static PetscErrorCode NudgeRightHandSide(QepGradient g, Mat H, Vec rhs)
{
  PetscScalar a;

  PetscFunctionBegin;
  PetscCall(QepOperatorSetCoefficients(g->op, g->nudge));
  PetscCall(MatMult(H, g->psi0, rhs));
  PetscCall(QepOperatorSetCoefficients(g->op, g->hcoef));
  PetscCall(VecDot(rhs, g->psi0, &a));
  PetscCall(VecAXPY(rhs, -a, g->psi0));
  PetscCall(VecScale(rhs, -1.0));
  PetscFunctionReturn(0);
}

static PetscErrorCode SolveResponse(QepGradient g, Mat H, Vec rhs, Vec phi)
{
  ProjectedShift     ctx = {H, g->psi0, g->energy0};
  Mat                M;
  KSP                ksp;
  PC                 pc;
  PetscInt           nlocal, N, its;
  KSPConvergedReason reason;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(rhs, &nlocal));
  PetscCall(VecGetSize(rhs, &N));
  PetscCall(MatCreateShell(g->comm, nlocal, nlocal, N, N, &ctx, &M));
  PetscCall(MatShellSetOperation(M, MATOP_MULT, (void (*)(void))ProjectedShiftMult));
  PetscCall(MatSetOption(M, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(KSPCreate(g->comm, &ksp));
  PetscCall(KSPSetOptionsPrefix(ksp, "lr_"));
  PetscCall(KSPSetOperators(ksp, M, M));
  PetscCall(KSPSetType(ksp, KSPMINRES));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCNONE));
  PetscCall(KSPSetTolerances(ksp, 1e-12, 1e-50, PETSC_DEFAULT, 10000));
  PetscCall(KSPSetFromOptions(ksp));
  PetscCall(VecSet(phi, 0));
  PetscCall(KSPSolve(ksp, rhs, phi));
  PetscCall(KSPGetConvergedReason(ksp, &reason));
  PetscCall(KSPGetIterationNumber(ksp, &its));
  PetscCheck(reason > 0, g->comm, PETSC_ERR_NOT_CONVERGED, "Linear-response solve did not converge (%s after %" PetscInt_FMT " iterations); tune it with -lr_ksp_*",
             KSPConvergedReasons[reason], its);
  PetscCall(KSPDestroy(&ksp));
  PetscCall(MatDestroy(&M));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientLinearResponse(QepGradient g, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  Mat        H;
  Vec        rhs, phi;
  PetscReal *tr, L;

  PetscFunctionBegin;
  PetscCall(QepGradientSetInputs(g, x));
  PetscCall(QepGradientFreeSolve(g, g->free_valid ? g->psi0 : NULL, NULL, PETSC_TRUE, PETSC_FALSE));
  PetscCall(QepGradientBuildNudge(g, y, &L));
  PetscCall(QepOperatorGetMat(g->op, &H));
  PetscCall(VecDuplicate(g->psi0, &rhs));
  PetscCall(VecDuplicate(g->psi0, &phi));
  PetscCall(NudgeRightHandSide(g, H, rhs));
  PetscCall(SolveResponse(g, H, rhs, phi));
  PetscCall(PetscMalloc1(g->nstrings, &tr));
  PetscCall(QepExpectationComputeTransition(g->plan, phi, g->psi0, tr));
  PetscCall(QepGradientParameterSums(g, tr, grad));
  for (PetscInt k = 0; k < g->nparams; k++) grad[k] *= 2;
  PetscCall(PetscFree(tr));
  PetscCall(VecDestroy(&rhs));
  PetscCall(VecDestroy(&phi));
  if (loss) *loss = L;
  PetscFunctionReturn(0);
}

/* Loss at the model's current parameters, free solve warm-started from `warm` (gap computed: the
 * reference is only meaningful for a non-degenerate ground state). */
static PetscErrorCode LossAt(QepGradient g, const PetscReal x[], const PetscReal y[], Vec warm, PetscReal *L)
{
  PetscFunctionBegin;
  PetscCall(QepGradientSetInputs(g, x));
  PetscCall(QepGradientFreeSolve(g, warm, NULL, PETSC_TRUE, PETSC_FALSE));
  PetscCall(QepGradientLossValue(g, y, L));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientFiniteDifferences(QepGradient g, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[])
{
  PetscReal *theta, Lp, Lm, L0;
  Vec        center;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(g->nparams, &theta));
  PetscCall(QepModelGetParameters(g->model, theta));
  PetscCall(LossAt(g, x, y, g->free_valid ? g->psi0 : NULL, &L0));
  PetscCall(VecDuplicate(g->psi0, &center));
  PetscCall(VecCopy(g->psi0, center));
  for (PetscInt k = 0; k < g->nparams; k++) {
    const PetscReal t = theta[k];
    theta[k]          = t + g->fd_step;
    PetscCall(QepModelSetParameters(g->model, theta));
    PetscCall(LossAt(g, x, y, center, &Lp));
    theta[k] = t - g->fd_step;
    PetscCall(QepModelSetParameters(g->model, theta));
    PetscCall(LossAt(g, x, y, center, &Lm));
    theta[k] = t;
    grad[k]  = (Lp - Lm) / (2 * g->fd_step);
  }
  PetscCall(QepModelSetParameters(g->model, theta));
  PetscCall(LossAt(g, x, y, center, &L0)); /* leave the free state at θ */
  PetscCall(VecDestroy(&center));
  PetscCall(PetscFree(theta));
  if (loss) *loss = L0;
  PetscFunctionReturn(0);
}
