/* test_dataset.c — QepDataset (src/train/dataset.c) against hand-written numbers and statistics.
 *
 * Default mode (-data_dir DIR, the tests/data folder): direct data and example access; a CSV with
 * extra, shuffled, quoted columns and comments read to exactly the numbers written in it; a CRLF
 * file with a byte-order mark; exact CSV and HDF5 round trips (extreme doubles, -0.0, subnormals);
 * the parity and phase generators (labels from their definitions, class balance, noise statistics,
 * determinism, a checksum that must be the same at every rank count); the seeded split (sizes,
 * disjointness, determinism, uniformity); argument errors with their error classes.
 * -load FILE -model_file MODEL: loads FILE and prints its sizes (the error cases of tests/dataset.cmake).
 * -make_h5 DIR: writes the malformed HDF5 files of the error cases into DIR (a test fixture). */
#include <slepcsys.h>
#include <qep/qep.h>
#include <float.h>
#include <math.h>
#if defined(PETSC_HAVE_HDF5) && defined(__has_include)
  #if __has_include(<hdf5.h>)
    #include <hdf5.h>
    #define TEST_HDF5 1
  #endif
#endif

#define CHECK(cond, ...) PetscCheck(cond, PETSC_COMM_WORLD, PETSC_ERR_PLIB, __VA_ARGS__)

/* 64-bit FNV-1a of the dataset's bytes: equal data <=> (almost surely) equal checksum. */
static uint64_t Checksum(QepDataset ds)
{
  PetscInt         n, ni, no;
  const PetscReal *x, *y;
  uint64_t         h = 1469598103934665603ULL;

  (void)QepDatasetGetSizes(ds, &n, &ni, &no);
  for (PetscInt i = 0; i < n; i++) {
    (void)QepDatasetGetExample(ds, i, &x, &y);
    for (int part = 0; part < 2; part++) {
      const unsigned char *b = (const unsigned char *)(part ? (const void *)y : (const void *)x);
      size_t               len = (size_t)(part ? no : ni) * sizeof(PetscReal);
      for (size_t k = 0; k < len; k++) h = (h ^ b[k]) * 1099511628211ULL;
    }
  }
  return h;
}

/* Every example of ds equals the given rows bit for bit (so -0.0 and subnormals count). */
static PetscErrorCode ExpectData(QepDataset ds, PetscInt n, PetscInt ni, PetscInt no, const PetscReal x[], const PetscReal y[], const char what[])
{
  PetscInt         n2, ni2, no2;
  const PetscReal *xe, *ye;

  PetscFunctionBegin;
  PetscCall(QepDatasetGetSizes(ds, &n2, &ni2, &no2));
  CHECK(n2 == n && ni2 == ni && no2 == no, "%s: sizes %" PetscInt_FMT " x (%" PetscInt_FMT ", %" PetscInt_FMT "), expected %" PetscInt_FMT " x (%" PetscInt_FMT ", %" PetscInt_FMT ")", what, n2,
        ni2, no2, n, ni, no);
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(QepDatasetGetExample(ds, i, &xe, &ye));
    for (PetscInt k = 0; k < ni; k++) CHECK(!memcmp(&xe[k], &x[i * ni + k], sizeof(PetscReal)), "%s: x[%" PetscInt_FMT "][%" PetscInt_FMT "] = %.17g, expected %.17g", what, i, k, (double)xe[k], (double)x[i * ni + k]);
    for (PetscInt k = 0; k < no; k++) CHECK(!memcmp(&ye[k], &y[i * no + k], sizeof(PetscReal)), "%s: y[%" PetscInt_FMT "][%" PetscInt_FMT "] = %.17g, expected %.17g", what, i, k, (double)ye[k], (double)y[i * no + k]);
  }
  PetscFunctionReturn(0);
}

/* Runs a call that must fail with error class `code` (no message printed). */
#define EXPECT_ERROR(code, call) \
  do { \
    PetscErrorCode ierr_; \
    PetscCall(PetscPushErrorHandler(PetscIgnoreErrorHandler, NULL)); \
    ierr_ = (call); \
    PetscCall(PetscPopErrorHandler()); \
    CHECK(ierr_ == (code), "%s returned error %d, expected %d", #call, (int)ierr_, (int)(code)); \
  } while (0)

static PetscErrorCode ReadModel(const char text[], QepModel *m)
{
  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, m));
  PetscCall(QepModelReadString(*m, "test", text));
  PetscFunctionReturn(0);
}

