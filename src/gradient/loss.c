/* loss.c — the nudge observable and the loss of one example.
 * Observable loss: C = ½ Σ_o (O_o − y_o)² expanded into Pauli strings (O_o² through Pauli products:
 * anticommuting pairs cancel, commuting ones give ±2 c_i c_j P_iP_j), L = ⟨C⟩, nudge C' = C.
 * Error-signal losses ℓ(⟨O⟩; y): ε_o = ∂ℓ/∂⟨O_o⟩ at the free state, nudge C' = Σ_o ε_o O_o.
 *   mse:  ℓ = (1/K) Σ_o (⟨O_o⟩ − y_o)²
 *   xent: ℓ = −(1/K) Σ_o [y_o ln p_o + (1 − y_o) ln(1 − p_o)], p_o = (1 + ⟨O_o⟩)/2 (clipped to
 *         [QEP_XENT_PMIN, 1 − QEP_XENT_PMIN]), targets y_o in [0, 1]. */
#include "gradientimpl.h"

#define QEP_XENT_PMIN 1e-12 /* keeps ln p finite for outputs at ±1 */

static PetscErrorCode TermListFromSum(const QepPauliSum *sum, const QepPauliSum *all, QepTermList *list)
{
  PetscFunctionBegin;
  list->n = sum->n;
  PetscCall(PetscMalloc2(sum->n, &list->string, sum->n, &list->coef));
  for (PetscInt i = 0; i < sum->n; i++) {
    PetscCall(QepPauliSumFind(all, sum->strings[i], &list->string[i]));
    list->coef[i] = sum->coeffs[i];
  }
  PetscFunctionReturn(0);
}

