/* model.c — storage and queries of the symbolic model (QepModel).
 * Invariants: strings[] are distinct; every coupling refers to an existing string and, for
 * parameters, an existing parameter; parameter names are unique and never of the input form x<digits>.
 * Every rank holds the same model; all mutators are called identically on every rank. */
#include "qepimpl.h"

PetscInt QepMaxQubits(void)
{
  /* Basis indices run over [0, 2^n) and must fit a PetscInt (signed): 2^30 for 32 bits. The 64-bit
     build keeps one bit of headroom for index arithmetic. */
  return sizeof(PetscInt) == 4 ? 30 : 62;
}

PetscErrorCode QepModelCreate(MPI_Comm comm, QepModel *model)
{
  QepModel m;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&m));
  m->comm = comm;
  *model  = m;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelReset(QepModel m)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(m->strings));
  PetscCall(PetscFree(m->slot));
  m->nslots = 0;
  PetscCall(PetscFree(m->couplings));
  PetscCall(PetscFree(m->param_names));
  PetscCall(PetscFree(m->param_values));
  for (PetscInt o = 0; o < m->noutputs; o++) PetscCall(QepPauliSumFree(&m->outputs[o].sum));
  PetscCall(PetscFree(m->outputs));
  PetscCall(PetscFree(m->description));
  m->nqubits = m->nstrings = m->astrings = m->ncouplings = m->acouplings = 0;
  m->nparams = m->aparams = m->ninputs = m->noutputs = m->aoutputs = 0;
  m->finalized                                                    = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelDestroy(QepModel *model)
{
  PetscFunctionBegin;
  if (!*model) PetscFunctionReturn(0);
  PetscCall(QepModelReset(*model));
  PetscCall(PetscFree(*model));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelSetNumQubits(QepModel m, PetscInt n)
{
  PetscFunctionBegin;
  PetscCheck(n >= 2 && n <= QepMaxQubits(), m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Number of qubits %" PetscInt_FMT " is out of range: this build allows 2 <= n <= %" PetscInt_FMT "%s", n, QepMaxQubits(),
             sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  m->nqubits = n;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelFindParameter(QepModel m, const char name[], PetscInt *index)
{
  PetscFunctionBegin;
  PetscCall(QepParameterFind(m->nparams, (const char(*)[QEP_NAME_LEN])m->param_names, name, index));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelAddParameter(QepModel m, const char name[], PetscReal value, PetscInt *index)
{
  PetscFunctionBegin;
  PetscCall(QepParameterAppend(m->comm, name, value, PETSC_FALSE, &m->nparams, &m->aparams, &m->param_names, &m->param_values, index));
  m->finalized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static inline PetscInt StringHash(QepPauli p, PetscInt nslots)
{
  uint64_t h = (p.x * 0x9e3779b97f4a7c15ULL) ^ (p.z * 0xc2b2ae3d27d4eb4fULL);
  return (PetscInt)((h ^ (h >> 29)) & (uint64_t)(nslots - 1));
}

/* Rebuilds the hash with twice the slots; keeps lookups O(1) for models with millions of strings. */
static PetscErrorCode GrowStringHash(QepModel m)
{
  PetscInt nslots = m->nslots ? 2 * m->nslots : 64;

  PetscFunctionBegin;
  PetscCall(PetscFree(m->slot));
  PetscCall(PetscMalloc1(nslots, &m->slot));
  for (PetscInt h = 0; h < nslots; h++) m->slot[h] = -1;
  m->nslots = nslots;
  for (PetscInt t = 0; t < m->nstrings; t++) {
    PetscInt h = StringHash(m->strings[t], nslots);
    while (m->slot[h] >= 0) h = (h + 1) & (nslots - 1);
    m->slot[h] = t;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelInternString(QepModel m, QepPauli p, PetscInt *index)
{
  PetscInt h;

  PetscFunctionBegin;
  if (2 * (m->nstrings + 1) > m->nslots) PetscCall(GrowStringHash(m));
  for (h = StringHash(p, m->nslots); m->slot[h] >= 0; h = (h + 1) & (m->nslots - 1))
    if (QepPauliEqual(m->strings[m->slot[h]], p)) {
      *index = m->slot[h];
      PetscFunctionReturn(0);
    }
  if (m->nstrings == m->astrings) {
    m->astrings = m->astrings ? 2 * m->astrings : 32;
    PetscCall(PetscRealloc(sizeof(QepPauli) * (size_t)m->astrings, &m->strings));
  }
  m->strings[m->nstrings] = p;
  m->slot[h]              = m->nstrings;
  *index                  = m->nstrings++;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckStringAllowed(QepModel m, QepPauli p)
{
  char buf[256];

  PetscFunctionBegin;
  if (!QepIsComplexBuild() && !QepPauliIsReal(p)) {
    QepPauliToString(p, buf, sizeof(buf));
    SETERRQ(m->comm, PETSC_ERR_SUP,
            "Pauli string '%s' has an odd number of Y factors, so its matrix is imaginary; this is the real-scalar build. "
            "Rebuild qep with -DQEP_COMPLEX=ON (complex PETSc/SLEPc) for complex Hermitian models",
            buf);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelAddTerm(QepModel m, QepPauli p, PetscReal factor, QepVarKind kind, PetscInt index)
{
  PetscInt t = -1;

  PetscFunctionBegin;
  PetscCall(CheckStringAllowed(m, p));
  PetscCheck(PetscIsNormalReal(factor) || factor == 0.0, m->comm, PETSC_ERR_ARG_WRONG, "Term coefficient is not a finite number");
  PetscCheck(kind != QEP_VAR_PARAM || (index >= 0 && index < m->nparams), m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Term refers to parameter %" PetscInt_FMT " but the model has %" PetscInt_FMT, index, m->nparams);
  PetscCheck(kind != QEP_VAR_INPUT || index >= 0, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Negative input index %" PetscInt_FMT, index);
  PetscCall(QepModelInternString(m, p, &t));
  if (m->ncouplings == m->acouplings) {
    m->acouplings = m->acouplings ? 2 * m->acouplings : 64;
    PetscCall(PetscRealloc(sizeof(QepCoupling) * (size_t)m->acouplings, &m->couplings));
  }
  m->couplings[m->ncouplings].string = t;
  m->couplings[m->ncouplings].kind   = kind;
  m->couplings[m->ncouplings].index  = kind == QEP_VAR_CONST ? 0 : index;
  m->couplings[m->ncouplings].factor = factor;
  m->ncouplings++;
  if (kind == QEP_VAR_INPUT) m->ninputs = PetscMax(m->ninputs, index + 1);
  m->finalized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelAddOutputTerm(QepModel m, const char name[], QepPauli p, PetscReal factor)
{
  PetscInt o;

  PetscFunctionBegin;
  PetscCall(CheckStringAllowed(m, p));
  PetscCheck(name && name[0] && strlen(name) < QEP_NAME_LEN, m->comm, PETSC_ERR_ARG_WRONG, "Output name must have 1 to %d characters", QEP_NAME_LEN - 1);
  PetscCheck(PetscIsNormalReal(factor) || factor == 0.0, m->comm, PETSC_ERR_ARG_WRONG, "Output '%s' has a non-finite coefficient", name);
  for (o = 0; o < m->noutputs; o++)
    if (!strcmp(m->outputs[o].name, name)) break;
  if (o == m->noutputs) {
    if (m->noutputs == m->aoutputs) {
      m->aoutputs = m->aoutputs ? 2 * m->aoutputs : 8;
      PetscCall(PetscRealloc(sizeof(QepOutput) * (size_t)m->aoutputs, &m->outputs));
    }
    PetscCall(PetscStrncpy(m->outputs[o].name, name, QEP_NAME_LEN));
    PetscCall(QepPauliSumInit(&m->outputs[o].sum));
    m->noutputs++;
  }
  PetscCall(QepPauliSumAdd(&m->outputs[o].sum, p, factor));
  m->finalized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelSetDescription(QepModel m, const char text[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(m->description));
  PetscCall(PetscStrallocpy(text, &m->description));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelFinalize(QepModel m)
{
  PetscInt maxq = -1;
  char     buf[256];

  PetscFunctionBegin;
  for (PetscInt t = 0; t < m->nstrings; t++) maxq = PetscMax(maxq, (PetscInt)QepPauliMaxQubit(m->strings[t]));
  for (PetscInt o = 0; o < m->noutputs; o++)
    for (PetscInt i = 0; i < m->outputs[o].sum.n; i++) maxq = PetscMax(maxq, (PetscInt)QepPauliMaxQubit(m->outputs[o].sum.strings[i]));
  PetscCheck(m->nstrings > 0, m->comm, PETSC_ERR_ARG_WRONG, "The model has no Hamiltonian terms");
  if (!m->nqubits) PetscCall(QepModelSetNumQubits(m, PetscMax(2, maxq + 1)));
  for (PetscInt t = 0; t < m->nstrings; t++) {
    QepPauliToString(m->strings[t], buf, sizeof(buf));
    PetscCheck(QepPauliMaxQubit(m->strings[t]) < m->nqubits, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "Term '%s' acts on qubit %d but the model has %" PetscInt_FMT " qubits (0..%" PetscInt_FMT ")", buf, QepPauliMaxQubit(m->strings[t]),
               m->nqubits, m->nqubits - 1);
  }
  for (PetscInt o = 0; o < m->noutputs; o++)
    for (PetscInt i = 0; i < m->outputs[o].sum.n; i++) {
      QepPauliToString(m->outputs[o].sum.strings[i], buf, sizeof(buf));
      PetscCheck(QepPauliMaxQubit(m->outputs[o].sum.strings[i]) < m->nqubits, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "Output '%s' term '%s' lies outside the model's %" PetscInt_FMT " qubits", m->outputs[o].name, buf, m->nqubits);
    }
  m->finalized = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetNumQubits(QepModel m, PetscInt *n)
{
  PetscFunctionBegin;
  PetscCheck(m->finalized, m->comm, PETSC_ERR_ORDER, "Call QepModelFinalize (or read/generate a model) first");
  *n = m->nqubits;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetStrings(QepModel m, PetscInt *n, const QepPauli **strings)
{
  PetscFunctionBegin;
  if (n) *n = m->nstrings;
  if (strings) *strings = m->strings;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetCouplings(QepModel m, PetscInt *n, const QepCoupling **couplings)
{
  PetscFunctionBegin;
  if (n) *n = m->ncouplings;
  if (couplings) *couplings = m->couplings;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetNumParameters(QepModel m, PetscInt *n)
{
  PetscFunctionBegin;
  *n = m->nparams;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetParameterName(QepModel m, PetscInt k, const char **name)
{
  PetscFunctionBegin;
  PetscCheck(k >= 0 && k < m->nparams, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Parameter %" PetscInt_FMT " not in [0, %" PetscInt_FMT ")", k, m->nparams);
  *name = m->param_names[k];
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetParameters(QepModel m, PetscReal theta[])
{
  PetscFunctionBegin;
  if (m->nparams) PetscCall(PetscArraycpy(theta, m->param_values, m->nparams));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelSetParameters(QepModel m, const PetscReal theta[])
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < m->nparams; k++)
    PetscCheck(PetscIsNormalReal(theta[k]) || theta[k] == 0.0, m->comm, PETSC_ERR_FP, "Parameter '%s' would become non-finite", m->param_names[k]);
  if (m->nparams) PetscCall(PetscArraycpy(m->param_values, theta, m->nparams));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetNumInputs(QepModel m, PetscInt *n)
{
  PetscFunctionBegin;
  *n = m->ninputs;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetNumOutputs(QepModel m, PetscInt *n)
{
  PetscFunctionBegin;
  *n = m->noutputs;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetOutput(QepModel m, PetscInt o, const char **name, const QepPauliSum **sum)
{
  PetscFunctionBegin;
  PetscCheck(o >= 0 && o < m->noutputs, m->comm, PETSC_ERR_ARG_OUTOFRANGE, "Output %" PetscInt_FMT " not in [0, %" PetscInt_FMT ")", o, m->noutputs);
  if (name) *name = m->outputs[o].name;
  if (sum) *sum = &m->outputs[o].sum;
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelGetDescription(QepModel m, const char **text)
{
  PetscFunctionBegin;
  *text = m->description ? m->description : "";
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelComputeCoefficients(QepModel m, const PetscReal theta[], const PetscReal x[], PetscReal coeffs[])
{
  const PetscReal *th = theta ? theta : m->param_values;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(coeffs, m->nstrings));
  for (PetscInt c = 0; c < m->ncouplings; c++) {
    const QepCoupling *cp = &m->couplings[c];
    PetscReal          v  = 1.0;
    if (cp->kind == QEP_VAR_PARAM) v = th[cp->index];
    else if (cp->kind == QEP_VAR_INPUT) v = x ? x[cp->index] : 0.0;
    coeffs[cp->string] += cp->factor * v;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelView(QepModel m, PetscViewer viewer)
{
  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(m->comm, &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "QepModel: %s\n", m->description ? m->description : "(no description)"));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  qubits %" PetscInt_FMT ", Pauli strings %" PetscInt_FMT ", parameters %" PetscInt_FMT ", inputs %" PetscInt_FMT ", outputs %" PetscInt_FMT "\n",
                                   m->nqubits, m->nstrings, m->nparams, m->ninputs, m->noutputs));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelSetFromOptions(QepModel m)
{
  char      file[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "", type[64] = "tfim";
  PetscBool hasfile, hasout, view = PETSC_FALSE;

  PetscFunctionBegin;
  PetscOptionsBegin(m->comm, NULL, "QEP model options", "QepModel");
  PetscCall(PetscOptionsString("-qep_model_file", "Read the model from this model file", "QepModelReadFile", file, file, sizeof(file), &hasfile));
  PetscCall(PetscOptionsString("-qep_model", "Built-in model when no file is given: tfim, xxz, heisenberg", "QepModelSetFromOptions", type, type, sizeof(type), NULL));
  PetscCall(PetscOptionsString("-qep_model_write", "Write the model (read or generated) to this model file", "QepModelWriteFile", out, out, sizeof(out), &hasout));
  PetscCall(PetscOptionsBool("-qep_model_view", "Print a summary of the model", "QepModelView", view, &view, NULL));
  PetscOptionsEnd();
  if (hasfile) PetscCall(QepModelReadFile(m, file));
  else PetscCall(QepModelGenerateFromOptions(m, type));
  if (hasout) PetscCall(QepModelWriteFile(m, out));
  if (view) PetscCall(QepModelView(m, NULL));
  PetscFunctionReturn(0);
}
