/* modelfile.c — the plain-text oscillator-network file: reading (QepQhoRead, QepQhoReadString) and
 * writing (QepQhoWrite). One statement per line, '#' starts a comment:
 *     modes <N>                    hbar <value>                 param <name> <value>
 *     mass <i> <coef>              spring <i> <j> <k> [<rest>]  ground <i> <k> [<rest>]
 *     force <i> <coef>             quartic <i> <coef>           output <name> <i>
 *     for <var> in <first>..<last> : <line with {expr}>
 * where <coef> is <number> | <name> | -<name> | <number>*<name> (a declared parameter; in a force
 * also an input x<k>). Comments, loops, {expr}, numbers and the file:line messages are the shared
 * line reader's (src/linefile.c), so they behave exactly as in the spin model file; this file owns
 * the statements.
 * Invariants: the reader builds the network only through the public building API, after checking
 * every statement itself, so every user error names <file>:<line>; every rank parses the same text
 * (errors are collective); the parser allocates nothing on the heap (an error leaks nothing); the
 * writer emits text that reads back to the same elements in the same order, with numbers printed so
 * that strtod returns the same double (an exact round trip). */
#include "qhomodel.h"
#include "linefile.h"
#include <math.h>

#define QHO_EXPANSION_MAX 100000000 /* loop iterations + statements per file: a 10^7-mode lattice fits */
#define QHO_MODES_MAX     ((PetscInt64)PETSC_MAX_INT / 8) /* pattern keys i*n + j and CSR sizes stay in range */

/* ---------------------------------------------------------------------------------------- parser */

typedef struct {
  QepLineParser base; /* first: the statement callback gets &base and casts back */
  QepQho        q;
  PetscInt      modes_line, hbar_line;
} Parser;

/* PetscCheck for the statements: the message gets the file:line prefix. */
#define ParseCheck(ps, cond, code, ...) QepLineCheck(&(ps)->base, cond, code, __VA_ARGS__)

/* The statement keywords, which no parameter may be named. */
static const char *const Keywords[] = {"modes", "hbar", "param", "mass", "spring", "ground", "force", "quartic", "output", NULL};

/* A mode index in 0..N-1 (N from the `modes` line, which must come first). */
static PetscErrorCode ParseMode(const Parser *ps, const char tok[], const char what[], PetscInt *mode)
{
  PetscInt64 v;

  PetscFunctionBegin;
  *mode = -1; /* defined on every path, so no caller can read an unset index */
  ParseCheck(ps, ps->q->n > 0, PETSC_ERR_USER_INPUT, "a %s needs the number of modes first: put 'modes <N>' before this line", what);
  PetscCall(QepLineParseInteger(&ps->base, tok, "mode index", &v));
  ParseCheck(ps, v >= 0 && v < ps->q->n, PETSC_ERR_ARG_OUTOFRANGE, "mode index %" PetscInt64_FMT " of this %s is out of range: 'modes %" PetscInt_FMT "' (line %" PetscInt_FMT ") allows 0..%" PetscInt_FMT,
             v, what, ps->q->n, ps->modes_line, ps->q->n - 1);
  *mode = (PetscInt)v;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------- coefficients */

static PetscErrorCode ParseVariable(const Parser *ps, const char name[], PetscBool input_ok, const char what[], QepQhoCoef *c)
{
  char  *end;
  double number;

  PetscFunctionBegin;
  if (QepLineIsInputToken(name)) {
    ParseCheck(ps, input_ok, PETSC_ERR_USER_INPUT, "input '%s' in a %s: inputs enter the network as forces only ('force <i> %s')", name, what, name);
    c->kind = QEP_VAR_INPUT;
    PetscCall(QepLineParseInput(&ps->base, name, &c->index));
    PetscFunctionReturn(0);
  }
  c->kind  = QEP_VAR_PARAM;
  c->index = -1;
  if (QepLineIsIdentifier(name) && strlen(name) < QEP_NAME_LEN) PetscCall(QepQhoFindParameter(ps->q, name, &c->index));
  if (c->index >= 0) PetscFunctionReturn(0);
  number = strtod(name, &end);
  ParseCheck(ps, !(end != name && !*end && !isfinite(number)), PETSC_ERR_USER_INPUT, "'" QEP_LINE_SHOW "' is not a finite number (nan and inf are not allowed)", name);
  ParseCheck(ps, !QepLineIsIdentifier(name), PETSC_ERR_USER_INPUT,
             "'" QEP_LINE_SHOW "' in this %s is neither a number nor a declared parameter%s; declare parameters first with 'param <name> <initial value>' on an earlier line", name, what,
             input_ok ? " or an input x<k>" : "");
  ParseCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "malformed %s '" QEP_LINE_SHOW "'; allowed: <number>, <name>, -<name> or <number>*<name>%s", what, name,
             input_ok ? " (name: a declared parameter or an input x<k>)" : " (name: a declared parameter)");
  PetscFunctionReturn(0);
}