/* 2 inputs, 1 output; 1 input, 1 output (for the generators and the 1-wide HDF5 layout). */
static const char parity_model[] = "param a 0.5\na Z0 Z1\nx0 Z0\nx1 Z1\n-1 X0\n-1 X1\n-1 X2\n0.3 Z1 Z2\noutput y 1.0 Z2\n";
static const char phase_model[]  = "for i in 0..2 : -1 Z{i} Z{i+1}\nfor i in 0..3 : -1*x0 X{i}\noutput order 0.25 Z0 Z1\n";

/* ---------------------------------------------------------------- direct data --------------------- */

static PetscErrorCode TestSetData(void)
{
  QepDataset       ds;
  const PetscReal  x[6] = {1, 2, 3, 4, 5, 6}, y[3] = {-1, 0, 1};
  const PetscReal *xe, *ye;

  PetscFunctionBegin;
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetSetData(ds, 3, 2, 1, x, y));
  PetscCall(ExpectData(ds, 3, 2, 1, x, y, "SetData"));
  PetscCall(QepDatasetGetExample(ds, 2, &xe, &ye));
  CHECK(xe[0] == 5 && xe[1] == 6 && ye[0] == 1, "GetExample(2) is (%g, %g; %g)", (double)xe[0], (double)xe[1], (double)ye[0]);
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetGetExample(ds, 3, &xe, &ye));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetGetExample(ds, -1, &xe, &ye));
  PetscCall(QepDatasetSetData(ds, 1, 1, 1, x, y)); /* replaces the previous contents */
  PetscCall(ExpectData(ds, 1, 1, 1, x, y, "SetData again"));
  PetscCall(QepDatasetDestroy(&ds));
  CHECK(ds == NULL, "Destroy did not clear the handle");
  PetscCall(QepDatasetDestroy(&ds)); /* no-op */
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- CSV reading ------------------- */

/* tests/data/ds_good.csv, written by hand: columns x0, x1, m, zz among ignored ones. */
static PetscErrorCode TestGoodCSV(const char dir[], QepModel model)
{
  QepDataset      ds;
  char            path[PETSC_MAX_PATH_LEN];
  const PetscReal x[6] = {2, -1.5, -0.0, 300, 0.1, 0.125}, y[6] = {0.125, 0.25, 1, -1e-3, -2.5, 7};

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_good.csv", dir));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetLoad(ds, path, model));
  PetscCall(ExpectData(ds, 3, 2, 2, x, y, "ds_good.csv"));
  PetscCall(QepDatasetDestroy(&ds));
  PetscFunctionReturn(0);
}

/* Windows line ends, a UTF-8 byte-order mark and no final newline. */
static PetscErrorCode TestCRLF(QepModel model, PetscMPIInt size)
{
  static const char text[] = "\xEF\xBB\xBFzz,m,x1,x0\r\n# comment\r\n\r\n1,2,3,4\r\n-5e-1,6,7,8";
  const PetscReal   x[4] = {4, 3, 8, 7}, y[4] = {2, 1, 6, -0.5};
  char              path[64];
  QepDataset        ds;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "ds_crlf_np%d.csv", (int)size));
  PetscCall(QepWriteFileAtomic(PETSC_COMM_WORLD, path, text, strlen(text)));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetLoad(ds, path, model));
  PetscCall(ExpectData(ds, 2, 2, 2, x, y, "CRLF file"));
  PetscCall(QepDatasetDestroy(&ds));
  PetscFunctionReturn(0);
}

/* Doubles that a careless printer would not reproduce: shortest forms, 17-digit ones, the extremes. */
static const PetscReal tricky[12] = {1.0 / 3.0, -0.0, 5e-324, DBL_MAX, -DBL_MIN, 0.1, 9007199254740993.0, -2.5e-310, 1e22, 123456789.123456789, -7, 2.0 / 3.0};

