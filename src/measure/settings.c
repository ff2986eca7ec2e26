/* settings.c — the QepMeasurement object: Pauli strings grouped into qubit-wise commuting
 * measurement settings, sampled and estimated from shots.
 *
 * Invariant (after SetUp): every string t belongs to exactly one setting setting_of[t]; on every qubit
 * the non-identity factors of a setting's members agree, and the setting's basis string carries
 * exactly that common factor (identity where no member acts). Members of a setting are listed in
 * ascending string index (CSR: member[mstart[s] .. mstart[s+1])). Settings are numbered in creation
 * order of the greedy pass. Estimates reduce exact integer sums, so they are bit-identical on every
 * rank and at every rank count. */
#include "../qepimpl.h"
#include <qep/measure.h>

struct _p_QepMeasurement {
  MPI_Comm  comm;
  PetscInt  nqubits;
  PetscInt  nstrings;
  QepPauli *strings;    /* [nstrings] copies of the caller's strings */
  PetscBool setup;
  PetscInt  nsettings;
  QepPauli *basis;      /* [nsettings] */
  PetscInt *mstart;     /* [nsettings + 1] */
  PetscInt *member;     /* [nstrings] */
  PetscInt *setting_of; /* [nstrings] */
};

PetscErrorCode QepMeasurementCreate(MPI_Comm comm, PetscInt nqubits, QepMeasurement *meas)
{
  QepMeasurement m;

  PetscFunctionBegin;
  PetscCheck(meas, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "meas must not be NULL");
  PetscCall(QepInitializePackage());
  PetscCheck(nqubits >= 1 && nqubits <= QepMaxQubits(), comm, PETSC_ERR_ARG_OUTOFRANGE, "Measurement on %" PetscInt_FMT " qubits; this build allows 1 <= n <= %" PetscInt_FMT, nqubits,
             QepMaxQubits());
  PetscCall(PetscNew(&m));
  m->comm    = comm;
  m->nqubits = nqubits;
  *meas      = m;
  PetscFunctionReturn(0);
}

