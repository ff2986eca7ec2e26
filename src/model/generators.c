/* generators.c — qep's built-in models: tfim, xxz and heisenberg spin Hamiltonians on chain, ring,
 * square, complete and layered lattices, built from the -qep_* options (no model file needed).
 *
 * Invariant: the model depends on the options only. Bonds are enumerated in a fixed order and random
 * couplings/fields come from QepRandomUniform(seed, stream, bond or qubit index), never from the
 * rank, so every rank of every run with the same options builds the identical model. Terms are added
 * only through the public building API of qep/model.h (after QepModelReset clears a previous model),
 * so a generated model is exactly what a model file can say.
 *
 * Adding a built-in model: write `static PetscErrorCode GenerateXyz(QepModel)` (or a PETSC_INTERN
 * function in its own file, declared in qepimpl.h) that reads its options in one
 * PetscOptionsBegin/End block and adds its terms, then add a row to Generators[] below. The
 * dispatcher resets the model, times the build (QEP_ModelGenerate) and calls QepModelFinalize. */
#include "qepimpl.h"
#include <stdio.h>

/* One QepRandomUniform stream per kind of coefficient, so the draws of one never move another. */
#define STREAM_J     1
#define STREAM_B     2
#define STREAM_GAMMA 3

/* Capacity of the -qep_layers/-qep_inputs/-qep_outputs lists: one more than any valid list can be,
   so an over-long list (PETSc truncates silently) still fails the qubit-count or distinctness checks. */
#define MAX_LIST (QEP_PAULI_MAX_QUBITS + 1)

typedef enum { LATTICE_CHAIN, LATTICE_RING, LATTICE_SQUARE, LATTICE_COMPLETE, LATTICE_LAYERED, LATTICE_COUNT } Lattice;
static const char *const LatticeNames[] = {"chain", "ring", "square", "complete", "layered"};

typedef enum { SPIN_TFIM, SPIN_XXZ, SPIN_HEISENBERG } SpinKind;

/* A coupling or field: value_e = mean + spread * (2u - 1), u = QepRandomUniform(seed, stream, e). */
typedef struct {
  const char *option; /* "J", "b", "gamma": the option stem, for messages */
  PetscReal   mean, spread;
  PetscBool   trainable;
  PetscInt64  stream;
} CoefficientSpec;

typedef struct {
  SpinKind        kind;
  const char     *type;
  Lattice         lattice;
  PetscInt        n, lx, ly, nlayers, ninputs, noutputs, seed;
  PetscBool       periodic, delta_set, inputs_set, outputs_set;
  PetscInt        layers[MAX_LIST], inputs[MAX_LIST], outputs[MAX_LIST];
  PetscReal       delta;
  CoefficientSpec J, b, gamma;
} SpinOptions;

static PetscReal CoefficientValue(const CoefficientSpec *c, PetscInt64 seed, PetscInt64 counter)
{
  if (c->spread == 0.0) return c->mean;
  return c->mean + c->spread * (2.0 * (PetscReal)QepRandomUniform(seed, c->stream, counter) - 1.0);
}

static PetscErrorCode ReadCoefficientOptions(PetscOptionItems *PetscOptionsObject, CoefficientSpec *c, const char what[], const char param_form[])
{
  char opt[64], help[256];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-qep_%s", c->option));
  PetscCall(PetscSNPrintf(help, sizeof(help), "%s (mean value)", what));
  PetscCall(PetscOptionsReal(opt, help, "QepModelSetFromOptions", c->mean, &c->mean, NULL));
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-qep_%s_spread", c->option));
  PetscCall(PetscSNPrintf(help, sizeof(help), "Half-width w >= 0 of uniform random %s values in [mean-w, mean+w] (0: uniform)", c->option));
  PetscCall(PetscOptionsReal(opt, help, "QepModelSetFromOptions", c->spread, &c->spread, NULL));
  PetscCall(PetscSNPrintf(opt, sizeof(opt), "-qep_%s_trainable", c->option));
  PetscCall(PetscSNPrintf(help, sizeof(help), "Make every %s value a trainable parameter named %s", c->option, param_form));
  PetscCall(PetscOptionsBool(opt, help, "QepModelSetFromOptions", c->trainable, &c->trainable, NULL));
  PetscFunctionReturn(0);
}

