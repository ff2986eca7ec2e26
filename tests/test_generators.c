/* test_generators.c — the built-in model generators (src/model/generators.c) against hand-written
 * expectations: exact Pauli strings (x/z masks), couplings (kind, index, factor), parameter names and
 * values, inputs and outputs, for every lattice and model; random spreads against QepRandomUniform
 * evaluated here; seed reproducibility; and that every rank holds the identical model.
 *
 * Modes:
 *   (default)   runs every positive case, setting the options in-process between cases;
 *   -build      builds one model from the command-line options and views it (the error cases of
 *               tests/generators.cmake use this to check the user-facing messages). */
#include <slepcsys.h>
#include <qep/qep.h>

#define B(q)          ((uint64_t)1 << (q))
#define PX(i)         ((QepPauli){B(i), 0})
#define PZ(i)         ((QepPauli){0, B(i)})
#define PXX(i, j)     ((QepPauli){B(i) | B(j), 0})
#define PYY(i, j)     ((QepPauli){B(i) | B(j), B(i) | B(j)})
#define PZZ(i, j)     ((QepPauli){0, B(i) | B(j)})
#define TOL           1e-14

/* These mirror the documented random streams of the generators (J 1, b 2, gamma 3). */
#define STREAM_J     1
#define STREAM_B     2
#define STREAM_GAMMA 3

#include "check.h"

/* One expected coupling: factor * {1 | theta_index | x_index} * p. */
typedef struct {
  QepPauli   p;
  QepVarKind kind;
  PetscInt   index;
  PetscReal  factor;
} Expected;

#define EC(p, f)   {p, QEP_VAR_CONST, 0, f}
#define EP(p, k, f) {p, QEP_VAR_PARAM, k, f}
#define EI(p, k, f) {p, QEP_VAR_INPUT, k, f}

/* Replaces the whole options database by `opts` and builds a fresh model from it. */
static PetscErrorCode Generate(const char opts[], QepModel *m)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, m));
  PetscCall(QepModelSetFromOptions(*m));
  PetscFunctionReturn(0);
}

/* The couplings must be exactly `expect`, in order, and the model must have nstrings distinct strings. */
static PetscErrorCode ExpectCouplings(const char label[], QepModel m, PetscInt nstrings, PetscInt nexp, const Expected expect[])
{
  PetscInt           ns, nc;
  const QepPauli    *s;
  const QepCoupling *c;

  PetscFunctionBegin;
  PetscCall(QepModelGetStrings(m, &ns, &s));
  PetscCall(QepModelGetCouplings(m, &nc, &c));
  CHECK(ns == nstrings, "%s: %" PetscInt_FMT " strings, expected %" PetscInt_FMT, label, ns, nstrings);
  CHECK(nc == nexp, "%s: %" PetscInt_FMT " couplings, expected %" PetscInt_FMT, label, nc, nexp);
  for (PetscInt k = 0; k < PetscMin(nc, nexp); k++) {
    QepPauli p = s[c[k].string];
    CHECK(p.x == expect[k].p.x && p.z == expect[k].p.z, "%s: coupling %" PetscInt_FMT " string x=%#llx z=%#llx, expected x=%#llx z=%#llx", label, k, (unsigned long long)p.x,
          (unsigned long long)p.z, (unsigned long long)expect[k].p.x, (unsigned long long)expect[k].p.z);
    CHECK(c[k].kind == expect[k].kind, "%s: coupling %" PetscInt_FMT " kind %d, expected %d", label, k, (int)c[k].kind, (int)expect[k].kind);
    CHECK(expect[k].kind == QEP_VAR_CONST || c[k].index == expect[k].index, "%s: coupling %" PetscInt_FMT " index %" PetscInt_FMT ", expected %" PetscInt_FMT, label, k, c[k].index,
          expect[k].index);
    CHECK(PetscAbsReal(c[k].factor - expect[k].factor) <= TOL, "%s: coupling %" PetscInt_FMT " factor %.17g, expected %.17g", label, k, (double)c[k].factor, (double)expect[k].factor);
  }
  PetscFunctionReturn(0);
}

