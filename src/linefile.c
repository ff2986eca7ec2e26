/* linefile.c — plain-text input and output shared by every text format of qep: reading a whole file
 * on rank 0 and broadcasting it (QepReadTextFile, also used for CSV data sets and checkpoints), the
 * line reader behind the spin model file and the oscillator file (QepLineParser: comments, `for`
 * loops, {expr} substitution, numbers and names), and the growing text buffer their writers fill.
 * Invariants:
 *  - every rank parses the same text, so every error is raised on every rank (collective), and every
 *    user error names <file>:<line> (plus the loop variables when a loop generated the line);
 *  - the parser allocates nothing on the heap (all scratch is on the stack), so an error anywhere
 *    leaks nothing;
 *  - before any line runs, its whole expansion is charged to the dialect's guard, so a typo such as
 *    0..1000000000 fails at once instead of running for hours. */
#include "linefile.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>

#define QEP_LINE_TOKENS_MAX (QEP_LINE_MAX / 2 + 1) /* a line of single-character tokens */
#define QEP_EXPR_DEPTH_MAX  64                    /* nesting of '(' and unary signs in {expr}: bounds the recursion */
#define QEP_TEXT_MAX        ((size_t)1 << 28)     /* 256 MiB: text inputs are small; fits one MPI_Bcast count */
#define QEP_TEXT_GROW       65536                 /* writers' buffer grows at least this much at a time */
#define QEP_LOOP_FORM       "the form is 'for <var> in <first>..<last> : <line>'"

/* ----------------------------------------------------------------------------------------------
 * Reading the file (rank 0) and broadcasting it
 * ---------------------------------------------------------------------------------------------- */

typedef enum { READ_OK, READ_OPEN, READ_IO, READ_TOO_BIG, READ_NUL, READ_NOMEM } ReadStatus;

/* Rank 0 only; never calls PETSc (a failure here must not leave the other ranks waiting).
 * On success *raw is malloc'ed (caller frees with free()); on failure *raw is NULL. */
static void ReadWholeFile(const char path[], char **raw, size_t *len, long long status[])
{
  FILE  *f = fopen(path, "rb");
  size_t cap = 0, n = 0;
  char  *buf = NULL;

  *raw = NULL;
  *len = 0;
  if (!f) {
    status[0] = READ_OPEN;
    status[1] = errno;
    return;
  }
  for (;;) {
    size_t got;
    if (n == cap) {
      char *grown;
      if (cap >= QEP_TEXT_MAX) {
        status[0] = READ_TOO_BIG;
        break;
      }
      cap   = cap ? 2 * cap : 65536;
      grown = realloc(buf, cap + 1);
      if (!grown) {
        status[0] = READ_NOMEM;
        break;
      }
      buf = grown;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) {
        status[0] = READ_IO;
        status[1] = errno;
      }
      break;
    }
  }
  fclose(f);
  if (status[0] == READ_OK) {
    const char *nul = n ? memchr(buf, 0, n) : NULL;
    if (nul) {
      status[0] = READ_NUL;
      status[2] = (long long)(nul - buf);
    }
  }
  if (status[0] != READ_OK) {
    free(buf);
    return;
  }
  if (!buf) buf = malloc(1);
  if (!buf) {
    status[0] = READ_NOMEM;
    return;
  }
  buf[n] = 0;
  *raw   = buf;
  *len   = n;
}