/* Reads every option of the spin generators in one block, so -help lists them all. */
static PetscErrorCode ReadSpinOptions(QepModel m, SpinOptions *o)
{
  PetscInt lattice = LATTICE_CHAIN;

  PetscFunctionBegin;
  PetscOptionsBegin(m->comm, NULL, "QEP built-in model options (-qep_model tfim|xxz|heisenberg)", "QepModel");
  PetscCall(PetscOptionsEList("-qep_lattice", "Lattice of the couplings", "QepModelSetFromOptions", LatticeNames, LATTICE_COUNT, LatticeNames[lattice], &lattice, NULL));
  PetscCall(PetscOptionsInt("-qep_n", "Number of qubits (chain, ring, complete)", "QepModelSetFromOptions", o->n, &o->n, NULL));
  PetscCall(PetscOptionsInt("-qep_lx", "Square lattice: extent in x (qubit = x + LX*y)", "QepModelSetFromOptions", o->lx, &o->lx, NULL));
  PetscCall(PetscOptionsInt("-qep_ly", "Square lattice: extent in y", "QepModelSetFromOptions", o->ly, &o->ly, NULL));
  PetscCall(PetscOptionsBool("-qep_periodic", "Square lattice: wrap both directions (each only where its extent is >= 3)", "QepModelSetFromOptions", o->periodic,
                             &o->periodic, NULL));
  o->nlayers = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_layers", "Layered lattice: layer sizes a,b,...,c (>= 2 layers); adjacent layers are fully coupled", "QepModelSetFromOptions",
                                 o->layers, &o->nlayers, NULL));
  PetscCall(ReadCoefficientOptions(PetscOptionsObject, &o->J, "Coupling J of every bond", "J_i_j (i<j)"));
  PetscCall(ReadCoefficientOptions(PetscOptionsObject, &o->b, "Longitudinal field b (term -b_i Z_i)", "b_i"));
  PetscCall(ReadCoefficientOptions(PetscOptionsObject, &o->gamma, "Transverse field gamma (term -g_i X_i)", "g_i"));
  PetscCall(PetscOptionsReal("-qep_delta", "xxz anisotropy: bond term J (XX + YY + delta ZZ); heisenberg fixes 1, tfim ignores it", "QepModelSetFromOptions", o->delta,
                             &o->delta, &o->delta_set));
  PetscCall(PetscOptionsInt("-qep_seed", "Seed of the random couplings and fields (see the *_spread options)", "QepModelSetFromOptions", o->seed, &o->seed, NULL));
  o->ninputs = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_inputs", "Qubits q0,q1,... of the input features: H += x_k Z_{q_k} (layered default: first layer)", "QepModelSetFromOptions",
                                 o->inputs, &o->ninputs, &o->inputs_set));
  o->noutputs = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_outputs", "Qubits of the outputs y0,y1,... with y_o = Z_{q_o} (layered default: last layer)", "QepModelSetFromOptions",
                                 o->outputs, &o->noutputs, &o->outputs_set));
  PetscOptionsEnd();
  o->lattice = (Lattice)lattice;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckCoefficientSpec(QepModel m, const CoefficientSpec *c)
{
  PetscFunctionBegin;
  PetscCheck(!PetscIsInfOrNanReal(c->mean), m->comm, PETSC_ERR_USER_INPUT, "-qep_%s must be a finite number", c->option);
  PetscCheck(!PetscIsInfOrNanReal(c->spread) && c->spread >= 0.0, m->comm, PETSC_ERR_USER_INPUT,
             "-qep_%s_spread must be a finite number >= 0 (got %g); it is the half-width of the random values around -qep_%s", c->option, (double)c->spread,
             c->option);
  PetscFunctionReturn(0);
}