static PetscErrorCode TestCSVRoundTrip(QepModel model, PetscMPIInt size)
{
  QepDataset ds, back;
  char       path[64], header[64] = "";
  FILE      *f;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "ds_roundtrip_np%d.csv", (int)size));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetSetData(ds, 3, 2, 2, tricky, tricky + 6));
  PetscCall(QepDatasetWriteCSV(ds, path, model));
  f = fopen(path, "r"); /* the write is complete on every rank when WriteCSV returns */
  CHECK(f && fgets(header, sizeof(header), f), "cannot read back %s", path);
  fclose(f);
  CHECK(!strcmp(header, "x0,x1,m,zz\n"), "header of %s is '%s', expected 'x0,x1,m,zz'", path, header);
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &back));
  PetscCall(QepDatasetLoad(back, path, model));
  PetscCall(ExpectData(back, 3, 2, 2, tricky, tricky + 6, "CSV round trip"));
  PetscCall(QepDatasetDestroy(&back));
  PetscCall(QepDatasetSetData(ds, 3, 1, 2, tricky, tricky + 6)); /* shape does not match the model */
  EXPECT_ERROR(PETSC_ERR_ARG_INCOMP, QepDatasetWriteCSV(ds, path, model));
  PetscCall(QepDatasetDestroy(&ds));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- HDF5 ----------------------------- */

#if defined(TEST_HDF5)
/* Adds dataset `name` of the given shape (rank 1, 2 or 3) and memory type to an open file. */
static int WriteH5(hid_t file, const char name[], int rank, const hsize_t dims[], hid_t type, const void *data)
{
  hid_t space = H5Screate_simple(rank, dims, NULL), dset;
  int   bad;

  dset = H5Dcreate2(file, name, type == H5T_NATIVE_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bad  = dset < 0 || H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
  if (dset >= 0) H5Dclose(dset);
  H5Sclose(space);
  return bad;
}

/* Rank 0 writes path with inputs (rows_in x w_in, or a vector when w_in is 0) and targets likewise;
 * NULL data leaves the dataset out. Collective (barrier), errors collective. */
static PetscErrorCode MakeH5(const char path[], int rows_in, int w_in, const void *in, hid_t in_type, int rows_out, int w_out, const double *out)
{
  PetscMPIInt rank;
  int         bad = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (rank == 0) {
    hid_t   file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t din[2] = {(hsize_t)rows_in, (hsize_t)w_in}, dout[2] = {(hsize_t)rows_out, (hsize_t)w_out};
    bad = file < 0;
    if (!bad && in) bad = WriteH5(file, "inputs", w_in ? 2 : 1, din, in_type, in);
    if (!bad && out) bad = WriteH5(file, "targets", w_out ? 2 : 1, dout, H5T_NATIVE_DOUBLE, out);
    if (file >= 0) H5Fclose(file);
  }
  PetscCallMPI(MPI_Bcast(&bad, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  CHECK(!bad, "writing the HDF5 test file %s failed", path);
  PetscFunctionReturn(0);
}

static PetscErrorCode TestHDF5(QepModel model, PetscMPIInt size)
{
  QepModel        phase;
  QepDataset      ds;
  char            path[64];
  const int       ints[4] = {-3, 0, 7, 1000000};
  const PetscReal gammas[4] = {-3, 0, 7, 1000000};

  PetscFunctionBegin;
  /* N x 2 inputs and N x 2 targets of extreme doubles: exactly the same numbers back */
  PetscCall(PetscSNPrintf(path, sizeof(path), "ds_roundtrip_np%d.h5", (int)size));
  PetscCall(MakeH5(path, 3, 2, tricky, H5T_NATIVE_DOUBLE, 3, 2, tricky + 6));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetLoad(ds, path, model));
  PetscCall(ExpectData(ds, 3, 2, 2, tricky, tricky + 6, "HDF5 round trip"));
  /* a 1-input, 1-output model: integer inputs as a plain vector, targets N x 1; .hdf5 extension */
  PetscCall(PetscSNPrintf(path, sizeof(path), "ds_vector_np%d.HDF5", (int)size));
  PetscCall(MakeH5(path, 4, 0, ints, H5T_NATIVE_INT, 4, 1, tricky));
  PetscCall(ReadModel(phase_model, &phase));
  PetscCall(QepDatasetLoad(ds, path, phase));
  PetscCall(ExpectData(ds, 4, 1, 1, gammas, tricky, "HDF5 vector layout"));
  EXPECT_ERROR(PETSC_ERR_FILE_UNEXPECTED, QepDatasetLoad(ds, path, model)); /* 2-input model: wrong shape */
  PetscCall(ExpectData(ds, 4, 1, 1, gammas, tricky, "dataset after a failed load"));
  PetscCall(QepModelDestroy(&phase));
  PetscCall(QepDatasetDestroy(&ds));
  PetscFunctionReturn(0);
}

/* The malformed files of the error cases (model tests/data/ds_model.model: 2 inputs, 2 outputs). */
static PetscErrorCode MakeBadH5Files(const char dir[])
{
  char         path[PETSC_MAX_PATH_LEN];
  double       v[15], w[10];
  const double nan_value = NAN;

  PetscFunctionBegin;
  for (int i = 0; i < 15; i++) v[i] = 0.5 * i;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_wrongin.h5", dir));
  PetscCall(MakeH5(path, 5, 3, v, H5T_NATIVE_DOUBLE, 5, 2, v));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_wrongout.h5", dir));
  PetscCall(MakeH5(path, 5, 2, v, H5T_NATIVE_DOUBLE, 5, 1, v));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_rows.h5", dir));
  PetscCall(MakeH5(path, 5, 2, v, H5T_NATIVE_DOUBLE, 4, 2, v));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_missing.h5", dir));
  PetscCall(MakeH5(path, 5, 2, v, H5T_NATIVE_DOUBLE, 5, 2, NULL));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_vector.h5", dir)); /* a vector, but 2 inputs */
  PetscCall(MakeH5(path, 5, 0, v, H5T_NATIVE_DOUBLE, 5, 2, v));
  PetscCall(PetscArraycpy(w, v, 10));
  w[7] = nan_value; /* targets row 3, column 1 */
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_nan.h5", dir));
  PetscCall(MakeH5(path, 5, 2, v, H5T_NATIVE_DOUBLE, 5, 2, w));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_h5_text.h5", dir));
  PetscCall(QepWriteFileAtomic(PETSC_COMM_WORLD, path, "x0,x1,m,zz\n1,2,3,4\n", 19));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "wrote the malformed HDF5 files into %s\n", dir));
  PetscFunctionReturn(0);
}
#endif

