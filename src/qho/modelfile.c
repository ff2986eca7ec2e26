/* modelfile.c — the plain-text oscillator-network file: reading (QepQhoRead, QepQhoReadString) and
 * writing (QepQhoWrite). One statement per line, '#' starts a comment:
 *     modes <N>                    hbar <value>                 param <name> <value>
 *     mass <i> <coef>              spring <i> <j> <k> [<rest>]  ground <i> <k> [<rest>]
 *     force <i> <coef>             quartic <i> <coef>           output <name> <i>
 *     for <var> in <first>..<last> : <line with {expr}>
 * where <coef> is <number> | <name> | -<name> | <number>*<name> (a declared parameter; in a force
 * also an input x<k>). The loop and {expr} syntax is the spin model file's (src/model/modelfile.c,
 * whose small helpers are copied here so the two readers stay independent).
 * Invariants: the reader builds the network only through the public building API, after checking
 * every statement itself, so every user error names <file>:<line>; every rank parses the same text
 * (errors are collective); the parser allocates nothing on the heap (an error leaks nothing); the
 * writer emits text that reads back to the same elements in the same order, with numbers printed so
 * that strtod returns the same double (an exact round trip). */
#include "qhomodel.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>

#define QHO_LINE_MAX       4096
#define QHO_TOKENS_MAX     (QHO_LINE_MAX / 2 + 1)
#define QHO_LOOP_DEPTH_MAX 8
#define QHO_VAR_LEN        32
#define QHO_EXPANSION_MAX  100000000 /* loop iterations + statements per file: a 10^7-mode lattice fits */
#define QHO_INPUT_MAX      1048576
#define QHO_MODES_MAX      ((PetscInt64)PETSC_MAX_INT / 8) /* pattern keys i*n + j and CSR sizes stay in range */
#define QHO_EXPR_DEPTH_MAX 64
#define QHO_SHOW           "%.60s"

/* ---------------------------------------------------------------------------------------- parser */

typedef struct {
  QepQho      q;
  const char *file;
  PetscInt    line;
  int         nvars;
  char        var[QHO_LOOP_DEPTH_MAX][QHO_VAR_LEN];
  PetscInt64  val[QHO_LOOP_DEPTH_MAX];
  PetscInt64  work;
  PetscInt    modes_line, hbar_line;
} Parser;

static void LoopContext(const Parser *ps, char buf[], size_t len)
{
  size_t used = 0;

  buf[0] = 0;
  for (int k = 0; k < ps->nvars && used + 1 < len; k++) {
    int w = snprintf(buf + used, len - used, "%s%s=%" PetscInt64_FMT, k ? ", " : " (loop ", ps->var[k], ps->val[k]);
    if (w < 0) break;
    used += (size_t)w;
  }
  if (ps->nvars && used + 1 < len) snprintf(buf + used, len - used, ")");
}