/* Qubit count implied by the lattice options, in 64 bits so huge extents cannot overflow. */
static PetscErrorCode LatticeQubitCount(QepModel m, const SpinOptions *o, PetscInt64 *n)
{
  PetscFunctionBegin;
  switch (o->lattice) {
  case LATTICE_SQUARE:
    PetscCheck(o->lx >= 1 && o->ly >= 1 && (PetscInt64)o->lx * o->ly >= 2, m->comm, PETSC_ERR_USER_INPUT,
               "Square lattice %" PetscInt_FMT "x%" PetscInt_FMT " is invalid; need -qep_lx >= 1, -qep_ly >= 1 and at least 2 qubits", o->lx, o->ly);
    *n = (PetscInt64)o->lx * o->ly;
    break;
  case LATTICE_LAYERED:
    PetscCheck(o->nlayers >= 2, m->comm, PETSC_ERR_USER_INPUT, "Layered lattice needs -qep_layers a,b,... with at least 2 layers (got %" PetscInt_FMT ")", o->nlayers);
    *n = 0;
    for (PetscInt l = 0; l < o->nlayers; l++) {
      PetscCheck(o->layers[l] >= 1, m->comm, PETSC_ERR_USER_INPUT, "Layer %" PetscInt_FMT " of -qep_layers has %" PetscInt_FMT " qubits; every layer needs >= 1", l,
                 o->layers[l]);
      *n += o->layers[l];
    }
    break;
  default:
    *n = o->n;
  }
  PetscFunctionReturn(0);
}

/* Sets the qubit count, reaching QepModelSetNumQubits' message (with its limit) even for a count
   that does not fit a PetscInt. */
static PetscErrorCode SetQubitCount(QepModel m, const SpinOptions *o, PetscInt64 n)
{
  PetscFunctionBegin;
  PetscCheck(n <= PETSC_MAX_INT, m->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Number of qubits %" PetscInt64_FMT " is out of range: this build allows 2 <= n <= %" PetscInt_FMT "%s", n, QepMaxQubits(),
             sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  PetscCall(QepModelSetNumQubits(m, (PetscInt)n));
  PetscCheck(o->lattice != LATTICE_RING || n >= 3, m->comm, PETSC_ERR_USER_INPUT,
             "Ring lattice needs -qep_n >= 3 (got %" PetscInt64_FMT "); for 2 qubits use -qep_lattice chain", n);
  PetscFunctionReturn(0);
}

/* Qubits of -qep_inputs/-qep_outputs must lie in [0, n) and be distinct. */
static PetscErrorCode CheckQubitList(QepModel m, const char option[], PetscInt count, const PetscInt q[], PetscInt n)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < count; k++) {
    PetscCheck(q[k] >= 0 && q[k] < n, m->comm, PETSC_ERR_USER_INPUT, "%s entry %" PetscInt_FMT " is qubit %" PetscInt_FMT ", outside the model's qubits 0..%" PetscInt_FMT, option, k,
               q[k], n - 1);
    for (PetscInt l = 0; l < k; l++)
      PetscCheck(q[l] != q[k], m->comm, PETSC_ERR_USER_INPUT, "%s lists qubit %" PetscInt_FMT " twice (entries %" PetscInt_FMT " and %" PetscInt_FMT "); qubits must be distinct",
                 option, q[k], l, k);
  }
  PetscFunctionReturn(0);
}

/* Layered lattice: inputs default to the first layer and outputs to the last. */
static void ApplyLayeredDefaults(SpinOptions *o, PetscInt n)
{
  if (o->lattice != LATTICE_LAYERED) return;
  if (!o->inputs_set) {
    o->ninputs = o->layers[0];
    for (PetscInt k = 0; k < o->ninputs; k++) o->inputs[k] = k;
  }
  if (!o->outputs_set) {
    o->noutputs = o->layers[o->nlayers - 1];
    for (PetscInt k = 0; k < o->noutputs; k++) o->outputs[k] = n - o->noutputs + k;
  }
}

