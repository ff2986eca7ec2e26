/* io.c — atomic file writes, the JSON run summary and the HDF5 state file.
 * Invariant: a file qep writes is either absent, the previous complete version, or the new complete
 * version: contents go to "<path>.tmp.<pid>", are fsync'ed, then renamed over <path> by rank 0. */
#include "qepimpl.h"
#include <errno.h>
#include <unistd.h>
#if defined(PETSC_HAVE_HDF5)
  #include <petscviewerhdf5.h>
#endif

/* Rank 0 writes; every rank returns the same error (the status is broadcast). */
PetscErrorCode QepWriteFileAtomic(MPI_Comm comm, const char path[], const char text[], size_t len)
{
  PetscMPIInt rank;
  int         status[2] = {0, 0}; /* failed step, errno */

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char  tmp[PETSC_MAX_PATH_LEN + 32];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f) status[0] = 1;
    else {
      if (len && fwrite(text, 1, len, f) != len) status[0] = 2;
      if (!status[0] && fflush(f)) status[0] = 2;
      if (!status[0] && fsync(fileno(f))) status[0] = 3;
      if (fclose(f) && !status[0]) status[0] = 2;
      if (!status[0] && rename(tmp, path)) status[0] = 4;
      if (status[0]) (void)remove(tmp);
    }
    status[1] = status[0] ? errno : 0;
  }
  PetscCallMPI(MPI_Bcast(status, 2, MPI_INT, 0, comm));
  PetscCheck(status[0] != 1, comm, PETSC_ERR_FILE_OPEN, "Cannot create '%s' (temporary file for an atomic write): %s", path, strerror(status[1]));
  PetscCheck(status[0] == 0, comm, PETSC_ERR_FILE_WRITE, "Writing '%s' failed (%s); the previous version, if any, is untouched", path, strerror(status[1]));
  PetscFunctionReturn(0);
}

#define QEP_JSON_MAX_DEPTH 32

struct _p_QepJSON {
  MPI_Comm  comm;
  char     *buf;
  size_t    len, cap;
  int       depth;
  PetscBool first[QEP_JSON_MAX_DEPTH]; /* no element written yet at this depth */
};