static PetscErrorCode ParseError(const Parser *ps, PetscErrorCode code, const char fmt[], ...) __attribute__((format(printf, 3, 4)));
static PetscErrorCode ParseError(const Parser *ps, PetscErrorCode code, const char fmt[], ...)
{
  char    msg[1024], where[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  LoopContext(ps, where, sizeof(where));
  SETERRQ(ps->q->comm, code, "%s:%" PetscInt_FMT ": %s%s", ps->file, ps->line, msg, where);
}

#define ParseCheck(ps, cond, code, ...) \
  do { \
    if (PetscUnlikely(!(cond))) PetscCall(ParseError(ps, code, __VA_ARGS__)); \
  } while (0)

static PetscBool IsBlank(char c) { return (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') ? PETSC_TRUE : PETSC_FALSE; }
static PetscBool IsDigit(char c) { return (c >= '0' && c <= '9') ? PETSC_TRUE : PETSC_FALSE; }
static PetscBool IsIdentStart(char c) { return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') ? PETSC_TRUE : PETSC_FALSE; }
static PetscBool IsIdentChar(char c) { return (IsIdentStart(c) || IsDigit(c)) ? PETSC_TRUE : PETSC_FALSE; }

static PetscBool IsAllDigits(const char s[])
{
  if (!*s) return PETSC_FALSE;
  for (; *s; s++)
    if (!IsDigit(*s)) return PETSC_FALSE;
  return PETSC_TRUE;
}

static PetscBool IsIdentifier(const char s[])
{
  if (!IsIdentStart(*s)) return PETSC_FALSE;
  for (s++; *s; s++)
    if (!IsIdentChar(*s)) return PETSC_FALSE;
  return PETSC_TRUE;
}

static PetscBool IsInputToken(const char s[]) { return (s[0] == 'x' && IsAllDigits(s + 1)) ? PETSC_TRUE : PETSC_FALSE; }

static PetscBool StartsWithKeyword(const char text[], const char kw[])
{
  size_t n = strlen(kw);
  return (!strncmp(text, kw, n) && (!text[n] || IsBlank(text[n]))) ? PETSC_TRUE : PETSC_FALSE;
}

static const char *SkipBlanks(const char *c)
{
  while (IsBlank(*c)) c++;
  return c;
}

static void TrimRight(char s[])
{
  size_t n = strlen(s);
  while (n && IsBlank(s[n - 1])) s[--n] = 0;
}

static const char *const Keywords[] = {"modes", "hbar", "param", "mass", "spring", "ground", "force", "quartic", "output", "for", "in"};

static PetscBool IsReservedWord(const char s[])
{
  for (size_t k = 0; k < sizeof(Keywords) / sizeof(Keywords[0]); k++)
    if (!strcmp(s, Keywords[k])) return PETSC_TRUE;
  return (!strcasecmp(s, "inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "nan")) ? PETSC_TRUE : PETSC_FALSE;
}

static void Tokenize(char line[], int *ntok, char *tok[])
{
  char *c = line;

  *ntok = 0;
  for (;;) {
    while (IsBlank(*c)) *c++ = 0;
    if (!*c) break;
    tok[(*ntok)++] = c;
    while (*c && !IsBlank(*c)) c++;
  }
}

/* ---------------------------------------------------------------------------------------- numbers */

static PetscErrorCode ParseReal(const Parser *ps, const char tok[], const char what[], PetscReal *value)
{
  char  *end;
  double v;

  PetscFunctionBegin;
  ParseCheck(ps, tok && tok[0], PETSC_ERR_USER_INPUT, "missing %s", what);
  v = strtod(tok, &end);
  ParseCheck(ps, end != tok && !*end, PETSC_ERR_USER_INPUT, "%s '" QHO_SHOW "' is not a number (expected e.g. 0.5, -1, 2e-3)", what, tok);
  ParseCheck(ps, isfinite(v), PETSC_ERR_USER_INPUT, "%s '" QHO_SHOW "' is not a finite number (nan, inf and magnitudes above 1.8e308 are not allowed)", what, tok);
  ParseCheck(ps, v == 0.0 || fabs(v) >= DBL_MIN, PETSC_ERR_USER_INPUT, "%s '" QHO_SHOW "' is too small for double precision (magnitude below %g); use 0", what, tok, DBL_MIN);
  *value = (PetscReal)v;
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseInteger(const Parser *ps, const char tok[], const char what[], PetscInt64 *value)
{
  const char *digits = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
  char       *end;
  long long   v;

  PetscFunctionBegin;
  ParseCheck(ps, IsAllDigits(digits), PETSC_ERR_USER_INPUT, "%s '" QHO_SHOW "' is not an integer", what, tok);
  errno = 0;
  v     = strtoll(tok, &end, 10);
  ParseCheck(ps, errno != ERANGE && !*end, PETSC_ERR_ARG_OUTOFRANGE, "%s '" QHO_SHOW "' is out of range", what, tok);
  *value = (PetscInt64)v;
  PetscFunctionReturn(0);
}

/* A mode index in 0..N-1 (N from the `modes` line, which must come first). */
static PetscErrorCode ParseMode(const Parser *ps, const char tok[], const char what[], PetscInt *mode)
{
  PetscInt64 v;

  PetscFunctionBegin;
  ParseCheck(ps, ps->q->n > 0, PETSC_ERR_USER_INPUT, "a %s needs the number of modes first: put 'modes <N>' before this line", what);
  PetscCall(ParseInteger(ps, tok, "mode index", &v));
  ParseCheck(ps, v >= 0 && v < ps->q->n, PETSC_ERR_ARG_OUTOFRANGE, "mode index %" PetscInt64_FMT " of this %s is out of range: 'modes %" PetscInt_FMT "' (line %" PetscInt_FMT ") allows 0..%" PetscInt_FMT,
             v, what, ps->q->n, ps->modes_line, ps->q->n - 1);
  *mode = (PetscInt)v;
  PetscFunctionReturn(0);
}

/* --------------------------------------------------------------- integer expressions in {...} */

typedef struct {
  const Parser *ps;
  const char   *text;
  const char   *c;
  int           depth;
} Expr;

static PetscErrorCode ExprSum(Expr *e, PetscInt64 *v);

static PetscErrorCode ExprVariable(Expr *e, PetscInt64 *v)
{
  char   name[QHO_VAR_LEN];
  size_t n = 0;

  PetscFunctionBegin;
  while (IsIdentChar(e->c[n])) n++;
  ParseCheck(e->ps, n < sizeof(name), PETSC_ERR_USER_INPUT, "unknown loop variable '%.*s' in {%s}", (int)PetscMin(n, 60), e->c, e->text);
  memcpy(name, e->c, n);
  name[n] = 0;
  e->c += n;
  for (int k = e->ps->nvars - 1; k >= 0; k--)
    if (!strcmp(e->ps->var[k], name)) {
      *v = e->ps->val[k];
      PetscFunctionReturn(0);
    }
  ParseCheck(e->ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "unknown loop variable '%s' in {%s}%s", name, e->text,
             e->ps->nvars ? "" : "; no loop is open here (use 'for <var> in <first>..<last> : ...')");
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprPrimary(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  e->c = SkipBlanks(e->c);
  if (*e->c == '(') {
    e->c++;
    PetscCall(ExprSum(e, v));
    e->c = SkipBlanks(e->c);
    ParseCheck(e->ps, *e->c == ')', PETSC_ERR_USER_INPUT, "missing ')' in {%s}", e->text);
    e->c++;
  } else if (IsDigit(*e->c)) {
    char      digits[24];
    size_t    n = 0;
    long long parsed;
    while (IsDigit(e->c[n])) n++;
    ParseCheck(e->ps, n < sizeof(digits), PETSC_ERR_ARG_OUTOFRANGE, "integer '%.*s' in {%s} is too large", (int)PetscMin(n, 60), e->c, e->text);
    memcpy(digits, e->c, n);
    digits[n] = 0;
    errno     = 0;
    parsed    = strtoll(digits, NULL, 10);
    ParseCheck(e->ps, errno != ERANGE, PETSC_ERR_ARG_OUTOFRANGE, "integer '%s' in {%s} is too large", digits, e->text);
    *v = (PetscInt64)parsed;
    e->c += n;
  } else if (IsIdentStart(*e->c)) {
    PetscCall(ExprVariable(e, v));
  } else {
    ParseCheck(e->ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "bad syntax in {%s}: expected an integer, a loop variable or '(' %s%.20s", e->text, *e->c ? "at " : "at the end", e->c);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprUnary(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  e->c = SkipBlanks(e->c);
  ParseCheck(e->ps, ++e->depth <= QHO_EXPR_DEPTH_MAX, PETSC_ERR_USER_INPUT, "expression {%.60s...} is nested more than %d deep", e->text, QHO_EXPR_DEPTH_MAX);
  if (*e->c == '-' || *e->c == '+') {
    char sign = *e->c++;
    PetscCall(ExprUnary(e, v));
    ParseCheck(e->ps, *v != INT64_MIN, PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
    if (sign == '-') *v = -*v;
  } else PetscCall(ExprPrimary(e, v));
  e->depth--;
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprProduct(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  PetscCall(ExprUnary(e, v));
  for (;;) {
    PetscInt64 rhs, out;
    char       op;
    e->c = SkipBlanks(e->c);
    op   = *e->c;
    if (op != '*' && op != '/' && op != '%') break;
    e->c++;
    PetscCall(ExprUnary(e, &rhs));
    if (op == '*') {
      ParseCheck(e->ps, !__builtin_mul_overflow(*v, rhs, &out), PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
      *v = out;
      continue;
    }
    ParseCheck(e->ps, rhs != 0, PETSC_ERR_USER_INPUT, "division by zero in {%s}", e->text);
    ParseCheck(e->ps, !(*v == INT64_MIN && rhs == -1), PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
    *v = op == '/' ? *v / rhs : *v % rhs;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprSum(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  PetscCall(ExprProduct(e, v));
  for (;;) {
    PetscInt64 rhs, out;
    char       op;
    e->c = SkipBlanks(e->c);
    op   = *e->c;
    if (op != '+' && op != '-') break;
    e->c++;
    PetscCall(ExprProduct(e, &rhs));
    ParseCheck(e->ps, !(op == '+' ? __builtin_add_overflow(*v, rhs, &out) : __builtin_sub_overflow(*v, rhs, &out)), PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
    *v = out;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode EvaluateExpression(const Parser *ps, const char text[], PetscInt64 *v)
{
  Expr e = {ps, text, text, 0};

  PetscFunctionBegin;
  ParseCheck(ps, *SkipBlanks(text), PETSC_ERR_USER_INPUT, "empty expression {}; expected integer arithmetic such as {i+1}");
  PetscCall(ExprSum(&e, v));
  e.c = SkipBlanks(e.c);
  ParseCheck(ps, !*e.c, PETSC_ERR_USER_INPUT, "bad syntax in {%s} at '%.20s'; allowed: integers, loop variables, + - * / %% and parentheses", text, e.c);
  PetscFunctionReturn(0);
}

static PetscErrorCode SubstituteBraces(const Parser *ps, const char in[], char out[])
{
  size_t used = 0;

  PetscFunctionBegin;
  for (const char *c = in; *c;) {
    char   piece[32];
    size_t n;
    if (*c == '{') {
      const char *close = c + 1 + strcspn(c + 1, "{}");
      char        expr[QHO_LINE_MAX];
      PetscInt64  v;
      ParseCheck(ps, *close == '}', PETSC_ERR_USER_INPUT, "'{' without a matching '}'%s", *close == '{' ? " (braces do not nest)" : "");
      memcpy(expr, c + 1, (size_t)(close - c - 1));
      expr[close - c - 1] = 0;
      PetscCall(EvaluateExpression(ps, expr, &v));
      snprintf(piece, sizeof(piece), "%" PetscInt64_FMT, v);
      c = close + 1;
    } else {
      ParseCheck(ps, *c != '}', PETSC_ERR_USER_INPUT, "'}' without a matching '{'");
      piece[0] = *c++;
      piece[1] = 0;
    }
    n = strlen(piece);
    ParseCheck(ps, used + n < QHO_LINE_MAX, PETSC_ERR_USER_INPUT, "after substituting {...} the line is longer than %d characters", QHO_LINE_MAX - 1);
    memcpy(out + used, piece, n);
    used += n;
  }
  out[used] = 0;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------- coefficients */

static PetscErrorCode ParseVariable(const Parser *ps, const char name[], PetscBool input_ok, const char what[], QepQhoCoef *c)
{
  char  *end;
  double number;

  PetscFunctionBegin;
  if (IsInputToken(name)) {
    ParseCheck(ps, input_ok, PETSC_ERR_USER_INPUT, "input '%s' in a %s: inputs enter the network as forces only ('force <i> %s')", name, what, name);
    ParseCheck(ps, strlen(name + 1) <= 7 && atol(name + 1) < QHO_INPUT_MAX, PETSC_ERR_ARG_OUTOFRANGE, "input feature '" QHO_SHOW "' is out of range: inputs are x0..x%d", name,
               QHO_INPUT_MAX - 1);
    c->kind  = QEP_VAR_INPUT;
    c->index = (PetscInt)atol(name + 1);
    PetscFunctionReturn(0);
  }
  c->kind  = QEP_VAR_PARAM;
  c->index = -1;
  if (IsIdentifier(name) && strlen(name) < QEP_NAME_LEN) PetscCall(QepQhoFindParameter(ps->q, name, &c->index));
  if (c->index >= 0) PetscFunctionReturn(0);
  number = strtod(name, &end);
  ParseCheck(ps, !(end != name && !*end && !isfinite(number)), PETSC_ERR_USER_INPUT, "'" QHO_SHOW "' is not a finite number (nan and inf are not allowed)", name);
  ParseCheck(ps, !IsIdentifier(name), PETSC_ERR_USER_INPUT,
             "'" QHO_SHOW "' in this %s is neither a number nor a declared parameter%s; declare parameters first with 'param <name> <initial value>' on an earlier line", name, what,
             input_ok ? " or an input x<k>" : "");
  ParseCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "malformed %s '" QHO_SHOW "'; allowed: <number>, <name>, -<name> or <number>*<name>%s", what, name,
             input_ok ? " (name: a declared parameter or an input x<k>)" : " (name: a declared parameter)");
  PetscFunctionReturn(0);
}

/* number | name | -name | +name | number*name */
static PetscErrorCode ParseCoefficient(const Parser *ps, const char tok[], PetscBool input_ok, const char what[], QepQhoCoef *c)
{
  const char *star = strchr(tok, '*');

  PetscFunctionBegin;
  c->factor = 1.0;
  c->kind   = QEP_VAR_CONST;
  c->index  = 0;
  if (star) {
    char number[QHO_LINE_MAX];
    memcpy(number, tok, (size_t)(star - tok));
    number[star - tok] = 0;
    ParseCheck(ps, number[0] && star[1], PETSC_ERR_USER_INPUT, "malformed %s '" QHO_SHOW "'; the product form is <number>*<name>, e.g. 0.5*k01", what, tok);
    PetscCall(ParseReal(ps, number, "factor", &c->factor));
    PetscCall(ParseVariable(ps, star + 1, input_ok, what, c));
  } else if ((tok[0] == '-' || tok[0] == '+') && IsIdentStart(tok[1])) {
    c->factor = tok[0] == '-' ? -1.0 : 1.0;
    PetscCall(ParseVariable(ps, tok + 1, input_ok, what, c));
  } else if (IsIdentStart(tok[0])) {
    PetscCall(ParseVariable(ps, tok, input_ok, what, c));
  } else PetscCall(ParseReal(ps, tok, what, &c->factor));
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
  PetscCall(ParseInteger(ps, tok[1], "number of modes", &n));
  ParseCheck(ps, n >= 1 && n <= QHO_MODES_MAX, PETSC_ERR_ARG_OUTOFRANGE, "'modes %" PetscInt64_FMT "' is out of range; allowed 1..%" PetscInt64_FMT, n, (PetscInt64)QHO_MODES_MAX);
  PetscCall(QepQhoSetNumModes(ps->q, (PetscInt)n));
  ps->modes_line = ps->line;
  PetscFunctionReturn(0);
}

static PetscErrorCode DoHbar(Parser *ps, int ntok, char *tok[])
{
  PetscReal h;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 2, 2, "hbar <value>"));
  ParseCheck(ps, !ps->hbar_line, PETSC_ERR_USER_INPUT, "'hbar' is given twice (first on line %" PetscInt_FMT "); give it at most once", ps->hbar_line);
  PetscCall(ParseReal(ps, tok[1], "hbar", &h));
  ParseCheck(ps, h >= 0, PETSC_ERR_ARG_OUTOFRANGE, "hbar %g is negative; hbar > 0 (or 0 for the classical limit)", (double)h);
  PetscCall(QepQhoSetHbar(ps->q, h));
  ps->hbar_line = ps->line;
  PetscFunctionReturn(0);
}

static PetscErrorCode DoParam(Parser *ps, int ntok, char *tok[])
{
  PetscInt  existing;
  PetscReal value;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "param <name> <initial value>"));
  ParseCheck(ps, IsIdentifier(tok[1]), PETSC_ERR_USER_INPUT, "invalid parameter name '" QHO_SHOW "'; names start with a letter or '_' and continue with letters, digits or '_'", tok[1]);
  ParseCheck(ps, strlen(tok[1]) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "parameter name '" QHO_SHOW "...' is longer than %d characters", tok[1], QEP_NAME_LEN - 1);
  ParseCheck(ps, !IsInputToken(tok[1]), PETSC_ERR_USER_INPUT, "parameter name '%s' is reserved: x<k> names input feature k", tok[1]);
  ParseCheck(ps, !IsReservedWord(tok[1]), PETSC_ERR_USER_INPUT, "parameter name '%s' is a keyword (modes, hbar, param, mass, spring, ground, force, quartic, output, for, in, inf, nan)", tok[1]);
  PetscCall(QepQhoFindParameter(ps->q, tok[1], &existing));
  ParseCheck(ps, existing < 0, PETSC_ERR_USER_INPUT, "parameter '%s' is declared twice; each parameter is declared once", tok[1]);
  PetscCall(ParseReal(ps, tok[2], "initial value", &value));
  PetscCall(QepQhoAddParameter(ps->q, tok[1], value, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoMass(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef m;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "mass <mode> <mass>"));
  PetscCall(ParseMode(ps, tok[1], "mass", &i));
  PetscCall(ParseCoefficient(ps, tok[2], PETSC_FALSE, "mass", &m));
  ParseCheck(ps, !ps->q->mass_set[i], PETSC_ERR_USER_INPUT, "mode %" PetscInt_FMT " has two 'mass' lines; give each mode at most one (the default is 1)", i);
  ParseCheck(ps, m.kind != QEP_VAR_CONST || m.factor > 0, PETSC_ERR_ARG_OUTOFRANGE, "mass %g of mode %" PetscInt_FMT " is not positive; masses must be > 0", (double)m.factor, i);
  PetscCall(QepQhoSetMass(ps->q, i, m));
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

static PetscErrorCode DoForce(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef f;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "force <mode> <force>"));
  PetscCall(ParseMode(ps, tok[1], "force", &i));
  PetscCall(ParseCoefficient(ps, tok[2], PETSC_TRUE, "force", &f));
  PetscCall(QepQhoAddForce(ps->q, i, f));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoQuartic(Parser *ps, int ntok, char *tok[])
{
  PetscInt   i;
  QepQhoCoef l;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "quartic <mode> <lambda>"));
  PetscCall(ParseMode(ps, tok[1], "quartic term", &i));
  PetscCall(ParseCoefficient(ps, tok[2], PETSC_FALSE, "quartic coefficient", &l));
  ParseCheck(ps, l.kind != QEP_VAR_CONST || l.factor >= 0, PETSC_ERR_ARG_OUTOFRANGE, "quartic coefficient %g of mode %" PetscInt_FMT " is negative; lambda >= 0 (a negative x^4 term has no ground state)",
             (double)l.factor, i);
  PetscCall(QepQhoAddQuartic(ps->q, i, l));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoOutput(Parser *ps, int ntok, char *tok[])
{
  PetscInt i;

  PetscFunctionBegin;
  PetscCall(ExpectWords(ps, ntok, 3, 3, "output <name> <mode>"));
  ParseCheck(ps, IsIdentifier(tok[1]) && strlen(tok[1]) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "invalid output name '" QHO_SHOW "'; names are identifiers of at most %d characters", tok[1],
             QEP_NAME_LEN - 1);
  for (PetscInt o = 0; o < ps->q->noutputs; o++) ParseCheck(ps, strcmp(ps->q->output_names[o], tok[1]), PETSC_ERR_USER_INPUT, "output '%s' is declared twice; output names are unique", tok[1]);
  PetscCall(ParseMode(ps, tok[2], "output", &i));
  PetscCall(QepQhoAddOutput(ps->q, tok[1], i));
  PetscFunctionReturn(0);
}

static PetscErrorCode ExecuteStatement(Parser *ps, const char text[])
{
  char  line[QHO_LINE_MAX];
  char *tok[QHO_TOKENS_MAX];
  int   ntok;

  PetscFunctionBegin;
  PetscCall(SubstituteBraces(ps, text, line));
  Tokenize(line, &ntok, tok);
  if (!ntok) PetscFunctionReturn(0);
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
               "unknown keyword '" QHO_SHOW "'; an oscillator file has the statements modes, hbar, param, mass, spring, ground, force, quartic, output and 'for <var> in <a>..<b> : <line>'", tok[0]);
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------ loops */

static const char *FindOutsideBraces(const char s[], const char set[])
{
  int depth = 0;
  for (const char *c = s; *c; c++) {
    if (*c == '{') depth++;
    else if (*c == '}') depth = depth ? depth - 1 : 0;
    else if (!depth && strchr(set, *c)) return c;
  }
  return NULL;
}

static PetscErrorCode EvaluateBound(const Parser *ps, const char *begin, const char *end, const char which[], PetscInt64 *v)
{
  char raw[QHO_LINE_MAX], text[QHO_LINE_MAX];

  PetscFunctionBegin;
  memcpy(raw, begin, (size_t)(end - begin));
  raw[end - begin] = 0;
  TrimRight(raw);
  ParseCheck(ps, *SkipBlanks(raw), PETSC_ERR_USER_INPUT, "the %s loop bound is missing; expected 'for <var> in <first>..<last> : <line>'", which);
  PetscCall(SubstituteBraces(ps, SkipBlanks(raw), text));
  PetscCall(EvaluateExpression(ps, text, v));
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseForHeader(const Parser *ps, const char text[], char var[], PetscInt64 *first, PetscInt64 *last, const char **body)
{
  const char *c = SkipBlanks(text + 3), *colon, *dots;
  size_t      n = 0;

  PetscFunctionBegin;
  while (IsIdentChar(c[n])) n++;
  ParseCheck(ps, n && IsIdentStart(c[0]) && n < QHO_VAR_LEN, PETSC_ERR_USER_INPUT,
             "expected a loop variable name (at most %d letters, digits or '_') after 'for'; the form is 'for <var> in <first>..<last> : <line>'", QHO_VAR_LEN - 1);
  memcpy(var, c, n);
  var[n] = 0;
  c      = SkipBlanks(c + n);
  ParseCheck(ps, StartsWithKeyword(c, "in"), PETSC_ERR_USER_INPUT, "expected 'in' after 'for %s'; the form is 'for <var> in <first>..<last> : <line>'", var);
  c     = c + 2;
  colon = FindOutsideBraces(c, ":");
  ParseCheck(ps, colon, PETSC_ERR_USER_INPUT, "missing ':' after the range of 'for %s'; the form is 'for <var> in <first>..<last> : <line>'", var);
  dots = strstr(c, "..");
  ParseCheck(ps, dots && dots < colon, PETSC_ERR_USER_INPUT, "missing '..' in the range of 'for %s'; the form is 'for %s in 0..9 : <line>' (both ends included)", var, var);
  PetscCall(EvaluateBound(ps, c, dots, "first", first));
  PetscCall(EvaluateBound(ps, dots + 2, colon, "last", last));
  *body = SkipBlanks(colon + 1);
  ParseCheck(ps, **body, PETSC_ERR_USER_INPUT, "'for %s' has nothing after ':'; the form is 'for <var> in <first>..<last> : <line>'", var);
  PetscFunctionReturn(0);
}

static PetscErrorCode PushLoopVariable(Parser *ps, const char var[])
{
  PetscFunctionBegin;
  ParseCheck(ps, ps->nvars < QHO_LOOP_DEPTH_MAX, PETSC_ERR_USER_INPUT, "loops are nested more than %d deep", QHO_LOOP_DEPTH_MAX);
  for (int k = 0; k < ps->nvars; k++) ParseCheck(ps, strcmp(ps->var[k], var), PETSC_ERR_USER_INPUT, "loop variable '%s' is already used by an enclosing loop", var);
  PetscCall(PetscStrncpy(ps->var[ps->nvars], var, QHO_VAR_LEN));
  ps->val[ps->nvars++] = 0;
  PetscFunctionReturn(0);
}

static PetscErrorCode ChargeExpansion(Parser *ps, uint64_t amount)
{
  PetscFunctionBegin;
  ParseCheck(ps, amount <= (uint64_t)(QHO_EXPANSION_MAX - ps->work), PETSC_ERR_ARG_OUTOFRANGE,
             "the loops expand to more than %d lines and iterations (the limit per file); check the loop bounds", QHO_EXPANSION_MAX);
  ps->work += (PetscInt64)amount;
  PetscFunctionReturn(0);
}

/* Expands one (possibly looped) line: with execute false only charges the expansion guard, then runs it. */
static PetscErrorCode Expand(Parser *ps, const char text[], PetscBool execute)
{
  char        var[QHO_VAR_LEN];
  PetscInt64  first = 0, last = -1;
  const char *body = NULL;
  PetscBool   nested;

  PetscFunctionBegin;
  if (!StartsWithKeyword(text, "for")) {
    if (execute) PetscCall(ExecuteStatement(ps, text));
    else PetscCall(ChargeExpansion(ps, 1));
    PetscFunctionReturn(0);
  }
  PetscCall(ParseForHeader(ps, text, var, &first, &last, &body));
  if (last < first) PetscFunctionReturn(0);
  nested = StartsWithKeyword(body, "for");
  if (!execute) {
    uint64_t count = (uint64_t)last - (uint64_t)first + 1;
    PetscCall(ChargeExpansion(ps, count ? count : UINT64_MAX));
    if (!nested) PetscFunctionReturn(0);
  }
  PetscCall(PushLoopVariable(ps, var));
  for (PetscInt64 i = first;; i++) {
    ps->val[ps->nvars - 1] = i;
    PetscCall(Expand(ps, body, execute));
    if (i == last) break;
  }
  ps->nvars--;
  PetscFunctionReturn(0);
}

static PetscErrorCode ProcessLine(Parser *ps, char line[])
{
  char *hash = strchr(line, '#');
  char *text;

  PetscFunctionBegin;
  if (hash) *hash = 0;
  for (const char *c = line; *c; c++)
    ParseCheck(ps, IsBlank(*c) || (*c >= 0x20 && *c < 0x7f), PETSC_ERR_FILE_UNEXPECTED, "unexpected byte 0x%02x in column %d; outside comments an oscillator file holds printable ASCII only",
               (unsigned)(unsigned char)*c, (int)(c - line) + 1);
  TrimRight(line);
  text = (char *)SkipBlanks(line);
  if (!*text) PetscFunctionReturn(0);
  PetscCall(Expand(ps, text, PETSC_FALSE));
  PetscCall(Expand(ps, text, PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseText(Parser *ps, const char text[])
{
  char line[QHO_LINE_MAX];

  PetscFunctionBegin;
  for (const char *c = text; *c;) {
    size_t len = strcspn(c, "\n");
    ps->line++;
    ParseCheck(ps, len < QHO_LINE_MAX, PETSC_ERR_USER_INPUT, "line is %zu characters long; lines may have at most %d", len, QHO_LINE_MAX - 1);
    memcpy(line, c, len);
    line[len] = 0;
    PetscCall(ProcessLine(ps, line));
    c += len;
    if (*c) c++;
  }
  ps->line = PetscMax(ps->line, 1);
  ParseCheck(ps, ps->modes_line > 0, PETSC_ERR_FILE_UNEXPECTED, "the file has no 'modes <N>' line; an oscillator file starts with the number of modes");
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoReadString(QepQho q, const char name[], const char text[])
{
  Parser ps;
  char   description[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBegin;
  PetscCheck(text, q->comm, PETSC_ERR_ARG_NULL, "QepQhoReadString: text is NULL");
  if (!name) name = "(string)";
  PetscCall(QepQhoReset(q));
  PetscCall(PetscMemzero(&ps, sizeof(ps)));
  ps.q    = q;
  ps.file = name;
  PetscCall(ParseText(&ps, text));
  snprintf(description, sizeof(description), "oscillator file %s", name);
  PetscCall(QepQhoSetDescription(q, description));
  PetscCall(QepQhoFinalize(q));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadFileText(QepQho q, const char path[])
{
  char          *text;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(QepReadTextFile(q->comm, path, &text));
  ierr = QepQhoReadString(q, path, text);
  PetscCall(PetscFree(text));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoRead(QepQho q, const char path[])
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(path && path[0], q->comm, PETSC_ERR_ARG_NULL, "QepQhoRead: no file name given");
  PetscCall(QepInitializePackage());
  PetscCall(PetscLogEventBegin(QEP_ModelRead, 0, 0, 0, 0));
  ierr = ReadFileText(q, path);
  PetscCall(PetscLogEventEnd(QEP_ModelRead, 0, 0, 0, 0));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------------------------------- writing */

typedef struct {
  char  *buf;
  size_t len, cap;
} Text;

static PetscErrorCode TextAppend(Text *t, const char fmt[], ...) __attribute__((format(printf, 2, 3)));
static PetscErrorCode TextAppend(Text *t, const char fmt[], ...)
{
  va_list ap;
  int     n;

  PetscFunctionBegin;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = PetscMax(2 * t->cap, t->len + (size_t)n + 65536);
    PetscCall(PetscRealloc(cap, &t->buf));
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
  PetscFunctionReturn(0);
}

/* Shortest of %.15g/%.16g/%.17g that strtod reads back to exactly v. */
static void FormatReal(PetscReal v, char buf[32])
{
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, 32, "%.*g", digits, (double)v);
    if (strtod(buf, NULL) == (double)v && signbit(strtod(buf, NULL)) == signbit((double)v)) return;
  }
}

/* number | name | -name | number*name, as the reader parses it. */
static void FormatCoef(QepQho q, QepQhoCoef c, char buf[], size_t len)
{
  char num[32], var[QEP_NAME_LEN + 8];

  FormatReal(c.factor, num);
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

static PetscErrorCode BuildText(QepQho q, Text *t)
{
  char   a[128], b[128], num[32];
  size_t start;

  PetscFunctionBegin;
  PetscCall(TextAppend(t, "# qep oscillator network, written by qep %s\n# ", QEP_VERSION_STRING));
  start = t->len;
  PetscCall(TextAppend(t, "%s\n", q->description && q->description[0] ? q->description : "(no description)"));
  for (size_t i = start; i + 1 < t->len; i++)
    if ((unsigned char)t->buf[i] < 0x20) t->buf[i] = ' ';
  FormatReal(q->hbar, num);
  PetscCall(TextAppend(t, "# %" PetscInt_FMT " springs, %" PetscInt_FMT " ground springs, %" PetscInt_FMT " forces, %" PetscInt_FMT " quartic terms, %" PetscInt_FMT " parameters, %" PetscInt_FMT " outputs\nmodes %" PetscInt_FMT "\nhbar %s\n",
                        q->nsprings, q->nground, q->nforces, q->nquartic, q->nparams, q->noutputs, q->n, num));
  for (PetscInt k = 0; k < q->nparams; k++) {
    FormatReal(q->param_values[k], num);
    PetscCall(TextAppend(t, "param %s %s\n", q->param_names[k], num));
  }
  for (PetscInt i = 0; i < q->n; i++)
    if (q->mass[i].kind != QEP_VAR_CONST || q->mass[i].factor != 1.0) {
      FormatCoef(q, q->mass[i], a, sizeof(a));
      PetscCall(TextAppend(t, "mass %" PetscInt_FMT " %s\n", i, a));
    }
  for (PetscInt s = 0; s < q->nsprings; s++) {
    FormatCoef(q, q->springs[s].k, a, sizeof(a));
    FormatCoef(q, q->springs[s].rest, b, sizeof(b));
    PetscCall(TextAppend(t, "spring %" PetscInt_FMT " %" PetscInt_FMT " %s %s\n", q->springs[s].i, q->springs[s].j, a, b));
  }
  for (PetscInt s = 0; s < q->nground; s++) {
    FormatCoef(q, q->ground[s].k, a, sizeof(a));
    FormatCoef(q, q->ground[s].rest, b, sizeof(b));
    PetscCall(TextAppend(t, "ground %" PetscInt_FMT " %s %s\n", q->ground[s].i, a, b));
  }
  for (PetscInt f = 0; f < q->nforces; f++) {
    FormatCoef(q, q->forces[f].c, a, sizeof(a));
    PetscCall(TextAppend(t, "force %" PetscInt_FMT " %s\n", q->forces[f].i, a));
  }
  for (PetscInt f = 0; f < q->nquartic; f++) {
    FormatCoef(q, q->quartic[f].c, a, sizeof(a));
    PetscCall(TextAppend(t, "quartic %" PetscInt_FMT " %s\n", q->quartic[f].i, a));
  }
  for (PetscInt o = 0; o < q->noutputs; o++) PetscCall(TextAppend(t, "output %s %" PetscInt_FMT "\n", q->output_names[o], q->output_mode[o]));
  PetscFunctionReturn(0);
}

/* Names the reader would reject cannot be written. */
static PetscErrorCode CheckWritableNames(QepQho q)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < q->nparams; k++) {
    const char *s = q->param_names[k];
    PetscCheck(IsIdentifier(s) && !IsInputToken(s) && !IsReservedWord(s), q->comm, PETSC_ERR_ARG_WRONG,
               "Parameter name '%s' cannot be written to an oscillator file: names are identifiers (letters, digits, '_') that are not x<k> or a keyword", s);
  }
  for (PetscInt o = 0; o < q->noutputs; o++)
    PetscCheck(IsIdentifier(q->output_names[o]), q->comm, PETSC_ERR_ARG_WRONG, "Output name '%s' cannot be written to an oscillator file: names are identifiers", q->output_names[o]);
  PetscFunctionReturn(0);
}

PetscErrorCode QepQhoWrite(QepQho q, const char path[])
{
  Text           t = {NULL, 0, 0};
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(path && path[0], q->comm, PETSC_ERR_ARG_NULL, "QepQhoWrite: no file name given");
  PetscCheck(q->finalized, q->comm, PETSC_ERR_ORDER, "Finalize the oscillator network (or read/generate it) before writing it");
  PetscCall(CheckWritableNames(q));
  ierr = BuildText(q, &t);
  if (!ierr) ierr = QepWriteFileAtomic(q->comm, path, t.buf, t.len);
  PetscCall(PetscFree(t.buf));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