/* number | name | -name | +name | number*name; `what` names it in messages. */
static PetscErrorCode ParseCoefficient(const Parser *ps, const char tok[], PetscBool input_ok, const char what[], QepQhoCoef *c)
{
  const char *name;

  PetscFunctionBegin;
  c->kind  = QEP_VAR_CONST;
  c->index = 0;
  PetscCall(QepLineSplitCoefficient(&ps->base, tok, what, "0.5*k01", &c->factor, &name));
  if (name) PetscCall(ParseVariable(ps, name, input_ok, what, c));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------- statements */

static PetscErrorCode ExpectWords(const Parser *ps, int ntok, int lo, int hi, const char form[])
{
  PetscFunctionBegin;
  ParseCheck(ps, ntok >= lo && ntok <= hi, PETSC_ERR_USER_INPUT, "expected '%s' (got %d words)", form, ntok);
  PetscFunctionReturn(0);
}

static PetscErrorCode DoModes(Parser *ps, int ntok, char *tok[])
{
  PetscInt64 n;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 2, 2, "modes <N>"));
  ParseCheck(ps, !ps->modes_line, PETSC_ERR_USER_INPUT, "'modes' is given twice (first on line %" PetscInt_FMT "); give it once", ps->modes_line);
  PetscCall(QepLineParseInteger(&ps->base, tok[1], "number of modes", &n));
  ParseCheck(ps, n >= 1 && n <= QHO_MODES_MAX, PETSC_ERR_ARG_OUTOFRANGE, "'modes %" PetscInt64_FMT "' is out of range; allowed 1..%" PetscInt64_FMT, n, (PetscInt64)QHO_MODES_MAX);
  PetscCall(QepQhoSetNumModes(ps->q, (PetscInt)n));
  ps->modes_line = ps->base.line;
  PetscFunctionReturn(0);
}

static PetscErrorCode DoHbar(Parser *ps, int ntok, char *tok[])
{
  PetscReal h;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 2, 2, "hbar <value>"));
  ParseCheck(ps, !ps->hbar_line, PETSC_ERR_USER_INPUT, "'hbar' is given twice (first on line %" PetscInt_FMT "); give it at most once", ps->hbar_line);
  PetscCall(QepLineParseReal(&ps->base, tok[1], "hbar", &h));
  ParseCheck(ps, h >= 0, PETSC_ERR_ARG_OUTOFRANGE, "hbar %g is negative; hbar > 0 (or 0 for the classical limit)", (double)h);
  PetscCall(QepQhoSetHbar(ps->q, h));
  ps->hbar_line = ps->base.line;
  PetscFunctionReturn(0);
}

static PetscErrorCode DoParam(Parser *ps, int ntok, char *tok[])
{
  PetscInt  existing;
  PetscReal value;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "param <name> <initial value>"));
  PetscCall(QepLineCheckParameterName(&ps->base, tok[1]));
  ParseCheck(ps, !QepLineIsInputToken(tok[1]), PETSC_ERR_USER_INPUT, "parameter name '%s' is reserved: x<k> names input feature k", tok[1]);
  ParseCheck(ps, !QepLineIsReserved(Keywords, tok[1]), PETSC_ERR_USER_INPUT, "parameter name '%s' is a keyword (modes, hbar, param, mass, spring, ground, force, quartic, output, for, in, inf, nan)", tok[1]);
  PetscCall(QepQhoFindParameter(ps->q, tok[1], &existing));
  ParseCheck(ps, existing < 0, PETSC_ERR_USER_INPUT, "parameter '%s' is declared twice; each parameter is declared once", tok[1]);
  PetscCall(QepLineParseReal(&ps->base, tok[2], "initial value", &value));
  PetscCall(QepQhoAddParameter(ps->q, tok[1], value, NULL));
  PetscFunctionReturn(0);
}