/* Checks every option and sets the qubit count *nq; user mistakes fail here, before anything is built. */
static PetscErrorCode ValidateSpinOptions(QepModel m, SpinOptions *o, PetscInt *nq)
{
  PetscInt64 n;

  PetscFunctionBegin;
  PetscCall(CheckCoefficientSpec(m, &o->J));
  PetscCall(CheckCoefficientSpec(m, &o->b));
  PetscCall(CheckCoefficientSpec(m, &o->gamma));
  PetscCheck(!PetscIsInfOrNanReal(o->delta), m->comm, PETSC_ERR_USER_INPUT, "-qep_delta must be a finite number");
  PetscCheck(o->kind != SPIN_HEISENBERG || !o->delta_set || o->delta == 1.0, m->comm, PETSC_ERR_USER_INPUT,
             "The heisenberg model has delta = 1 (got -qep_delta %g); use -qep_model xxz -qep_delta %g for another anisotropy", (double)o->delta, (double)o->delta);
  PetscCall(LatticeQubitCount(m, o, &n));
  PetscCall(SetQubitCount(m, o, n));
  if (!o->inputs_set) o->ninputs = 0;
  if (!o->outputs_set) o->noutputs = 0;
  ApplyLayeredDefaults(o, (PetscInt)n);
  PetscCall(CheckQubitList(m, "-qep_inputs", o->ninputs, o->inputs, (PetscInt)n));
  PetscCall(CheckQubitList(m, "-qep_outputs", o->noutputs, o->outputs, (PetscInt)n));
  *nq = (PetscInt)n;
  PetscFunctionReturn(0);
}

/* Fills the bond list in the lattice's fixed order; the caller frees b->bi and b->bj. */
static PetscErrorCode BuildBonds(const SpinOptions *o, PetscInt n, QepBonds *b)
{
  PetscInt maxbonds = n * (n - 1) / 2; /* every lattice is a simple graph */

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(maxbonds, &b->bi, maxbonds, &b->bj));
  b->nbonds = 0;
  switch (o->lattice) {
  case LATTICE_CHAIN:
  case LATTICE_RING:
    QepBondsChain(b, n, o->lattice == LATTICE_RING ? PETSC_TRUE : PETSC_FALSE);
    break;
  case LATTICE_COMPLETE:
    QepBondsComplete(b, n);
    break;
  case LATTICE_SQUARE:
    QepBondsSquare(b, o->lx, o->ly, o->periodic);
    break;
  case LATTICE_LAYERED:
    QepBondsLayered(b, o->nlayers, o->layers);
    break;
  default:
    break;
  }
  PetscFunctionReturn(0);
}

static QepPauli TwoQubitString(char op, PetscInt i, PetscInt j)
{
  QepPauli p = {0, 0};
  (void)QepPauliSetFactor(&p, op, (int)i); /* cannot fail: op is a Pauli letter, i != j, both < n <= 62 */
  (void)QepPauliSetFactor(&p, op, (int)j);
  return p;
}

static QepPauli OneQubitString(char op, PetscInt i)
{
  QepPauli p = {0, 0};
  (void)QepPauliSetFactor(&p, op, (int)i);
  return p;
}

/* Adds sign * value * p for every (string, weight) of one bond or site: as a constant (skipped when
   zero) or through one new trainable parameter `name` that ties all the strings. */
static PetscErrorCode AddTiedTerms(QepModel m, const char name[], PetscBool trainable, PetscReal value, PetscInt nterms, const QepPauli p[], const PetscReal weight[])
{
  PetscInt k;

  PetscFunctionBegin;
  if (trainable) {
    PetscCall(QepModelAddParameter(m, name, value, &k));
    for (PetscInt t = 0; t < nterms; t++)
      if (weight[t] != 0.0) PetscCall(QepModelAddTerm(m, p[t], weight[t], QEP_VAR_PARAM, k));
  } else if (value != 0.0) {
    for (PetscInt t = 0; t < nterms; t++)
      if (weight[t] != 0.0) PetscCall(QepModelAddTerm(m, p[t], weight[t] * value, QEP_VAR_CONST, 0));
  }
  PetscFunctionReturn(0);
}

