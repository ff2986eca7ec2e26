/* modelfile.c — the plain-text spin model file: reading (QepModelReadFile, QepModelReadString) and
 * writing (QepModelWriteFile). The format is documented in README.md ("Model files"); in short, one
 * statement per line:
 *     param <name> <value>            qubits <n>            output <name> <number> [factors]
 *     <coefficient> [factors]         for <var> in <first>..<last> : <line with {expr}>
 * Comments, loops, {expr}, numbers and the file:line messages are the shared line reader's
 * (src/linefile.c); this file owns the statements.
 * Invariants:
 *  - the reader builds the model only through the public building API (QepModelAddTerm, ...), and
 *    checks everything itself first, so every user error names <file>:<line>;
 *  - every rank parses the same text, so every error is raised on every rank (collective);
 *  - the parser allocates nothing on the heap (all scratch is on the stack), so an error anywhere
 *    leaks nothing: the next read starts with QepModelReset;
 *  - the writer emits text that reads back to the same qubit count, strings, couplings,
 *    parameters, inputs and outputs (numbers are printed so that strtod returns the same double). */
#include "linefile.h"
#include <math.h>

#define QEP_EXPANSION_MAX 10000000 /* loop iterations + generated lines per file: catches 0..1000000000 typos */

/* ----------------------------------------------------------------------------------------------
 * Parser state and names
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  QepLineParser base; /* first: the statement callback gets &base and casts back */
  QepModel      m;
  PetscInt      qubits; /* value of the `qubits` line, 0 while none was seen */
  PetscInt      qubits_line;
  int           maxq;      /* highest qubit used by any term or output so far, -1 if none */
  PetscInt      maxq_line; /* where maxq was first used */
  PetscInt      nterms;
} Parser;

/* PetscCheck for the statements: the message gets the file:line prefix. */
#define ParseCheck(ps, cond, code, ...) QepLineCheck(&(ps)->base, cond, code, __VA_ARGS__)

/* The statement keywords, which no parameter may be named. */
static const char *const Keywords[] = {"param", "qubits", "output", NULL};

/* X3, y12, I0, ...: a Pauli factor (maybe with a bad index). */
static PetscBool IsPauliToken(const char s[])
{
  return (s[0] && strchr("XYZIxyzi", s[0]) && (QepLineIsAllDigits(s + 1) || (s[1] == '-' && QepLineIsAllDigits(s + 2)))) ? PETSC_TRUE : PETSC_FALSE;
}