/* What a `<keyword> <mode> <coefficient>` statement calls its parts in messages. */
typedef struct {
  const char *form, *mode, *coefficient;
  PetscBool   input_ok; /* may the coefficient be an input x<k>? */
} ModeStatement;

static const ModeStatement Mass = {"mass <mode> <mass>", "mass", "mass", PETSC_FALSE};
static const ModeStatement Force = {"force <mode> <force>", "force", "force", PETSC_TRUE};
static const ModeStatement Quartic = {"quartic <mode> <lambda>", "quartic term", "quartic coefficient", PETSC_FALSE};

/* The mode and the coefficient of a statement of kind st. */
static PetscErrorCode ParseModeStatement(const Parser *ps, const ModeStatement *st, int ntok, char *tok[], PetscInt *i, QepQhoCoef *c)
{
  PetscFunctionBegin;
  *i = -1; /* defined on every path, as in ParseMode */
  PetscCall(ExpectWords(ps, ntok, 3, 3, st->form));
  PetscCall(ParseMode(ps, tok[1], st->mode, i));
  PetscCall(ParseCoefficient(ps, tok[2], st->input_ok, st->coefficient, c));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoMass(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef m;

  PetscFunctionBegin;
  PetscCall(ParseModeStatement(ps, &Mass, ntok, tok, &i, &m));
  ParseCheck(ps, !ps->q->mass_set[i], PETSC_ERR_USER_INPUT, "mode %" PetscInt_FMT " has two 'mass' lines; give each mode at most one (the default is 1)", i);
  ParseCheck(ps, m.kind != QEP_VAR_CONST || m.factor > 0, PETSC_ERR_ARG_OUTOFRANGE, "mass %g of mode %" PetscInt_FMT " is not positive; masses must be > 0", (double)m.factor, i);
  PetscCall(QepQhoSetMass(ps->q, i, m));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoForce(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef f;

  PetscFunctionBegin;
  PetscCall(ParseModeStatement(ps, &Force, ntok, tok, &i, &f));
  PetscCall(QepQhoAddForce(ps->q, i, f));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoQuartic(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef l;

  PetscFunctionBegin;
  PetscCall(ParseModeStatement(ps, &Quartic, ntok, tok, &i, &l));
  ParseCheck(ps, l.kind != QEP_VAR_CONST || l.factor >= 0, PETSC_ERR_ARG_OUTOFRANGE, "quartic coefficient %g of mode %" PetscInt_FMT " is negative; lambda >= 0 (a negative x^4 term has no ground state)",
             (double)l.factor, i);
  PetscCall(QepQhoAddQuartic(ps->q, i, l));
  PetscFunctionReturn(0);
}

/* spring <i> <j> <k> [<rest>] and ground <i> <k> [<rest>] */
static PetscErrorCode DoSpring(Parser *ps, int ntok, char *tok[], PetscBool ground)
{
  PetscInt   i, j = -1, at = ground ? 2 : 3;
  QepQhoCoef k, rest = QepQhoConst(0.0);

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, at + 1, at + 2, ground ? "ground <mode> <stiffness> [<rest position>]" : "spring <mode i> <mode j> <stiffness> [<rest length>]"));
  PetscCall(ParseMode(ps, tok[1], ground ? "ground spring" : "spring", &i));
  if (!ground) {
    PetscCall(ParseMode(ps, tok[2], "spring", &j));
    ParseCheck(ps, i != j, PETSC_ERR_USER_INPUT, "spring from mode %" PetscInt_FMT " to itself; a spring couples two different modes ('ground <i> <k>' ties one mode to the ground)", i);
  }
  PetscCall(ParseCoefficient(ps, tok[at], PETSC_FALSE, "stiffness", &k));
  if (ntok > at + 1) PetscCall(ParseCoefficient(ps, tok[at + 1], PETSC_FALSE, ground ? "rest position" : "rest length", &rest));
  if (ground) PetscCall(QepQhoAddGroundSpring(ps->q, i, k, rest));
  else PetscCall(QepQhoAddSpring(ps->q, i, j, k, rest));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoOutput(Parser *ps, int ntok, char *tok[])
{
  PetscInt i;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "output <name> <mode>"));
  ParseCheck(ps, QepLineIsIdentifier(tok[1]) && strlen(tok[1]) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "invalid output name '" QEP_LINE_SHOW "'; names are identifiers of at most %d characters", tok[1],
             QEP_NAME_LEN - 1);
  for (PetscInt o = 0; o < ps->q->noutputs; o++) ParseCheck(ps, strcmp(ps->q->output_names[o], tok[1]), PETSC_ERR_USER_INPUT, "output '%s' is declared twice; output names are unique", tok[1]);
  PetscCall(ParseMode(ps, tok[2], "output", &i));
  PetscCall(QepQhoAddOutput(ps->q, tok[1], i));
  PetscFunctionReturn(0);
}

