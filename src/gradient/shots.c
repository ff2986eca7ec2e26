/* shots.c — shot-based expectations for QepGradient (-qep_shots N).
 *
 * The strings a gradient needs are measured: every string that carries a trainable parameter
 * (∂H/∂θ_k = Σ_t a_tk P_t), every output string and, for the observable loss, the strings of the
 * squared outputs (the cost observable). They are grouped once into qubit-wise commuting settings
 * (QepMeasurement). One phase = every setting measured with N fresh preparations of its state.
 * Invariant: a phase's shot means replace the exact ⟨P_t⟩ in expect[] for measured strings (the
 * identity is exactly 1; unmeasured strings are 0 and never read), so the estimators, the loss and
 * the error signals run unchanged on shot data. The variance of the phase's g_k = Σ_t a_tk ⟨P_t⟩ is
 * estimated per setting from the per-shot values v_k(b) = Σ_{t in setting} a_tk P_t(b) (strings of
 * one setting are correlated: they share shots), summed over the independent settings. */
#include "gradientimpl.h"

/* Settings' parameter couplings: for each setting, (member position, parameter, factor). */
static PetscErrorCode BuildSettingCouplings(QepGradient g, PetscInt nsettings, const PetscInt posof[])
{
  PetscInt           nc, total = 0;
  const QepCoupling *c;

  PetscFunctionBegin;
  PetscCall(QepModelGetCouplings(g->model, &nc, &c));
  PetscCall(PetscCalloc1(nsettings + 1, &g->set_cstart));
  for (PetscInt i = 0; i < nc; i++)
    if (c[i].kind == QEP_VAR_PARAM) total++;
  PetscCall(PetscMalloc3(total, &g->set_cmember, total, &g->set_cparam, total, &g->set_cfactor));
  for (PetscInt s = 0, next = 0; s < nsettings; s++) {
    g->set_cstart[s] = next;
    for (PetscInt i = 0; i < nc; i++) {
      PetscInt setting, m = posof[c[i].string];
      if (c[i].kind != QEP_VAR_PARAM) continue;
      PetscCall(QepMeasurementGetStringSetting(g->meas, m, &setting));
      if (setting != s) continue;
      {
        PetscInt        nmem;
        const PetscInt *mem;
        QepPauli        basis;
        PetscCall(QepMeasurementGetSetting(g->meas, s, &basis, &nmem, &mem));
        for (PetscInt j = 0; j < nmem; j++)
          if (mem[j] == m) g->set_cmember[next] = j;
      }
      g->set_cparam[next]  = c[i].index;
      g->set_cfactor[next] = c[i].factor;
      next++;
    }
    g->set_cstart[s + 1] = next;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientSetUpShots(QepGradient g)
{
  PetscInt           nc, n, nsettings, *posof;
  const QepCoupling *c;
  PetscBool         *need;
  QepPauli          *list;

  PetscFunctionBegin;
  if (!g->nshots || g->meas) PetscFunctionReturn(0);
  PetscCall(QepModelGetNumQubits(g->model, &n));
  PetscCall(QepModelGetCouplings(g->model, &nc, &c));
  PetscCall(PetscCalloc1(g->nstrings, &need));
  for (PetscInt i = 0; i < nc; i++)
    if (c[i].kind == QEP_VAR_PARAM) need[c[i].string] = PETSC_TRUE;
  for (PetscInt o = 0; o < g->noutputs; o++) {
    for (PetscInt i = 0; i < g->outputs[o].n; i++) need[g->outputs[o].string[i]] = PETSC_TRUE;
    if (g->loss == QEP_LOSS_OBSERVABLE)
      for (PetscInt i = 0; i < g->squares[o].n; i++) need[g->squares[o].string[i]] = PETSC_TRUE;
  }
  if (g->identity >= 0) need[g->identity] = PETSC_FALSE; /* always exactly 1 */
  PetscCall(PetscMalloc2(g->nstrings, &g->measured, g->nstrings, &g->measured_strings));
  PetscCall(PetscMalloc1(g->nstrings, &posof));
  list = g->measured_strings;
  g->nmeasured = 0;
  for (PetscInt t = 0; t < g->nstrings; t++) {
    posof[t] = -1;
    if (!need[t]) continue;
    posof[t]                   = g->nmeasured;
    list[g->nmeasured]         = g->strings[t];
    g->measured[g->nmeasured++] = t;
  }
  PetscCall(QepMeasurementCreate(g->comm, n, &g->meas));
  PetscCall(QepMeasurementSetStrings(g->meas, g->nmeasured, list));
  PetscCall(QepMeasurementSetUp(g->meas));
  PetscCall(QepMeasurementGetNumSettings(g->meas, &nsettings));
  PetscCall(BuildSettingCouplings(g, nsettings, posof));
  PetscCall(PetscFree(need));
  PetscCall(PetscFree(posof));
  PetscCall(PetscMalloc1(g->nparams, &g->phase_var));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientDestroyShots(QepGradient g)
{
  PetscFunctionBegin;
  PetscCall(QepMeasurementDestroy(&g->meas));
  PetscCall(PetscFree2(g->measured, g->measured_strings));
  PetscCall(PetscFree(g->set_cstart));
  PetscCall(PetscFree3(g->set_cmember, g->set_cparam, g->set_cfactor));
  PetscCall(PetscFree(g->phase_var));
  for (PetscInt j = 0; j < QEP_MAX_STENCIL; j++) PetscCall(VecDestroy(&g->phase_psi[j]));
  PetscFunctionReturn(0);
}

/* splitmix64 finaliser: well-separated streams for (base, phase) pairs. */
static inline uint64_t Mix(uint64_t z)
{
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Sums over this rank's shots of one setting: counts of +1 per member, and per parameter the sums
 * of v_k and v_k² (v_k the setting's per-shot contribution to g_k). */
static PetscErrorCode AccumulateSetting(QepGradient g, PetscInt s, PetscInt64 nlocal, const PetscInt64 shots[], PetscInt64 plus[], PetscReal s1[], PetscReal s2[])
{
  PetscInt        nmem;
  const PetscInt *mem;
  QepPauli        basis;
  const PetscInt  c0 = g->set_cstart[s], c1 = g->set_cstart[s + 1];
  int            *val;
  PetscReal      *v;

  PetscFunctionBegin;
  PetscCall(QepMeasurementGetSetting(g->meas, s, &basis, &nmem, &mem));
  PetscCall(PetscMalloc2(nmem, &val, g->nparams, &v));
  PetscCall(PetscArrayzero(v, g->nparams));
  for (PetscInt64 i = 0; i < nlocal; i++) {
    for (PetscInt j = 0; j < nmem; j++) {
      val[j] = QepShotValue(g->strings[g->measured[mem[j]]], shots[i]);
      plus[j] += val[j] > 0;
    }
    for (PetscInt c = c0; c < c1; c++) v[g->set_cparam[c]] += g->set_cfactor[c] * val[g->set_cmember[c]];
    for (PetscInt c = c0; c < c1; c++) { /* each touched parameter once, then cleared */
      PetscInt k = g->set_cparam[c];
      if (v[k] == 0) continue; /* already added (or adds nothing) */
      s1[k] += v[k];
      s2[k] += v[k] * v[k];
      v[k] = 0;
    }
  }
  PetscCall(PetscFree2(val, v));
  PetscFunctionReturn(0);
}

PetscErrorCode QepGradientMeasurePhase(QepGradient g, Vec psi, PetscInt64 stream, PetscInt phase)
{
  PetscInt    nsettings, total = 0;
  PetscInt64 *plus;
  PetscReal  *s1, *s2, *buf;
  PetscInt64  pstream = (PetscInt64)Mix(Mix((uint64_t)stream) ^ (uint64_t)phase);
  const PetscReal N   = (PetscReal)g->nshots;

  PetscFunctionBegin;
  PetscCall(QepMeasurementGetNumSettings(g->meas, &nsettings));
  PetscCall(PetscCalloc4(g->nmeasured, &plus, nsettings * g->nparams, &s1, nsettings * g->nparams, &s2, g->nmeasured + 2 * nsettings * g->nparams, &buf));
  for (PetscInt s = 0; s < nsettings; s++) {
    PetscInt64      nlocal, *shots, *cnt;
    PetscInt        nmem;
    const PetscInt *mem;
    QepPauli        basis;
    PetscCall(QepMeasurementSample(g->meas, psi, s, g->nshots, g->shot_seed, pstream + s, &nlocal, &shots));
    PetscCall(QepMeasurementGetSetting(g->meas, s, &basis, &nmem, &mem));
    PetscCall(PetscCalloc1(nmem, &cnt));
    PetscCall(AccumulateSetting(g, s, nlocal, shots, cnt, s1 + s * g->nparams, s2 + s * g->nparams));
    for (PetscInt j = 0; j < nmem; j++) plus[mem[j]] += cnt[j];
    PetscCall(PetscFree(cnt));
    PetscCall(PetscFree(shots));
  }
  /* one reduction: counts (exact in doubles below 2^53 shots) and the per-setting moments */
  for (PetscInt m = 0; m < g->nmeasured; m++) buf[total++] = (PetscReal)plus[m];
  for (PetscInt i = 0; i < nsettings * g->nparams; i++) buf[total++] = s1[i];
  for (PetscInt i = 0; i < nsettings * g->nparams; i++) buf[total++] = s2[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, buf, (PetscMPIInt)total, MPIU_REAL, MPIU_SUM, g->comm));

  PetscCall(PetscArrayzero(g->expect, g->nstrings));
  if (g->identity >= 0) g->expect[g->identity] = 1;
  for (PetscInt m = 0; m < g->nmeasured; m++) g->expect[g->measured[m]] = (2 * buf[m] - N) / N;
  PetscCall(PetscArrayzero(g->phase_var, g->nparams));
  for (PetscInt s = 0; s < nsettings; s++)
    for (PetscInt k = 0; k < g->nparams; k++) {
      PetscReal a = buf[g->nmeasured + s * g->nparams + k], b = buf[g->nmeasured + (nsettings + s) * g->nparams + k];
      PetscReal var = g->nshots > 1 ? PetscMax(0, (b - a * a / N) / (N - 1)) : 0; /* unbiased sample variance of v_k */
      g->phase_var[k] += var / N;
    }
  g->stats.shots += g->nshots * nsettings;
  PetscCall(PetscFree4(plus, s1, s2, buf));
  PetscFunctionReturn(0);
}
