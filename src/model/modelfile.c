/* modelfile.c — the plain-text model file: reading (QepReadTextFile, QepModelReadFile,
 * QepModelReadString) and writing (QepModelWriteFile). The format is documented in README.md
 * ("Model files"); in short, one statement per line:
 *     param <name> <value>            qubits <n>            output <name> <number> [factors]
 *     <coefficient> [factors]         for <var> in <first>..<last> : <line with {expr}>
 * Invariants:
 *  - the reader builds the model only through the public building API (QepModelAddTerm, ...), and
 *    checks everything itself first, so every user error names <file>:<line>;
 *  - every rank parses the same text, so every error is raised on every rank (collective);
 *  - the parser allocates nothing on the heap (all scratch is on the stack), so an error anywhere
 *    leaks nothing: the next read starts with QepModelReset;
 *  - the writer emits text that reads back to the same qubit count, strings, couplings,
 *    parameters, inputs and outputs (numbers are printed so that strtod returns the same double). */
#include "qepimpl.h"
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>

#define QEP_LINE_MAX       4096     /* longest line, terminator included: nobody writes longer lines by hand */
#define QEP_TOKENS_MAX     (QEP_LINE_MAX / 2 + 1) /* a line of single-character tokens */
#define QEP_LOOP_DEPTH_MAX 8        /* nested `for` loops: enough for any k-body interaction */
#define QEP_VAR_LEN        32       /* loop variable names, terminator included */
#define QEP_EXPANSION_MAX  10000000 /* loop iterations + generated lines per file: catches 0..1000000000 typos */
#define QEP_INPUT_MAX      1048576  /* inputs x0..x<max-1>: callers allocate dense input vectors */
#define QEP_EXPR_DEPTH_MAX 64       /* nesting of '(' and unary signs in {expr}: bounds the recursion */
#define QEP_TEXT_MAX       ((size_t)1 << 28) /* 256 MiB: model files are small; fits one MPI_Bcast count */
#define QEP_SHOW           "%.60s"  /* how much of a token an error message repeats */

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

/* ----------------------------------------------------------------------------------------------
 * Parser state and error reporting
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  QepModel    m;
  const char *file;
  PetscInt    line;  /* 1-based number of the physical line being processed */
  int         nvars; /* loop variables in scope, outermost first */
  char        var[QEP_LOOP_DEPTH_MAX][QEP_VAR_LEN];
  PetscInt64  val[QEP_LOOP_DEPTH_MAX];
  PetscInt64  work;        /* loop iterations + statements so far (the expansion guard) */
  PetscInt    qubits;      /* value of the `qubits` line, 0 while none was seen */
  PetscInt    qubits_line;
  int         maxq;      /* highest qubit used by any term or output so far, -1 if none */
  PetscInt    maxq_line; /* where maxq was first used */
  PetscInt    nterms;
} Parser;

/* Appends " (loop i=3, j=4)" when inside loops, so an error in a generated line can be located. */
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

