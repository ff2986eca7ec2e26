/* test_modelfile.c — the model-file reader and writer (src/model/modelfile.c) against hand-written
 * expectations: exact Pauli strings (x/z masks), couplings (kind, index, factor), parameters,
 * inputs, outputs and qubit count for the issue's example, a fixed-terms-only file, every
 * coefficient and factor form, `qubits`, `for` loops (a ring written with one loop equals the
 * hand-written ring) and {expr} arithmetic; write -> read round trips that reproduce the model
 * bit for bit; in-memory error cases with their error class and "<name>:<line>:" prefix; file-level
 * errors (missing file, NUL bytes); and a seeded robustness loop of random bytes and token soups
 * that must neither crash nor leak, and whose every error must name "<name>:<line>:". */
#include <slepcsys.h>
#include <qep/qep.h>
#include <unistd.h>

#define B(q)        ((uint64_t)1 << (q))
#define P(x, z)     ((QepPauli){(x), (z)})
#define EC(p, f)    {p, QEP_VAR_CONST, 0, f}
#define EP(p, k, f) {p, QEP_VAR_PARAM, k, f}
#define EI(p, k, f) {p, QEP_VAR_INPUT, k, f}
#define FUZZ_SEED   20240611 /* any fixed value: the robustness inputs are deterministic */

#include "check.h"

typedef struct {
  QepPauli   p;
  QepVarKind kind;
  PetscInt   index;
  PetscReal  factor;
} Expected;

/* Checks n, the couplings (in order, with the string each one refers to) and that the strings are
 * exactly the distinct strings of the couplings in order of first appearance. */