PetscErrorCode QepJSONCreate(MPI_Comm comm, QepJSON *json)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(json));
  (*json)->comm     = comm;
  (*json)->first[0] = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONDestroy(QepJSON *json)
{
  PetscFunctionBegin;
  if (!*json) PetscFunctionReturn(0);
  PetscCall(PetscFree((*json)->buf));
  PetscCall(PetscFree(*json));
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONAppend(QepJSON j, const char *s, size_t n)
{
  PetscFunctionBegin;
  if (j->len + n + 1 > j->cap) {
    size_t cap = PetscMax(2 * j->cap, j->len + n + 1024);
    PetscCall(PetscRealloc(cap, &j->buf));
    j->cap = cap;
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = 0;
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONAppendString(QepJSON j, const char *s)
{
  PetscFunctionBegin;
  PetscCall(JSONAppend(j, "\"", 1));
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    char esc[8];
    if (*c == '"' || *c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*c;
      PetscCall(JSONAppend(j, esc, 2));
    } else if (*c < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", *c);
      PetscCall(JSONAppend(j, esc, 6));
    } else PetscCall(JSONAppend(j, (const char *)c, 1));
  }
  PetscCall(JSONAppend(j, "\"", 1));
  PetscFunctionReturn(0);
}

/* Comma, newline and indentation before an element, then `"key": ` when key is given. */
static PetscErrorCode JSONElement(QepJSON j, const char key[])
{
  PetscFunctionBegin;
  if (j->depth > 0) {
    if (!j->first[j->depth]) PetscCall(JSONAppend(j, ",", 1));
    PetscCall(JSONAppend(j, "\n", 1));
    for (int i = 0; i < j->depth; i++) PetscCall(JSONAppend(j, "  ", 2));
  }
  j->first[j->depth] = PETSC_FALSE;
  if (key) {
    PetscCall(JSONAppendString(j, key));
    PetscCall(JSONAppend(j, ": ", 2));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONOpen(QepJSON j, const char key[], const char *bracket)
{
  PetscFunctionBegin;
  PetscCheck(j->depth + 1 < QEP_JSON_MAX_DEPTH, j->comm, PETSC_ERR_ARG_OUTOFRANGE, "JSON nesting deeper than %d", QEP_JSON_MAX_DEPTH - 1);
  PetscCall(JSONElement(j, key));
  PetscCall(JSONAppend(j, bracket, 1));
  j->depth++;
  j->first[j->depth] = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscErrorCode JSONClose(QepJSON j, const char *bracket)
{
  PetscFunctionBegin;
  PetscCheck(j->depth > 0, j->comm, PETSC_ERR_ORDER, "JSON close without open");
  if (!j->first[j->depth]) {
    PetscCall(JSONAppend(j, "\n", 1));
    for (int i = 0; i < j->depth - 1; i++) PetscCall(JSONAppend(j, "  ", 2));
  }
  j->depth--;
  PetscCall(JSONAppend(j, bracket, 1));
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONBeginObject(QepJSON j, const char key[]) { return JSONOpen(j, key, "{"); }
PetscErrorCode QepJSONEndObject(QepJSON j) { return JSONClose(j, "}"); }
PetscErrorCode QepJSONBeginArray(QepJSON j, const char key[]) { return JSONOpen(j, key, "["); }
PetscErrorCode QepJSONEndArray(QepJSON j) { return JSONClose(j, "]"); }

PetscErrorCode QepJSONString(QepJSON j, const char key[], const char value[])
{
  PetscFunctionBegin;
  PetscCall(JSONElement(j, key));
  PetscCall(JSONAppendString(j, value ? value : ""));
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONReal(QepJSON j, const char key[], PetscReal value)
{
  char num[64];

  PetscFunctionBegin;
  PetscCall(JSONElement(j, key));
  if (PetscIsInfOrNanReal(value)) snprintf(num, sizeof(num), "null");
  else snprintf(num, sizeof(num), "%.17g", (double)value);
  PetscCall(JSONAppend(j, num, strlen(num)));
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONInt(QepJSON j, const char key[], PetscInt64 value)
{
  char num[32];

  PetscFunctionBegin;
  PetscCall(JSONElement(j, key));
  snprintf(num, sizeof(num), "%lld", (long long)value);
  PetscCall(JSONAppend(j, num, strlen(num)));
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONBool(QepJSON j, const char key[], PetscBool value)
{
  PetscFunctionBegin;
  PetscCall(JSONElement(j, key));
  PetscCall(JSONAppend(j, value ? "true" : "false", value ? 4 : 5));
  PetscFunctionReturn(0);
}

PetscErrorCode QepJSONWriteFile(QepJSON j, const char path[])
{
  PetscFunctionBegin;
  PetscCheck(j->depth == 0, j->comm, PETSC_ERR_ORDER, "JSON document has %d unclosed objects/arrays", j->depth);
  PetscCall(JSONAppend(j, "\n", 1));
  PetscCall(QepWriteFileAtomic(j->comm, path, j->buf, j->len));
  j->len--; /* drop the newline so the document can still be extended */
  j->buf[j->len] = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepStateWriteHDF5(Vec psi, const char path[], PetscInt nqubits, PetscReal energy)
{
  MPI_Comm comm;

  PetscFunctionBegin;
  PetscCall(PetscObjectGetComm((PetscObject)psi, &comm));
#if defined(PETSC_HAVE_HDF5)
  {
    PetscViewer viewer;
    char        tmp[PETSC_MAX_PATH_LEN + 32];
    PetscMPIInt rank;
    int         failed = 0;
    PetscInt    n64    = nqubits;

    PetscCall(PetscLogEventBegin(QEP_StateWrite, 0, 0, 0, 0));
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    snprintf(tmp, sizeof(tmp), "%s.tmp.h5", path);
    PetscCall(PetscViewerHDF5Open(comm, tmp, FILE_MODE_WRITE, &viewer));
    PetscCall(PetscObjectSetName((PetscObject)psi, "psi"));
    PetscCall(VecView(psi, viewer));
    PetscCall(PetscViewerHDF5WriteAttribute(viewer, "/psi", "energy", PETSC_REAL, &energy));
    PetscCall(PetscViewerHDF5WriteAttribute(viewer, "/psi", "nqubits", PETSC_INT, &n64));
    PetscCall(PetscViewerDestroy(&viewer));
    if (rank == 0) failed = rename(tmp, path) ? errno : 0;
    PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, comm));
    PetscCheck(!failed, comm, PETSC_ERR_FILE_WRITE, "Cannot move the finished state file into place at '%s': %s", path, strerror(failed));
    PetscCall(PetscLogEventEnd(QEP_StateWrite, 0, 0, 0, 0));
  }
#else
  SETERRQ(comm, PETSC_ERR_SUP, "This PETSc has no HDF5 support; cannot write '%s'", path);
#endif
  PetscFunctionReturn(0);
}