/* The dialect's statement callback: dispatch on the first word. */
static PetscErrorCode ExecuteStatement(QepLineParser *base, int ntok, char *tok[])
{
  Parser *ps = (Parser *)base;

  PetscFunctionBegin;
  if (!strcmp(tok[0], "modes")) PetscCall(DoModes(ps, ntok, tok));
  else if (!strcmp(tok[0], "hbar")) PetscCall(DoHbar(ps, ntok, tok));
  else if (!strcmp(tok[0], "param")) PetscCall(DoParam(ps, ntok, tok));
  else if (!strcmp(tok[0], "mass")) PetscCall(DoMass(ps, ntok, tok));
  else if (!strcmp(tok[0], "spring")) PetscCall(DoSpring(ps, ntok, tok, PETSC_FALSE));
  else if (!strcmp(tok[0], "ground")) PetscCall(DoSpring(ps, ntok, tok, PETSC_TRUE));
  else if (!strcmp(tok[0], "force")) PetscCall(DoForce(ps, ntok, tok));
  else if (!strcmp(tok[0], "quartic")) PetscCall(DoQuartic(ps, ntok, tok));
  else if (!strcmp(tok[0], "output")) PetscCall(DoOutput(ps, ntok, tok));
  else
    ParseCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT,
               "unknown keyword '" QEP_LINE_SHOW "'; an oscillator file has the statements modes, hbar, param, mass, spring, ground, force, quartic, output and 'for <var> in <a>..<b> : <line>'", tok[0]);
  PetscFunctionReturn(0);
}

static const QepLineDialect OscillatorFile = {"an oscillator file", QHO_EXPANSION_MAX, PETSC_FALSE, ExecuteStatement};

/* --------------------------------------------------------------------------------------- reading */