PetscErrorCode QepReadTextFile(MPI_Comm comm, const char path[], char **text)
{
  PetscMPIInt rank;
  long long   status[4] = {READ_OK, 0, 0, 0}; /* what failed, errno, NUL offset, length */
  char       *raw       = NULL;
  size_t      len       = 0;

  PetscFunctionBegin;
  *text = NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    ReadWholeFile(path, &raw, &len, status);
    status[3] = (long long)len;
  }
  PetscCallMPI(MPI_Bcast(status, 4, MPI_LONG_LONG, 0, comm));
  PetscCheck(status[0] != READ_OPEN, comm, PETSC_ERR_FILE_OPEN, "Cannot open '%s' for reading: %s", path, strerror((int)status[1]));
  PetscCheck(status[0] != READ_IO, comm, PETSC_ERR_FILE_READ, "Reading '%s' failed: %s", path, strerror((int)status[1]));
  PetscCheck(status[0] != READ_TOO_BIG, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' is %d MiB or larger; too large for a text input (model or CSV file)", path,
             (int)(QEP_TEXT_MAX >> 20));
  PetscCheck(status[0] != READ_NUL, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' contains a NUL byte at offset %lld (binary file?); expected a plain-text file", path,
             status[2]);
  PetscCheck(status[0] != READ_NOMEM, comm, PETSC_ERR_MEM, "Out of memory while reading '%s'", path);
  len = (size_t)status[3];
  PetscCall(PetscMalloc1(len + 1, text));
  if (rank == 0) {
    memcpy(*text, raw, len + 1);
    free(raw);
  }
  if (len) PetscCallMPI(MPI_Bcast(*text, (PetscMPIInt)len, MPI_CHAR, 0, comm));
  (*text)[len] = 0;
  PetscFunctionReturn(0);
}

/* Frees the text even when parsing fails. */
static PetscErrorCode ReadAndParse(MPI_Comm comm, const char path[], PetscErrorCode (*parse)(void *, const char[], const char[]), void *obj)
{
  char          *text;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(QepReadTextFile(comm, path, &text));
  ierr = parse(obj, path, text);
  PetscCall(PetscFree(text));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineReadFile(MPI_Comm comm, const char path[], PetscErrorCode (*parse)(void *, const char[], const char[]), void *obj)
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage()); /* registers QEP_ModelRead */
  PetscCall(PetscLogEventBegin(QEP_ModelRead, 0, 0, 0, 0));
  ierr = ReadAndParse(comm, path, parse, obj);
  PetscCall(PetscLogEventEnd(QEP_ModelRead, 0, 0, 0, 0)); /* balanced even when reading failed */
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Error reporting
 * ---------------------------------------------------------------------------------------------- */

/* Appends " (loop i=3, j=4)" when inside loops, so an error in a generated line can be located. */
static void LoopContext(const QepLineParser *ps, char buf[], size_t len)
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

/* Like PetscError, which it calls, it has no PetscFunctionBegin: it is the start of an error trace. */
PetscErrorCode QepLineError(const QepLineParser *ps, int line, const char func[], const char file[], PetscErrorCode code, const char fmt[], ...)
{
  char           msg[1024], where[512];
  va_list        ap;
  PetscErrorCode ierr;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  LoopContext(ps, where, sizeof(where));
  ierr = PetscError(ps->comm, line, func, file, code, PETSC_ERROR_INITIAL, "%s:%" PetscInt_FMT ": %s%s", ps->file, ps->line, msg, where);
  return ierr ? ierr : PETSC_ERR_RETURN; /* as SETERRQ: never 0, even from an error handler that returns 0 */
}

/* ----------------------------------------------------------------------------------------------
 * Words
 * ---------------------------------------------------------------------------------------------- */

PetscBool QepLineIsAllDigits(const char s[])
{
  if (!*s) return PETSC_FALSE;
  for (; *s; s++)
    if (!QepLineIsDigit(*s)) return PETSC_FALSE;
  return PETSC_TRUE;
}

PetscBool QepLineIsIdentifier(const char s[])
{
  if (!QepLineIsIdentStart(*s)) return PETSC_FALSE;
  for (s++; *s; s++)
    if (!QepLineIsIdentChar(*s)) return PETSC_FALSE;
  return PETSC_TRUE;
}

PetscBool QepLineIsInputToken(const char s[]) { return (s[0] == 'x' && QepLineIsAllDigits(s + 1)) ? PETSC_TRUE : PETSC_FALSE; }

