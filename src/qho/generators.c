/* generators.c — built-in oscillator networks (`-qep_model qho` without -qep_qho_file): chain, ring,
 * square lattice, random graph and layered networks of identical masses with coupling springs, springs
 * to the ground, optional rest lengths, bias forces, quartic terms, inputs and outputs.
 *
 * Invariant: the network depends on the options only. Bonds are enumerated in a fixed order and random
 * stiffnesses / random graph edges come from QepRandomUniform(seed, stream, global index), never from
 * the rank. Elements are added only through the public building API (qep/qho.h), so a generated
 * network is exactly what an oscillator file can say (-qep_qho_write writes it). */
#include "qhomodel.h"

#define STREAM_K     11 /* coupling stiffness spread */
#define STREAM_K0    12 /* ground stiffness spread */
#define STREAM_GRAPH 13 /* random-graph endpoints */
#define MAX_LIST     4096 /* capacity of -qep_layers / -qep_qho_inputs / -qep_qho_outputs */

typedef enum { LATTICE_CHAIN, LATTICE_RING, LATTICE_SQUARE, LATTICE_RANDOM, LATTICE_LAYERED, LATTICE_COUNT } Lattice;
static const char *const LatticeNames[] = {"chain", "ring", "square", "random", "layered"};

/* A stiffness: value_e = mean + spread (2u − 1), u = QepRandomUniform(seed, stream, e). */
typedef struct {
  PetscReal  mean, spread;
  PetscBool  trainable;
  PetscInt64 stream;
} Spec;

typedef struct {
  Lattice   lattice;
  PetscInt  n, lx, ly, nlayers, ninputs, noutputs, seed;
  PetscReal degree, hbar, gain;
  PetscBool periodic, inputs_set, outputs_set;
  PetscInt  layers[MAX_LIST], inputs[MAX_LIST], outputs[MAX_LIST];
  Spec      k, k0;
  PetscReal mass, rest, bias, quartic;
  PetscBool mass_trainable, rest_trainable, bias_trainable, quartic_trainable;
} QhoOptions;

static PetscReal SpecValue(const Spec *s, PetscInt64 seed, PetscInt64 counter)
{
  if (s->spread == 0.0) return s->mean;
  return s->mean + s->spread * (2.0 * (PetscReal)QepRandomUniform(seed, s->stream, counter) - 1.0);
}