/* ---------------------------------------------------------------- generators ------------------- */

/* Exact labels (noise 0), balance of the 4 bit patterns, determinism; then the jitter's statistics. */
static PetscErrorCode TestParity(uint64_t *checksum)
{
  const PetscInt   n = 4000;
  QepModel         model;
  QepDataset       ds, again;
  const PetscReal *x, *y;
  PetscInt         count[4] = {0, 0, 0, 0}, positive = 0, within1 = 0;
  PetscReal        sum = 0, sumsq = 0;

  PetscFunctionBegin;
  PetscCall(ReadModel(parity_model, &model));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetGenerate(ds, "parity", model, n, 42, 0.0));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(QepDatasetGetExample(ds, i, &x, &y));
    CHECK((x[0] == 1 || x[0] == -1) && (x[1] == 1 || x[1] == -1), "parity x[%" PetscInt_FMT "] = (%g, %g) without noise", i, (double)x[0], (double)x[1]);
    CHECK(y[0] == ((x[0] > 0) != (x[1] > 0) ? 1.0 : -1.0), "parity y[%" PetscInt_FMT "] = %g for x = (%g, %g)", i, (double)y[0], (double)x[0], (double)x[1]);
    count[(x[0] > 0) + 2 * (x[1] > 0)]++;
    positive += y[0] > 0;
  }
  for (int p = 0; p < 4; p++) CHECK(PetscAbsInt(count[p] - n / 4) < 120, "bit pattern %d occurs %" PetscInt_FMT " times in %" PetscInt_FMT, p, count[p], n); /* 4.4 sigma */
  CHECK(PetscAbsInt(positive - n / 2) < 140, "%" PetscInt_FMT " of %" PetscInt_FMT " parity labels are +1", positive, n);
  *checksum ^= Checksum(ds);
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &again));
  PetscCall(QepDatasetGenerate(again, "parity", model, n, 42, 0.0));
  CHECK(Checksum(again) == Checksum(ds), "parity: the same seed gave different data");
  PetscCall(QepDatasetGenerate(again, "parity", model, n, 43, 0.0));
  CHECK(Checksum(again) != Checksum(ds), "parity: seeds 42 and 43 gave the same data");

  PetscCall(QepDatasetGenerate(ds, "parity", model, n, 42, 0.1));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(QepDatasetGetExample(ds, i, &x, &y));
    CHECK(y[0] == (x[0] * x[1] < 0 ? 1.0 : -1.0), "noisy parity y[%" PetscInt_FMT "] = %g for x = (%g, %g)", i, (double)y[0], (double)x[0], (double)x[1]);
    for (int k = 0; k < 2; k++) {
      PetscReal z = (x[k] - (x[k] > 0 ? 1 : -1)) / 0.1; /* the standard normal draw */
      sum += z;
      sumsq += z * z;
      within1 += PetscAbsReal(z) < 1;
    }
  }
  sum /= 2 * n;
  sumsq = PetscSqrtReal(sumsq / (2 * n) - sum * sum);
  CHECK(PetscAbsReal(sum) < 0.05 && PetscAbsReal(sumsq - 1) < 0.05, "parity jitter: mean %g and deviation %g of the N(0,1) draws", (double)sum, (double)sumsq); /* 4.5 and 6 sigma */
  CHECK(PetscAbsReal(within1 / (2.0 * n) - 0.6827) < 0.021, "parity jitter: %.4f of the draws within one sigma, expected 0.6827", within1 / (2.0 * n));
  *checksum ^= 3 * Checksum(ds);
  PetscCall(QepDatasetDestroy(&again));
  PetscCall(QepDatasetDestroy(&ds));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