/* O² = (Σ c_i²) I + Σ_{i<j, [P_i,P_j]=0} 2 c_i c_j s_ij P_iP_j with P_iP_j = s_ij P_c, s_ij = ±1. */
static PetscErrorCode SquareOfSum(const QepPauliSum *o, QepPauliSum *sq)
{
  QepPauli  id = {0, 0};
  PetscReal c2 = 0;

  PetscFunctionBegin;
  PetscCall(QepPauliSumInit(sq));
  for (PetscInt i = 0; i < o->n; i++) c2 += o->coeffs[i] * o->coeffs[i];
  PetscCall(QepPauliSumAdd(sq, id, c2));
  for (PetscInt i = 0; i < o->n; i++)
    for (PetscInt j = i + 1; j < o->n; j++) {
      QepPauli prod;
      int      phase;
      if (!QepPauliCommute(o->strings[i], o->strings[j])) continue;
      QepPauliMultiply(o->strings[i], o->strings[j], &prod, &phase); /* phase is 0 or 2 for commuting strings */
      PetscCall(QepPauliSumAdd(sq, prod, 2 * o->coeffs[i] * o->coeffs[j] * (phase == 2 ? -1.0 : 1.0)));
    }
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientCollectStrings(QepGradient g, QepPauliSum *all)
{
  QepPauliSum *sq = NULL;
  QepPauli     id = {0, 0};

  PetscFunctionBegin;
  PetscCall(QepModelGetNumOutputs(g->model, &g->noutputs));
  PetscCall(PetscCalloc3(g->noutputs, &g->outputs, g->noutputs, &g->squares, g->noutputs + 1, &g->outval));
  if (g->loss == QEP_LOSS_OBSERVABLE) {
    PetscCall(QepPauliSumAdd(all, id, 0));
    PetscCall(PetscMalloc1(g->noutputs, &sq));
  }
  for (PetscInt o = 0; o < g->noutputs; o++) {
    const QepPauliSum *out;
    PetscCall(QepModelGetOutput(g->model, o, NULL, &out));
    for (PetscInt i = 0; i < out->n; i++) PetscCall(QepPauliSumAdd(all, out->strings[i], 0));
    if (sq) {
      PetscCall(SquareOfSum(out, &sq[o]));
      for (PetscInt i = 0; i < sq[o].n; i++) PetscCall(QepPauliSumAdd(all, sq[o].strings[i], 0));
    }
  }
  for (PetscInt o = 0; o < g->noutputs; o++) {
    const QepPauliSum *out;
    PetscCall(QepModelGetOutput(g->model, o, NULL, &out));
    PetscCall(TermListFromSum(out, all, &g->outputs[o]));
    if (sq) {
      PetscCall(TermListFromSum(&sq[o], all, &g->squares[o]));
      PetscCall(QepPauliSumFree(&sq[o]));
    }
  }
  PetscCall(PetscFree(sq));
  PetscCall(QepPauliSumFind(all, id, &g->identity));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientFreeTermLists(QepGradient g)
{
  PetscFunctionBegin;
  for (PetscInt o = 0; o < g->noutputs; o++) {
    PetscCall(PetscFree2(g->outputs[o].string, g->outputs[o].coef));
    if (g->squares[o].n) PetscCall(PetscFree2(g->squares[o].string, g->squares[o].coef));
  }
  PetscCall(PetscFree3(g->outputs, g->squares, g->outval));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientCheckTargets(QepGradient g, const PetscReal y[])
{
  PetscFunctionBegin;
  PetscCheck(g->noutputs > 0 || g->loss == QEP_LOSS_OBSERVABLE, g->comm, PETSC_ERR_USER_INPUT,
             "The %s loss needs model outputs (output lines in the model file, or -qep_outputs)", QepLossTypes[g->loss]);
  PetscCheck(g->noutputs > 0, g->comm, PETSC_ERR_USER_INPUT, "The model has no outputs, so there is no cost observable; add output lines (or -qep_outputs)");
  PetscCheck(y, g->comm, PETSC_ERR_USER_INPUT, "Targets are required: one per output (%" PetscInt_FMT ")", g->noutputs);
  for (PetscInt o = 0; o < g->noutputs; o++) {
    PetscCheck(!PetscIsInfOrNanReal(y[o]), g->comm, PETSC_ERR_USER_INPUT, "Target %" PetscInt_FMT " is not a finite number", o);
    PetscCheck(g->loss != QEP_LOSS_XENT || (y[o] >= 0 && y[o] <= 1), g->comm, PETSC_ERR_USER_INPUT,
               "Cross-entropy targets are outcome probabilities in [0,1]; target %" PetscInt_FMT " is %g", o, (double)y[o]);
  }
  PetscFunctionReturn(0);
}

static PetscReal ListValue(const QepTermList *l, const PetscReal expect[])
{
  PetscReal v = 0;
  for (PetscInt i = 0; i < l->n; i++) v += l->coef[i] * expect[l->string[i]];
  return v;
}

void QepGradientOutputValues(QepGradient g)
{
  for (PetscInt o = 0; o < g->noutputs; o++) g->outval[o] = ListValue(&g->outputs[o], g->expect);
}

static void ListAdd(const QepTermList *l, PetscReal scale, PetscReal d[])
{
  for (PetscInt i = 0; i < l->n; i++) d[l->string[i]] += scale * l->coef[i];
}

static inline PetscReal XentProbability(PetscReal o) { return PetscMin(PetscMax(0.5 * (1 + o), QEP_XENT_PMIN), 1 - QEP_XENT_PMIN); }

PetscErrorCode QepGradientLossValue(QepGradient g, const PetscReal y[], PetscReal *loss)
{
  const PetscReal K = (PetscReal)g->noutputs;
  PetscReal       L = 0;

  PetscFunctionBegin;
  for (PetscInt o = 0; o < g->noutputs; o++) {
    const PetscReal O = g->outval[o];
    switch (g->loss) {
    case QEP_LOSS_OBSERVABLE: L += 0.5 * (ListValue(&g->squares[o], g->expect) - 2 * y[o] * O + y[o] * y[o]); break;
    case QEP_LOSS_MSE: L += (O - y[o]) * (O - y[o]) / K; break;
    case QEP_LOSS_XENT: {
      PetscReal p = XentProbability(O);
      L -= (y[o] * PetscLogReal(p) + (1 - y[o]) * PetscLogReal(1 - p)) / K;
    } break;
    }
  }
  *loss = L;
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientBuildNudge(QepGradient g, const PetscReal y[], PetscReal *loss)
{
  const PetscReal K = (PetscReal)g->noutputs;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(g->nudge, g->nstrings));
  for (PetscInt o = 0; o < g->noutputs; o++) {
    const PetscReal O = g->outval[o];
    switch (g->loss) {
    case QEP_LOSS_OBSERVABLE:
      ListAdd(&g->squares[o], 0.5, g->nudge);
      ListAdd(&g->outputs[o], -y[o], g->nudge);
      g->nudge[g->identity] += 0.5 * y[o] * y[o];
      break;
    case QEP_LOSS_MSE: ListAdd(&g->outputs[o], 2 * (O - y[o]) / K, g->nudge); break;
    case QEP_LOSS_XENT: {
      PetscReal p = XentProbability(O);
      ListAdd(&g->outputs[o], -0.5 * (y[o] / p - (1 - y[o]) / (1 - p)) / K, g->nudge);
    } break;
    }
  }
  PetscCall(QepGradientLossValue(g, y, loss));
  PetscFunctionReturn(0);
}