static PetscErrorCode ReadOptions(QepQho q, QhoOptions *o)
{
  PetscInt lattice = LATTICE_CHAIN;

  PetscFunctionBegin;
  PetscOptionsBegin(q->comm, NULL, "QEP oscillator-network generator (-qep_model qho)", "QepQho");
  PetscCall(PetscOptionsEList("-qep_lattice", "Network: chain, ring, square, random or layered", "QepQhoSetFromOptions", LatticeNames, LATTICE_COUNT, LatticeNames[lattice], &lattice, NULL));
  PetscCall(PetscOptionsInt("-qep_n", "Number of modes (square: a perfect square L*L unless -qep_lx/-qep_ly are given)", "QepQhoSetFromOptions", o->n, &o->n, NULL));
  PetscCall(PetscOptionsInt("-qep_lx", "Square lattice: extent in x (mode = x + LX*y)", "QepQhoSetFromOptions", o->lx, &o->lx, NULL));
  PetscCall(PetscOptionsInt("-qep_ly", "Square lattice: extent in y", "QepQhoSetFromOptions", o->ly, &o->ly, NULL));
  PetscCall(PetscOptionsBool("-qep_periodic", "Square lattice: wrap both directions (each only where its extent is >= 3)", "QepQhoSetFromOptions", o->periodic, &o->periodic, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_degree", "Random graph: mean degree (n*degree/2 random pairs, duplicates dropped)", "QepQhoSetFromOptions", o->degree, &o->degree, NULL));
  o->nlayers = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_layers", "Layered network: layer sizes a,b,...,c (>= 2 layers); adjacent layers are fully coupled", "QepQhoSetFromOptions", o->layers, &o->nlayers, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_k", "Stiffness of every coupling spring (mean)", "QepQhoSetFromOptions", o->k.mean, &o->k.mean, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_k_spread", "Half-width w of uniform random coupling stiffnesses in [k-w, k+w]", "QepQhoSetFromOptions", o->k.spread, &o->k.spread, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_k_trainable", "Each coupling stiffness its own parameter k_i_j", "QepQhoSetFromOptions", o->k.trainable, &o->k.trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_k0", "Stiffness of every spring to the ground (mean)", "QepQhoSetFromOptions", o->k0.mean, &o->k0.mean, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_k0_spread", "Half-width w of uniform random ground stiffnesses in [k0-w, k0+w]", "QepQhoSetFromOptions", o->k0.spread, &o->k0.spread, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_k0_trainable", "Each ground stiffness its own parameter k0_i", "QepQhoSetFromOptions", o->k0.trainable, &o->k0.trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_mass", "Mass of every mode (> 0)", "QepQhoSetFromOptions", o->mass, &o->mass, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_mass_trainable", "Each mass its own parameter m_i", "QepQhoSetFromOptions", o->mass_trainable, &o->mass_trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_rest", "Rest length of every coupling spring", "QepQhoSetFromOptions", o->rest, &o->rest, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_rest_trainable", "Each rest length its own parameter l_i_j", "QepQhoSetFromOptions", o->rest_trainable, &o->rest_trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_bias", "Constant force on every mode", "QepQhoSetFromOptions", o->bias, &o->bias, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_bias_trainable", "Each bias force its own parameter f_i", "QepQhoSetFromOptions", o->bias_trainable, &o->bias_trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_quartic", "Quartic coefficient lambda >= 0 of every mode (needs -qep_qho_solver fock)", "QepQhoSetFromOptions", o->quartic, &o->quartic, NULL));
  PetscCall(PetscOptionsBool("-qep_qho_quartic_trainable", "Each quartic coefficient its own parameter q_i", "QepQhoSetFromOptions", o->quartic_trainable, &o->quartic_trainable, NULL));
  PetscCall(PetscOptionsReal("-qep_hbar", "Planck constant hbar (> 0; 0 = classical limit)", "QepQhoSetHbar", o->hbar, &o->hbar, NULL));
  PetscCall(PetscOptionsReal("-qep_qho_input_gain", "Input feature x_a enters as the force gain * x_a on its mode", "QepQhoSetFromOptions", o->gain, &o->gain, NULL));
  o->ninputs = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_qho_inputs", "Modes i0,i1,... driven by the input features: force gain*x_a on mode i_a (layered default: first layer)", "QepQhoSetFromOptions",
                                 o->inputs, &o->ninputs, &o->inputs_set));
  o->noutputs = MAX_LIST;
  PetscCall(PetscOptionsIntArray("-qep_qho_outputs", "Modes whose positions are the outputs y0,y1,... (layered default: last layer)", "QepQhoSetFromOptions", o->outputs, &o->noutputs,
                                 &o->outputs_set));
  PetscCall(PetscOptionsInt("-qep_seed", "Seed of random stiffnesses and random graphs", "QepQhoSetFromOptions", o->seed, &o->seed, NULL));
  PetscOptionsEnd();
  o->lattice = (Lattice)lattice;
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckReal(QepQho q, PetscReal v, const char option[])
{
  PetscFunctionBegin;
  PetscCheck(!PetscIsInfOrNanReal(v), q->comm, PETSC_ERR_USER_INPUT, "%s must be a finite number", option);
  PetscFunctionReturn(0);
}