/* Gamma in [0.2, 1.8), target 1 exactly when Gamma < 1, both phases about equally likely. */
static PetscErrorCode TestPhase(uint64_t *checksum)
{
  const PetscInt   n = 4000;
  QepModel         model;
  QepDataset       ds;
  const PetscReal *x, *y;
  PetscInt         ordered = 0;
  PetscReal        mean = 0;

  PetscFunctionBegin;
  PetscCall(ReadModel(phase_model, &model));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetGenerate(ds, "phase", model, n, 7, 0.0));
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(QepDatasetGetExample(ds, i, &x, &y));
    CHECK(x[0] >= 0.2 && x[0] < 1.8, "phase Gamma[%" PetscInt_FMT "] = %g outside [0.2, 1.8)", i, (double)x[0]);
    CHECK(y[0] == (x[0] < 1 ? 1.0 : 0.0), "phase target %g for Gamma = %g", (double)y[0], (double)x[0]);
    ordered += y[0] == 1.0;
    mean += x[0] / n;
  }
  CHECK(PetscAbsInt(ordered - n / 2) < 140, "%" PetscInt_FMT " of %" PetscInt_FMT " examples in the ordered phase", ordered, n);
  CHECK(PetscAbsReal(mean - 1.0) < 0.04, "mean Gamma %g, expected 1", (double)mean); /* sd 0.0073 */
  *checksum ^= 5 * Checksum(ds);
  PetscCall(QepDatasetDestroy(&ds));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestGenerateErrors(QepModel two_outputs)
{
  QepModel   parity, phase;
  QepDataset ds;

  PetscFunctionBegin;
  PetscCall(ReadModel(parity_model, &parity));
  PetscCall(ReadModel(phase_model, &phase));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  EXPECT_ERROR(PETSC_ERR_USER_INPUT, QepDatasetGenerate(ds, "xor", parity, 10, 1, 0.0));
  EXPECT_ERROR(PETSC_ERR_USER_INPUT, QepDatasetGenerate(ds, "parity", phase, 10, 1, 0.0));
  EXPECT_ERROR(PETSC_ERR_USER_INPUT, QepDatasetGenerate(ds, "phase", parity, 10, 1, 0.0));
  EXPECT_ERROR(PETSC_ERR_USER_INPUT, QepDatasetGenerate(ds, "parity", two_outputs, 10, 1, 0.0));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetGenerate(ds, "parity", parity, 0, 1, 0.0));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetGenerate(ds, "parity", parity, 10, 1, -0.1));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetGenerate(ds, "parity", parity, 10, 1, (PetscReal)NAN));
  PetscCall(QepDatasetDestroy(&ds));
  PetscCall(QepModelDestroy(&parity));
  PetscCall(QepModelDestroy(&phase));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- split -------------------------- */

