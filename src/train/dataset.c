/* dataset.c — QepDataset: N training examples (inputs x, targets y) held in full on every rank.
 * Owns: creation and direct filling (SetData), reading CSV and HDF5 files (Load), the built-in demo
 * tasks (Generate: parity, phase), the seeded train/test split and CSV writing.
 * Invariants:
 *  - every rank of the dataset's communicator holds the same n, ninputs, noutputs, x and y:
 *    CSV text is read by rank 0 and broadcast, then every rank parses the same text (so every parse
 *    error is raised on every rank); HDF5 is read by rank 0 and the numbers (or the error) broadcast;
 *  - random numbers come only from QepRandomUniform(seed, stream, counter) with counters that
 *    number examples, never ranks, so generated data and splits do not depend on the rank count;
 *  - every stored value is finite: the readers reject NaN and inf, so training never meets them;
 *  - x is n x ninputs and y is n x noutputs, row-major; a reader never leaves a half-filled dataset
 *    (the old contents are replaced only after the whole file was read and checked). */
#include "qepimpl.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#if defined(PETSC_HAVE_HDF5) && defined(__has_include)
  #if __has_include(<hdf5.h>)
    #include <hdf5.h>
    #define QEP_DATASET_HDF5 1
  #endif
#endif

struct _p_QepDataset {
  MPI_Comm   comm;
  PetscInt   n, ninputs, noutputs;
  PetscReal *x; /* n * ninputs, row-major */
  PetscReal *y; /* n * noutputs, row-major */
};

/* Streams of QepRandomUniform used here (each purpose its own stream, so changing one task's recipe
 * never shifts another's numbers). */
#define QEP_STREAM_PARITY_BITS  0x51455001 /* which of the 4 bit patterns example i has */
#define QEP_STREAM_PARITY_NOISE 0x51455002 /* Box-Muller uniforms of the input jitter */
#define QEP_STREAM_PHASE_FIELD  0x51455003 /* the transverse field of example i */
#define QEP_STREAM_SPLIT        0x51455004 /* Fisher-Yates swaps of QepDatasetSplit */

#define QEP_PHASE_GMIN     0.2 /* phase task: fields uniform in [GMIN, GMAX), symmetric about the */
#define QEP_PHASE_GMAX     1.8 /* critical point Gamma = 1 so the two classes are equally likely */
#define QEP_PHASE_CRITICAL 1.0

#define QEP_MSG_LEN  1024 /* longest error message composed here */
#define QEP_LIST_LEN 400  /* how much of a column list an error message repeats */

/* ----------------------------------------------------------------------------------------------
 * Object life and direct access
 * ---------------------------------------------------------------------------------------------- */

PetscErrorCode QepDatasetCreate(MPI_Comm comm, QepDataset *ds)
{
  PetscFunctionBegin;
  PetscCheck(ds, comm, PETSC_ERR_ARG_NULL, "QepDatasetCreate: the output argument is NULL");
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(ds));
  (*ds)->comm = comm;
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetDestroy(QepDataset *ds)
{
  PetscFunctionBegin;
  if (!ds || !*ds) PetscFunctionReturn(0);
  PetscCall(PetscFree((*ds)->x));
  PetscCall(PetscFree((*ds)->y));
  PetscCall(PetscFree(*ds));
  PetscFunctionReturn(0);
}