/* Always fails: raises `code` on the model's communicator with "<file>:<line>: <message>". */
static PetscErrorCode ParseError(const Parser *ps, PetscErrorCode code, const char fmt[], ...) __attribute__((format(printf, 3, 4)));
static PetscErrorCode ParseError(const Parser *ps, PetscErrorCode code, const char fmt[], ...)
{
  char    msg[1024], where[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  LoopContext(ps, where, sizeof(where));
  SETERRQ(ps->m->comm, code, "%s:%" PetscInt_FMT ": %s%s", ps->file, ps->line, msg, where);
}

/* PetscCheck for the parser: the message gets the file:line prefix. */
#define ParseCheck(ps, cond, code, ...) \
  do { \
    if (PetscUnlikely(!(cond))) PetscCall(ParseError(ps, code, __VA_ARGS__)); \
  } while (0)

/* ----------------------------------------------------------------------------------------------
 * Characters, tokens and names (no <ctype.h>: its functions are undefined for bytes >= 0x80)
 * ---------------------------------------------------------------------------------------------- */

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

/* x<digits>: an input feature. */
static PetscBool IsInputToken(const char s[]) { return (s[0] == 'x' && IsAllDigits(s + 1)) ? PETSC_TRUE : PETSC_FALSE; }

/* X3, y12, I0, ...: a Pauli factor (maybe with a bad index). */
static PetscBool IsPauliToken(const char s[])
{
  return (s[0] && strchr("XYZIxyzi", s[0]) && (IsAllDigits(s + 1) || (s[1] == '-' && IsAllDigits(s + 2)))) ? PETSC_TRUE : PETSC_FALSE;
}

/* Does text start with keyword kw followed by a blank or the end? */
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

/* Removes trailing blanks in place. */
static void TrimRight(char s[])
{
  size_t n = strlen(s);
  while (n && IsBlank(s[n - 1])) s[--n] = 0;
}

static PetscBool IsReservedWord(const char s[])
{
  static const char *words[] = {"param", "output", "qubits", "for", "in"};
  for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
    if (!strcmp(s, words[k])) return PETSC_TRUE;
  return (!strcasecmp(s, "inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "nan")) ? PETSC_TRUE : PETSC_FALSE;
}

/* Parameter names: identifiers that cannot be mistaken for anything else on a term line. */
static PetscErrorCode CheckParameterName(const Parser *ps, const char name[])
{
  PetscFunctionBegin;
  ParseCheck(ps, IsIdentifier(name), PETSC_ERR_USER_INPUT,
             "invalid parameter name '" QEP_SHOW "'; names start with a letter or '_' and continue with letters, digits or '_'", name);
  ParseCheck(ps, strlen(name) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "parameter name '" QEP_SHOW "...' is longer than %d characters", name, QEP_NAME_LEN - 1);
  ParseCheck(ps, !IsInputToken(name), PETSC_ERR_USER_INPUT, "parameter name '%s' is reserved: x<k> names input feature k; choose another name", name);
  ParseCheck(ps, !IsPauliToken(name), PETSC_ERR_USER_INPUT, "parameter name '%s' would be read as a Pauli factor; choose another name", name);
  ParseCheck(ps, !IsReservedWord(name), PETSC_ERR_USER_INPUT, "parameter name '%s' is a reserved word (param, output, qubits, for, in, inf, nan)", name);
  PetscFunctionReturn(0);
}

/* Splits line (modified in place) at blanks. */
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

/* ----------------------------------------------------------------------------------------------
 * Numbers
 * ---------------------------------------------------------------------------------------------- */

/* A finite double that the model accepts (0 or normal); `what` names it in messages. */
static PetscErrorCode ParseReal(const Parser *ps, const char tok[], const char what[], PetscReal *value)
{
  char  *end;
  double v;

  PetscFunctionBegin;
  ParseCheck(ps, tok[0], PETSC_ERR_USER_INPUT, "missing %s", what);
  v = strtod(tok, &end);
  ParseCheck(ps, end != tok && !*end, PETSC_ERR_USER_INPUT, "%s '" QEP_SHOW "' is not a number (expected e.g. 0.5, -1, 2e-3)", what, tok);
  ParseCheck(ps, isfinite(v), PETSC_ERR_USER_INPUT, "%s '" QEP_SHOW "' is not a finite number (nan, inf and magnitudes above 1.8e308 are not allowed)", what, tok);
  ParseCheck(ps, v == 0.0 || fabs(v) >= DBL_MIN, PETSC_ERR_USER_INPUT, "%s '" QEP_SHOW "' is too small for double precision (magnitude below %g); use 0", what, tok,
             DBL_MIN);
  *value = (PetscReal)v;
  PetscFunctionReturn(0);
}

/* [+-]digits into a 64-bit integer, with overflow checking. */
static PetscErrorCode ParseInteger(const Parser *ps, const char tok[], const char what[], PetscInt64 *value)
{
  const char *digits = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
  char       *end;
  long long   v;

  PetscFunctionBegin;
  ParseCheck(ps, IsAllDigits(digits), PETSC_ERR_USER_INPUT, "%s '" QEP_SHOW "' is not an integer", what, tok);
  errno = 0;
  v     = strtoll(tok, &end, 10);
  ParseCheck(ps, errno != ERANGE && !*end, PETSC_ERR_ARG_OUTOFRANGE, "%s '" QEP_SHOW "' is out of range", what, tok);
  *value = (PetscInt64)v;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Integer expressions in {...} and loop bounds:  sum := product (('+'|'-') product)*,
 * product := unary (('*'|'/'|'%') unary)*, unary := ('+'|'-') unary | integer | variable | '(' sum ')'
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  const Parser *ps;
  const char   *text; /* the whole expression, for messages */
  const char   *c;    /* cursor */
  int           depth;
} Expr;

static PetscErrorCode ExprSum(Expr *e, PetscInt64 *v);

static PetscErrorCode ExprVariable(Expr *e, PetscInt64 *v)
{
  char   name[QEP_VAR_LEN], scope[QEP_LOOP_DEPTH_MAX * (QEP_VAR_LEN + 2) + 8] = "";
  size_t n = 0;

  PetscFunctionBegin;
  while (IsIdentChar(e->c[n])) n++;
  ParseCheck(e->ps, n < sizeof(name), PETSC_ERR_USER_INPUT, "unknown loop variable '%.*s' in {%s}", (int)PetscMin(n, 60), e->c, e->text);
  memcpy(name, e->c, n);
  name[n] = 0;
  e->c += n;
  for (int k = e->ps->nvars - 1; k >= 0; k--) /* innermost first */
    if (!strcmp(e->ps->var[k], name)) {
      *v = e->ps->val[k];
      PetscFunctionReturn(0);
    }
  for (int k = 0; k < e->ps->nvars; k++) {
    strcat(scope, k ? ", " : "");
    strcat(scope, e->ps->var[k]);
  }
  ParseCheck(e->ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "unknown loop variable '%s' in {%s}; %s%s", name, e->text,
             e->ps->nvars ? "variables in scope: " : "no loop is open here (use 'for <var> in <first>..<last> : ...')", scope);
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
    ParseCheck(e->ps, PETSC_FALSE, PETSC_ERR_USER_INPUT, "bad syntax in {%s}: expected an integer, a loop variable or '(' %s%.20s", e->text,
               *e->c ? "at " : "at the end", e->c);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ExprUnary(Expr *e, PetscInt64 *v)
{
  PetscFunctionBegin;
  e->c = SkipBlanks(e->c);
  ParseCheck(e->ps, ++e->depth <= QEP_EXPR_DEPTH_MAX, PETSC_ERR_USER_INPUT, "expression {%.60s...} is nested more than %d deep", e->text, QEP_EXPR_DEPTH_MAX);
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
    *v = op == '/' ? *v / rhs : *v % rhs; /* C semantics: truncation toward zero */
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
    ParseCheck(e->ps, !(op == '+' ? __builtin_add_overflow(*v, rhs, &out) : __builtin_sub_overflow(*v, rhs, &out)), PETSC_ERR_ARG_OUTOFRANGE,
               "integer overflow in {%s}", e->text);
    *v = out;
  }
  PetscFunctionReturn(0);
}

/* Evaluates a complete integer expression (the text between braces, or a loop bound). */
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

/* Copies in to out (size QEP_LINE_MAX), replacing every {expr} by its decimal value. */
static PetscErrorCode SubstituteBraces(const Parser *ps, const char in[], char out[])
{
  size_t used = 0;

  PetscFunctionBegin;
  for (const char *c = in; *c;) {
    char   piece[32];
    size_t n;
    if (*c == '{') {
      const char *close = c + 1 + strcspn(c + 1, "{}");
      char        expr[QEP_LINE_MAX];
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
    ParseCheck(ps, used + n < QEP_LINE_MAX, PETSC_ERR_USER_INPUT, "after substituting {...} the line is longer than %d characters", QEP_LINE_MAX - 1);
    memcpy(out + used, piece, n);
    used += n;
  }
  out[used] = 0;
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
             "'" QEP_SHOW "' is not a Pauli factor; expected X<k>, Y<k>, Z<k> or I<k> with a qubit index k, e.g. Z0 X12", tok);
  ParseCheck(ps, !(digits[0] == '-' && IsAllDigits(digits + 1)), PETSC_ERR_ARG_OUTOFRANGE, "negative qubit index in '" QEP_SHOW "'; qubits are numbered from 0", tok);
  ParseCheck(ps, IsAllDigits(digits), PETSC_ERR_USER_INPUT, "'" QEP_SHOW "' is not a Pauli factor: the qubit index must be a decimal integer, e.g. Z0 X12", tok);
  ParseCheck(ps, strlen(digits) <= 9 && atol(digits) < QepMaxQubits(), PETSC_ERR_ARG_OUTOFRANGE,
             "qubit index in '" QEP_SHOW "' is out of range: this build supports qubits 0..%" PetscInt_FMT "%s", tok, QepMaxQubits() - 1,
             sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  q = (int)atol(digits);
  ParseCheck(ps, q < limit, PETSC_ERR_ARG_OUTOFRANGE, "'%s' acts on qubit %d, but 'qubits %" PetscInt_FMT "' (line %" PetscInt_FMT ") allows qubits 0..%" PetscInt_FMT, tok, q,
             ps->qubits, ps->qubits_line, ps->qubits - 1);
  ParseCheck(ps, QepPauliSetFactor(p, tok[0], q) != 3, PETSC_ERR_USER_INPUT, "qubit %d appears more than once in this term; each qubit may carry one factor", q);
  if (tok[0] != 'I' && tok[0] != 'i' && q > ps->maxq) {
    ps->maxq      = q;
    ps->maxq_line = ps->line;
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
  if (IsInputToken(name)) {
    ParseCheck(ps, strlen(name + 1) <= 7 && atol(name + 1) < QEP_INPUT_MAX, PETSC_ERR_ARG_OUTOFRANGE, "input feature '" QEP_SHOW "' is out of range: inputs are x0..x%d", name,
               QEP_INPUT_MAX - 1);
    *kind  = QEP_VAR_INPUT;
    *index = (PetscInt)atol(name + 1);
    PetscFunctionReturn(0);
  }
  *kind = QEP_VAR_PARAM;
  *index = -1;
  if (IsIdentifier(name) && strlen(name) < QEP_NAME_LEN) PetscCall(QepModelFindParameter(ps->m, name, index));
  if (*index >= 0) PetscFunctionReturn(0);
  number = strtod(name, &end);
  ParseCheck(ps, !(end != name && !*end && !isfinite(number)), PETSC_ERR_USER_INPUT, "'" QEP_SHOW "' is not a finite number (nan and inf are not allowed)", name);
  ParseCheck(ps, !IsIdentifier(name), PETSC_ERR_USER_INPUT,
             "'" QEP_SHOW "' is neither a keyword (param, output, qubits, for), a declared parameter nor an input x<k>; "
             "declare parameters first with 'param <name> <initial value>' on an earlier line",
             name);
  ParseCheck(ps, PETSC_FALSE, PETSC_ERR_USER_INPUT,
             "malformed coefficient '" QEP_SHOW "'; allowed: <number>, <name>, -<name> or <number>*<name>, where <name> is a declared parameter or an input x<k>", name);
  PetscFunctionReturn(0);
}

/* number | name | -name | +name | number*name  ->  factor * {1 | theta_index | x_index} */
static PetscErrorCode ParseCoefficient(const Parser *ps, const char tok[], PetscReal *factor, QepVarKind *kind, PetscInt *index)
{
  const char *star = strchr(tok, '*');

  PetscFunctionBegin;
  *factor = 1.0;
  *kind   = QEP_VAR_CONST;
  *index  = 0;
  if (star) {
    char number[QEP_LINE_MAX];
    memcpy(number, tok, (size_t)(star - tok));
    number[star - tok] = 0;
    ParseCheck(ps, number[0] && star[1], PETSC_ERR_USER_INPUT, "malformed coefficient '" QEP_SHOW "'; the product form is <number>*<name>, e.g. -1*J01", tok);
    PetscCall(ParseReal(ps, number, "factor", factor));
    PetscCall(ParseVariable(ps, star + 1, kind, index));
  } else if ((tok[0] == '-' || tok[0] == '+') && IsIdentStart(tok[1])) {
    *factor = tok[0] == '-' ? -1.0 : 1.0;
    PetscCall(ParseVariable(ps, tok + 1, kind, index));
  } else if (IsIdentStart(tok[0])) {
    PetscCall(ParseVariable(ps, tok, kind, index));
  } else PetscCall(ParseReal(ps, tok, "coefficient", factor));
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
  PetscCall(ParseReal(ps, tok[2], "initial value", &value));
  PetscCall(QepModelAddParameter(ps->m, tok[1], value, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoQubits(Parser *ps, int ntok, char *tok[])
{
  PetscInt64 n = 0;

  PetscFunctionBegin;
  ParseCheck(ps, ntok == 2, PETSC_ERR_USER_INPUT, "expected 'qubits <n>', e.g. 'qubits 10'");
  ParseCheck(ps, !ps->qubits, PETSC_ERR_USER_INPUT, "'qubits' is given twice (first on line %" PetscInt_FMT "); give it at most once", ps->qubits_line);
  PetscCall(ParseInteger(ps, tok[1], "qubit count", &n));
  ParseCheck(ps, n >= 2 && n <= QepMaxQubits(), PETSC_ERR_ARG_OUTOFRANGE, "'qubits %" PetscInt64_FMT "' is out of range: this build allows 2 <= n <= %" PetscInt_FMT "%s", n,
             QepMaxQubits(), sizeof(PetscInt) == 4 ? " (configure with -DQEP_INDEX64=ON for more)" : "");
  ParseCheck(ps, ps->maxq < n, PETSC_ERR_ARG_OUTOFRANGE, "'qubits %" PetscInt64_FMT "' allows qubits 0..%" PetscInt64_FMT ", but line %" PetscInt_FMT " uses qubit %d", n, n - 1,
             ps->maxq_line, ps->maxq);
  ps->qubits      = (PetscInt)n;
  ps->qubits_line = ps->line;
  PetscCall(QepModelSetNumQubits(ps->m, ps->qubits));
  PetscFunctionReturn(0);
}

static PetscErrorCode DoOutput(Parser *ps, int ntok, char *tok[])
{
  PetscReal c;
  QepPauli  p;

  PetscFunctionBegin;
  ParseCheck(ps, ntok >= 2 && IsIdentifier(tok[1]), PETSC_ERR_USER_INPUT,
             "output line without a name; expected 'output <name> <coefficient> [Pauli factors]', e.g. 'output y0 1.0 Z5'");
  ParseCheck(ps, strlen(tok[1]) < QEP_NAME_LEN, PETSC_ERR_USER_INPUT, "output name '" QEP_SHOW "...' is longer than %d characters", tok[1], QEP_NAME_LEN - 1);
  ParseCheck(ps, ntok >= 3, PETSC_ERR_USER_INPUT, "output '%s' has no coefficient; expected 'output <name> <coefficient> [Pauli factors]', e.g. 'output y0 1.0 Z5'", tok[1]);
  PetscCall(ParseReal(ps, tok[2], "output coefficient", &c));
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
  ParseCheck(ps, !IsPauliToken(tok[0]) || IsInputToken(tok[0]), PETSC_ERR_USER_INPUT,
             "a term starts with its coefficient: '<coefficient> <Pauli factors>', e.g. '-1.0 Z0 Z1' (this line starts with '" QEP_SHOW "')", tok[0]);
  PetscCall(ParseCoefficient(ps, tok[0], &factor, &kind, &index));
  PetscCall(ParsePauli(ps, ntok - 1, tok + 1, &p));
  PetscCall(QepModelAddTerm(ps->m, p, factor, kind, index));
  ps->nterms++;
  PetscFunctionReturn(0);
}

/* A line without `for`: substitute {expr}, split into words, dispatch on the first word. */
static PetscErrorCode ExecuteStatement(Parser *ps, const char text[])
{
  char  line[QEP_LINE_MAX];
  char *tok[QEP_TOKENS_MAX];
  int   ntok;

  PetscFunctionBegin;
  PetscCall(SubstituteBraces(ps, text, line));
  Tokenize(line, &ntok, tok);
  if (!ntok) PetscFunctionReturn(0);
  if (!strcmp(tok[0], "param")) PetscCall(DoParam(ps, ntok, tok));
  else if (!strcmp(tok[0], "qubits")) PetscCall(DoQubits(ps, ntok, tok));
  else if (!strcmp(tok[0], "output")) PetscCall(DoOutput(ps, ntok, tok));
  else PetscCall(DoTerm(ps, ntok, tok));
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
static PetscErrorCode EvaluateBound(const Parser *ps, const char *begin, const char *end, const char which[], PetscInt64 *v)
{
  char raw[QEP_LINE_MAX], text[QEP_LINE_MAX];

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
  ParseCheck(ps, n && IsIdentStart(c[0]) && n < QEP_VAR_LEN, PETSC_ERR_USER_INPUT,
             "expected a loop variable name (at most %d letters, digits or '_') after 'for'; the form is 'for <var> in <first>..<last> : <line>'", QEP_VAR_LEN - 1);
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
  ParseCheck(ps, ps->nvars < QEP_LOOP_DEPTH_MAX, PETSC_ERR_USER_INPUT, "loops are nested more than %d deep", QEP_LOOP_DEPTH_MAX);
  for (int k = 0; k < ps->nvars; k++) ParseCheck(ps, strcmp(ps->var[k], var), PETSC_ERR_USER_INPUT, "loop variable '%s' is already used by an enclosing loop", var);
  PetscCall(PetscStrncpy(ps->var[ps->nvars], var, QEP_VAR_LEN));
  ps->val[ps->nvars++] = 0;
  PetscFunctionReturn(0);
}

/* Charges `amount` statements/iterations to the expansion guard. */
static PetscErrorCode ChargeExpansion(Parser *ps, uint64_t amount)
{
  PetscFunctionBegin;
  ParseCheck(ps, amount <= (uint64_t)(QEP_EXPANSION_MAX - ps->work), PETSC_ERR_ARG_OUTOFRANGE,
             "the loops expand to more than %d lines and iterations (the limit per file); check the loop bounds", QEP_EXPANSION_MAX);
  ps->work += (PetscInt64)amount;
  PetscFunctionReturn(0);
}

/* Expands one (possibly looped) line. With execute false it only charges the expansion guard, walking
 * outer loops but never iterating a loop whose body is a statement, so the walk itself stays cheap;
 * with execute true it runs the statements. Each physical line is first counted, then executed. */
static PetscErrorCode Expand(Parser *ps, const char text[], PetscBool execute)
{
  char        var[QEP_VAR_LEN];
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
static PetscErrorCode ProcessLine(Parser *ps, char line[])
{
  char *hash = strchr(line, '#');
  char *text;

  PetscFunctionBegin;
  if (hash) *hash = 0;
  for (const char *c = line; *c; c++)
    ParseCheck(ps, IsBlank(*c) || (*c >= 0x20 && *c < 0x7f), PETSC_ERR_FILE_UNEXPECTED,
               "unexpected byte 0x%02x in column %d; outside comments a model file holds printable ASCII only", (unsigned)(unsigned char)*c, (int)(c - line) + 1);
  TrimRight(line);
  text = (char *)SkipBlanks(line);
  if (!*text) PetscFunctionReturn(0);
  PetscCall(Expand(ps, text, PETSC_FALSE));
  PetscCall(Expand(ps, text, PETSC_TRUE));
  PetscFunctionReturn(0);
}

static PetscErrorCode ParseText(Parser *ps, const char text[])
{
  char line[QEP_LINE_MAX];

  PetscFunctionBegin;
  for (const char *c = text; *c;) {
    size_t len = strcspn(c, "\n");
    ps->line++;
    ParseCheck(ps, len < QEP_LINE_MAX, PETSC_ERR_USER_INPUT, "line is %zu characters long; lines may have at most %d", len, QEP_LINE_MAX - 1);
    memcpy(line, c, len);
    line[len] = 0;
    PetscCall(ProcessLine(ps, line));
    c += len;
    if (*c) c++; /* the newline */
  }
  ps->line = PetscMax(ps->line, 1); /* end-of-file errors point at the last line */
  ParseCheck(ps, ps->nterms > 0, PETSC_ERR_FILE_UNEXPECTED,
             "the file has no Hamiltonian terms; add lines '<coefficient> <Pauli factors>', e.g. '-1.0 Z0 Z1' or '0.5 X3'");
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelReadString(QepModel m, const char name[], const char text[])
{
  Parser ps;
  char   description[PETSC_MAX_PATH_LEN + 16];

  PetscFunctionBegin;
  PetscCheck(text, m->comm, PETSC_ERR_ARG_NULL, "QepModelReadString: text is NULL");
  if (!name) name = "(string)";
  PetscCall(QepModelReset(m));
  PetscCall(PetscMemzero(&ps, sizeof(ps)));
  ps.m    = m;
  ps.file = name;
  ps.maxq = -1;
  PetscCall(ParseText(&ps, text));
  snprintf(description, sizeof(description), "model file %s", name);
  PetscCall(QepModelSetDescription(m, description));
  PetscCall(QepModelFinalize(m));
  PetscFunctionReturn(0);
}

/* Reads and parses; frees the text on every path. */
static PetscErrorCode ReadFileText(QepModel m, const char path[])
{
  char          *text;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(QepReadTextFile(m->comm, path, &text));
  ierr = QepModelReadString(m, path, text);
  PetscCall(PetscFree(text));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelReadFile(QepModel m, const char path[])
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(path && path[0], m->comm, PETSC_ERR_ARG_NULL, "QepModelReadFile: no file name given");
  PetscCall(PetscLogEventBegin(QEP_ModelRead, 0, 0, 0, 0));
  ierr = ReadFileText(m, path);
  PetscCall(PetscLogEventEnd(QEP_ModelRead, 0, 0, 0, 0)); /* balanced even when reading failed */
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------------- */

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
    size_t cap = PetscMax(2 * t->cap, t->len + (size_t)n + 4096);
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

/* " X0 Y3 Z5", or "" for the identity. */
static void FormatPauli(QepPauli p, char buf[], size_t len)
{
  buf[0] = 0;
  if (QepPauliIsIdentity(p)) return;
  buf[0] = ' ';
  QepPauliToString(p, buf + 1, len - 1);
}

static PetscErrorCode WriteTerm(Text *t, QepModel m, const QepCoupling *c)
{
  char num[32], pauli[512], var[32];

  PetscFunctionBegin;
  FormatPauli(m->strings[c->string], pauli, sizeof(pauli));
  FormatReal(c->factor, num);
  if (c->kind == QEP_VAR_CONST) PetscCall(TextAppend(t, "%s%s\n", num, pauli));
  else {
    const char *name = var;
    if (c->kind == QEP_VAR_PARAM) name = m->param_names[c->index];
    else snprintf(var, sizeof(var), "x%" PetscInt_FMT, c->index);
    if (c->factor == 1.0) PetscCall(TextAppend(t, "%s%s\n", name, pauli));
    else if (c->factor == -1.0) PetscCall(TextAppend(t, "-%s%s\n", name, pauli));
    else PetscCall(TextAppend(t, "%s*%s%s\n", num, name, pauli));
  }
  PetscFunctionReturn(0);
}

/* Strings never referenced by a coupling (only possible through QepModelInternString) are written
 * as "0 <factors>" in their place, so the string order survives. */
static PetscErrorCode WriteOrphanStrings(Text *t, QepModel m, PetscInt *next, PetscInt upto)
{
  char pauli[512];

  PetscFunctionBegin;
  for (; *next < upto; (*next)++) {
    FormatPauli(m->strings[*next], pauli, sizeof(pauli));
    PetscCall(TextAppend(t, "0%s\n", pauli));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode BuildModelText(QepModel m, Text *t)
{
  char     num[32], pauli[512];
  PetscInt next = 0; /* strings [0, next) already appeared */
  size_t   start;

  PetscFunctionBegin;
  PetscCall(TextAppend(t, "# qep model file, written by qep %s\n# ", QEP_VERSION_STRING));
  start = t->len;
  PetscCall(TextAppend(t, "%s\n", m->description && m->description[0] ? m->description : "(no description)"));
  for (size_t i = start; i + 1 < t->len; i++) /* keep the description on its comment line */
    if ((unsigned char)t->buf[i] < 0x20) t->buf[i] = ' ';
  PetscCall(TextAppend(t, "# %" PetscInt_FMT " qubits, %" PetscInt_FMT " Pauli strings, %" PetscInt_FMT " couplings, %" PetscInt_FMT " parameters, %" PetscInt_FMT
                          " inputs, %" PetscInt_FMT " outputs\nqubits %" PetscInt_FMT "\n",
                        m->nqubits, m->nstrings, m->ncouplings, m->nparams, m->ninputs, m->noutputs, m->nqubits));
  if (m->nparams) PetscCall(TextAppend(t, "\n"));
  for (PetscInt k = 0; k < m->nparams; k++) {
    FormatReal(m->param_values[k], num);
    PetscCall(TextAppend(t, "param %s %s\n", m->param_names[k], num));
  }
  PetscCall(TextAppend(t, "\n"));
  for (PetscInt c = 0; c < m->ncouplings; c++) {
    PetscInt s = m->couplings[c].string;
    if (s >= next) {
      PetscCall(WriteOrphanStrings(t, m, &next, s));
      next = s + 1;
    }
    PetscCall(WriteTerm(t, m, &m->couplings[c]));
  }
  PetscCall(WriteOrphanStrings(t, m, &next, m->nstrings));
  if (m->noutputs) PetscCall(TextAppend(t, "\n"));
  for (PetscInt o = 0; o < m->noutputs; o++)
    for (PetscInt i = 0; i < m->outputs[o].sum.n; i++) {
      FormatReal(m->outputs[o].sum.coeffs[i], num);
      FormatPauli(m->outputs[o].sum.strings[i], pauli, sizeof(pauli));
      PetscCall(TextAppend(t, "output %s %s%s\n", m->outputs[o].name, num, pauli));
    }
  PetscFunctionReturn(0);
}

/* Names the reader would reject cannot be written (they would not read back). */
static PetscErrorCode CheckWritableNames(QepModel m)
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < m->nparams; k++) {
    const char *s = m->param_names[k];
    PetscCheck(IsIdentifier(s) && !IsInputToken(s) && !IsPauliToken(s) && !IsReservedWord(s), m->comm, PETSC_ERR_ARG_WRONG,
               "Parameter name '%s' cannot be written to a model file: names are identifiers (letters, digits, '_') that are not x<k>, a Pauli factor or a keyword",
               s);
  }
  for (PetscInt o = 0; o < m->noutputs; o++)
    PetscCheck(IsIdentifier(m->outputs[o].name), m->comm, PETSC_ERR_ARG_WRONG,
               "Output name '%s' cannot be written to a model file: names are identifiers (letters, digits, '_')", m->outputs[o].name);
  PetscFunctionReturn(0);
}

PetscErrorCode QepModelWriteFile(QepModel m, const char path[])
{
  Text           t = {NULL, 0, 0};
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(path && path[0], m->comm, PETSC_ERR_ARG_NULL, "QepModelWriteFile: no file name given");
  PetscCheck(m->finalized, m->comm, PETSC_ERR_ORDER, "Call QepModelFinalize (or read/generate a model) before writing it");
  PetscCall(CheckWritableNames(m));
  ierr = BuildModelText(m, &t);
  if (!ierr) ierr = QepWriteFileAtomic(m->comm, path, t.buf, t.len);
  PetscCall(PetscFree(t.buf));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