/* Parameter names and initial values (values==NULL: names only). */
static PetscErrorCode ExpectParameters(const char label[], QepModel m, PetscInt nexp, const char *const names[], const PetscReal values[])
{
  PetscInt   np;
  PetscReal *theta;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(m, &np));
  CHECK(np == nexp, "%s: %" PetscInt_FMT " parameters, expected %" PetscInt_FMT, label, np, nexp);
  PetscCall(PetscMalloc1(np + 1, &theta));
  PetscCall(QepModelGetParameters(m, theta));
  for (PetscInt k = 0; k < PetscMin(np, nexp); k++) {
    const char *name;
    PetscBool   same;
    PetscCall(QepModelGetParameterName(m, k, &name));
    PetscCall(PetscStrcmp(name, names[k], &same));
    CHECK(same, "%s: parameter %" PetscInt_FMT " is '%s', expected '%s'", label, k, name, names[k]);
    if (values) CHECK(PetscAbsReal(theta[k] - values[k]) <= TOL, "%s: parameter %s = %.17g, expected %.17g", label, names[k], (double)theta[k], (double)values[k]);
  }
  PetscCall(PetscFree(theta));
  PetscFunctionReturn(0);
}

static PetscErrorCode ExpectSizes(const char label[], QepModel m, PetscInt nqubits, PetscInt ninputs, PetscInt noutputs)
{
  PetscInt n, ni, no;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(m, &n));
  PetscCall(QepModelGetNumInputs(m, &ni));
  PetscCall(QepModelGetNumOutputs(m, &no));
  CHECK(n == nqubits, "%s: %" PetscInt_FMT " qubits, expected %" PetscInt_FMT, label, n, nqubits);
  CHECK(ni == ninputs, "%s: %" PetscInt_FMT " inputs, expected %" PetscInt_FMT, label, ni, ninputs);
  CHECK(no == noutputs, "%s: %" PetscInt_FMT " outputs, expected %" PetscInt_FMT, label, no, noutputs);
  PetscFunctionReturn(0);
}

/* Output o must be named `name` and equal exactly 1 * Z_q. */
static PetscErrorCode ExpectOutputZ(const char label[], QepModel m, PetscInt o, const char name[], PetscInt q)
{
  const char        *oname;
  const QepPauliSum *sum;
  PetscBool          same;

  PetscFunctionBegin;
  PetscCall(QepModelGetOutput(m, o, &oname, &sum));
  PetscCall(PetscStrcmp(oname, name, &same));
  CHECK(same, "%s: output %" PetscInt_FMT " is '%s', expected '%s'", label, o, oname, name);
  CHECK(sum->n == 1 && sum->strings[0].x == 0 && sum->strings[0].z == B(q) && sum->coeffs[0] == 1.0, "%s: output %s is not exactly Z%" PetscInt_FMT, label, name, q);
  PetscFunctionReturn(0);
}

static PetscErrorCode ExpectDescription(const char label[], QepModel m, const char expected[])
{
  const char *d;
  PetscBool   same;

  PetscFunctionBegin;
  PetscCall(QepModelGetDescription(m, &d));
  PetscCall(PetscStrcmp(d, expected, &same));
  CHECK(same, "%s: description '%s', expected '%s'", label, d, expected);
  PetscFunctionReturn(0);
}

/* Collects the ZZ bonds (weight-2 Z strings) of a model as an n x n 0/1 adjacency matrix. */
static PetscErrorCode ZZAdjacency(QepModel m, PetscInt n, PetscInt adj[], PetscInt *nbonds)
{
  PetscInt        ns;
  const QepPauli *s;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(adj, n * n));
  PetscCall(QepModelGetStrings(m, &ns, &s));
  *nbonds = 0;
  for (PetscInt t = 0; t < ns; t++) {
    if (s[t].x || __builtin_popcountll(s[t].z) != 2) continue;
    PetscInt i = __builtin_ctzll(s[t].z), j = 63 - __builtin_clzll(s[t].z);
    adj[i * n + j] = adj[j * n + i] = 1;
    (*nbonds)++;
  }
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- cases */