/* tfim bond: -J Z_i Z_j. xxz/heisenberg bond: J (X_i X_j + Y_i Y_j + delta Z_i Z_j). */
static PetscErrorCode AddBondTerms(QepModel m, const SpinOptions *o, const QepBonds *b)
{
  PetscFunctionBegin;
  for (PetscInt e = 0; e < b->nbonds; e++) {
    PetscInt  i = b->bi[e], j = b->bj[e];
    PetscReal J = CoefficientValue(&o->J, o->seed, e);
    char      name[QEP_NAME_LEN];
    PetscCall(PetscSNPrintf(name, sizeof(name), "J_%" PetscInt_FMT "_%" PetscInt_FMT, i, j));
    if (o->kind == SPIN_TFIM) {
      const QepPauli  p[1] = {TwoQubitString('Z', i, j)};
      const PetscReal w[1] = {-1.0};
      PetscCall(AddTiedTerms(m, name, o->J.trainable, J, 1, p, w));
    } else {
      const QepPauli  p[3] = {TwoQubitString('X', i, j), TwoQubitString('Y', i, j), TwoQubitString('Z', i, j)};
      const PetscReal w[3] = {1.0, 1.0, o->delta};
      PetscCall(AddTiedTerms(m, name, o->J.trainable, J, 3, p, w));
    }
  }
  PetscFunctionReturn(0);
}

/* Field -h_i P_i on every qubit (P = Z for b, X for gamma); trainable names are <prefix>_i. */
static PetscErrorCode AddFieldTerms(QepModel m, const SpinOptions *o, const CoefficientSpec *c, char op, const char prefix[], PetscInt n)
{
  const PetscReal w[1] = {-1.0};

  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++) {
    const QepPauli p[1] = {OneQubitString(op, i)};
    char           name[QEP_NAME_LEN];
    PetscCall(PetscSNPrintf(name, sizeof(name), "%s_%" PetscInt_FMT, prefix, i));
    PetscCall(AddTiedTerms(m, name, c->trainable, CoefficientValue(c, o->seed, i), 1, p, w));
  }
  PetscFunctionReturn(0);
}

/* Input feature k enters as x_k Z_{q_k}; output o is y<o> = Z_{q_o}. */
static PetscErrorCode AddInputsAndOutputs(QepModel m, const SpinOptions *o)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < o->ninputs; k++) PetscCall(QepModelAddTerm(m, OneQubitString('Z', o->inputs[k]), 1.0, QEP_VAR_INPUT, k));
  for (PetscInt k = 0; k < o->noutputs; k++) {
    char name[QEP_NAME_LEN];
    PetscCall(PetscSNPrintf(name, sizeof(name), "y%" PetscInt_FMT, k));
    PetscCall(QepModelAddOutputTerm(m, name, OneQubitString('Z', o->outputs[k]), 1.0));
  }
  PetscFunctionReturn(0);
}

static void DescribeCoefficient(char buf[], size_t len, const char label[], const CoefficientSpec *c)
{
  QepAppendFormat(buf, len, " %s=%g", label, (double)c->mean);
  if (c->spread > 0.0) QepAppendFormat(buf, len, "+-%g", (double)c->spread);
  if (c->trainable) QepAppendFormat(buf, len, "(trainable)");
}

/* One line such as "tfim chain n=20 J=1 b=0 gamma=1 seed=1" or
   "xxz square 3x3 periodic n=9 J=1+-0.2(trainable) delta=0.5 b=0 gamma=0 seed=4". */
static PetscErrorCode SetSpinDescription(QepModel m, const SpinOptions *o, PetscInt n)
{
  char buf[1024] = "";

  PetscFunctionBegin;
  QepAppendFormat(buf, sizeof(buf), "%s %s", o->type, LatticeNames[o->lattice]);
  if (o->lattice == LATTICE_SQUARE) QepAppendFormat(buf, sizeof(buf), " %lldx%lld %s", (long long)o->lx, (long long)o->ly, o->periodic ? "periodic" : "open");
  if (o->lattice == LATTICE_LAYERED)
    for (PetscInt l = 0; l < o->nlayers; l++) QepAppendFormat(buf, sizeof(buf), "%s%lld", l ? "," : " ", (long long)o->layers[l]);
  QepAppendFormat(buf, sizeof(buf), " n=%lld", (long long)n);
  DescribeCoefficient(buf, sizeof(buf), "J", &o->J);
  if (o->kind != SPIN_TFIM) QepAppendFormat(buf, sizeof(buf), " delta=%g", (double)o->delta);
  DescribeCoefficient(buf, sizeof(buf), "b", &o->b);
  DescribeCoefficient(buf, sizeof(buf), "gamma", &o->gamma);
  QepAppendFormat(buf, sizeof(buf), " seed=%lld", (long long)o->seed);
  if (o->ninputs || o->noutputs) QepAppendFormat(buf, sizeof(buf), " inputs=%lld outputs=%lld", (long long)o->ninputs, (long long)o->noutputs);
  PetscCall(QepModelSetDescription(m, buf));
  PetscFunctionReturn(0);
}