static PetscErrorCode ModeCount(QepQho q, QhoOptions *o, PetscInt64 *n)
{
  PetscFunctionBegin;
  switch (o->lattice) {
  case LATTICE_SQUARE:
    if (!o->lx && !o->ly) {
      PetscInt L = (PetscInt)PetscFloorReal(PetscSqrtReal((PetscReal)o->n) + 0.5);
      PetscCheck(L * L == o->n, q->comm, PETSC_ERR_USER_INPUT, "Square lattice: -qep_n %" PetscInt_FMT " is not a perfect square; give -qep_n L*L or -qep_lx and -qep_ly", o->n);
      o->lx = o->ly = L;
    }
    PetscCheck(o->lx >= 1 && o->ly >= 1, q->comm, PETSC_ERR_USER_INPUT, "Square lattice %" PetscInt_FMT "x%" PetscInt_FMT " is invalid; need -qep_lx >= 1 and -qep_ly >= 1", o->lx, o->ly);
    *n = (PetscInt64)o->lx * o->ly;
    break;
  case LATTICE_LAYERED:
    PetscCheck(o->nlayers >= 2, q->comm, PETSC_ERR_USER_INPUT, "Layered network needs -qep_layers a,b,... with at least 2 layers (got %" PetscInt_FMT ")", o->nlayers);
    *n = 0;
    for (PetscInt l = 0; l < o->nlayers; l++) {
      PetscCheck(o->layers[l] >= 1, q->comm, PETSC_ERR_USER_INPUT, "Layer %" PetscInt_FMT " of -qep_layers has %" PetscInt_FMT " modes; every layer needs >= 1", l, o->layers[l]);
      *n += o->layers[l];
    }
    break;
  default: *n = o->n;
  }
  PetscCheck(*n >= 1 && *n <= PETSC_MAX_INT / 8, q->comm, PETSC_ERR_ARG_OUTOFRANGE, "Number of modes %" PetscInt64_FMT " is out of range; allowed 1..%d", *n, (int)(PETSC_MAX_INT / 8));
  PetscCheck(o->lattice != LATTICE_RING || *n >= 3, q->comm, PETSC_ERR_USER_INPUT, "Ring needs -qep_n >= 3 (got %" PetscInt64_FMT "); for 2 modes use -qep_lattice chain", *n);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckModeList(QepQho q, const char option[], PetscInt count, const PetscInt m[], PetscInt n)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < count; k++) {
    PetscCheck(m[k] >= 0 && m[k] < n, q->comm, PETSC_ERR_USER_INPUT, "%s entry %" PetscInt_FMT " is mode %" PetscInt_FMT ", outside the network's modes 0..%" PetscInt_FMT, option, k, m[k], n - 1);
    for (PetscInt l = 0; l < k; l++)
      PetscCheck(m[l] != m[k], q->comm, PETSC_ERR_USER_INPUT, "%s lists mode %" PetscInt_FMT " twice (entries %" PetscInt_FMT " and %" PetscInt_FMT "); modes must be distinct", option, m[k], l, k);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Validate(QepQho q, QhoOptions *o, PetscInt *nmodes)
{
  PetscInt64 n;

  PetscFunctionBegin;
  PetscCall(CheckReal(q, o->k.mean, "-qep_qho_k"));
  PetscCall(CheckReal(q, o->k0.mean, "-qep_qho_k0"));
  PetscCall(CheckReal(q, o->rest, "-qep_qho_rest"));
  PetscCall(CheckReal(q, o->bias, "-qep_qho_bias"));
  PetscCall(CheckReal(q, o->gain, "-qep_qho_input_gain"));
  PetscCheck(o->k.spread >= 0 && o->k0.spread >= 0 && !PetscIsInfOrNanReal(o->k.spread + o->k0.spread), q->comm, PETSC_ERR_USER_INPUT,
             "-qep_qho_k_spread and -qep_qho_k0_spread are half-widths: finite numbers >= 0");
  PetscCheck(o->mass > 0 && !PetscIsInfOrNanReal(o->mass), q->comm, PETSC_ERR_USER_INPUT, "-qep_qho_mass %g is invalid; masses must be positive", (double)o->mass);
  PetscCheck(o->quartic >= 0 && !PetscIsInfOrNanReal(o->quartic), q->comm, PETSC_ERR_USER_INPUT, "-qep_qho_quartic %g is invalid; lambda >= 0 (a negative x^4 term has no ground state)",
             (double)o->quartic);
  PetscCheck(o->hbar >= 0 && !PetscIsInfOrNanReal(o->hbar), q->comm, PETSC_ERR_USER_INPUT, "-qep_hbar %g is invalid; hbar > 0 (or 0 for the classical limit)", (double)o->hbar);
  PetscCheck(o->lattice != LATTICE_RANDOM || (o->degree > 0 && !PetscIsInfOrNanReal(o->degree)), q->comm, PETSC_ERR_USER_INPUT, "-qep_qho_degree must be positive");
  PetscCall(ModeCount(q, o, &n));
  if (!o->inputs_set) o->ninputs = 0;
  if (!o->outputs_set) o->noutputs = 0;
  if (o->lattice == LATTICE_LAYERED) {
    if (!o->inputs_set) {
      o->ninputs = o->layers[0];
      for (PetscInt k = 0; k < o->ninputs; k++) o->inputs[k] = k;
    }
    if (!o->outputs_set) {
      o->noutputs = o->layers[o->nlayers - 1];
      for (PetscInt k = 0; k < o->noutputs; k++) o->outputs[k] = (PetscInt)n - o->noutputs + k;
    }
  }
  PetscCall(CheckModeList(q, "-qep_qho_inputs", o->ninputs, o->inputs, (PetscInt)n));
  PetscCall(CheckModeList(q, "-qep_qho_outputs", o->noutputs, o->outputs, (PetscInt)n));
  *nmodes = (PetscInt)n;
  PetscFunctionReturn(0);
}

/* Random graph: round(n·degree/2) endpoint pairs drawn from (seed, STREAM_GRAPH, 2e / 2e+1); self pairs
 * dropped, duplicates merged, sorted by (i, j). */
static PetscErrorCode RandomBonds(const QhoOptions *o, PetscInt n, QepBonds *b)
{
  PetscInt64 draws = (PetscInt64)PetscFloorReal(0.5 * n * o->degree + 0.5);
  PetscInt64 *keys;
  PetscInt   nk = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(PetscMax(draws, 1), &keys));
  for (PetscInt64 e = 0; e < draws; e++) {
    PetscInt i = (PetscInt)(QepRandomUniform(o->seed, STREAM_GRAPH, 2 * e) * n), j = (PetscInt)(QepRandomUniform(o->seed, STREAM_GRAPH, 2 * e + 1) * n);
    if (i != j) keys[nk++] = (PetscInt64)PetscMin(i, j) * n + PetscMax(i, j);
  }
  PetscCall(PetscSortInt64(nk, keys));
  for (PetscInt e = 0; e < nk; e++)
    if (e == 0 || keys[e] != keys[e - 1]) QepBondsAdd(b, (PetscInt)(keys[e] / n), (PetscInt)(keys[e] % n));
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildBonds(const QhoOptions *o, PetscInt n, QepBonds *b)
{
  PetscInt64 cap;

  PetscFunctionBegin;
  switch (o->lattice) {
  case LATTICE_SQUARE: cap = 2 * (PetscInt64)n; break;
  case LATTICE_RANDOM: cap = (PetscInt64)(0.5 * n * o->degree + 1); break;
  case LATTICE_LAYERED:
    cap = 0;
    for (PetscInt l = 0; l + 1 < o->nlayers; l++) cap += (PetscInt64)o->layers[l] * o->layers[l + 1];
    break;
  default: cap = n;
  }
  PetscCall(PetscMalloc2(PetscMax(cap, 1), &b->bi, PetscMax(cap, 1), &b->bj));
  b->nbonds = 0;
  switch (o->lattice) {
  case LATTICE_CHAIN:
  case LATTICE_RING: QepBondsChain(b, n, o->lattice == LATTICE_RING ? PETSC_TRUE : PETSC_FALSE); break;
  case LATTICE_SQUARE: QepBondsSquare(b, o->lx, o->ly, o->periodic); break;
  case LATTICE_RANDOM: PetscCall(RandomBonds(o, n, b)); break;
  case LATTICE_LAYERED: QepBondsLayered(b, o->nlayers, o->layers); break;
  default: break;
  }
  PetscFunctionReturn(0);
}

/* value as a constant, or as a new parameter `name` (factor 1) when trainable. */
static PetscErrorCode MakeCoef(QepQho q, PetscBool trainable, const char name[], PetscReal value, QepQhoCoef *c)
{
  PetscInt k;

  PetscFunctionBegin;
  if (!trainable) *c = QepQhoConst(value);
  else {
    PetscCall(QepQhoAddParameter(q, name, value, &k));
    *c = QepQhoParam(k, 1.0);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode AddCouplings(QepQho q, const QhoOptions *o, const QepBonds *b)
{
  char name[QEP_NAME_LEN];

  PetscFunctionBegin;
  for (PetscInt e = 0; e < b->nbonds; e++) {
    QepQhoCoef k, l;
    PetscCall(PetscSNPrintf(name, sizeof(name), "k_%" PetscInt_FMT "_%" PetscInt_FMT, b->bi[e], b->bj[e]));
    PetscCall(MakeCoef(q, o->k.trainable, name, SpecValue(&o->k, o->seed, e), &k));
    PetscCall(PetscSNPrintf(name, sizeof(name), "l_%" PetscInt_FMT "_%" PetscInt_FMT, b->bi[e], b->bj[e]));
    PetscCall(MakeCoef(q, o->rest_trainable, name, o->rest, &l));
    PetscCall(QepQhoAddSpring(q, b->bi[e], b->bj[e], k, l));
  }
  PetscFunctionReturn(0);
}

/* Ground springs, masses, bias forces and quartic terms, mode by mode (zero constants are skipped). */
static PetscErrorCode AddOnsite(QepQho q, const QhoOptions *o, PetscInt n)
{
  char name[QEP_NAME_LEN];

  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++) {
    QepQhoCoef c;
    PetscReal  k0 = SpecValue(&o->k0, o->seed, i);
    if (o->k0.trainable || k0 != 0) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "k0_%" PetscInt_FMT, i));
      PetscCall(MakeCoef(q, o->k0.trainable, name, k0, &c));
      PetscCall(QepQhoAddGroundSpring(q, i, c, QepQhoConst(0.0)));
    }
    if (o->mass_trainable || o->mass != 1.0) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "m_%" PetscInt_FMT, i));
      PetscCall(MakeCoef(q, o->mass_trainable, name, o->mass, &c));
      PetscCall(QepQhoSetMass(q, i, c));
    }
    if (o->bias_trainable || o->bias != 0) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "f_%" PetscInt_FMT, i));
      PetscCall(MakeCoef(q, o->bias_trainable, name, o->bias, &c));
      PetscCall(QepQhoAddForce(q, i, c));
    }
    if (o->quartic_trainable || o->quartic != 0) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "q_%" PetscInt_FMT, i));
      PetscCall(MakeCoef(q, o->quartic_trainable, name, o->quartic, &c));
      PetscCall(QepQhoAddQuartic(q, i, c));
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode AddInputsOutputs(QepQho q, const QhoOptions *o)
{
  char name[QEP_NAME_LEN];

  PetscFunctionBegin;
  for (PetscInt a = 0; a < o->ninputs; a++) PetscCall(QepQhoAddForce(q, o->inputs[a], (QepQhoCoef){QEP_VAR_INPUT, a, o->gain}));
  for (PetscInt k = 0; k < o->noutputs; k++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "y%" PetscInt_FMT, k));
    PetscCall(QepQhoAddOutput(q, name, o->outputs[k]));
  }
  PetscFunctionReturn(0);
}