static PetscErrorCode CheckTerms(const char what[], QepModel m, PetscInt n, PetscInt nc, const Expected exp[])
{
  PetscInt           nq, ns, ncp, distinct = 0;
  const QepPauli    *s;
  const QepCoupling *c;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(m, &nq));
  PetscCall(QepModelGetStrings(m, &ns, &s));
  PetscCall(QepModelGetCouplings(m, &ncp, &c));
  CHECK(nq == n, "%s: %" PetscInt_FMT " qubits, expected %" PetscInt_FMT, what, nq, n);
  CHECK(ncp == nc, "%s: %" PetscInt_FMT " couplings, expected %" PetscInt_FMT, what, ncp, nc);
  for (PetscInt k = 0; k < PetscMin(nc, ncp); k++) {
    PetscInt t = c[k].string;
    CHECK(t >= 0 && t < ns && QepPauliEqual(s[t], exp[k].p), "%s: coupling %" PetscInt_FMT " has the wrong string", what, k);
    CHECK(c[k].kind == exp[k].kind && c[k].index == exp[k].index, "%s: coupling %" PetscInt_FMT " kind %d index %" PetscInt_FMT ", expected %d %" PetscInt_FMT, what, k,
          (int)c[k].kind, c[k].index, (int)exp[k].kind, exp[k].index);
    CHECK(c[k].factor == exp[k].factor, "%s: coupling %" PetscInt_FMT " factor %.17g, expected %.17g", what, k, (double)c[k].factor, (double)exp[k].factor);
    if (t == distinct) distinct++;
  }
  CHECK(ns == distinct, "%s: %" PetscInt_FMT " strings, expected %" PetscInt_FMT " (distinct strings of the couplings)", what, ns, distinct);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckParams(const char what[], QepModel m, PetscInt np, const char *names[], const PetscReal values[])
{
  PetscInt  n;
  PetscReal theta[64];

  PetscFunctionBegin;
  PetscCall(QepModelGetNumParameters(m, &n));
  CHECK(n == np, "%s: %" PetscInt_FMT " parameters, expected %" PetscInt_FMT, what, n, np);
  if (n != np || n > 64) PetscFunctionReturn(0);
  PetscCall(QepModelGetParameters(m, theta));
  for (PetscInt k = 0; k < n; k++) {
    const char *name;
    PetscCall(QepModelGetParameterName(m, k, &name));
    CHECK(!strcmp(name, names[k]), "%s: parameter %" PetscInt_FMT " is '%s', expected '%s'", what, k, name, names[k]);
    CHECK(theta[k] == values[k], "%s: parameter %s = %g, expected %g", what, names[k], (double)theta[k], (double)values[k]);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckCounts(const char what[], QepModel m, PetscInt ninputs, PetscInt noutputs)
{
  PetscInt ni, no;

  PetscFunctionBegin;
  PetscCall(QepModelGetNumInputs(m, &ni));
  PetscCall(QepModelGetNumOutputs(m, &no));
  CHECK(ni == ninputs, "%s: %" PetscInt_FMT " inputs, expected %" PetscInt_FMT, what, ni, ninputs);
  CHECK(no == noutputs, "%s: %" PetscInt_FMT " outputs, expected %" PetscInt_FMT, what, no, noutputs);
  PetscFunctionReturn(0);
}

/* Output o is named `name` and holds exactly the given terms, in order. */
static PetscErrorCode CheckOutput(const char what[], QepModel m, PetscInt o, const char name[], PetscInt n, const QepPauli p[], const PetscReal c[])
{
  const char        *oname;
  const QepPauliSum *sum;

  PetscFunctionBegin;
  PetscCall(QepModelGetOutput(m, o, &oname, &sum));
  CHECK(!strcmp(oname, name), "%s: output %" PetscInt_FMT " is '%s', expected '%s'", what, o, oname, name);
  CHECK(sum->n == n, "%s: output %s has %" PetscInt_FMT " terms, expected %" PetscInt_FMT, what, name, sum->n, n);
  for (PetscInt i = 0; i < PetscMin(n, sum->n); i++)
    CHECK(QepPauliEqual(sum->strings[i], p[i]) && sum->coeffs[i] == c[i], "%s: output %s term %" PetscInt_FMT " differs", what, name, i);
  PetscFunctionReturn(0);
}

/* Bitwise equality of everything a model file carries (the description is not carried). */
static PetscErrorCode CheckSameModel(const char what[], QepModel a, QepModel b)
{
  PetscInt           na, nb, ka, kb;
  const QepPauli    *sa, *sb;
  const QepCoupling *ca, *cb;
  PetscReal          ta[256], tb[256];

  PetscFunctionBegin;
  PetscCall(QepModelGetNumQubits(a, &na));
  PetscCall(QepModelGetNumQubits(b, &nb));
  CHECK(na == nb, "%s: qubits %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  PetscCall(QepModelGetStrings(a, &na, &sa));
  PetscCall(QepModelGetStrings(b, &nb, &sb));
  CHECK(na == nb, "%s: strings %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  for (PetscInt t = 0; t < PetscMin(na, nb); t++) CHECK(QepPauliEqual(sa[t], sb[t]), "%s: string %" PetscInt_FMT " differs", what, t);
  PetscCall(QepModelGetCouplings(a, &na, &ca));
  PetscCall(QepModelGetCouplings(b, &nb, &cb));
  CHECK(na == nb, "%s: couplings %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  for (PetscInt k = 0; k < PetscMin(na, nb); k++)
    CHECK(ca[k].string == cb[k].string && ca[k].kind == cb[k].kind && ca[k].index == cb[k].index && !memcmp(&ca[k].factor, &cb[k].factor, sizeof(PetscReal)),
          "%s: coupling %" PetscInt_FMT " differs (factor %.17g vs %.17g)", what, k, (double)ca[k].factor, (double)cb[k].factor);
  PetscCall(QepModelGetNumParameters(a, &na));
  PetscCall(QepModelGetNumParameters(b, &nb));
  CHECK(na == nb && na <= 256, "%s: parameters %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  if (na == nb && na <= 256) {
    PetscCall(QepModelGetParameters(a, ta));
    PetscCall(QepModelGetParameters(b, tb));
    for (PetscInt k = 0; k < na; k++) {
      const char *x, *y;
      PetscCall(QepModelGetParameterName(a, k, &x));
      PetscCall(QepModelGetParameterName(b, k, &y));
      CHECK(!strcmp(x, y) && !memcmp(&ta[k], &tb[k], sizeof(PetscReal)), "%s: parameter %" PetscInt_FMT " differs (%s=%.17g vs %s=%.17g)", what, k, x, (double)ta[k], y,
            (double)tb[k]);
    }
  }
  PetscCall(QepModelGetNumInputs(a, &na));
  PetscCall(QepModelGetNumInputs(b, &nb));
  CHECK(na == nb, "%s: inputs %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  PetscCall(QepModelGetNumOutputs(a, &na));
  PetscCall(QepModelGetNumOutputs(b, &nb));
  CHECK(na == nb, "%s: outputs %" PetscInt_FMT " vs %" PetscInt_FMT, what, na, nb);
  for (PetscInt o = 0; o < PetscMin(na, nb); o++) {
    const char        *x, *y;
    const QepPauliSum *u, *v;
    PetscCall(QepModelGetOutput(a, o, &x, &u));
    PetscCall(QepModelGetOutput(b, o, &y, &v));
    CHECK(!strcmp(x, y) && u->n == v->n, "%s: output %" PetscInt_FMT " differs (%s vs %s)", what, o, x, y);
    for (PetscInt i = 0; i < PetscMin(u->n, v->n); i++) {
      ka = QepPauliEqual(u->strings[i], v->strings[i]);
      kb = !memcmp(&u->coeffs[i], &v->coeffs[i], sizeof(PetscReal));
      CHECK(ka && kb, "%s: output %s term %" PetscInt_FMT " differs", what, x, i);
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode Read(QepModel m, const char name[], const char text[])
{
  PetscFunctionBegin;
  PetscCall(QepModelReadString(m, name, text));
  PetscFunctionReturn(0);
}

/* The example of the issue, term by term. */
static PetscErrorCode TestIssueExample(QepModel m)
{
  const char *text = "# comment; blank lines ignored\n"
                     "param J01 0.5        # trainable parameter J01, initial value 0.5\n"
                     "-1*J01 Z0 Z1         # term: coefficient then Pauli factors\n"
                     "-0.8 X3              # fixed term\n"
                     "\n"
                     "x0 Z0                # input feature 0 times Z0\n"
                     "0.3 Y1 Y2            # real two-Y string\n"
                     "output y0 1.0 Z5     # output observable y0 += 1.0*Z5\n";
  const Expected exp[]   = {EP(P(0, B(0) | B(1)), 0, -1.0), EC(P(B(3), 0), -0.8), EI(P(0, B(0)), 0, 1.0), EC(P(B(1) | B(2), B(1) | B(2)), 0.3)};
  const char    *names[] = {"J01"};
  PetscReal      vals[]  = {0.5};
  QepPauli       z5      = P(0, B(5));
  PetscReal      one     = 1.0;
  const char    *desc;

  PetscFunctionBegin;
  PetscCall(Read(m, "example", text));
  PetscCall(CheckTerms("example", m, 6, 4, exp)); /* n = 1 + highest qubit (Z5 of the output) */
  PetscCall(CheckParams("example", m, 1, names, vals));
  PetscCall(CheckCounts("example", m, 1, 1));
  PetscCall(CheckOutput("example", m, 0, "y0", 1, &z5, &one));
  PetscCall(QepModelGetDescription(m, &desc));
  CHECK(!strcmp(desc, "model file example"), "example: description '%s'", desc);
  PetscFunctionReturn(0);
}

static PetscErrorCode TestFixedTerms(QepModel m)
{
  const char    *text  = "-1 Z0 Z1\n-1 Z1 Z2\n-0.5 X0\n-0.5 X1\n-0.5 X2";    /* no final newline */
  const Expected exp[] = {EC(P(0, B(0) | B(1)), -1), EC(P(0, B(1) | B(2)), -1), EC(P(B(0), 0), -0.5), EC(P(B(1), 0), -0.5), EC(P(B(2), 0), -0.5)};

  PetscFunctionBegin;
  PetscCall(Read(m, "fixed", text));
  PetscCall(CheckTerms("fixed", m, 3, 5, exp));
  PetscCall(CheckParams("fixed", m, 0, NULL, NULL));
  PetscCall(CheckCounts("fixed", m, 0, 0));
  /* One qubit used: n is at least 2. */
  PetscCall(Read(m, "one", "2.5 X0\n"));
  {
    const Expected e1[] = {EC(P(B(0), 0), 2.5)};
    PetscCall(CheckTerms("one qubit", m, 2, 1, e1));
  }
  PetscFunctionReturn(0);
}

/* Every coefficient form, factor spellings, identity terms, I<k>, comments, CRLF, `qubits` late. */
static PetscErrorCode TestForms(QepModel m)
{
  const char *text = "param a 0.25\r\n"
                     "param _b2 -3e-1\r\n"
                     "2.5*a z0\r\n"      /* number*name, lower-case factor */
                     "-a X1 # Z7\r\n"    /* -name; the comment hides Z7 */
                     "+_b2 x1\r\n"       /* +name */
                     "x3 Z1\r\n"         /* input */
                     "-x2 Z0 Z1\r\n"     /* -input */
                     "1.5*x0 x0 X1\r\n"  /* number*input, then factor x0 = X on qubit 0 */
                     "  4\t\r\n"         /* identity (energy shift) */
                     "0.3 y1 Y2 I6\r\n"  /* I<k> ignored */
                     "-2e-3 Z0 X2 Z3\r\n"
                     "qubits 7\r\n"      /* after the terms */
                     "output y_a 1 Z3\r\n"
                     "output q -0.5\r\n" /* identity output */
                     "output y_a 2 X0 X1\r\n";
  const Expected exp[] = {
    EP(P(0, B(0)), 0, 2.5),       EP(P(B(1), 0), 0, -1.0),        EP(P(B(1), 0), 1, 1.0), EI(P(0, B(1)), 3, 1.0), EI(P(0, B(0) | B(1)), 2, -1.0),
    EI(P(B(0) | B(1), 0), 0, 1.5), EC(P(0, 0), 4.0), EC(P(B(1) | B(2), B(1) | B(2)), 0.3), EC(P(B(2), B(0) | B(3)), -2e-3)};
  const char *names[] = {"a", "_b2"};
  PetscReal   vals[]  = {0.25, -0.3};
  QepPauli    ya[]    = {P(0, B(3)), P(B(0) | B(1), 0)}, qid = P(0, 0);
  PetscReal   yc[]    = {1.0, 2.0}, qc = -0.5;

  PetscFunctionBegin;
  PetscCall(Read(m, "forms", text));
  PetscCall(CheckTerms("forms", m, 7, 9, exp));
  PetscCall(CheckParams("forms", m, 2, names, vals));
  PetscCall(CheckCounts("forms", m, 4, 2)); /* x3 is the highest input */
  PetscCall(CheckOutput("forms", m, 0, "y_a", 2, ya, yc));
  PetscCall(CheckOutput("forms", m, 1, "q", 1, &qid, &qc));
  /* Terms on equal strings share the string; `qubits` alone fixes n above the highest qubit. */
  PetscCall(Read(m, "shared", "qubits 12\n1 Z0 Z1\n2 z1 z0\n"));
  {
    const Expected e2[] = {EC(P(0, B(0) | B(1)), 1), EC(P(0, B(0) | B(1)), 2)};
    PetscCall(CheckTerms("shared", m, 12, 2, e2));
  }
  PetscFunctionReturn(0);
}

/* The same 10-qubit TFIM ring with trainable bonds, by hand and with loops. */
static PetscErrorCode TestRingLoop(QepModel m, QepModel hand)
{
  const char *bylhand = "param J0 0.5\nparam J1 0.5\nparam J2 0.5\nparam J3 0.5\nparam J4 0.5\n"
                        "param J5 0.5\nparam J6 0.5\nparam J7 0.5\nparam J8 0.5\nparam J9 0.5\n"
                        "-1*J0 Z0 Z1\n-1*J1 Z1 Z2\n-1*J2 Z2 Z3\n-1*J3 Z3 Z4\n-1*J4 Z4 Z5\n"
                        "-1*J5 Z5 Z6\n-1*J6 Z6 Z7\n-1*J7 Z7 Z8\n-1*J8 Z8 Z9\n-1*J9 Z9 Z0\n"
                        "-0.7 X0\n-0.7 X1\n-0.7 X2\n-0.7 X3\n-0.7 X4\n-0.7 X5\n-0.7 X6\n-0.7 X7\n-0.7 X8\n-0.7 X9\n"
                        "output m 0.1 Z0\noutput m 0.1 Z1\noutput m 0.1 Z2\noutput m 0.1 Z3\noutput m 0.1 Z4\n"
                        "output m 0.1 Z5\noutput m 0.1 Z6\noutput m 0.1 Z7\noutput m 0.1 Z8\noutput m 0.1 Z9\n";
  const char *byloop = "for i in 0..9 : param J{i} 0.5\n"
                       "for i in 0..9 : -1*J{i} Z{i} Z{(i+1)%10}\n"
                       "for i in 0..9 : -0.7 X{i}\n"
                       "for i in 0..9 : output m 0.1 Z{i}\n";
  Expected    exp[20];

  PetscFunctionBegin;
  PetscCall(Read(hand, "hand", bylhand));
  PetscCall(Read(m, "loop", byloop));
  PetscCall(CheckSameModel("ring loop vs hand", m, hand));
  for (int i = 0; i < 10; i++) {
    exp[i]      = (Expected)EP(P(0, B(i) | B((i + 1) % 10)), i, -1.0);
    exp[10 + i] = (Expected)EC(P(B(i), 0), -0.7);
  }
  PetscCall(CheckTerms("ring loop", m, 10, 20, exp));
  PetscCall(CheckCounts("ring loop", m, 0, 1));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestLoopsAndExpressions(QepModel m)
{
  PetscFunctionBegin;
  /* Nested loops with a bound from the outer variable: all pairs i < j. */
  PetscCall(Read(m, "pairs", "for i in 0..3 : for j in {i+1}..3 : -1 Z{i} Z{j}\n"));
  {
    const Expected e[] = {EC(P(0, B(0) | B(1)), -1), EC(P(0, B(0) | B(2)), -1), EC(P(0, B(0) | B(3)), -1),
                          EC(P(0, B(1) | B(2)), -1), EC(P(0, B(1) | B(3)), -1), EC(P(0, B(2) | B(3)), -1)};
    PetscCall(CheckTerms("pairs", m, 4, 6, e));
  }
  /* Descending and empty ranges produce nothing; arithmetic follows C (truncating / and %). */
  PetscCall(Read(m, "arith",
                 "for i in 3..0 : 1 Z{i}\n"
                 "for k in 5..4 : 1 X{k}\n"
                 "for i in {1+1}..{2*2}:0.5 X{i}\n"              /* ':' right after the bound */
                 "1 Z{7/2} X{-7%4+3}\n"                          /* 3 and 0 */
                 "for i in -1..1 : 2 Z{i*i+2*(1+2)-1} X{--i+1}\n" /* 6 X0, 5 X1, 6 X2 */
                 "for a_1 in 0..1 : for b in a_1..a_1 : 3 Z{ a_1 + 8 * b }\n")); /* 0, 9 */
  {
    const Expected e[] = {EC(P(B(2), 0), 0.5), EC(P(B(3), 0), 0.5), EC(P(B(4), 0), 0.5), EC(P(B(0), B(3)), 1),
                          EC(P(B(0), B(6)), 2), EC(P(B(1), B(5)), 2), EC(P(B(2), B(6)), 2), EC(P(0, B(0)), 3), EC(P(0, B(9)), 3)};
    PetscCall(CheckTerms("arith", m, 10, 9, e));
  }
  /* Names built with {expr}; a parameter declared in a loop, used later. */
  PetscCall(Read(m, "names", "for i in 0..2 : param h_{i}_{2*i} 0.{i}1\nfor i in 0..2 : h_{i}_{i+i} X{i}\n"));
  {
    const Expected e[]     = {EP(P(B(0), 0), 0, 1), EP(P(B(1), 0), 1, 1), EP(P(B(2), 0), 2, 1)};
    const char    *names[] = {"h_0_0", "h_1_2", "h_2_4"};
    PetscReal      vals[]  = {0.01, 0.11, 0.21};
    PetscCall(CheckTerms("names", m, 3, 3, e));
    PetscCall(CheckParams("names", m, 3, names, vals));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RemoveFile(const char path[])
{
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (!rank) (void)remove(path);
  PetscFunctionReturn(0);
}

/* Writes model a, reads it back and compares; rank 0 picks the file name (unique per run). */
static PetscErrorCode RoundTrip(const char what[], QepModel a, QepModel b)
{
  char path[PETSC_MAX_PATH_LEN];
  int  pid = (int)getpid();

  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  snprintf(path, sizeof(path), "modelfile_roundtrip_%d.model", pid);
  PetscCall(QepModelWriteFile(a, path));
  PetscCall(QepModelReadFile(b, path));
  PetscCall(CheckSameModel(what, a, b));
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD)); /* every rank has read it */
  PetscCall(RemoveFile(path));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestRoundTrip(void)
{
  QepModel a, b;
  PetscInt k;
  QepPauli p = P(0, 0);

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &a));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &b));
  PetscCall(Read(a, "forms", "param a 0.1\nparam b 1e300\n-a Z0 Z1\na X1\n0.1*b Y0 Y2\n-3*x4 Z2\nx0 X0\n0.30000000000000004\n1e-300 Z3\n-0 X2\n"
                             "qubits 5\noutput y0 0.1 Z1\noutput z 1 X0 X1\noutput y0 -2 Z1 Z2\n"));
  PetscCall(RoundTrip("round trip (forms)", a, b));
  PetscCall(Read(a, "ring", "for i in 0..11 : param J{i} {i}.{i}\nfor i in 0..11 : -1*J{i} Z{i} Z{(i+1)%12}\nfor i in 0..11 : x{i} X{i}\n"));
  PetscCall(RoundTrip("round trip (ring)", a, b));
  /* A model built in code with awkward doubles: every bit must survive. */
  PetscCall(QepModelDestroy(&a));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &a));
  PetscCall(QepModelAddParameter(a, "theta", 1.0 / 3.0, &k));
  QepPauliSetFactor(&p, 'Z', 0);
  QepPauliSetFactor(&p, 'X', 7);
  PetscCall(QepModelAddTerm(a, p, -2.0 / 7.0, QEP_VAR_PARAM, k));
  PetscCall(QepModelAddTerm(a, p, 4.9406564584124654e-300, QEP_VAR_CONST, 0));
  PetscCall(QepModelAddTerm(a, P(B(1), 0), -0.0, QEP_VAR_INPUT, 2));
  PetscCall(QepModelAddTerm(a, P(0, 0), 1.7976931348623157e308, QEP_VAR_CONST, 0));
  PetscCall(QepModelAddOutputTerm(a, "out", P(0, B(3)), 0.1 + 0.2));
  PetscCall(QepModelSetDescription(a, "built in code\nwith a newline"));
  PetscCall(QepModelFinalize(a));
  PetscCall(RoundTrip("round trip (code)", a, b));
  PetscCall(QepModelDestroy(&a));
  PetscCall(QepModelDestroy(&b));
  PetscFunctionReturn(0);
}

/* Reads `text` expecting failure with `code` and a message starting "bad:<line>:" that contains `needle`. */
static PetscErrorCode ExpectError(QepModel m, const char text[], PetscErrorCode code, int line, const char needle[])
{
  PetscErrorCode ierr;
  char          *msg = NULL, prefix[32];

  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = QepModelReadString(m, "bad", text);
  PetscCall(PetscPopErrorHandler());
  if (ierr) PetscCall(PetscErrorMessage(ierr, NULL, &msg));
  snprintf(prefix, sizeof(prefix), "bad:%d: ", line);
  CHECK(ierr == code, "text '%s': error %d, expected %d (%s)", text, (int)ierr, (int)code, msg ? msg : "");
  CHECK(msg && !strncmp(msg, prefix, strlen(prefix)) && strstr(msg, needle), "text '%s': message '%s' lacks '%s' or '%s'", text, msg ? msg : "", prefix, needle);
  PetscFunctionReturn(0);
}

static PetscErrorCode TestErrors(QepModel m)
{
  char longline[5000];

  PetscFunctionBegin;
  PetscCall(ExpectError(m, "1 Z0\n\n-1*J Z0 Z1\n", PETSC_ERR_USER_INPUT, 3, "declared parameter"));
  PetscCall(ExpectError(m, "param J 1\n1 Z0\nparam J 2\n", PETSC_ERR_USER_INPUT, 3, "declared twice"));
  PetscCall(ExpectError(m, "param x3 1\n", PETSC_ERR_USER_INPUT, 1, "reserved"));
  PetscCall(ExpectError(m, "param Z3 1\n", PETSC_ERR_USER_INPUT, 1, "Pauli factor"));
  PetscCall(ExpectError(m, "param 3J 1\n", PETSC_ERR_USER_INPUT, 1, "invalid parameter name"));
  PetscCall(ExpectError(m, "param J\n", PETSC_ERR_USER_INPUT, 1, "param <name> <initial value>"));
  PetscCall(ExpectError(m, "param J nan\n", PETSC_ERR_USER_INPUT, 1, "not a finite number"));
  PetscCall(ExpectError(m, "1e999 Z0\n", PETSC_ERR_USER_INPUT, 1, "not a finite number"));
  PetscCall(ExpectError(m, "-inf Z0\n", PETSC_ERR_USER_INPUT, 1, "not a finite number"));
  PetscCall(ExpectError(m, "1e-320 Z0\n", PETSC_ERR_USER_INPUT, 1, "too small"));
  PetscCall(ExpectError(m, "1.5.2 Z0\n", PETSC_ERR_USER_INPUT, 1, "not a number"));
  PetscCall(ExpectError(m, "1 Z0\n2*3 Z0\n", PETSC_ERR_USER_INPUT, 2, "malformed coefficient"));
  PetscCall(ExpectError(m, "1 Z99999999999999999999\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "out of range"));
  PetscCall(ExpectError(m, "1 Z0 X-1\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "negative"));
  PetscCall(ExpectError(m, "1 Z0 W1\n", PETSC_ERR_USER_INPUT, 1, "not a Pauli factor"));
  PetscCall(ExpectError(m, "1 Z0 Z1.5\n", PETSC_ERR_USER_INPUT, 1, "not a Pauli factor"));
  PetscCall(ExpectError(m, "1 Z0 X0\n", PETSC_ERR_USER_INPUT, 1, "more than once"));
  PetscCall(ExpectError(m, "qubits 4\n1 Z0\n1 Z4\n", PETSC_ERR_ARG_OUTOFRANGE, 3, "'qubits 4' (line 1)"));
  PetscCall(ExpectError(m, "1 Z0\n1 Z7\nqubits 4\n", PETSC_ERR_ARG_OUTOFRANGE, 3, "line 2 uses qubit 7"));
  PetscCall(ExpectError(m, "qubits 4\nqubits 4\n", PETSC_ERR_USER_INPUT, 2, "given twice"));
  PetscCall(ExpectError(m, "qubits 1\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "2 <= n <="));
  PetscCall(ExpectError(m, "qubits 99999999999999999999999\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "out of range"));
  PetscCall(ExpectError(m, "qubits four\n", PETSC_ERR_USER_INPUT, 1, "not an integer"));
  PetscCall(ExpectError(m, "parm J 0.5\n", PETSC_ERR_USER_INPUT, 1, "neither a keyword"));
  PetscCall(ExpectError(m, "Z0 Z1\n", PETSC_ERR_USER_INPUT, 1, "starts with its coefficient"));
  PetscCall(ExpectError(m, "# nothing\nparam J 1\n\n", PETSC_ERR_FILE_UNEXPECTED, 3, "no Hamiltonian terms"));
  PetscCall(ExpectError(m, "", PETSC_ERR_FILE_UNEXPECTED, 1, "no Hamiltonian terms"));
  PetscCall(ExpectError(m, "1 Z0\noutput 1.0 Z5\n", PETSC_ERR_USER_INPUT, 2, "without a name"));
  PetscCall(ExpectError(m, "1 Z0\noutput\n", PETSC_ERR_USER_INPUT, 2, "without a name"));
  PetscCall(ExpectError(m, "1 Z0\noutput y\n", PETSC_ERR_USER_INPUT, 2, "no coefficient"));
  PetscCall(ExpectError(m, "1 Z0\noutput y 1 Z0 Z0\n", PETSC_ERR_USER_INPUT, 2, "more than once"));
  PetscCall(ExpectError(m, "1 Z0 \x01\n", PETSC_ERR_FILE_UNEXPECTED, 1, "byte 0x01"));
  PetscCall(ExpectError(m, "1 Z0 \xc3\xa9\n", PETSC_ERR_FILE_UNEXPECTED, 1, "byte 0xc3"));
  PetscCall(ExpectError(m, "1 Z0 # caf\xc3\xa9 is fine in comments\n1 Z{1/0}\n", PETSC_ERR_USER_INPUT, 2, "division by zero"));
  PetscCall(ExpectError(m, "for i in 0..3 : 1 Z{i%(i-2)}\n", PETSC_ERR_USER_INPUT, 1, "division by zero in {i%(i-2)} (loop i=2)"));
  PetscCall(ExpectError(m, "for i in 0..3 : 1 Z{j}\n", PETSC_ERR_USER_INPUT, 1, "unknown loop variable 'j'"));
  PetscCall(ExpectError(m, "1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "no loop is open"));
  PetscCall(ExpectError(m, "1 Z{1+}\n", PETSC_ERR_USER_INPUT, 1, "bad syntax"));
  PetscCall(ExpectError(m, "1 Z{(1}\n", PETSC_ERR_USER_INPUT, 1, "missing ')'"));
  PetscCall(ExpectError(m, "1 Z{1 2}\n", PETSC_ERR_USER_INPUT, 1, "bad syntax"));
  PetscCall(ExpectError(m, "1 Z{}\n", PETSC_ERR_USER_INPUT, 1, "empty expression"));
  PetscCall(ExpectError(m, "1 Z{1\n", PETSC_ERR_USER_INPUT, 1, "without a matching '}'"));
  PetscCall(ExpectError(m, "1 Z{{1}}\n", PETSC_ERR_USER_INPUT, 1, "do not nest"));
  PetscCall(ExpectError(m, "1 Z1}\n", PETSC_ERR_USER_INPUT, 1, "without a matching '{'"));
  PetscCall(ExpectError(m, "1 Z{9223372036854775807+1}\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "overflow"));
  PetscCall(ExpectError(m, "1 Z{99999999999999999999}\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "too large"));
  PetscCall(ExpectError(m, "for i in 0..3 1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "missing ':'"));
  PetscCall(ExpectError(m, "for i in 0,3 : 1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "missing '..'"));
  PetscCall(ExpectError(m, "for i 0..3 : 1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "expected 'in'"));
  PetscCall(ExpectError(m, "for i in 0..3 :\n", PETSC_ERR_USER_INPUT, 1, "nothing after ':'"));
  PetscCall(ExpectError(m, "for i in ..3 : 1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "first loop bound is missing"));
  PetscCall(ExpectError(m, "for i in 0..3 : for i in 0..1 : 1 Z{i}\n", PETSC_ERR_USER_INPUT, 1, "already used"));
  PetscCall(ExpectError(m, "for i in 0..99999999999 : 1 Z0\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "more than 10000000"));
  PetscCall(ExpectError(m, "for i in 0..9999 : for j in 0..9999 : 1 Z0\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "more than 10000000"));
  PetscCall(ExpectError(m, "for i in -9223372036854775807..9223372036854775807 : 1 Z0\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "more than 10000000"));
  PetscCall(ExpectError(m, "for i in 0..3 : 1 Z{i} Z{2*i}\n", PETSC_ERR_USER_INPUT, 1, "(loop i=0)"));
  PetscCall(ExpectError(m, "x99999999 Z0\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "input feature"));
  PetscCall(ExpectError(m, "x1048576 Z0\n", PETSC_ERR_ARG_OUTOFRANGE, 1, "input feature"));
  if (!QepIsComplexBuild()) {
    PetscCall(ExpectError(m, "1 Z0\n0.5 Y0 Z1\n", PETSC_ERR_SUP, 2, "-DQEP_COMPLEX=ON"));
    PetscCall(ExpectError(m, "1 Z0\noutput y 1 Y3\n", PETSC_ERR_SUP, 2, "-DQEP_COMPLEX=ON"));
  }
  memset(longline, ' ', sizeof(longline) - 1);
  longline[0] = '1';
  longline[sizeof(longline) - 1] = 0;
  PetscCall(ExpectError(m, longline, PETSC_ERR_USER_INPUT, 1, "at most 4095"));
  /* A failed read leaves nothing behind; the next good read is complete. */
  PetscCall(TestIssueExample(m));
  PetscFunctionReturn(0);
}

/* Missing files and binary files are collective errors naming the file. */
static PetscErrorCode TestFileErrors(QepModel m)
{
  PetscErrorCode ierr;
  char          *msg = NULL, path[PETSC_MAX_PATH_LEN];
  int            pid = (int)getpid();

  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = QepModelReadFile(m, "no_such_dir/no_such.model");
  PetscCall(PetscPopErrorHandler());
  if (ierr) PetscCall(PetscErrorMessage(ierr, NULL, &msg));
  CHECK(ierr == PETSC_ERR_FILE_OPEN && msg && strstr(msg, "no_such_dir/no_such.model") && strstr(msg, "No such file"), "missing file: %d '%s'", (int)ierr, msg ? msg : "");

  snprintf(path, sizeof(path), "modelfile_nul_%d.model", pid);
  PetscCall(QepWriteFileAtomic(PETSC_COMM_WORLD, path, "1 Z0\n\0 1 X1\n", 12));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = QepModelReadFile(m, path);
  PetscCall(PetscPopErrorHandler());
  msg = NULL;
  if (ierr) PetscCall(PetscErrorMessage(ierr, NULL, &msg));
  CHECK(ierr == PETSC_ERR_FILE_UNEXPECTED && msg && strstr(msg, path) && strstr(msg, "offset 5 (binary file?)"), "NUL file: %d '%s'", (int)ierr, msg ? msg : "");
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(RemoveFile(path));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------------
 * Robustness: deterministic random inputs; every outcome must be success or a clean error that
 * names "fuzz:<line>:", and nothing may leak.
 * ------------------------------------------------------------------------------------------------ */

static PetscInt64 fuzz_counter = 0;

static int FuzzInt(int n) { return (int)(QepRandomUniform(FUZZ_SEED, 1, fuzz_counter++) * n); }

/* Random bytes 1..255, biased toward the characters the grammar cares about. */
static void RandomBytes(char buf[], int len)
{
  static const char interesting[] = "XYZIxyz0123456789 \n\t#{}()+-*/%:.eE_param for in output qubits";
  for (int i = 0; i < len; i++) {
    int r = FuzzInt(4);
    buf[i] = r == 0 ? (char)(1 + FuzzInt(255)) : interesting[FuzzInt((int)sizeof(interesting) - 1)];
  }
  buf[len] = 0;
}

static void RandomSoup(char buf[], size_t size)
{
  static const char *tokens[] = {"param", "J0", "J1", "0.5", "-1*J0", "-J1", "J0", "x0", "x3", "-x1", "2*x2", "1", "-0.8", "1e999", "nan", "1e-400",
                                 "Z0", "X1", "Y2", "Y1", "z3", "I4", "Z{i}", "X{j}", "Z{i+1}", "Z{(i+j)%4}", "Y{i}", "{i}", "{", "}", "{1/0}", "{i/j}",
                                 "for", "i", "j", "in", "0..3", "{i}..3", "1..0", "0..99999999999", ":", "for i in 0..2 :", "for j in {i+1}..3 :",
                                 "output", "y0", "qubits", "5", "2", "64", "Z99999999999999999999", "Z29", "Z30", "X-1", "*", "-", "#", "\n", "\n", "\n",
                                 "\r\n", "param J{i} 0.{i}", "0.3 Y1 Y2", "-1 Z0 Z1", "x99999999", "J0*2", "1*J9", "--1", "+J0", "\t"};
  const int   ntokens   = (int)(sizeof(tokens) / sizeof(tokens[0]));
  int         n         = 1 + FuzzInt(24);
  size_t      used      = 0;

  buf[0] = 0;
  for (int k = 0; k < n; k++) {
    const char *t = tokens[FuzzInt(ntokens)];
    if (used + strlen(t) + 2 >= size) break;
    used += (size_t)snprintf(buf + used, size - used, "%s%s", t, FuzzInt(3) ? " " : "");
  }
}

static PetscErrorCode FuzzOne(QepModel m, const char text[], PetscInt *nok, PetscInt *nerr)
{
  PetscErrorCode ierr;
  char          *msg = NULL;
  const char    *c;

  PetscFunctionBegin;
  ierr = QepModelReadString(m, "fuzz", text);
  if (!ierr) {
    PetscInt n;
    (*nok)++;
    PetscCall(QepModelGetNumQubits(m, &n)); /* a successful read is a finalized model */
    PetscFunctionReturn(0);
  }
  (*nerr)++;
  PetscCall(PetscErrorMessage(ierr, NULL, &msg));
  c = msg && !strncmp(msg, "fuzz:", 5) ? msg + 5 : NULL;
  if (c && *c >= '1' && *c <= '9') {
    while (*c >= '0' && *c <= '9') c++;
    if (strncmp(c, ": ", 2)) c = NULL;
  } else c = NULL;
  CHECK(c, "fuzz input did not produce a '<file>:<line>: ' error (code %d): '%s'", (int)ierr, msg ? msg : "(none)");
  PetscFunctionReturn(0);
}

/* A valid text with 1 to 3 random byte edits (replace, insert, delete): exercises deep paths. */
static void Mutate(const char src[], char buf[], size_t size)
{
  static const char alphabet[] = "XYZxyz0123456789 \n#{}()+-*/%:._iJ";
  size_t            len        = strlen(src);
  int               nedits     = 1 + FuzzInt(3);

  memcpy(buf, src, len + 1);
  for (int e = 0; e < nedits && len + 2 < size; e++) {
    size_t at = (size_t)FuzzInt((int)len + 1);
    char   c  = FuzzInt(8) ? alphabet[FuzzInt((int)sizeof(alphabet) - 1)] : (char)(1 + FuzzInt(255));
    switch (FuzzInt(3)) {
    case 0: /* replace */
      if (at < len) buf[at] = c;
      break;
    case 1: /* insert */
      memmove(buf + at + 1, buf + at, len - at + 1);
      buf[at] = c;
      len++;
      break;
    default: /* delete */
      if (at < len) {
        memmove(buf + at, buf + at + 1, len - at);
        len--;
      }
    }
  }
}

static PetscErrorCode TestRobustness(void)
{
  static const char *seeds[] = {"param J01 0.5\n-1*J01 Z0 Z1\n-0.8 X3\nx0 Z0\n0.3 Y1 Y2\noutput y0 1.0 Z5\n",
                                "qubits 6\nfor i in 0..5 : param J{i} 0.{i}\nfor i in 0..5 : -1*J{i} Z{i} Z{(i+1)%6}\nfor i in 0..3 : for j in {i+1}..3 : 2*x{j} X{i} X{j}\n"};
  QepModel m;
  PetscInt nok = 0, nerr = 0, rounds = 1;
  char     buf[1024];

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-fuzz_rounds", &rounds, NULL)); /* more rounds: longer soak runs by hand */
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &m));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  for (int k = 0; k < 1000 * rounds; k++) {
    RandomBytes(buf, FuzzInt(300));
    PetscCall(FuzzOne(m, buf, &nok, &nerr));
  }
  for (int k = 0; k < 2000 * rounds; k++) {
    RandomSoup(buf, sizeof(buf));
    PetscCall(FuzzOne(m, buf, &nok, &nerr));
  }
  for (int k = 0; k < 2000 * rounds; k++) {
    Mutate(seeds[k % 2], buf, sizeof(buf));
    PetscCall(FuzzOne(m, buf, &nok, &nerr));
  }
  PetscCall(PetscPopErrorHandler());
  PetscCall(QepModelDestroy(&m));
  CHECK(nok > 100 && nerr > 2000, "robustness: %" PetscInt_FMT " successes and %" PetscInt_FMT " errors; expected many of both", nok, nerr);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "robustness: %" PetscInt_FMT " inputs parsed, %" PetscInt_FMT " rejected cleanly\n", nok, nerr));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  QepModel       m, h;
  PetscLogDouble before, after;
  int            total;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "Model-file reader/writer tests (run with -malloc_debug: the leak check needs it)"));
  PetscCall(QepInitializePackage()); /* its registrations persist: allocate them before measuring */
  PetscCall(PetscMallocGetCurrentUsage(&before));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &m));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &h));
  PetscCall(TestIssueExample(m));
  PetscCall(TestFixedTerms(m));
  PetscCall(TestForms(m));
  PetscCall(TestRingLoop(m, h));
  PetscCall(TestLoopsAndExpressions(m));
  PetscCall(TestErrors(m));
  PetscCall(TestFileErrors(m));
  PetscCall(QepModelDestroy(&m));
  PetscCall(QepModelDestroy(&h));
  PetscCall(TestRoundTrip());
  PetscCall(TestRobustness());
  PetscCall(PetscMallocGetCurrentUsage(&after));
  CHECK(before > 0, "malloc tracing is off: run with -malloc_debug so the leak check measures something");
  CHECK(after == before, "leak: %.0f bytes allocated before the tests, %.0f after", before, after);
  PetscCallMPI(MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscCheck(total == 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "%d check(s) failed", total);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_modelfile: all checks passed\n"));
  PetscCall(SlepcFinalize());
  return 0;
}