/* Parameter names: identifiers that cannot be mistaken for anything else on a term line. */
static PetscErrorCode CheckParameterName(const Parser *ps, const char name[])
{
  PetscFunctionBegin;
  PetscCall(QepLineCheckParameterName(&ps->base, name));
  ParseCheck(ps, !QepLineIsInputToken(name), PETSC_ERR_USER_INPUT, "parameter name '%s' is reserved: x<k> names input feature k; choose another name", name);
  ParseCheck(ps, !IsPauliToken(name), PETSC_ERR_USER_INPUT, "parameter name '%s' would be read as a Pauli factor; choose another name", name);
  ParseCheck(ps, !QepLineIsReserved(Keywords, name), PETSC_ERR_USER_INPUT, "parameter name '%s' is a reserved word (param, output, qubits, for, in, inf, nan)", name);
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Statements: param, qubits, output and terms
 * ---------------------------------------------------------------------------------------------- */

/* One factor X<k>/Y<k>/Z<k>/I<k> into p, checking the qubit range and repeats. */
static PetscErrorCode AddFactor(Parser *ps, const char tok[], QepPauli *p)
{
  const char *digits = tok + 1;
  PetscInt    limit  = ps->qubits ? ps->qubits : QepMaxQubits();
  int         q;

  PetscFunctionBegin;
  ParseCheck(ps, tok[0] && strchr("XYZIxyzi", tok[0]) && digits[0], PETSC_ERR_USER_INPUT,
             "'" QEP_LINE_SHOW "' is not a Pauli factor; expected X<k>, Y<k>, Z<k> or I<k> with a qubit index k, e.g. Z0 X12", tok);
  ParseCheck(ps, !(digits[0] == '-' && QepLineIsAllDigits(digits + 1)), PETSC_ERR_ARG_OUTOFRANGE, "negative qubit index in '" QEP_LINE_SHOW "'; qubits are numbered from 0", tok);
  ParseCheck(ps, QepLineIsAllDigits(digits), PETSC_ERR_USER_INPUT, "'" QEP_LINE_SHOW "' is not a Pauli factor: the qubit index must be a decimal integer, e.g. Z0 X12", tok);
  ParseCheck(ps, strlen(digits) <= 9 && atol(digits) < QepMaxQubits(), PETSC_ERR_ARG_OUTOFRANGE,
             "qubit index in '" QEP_LINE_SHOW "' is out of range: this build supports qubits 0..%" PetscInt_FMT "%s", tok, QepMaxQubits() - 1,
             sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  q = (int)atol(digits);
  ParseCheck(ps, q < limit, PETSC_ERR_ARG_OUTOFRANGE, "'%s' acts on qubit %d, but 'qubits %" PetscInt_FMT "' (line %" PetscInt_FMT ") allows qubits 0..%" PetscInt_FMT, tok, q,
             ps->qubits, ps->qubits_line, ps->qubits - 1);
  ParseCheck(ps, QepPauliSetFactor(p, tok[0], q) != 3, PETSC_ERR_USER_INPUT, "qubit %d appears more than once in this term; each qubit may carry one factor", q);
  if (tok[0] != 'I' && tok[0] != 'i' && q > ps->maxq) {
    ps->maxq      = q;
    ps->maxq_line = ps->base.line;
  }
  PetscFunctionReturn(0);
}

/* The product of the factor tokens (the identity when there are none). */
static PetscErrorCode ParsePauli(Parser *ps, int ntok, char *tok[], QepPauli *p)
{
  char buf[512];

  PetscFunctionBegin;
  p->x = p->z = 0;
  for (int k = 0; k < ntok; k++) PetscCall(AddFactor(ps, tok[k], p));
  if (!QepIsComplexBuild() && !QepPauliIsReal(*p)) {
    QepPauliToString(*p, buf, sizeof(buf));
    ParseCheck(ps, PETSC_FALSE, PETSC_ERR_SUP,
               "Pauli string '%s' has an odd number (%d) of Y factors, so its matrix is imaginary and this real-scalar build cannot use it; "
               "rebuild qep with -DQEP_COMPLEX=ON (complex PETSc/SLEPc) for such terms",
               buf, QepPauliNumY(*p));
  }
  PetscFunctionReturn(0);
}

/* A declared parameter or an input x<k>. */
static PetscErrorCode ParseVariable(const Parser *ps, const char name[], QepVarKind *kind, PetscInt *index)
{
  char  *end;
  double number;

  PetscFunctionBegin;
  if (QepLineIsInputToken(name)) {
    *kind = QEP_VAR_INPUT;
    PetscCall(QepLineParseInput(&ps->base, name, index));
    PetscFunctionReturn(0);
  }
  *kind = QEP_VAR_PARAM;
  *index = -1;
  if (QepLineIsIdentifier(name) && strlen(name) < QEP_NAME_LEN) PetscCall(QepModelFindParameter(ps->m, name, index));
  if (*index >= 0) PetscFunctionReturn(0);
  number = strtod(name, &end);
  ParseCheck(ps, !(end != name && !*end && !isfinite(number)), PETSC_ERR_USER_INPUT, "'" QEP_LINE_SHOW "' is not a finite number (nan and inf are not allowed)", name);
  ParseCheck(ps, !QepLineIsIdentifier(name), PETSC_ERR_USER_INPUT,
             "'" QEP_LINE_SHOW "' is neither a keyword (param, output, qubits, for), a declared parameter nor an input x<k>; "
             "declare parameters first with 'param <name> <initial value>' on an earlier line",
             name);
  ParseCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT,
             "malformed coefficient '" QEP_LINE_SHOW "'; allowed: <number>, <name>, -<name> or <number>*<name>, where <name> is a declared parameter or an input x<k>", name);
  PetscFunctionReturn(0);
}

/* number | name | -name | +name | number*name  ->  factor * {1 | theta_index | x_index} */
static PetscErrorCode ParseCoefficient(const Parser *ps, const char tok[], PetscReal *factor, QepVarKind *kind, PetscInt *index)
{
  const char *name;

  PetscFunctionBegin;
  *kind  = QEP_VAR_CONST;
  *index = 0;
  PetscCall(QepLineSplitCoefficient(&ps->base, tok, "coefficient", "-1*J01", factor, &name));
  if (name) PetscCall(ParseVariable(ps, name, kind, index));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoParam(Parser *ps, int ntok, char *tok[])
{
  PetscInt  existing;
  PetscReal value;

  PetscFunctionBegin;
  ParseCheck(ps, ntok == 3, PETSC_ERR_USER_INPUT, "expected 'param <name> <initial value>', e.g. 'param J01 0.5' (got %d words)", ntok);
  PetscCall(CheckParameterName(ps, tok[1]));
  PetscCall(QepModelFindParameter(ps->m, tok[1], &existing));
  ParseCheck(ps, existing < 0, PETSC_ERR_USER_INPUT, "parameter '%s' is declared twice (redeclared here); each parameter is declared once", tok[1]);
  PetscCall(QepLineParseReal(&ps->base, tok[2], "initial value", &value));
  PetscCall(QepModelAddParameter(ps->m, tok[1], value, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoQubits(Parser *ps, int ntok, char *tok[])
{
  PetscInt64 n = 0;

  PetscFunctionBegin;
  ParseCheck(ps, ntok == 2, PETSC_ERR_USER_INPUT, "expected 'qubits <n>', e.g. 'qubits 10'");
  ParseCheck(ps, !ps->qubits, PETSC_ERR_USER_INPUT, "'qubits' is given twice (first on line %" PetscInt_FMT "); give it at most once", ps->qubits_line);
  PetscCall(QepLineParseInteger(&ps->base, tok[1], "qubit count", &n));
  ParseCheck(ps, n >= 2 && n <= QepMaxQubits(), PETSC_ERR_ARG_OUTOFRANGE, "'qubits %" PetscInt64_FMT "' is out of range: this build allows 2 <= n <= %" PetscInt_FMT "%s", n,
             QepMaxQubits(), sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  ParseCheck(ps, ps->maxq < n, PETSC_ERR_ARG_OUTOFRANGE, "'qubits %" PetscInt64_FMT "' allows qubits 0..%" PetscInt64_FMT ", but line %" PetscInt_FMT " uses qubit %d", n, n - 1,
             ps->maxq_line, ps->maxq);
  ps->qubits      = (PetscInt)n;
  ps->qubits_line = ps->base.line;
  PetscCall(QepModelSetNumQubits(ps->m, ps->qubits));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoOutput(Parser *ps, int ntok, char *tok[])
{
  PetscReal c;
  QepPauli  p;

  PetscFunctionBegin;
  ParseCheck(ps, ntok >= 2 && QepLineIsIdentifier(tok[1]), PETSC_ERR_USER_INPUT,
             "output line without a name; expected 'output <name> <coefficient> [Pauli factors]', e.g. 'output y0 1.0 Z5'");
  ParseCheck(ps, strlen(tok[1]) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "output name '" QEP_LINE_SHOW "...' is longer than %d characters", tok[1], QEP_NAME_LEN - 1);
  ParseCheck(ps, ntok >= 3, PETSC_ERR_USER_INPUT, "output '%s' has no coefficient; expected 'output <name> <coefficient> [Pauli factors]', e.g. 'output y0 1.0 Z5'", tok[1]);
  PetscCall(QepLineParseReal(&ps->base, tok[2], "output coefficient", &c));
  PetscCall(ParsePauli(ps, ntok - 3, tok + 3, &p));
  PetscCall(QepModelAddOutputTerm(ps->m, tok[1], p, c));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoTerm(Parser *ps, int ntok, char *tok[])
{
  PetscReal  factor;
  QepVarKind kind;
  PetscInt   index;
  QepPauli   p;

  PetscFunctionBegin;
  /* In the first position x<k> is input k (a coefficient); elsewhere x<k> is a Pauli X. */
  ParseCheck(ps, !IsPauliToken(tok[0]) || QepLineIsInputToken(tok[0]), PETSC_ERR_USER_INPUT,
             "a term starts with its coefficient: '<coefficient> <Pauli factors>', e.g. '-1.0 Z0 Z1' (this line starts with '" QEP_LINE_SHOW "')", tok[0]);
  PetscCall(ParseCoefficient(ps, tok[0], &factor, &kind, &index));
  PetscCall(ParsePauli(ps, ntok - 1, tok + 1, &p));
  PetscCall(QepModelAddTerm(ps->m, p, factor, kind, index));
  ps->nterms++;
  PetscFunctionReturn(0);
}

/* The dialect's statement callback: a keyword's statement, or else a term. */
static PetscErrorCode ExecuteStatement(QepLineParser *base, int ntok, char *tok[])
{
  Parser *ps = (Parser *)base;

  PetscFunctionBegin;
  if (!strcmp(tok[0], "param")) PetscCall(DoParam(ps, ntok, tok));
  else if (!strcmp(tok[0], "qubits")) PetscCall(DoQubits(ps, ntok, tok));
  else if (!strcmp(tok[0], "output")) PetscCall(DoOutput(ps, ntok, tok));
  else PetscCall(DoTerm(ps, ntok, tok));
  PetscFunctionReturn(0);
}

static const QepLineDialect ModelFile = {"a model file", QEP_EXPANSION_MAX, PETSC_TRUE, ExecuteStatement};

/* ----------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------------- */

PetscErrorCode QepModelReadString(QepModel m, const char name[], const char text[])
{
  Parser ps = {.m = m, .maxq = -1}; /* -1: no qubit used yet */
  char   description[PETSC_MAX_PATH_LEN + 16];

  PetscFunctionBegin;
  PetscCheck(text, m->comm, PETSC_ERR_ARG_NULL, "QepModelReadString: text is NULL");
  if (!name) name = "(string)";
  PetscCall(QepModelReset(m));
  PetscCall(QepLineParse(&ps.base, m->comm, name, &ModelFile, text));
  ParseCheck(&ps, ps.nterms > 0, PETSC_ERR_FILE_UNEXPECTED, "the file has no Hamiltonian terms; add lines '<coefficient> <Pauli factors>', e.g. '-1.0 Z0 Z1' or '0.5 X3'");
  snprintf(description, sizeof(description), "model file %s", name);
  PetscCall(QepModelSetDescription(m, description));
  PetscCall(QepModelFinalize(m));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadModelString(void *m, const char name[], const char text[])
{
  PetscFunctionBegin;
  PetscCall(QepModelReadString((QepModel)m, name, text));
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelReadFile(QepModel m, const char path[])
{
  PetscFunctionBegin;
  PetscCheck(path && path[0], m->comm, PETSC_ERR_ARG_NULL, "QepModelReadFile: no file name given");
  PetscCall(QepLineReadFile(m->comm, path, ReadModelString, m));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------------- */

/* " X0 Y3 Z5", or "" for the identity. */
static void FormatPauli(QepPauli p, char buf[], size_t len)
{
  buf[0] = 0;
  if (QepPauliIsIdentity(p)) return;
  buf[0] = ' ';
  QepPauliToString(p, buf + 1, len - 1);
}

static PetscErrorCode WriteTerm(QepText *t, QepModel m, const QepCoupling *c)
{
  char num[32], pauli[512], var[32];

  PetscFunctionBegin;
  FormatPauli(m->strings[c->string], pauli, sizeof(pauli));
  QepTextFormatReal(c->factor, num);
  if (c->kind == QEP_VAR_CONST) PetscCall(QepTextAppend(t, "%s%s\n", num, pauli));
  else {
    const char *name = var;
    if (c->kind == QEP_VAR_PARAM) name = m->param_names[c->index];
    else snprintf(var, sizeof(var), "x%" PetscInt_FMT, c->index);
    if (c->factor == 1.0) PetscCall(QepTextAppend(t, "%s%s\n", name, pauli));
    else if (c->factor == -1.0) PetscCall(QepTextAppend(t, "-%s%s\n", name, pauli));
    else PetscCall(QepTextAppend(t, "%s*%s%s\n", num, name, pauli));
  }
  PetscFunctionReturn(0);
}

/* Strings never referenced by a coupling (only possible through QepModelInternString) are written
 * as "0 <factors>" in their place, so the string order survives. */
static PetscErrorCode WriteOrphanStrings(QepText *t, QepModel m, PetscInt *next, PetscInt upto)
{
  char pauli[512];

  PetscFunctionBegin;
  for (; *next < upto; (*next)++) {
    FormatPauli(m->strings[*next], pauli, sizeof(pauli));
    PetscCall(QepTextAppend(t, "0%s\n", pauli));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildModelText(void *obj, QepText *t)
{
  QepModel m = (QepModel)obj;
  char     num[32], pauli[512];
  PetscInt next = 0; /* strings [0, next) already appeared */

  PetscFunctionBegin;
  PetscCall(QepTextAppendHeader(t, "model file", m->description));
  PetscCall(QepTextAppend(t, "# %" PetscInt_FMT " qubits, %" PetscInt_FMT " Pauli strings, %" PetscInt_FMT " couplings, %" PetscInt_FMT " parameters, %" PetscInt_FMT
                          " inputs, %" PetscInt_FMT " outputs\nqubits %" PetscInt_FMT "\n",
                        m->nqubits, m->nstrings, m->ncouplings, m->nparams, m->ninputs, m->noutputs, m->nqubits));
  if (m->nparams) PetscCall(QepTextAppend(t, "\n"));
  for (PetscInt k = 0; k < m->nparams; k++) {
    QepTextFormatReal(m->param_values[k], num);
    PetscCall(QepTextAppend(t, "param %s %s\n", m->param_names[k], num));
  }
  PetscCall(QepTextAppend(t, "\n"));
  for (PetscInt c = 0; c < m->ncouplings; c++) {
    PetscInt s = m->couplings[c].string;
    if (s >= next) {
      PetscCall(WriteOrphanStrings(t, m, &next, s));
      next = s + 1;
    }
    PetscCall(WriteTerm(t, m, &m->couplings[c]));
  }
  PetscCall(WriteOrphanStrings(t, m, &next, m->nstrings));
  if (m->noutputs) PetscCall(QepTextAppend(t, "\n"));
  for (PetscInt o = 0; o < m->noutputs; o++)
    for (PetscInt i = 0; i < m->outputs[o].sum.n; i++) {
      QepTextFormatReal(m->outputs[o].sum.coeffs[i], num);
      FormatPauli(m->outputs[o].sum.strings[i], pauli, sizeof(pauli));
      PetscCall(QepTextAppend(t, "output %s %s%s\n", m->outputs[o].name, num, pauli));
    }
  PetscFunctionReturn(0);
}

/* Names the reader would reject cannot be written (they would not read back). */
static PetscErrorCode CheckWritableNames(QepModel m)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < m->nparams; k++) {
    const char *s = m->param_names[k];
    PetscCheck(QepLineIsIdentifier(s) && !QepLineIsInputToken(s) && !IsPauliToken(s) && !QepLineIsReserved(Keywords, s), m->comm, PETSC_ERR_ARG_WRONG,
               "Parameter name '%s' cannot be written to a model file: names are identifiers (letters, digits, '_') that are not x<k>, a Pauli factor or a keyword",
               s);
  }
  for (PetscInt o = 0; o < m->noutputs; o++)
    PetscCheck(QepLineIsIdentifier(m->outputs[o].name), m->comm, PETSC_ERR_ARG_WRONG,
               "Output name '%s' cannot be written to a model file: names are identifiers (letters, digits, '_')", m->outputs[o].name);
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelWriteFile(QepModel m, const char path[])
{
  PetscFunctionBegin;
  PetscCheck(path && path[0], m->comm, PETSC_ERR_ARG_NULL, "QepModelWriteFile: no file name given");
  PetscCheck(m->finalized, m->comm, PETSC_ERR_ORDER, "Call QepModelFinalize (or read/generate a model) before writing it");
  PetscCall(CheckWritableNames(m));
  PetscCall(QepTextWriteFile(m->comm, path, BuildModelText, m));
  PetscFunctionReturn(0);
}