/* Checks that n rows of width w fit a PetscInt count (the 32-bit-index build) and allocates them. */
static PetscErrorCode AllocateRows(MPI_Comm comm, PetscInt n, PetscInt w, const char what[], PetscReal **a)
{
  PetscFunctionBegin;
  PetscCheck(n >= 0 && w >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Dataset sizes must be non-negative (got %" PetscInt_FMT " x %" PetscInt_FMT ")", n, w);
  PetscCheck(w == 0 || n <= PETSC_MAX_INT / w, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "%" PetscInt_FMT " examples x %" PetscInt_FMT " %s do not fit this build's PetscInt; rebuild with -DQEP_INDEX64=ON", n, w, what);
  *a = NULL;
  if (n * w > 0) PetscCall(PetscMalloc1(n * w, a));
  PetscFunctionReturn(0);
}

/* Takes ownership of x and y (PetscMalloc'ed or NULL) and frees the previous contents. */
static PetscErrorCode DatasetAdopt(QepDataset ds, PetscInt n, PetscInt ninputs, PetscInt noutputs, PetscReal *x, PetscReal *y)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(ds->x));
  PetscCall(PetscFree(ds->y));
  ds->n        = n;
  ds->ninputs  = ninputs;
  ds->noutputs = noutputs;
  ds->x        = x;
  ds->y        = y;
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetSetData(QepDataset ds, PetscInt n, PetscInt ninputs, PetscInt noutputs, const PetscReal x[], const PetscReal y[])
{
  PetscReal *xc, *yc;

  PetscFunctionBegin;
  PetscCall(AllocateRows(ds->comm, n, ninputs, "inputs", &xc));
  PetscCall(AllocateRows(ds->comm, n, noutputs, "targets", &yc));
  PetscCheck(!xc || x, ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetSetData: x is NULL but %" PetscInt_FMT " x %" PetscInt_FMT " inputs were announced", n, ninputs);
  PetscCheck(!yc || y, ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetSetData: y is NULL but %" PetscInt_FMT " x %" PetscInt_FMT " targets were announced", n, noutputs);
  if (xc) PetscCall(PetscArraycpy(xc, x, n * ninputs));
  if (yc) PetscCall(PetscArraycpy(yc, y, n * noutputs));
  PetscCall(DatasetAdopt(ds, n, ninputs, noutputs, xc, yc));
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetGetSizes(QepDataset ds, PetscInt *n, PetscInt *ninputs, PetscInt *noutputs)
{
  PetscFunctionBegin;
  if (n) *n = ds->n;
  if (ninputs) *ninputs = ds->ninputs;
  if (noutputs) *noutputs = ds->noutputs;
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetGetExample(QepDataset ds, PetscInt i, const PetscReal **x, const PetscReal **y)
{
  PetscFunctionBegin;
  PetscCheck(i >= 0 && i < ds->n, ds->comm, PETSC_ERR_ARG_OUTOFRANGE, "Example %" PetscInt_FMT " is not in [0, %" PetscInt_FMT ")", i, ds->n);
  if (x) *x = ds->ninputs ? ds->x + i * ds->ninputs : NULL;
  if (y) *y = ds->noutputs ? ds->y + i * ds->noutputs : NULL;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Column names: x0..x<ninputs-1>, then the model's output names
 * ---------------------------------------------------------------------------------------------- */

/* k when s is exactly "x<k>" with 0 <= k < ninputs ("x01", "x+1" and "x 1" are not), else -1. */
static PetscInt InputColumnIndex(const char s[], PetscInt ninputs)
{
  PetscInt k;
  char     tail, canonical[32];

  if (sscanf(s, "x%" PetscInt_FMT "%c", &k, &tail) != 1 || k < 0 || k >= ninputs) return -1;
  snprintf(canonical, sizeof(canonical), "x%" PetscInt_FMT, k);
  return strcmp(canonical, s) ? -1 : k;
}

/* Name of required column r (inputs first, then targets); buf holds "x<r>" for inputs. */
static PetscErrorCode ColumnName(const QepDatasetColumns *cols, PetscInt ninputs, PetscInt r, char buf[32], const char **name)
{
  PetscFunctionBegin;
  if (r < ninputs) {
    snprintf(buf, 32, "x%" PetscInt_FMT, r);
    *name = buf;
  } else *name = cols->outputs[r - ninputs];
  PetscFunctionReturn(0);
}

/* "x0, x1, m, zz" (shortened with "..." when long), for error messages. */
static PetscErrorCode RequiredColumnList(const QepDatasetColumns *cols, PetscInt ninputs, PetscInt nreq, char list[], size_t len)
{
  size_t used = 0;

  PetscFunctionBegin;
  list[0] = 0;
  for (PetscInt r = 0; r < nreq; r++) {
    char        buf[32];
    const char *name;
    int         w;
    PetscCall(ColumnName(cols, ninputs, r, buf, &name));
    w = snprintf(list + used, len - used, "%s%s", r ? ", " : "", name);
    if (w < 0 || used + (size_t)w >= len - 4) {
      snprintf(list + PetscMin(used, len - 5), 5, "...");
      break;
    }
    used += (size_t)w;
  }
  PetscFunctionReturn(0);
}

/* The column sizes, and the checks every reader and writer needs: there must be outputs (the targets
 * are matched to them by name) and no output may be named like an input column. */
static PetscErrorCode CheckColumns(MPI_Comm comm, const QepDatasetColumns *cols, const char path[], PetscInt *ninputs, PetscInt *noutputs)
{
  PetscFunctionBegin;
  PetscCheck(cols, comm, PETSC_ERR_ARG_NULL, "A dataset needs the model (its input count and output names) to read or write '%s'", path);
  *ninputs  = cols->ninputs;
  *noutputs = cols->noutputs;
  PetscCheck(*noutputs > 0, comm, PETSC_ERR_USER_INPUT,
             "The model has no outputs, so the target columns of '%s' cannot be matched to anything; add 'output' lines to "
             "the model (the dataset then needs one target column per output name)",
             path);
  for (PetscInt o = 0; o < *noutputs; o++) {
    const char *name = cols->outputs[o];
    PetscCheck(InputColumnIndex(name, *ninputs) < 0, comm, PETSC_ERR_USER_INPUT,
               "The model's output '%s' has the name of an input column (x0..x%" PetscInt_FMT "), so dataset columns would be ambiguous; rename the output", name, *ninputs - 1);
  }
  PetscFunctionReturn(0);
}

/* Columns of a spin model: its input count and output names (borrowed; free with FreeModelColumns). */
static PetscErrorCode ModelColumns(QepModel model, QepDatasetColumns *cols)
{
  const char **names;

  PetscFunctionBegin;
  cols->ninputs = cols->noutputs = 0;
  cols->outputs = NULL;
  if (!model) PetscFunctionReturn(0);
  PetscCall(QepModelGetNumInputs(model, &cols->ninputs));
  PetscCall(QepModelGetNumOutputs(model, &cols->noutputs));
  PetscCall(PetscMalloc1(cols->noutputs + 1, &names));
  for (PetscInt o = 0; o < cols->noutputs; o++) PetscCall(QepModelGetOutput(model, o, &names[o], NULL));
  cols->outputs = names;
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * CSV reading. Every rank parses the same text (in place), so every error is collective.
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  MPI_Comm    comm;
  const char *file;
  PetscInt    line; /* 1-based physical line being parsed */
} Csv;

/* Always fails, with "<file>:<line>: <message>" (or "<file>: <message>" when line is 0). */
static PetscErrorCode CsvError(const Csv *cs, PetscErrorCode code, const char fmt[], ...) __attribute__((format(printf, 3, 4)));
static PetscErrorCode CsvError(const Csv *cs, PetscErrorCode code, const char fmt[], ...)
{
  char    msg[QEP_MSG_LEN];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (cs->line > 0) SETERRQ(cs->comm, code, "%s:%" PetscInt_FMT ": %s", cs->file, cs->line, msg);
  SETERRQ(cs->comm, code, "%s: %s", cs->file, msg);
}

#define CsvCheck(cs, cond, code, ...) \
  do { \
    if (PetscUnlikely(!(cond))) PetscCall(CsvError(cs, code, __VA_ARGS__)); \
  } while (0)

static PetscBool IsBlank(char c) { return (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') ? PETSC_TRUE : PETSC_FALSE; }

/* Cuts the next physical line out of the text (in place) and advances; PETSC_FALSE at the end. */
static PetscBool NextLine(char **cursor, char **line, PetscInt *lineno)
{
  char *c = *cursor, *nl;

  if (!*c) return PETSC_FALSE;
  nl = strchr(c, '\n');
  if (nl) {
    *nl     = 0;
    *cursor = nl + 1;
  } else *cursor = c + strlen(c);
  *line = c;
  (*lineno)++;
  return PETSC_TRUE;
}

/* Blank lines and lines whose first non-blank character is '#' carry no data. */
static PetscBool IsSkippedLine(const char line[])
{
  while (IsBlank(*line)) line++;
  return (!*line || *line == '#') ? PETSC_TRUE : PETSC_FALSE;
}

static PetscInt CountFields(const char line[])
{
  PetscInt n = 1;
  for (; *line; line++)
    if (*line == ',') n++;
  return n;
}

/* Trims blanks (CR included), then one pair of surrounding double quotes, then blanks inside them. */
static char *TrimField(char *f)
{
  size_t n;

  for (int pass = 0; pass < 2; pass++) {
    while (IsBlank(*f)) f++;
    n = strlen(f);
    while (n && IsBlank(f[n - 1])) f[--n] = 0;
    if (pass == 0 && n >= 2 && f[0] == '"' && f[n - 1] == '"') {
      f[n - 1] = 0;
      f++;
    } else break;
  }
  return f;
}

/* Splits line at ',' (in place) into exactly nfields trimmed fields (the caller counted them). */
static void SplitFields(char line[], PetscInt nfields, char *field[])
{
  char *c = line;

  for (PetscInt k = 0; k < nfields; k++) {
    char *comma = strchr(c, ',');
    if (comma) *comma = 0;
    field[k] = TrimField(c);
    c        = comma ? comma + 1 : c + strlen(c);
  }
}

/* "a, b, c" from the header fields (shortened), for the missing-column message. */
static void HeaderList(PetscInt nfields, char *const field[], char list[], size_t len)
{
  size_t used = 0;

  list[0] = 0;
  for (PetscInt k = 0; k < nfields; k++) {
    int w = snprintf(list + used, len - used, "%s'%s'", k ? ", " : "", field[k]);
    if (w < 0 || used + (size_t)w >= len - 4) {
      snprintf(list + PetscMin(used, len - 5), 5, "...");
      return;
    }
    used += (size_t)w;
  }
}

/* Required column index of header name h: 0..ninputs-1 for x<k>, ninputs+o for output o, else -1. */
static PetscErrorCode MatchColumn(const QepDatasetColumns *cols, PetscInt ninputs, PetscInt noutputs, const char h[], PetscInt *r)
{
  PetscFunctionBegin;
  *r = InputColumnIndex(h, ninputs);
  if (*r >= 0) PetscFunctionReturn(0);
  for (PetscInt o = 0; o < noutputs; o++) {
    const char *name = cols->outputs[o];
    if (!strcmp(name, h)) {
      *r = ninputs + o;
      break;
    }
  }
  PetscFunctionReturn(0);
}

/* Fills col[r] = header field of required column r; every required column exactly once. */
static PetscErrorCode MapHeader(Csv *cs, const QepDatasetColumns *cols, PetscInt ninputs, PetscInt noutputs, PetscInt nfields, char *const field[], PetscInt col[])
{
  PetscInt nreq = ninputs + noutputs;
  char     buf[32], required[QEP_LIST_LEN], have[QEP_LIST_LEN];

  PetscFunctionBegin;
  for (PetscInt r = 0; r < nreq; r++) col[r] = -1;
  for (PetscInt k = 0; k < nfields; k++) {
    PetscInt r;
    PetscCall(MatchColumn(cols, ninputs, noutputs, field[k], &r));
    if (r < 0) continue;
    CsvCheck(cs, col[r] < 0, PETSC_ERR_FILE_UNEXPECTED, "column '%s' appears twice in the header (fields %" PetscInt_FMT " and %" PetscInt_FMT "); each column may appear once",
             field[k], col[r] + 1, k + 1);
    col[r] = k;
  }
  for (PetscInt r = 0; r < nreq; r++) {
    const char *name;
    if (col[r] >= 0) continue;
    PetscCall(ColumnName(cols, ninputs, r, buf, &name));
    PetscCall(RequiredColumnList(cols, ninputs, nreq, required, sizeof(required)));
    HeaderList(nfields, field, have, sizeof(have));
    PetscCall(CsvError(cs, PETSC_ERR_FILE_UNEXPECTED, "the header has no column '%s' (%s); required columns: %s; the header has: %s", name,
                       r < ninputs ? "an input feature of the model" : "a target, named after a model output", required, have));
  }
  PetscFunctionReturn(0);
}

/* One number of a data row: the whole field must be a finite double. */
static PetscErrorCode ParseField(const Csv *cs, const char field[], const char column[], PetscInt fieldno, PetscReal *v)
{
  char  *end;
  double d;

  PetscFunctionBegin;
  CsvCheck(cs, field[0], PETSC_ERR_FILE_UNEXPECTED, "column '%s' (field %" PetscInt_FMT ") is empty; expected a number", column, fieldno);
  errno = 0;
  d     = strtod(field, &end);
  CsvCheck(cs, end != field && !*end, PETSC_ERR_FILE_UNEXPECTED, "column '%s' (field %" PetscInt_FMT "): '%.60s' is not a number (expected e.g. 0.5, -1, 2e-3)", column,
           fieldno, field);
  CsvCheck(cs, isfinite(d), PETSC_ERR_FILE_UNEXPECTED,
           "column '%s' (field %" PetscInt_FMT "): '%.60s' is not a finite number; NaN, inf and magnitudes above 1.8e308 are not allowed", column, fieldno, field);
  *v = (PetscReal)d;
  PetscFunctionReturn(0);
}

/* Parses one data row (already split) into x[0..ninputs) and y[0..noutputs). */
static PetscErrorCode ParseRow(const Csv *cs, const QepDatasetColumns *cols, PetscInt ninputs, PetscInt noutputs, char *const field[], const PetscInt col[], PetscReal x[], PetscReal y[])
{
  char        buf[32];
  const char *name;

  PetscFunctionBegin;
  for (PetscInt r = 0; r < ninputs + noutputs; r++) {
    PetscCall(ColumnName(cols, ninputs, r, buf, &name));
    PetscCall(ParseField(cs, field[col[r]], name, col[r] + 1, r < ninputs ? &x[r] : &y[r - ninputs]));
  }
  PetscFunctionReturn(0);
}

/* Scratch of one CSV parse; freed on every path by ParseCSVText's caller. */
typedef struct {
  char     **field;
  PetscInt  *col;
  PetscReal *x, *y;
} CsvScratch;

static PetscErrorCode ParseCSVBody(Csv *cs, char *text, const QepDatasetColumns *cols, PetscInt ninputs, PetscInt noutputs, CsvScratch *s, PetscInt *nrows)
{
  char    *cursor = text, *line = NULL;
  PetscInt nfields = 0, header_line, capacity = 1, n = 0;

  PetscFunctionBegin;
  if (!strncmp(cursor, "\xEF\xBB\xBF", 3)) cursor += 3; /* a UTF-8 byte-order mark, as spreadsheets write */
  CsvCheck(cs, cursor[0], PETSC_ERR_FILE_UNEXPECTED, "the file is empty; a dataset CSV starts with a header row naming its columns (x0, x1, ..., then one column per model output)");
  for (const char *c = text; *c; c++)
    if (*c == '\n') capacity++; /* every data row is a line */
  for (;;) {                    /* the header: the first line that is not blank or a comment */
    PetscBool more = NextLine(&cursor, &line, &cs->line);
    if (!more) {
      cs->line = 0;
      PetscCall(CsvError(cs, PETSC_ERR_FILE_UNEXPECTED, "no header row: the file holds only comments and blank lines"));
    }
    if (!IsSkippedLine(line)) break;
  }
  header_line = cs->line;
  nfields     = CountFields(line);
  PetscCall(PetscMalloc1(nfields, &s->field));
  PetscCall(PetscMalloc1(ninputs + noutputs, &s->col));
  SplitFields(line, nfields, s->field);
  PetscCall(MapHeader(cs, cols, ninputs, noutputs, nfields, s->field, s->col));
  PetscCall(AllocateRows(cs->comm, capacity, ninputs, "inputs", &s->x));
  PetscCall(AllocateRows(cs->comm, capacity, noutputs, "targets", &s->y));
  while (NextLine(&cursor, &line, &cs->line)) {
    PetscInt count;
    if (IsSkippedLine(line)) continue;
    count = CountFields(line);
    CsvCheck(cs, count == nfields, PETSC_ERR_FILE_UNEXPECTED, "this row has %" PetscInt_FMT " fields but the header (line %" PetscInt_FMT ") has %" PetscInt_FMT "; fields are separated by ','",
             count, header_line, nfields);
    SplitFields(line, nfields, s->field);
    PetscCall(ParseRow(cs, cols, ninputs, noutputs, s->field, s->col, s->x ? s->x + n * ninputs : NULL, s->y + n * noutputs));
    n++;
  }
  cs->line = header_line;
  CsvCheck(cs, n > 0, PETSC_ERR_FILE_UNEXPECTED, "the header is not followed by any data rows; add one row per example");
  *nrows = n;
  PetscFunctionReturn(0);
}

static PetscErrorCode LoadCSV(QepDataset ds, const char path[], const QepDatasetColumns *cols, PetscInt ninputs, PetscInt noutputs)
{
  Csv            cs = {ds->comm, path, 0};
  CsvScratch     s  = {NULL, NULL, NULL, NULL};
  char          *text;
  PetscInt       n = 0;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(QepReadTextFile(ds->comm, path, &text));
  ierr = ParseCSVBody(&cs, text, cols, ninputs, noutputs, &s, &n);
  PetscCall(PetscFree(text));
  PetscCall(PetscFree(s.field));
  PetscCall(PetscFree(s.col));
  if (ierr) {
    PetscCall(PetscFree(s.x));
    PetscCall(PetscFree(s.y));
    PetscCall(ierr);
  }
  PetscCall(DatasetAdopt(ds, n, ninputs, noutputs, s.x, s.y)); /* capacity >= n rows: the tail is unused */
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * HDF5 reading: rank 0 reads with the HDF5 C API, then broadcasts either the numbers or the error.
 * ---------------------------------------------------------------------------------------------- */

#if defined(QEP_DATASET_HDF5)
/* An error found on rank 0 only, raised on every rank after a broadcast. */
typedef struct {
  int  code; /* 0: no error */
  char msg[QEP_MSG_LEN];
} Failure;

static void Fail(Failure *f, int code, const char fmt[], ...) __attribute__((format(printf, 3, 4)));
static void Fail(Failure *f, int code, const char fmt[], ...)
{
  va_list ap;

  if (f->code) return; /* keep the first error */
  f->code = code;
  va_start(ap, fmt);
  vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
  va_end(ap);
}

static PetscErrorCode RaiseFailure(MPI_Comm comm, Failure *f)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(f, (PetscMPIInt)sizeof(*f), MPI_BYTE, 0, comm));
  PetscCheck(!f->code, comm, (PetscErrorCode)f->code, "%s", f->msg);
  PetscFunctionReturn(0);
}

/* MPI_Bcast counts are int: large arrays go in pieces. */
static PetscErrorCode BcastReals(MPI_Comm comm, PetscReal a[], PetscInt64 n)
{
  const PetscInt64 chunk = (PetscInt64)1 << 26;

  PetscFunctionBegin;
  for (PetscInt64 start = 0; start < n; start += chunk) PetscCallMPI(MPI_Bcast(a + start, (PetscMPIInt)PetscMin(chunk, n - start), MPIU_REAL, 0, comm));
  PetscFunctionReturn(0);
}

/* Reads dataset `name` (rows x width, or a vector when width is 1) of an open file into a malloc'ed
 * array of doubles. Rank 0 only: never calls PETSc, reports through f. */
static void ReadMatrixH5(hid_t file, const char path[], const char name[], const char role[], PetscInt width, double **data, PetscInt64 *rows, Failure *f)
{
  hid_t       dset = -1, space = -1, type = -1;
  hsize_t     dims[H5S_MAX_RANK];
  int         ndims;
  H5T_class_t cls;

  *data = NULL;
  *rows = 0;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
    Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: no dataset '%s'; a dataset file holds 'inputs' (N x ninputs) and 'targets' (N x noutputs) at its root", path, name);
    return;
  }
  dset  = H5Dopen2(file, name, H5P_DEFAULT);
  space = dset >= 0 ? H5Dget_space(dset) : -1;
  type  = dset >= 0 ? H5Dget_type(dset) : -1;
  ndims = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
  cls   = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  if (dset < 0 || space < 0 || type < 0 || ndims < 0) Fail(f, PETSC_ERR_FILE_READ, "%s: cannot open dataset '%s'", path, name);
  else if (cls != H5T_FLOAT && cls != H5T_INTEGER) Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' does not hold numbers (expected floating-point or integer values)", path, name);
  else if (ndims == 1 && width == 1) *rows = (PetscInt64)dims[0]; /* a plain vector is N x 1 */
  else if (ndims == 2 && dims[1] == (hsize_t)width) *rows = (PetscInt64)dims[0];
  else if (ndims == 2)
    Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is %llu x %llu, but the model has %" PetscInt_FMT " %s, so it must be N x %" PetscInt_FMT, path, name, (unsigned long long)dims[0],
         (unsigned long long)dims[1], width, role, width);
  else Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' has %d dimension%s; expected 2 (N x %" PetscInt_FMT ", one row per example)", path, name, ndims, ndims == 1 ? "" : "s", width);
  if (!f->code && *rows * width > 0) {
    *data = malloc((size_t)(*rows * width) * sizeof(double));
    if (!*data) Fail(f, PETSC_ERR_MEM, "%s: out of memory reading dataset '%s' (%lld values)", path, name, (long long)(*rows * width));
    else if (H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) Fail(f, PETSC_ERR_FILE_READ, "%s: reading dataset '%s' failed", path, name);
  }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (dset >= 0) H5Dclose(dset);
}

/* The first NaN or inf of a rows x width block, named by dataset, row and column. */
static void CheckFiniteH5(const char path[], const char name[], const double a[], PetscInt64 rows, PetscInt width, Failure *f)
{
  for (PetscInt64 i = 0; i < rows * width && !f->code; i++)
    if (!isfinite(a[i]))
      Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' row %lld, column %lld (counted from 0) is %s; NaN and inf are not allowed", path, name, (long long)(i / width), (long long)(i % width),
           isnan(a[i]) ? "NaN" : "inf");
}

/* Rank 0: opens the file, reads and checks both datasets. On success x, y are malloc'ed. */
static void ReadH5Rank0(const char path[], PetscInt ninputs, PetscInt noutputs, double **x, double **y, PetscInt64 *n, Failure *f)
{
  H5E_auto2_t handler;
  void       *handler_data;
  FILE       *probe = fopen(path, "rb");
  hid_t       file  = -1;
  PetscInt64  ny    = 0;

  *x = *y = NULL;
  *n      = 0;
  if (!probe) {
    Fail(f, PETSC_ERR_FILE_OPEN, "Cannot open '%s' for reading: %s", path, strerror(errno));
    return;
  }
  fclose(probe);
  H5Eget_auto2(H5E_DEFAULT, &handler, &handler_data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages replace HDF5's error-stack dump */
  if (H5Fis_hdf5(path) <= 0) Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: not an HDF5 file (the extension says HDF5; use .csv for CSV text)", path);
  else if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) Fail(f, PETSC_ERR_FILE_OPEN, "Cannot open HDF5 file '%s'", path);
  if (!f->code) ReadMatrixH5(file, path, "inputs", "input features", ninputs, x, n, f);
  if (!f->code) ReadMatrixH5(file, path, "targets", "outputs", noutputs, y, &ny, f);
  if (!f->code && ny != *n)
    Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: 'inputs' has %lld rows but 'targets' has %lld; both need one row per example", path, (long long)*n, (long long)ny);
  if (!f->code && *n == 0) Fail(f, PETSC_ERR_FILE_UNEXPECTED, "%s: the datasets have no rows (no examples)", path);
  if (!f->code) CheckFiniteH5(path, "inputs", *x, *n, ninputs, f);
  if (!f->code) CheckFiniteH5(path, "targets", *y, *n, noutputs, f);
  if (file >= 0) H5Fclose(file);
  H5Eset_auto2(H5E_DEFAULT, handler, handler_data);
  if (f->code) {
    free(*x);
    free(*y);
    *x = *y = NULL;
  }
}
#endif

static PetscErrorCode LoadHDF5(QepDataset ds, const char path[], PetscInt ninputs, PetscInt noutputs)
{
  PetscFunctionBegin;
#if defined(QEP_DATASET_HDF5)
  PetscMPIInt rank;
  Failure     f = {0, ""};
  double     *x0 = NULL, *y0 = NULL; /* rank 0's copy */
  PetscInt64  n  = 0;
  PetscReal  *x, *y;

  PetscCallMPI(MPI_Comm_rank(ds->comm, &rank));
  if (rank == 0) ReadH5Rank0(path, ninputs, noutputs, &x0, &y0, &n, &f);
  PetscCall(RaiseFailure(ds->comm, &f));
  PetscCallMPI(MPI_Bcast(&n, 1, MPIU_INT64, 0, ds->comm));
  PetscCheck(n <= PETSC_MAX_INT, ds->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: %lld examples do not fit this build's PetscInt; rebuild with -DQEP_INDEX64=ON", path, (long long)n);
  PetscCall(AllocateRows(ds->comm, (PetscInt)n, ninputs, "inputs", &x));
  PetscCall(AllocateRows(ds->comm, (PetscInt)n, noutputs, "targets", &y));
  if (rank == 0) {
    for (PetscInt64 i = 0; i < n * ninputs; i++) x[i] = (PetscReal)x0[i];
    for (PetscInt64 i = 0; i < n * noutputs; i++) y[i] = (PetscReal)y0[i];
    free(x0);
    free(y0);
  }
  PetscCall(BcastReals(ds->comm, x, n * ninputs));
  PetscCall(BcastReals(ds->comm, y, n * noutputs));
  PetscCall(DatasetAdopt(ds, (PetscInt)n, ninputs, noutputs, x, y));
#else
  (void)ninputs;
  (void)noutputs;
  SETERRQ(ds->comm, PETSC_ERR_SUP, "Cannot read '%s': this qep was built without HDF5 (PETSc with HDF5 and the hdf5-openmpi headers are needed); use a .csv dataset", path);
#endif
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Loading: the format is chosen by the extension
 * ---------------------------------------------------------------------------------------------- */

static PetscBool HasExtension(const char path[], const char ext[])
{
  size_t n = strlen(path), e = strlen(ext);
  return (n > e && !strcasecmp(path + n - e, ext)) ? PETSC_TRUE : PETSC_FALSE;
}

PetscErrorCode QepDatasetLoadColumns(QepDataset ds, const char path[], const QepDatasetColumns *cols)
{
  PetscInt ninputs, noutputs;

  PetscFunctionBegin;
  PetscCheck(path && path[0], ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetLoad: no file name given");
  PetscCall(CheckColumns(ds->comm, cols, path, &ninputs, &noutputs));
  if (HasExtension(path, ".csv")) PetscCall(LoadCSV(ds, path, cols, ninputs, noutputs));
  else if (HasExtension(path, ".h5") || HasExtension(path, ".hdf5")) PetscCall(LoadHDF5(ds, path, ninputs, noutputs));
  else
    SETERRQ(ds->comm, PETSC_ERR_USER_INPUT,
            "Cannot tell the format of dataset file '%s' from its extension; allowed: .csv (text with a header row) or .h5/.hdf5 (HDF5 with datasets 'inputs' and 'targets')",
            path);
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetLoad(QepDataset ds, const char path[], QepModel model)
{
  QepDatasetColumns cols;
  PetscErrorCode    ierr;

  PetscFunctionBegin;
  PetscCall(ModelColumns(model, &cols));
  ierr = QepDatasetLoadColumns(ds, path, model ? &cols : NULL);
  PetscCall(PetscFree(cols.outputs));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Built-in demo tasks
 * ---------------------------------------------------------------------------------------------- */

/* A standard normal number from two uniforms of `stream` (Box-Muller); counter pair 2k, 2k+1. */
static PetscReal Gaussian(PetscInt64 seed, PetscInt64 stream, PetscInt64 k)
{
  double u1 = 1.0 - QepRandomUniform(seed, stream, 2 * k); /* in (0, 1]: the log is finite */
  double u2 = QepRandomUniform(seed, stream, 2 * k + 1);
  return (PetscReal)(sqrt(-2.0 * log(u1)) * cos(2.0 * PETSC_PI * u2));
}

/* Two bits b0, b1 (uniform over the 4 patterns); x_k = (2 b_k - 1) + noise N(0,1); y = +1 for b0 XOR b1, else -1. */
static void GenerateParity(PetscInt n, PetscInt64 seed, PetscReal noise, PetscReal x[], PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++) {
    int pattern = (int)(4.0 * QepRandomUniform(seed, QEP_STREAM_PARITY_BITS, i)); /* 0..3 */
    int b[2]    = {pattern & 1, (pattern >> 1) & 1};
    for (int k = 0; k < 2; k++) {
      x[2 * i + k] = (PetscReal)(2 * b[k] - 1);
      if (noise != 0.0) x[2 * i + k] += noise * Gaussian(seed, QEP_STREAM_PARITY_NOISE, 2 * (PetscInt64)i + k);
    }
    y[i] = (b[0] ^ b[1]) ? 1.0 : -1.0;
  }
}

/* Gamma uniform in [GMIN, GMAX); x0 = Gamma; y = 1 in the ordered phase Gamma < 1, else 0. */
static void GeneratePhase(PetscInt n, PetscInt64 seed, PetscReal x[], PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++) {
    PetscReal gamma = QEP_PHASE_GMIN + (QEP_PHASE_GMAX - QEP_PHASE_GMIN) * QepRandomUniform(seed, QEP_STREAM_PHASE_FIELD, i);
    x[i]            = gamma;
    y[i]            = gamma < QEP_PHASE_CRITICAL ? 1.0 : 0.0;
  }
}

#define QEP_TASK_LIST "parity (a model with 2 input features x0, x1 and 1 output), phase (a model with 1 input feature x0 and 1 output)"

PetscErrorCode QepDatasetGenerate(QepDataset ds, const char task[], QepModel model, PetscInt n, PetscInt64 seed, PetscReal noise)
{
  PetscInt   ninputs, noutputs, need_in;
  PetscBool  parity, phase;
  PetscReal *x, *y;

  PetscFunctionBegin;
  PetscCheck(task && task[0], ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetGenerate: no task given; built-in tasks: " QEP_TASK_LIST);
  PetscCall(PetscStrcmp(task, "parity", &parity));
  PetscCall(PetscStrcmp(task, "phase", &phase));
  PetscCheck(parity || phase, ds->comm, PETSC_ERR_USER_INPUT, "Unknown dataset task '%s'; built-in tasks: " QEP_TASK_LIST, task);
  PetscCheck(model, ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetGenerate: task '%s' needs the model (to check its inputs and outputs)", task);
  PetscCall(QepModelGetNumInputs(model, &ninputs));
  PetscCall(QepModelGetNumOutputs(model, &noutputs));
  need_in = parity ? 2 : 1;
  PetscCheck(ninputs == need_in && noutputs == 1, ds->comm, PETSC_ERR_USER_INPUT,
             "Task '%s' needs a model with %" PetscInt_FMT " input feature%s (%s) and 1 output; this model has %" PetscInt_FMT " input feature%s and %" PetscInt_FMT
             " output%s. Built-in tasks: " QEP_TASK_LIST,
             task, need_in, need_in == 1 ? "" : "s", parity ? "x0, x1" : "x0", ninputs, ninputs == 1 ? "" : "s", noutputs, noutputs == 1 ? "" : "s");
  PetscCheck(n >= 1, ds->comm, PETSC_ERR_ARG_OUTOFRANGE, "Task '%s': the number of examples must be at least 1 (got %" PetscInt_FMT ")", task, n);
  PetscCheck(!PetscIsInfOrNanReal(noise) && noise >= 0.0, ds->comm, PETSC_ERR_ARG_OUTOFRANGE, "Task '%s': the noise must be a finite number >= 0 (got %g)", task, (double)noise);
  PetscCall(AllocateRows(ds->comm, n, ninputs, "inputs", &x));
  PetscCall(AllocateRows(ds->comm, n, noutputs, "targets", &y));
  if (parity) GenerateParity(n, seed, noise, x, y);
  else GeneratePhase(n, seed, x, y); /* the field is the physical control parameter: no jitter */
  PetscCall(DatasetAdopt(ds, n, ninputs, noutputs, x, y));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * Train/test split
 * ---------------------------------------------------------------------------------------------- */

/* perm = a uniformly random permutation of 0..n-1 (Fisher-Yates, swap i with j <= i). */
static void SeededPermutation(PetscInt n, PetscInt64 seed, PetscInt perm[])
{
  for (PetscInt i = 0; i < n; i++) perm[i] = i;
  for (PetscInt i = n - 1; i > 0; i--) {
    PetscInt j = (PetscInt)(QepRandomUniform(seed, QEP_STREAM_SPLIT, i) * (double)(i + 1)), t;
    j          = PetscMin(j, i); /* guards against rounding up to i+1 */
    t          = perm[i];
    perm[i]    = perm[j];
    perm[j]    = t;
  }
}

/* A new dataset holding examples perm[0..count) of ds, in that order. */
static PetscErrorCode DatasetSubset(QepDataset ds, const PetscInt perm[], PetscInt count, QepDataset *sub)
{
  PetscReal *x, *y;

  PetscFunctionBegin;
  PetscCall(QepDatasetCreate(ds->comm, sub));
  PetscCall(AllocateRows(ds->comm, count, ds->ninputs, "inputs", &x));
  PetscCall(AllocateRows(ds->comm, count, ds->noutputs, "targets", &y));
  for (PetscInt i = 0; i < count; i++) {
    if (x) PetscCall(PetscArraycpy(x + i * ds->ninputs, ds->x + perm[i] * ds->ninputs, ds->ninputs));
    if (y) PetscCall(PetscArraycpy(y + i * ds->noutputs, ds->y + perm[i] * ds->noutputs, ds->noutputs));
  }
  PetscCall(DatasetAdopt(*sub, count, ds->ninputs, ds->noutputs, x, y));
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetSplit(QepDataset ds, PetscReal test_fraction, PetscInt64 seed, QepDataset *train, QepDataset *test)
{
  PetscInt *perm, ntest;

  PetscFunctionBegin;
  PetscCheck(train && test, ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetSplit: both train and test must be given");
  PetscCheck(test_fraction >= 0.0 && test_fraction < 1.0, ds->comm, PETSC_ERR_ARG_OUTOFRANGE, "The test fraction must be in [0, 1) (got %g)", (double)test_fraction);
  ntest = (PetscInt)floor((double)test_fraction * (double)ds->n + 0.5);
  PetscCheck(ntest < ds->n, ds->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "A test fraction of %g of %" PetscInt_FMT " examples leaves no training examples; use a smaller fraction or more examples", (double)test_fraction, ds->n);
  PetscCall(PetscMalloc1(ds->n, &perm));
  SeededPermutation(ds->n, seed, perm);
  PetscCall(DatasetSubset(ds, perm, ntest, test));
  PetscCall(DatasetSubset(ds, perm + ntest, ds->n - ntest, train));
  PetscCall(PetscFree(perm));
  PetscFunctionReturn(0);
}

/* ----------------------------------------------------------------------------------------------
 * CSV writing
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
  char  *buf;
  size_t len, cap;
} Text;

static PetscErrorCode TextAppend(Text *t, const char s[])
{
  size_t n = strlen(s);

  PetscFunctionBegin;
  if (t->len + n + 1 > t->cap) {
    size_t cap = PetscMax(2 * t->cap, t->len + n + 65536);
    PetscCall(PetscRealloc(cap, &t->buf));
    t->cap = cap;
  }
  memcpy(t->buf + t->len, s, n + 1);
  t->len += n;
  PetscFunctionReturn(0);
}

/* Shortest of %.15g/%.16g/%.17g that strtod reads back to exactly v (so the file round-trips). */
static void FormatReal(PetscReal v, char buf[32])
{
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, 32, "%.*g", digits, (double)v);
    if (strtod(buf, NULL) == (double)v && signbit(strtod(buf, NULL)) == signbit((double)v)) return;
  }
}

/* A name the reader gives back unchanged: no separator, quote, line break or outer blanks, not a comment. */
static PetscBool IsWritableColumnName(const char s[])
{
  size_t n = strlen(s);
  if (!n || s[0] == '#' || IsBlank(s[0]) || IsBlank(s[n - 1])) return PETSC_FALSE;
  return strpbrk(s, ",\"\n") ? PETSC_FALSE : PETSC_TRUE;
}

static PetscErrorCode BuildCSV(QepDataset ds, const QepDatasetColumns *cols, Text *t)
{
  char        num[34], buf[32];
  const char *name;

  PetscFunctionBegin;
  for (PetscInt r = 0; r < ds->ninputs + ds->noutputs; r++) {
    PetscCall(ColumnName(cols, ds->ninputs, r, buf, &name));
    PetscCheck(IsWritableColumnName(name), ds->comm, PETSC_ERR_ARG_WRONG,
               "Output name '%s' cannot be a CSV column (it is empty or holds ',', '\"', a line break, outer blanks or a leading '#')", name);
    if (r) PetscCall(TextAppend(t, ","));
    PetscCall(TextAppend(t, name));
  }
  PetscCall(TextAppend(t, "\n"));
  for (PetscInt i = 0; i < ds->n; i++) {
    for (PetscInt r = 0; r < ds->ninputs + ds->noutputs; r++) {
      FormatReal(r < ds->ninputs ? ds->x[i * ds->ninputs + r] : ds->y[i * ds->noutputs + r - ds->ninputs], num + 1);
      num[0] = ',';
      PetscCall(TextAppend(t, r ? num : num + 1));
    }
    PetscCall(TextAppend(t, "\n"));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetWriteCSVColumns(QepDataset ds, const char path[], const QepDatasetColumns *cols)
{
  PetscInt       ninputs, noutputs;
  Text           t = {NULL, 0, 0};
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(path && path[0], ds->comm, PETSC_ERR_ARG_NULL, "QepDatasetWriteCSV: no file name given");
  PetscCall(CheckColumns(ds->comm, cols, path, &ninputs, &noutputs));
  PetscCheck(ninputs == ds->ninputs && noutputs == ds->noutputs, ds->comm, PETSC_ERR_ARG_INCOMP,
             "Cannot write '%s': the dataset has %" PetscInt_FMT " inputs and %" PetscInt_FMT " targets per example, but the model has %" PetscInt_FMT
             " input features and %" PetscInt_FMT " outputs",
             path, ds->ninputs, ds->noutputs, ninputs, noutputs);
  ierr = BuildCSV(ds, cols, &t);
  if (!ierr) ierr = QepWriteFileAtomic(ds->comm, path, t.buf, t.len);
  PetscCall(PetscFree(t.buf));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode QepDatasetWriteCSV(QepDataset ds, const char path[], QepModel model)
{
  QepDatasetColumns cols;
  PetscErrorCode    ierr;

  PetscFunctionBegin;
  PetscCall(ModelColumns(model, &cols));
  ierr = QepDatasetWriteCSVColumns(ds, path, model ? &cols : NULL);
  PetscCall(PetscFree(cols.outputs));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