static PetscErrorCode GenerateSpinModel(QepModel m, SpinKind kind, const char type[])
{
  SpinOptions o;
  QepBonds    bonds;
  PetscInt    n = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  o.kind    = kind;
  o.type    = type;
  o.n       = 8;
  o.lx      = 4;
  o.ly      = 4;
  o.seed    = 1;
  o.delta   = kind == SPIN_HEISENBERG ? 1.0 : 0.5;
  o.J       = (CoefficientSpec){"J", 1.0, 0.0, PETSC_FALSE, STREAM_J};
  o.b       = (CoefficientSpec){"b", 0.0, 0.0, PETSC_FALSE, STREAM_B};
  o.gamma   = (CoefficientSpec){"gamma", kind == SPIN_TFIM ? 1.0 : 0.0, 0.0, PETSC_FALSE, STREAM_GAMMA};
  PetscCall(ReadSpinOptions(m, &o));
  PetscCall(ValidateSpinOptions(m, &o, &n));
  PetscCall(BuildBonds(&o, n, &bonds));
  PetscCall(AddBondTerms(m, &o, &bonds));
  PetscCall(PetscFree2(bonds.bi, bonds.bj));
  PetscCall(AddFieldTerms(m, &o, &o.b, 'Z', "b", n));
  PetscCall(AddFieldTerms(m, &o, &o.gamma, 'X', "g", n));
  PetscCall(AddInputsAndOutputs(m, &o));
  PetscCall(SetSpinDescription(m, &o, n));
  PetscFunctionReturn(0);
}

static PetscErrorCode GenerateTFIM(QepModel m)
{
  PetscFunctionBegin;
  PetscCall(GenerateSpinModel(m, SPIN_TFIM, "tfim"));
  PetscFunctionReturn(0);
}

static PetscErrorCode GenerateXXZ(QepModel m)
{
  PetscFunctionBegin;
  PetscCall(GenerateSpinModel(m, SPIN_XXZ, "xxz"));
  PetscFunctionReturn(0);
}

static PetscErrorCode GenerateHeisenberg(QepModel m)
{
  PetscFunctionBegin;
  PetscCall(GenerateSpinModel(m, SPIN_HEISENBERG, "heisenberg"));
  PetscFunctionReturn(0);
}

/* The built-in models by -qep_model name. Extension point: add a row per new model. */
static const struct {
  const char *name;
  PetscErrorCode (*generate)(QepModel);
} Generators[] = {
  {"tfim",       GenerateTFIM      },
  {"xxz",        GenerateXXZ       },
  {"heisenberg", GenerateHeisenberg},
};
#define NUM_GENERATORS ((PetscInt)(sizeof(Generators) / sizeof(Generators[0])))

PetscErrorCode QepModelGenerateFromOptions(QepModel m, const char type[])
{
  PetscInt g;
  char     known[256] = "";

  PetscFunctionBegin;
  for (g = 0; g < NUM_GENERATORS; g++) {
    PetscBool match;
    PetscCall(PetscStrcasecmp(type, Generators[g].name, &match));
    if (match) break;
  }
  if (g == NUM_GENERATORS) {
    for (PetscInt k = 0; k < NUM_GENERATORS; k++) {
      if (k) PetscCall(PetscStrlcat(known, ", ", sizeof(known)));
      PetscCall(PetscStrlcat(known, Generators[k].name, sizeof(known)));
    }
    SETERRQ(m->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "Unknown model '%s' in -qep_model; the built-in models are %s (or read a model with -qep_model_file FILE)", type, known);
  }
  PetscCall(PetscLogEventBegin(QEP_ModelGenerate, 0, 0, 0, 0));
  PetscCall(QepModelReset(m));
  PetscCall(Generators[g].generate(m));
  PetscCall(QepModelFinalize(m));
  PetscCall(PetscLogEventEnd(QEP_ModelGenerate, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