/* for and in are reserved in every dialect (loops), and so are inf and nan (strtod reads them as numbers). */
PetscBool QepLineIsReserved(const char *const keywords[], const char s[])
{
  for (; *keywords; keywords++)
    if (!strcmp(s, *keywords)) return PETSC_TRUE;
  if (!strcmp(s, "for") || !strcmp(s, "in")) return PETSC_TRUE;
  return (!strcasecmp(s, "inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "nan")) ? PETSC_TRUE : PETSC_FALSE;
}

/* Does text start with keyword kw followed by a blank or the end? */
static PetscBool StartsWithKeyword(const char text[], const char kw[])
{
  size_t n = strlen(kw);
  return (!strncmp(text, kw, n) && (!text[n] || QepLineIsBlank(text[n]))) ? PETSC_TRUE : PETSC_FALSE;
}

static const char *SkipBlanks(const char *c)
{
  while (QepLineIsBlank(*c)) c++;
  return c;
}

/* Removes trailing blanks in place. */
static void TrimRight(char s[])
{
  size_t n = strlen(s);
  while (n && QepLineIsBlank(s[n - 1])) s[--n] = 0;
}

/* Splits line (modified in place) at blanks. */
static void Tokenize(char line[], int *ntok, char *tok[])
{
  char *c = line;

  *ntok = 0;
  for (;;) {
    while (QepLineIsBlank(*c)) *c++ = 0;
    if (!*c) break;
    tok[(*ntok)++] = c;
    while (*c && !QepLineIsBlank(*c)) c++;
  }
}

/* ----------------------------------------------------------------------------------------------
 * Numbers and names
 * ---------------------------------------------------------------------------------------------- */

PetscErrorCode QepLineParseReal(const QepLineParser *ps, const char tok[], const char what[], PetscReal *value)
{
  char  *end;
  double v;

  PetscFunctionBegin;
  QepLineCheck(ps, tok && tok[0], PETSC_ERR_USER_INPUT, "missing %s", what);
  v = strtod(tok, &end);
  QepLineCheck(ps, end != tok && !*end, PETSC_ERR_USER_INPUT, "%s '" QEP_LINE_SHOW "' is not a number (expected e.g. 0.5, -1, 2e-3)", what, tok);
  QepLineCheck(ps, isfinite(v), PETSC_ERR_USER_INPUT, "%s '" QEP_LINE_SHOW "' is not a finite number (nan, inf and magnitudes above 1.8e308 are not allowed)", what, tok);
  QepLineCheck(ps, v == 0.0 || fabs(v) >= DBL_MIN, PETSC_ERR_USER_INPUT, "%s '" QEP_LINE_SHOW "' is too small for double precision (magnitude below %g); use 0", what, tok,
               DBL_MIN);
  *value = (PetscReal)v;
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineParseInteger(const QepLineParser *ps, const char tok[], const char what[], PetscInt64 *value)
{
  const char *digits = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
  char       *end;
  long long   v;

  PetscFunctionBegin;
  QepLineCheck(ps, QepLineIsAllDigits(digits), PETSC_ERR_USER_INPUT, "%s '" QEP_LINE_SHOW "' is not an integer", what, tok);
  errno = 0;
  v     = strtoll(tok, &end, 10);
  QepLineCheck(ps, errno != ERANGE && !*end, PETSC_ERR_ARG_OUTOFRANGE, "%s '" QEP_LINE_SHOW "' is out of range", what, tok);
  *value = (PetscInt64)v;
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineParseInput(const QepLineParser *ps, const char name[], PetscInt *index)
{
  PetscFunctionBegin;
  /* at most 7 digits before atol, so a long digit string cannot overflow it */
  QepLineCheck(ps, strlen(name + 1) <= 7 && atol(name + 1) < QEP_LINE_INPUT_MAX, PETSC_ERR_ARG_OUTOFRANGE, "input feature '" QEP_LINE_SHOW "' is out of range: inputs are x0..x%d",
               name, QEP_LINE_INPUT_MAX - 1);
  *index = (PetscInt)atol(name + 1);
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineCheckParameterName(const QepLineParser *ps, const char name[])
{
  PetscFunctionBegin;
  QepLineCheck(ps, QepLineIsIdentifier(name), PETSC_ERR_USER_INPUT,
               "invalid parameter name '" QEP_LINE_SHOW "'; names start with a letter or '_' and continue with letters, digits or '_'", name);
  QepLineCheck(ps, strlen(name) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "parameter name '" QEP_LINE_SHOW "...' is longer than %d characters", name, QEP_NAME_LEN - 1);
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineSplitCoefficient(const QepLineParser *ps, const char tok[], const char what[], const char example[], PetscReal *factor, const char **name)
{
  const char *star = strchr(tok, '*');

  PetscFunctionBegin;
  *factor = 1.0;
  *name   = NULL;
  if (star) {
    char number[QEP_LINE_MAX];
    memcpy(number, tok, (size_t)(star - tok));
    number[star - tok] = 0;
    QepLineCheck(ps, number[0] && star[1], PETSC_ERR_USER_INPUT, "malformed %s '" QEP_LINE_SHOW "'; the product form is <number>*<name>, e.g. %s", what, tok, example);
    PetscCall(QepLineParseReal(ps, number, "factor", factor));
    *name = star + 1;
  } else if ((tok[0] == '-' || tok[0] == '+') && QepLineIsIdentStart(tok[1])) {
    *factor = tok[0] == '-' ? -1.0 : 1.0;
    *name   = tok + 1;
  } else if (QepLineIsIdentStart(tok[0])) {
    *name = tok;
  } else PetscCall(QepLineParseReal(ps, tok, what, factor));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Integer expressions in {...} and loop bounds:  sum := product (('+'|'-') product)*,
 * product := unary (('*'|'/'|'%') unary)*, unary := ('+'|'-') unary | integer | variable | '(' sum ')'
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  const QepLineParser *ps;
  const char          *text; /* the whole expression, for messages */
  const char          *c;    /* cursor */
  int                  depth;
} Expr;

static PetscErrorCode ExprSum(Expr *e, PetscInt64 *v);

/* "i, j": the loop variables in scope, for the message about an unknown one. */
static PetscErrorCode LoopScope(const QepLineParser *ps, char scope[], size_t len)
{
  PetscFunctionBegin;
  scope[0] = 0;
  for (int k = 0; k < ps->nvars; k++) {
    if (k) PetscCall(PetscStrlcat(scope, ", ", len));
    PetscCall(PetscStrlcat(scope, ps->var[k], len));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprVariable(Expr *e, PetscInt64 *v)
{
  const QepLineParser *ps = e->ps;
  char                 name[QEP_LINE_VAR_LEN], scope[QEP_LINE_DEPTH_MAX * (QEP_LINE_VAR_LEN + 2) + 8];
  size_t               n = 0;

  PetscFunctionBegin;
  while (QepLineIsIdentChar(e->c[n])) n++;
  QepLineCheck(ps, n < sizeof(name), PETSC_ERR_USER_INPUT, "unknown loop variable '%.*s' in {%s}", (int)PetscMin(n, 60), e->c, e->text);
  memcpy(name, e->c, n);
  name[n] = 0;
  e->c += n;
  for (int k = ps->nvars - 1; k >= 0; k--) /* innermost first */
    if (!strcmp(ps->var[k], name)) {
      *v = ps->val[k];
      PetscFunctionReturn(0);
    }
  QepLineCheck(ps, ps->nvars, PETSC_ERR_USER_INPUT, "unknown loop variable '%s' in {%s}; no loop is open here (use 'for <var> in <first>..<last> : ...')", name, e->text);
  PetscCall(LoopScope(ps, scope, sizeof(scope)));
  QepLineCheck(ps, !ps->dialect->list_scope, PETSC_ERR_USER_INPUT, "unknown loop variable '%s' in {%s}; variables in scope: %s", name, e->text, scope);
  QepLineCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "unknown loop variable '%s' in {%s}", name, e->text);
  PetscFunctionReturn(0);
}

/* A decimal literal; no sign (unary minus is ExprUnary's). */
static PetscErrorCode ExprInteger(Expr *e, PetscInt64 *v)
{
  char      digits[24];
  size_t    n = 0;
  long long parsed;

  PetscFunctionBegin;
  while (QepLineIsDigit(e->c[n])) n++;
  QepLineCheck(e->ps, n < sizeof(digits), PETSC_ERR_ARG_OUTOFRANGE, "integer '%.*s' in {%s} is too large", (int)PetscMin(n, 60), e->c, e->text);
  memcpy(digits, e->c, n);
  digits[n] = 0;
  errno     = 0;
  parsed    = strtoll(digits, NULL, 10);
  QepLineCheck(e->ps, errno != ERANGE, PETSC_ERR_ARG_OUTOFRANGE, "integer '%s' in {%s} is too large", digits, e->text);
  *v = (PetscInt64)parsed;
  e->c += n;
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
    QepLineCheck(e->ps, *e->c == ')', PETSC_ERR_USER_INPUT, "missing ')' in {%s}", e->text);
    e->c++;
  } else if (QepLineIsDigit(*e->c)) PetscCall(ExprInteger(e, v));
  else if (QepLineIsIdentStart(*e->c)) PetscCall(ExprVariable(e, v));
  else
    QepLineCheck(e->ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "bad syntax in {%s}: expected an integer, a loop variable or '(' %s%.20s", e->text, *e->c ? "at " : "at the end", e->c);
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprUnary(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  e->c = SkipBlanks(e->c);
  QepLineCheck(e->ps, ++e->depth <= QEP_EXPR_DEPTH_MAX, PETSC_ERR_USER_INPUT, "expression {%.60s...} is nested more than %d deep", e->text, QEP_EXPR_DEPTH_MAX);
  if (*e->c == '-' || *e->c == '+') {
    char sign = *e->c++;
    PetscCall(ExprUnary(e, v));
    QepLineCheck(e->ps, *v != INT64_MIN, PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
    if (sign == '-') *v = -*v;
  } else PetscCall(ExprPrimary(e, v));
  e->depth--;
  PetscFunctionReturn(0);
}

/* The next character if it is one of the operators ops (consumed), else 0. */
static char ExprTakeOperator(Expr *e, const char ops[])
{
  e->c = SkipBlanks(e->c);
  if (!*e->c || !strchr(ops, *e->c)) return 0;
  return *e->c++;
}

/* *v = *v op rhs for op in + - * / %, failing on overflow and division by zero (C semantics:
 * division truncates toward zero). */
static PetscErrorCode ExprApply(const Expr *e, char op, PetscInt64 *v, PetscInt64 rhs)
{
  PetscInt64 out = 0;
  PetscBool  overflow;

  PetscFunctionBegin;
  if (op == '/' || op == '%') {
    QepLineCheck(e->ps, rhs != 0, PETSC_ERR_USER_INPUT, "division by zero in {%s}", e->text);
    overflow = (*v == INT64_MIN && rhs == -1) ? PETSC_TRUE : PETSC_FALSE;
    if (!overflow) out = op == '/' ? *v / rhs : *v % rhs;
  } else if (op == '*') overflow = __builtin_mul_overflow(*v, rhs, &out) ? PETSC_TRUE : PETSC_FALSE;
  else if (op == '+') overflow = __builtin_add_overflow(*v, rhs, &out) ? PETSC_TRUE : PETSC_FALSE;
  else overflow = __builtin_sub_overflow(*v, rhs, &out) ? PETSC_TRUE : PETSC_FALSE;
  QepLineCheck(e->ps, !overflow, PETSC_ERR_ARG_OUTOFRANGE, "integer overflow in {%s}", e->text);
  *v = out;
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprProduct(Expr *e, PetscInt64 *v)
{
  char op;

  PetscFunctionBegin;
  PetscCall(ExprUnary(e, v));
  while ((op = ExprTakeOperator(e, "*/%"))) {
    PetscInt64 rhs;
    PetscCall(ExprUnary(e, &rhs));
    PetscCall(ExprApply(e, op, v, rhs));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprSum(Expr *e, PetscInt64 *v)
{
  char op;

  PetscFunctionBegin;
  PetscCall(ExprProduct(e, v));
  while ((op = ExprTakeOperator(e, "+-"))) {
    PetscInt64 rhs;
    PetscCall(ExprProduct(e, &rhs));
    PetscCall(ExprApply(e, op, v, rhs));
  }
  PetscFunctionReturn(0);
}

/* Evaluates a complete integer expression (the text between braces, or a loop bound). */
static PetscErrorCode EvaluateExpression(const QepLineParser *ps, const char text[], PetscInt64 *v)
{
  Expr e = {ps, text, text, 0};

  PetscFunctionBegin;
  QepLineCheck(ps, *SkipBlanks(text), PETSC_ERR_USER_INPUT, "empty expression {}; expected integer arithmetic such as {i+1}");
  PetscCall(ExprSum(&e, v));
  e.c = SkipBlanks(e.c);
  QepLineCheck(ps, !*e.c, PETSC_ERR_USER_INPUT, "bad syntax in {%s} at '%.20s'; allowed: integers, loop variables, + - * / %% and parentheses", text, e.c);
  PetscFunctionReturn(0);
}

/* The decimal value of the {expr} that starts at c; *after points past its '}'. */
static PetscErrorCode SubstituteOne(const QepLineParser *ps, const char *c, char piece[32], const char **after)
{
  const char *close = c + 1 + strcspn(c + 1, "{}");
  char        expr[QEP_LINE_MAX];
  PetscInt64  v;

  PetscFunctionBegin;
  QepLineCheck(ps, *close == '}', PETSC_ERR_USER_INPUT, "'{' without a matching '}'%s", *close == '{' ? " (braces do not nest)" : "");
  memcpy(expr, c + 1, (size_t)(close - c - 1));
  expr[close - c - 1] = 0;
  PetscCall(EvaluateExpression(ps, expr, &v));
  snprintf(piece, 32, "%" PetscInt64_FMT, v);
  *after = close + 1;
  PetscFunctionReturn(0);
}

/* Copies in to out (size QEP_LINE_MAX), replacing every {expr} by its decimal value. */
static PetscErrorCode SubstituteBraces(const QepLineParser *ps, const char in[], char out[])
{
  size_t used = 0;

  PetscFunctionBegin;
  for (const char *c = in; *c;) {
    char   piece[32];
    size_t n;
    if (*c == '{') PetscCall(SubstituteOne(ps, c, piece, &c));
    else {
      QepLineCheck(ps, *c != '}', PETSC_ERR_USER_INPUT, "'}' without a matching '{'");
      piece[0] = *c++;
      piece[1] = 0;
    }
    n = strlen(piece);
    QepLineCheck(ps, used + n < QEP_LINE_MAX, PETSC_ERR_USER_INPUT, "after substituting {...} the line is longer than %d characters", QEP_LINE_MAX - 1);
    memcpy(out + used, piece, n);
    used += n;
  }
  out[used] = 0;
  PetscFunctionReturn(0);
}

/* A line without `for`: substitute {expr}, split into words, hand them to the dialect. */
static PetscErrorCode ExecuteStatement(QepLineParser *ps, const char text[])
{
  char  line[QEP_LINE_MAX];
  char *tok[QEP_LINE_TOKENS_MAX];
  int   ntok;

  PetscFunctionBegin;
  PetscCall(SubstituteBraces(ps, text, line));
  Tokenize(line, &ntok, tok);
  if (ntok) PetscCall(ps->dialect->execute(ps, ntok, tok));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Loops:  for <var> in <first>..<last> : <body>
 * ---------------------------------------------------------------------------------------------- */

/* First occurrence of any character of `set` in s outside {...}, or NULL. */
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

/* A loop bound: {expr} substitution, then integer arithmetic of what remains. */
static PetscErrorCode EvaluateBound(const QepLineParser *ps, const char *begin, const char *end, const char which[], PetscInt64 *v)
{
  char raw[QEP_LINE_MAX], text[QEP_LINE_MAX];

  PetscFunctionBegin;
  memcpy(raw, begin, (size_t)(end - begin));
  raw[end - begin] = 0;
  TrimRight(raw);
  QepLineCheck(ps, *SkipBlanks(raw), PETSC_ERR_USER_INPUT, "the %s loop bound is missing; expected 'for <var> in <first>..<last> : <line>'", which);
  PetscCall(SubstituteBraces(ps, SkipBlanks(raw), text));
  PetscCall(EvaluateExpression(ps, text, v));
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseForHeader(const QepLineParser *ps, const char text[], char var[], PetscInt64 *first, PetscInt64 *last, const char **body)
{
  const char *c = SkipBlanks(text + 3), *colon, *dots;
  size_t      n = 0;

  PetscFunctionBegin;
  while (QepLineIsIdentChar(c[n])) n++;
  QepLineCheck(ps, n && QepLineIsIdentStart(c[0]) && n < QEP_LINE_VAR_LEN, PETSC_ERR_USER_INPUT,
               "expected a loop variable name (at most %d letters, digits or '_') after 'for'; " QEP_LOOP_FORM, QEP_LINE_VAR_LEN - 1);
  memcpy(var, c, n);
  var[n] = 0;
  c      = SkipBlanks(c + n);
  QepLineCheck(ps, StartsWithKeyword(c, "in"), PETSC_ERR_USER_INPUT, "expected 'in' after 'for %s'; " QEP_LOOP_FORM, var);
  c     = c + 2;
  colon = FindOutsideBraces(c, ":");
  QepLineCheck(ps, colon, PETSC_ERR_USER_INPUT, "missing ':' after the range of 'for %s'; " QEP_LOOP_FORM, var);
  dots = strstr(c, "..");
  QepLineCheck(ps, dots && dots < colon, PETSC_ERR_USER_INPUT, "missing '..' in the range of 'for %s'; the form is 'for %s in 0..9 : <line>' (both ends included)", var, var);
  PetscCall(EvaluateBound(ps, c, dots, "first", first));
  PetscCall(EvaluateBound(ps, dots + 2, colon, "last", last));
  *body = SkipBlanks(colon + 1);
  QepLineCheck(ps, **body, PETSC_ERR_USER_INPUT, "'for %s' has nothing after ':'; " QEP_LOOP_FORM, var);
  PetscFunctionReturn(0);
}

static PetscErrorCode PushLoopVariable(QepLineParser *ps, const char var[])
{
  PetscFunctionBegin;
  QepLineCheck(ps, ps->nvars < QEP_LINE_DEPTH_MAX, PETSC_ERR_USER_INPUT, "loops are nested more than %d deep", QEP_LINE_DEPTH_MAX);
  for (int k = 0; k < ps->nvars; k++) QepLineCheck(ps, strcmp(ps->var[k], var), PETSC_ERR_USER_INPUT, "loop variable '%s' is already used by an enclosing loop", var);
  PetscCall(PetscStrncpy(ps->var[ps->nvars], var, QEP_LINE_VAR_LEN));
  ps->val[ps->nvars++] = 0;
  PetscFunctionReturn(0);
}

/* Charges `amount` statements/iterations to the expansion guard. */
static PetscErrorCode ChargeExpansion(QepLineParser *ps, uint64_t amount)
{
  const PetscInt64 max = ps->dialect->expansion_max;

  PetscFunctionBegin;
  QepLineCheck(ps, amount <= (uint64_t)(max - ps->work), PETSC_ERR_ARG_OUTOFRANGE,
               "the loops expand to more than %" PetscInt64_FMT " lines and iterations (the limit per file); check the loop bounds", max);
  ps->work += (PetscInt64)amount;
  PetscFunctionReturn(0);
}

/* Expands one (possibly looped) line. With execute false it only charges the expansion guard, walking
 * outer loops but never iterating a loop whose body is a statement, so the walk itself stays cheap;
 * with execute true it runs the statements. Each physical line is first counted, then executed. */
static PetscErrorCode Expand(QepLineParser *ps, const char text[], PetscBool execute)
{
  char        var[QEP_LINE_VAR_LEN];
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
  if (last < first) PetscFunctionReturn(0); /* empty or descending range: nothing */
  nested = StartsWithKeyword(body, "for");
  if (!execute) {
    uint64_t count = (uint64_t)last - (uint64_t)first + 1; /* 0 only when it wraps: the full 64-bit range */
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

/* Strips the comment, checks the characters, then counts and executes the line. */
static PetscErrorCode ProcessLine(QepLineParser *ps, char line[])
{
  char *hash = strchr(line, '#');
  char *text;

  PetscFunctionBegin;
  if (hash) *hash = 0;
  for (const char *c = line; *c; c++)
    QepLineCheck(ps, QepLineIsBlank(*c) || (*c >= 0x20 && *c < 0x7f), PETSC_ERR_FILE_UNEXPECTED, "unexpected byte 0x%02x in column %d; outside comments %s holds printable ASCII only",
                 (unsigned)(unsigned char)*c, (int)(c - line) + 1, ps->dialect->kind);
  TrimRight(line);
  text = (char *)SkipBlanks(line);
  if (!*text) PetscFunctionReturn(0);
  PetscCall(Expand(ps, text, PETSC_FALSE));
  PetscCall(Expand(ps, text, PETSC_TRUE));
  PetscFunctionReturn(0);
}

PetscErrorCode QepLineParse(QepLineParser *ps, MPI_Comm comm, const char file[], const QepLineDialect *dialect, const char text[])
{
  char line[QEP_LINE_MAX];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(ps, sizeof(*ps)));
  ps->comm    = comm;
  ps->file    = file;
  ps->dialect = dialect;
  for (const char *c = text; *c;) {
    size_t len = strcspn(c, "\n");
    ps->line++;
    QepLineCheck(ps, len < QEP_LINE_MAX, PETSC_ERR_USER_INPUT, "line is %zu characters long; lines may have at most %d", len, QEP_LINE_MAX - 1);
    memcpy(line, c, len);
    line[len] = 0;
    PetscCall(ProcessLine(ps, line));
    c += len;
    if (*c) c++; /* the newline */
  }
  ps->line = PetscMax(ps->line, 1); /* end-of-file errors point at the last line */
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------------- */

PetscErrorCode QepTextAppend(QepText *t, const char fmt[], ...)
{
  va_list ap;
  int     n;

  PetscFunctionBegin;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = PetscMax(2 * t->cap, t->len + (size_t)n + QEP_TEXT_GROW);
    PetscCall(PetscRealloc(cap, &t->buf));
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
  PetscFunctionReturn(0);
}

PetscErrorCode QepTextWriteFile(MPI_Comm comm, const char path[], PetscErrorCode (*build)(void *, QepText *), void *obj)
{
  QepText        t = {NULL, 0, 0};
  PetscErrorCode ierr;

  PetscFunctionBegin;
  ierr = build(obj, &t);
  if (!ierr) ierr = QepWriteFileAtomic(comm, path, t.buf, t.len);
  PetscCall(PetscFree(t.buf));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepTextAppendHeader(QepText *t, const char what[], const char description[])
{
  size_t start;

  PetscFunctionBegin;
  PetscCall(QepTextAppend(t, "# qep %s, written by qep %s\n# ", what, QEP_VERSION_STRING));
  start = t->len;
  PetscCall(QepTextAppend(t, "%s\n", description && description[0] ? description : "(no description)"));
  for (size_t i = start; i + 1 < t->len; i++) /* keep the description on its comment line */
    if ((unsigned char)t->buf[i] < 0x20) t->buf[i] = ' ';
  PetscFunctionReturn(0);
}

void QepTextFormatReal(PetscReal v, char buf[32])
{
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, 32, "%.*g", digits, (double)v);
    if (strtod(buf, NULL) == (double)v && signbit(strtod(buf, NULL)) == signbit((double)v)) return;
  }
}