static PetscErrorCode TestTfimChainUniform(void)
{
  QepModel       m;
  const Expected expect[] = {EC(PZZ(0, 1), -1), EC(PZZ(1, 2), -1), EC(PZZ(2, 3), -1), EC(PX(0), -1), EC(PX(1), -1), EC(PX(2), -1), EC(PX(3), -1)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_model tfim -qep_n 4", &m));
  PetscCall(ExpectSizes("tfim chain 4", m, 4, 0, 0));
  PetscCall(ExpectCouplings("tfim chain 4", m, 7, 7, expect));
  PetscCall(ExpectParameters("tfim chain 4", m, 0, NULL, NULL));
  PetscCall(ExpectDescription("tfim chain 4", m, "tfim chain n=4 J=1 b=0 gamma=1 seed=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Default model (no options at all): tfim chain n=8. */
static PetscErrorCode TestDefaults(void)
{
  QepModel m;
  Expected expect[15];

  PetscFunctionBegin;
  for (PetscInt i = 0; i < 7; i++) expect[i] = (Expected)EC(PZZ(i, i + 1), -1);
  for (PetscInt i = 0; i < 8; i++) expect[7 + i] = (Expected)EC(PX(i), -1);
  PetscCall(Generate("", &m));
  PetscCall(ExpectSizes("defaults", m, 8, 0, 0));
  PetscCall(ExpectCouplings("defaults", m, 15, 15, expect));
  PetscCall(ExpectDescription("defaults", m, "tfim chain n=8 J=1 b=0 gamma=1 seed=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Fixed J and b, zero gamma: no X terms at all, b enters as -b Z_i. */
static PetscErrorCode TestTfimFieldsAndZeroSkip(void)
{
  QepModel       m;
  const Expected expect[] = {EC(PZZ(0, 1), -0.7), EC(PZZ(1, 2), -0.7), EC(PZ(0), -0.3), EC(PZ(1), -0.3), EC(PZ(2), -0.3)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_n 3 -qep_J 0.7 -qep_b 0.3 -qep_gamma 0", &m));
  PetscCall(ExpectCouplings("tfim fields", m, 5, 5, expect));
  PetscCall(ExpectDescription("tfim fields", m, "tfim chain n=3 J=0.7 b=0.3 gamma=0 seed=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Trainable J (one parameter per bond, -1 * J_i_j Z_i Z_j) and trainable b starting at 0 (its terms
   must exist). */
static PetscErrorCode TestTfimTrainable(void)
{
  QepModel          m;
  const Expected    expect[]    = {EP(PZZ(0, 1), 0, -1), EP(PZZ(1, 2), 1, -1), EP(PZZ(2, 3), 2, -1), EP(PZ(0), 3, -1), EP(PZ(1), 4, -1), EP(PZ(2), 5, -1), EP(PZ(3), 6, -1),
                               EC(PX(0), -0.5),      EC(PX(1), -0.5),      EC(PX(2), -0.5),      EC(PX(3), -0.5)};
  const char *const names[]  = {"J_0_1", "J_1_2", "J_2_3", "b_0", "b_1", "b_2", "b_3"};
  const PetscReal   values[] = {1.5, 1.5, 1.5, 0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_n 4 -qep_J 1.5 -qep_J_trainable -qep_b_trainable -qep_gamma 0.5", &m));
  PetscCall(ExpectCouplings("tfim trainable", m, 11, 11, expect));
  PetscCall(ExpectParameters("tfim trainable", m, 7, names, values));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Trainable transverse field: parameters g_i. */
static PetscErrorCode TestGammaTrainable(void)
{
  QepModel          m;
  const Expected    expect[]    = {EC(PZZ(0, 1), -1), EP(PX(0), 0, -1), EP(PX(1), 1, -1)};
  const char *const names[]  = {"g_0", "g_1"};
  const PetscReal   values[] = {0.25, 0.25};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_n 2 -qep_gamma 0.25 -qep_gamma_trainable", &m));
  PetscCall(ExpectCouplings("gamma trainable", m, 3, 3, expect));
  PetscCall(ExpectParameters("gamma trainable", m, 2, names, values));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRing(void)
{
  QepModel          m;
  const Expected    expect[]   = {EP(PZZ(0, 1), 0, -1), EP(PZZ(1, 2), 1, -1), EP(PZZ(2, 3), 2, -1), EP(PZZ(3, 4), 3, -1), EP(PZZ(0, 4), 4, -1),
                               EC(PX(0), -1),        EC(PX(1), -1),        EC(PX(2), -1),        EC(PX(3), -1),        EC(PX(4), -1)};
  const char *const names[] = {"J_0_1", "J_1_2", "J_2_3", "J_3_4", "J_0_4"};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_lattice ring -qep_n 5 -qep_J_trainable", &m));
  PetscCall(ExpectSizes("ring 5", m, 5, 0, 0));
  PetscCall(ExpectCouplings("ring 5", m, 10, 10, expect));
  PetscCall(ExpectParameters("ring 5", m, 5, names, NULL));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Square lattices against an independent neighbour rule on (x, y) coordinates. */
static PetscErrorCode CheckSquare(const char opts[], PetscInt lx, PetscInt ly, PetscBool periodic, PetscInt nbonds_expected)
{
  QepModel m;
  PetscInt n = lx * ly, adj[64 * 64], nbonds, nc;

  PetscFunctionBegin;
  PetscCall(Generate(opts, &m));
  PetscCall(ExpectSizes(opts, m, n, 0, 0));
  PetscCall(ZZAdjacency(m, n, adj, &nbonds));
  CHECK(nbonds == nbonds_expected, "%s: %" PetscInt_FMT " bonds, expected %" PetscInt_FMT, opts, nbonds, nbonds_expected);
  /* one coupling per bond and per transverse field: a doubled bond would add a coupling, not a string */
  PetscCall(QepModelGetCouplings(m, &nc, NULL));
  CHECK(nc == nbonds_expected + n, "%s: %" PetscInt_FMT " couplings, expected %" PetscInt_FMT, opts, nc, nbonds_expected + n);
  for (PetscInt p = 0; p < n; p++)
    for (PetscInt q = p + 1; q < n; q++) {
      PetscInt  dx = PetscAbsInt(p % lx - q % lx), dy = PetscAbsInt(p / lx - q / lx);
      PetscBool nx = (dx == 1 || (periodic && lx >= 3 && dx == lx - 1)) ? PETSC_TRUE : PETSC_FALSE;
      PetscBool ny = (dy == 1 || (periodic && ly >= 3 && dy == ly - 1)) ? PETSC_TRUE : PETSC_FALSE;
      PetscInt  want = ((nx && dy == 0) || (ny && dx == 0)) ? 1 : 0;
      CHECK(adj[p * n + q] == want, "%s: bond (%" PetscInt_FMT ",%" PetscInt_FMT ") present=%" PetscInt_FMT ", expected %" PetscInt_FMT, opts, p, q, adj[p * n + q], want);
    }
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSquare(void)
{
  QepModel m;
  PetscInt adj[81], nb;

  PetscFunctionBegin;
  PetscCall(CheckSquare("-qep_lattice square -qep_lx 3 -qep_ly 3", 3, 3, PETSC_FALSE, 12));
  PetscCall(CheckSquare("-qep_lattice square -qep_lx 3 -qep_ly 3 -qep_periodic", 3, 3, PETSC_TRUE, 18));
  /* extent 2 never wraps (it would double the bond), extent 3 does: 7 open + 2 wraps in y */
  PetscCall(CheckSquare("-qep_lattice square -qep_lx 2 -qep_ly 3 -qep_periodic", 2, 3, PETSC_TRUE, 9));
  PetscCall(CheckSquare("-qep_lattice square -qep_lx 4 -qep_ly 2", 4, 2, PETSC_FALSE, 10));
  /* the wrap bonds themselves: Z0 Z2 (x wrap of row 0) and Z0 Z6 (y wrap of column 0) */
  PetscCall(Generate("-qep_lattice square -qep_lx 3 -qep_ly 3 -qep_periodic", &m));
  PetscCall(ZZAdjacency(m, 9, adj, &nb));
  CHECK(adj[0 * 9 + 2] && adj[0 * 9 + 6] && adj[8 * 9 + 2], "square periodic: wrap bonds (0,2), (0,6), (2,8) missing");
  PetscCall(ExpectDescription("square periodic", m, "tfim square 3x3 periodic n=9 J=1 b=0 gamma=1 seed=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestComplete(void)
{
  QepModel m;
  Expected expect[15];
  PetscInt k = 0;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < 5; i++)
    for (PetscInt j = i + 1; j < 5; j++) expect[k++] = (Expected)EC(PZZ(i, j), -2);
  for (PetscInt i = 0; i < 5; i++) expect[k++] = (Expected)EC(PX(i), -1);
  PetscCall(Generate("-qep_lattice complete -qep_n 5 -qep_J 2", &m));
  PetscCall(ExpectSizes("complete 5", m, 5, 0, 0));
  PetscCall(ExpectCouplings("complete 5", m, 15, 15, expect));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Layered 2,3,1: complete bipartite between adjacent layers; inputs x0,x1 on Z0,Z1; output y0 = Z5. */
static PetscErrorCode TestLayered(void)
{
  QepModel       m;
  const Expected expect[] = {EC(PZZ(0, 2), -1), EC(PZZ(0, 3), -1), EC(PZZ(0, 4), -1), EC(PZZ(1, 2), -1), EC(PZZ(1, 3), -1), EC(PZZ(1, 4), -1),
                          EC(PZZ(2, 5), -1), EC(PZZ(3, 5), -1), EC(PZZ(4, 5), -1), EC(PX(0), -1),      EC(PX(1), -1),      EC(PX(2), -1),
                          EC(PX(3), -1),     EC(PX(4), -1),     EC(PX(5), -1),     EI(PZ(0), 0, 1),    EI(PZ(1), 1, 1)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_lattice layered -qep_layers 2,3,1", &m));
  PetscCall(ExpectSizes("layered 2,3,1", m, 6, 2, 1));
  PetscCall(ExpectCouplings("layered 2,3,1", m, 17, 17, expect));
  PetscCall(ExpectOutputZ("layered 2,3,1", m, 0, "y0", 5));
  PetscCall(ExpectDescription("layered 2,3,1", m, "tfim layered 2,3,1 n=6 J=1 b=0 gamma=1 seed=1 inputs=2 outputs=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Explicit inputs/outputs on a chain, overriding nothing; an input may share its string with b. */
static PetscErrorCode TestInputsOutputs(void)
{
  QepModel       m;
  const Expected expect[] = {EC(PZZ(0, 1), -1), EC(PZZ(1, 2), -1), EC(PZZ(2, 3), -1), EC(PZ(0), -0.5), EC(PZ(1), -0.5), EC(PZ(2), -0.5),
                          EC(PZ(3), -0.5),   EC(PX(0), -1),      EC(PX(1), -1),      EC(PX(2), -1),   EC(PX(3), -1),   EI(PZ(3), 0, 1), EI(PZ(1), 1, 1)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_n 4 -qep_b 0.5 -qep_inputs 3,1 -qep_outputs 0,2,3", &m));
  PetscCall(ExpectSizes("inputs/outputs", m, 4, 2, 3));
  PetscCall(ExpectCouplings("inputs/outputs", m, 11, 13, expect));
  PetscCall(ExpectOutputZ("inputs/outputs", m, 0, "y0", 0));
  PetscCall(ExpectOutputZ("inputs/outputs", m, 1, "y1", 2));
  PetscCall(ExpectOutputZ("inputs/outputs", m, 2, "y2", 3));
  PetscCall(QepModelDestroy(&m));
  /* layered defaults are overridable */
  PetscCall(Generate("-qep_lattice layered -qep_layers 1,2 -qep_inputs 1 -qep_outputs 0", &m));
  PetscCall(ExpectSizes("layered override", m, 3, 1, 1));
  PetscCall(ExpectOutputZ("layered override", m, 0, "y0", 0));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* xxz: one trainable parameter per bond ties XX, YY (factor 1) and ZZ (factor delta). */
static PetscErrorCode TestXXZ(void)
{
  QepModel          m;
  const Expected    tied[]   = {EP(PXX(0, 1), 0, 1), EP(PYY(0, 1), 0, 1), EP(PZZ(0, 1), 0, 0.25), EP(PXX(1, 2), 1, 1), EP(PYY(1, 2), 1, 1), EP(PZZ(1, 2), 1, 0.25)};
  const char *const names[]  = {"J_0_1", "J_1_2"};
  const PetscReal   values[] = {0.8, 0.8};
  const Expected    fixed[]  = {EC(PXX(0, 1), 2), EC(PYY(0, 1), 2), EC(PZZ(0, 1), 1), EC(PXX(1, 2), 2), EC(PYY(1, 2), 2), EC(PZZ(1, 2), 1), EC(PZ(0), -0.1), EC(PZ(1), -0.1), EC(PZ(2), -0.1)};
  const Expected    heis[]   = {EC(PXX(0, 1), 3), EC(PYY(0, 1), 3), EC(PZZ(0, 1), 3), EC(PX(0), -0.5), EC(PX(1), -0.5)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_model xxz -qep_n 3 -qep_J 0.8 -qep_J_trainable -qep_delta 0.25", &m));
  PetscCall(ExpectCouplings("xxz tied", m, 6, 6, tied));
  PetscCall(ExpectParameters("xxz tied", m, 2, names, values));
  PetscCall(ExpectDescription("xxz tied", m, "xxz chain n=3 J=0.8(trainable) delta=0.25 b=0 gamma=0 seed=1"));
  PetscCall(QepModelDestroy(&m));
  /* default delta 0.5, fixed J = 2, field b; gamma defaults to 0 for xxz */
  PetscCall(Generate("-qep_model xxz -qep_n 3 -qep_J 2 -qep_b 0.1", &m));
  PetscCall(ExpectCouplings("xxz fixed", m, 9, 9, fixed));
  PetscCall(QepModelDestroy(&m));
  /* heisenberg: delta = 1 (an explicit -qep_delta 1 is accepted) */
  PetscCall(Generate("-qep_model heisenberg -qep_n 2 -qep_J 3 -qep_gamma 0.5 -qep_delta 1", &m));
  PetscCall(ExpectCouplings("heisenberg", m, 5, 5, heis));
  PetscCall(ExpectDescription("heisenberg", m, "heisenberg chain n=2 J=3 delta=1 b=0 gamma=0.5 seed=1"));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Spreads: J_e = J + w (2u - 1) with u = QepRandomUniform(seed, stream, e), e the bond index; fields
   likewise with the qubit index. Values lie in [mean - w, mean + w] and are not all equal. */
static PetscErrorCode TestSpread(void)
{
  QepModel           m;
  const PetscInt64   seed = 7;
  const PetscReal    J = 0.5, wJ = 0.2, b = -0.3, wb = 0.1, g = 0.9, wg = 0.4;
  PetscReal          theta[10], lo = PETSC_MAX_REAL, hi = -PETSC_MAX_REAL;
  PetscInt           nc, k = 0;
  const QepCoupling *c;
  char               opts[256];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(opts, sizeof(opts), "-qep_lattice complete -qep_n 5 -qep_J %g -qep_J_spread %g -qep_J_trainable -qep_b %g -qep_b_spread %g -qep_gamma %g -qep_gamma_spread %g -qep_seed %d",
                          (double)J, (double)wJ, (double)b, (double)wb, (double)g, (double)wg, (int)seed));
  PetscCall(Generate(opts, &m));
  PetscCall(QepModelGetParameters(m, theta));
  for (PetscInt e = 0; e < 10; e++) {
    PetscReal want = J + wJ * (2 * QepRandomUniform(seed, STREAM_J, e) - 1);
    CHECK(PetscAbsReal(theta[e] - want) <= TOL, "spread: J bond %" PetscInt_FMT " = %.17g, expected %.17g", e, (double)theta[e], (double)want);
    CHECK(theta[e] >= J - wJ && theta[e] <= J + wJ, "spread: J bond %" PetscInt_FMT " = %g outside [J-w, J+w]", e, (double)theta[e]);
    lo = PetscMin(lo, theta[e]);
    hi = PetscMax(hi, theta[e]);
  }
  CHECK(hi - lo > 1e-3, "spread: J values are (nearly) all equal: [%g, %g]", (double)lo, (double)hi);
  /* fixed fields follow the bonds: couplings 10..14 are -b_i Z_i, 15..19 are -g_i X_i */
  PetscCall(QepModelGetCouplings(m, &nc, &c));
  CHECK(nc == 20, "spread: %" PetscInt_FMT " couplings, expected 20", nc);
  for (PetscInt i = 0; i < 5 && nc == 20; i++) {
    PetscReal wantb = -(b + wb * (2 * QepRandomUniform(seed, STREAM_B, i) - 1));
    PetscReal wantg = -(g + wg * (2 * QepRandomUniform(seed, STREAM_GAMMA, i) - 1));
    k               = 10 + i;
    CHECK(c[k].kind == QEP_VAR_CONST && PetscAbsReal(c[k].factor - wantb) <= TOL, "spread: -b_%" PetscInt_FMT " = %.17g, expected %.17g", i, (double)c[k].factor, (double)wantb);
    CHECK(-c[k].factor >= b - wb && -c[k].factor <= b + wb, "spread: b_%" PetscInt_FMT " outside [b-w, b+w]", i);
    k = 15 + i;
    CHECK(c[k].kind == QEP_VAR_CONST && PetscAbsReal(c[k].factor - wantg) <= TOL, "spread: -g_%" PetscInt_FMT " = %.17g, expected %.17g", i, (double)c[k].factor, (double)wantg);
    CHECK(-c[k].factor >= g - wg && -c[k].factor <= g + wg, "spread: g_%" PetscInt_FMT " outside [g-w, g+w]", i);
  }
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Coefficients of a model at its own parameters, for comparing models. */
static PetscErrorCode ModelsEqual(QepModel a, QepModel b, PetscBool *equal)
{
  PetscInt           na, nb, ca, cb;
  const QepPauli    *sa, *sb;
  const QepCoupling *ka, *kb;
  PetscReal          ta[64], tb[64];
  PetscInt           pa, pb;

  PetscFunctionBegin;
  PetscCall(QepModelGetStrings(a, &na, &sa));
  PetscCall(QepModelGetStrings(b, &nb, &sb));
  PetscCall(QepModelGetCouplings(a, &ca, &ka));
  PetscCall(QepModelGetCouplings(b, &cb, &kb));
  PetscCall(QepModelGetNumParameters(a, &pa));
  PetscCall(QepModelGetNumParameters(b, &pb));
  *equal = (na == nb && ca == cb && pa == pb && pa <= 64) ? PETSC_TRUE : PETSC_FALSE;
  if (!*equal) PetscFunctionReturn(0);
  PetscCall(QepModelGetParameters(a, ta));
  PetscCall(QepModelGetParameters(b, tb));
  for (PetscInt t = 0; t < na; t++)
    if (!QepPauliEqual(sa[t], sb[t])) *equal = PETSC_FALSE;
  for (PetscInt k = 0; k < ca; k++)
    if (ka[k].string != kb[k].string || ka[k].kind != kb[k].kind || ka[k].index != kb[k].index || ka[k].factor != kb[k].factor) *equal = PETSC_FALSE;
  for (PetscInt k = 0; k < pa; k++)
    if (ta[k] != tb[k]) *equal = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSeeds(void)
{
  QepModel  a, b, c;
  PetscBool same;

  PetscFunctionBegin;
  PetscCall(Generate("-qep_lattice ring -qep_n 6 -qep_J_spread 0.5 -qep_J_trainable -qep_b_spread 0.2 -qep_seed 11", &a));
  PetscCall(Generate("-qep_lattice ring -qep_n 6 -qep_J_spread 0.5 -qep_J_trainable -qep_b_spread 0.2 -qep_seed 11", &b));
  PetscCall(Generate("-qep_lattice ring -qep_n 6 -qep_J_spread 0.5 -qep_J_trainable -qep_b_spread 0.2 -qep_seed 12", &c));
  PetscCall(ModelsEqual(a, b, &same));
  CHECK(same, "seeds: the same seed gave different models");
  PetscCall(ModelsEqual(a, c, &same));
  CHECK(!same, "seeds: different seeds gave the same model");
  PetscCall(QepModelDestroy(&a));
  PetscCall(QepModelDestroy(&b));
  PetscCall(QepModelDestroy(&c));
  PetscFunctionReturn(0);
}

/* Generating twice into one model replaces it (no accumulated terms), and the largest model of this
   build is reachable. */
static PetscErrorCode TestRegenerateAndLimit(void)
{
  QepModel       m;
  PetscInt       ns, n;
  const Expected expect[] = {EC(PZZ(0, 1), -1), EC(PX(0), -1), EC(PX(1), -1)};

  PetscFunctionBegin;
  PetscCall(Generate("-qep_n 6", &m));
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, "-qep_n 2"));
  PetscCall(QepModelSetFromOptions(m));
  PetscCall(ExpectCouplings("regenerate", m, 3, 3, expect));
  PetscCall(QepModelDestroy(&m));
  PetscCall(Generate(sizeof(PetscInt) == 4 ? "-qep_n 30" : "-qep_n 62", &m));
  PetscCall(QepModelGetNumQubits(m, &n));
  PetscCall(QepModelGetStrings(m, &ns, NULL));
  CHECK(n == QepMaxQubits() && ns == 2 * n - 1, "limit: n=%" PetscInt_FMT " strings=%" PetscInt_FMT, n, ns);
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

/* Every rank must hold the identical model: compare a hash of the couplings across ranks. */
static PetscErrorCode TestSameOnEveryRank(void)
{
  QepModel           m;
  PetscInt           nc;
  const QepCoupling *c;
  const QepPauli    *s;
  uint64_t           h = 1469598103934665603ULL, hmin, hmax;

  PetscFunctionBegin;
  PetscCall(Generate("-qep_model xxz -qep_lattice square -qep_lx 3 -qep_ly 3 -qep_periodic -qep_J_spread 0.3 -qep_b_spread 0.2 -qep_gamma 0.4 -qep_gamma_spread 0.1 -qep_seed 5", &m));
  PetscCall(QepModelGetCouplings(m, &nc, &c));
  PetscCall(QepModelGetStrings(m, NULL, &s));
  for (PetscInt k = 0; k < nc; k++) {
    uint64_t bits;
    double   f = (double)c[k].factor;
    memcpy(&bits, &f, sizeof(bits));
    h = (h ^ s[c[k].string].x) * 1099511628211ULL;
    h = (h ^ s[c[k].string].z) * 1099511628211ULL;
    h = (h ^ bits) * 1099511628211ULL;
  }
  PetscCallMPI(MPI_Allreduce(&h, &hmin, 1, MPI_UINT64_T, MPI_MIN, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(&h, &hmax, 1, MPI_UINT64_T, MPI_MAX, PETSC_COMM_WORLD));
  CHECK(hmin == hmax, "ranks: the model differs between ranks");
  CHECK(nc == 18 * 3 + 9 + 9, "ranks: %" PetscInt_FMT " couplings, expected 72", nc);
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildFromCommandLine(void)
{
  QepModel m;

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &m));
  PetscCall(QepModelSetFromOptions(m));
  PetscCall(QepModelView(m, NULL));
  PetscCall(QepModelDestroy(&m));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscBool build = PETSC_FALSE;
  int       total;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-build", &build, NULL));
  if (build) {
    PetscCall(BuildFromCommandLine());
    PetscCall(SlepcFinalize());
    return 0;
  }
  PetscCall(TestTfimChainUniform());
  PetscCall(TestDefaults());
  PetscCall(TestTfimFieldsAndZeroSkip());
  PetscCall(TestTfimTrainable());
  PetscCall(TestGammaTrainable());
  PetscCall(TestRing());
  PetscCall(TestSquare());
  PetscCall(TestComplete());
  PetscCall(TestLayered());
  PetscCall(TestInputsOutputs());
  PetscCall(TestXXZ());
  PetscCall(TestSpread());
  PetscCall(TestSeeds());
  PetscCall(TestRegenerateAndLimit());
  PetscCall(TestSameOnEveryRank());
  PetscCall(PetscOptionsClear(NULL));
  PetscCallMPI(MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscCheck(total == 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%d generator check(s) failed", total);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_generators: all checks passed\n"));
  PetscCall(SlepcFinalize());
  return 0;
}