/* Example i of a 10-example set is x = (i, -i), y = (i, 2i): every row says which one it is. */
static PetscErrorCode CheckSubset(QepDataset part, PetscInt expect_n, PetscBool seen[], PetscInt order[])
{
  PetscInt         n;
  const PetscReal *x, *y;

  PetscFunctionBegin;
  PetscCall(QepDatasetGetSizes(part, &n, NULL, NULL));
  CHECK(n == expect_n, "split part has %" PetscInt_FMT " examples, expected %" PetscInt_FMT, n, expect_n);
  for (PetscInt i = 0; i < n; i++) {
    PetscInt id;
    PetscCall(QepDatasetGetExample(part, i, &x, &y));
    id = (PetscInt)x[0];
    CHECK(id >= 0 && id < 10 && x[1] == -id && y[0] == id && y[1] == 2 * id, "split row %" PetscInt_FMT " is not an intact example", i);
    CHECK(!seen[id], "example %" PetscInt_FMT " is in the split twice", id);
    seen[id] = PETSC_TRUE;
    order[i] = id;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SplitOrder(QepDataset ds, PetscReal fraction, PetscInt64 seed, PetscInt ntest, PetscInt order[10])
{
  QepDataset train, test;
  PetscBool  seen[10] = {PETSC_FALSE};

  PetscFunctionBegin;
  PetscCall(QepDatasetSplit(ds, fraction, seed, &train, &test));
  PetscCall(CheckSubset(test, ntest, seen, order));
  PetscCall(CheckSubset(train, 10 - ntest, seen, order + ntest));
  for (int id = 0; id < 10; id++) CHECK(seen[id], "example %d is in neither part of the split", id);
  PetscCall(QepDatasetDestroy(&train));
  PetscCall(QepDatasetDestroy(&test));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestSplit(uint64_t *checksum)
{
  QepDataset ds, train, test;
  PetscReal  x[20], y[20];
  PetscInt   a[10], b[10], first[4] = {0, 0, 0, 0};
  const int  nseeds = 4000;

  PetscFunctionBegin;
  for (int i = 0; i < 10; i++) {
    x[2 * i] = i, x[2 * i + 1] = -i;
    y[2 * i] = i, y[2 * i + 1] = 2 * i;
  }
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetSetData(ds, 10, 2, 2, x, y));
  PetscCall(SplitOrder(ds, 0.3, 7, 3, a));
  PetscCall(SplitOrder(ds, 0.3, 7, 3, b));
  CHECK(!memcmp(a, b, sizeof(a)), "the same seed gave different splits");
  for (int i = 0; i < 10; i++) *checksum = (*checksum ^ (uint64_t)a[i]) * 1099511628211ULL;
  PetscCall(SplitOrder(ds, 0.3, 8, 3, b));
  CHECK(memcmp(a, b, sizeof(a)), "seeds 7 and 8 gave the same split");
  PetscCall(SplitOrder(ds, 0.25, 7, 3, b)); /* round(2.5) = 3 */
  PetscCall(SplitOrder(ds, 0.24, 7, 2, b));
  PetscCall(SplitOrder(ds, 0.0, 7, 0, b));
  PetscCall(SplitOrder(ds, 0.9, 7, 9, b));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetSplit(ds, 1.0, 7, &train, &test));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetSplit(ds, -0.1, 7, &train, &test));
  EXPECT_ERROR(PETSC_ERR_ARG_OUTOFRANGE, QepDatasetSplit(ds, 0.96, 7, &train, &test)); /* 10 of 10 */

  /* uniformity: with 4 examples and one test example, each is the test example for 1/4 of the seeds */
  PetscCall(QepDatasetSetData(ds, 4, 2, 2, x, y));
  for (int seed = 0; seed < nseeds; seed++) {
    const PetscReal *xt;
    PetscCall(QepDatasetSplit(ds, 0.25, seed, &train, &test));
    PetscCall(QepDatasetGetExample(test, 0, &xt, NULL));
    first[(int)xt[0]]++;
    PetscCall(QepDatasetDestroy(&train));
    PetscCall(QepDatasetDestroy(&test));
  }
  for (int k = 0; k < 4; k++) CHECK(PetscAbsInt(first[k] - nseeds / 4) < 120, "example %d is the test example for %" PetscInt_FMT " of %d seeds", k, first[k], nseeds);
  PetscCall(QepDatasetDestroy(&ds));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- modes ------------------------- */

static PetscErrorCode LoadAndPrint(const char file[], const char model_file[])
{
  QepModel   model;
  QepDataset ds;
  PetscInt   n, ni, no;

  PetscFunctionBegin;
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &model));
  PetscCall(QepModelReadFile(model, model_file));
  PetscCall(QepDatasetCreate(PETSC_COMM_WORLD, &ds));
  PetscCall(QepDatasetLoad(ds, file, model));
  PetscCall(QepDatasetGetSizes(ds, &n, &ni, &no));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "examples %" PetscInt_FMT " inputs %" PetscInt_FMT " targets %" PetscInt_FMT "\n", n, ni, no));
  PetscCall(QepDatasetDestroy(&ds));
  PetscCall(QepModelDestroy(&model));
  PetscFunctionReturn(0);
}