static void DescribeSpec(char buf[], size_t len, const char label[], const Spec *s)
{
  QepAppendFormat(buf, len, " %s=%g", label, (double)s->mean);
  if (s->spread > 0) QepAppendFormat(buf, len, "+-%g", (double)s->spread);
  if (s->trainable) QepAppendFormat(buf, len, "(trainable)");
}

/* e.g. "qho square 32x32 open n=1024 k=1 k0=1 m=1 hbar=1 seed=1" */
static PetscErrorCode SetDescription(QepQho q, const QhoOptions *o, PetscInt n)
{
  char buf[1024] = "";

  PetscFunctionBegin;
  QepAppendFormat(buf, sizeof(buf), "qho %s", LatticeNames[o->lattice]);
  if (o->lattice == LATTICE_SQUARE) QepAppendFormat(buf, sizeof(buf), " %lldx%lld %s", (long long)o->lx, (long long)o->ly, o->periodic ? "periodic" : "open");
  if (o->lattice == LATTICE_RANDOM) QepAppendFormat(buf, sizeof(buf), " degree=%g", (double)o->degree);
  if (o->lattice == LATTICE_LAYERED)
    for (PetscInt l = 0; l < o->nlayers; l++) QepAppendFormat(buf, sizeof(buf), "%s%lld", l ? "," : " ", (long long)o->layers[l]);
  QepAppendFormat(buf, sizeof(buf), " n=%lld", (long long)n);
  DescribeSpec(buf, sizeof(buf), "k", &o->k);
  DescribeSpec(buf, sizeof(buf), "k0", &o->k0);
  QepAppendFormat(buf, sizeof(buf), " m=%g%s", (double)o->mass, o->mass_trainable ? "(trainable)" : "");
  if (o->rest != 0 || o->rest_trainable) QepAppendFormat(buf, sizeof(buf), " rest=%g%s", (double)o->rest, o->rest_trainable ? "(trainable)" : "");
  if (o->bias != 0 || o->bias_trainable) QepAppendFormat(buf, sizeof(buf), " bias=%g%s", (double)o->bias, o->bias_trainable ? "(trainable)" : "");
  if (o->quartic != 0 || o->quartic_trainable) QepAppendFormat(buf, sizeof(buf), " quartic=%g%s", (double)o->quartic, o->quartic_trainable ? "(trainable)" : "");
  QepAppendFormat(buf, sizeof(buf), " hbar=%g seed=%lld", (double)o->hbar, (long long)o->seed);
  if (o->ninputs || o->noutputs) QepAppendFormat(buf, sizeof(buf), " inputs=%lld outputs=%lld", (long long)o->ninputs, (long long)o->noutputs);
  PetscCall(QepQhoSetDescription(q, buf));
  PetscFunctionReturn(0);
}