PetscErrorCode QepQhoReadString(QepQho q, const char name[], const char text[])
{
  Parser ps = {.q = q};
  char   description[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBegin;
  PetscCheck(text, q->comm, PETSC_ERR_ARG_NULL, "QepQhoReadString: text is NULL");
  if (!name) name = "(string)";
  PetscCall(QepQhoReset(q));
  PetscCall(QepLineParse(&ps.base, q->comm, name, &OscillatorFile, text));
  ParseCheck(&ps, ps.modes_line > 0, PETSC_ERR_FILE_UNEXPECTED, "the file has no 'modes <N>' line; an oscillator file starts with the number of modes");
  snprintf(description, sizeof(description), "oscillator file %s", name);
  PetscCall(QepQhoSetDescription(q, description));
  PetscCall(QepQhoFinalize(q));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadQhoString(void *q, const char name[], const char text[])
{
  PetscFunctionBegin;
  PetscCall(QepQhoReadString((QepQho)q, name, text));
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoRead(QepQho q, const char path[])
{
  PetscFunctionBegin;
  PetscCheck(path && path[0], q->comm, PETSC_ERR_ARG_NULL, "QepQhoRead: no file name given");
  PetscCall(QepLineReadFile(q->comm, path, ReadQhoString, q));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- writing */

/* number | name | -name | number*name, as the reader parses it. */
static void FormatCoef(QepQho q, QepQhoCoef c, char buf[], size_t len)
{
  char num[32], var[QEP_NAME_LEN + 8];

  QepTextFormatReal(c.factor, num);
  if (c.kind == QEP_VAR_CONST) {
    snprintf(buf, len, "%s", num);
    return;
  }
  if (c.kind == QEP_VAR_PARAM) snprintf(var, sizeof(var), "%s", q->param_names[c.index]);
  else snprintf(var, sizeof(var), "x%" PetscInt_FMT, c.index);
  if (c.factor == 1.0) snprintf(buf, len, "%s", var);
  else if (c.factor == -1.0) snprintf(buf, len, "-%s", var);
  else snprintf(buf, len, "%s*%s", num, var);
}

static PetscErrorCode BuildText(void *obj, QepText *t)
{
  QepQho q = (QepQho)obj;
  char a[128], b[128], num[32];

  PetscFunctionBegin;
  PetscCall(QepTextAppendHeader(t, "oscillator network", q->description));
  QepTextFormatReal(q->hbar, num);
  PetscCall(QepTextAppend(t, "# %" PetscInt_FMT " springs, %" PetscInt_FMT " ground springs, %" PetscInt_FMT " forces, %" PetscInt_FMT " quartic terms, %" PetscInt_FMT " parameters, %" PetscInt_FMT " outputs\nmodes %" PetscInt_FMT "\nhbar %s\n",
                        q->nsprings, q->nground, q->nforces, q->nquartic, q->nparams, q->noutputs, q->n, num));
  for (PetscInt k = 0; k < q->nparams; k++) {
    QepTextFormatReal(q->param_values[k], num);
    PetscCall(QepTextAppend(t, "param %s %s\n", q->param_names[k], num));
  }
  for (PetscInt i = 0; i < q->n; i++)
    if (q->mass[i].kind != QEP_VAR_CONST || q->mass[i].factor != 1.0) {
      FormatCoef(q, q->mass[i], a, sizeof(a));
      PetscCall(QepTextAppend(t, "mass %" PetscInt_FMT " %s\n", i, a));
    }
  for (PetscInt s = 0; s < q->nsprings; s++) {
    FormatCoef(q, q->springs[s].k, a, sizeof(a));
    FormatCoef(q, q->springs[s].rest, b, sizeof(b));
    PetscCall(QepTextAppend(t, "spring %" PetscInt_FMT " %" PetscInt_FMT " %s %s\n", q->springs[s].i, q->springs[s].j, a, b));
  }
  for (PetscInt s = 0; s < q->nground; s++) {
    FormatCoef(q, q->ground[s].k, a, sizeof(a));
    FormatCoef(q, q->ground[s].rest, b, sizeof(b));
    PetscCall(QepTextAppend(t, "ground %" PetscInt_FMT " %s %s\n", q->ground[s].i, a, b));
  }
  for (PetscInt f = 0; f < q->nforces; f++) {
    FormatCoef(q, q->forces[f].c, a, sizeof(a));
    PetscCall(QepTextAppend(t, "force %" PetscInt_FMT " %s\n", q->forces[f].i, a));
  }
  for (PetscInt f = 0; f < q->nquartic; f++) {
    FormatCoef(q, q->quartic[f].c, a, sizeof(a));
    PetscCall(QepTextAppend(t, "quartic %" PetscInt_FMT " %s\n", q->quartic[f].i, a));
  }
  for (PetscInt o = 0; o < q->noutputs; o++) PetscCall(QepTextAppend(t, "output %s %" PetscInt_FMT "\n", q->output_names[o], q->output_mode[o]));
  PetscFunctionReturn(0);
}

/* Names the reader would reject cannot be written. */
static PetscErrorCode CheckWritableNames(QepQho q)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < q->nparams; k++) {
    const char *s = q->param_names[k];
    PetscCheck(QepLineIsIdentifier(s) && !QepLineIsInputToken(s) && !QepLineIsReserved(Keywords, s), q->comm, PETSC_ERR_ARG_WRONG,
               "Parameter name '%s' cannot be written to an oscillator file: names are identifiers (letters, digits, '_') that are not x<k> or a keyword", s);
  }
  for (PetscInt o = 0; o < q->noutputs; o++)
    PetscCheck(QepLineIsIdentifier(q->output_names[o]), q->comm, PETSC_ERR_ARG_WRONG, "Output name '%s' cannot be written to an oscillator file: names are identifiers", q->output_names[o]);
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoWrite(QepQho q, const char path[])
{
  PetscFunctionBegin;
  PetscCheck(path && path[0], q->comm, PETSC_ERR_ARG_NULL, "QepQhoWrite: no file name given");
  PetscCheck(q->finalized, q->comm, PETSC_ERR_ORDER, "Finalize the oscillator network (or read/generate it) before writing it");
  PetscCall(CheckWritableNames(q));
  PetscCall(QepTextWriteFile(q->comm, path, BuildText, q));
  PetscFunctionReturn(0);
}