/* The checksum of the generated data and split order must be this at every rank count (the value
 * of the 1-rank run; any change to the generators' recipes changes it and must be deliberate). */
#define EXPECTED_CHECKSUM 0xc84426f41e844a07ULL

static PetscErrorCode RunAll(const char dir[])
{
  QepModel    model;
  PetscMPIInt size;
  char        path[PETSC_MAX_PATH_LEN];
  uint64_t    checksum = 0, lo, hi;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/ds_model.model", dir));
  PetscCall(QepModelCreate(PETSC_COMM_WORLD, &model));
  PetscCall(QepModelReadFile(model, path));
  PetscCall(TestSetData());
  PetscCall(TestGoodCSV(dir, model));
  PetscCall(TestCRLF(model, size));
  PetscCall(TestCSVRoundTrip(model, size));
#if defined(TEST_HDF5)
  PetscCall(TestHDF5(model, size));
#endif
  PetscCall(TestParity(&checksum));
  PetscCall(TestPhase(&checksum));
  PetscCall(TestGenerateErrors(model));
  PetscCall(TestSplit(&checksum));
  PetscCallMPI(MPI_Allreduce(&checksum, &lo, 1, MPI_UINT64_T, MPI_MIN, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(&checksum, &hi, 1, MPI_UINT64_T, MPI_MAX, PETSC_COMM_WORLD));
  CHECK(lo == hi, "ranks generated different data (checksums %#llx .. %#llx)", (unsigned long long)lo, (unsigned long long)hi);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "generator and split checksum %#llx\n", (unsigned long long)checksum));
  CHECK(checksum == EXPECTED_CHECKSUM, "checksum %#llx differs from the reference %#llx", (unsigned long long)checksum, (unsigned long long)EXPECTED_CHECKSUM);
  PetscCall(QepModelDestroy(&model));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "dataset tests passed on %d rank(s)\n", (int)size));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char      dir[PETSC_MAX_PATH_LEN] = ".", file[PETSC_MAX_PATH_LEN], model_file[PETSC_MAX_PATH_LEN], h5dir[PETSC_MAX_PATH_LEN];
  PetscBool load, has_model, make_h5;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "QepDataset tests; -load FILE -model_file MODEL; -make_h5 DIR"));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-data_dir", dir, sizeof(dir), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-load", file, sizeof(file), &load));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-model_file", model_file, sizeof(model_file), &has_model));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-make_h5", h5dir, sizeof(h5dir), &make_h5));
  if (load) {
    PetscCheck(has_model, PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-load needs -model_file MODEL");
    PetscCall(LoadAndPrint(file, model_file));
  } else if (make_h5) {
#if defined(TEST_HDF5)
    PetscCall(MakeBadH5Files(h5dir));
#else
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_SUP, "built without HDF5");
#endif
  } else PetscCall(RunAll(dir));
  PetscCall(SlepcFinalize());
  return 0;
}