static PetscErrorCode ResetSettings(QepMeasurement m)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(m->basis));
  PetscCall(PetscFree(m->mstart));
  PetscCall(PetscFree(m->member));
  PetscCall(PetscFree(m->setting_of));
  m->nsettings = 0;
  m->setup     = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementDestroy(QepMeasurement *meas)
{
  PetscFunctionBegin;
  if (!meas || !*meas) PetscFunctionReturn(0);
  PetscCall(ResetSettings(*meas));
  PetscCall(PetscFree((*meas)->strings));
  PetscCall(PetscFree(*meas));
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementSetStrings(QepMeasurement m, PetscInt nstrings, const QepPauli strings[])
{
  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCheck(nstrings >= 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of strings %" PetscInt_FMT " is negative", nstrings);
  PetscCheck(!nstrings || strings, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "strings must not be NULL");
  for (PetscInt t = 0; t < nstrings; t++) {
    char buf[256];
    QepPauliToString(strings[t], buf, sizeof(buf));
    PetscCheck(QepPauliMaxQubit(strings[t]) < m->nqubits, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "String %" PetscInt_FMT " (%s) acts on qubit %d, but the measurement has %" PetscInt_FMT " qubits (0..%" PetscInt_FMT ")", t, buf, QepPauliMaxQubit(strings[t]), m->nqubits,
               m->nqubits - 1);
  }
  PetscCall(ResetSettings(m));
  PetscCall(PetscFree(m->strings));
  PetscCall(PetscMalloc1(nstrings, &m->strings));
  if (nstrings) PetscCall(PetscArraycpy(m->strings, strings, nstrings));
  m->nstrings = nstrings;
  PetscFunctionReturn(0);
}

/* Qubit-wise commuting: on the qubits both act on, the factors (x and z bits) agree. */
static inline PetscBool QubitWiseCompatible(QepPauli b, QepPauli t)
{
  const uint64_t common = (b.x | b.z) & (t.x | t.z);
  return (((b.x ^ t.x) | (b.z ^ t.z)) & common) ? PETSC_FALSE : PETSC_TRUE;
}

typedef struct {
  int      weight;
  PetscInt t;
} WeightKey;

static int CompareWeightKey(const void *a, const void *b) /* decreasing weight, then input order */
{
  const WeightKey *p = (const WeightKey *)a, *q = (const WeightKey *)b;
  if (p->weight != q->weight) return p->weight > q->weight ? -1 : 1;
  return (p->t > q->t) - (p->t < q->t);
}

/* Greedy pass: setting_of[] and the basis strings (at most one setting per string). */
static PetscErrorCode AssignSettings(QepMeasurement m)
{
  WeightKey *order;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(m->nstrings, &order));
  for (PetscInt t = 0; t < m->nstrings; t++) order[t] = (WeightKey){QepPauliWeight(m->strings[t]), t};
  qsort(order, (size_t)m->nstrings, sizeof(WeightKey), CompareWeightKey);
  for (PetscInt k = 0; k < m->nstrings; k++) {
    const PetscInt t = order[k].t;
    PetscInt       s = 0;
    while (s < m->nsettings && !QubitWiseCompatible(m->basis[s], m->strings[t])) s++;
    if (s == m->nsettings) m->basis[m->nsettings++] = (QepPauli){0, 0};
    m->basis[s].x |= m->strings[t].x;
    m->basis[s].z |= m->strings[t].z;
    m->setting_of[t] = s;
  }
  PetscCall(PetscFree(order));
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementSetUp(QepMeasurement m)
{
  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  if (m->setup) PetscFunctionReturn(0);
  PetscCall(ResetSettings(m));
  PetscCall(PetscMalloc1(m->nstrings, &m->basis));
  PetscCall(PetscMalloc1(m->nstrings, &m->member));
  PetscCall(PetscMalloc1(m->nstrings, &m->setting_of));
  PetscCall(AssignSettings(m));
  PetscCall(PetscCalloc1(m->nsettings + 1, &m->mstart));
  for (PetscInt t = 0; t < m->nstrings; t++) m->mstart[m->setting_of[t] + 1]++;
  for (PetscInt s = 0; s < m->nsettings; s++) m->mstart[s + 1] += m->mstart[s];
  {
    PetscInt *next;
    PetscCall(PetscMalloc1(m->nsettings + 1, &next));
    PetscCall(PetscArraycpy(next, m->mstart, m->nsettings + 1));
    for (PetscInt t = 0; t < m->nstrings; t++) m->member[next[m->setting_of[t]]++] = t; /* ascending t */
    PetscCall(PetscFree(next));
  }
  m->setup = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementGetNumSettings(QepMeasurement m, PetscInt *nsettings)
{
  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCall(QepMeasurementSetUp(m));
  *nsettings = m->nsettings;
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementGetSetting(QepMeasurement m, PetscInt s, QepPauli *basis, PetscInt *nmembers, const PetscInt **members)
{
  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCall(QepMeasurementSetUp(m));
  PetscCheck(s >= 0 && s < m->nsettings, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Setting %" PetscInt_FMT " does not exist; there are %" PetscInt_FMT " settings", s, m->nsettings);
  if (basis) *basis = m->basis[s];
  if (nmembers) *nmembers = m->mstart[s + 1] - m->mstart[s];
  if (members) *members = m->member + m->mstart[s];
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementGetStringSetting(QepMeasurement m, PetscInt t, PetscInt *s)
{
  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCall(QepMeasurementSetUp(m));
  PetscCheck(t >= 0 && t < m->nstrings, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "String %" PetscInt_FMT " does not exist; there are %" PetscInt_FMT " strings", t, m->nstrings);
  *s = m->setting_of[t];
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckState(QepMeasurement m, Vec psi)
{
  PetscInt N;

  PetscFunctionBegin;
  PetscCall(VecGetSize(psi, &N));
  PetscCheck(N == ((PetscInt)1 << m->nqubits), m->comm, PETSC_ERR_ARG_SIZ, "State has length %" PetscInt_FMT " but the measurement is on %" PetscInt_FMT " qubits (length %" PetscInt_FMT ")", N,
             m->nqubits, (PetscInt)1 << m->nqubits);
  PetscFunctionReturn(0);
}

/* Rotates psi into setting s's basis (into prob) and samples it. */
static PetscErrorCode SampleSetting(QepMeasurement m, Vec psi, Vec prob, PetscInt s, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscInt64 *nlocal, PetscInt64 **shots)
{
  PetscFunctionBegin;
  PetscCall(QepRotatedProbabilities(psi, m->basis[s], prob));
  PetscCall(QepSampleDistribution(prob, nshots, seed, stream, nlocal, shots));
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementSample(QepMeasurement m, Vec psi, PetscInt s, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscInt64 *nlocal, PetscInt64 **shots)
{
  Vec prob;

  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCall(QepMeasurementSetUp(m));
  PetscCheck(s >= 0 && s < m->nsettings, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Setting %" PetscInt_FMT " does not exist; there are %" PetscInt_FMT " settings", s, m->nsettings);
  PetscCheck(nshots >= 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of shots nshots = %" PetscInt64_FMT " is negative; it must be >= 0", nshots);
  PetscCall(CheckState(m, psi));
  PetscCall(VecDuplicate(psi, &prob));
  PetscCall(SampleSetting(m, psi, prob, s, nshots, seed, stream, nlocal, shots));
  PetscCall(VecDestroy(&prob));
  PetscFunctionReturn(0);
}

/* sum[t] += Σ over this rank's shots of setting s of the ±1 value of each member t. Shots come
 * sorted, so equal outcomes are adjacent and each distinct outcome is evaluated once. */
static void AccumulateShots(QepMeasurement m, PetscInt s, PetscInt64 nlocal, const PetscInt64 shots[], PetscInt64 sum[])
{
  for (PetscInt64 i = 0; i < nlocal;) {
    PetscInt64 j = i + 1;
    while (j < nlocal && shots[j] == shots[i]) j++;
    for (PetscInt k = m->mstart[s]; k < m->mstart[s + 1]; k++) {
      const PetscInt t = m->member[k];
      sum[t] += (j - i) * QepShotValue(m->strings[t], shots[i]);
    }
    i = j;
  }
}

static PetscBool SettingIsTrivial(QepMeasurement m, PetscInt s) { return QepPauliIsIdentity(m->basis[s]); } /* only identity members */

PetscErrorCode QepMeasurementEstimate(QepMeasurement m, Vec psi, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscReal mean[], PetscReal stderr_[])
{
  PetscInt64 *sum;
  Vec         prob;

  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  PetscCall(QepMeasurementSetUp(m));
  PetscCheck(nshots >= 1, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of shots nshots = %" PetscInt64_FMT " per setting; an estimate needs nshots >= 1", nshots);
  PetscCall(CheckState(m, psi));
  PetscCall(PetscCalloc1(m->nstrings, &sum));
  PetscCall(VecDuplicate(psi, &prob));
  for (PetscInt s = 0; s < m->nsettings; s++) {
    PetscInt64 nlocal, *shots;
    if (SettingIsTrivial(m, s)) continue; /* identity strings measure +1 without shots */
    PetscCall(SampleSetting(m, psi, prob, s, nshots, seed, stream + s, &nlocal, &shots));
    AccumulateShots(m, s, nlocal, shots, sum);
    PetscCall(PetscFree(shots));
  }
  PetscCall(VecDestroy(&prob));
  /* one exact reduction for all settings: the sums are integers, so every rank gets the same bits */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum, (PetscMPIInt)m->nstrings, MPIU_INT64, MPI_SUM, m->comm));
  for (PetscInt t = 0; t < m->nstrings; t++) {
    const PetscBool identity = QepPauliIsIdentity(m->strings[t]);
    const PetscReal N = (PetscReal)nshots, mu = identity ? 1.0 : (PetscReal)sum[t] / N;
    /* ±1 values: Σv² = N, so the unbiased sample variance is (1 - mu²) N / (N - 1) and the standard
       error sqrt(var / N) = sqrt((1 - mu)(1 + mu) / (N - 1)); 0 for one shot or the identity */
    if (mean) mean[t] = mu;
    if (stderr_) stderr_[t] = (identity || nshots < 2) ? 0.0 : PetscSqrtReal(PetscMax(0.0, (1 - mu) * (1 + mu)) / (N - 1));
  }
  PetscCall(PetscFree(sum));
  PetscFunctionReturn(0);
}

PetscErrorCode QepMeasurementView(QepMeasurement m, PetscViewer viewer)
{
  char buf[1024];

  PetscFunctionBegin;
  PetscCheck(m, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "QepMeasurement is NULL; create it with QepMeasurementCreate");
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(m->comm, &viewer));
  PetscCall(QepMeasurementSetUp(m));
  PetscCall(PetscViewerASCIIPrintf(viewer, "QepMeasurement: %" PetscInt_FMT " strings on %" PetscInt_FMT " qubits in %" PetscInt_FMT " qubit-wise commuting settings\n", m->nstrings, m->nqubits,
                                   m->nsettings));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  for (PetscInt s = 0; s < m->nsettings; s++) {
    QepPauliToString(m->basis[s], buf, sizeof(buf));
    PetscCall(PetscViewerASCIIPrintf(viewer, "setting %" PetscInt_FMT ": basis %s, %" PetscInt_FMT " members\n", s, buf, m->mstart[s + 1] - m->mstart[s]));
  }
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}