static PetscErrorCode Generate(QepQho q)
{
  QhoOptions o;
  QepBonds   bonds;
  PetscInt   n = 0;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  o.n      = 8;
  o.seed   = 1;
  o.degree = 4;
  o.hbar   = 1;
  o.gain   = 1;
  o.mass   = 1;
  o.k      = (Spec){1.0, 0.0, PETSC_FALSE, STREAM_K};
  o.k0     = (Spec){1.0, 0.0, PETSC_FALSE, STREAM_K0};
  PetscCall(ReadOptions(q, &o));
  PetscCall(Validate(q, &o, &n));
  PetscCall(QepQhoReset(q));
  PetscCall(QepQhoSetNumModes(q, n));
  PetscCall(QepQhoSetHbar(q, o.hbar));
  PetscCall(BuildBonds(&o, n, &bonds));
  PetscCall(AddCouplings(q, &o, &bonds));
  PetscCall(PetscFree2(bonds.bi, bonds.bj));
  PetscCall(AddOnsite(q, &o, n));
  PetscCall(AddInputsOutputs(q, &o));
  PetscCall(SetDescription(q, &o, n));
  PetscCall(QepQhoFinalize(q));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoGenerateFromOptions(QepQho q)
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(QEP_ModelGenerate, 0, 0, 0, 0));
  ierr = Generate(q);
  PetscCall(PetscLogEventEnd(QEP_ModelGenerate, 0, 0, 0, 0));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
