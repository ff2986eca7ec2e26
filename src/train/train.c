/* train.c — QepTrainer: the data-parallel QEP training loop with checkpoints.
 * Invariants: every rank holds the same parameters, optimizer state and step counter; every rank
 * computes the same assignment of a batch's examples to groups (balanced, and sticky so that an
 * example returns to the group holding its warm start), each group's rank 0 writes its examples'
 * gradient rows into a zeroed batch table, and one MPI_Allreduce assembles the table exactly (adding
 * zeros is exact), so the summed gradient does not depend on G. The epoch's shuffle is a function of
 * (seed, epoch) only, so a restart from a checkpoint replays the same batches. */
#include "qepimpl.h"
#include <qep/qho.h>
#include <errno.h>
#include <stdarg.h>

#define QEP_CHECKPOINT_MAGIC "# qep checkpoint v1"

struct _p_QepTrainer {
  MPI_Comm    world, group;
  PetscMPIInt wrank, wsize, grank;
  PetscInt    ngroups, mygroup;

  QepModel     model; /* spin model (NULL when training an oscillator network) */
  QepGradient  grad;
  QepQho         qho; /* oscillator network (-qep_model qho) */
  QepQhoGradient qgrad;
  QepOptimizer opt;
  QepDataset   train, test;
  PetscInt     nparams, noutputs, ntrain, ntest;

  PetscInt   steps, epochs, batch, eval_every, checkpoint_every, data_size, abort_at;
  PetscInt64 seed;
  PetscReal  test_fraction, noise;
  PetscBool  monitor, has_checkpoint, has_restart, has_json;
  char       train_path[PETSC_MAX_PATH_LEN], test_path[PETSC_MAX_PATH_LEN], task[64];
  char       checkpoint[PETSC_MAX_PATH_LEN], restart[PETSC_MAX_PATH_LEN], log[PETSC_MAX_PATH_LEN], json[PETSC_MAX_PATH_LEN];

  PetscInt       step, start_step, perm_epoch; /* start_step: where this run began (restart) */
  PetscInt      *perm;
  PetscInt      *lastgroup, *owner, *room; /* [ntrain] group that last solved each example; [batch] group of each position; [groups] */
  PetscReal     *theta, *gmean, *rows;
  PetscBool      classification;
  PetscReal      threshold; /* single-output classification: positive when ⟨O⟩ > threshold */
  QepTrainResult result;
  PetscLogDouble t0;
};

PetscErrorCode QepTrainerCreate(MPI_Comm comm, QepTrainer *trainer)
{
  QepTrainer t;

  PetscFunctionBegin;
  PetscCall(QepInitializePackage());
  PetscCall(PetscNew(&t));
  t->world            = comm;
  t->ngroups          = 1;
  t->steps            = 100;
  t->batch            = 8;
  t->eval_every       = 10;
  t->checkpoint_every = 50;
  t->seed             = 1;
  t->test_fraction    = 0.25;
  t->data_size        = 64;
  t->perm_epoch       = -1;
  t->result.test_loss = t->result.test_accuracy = -1;
  PetscCall(PetscStrncpy(t->log, "train_log.csv", sizeof(t->log)));
  PetscCallMPI(MPI_Comm_rank(comm, &t->wrank));
  PetscCallMPI(MPI_Comm_size(comm, &t->wsize));
  *trainer = t;
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerDestroy(QepTrainer *trainer)
{
  QepTrainer t = *trainer;

  PetscFunctionBegin;
  if (!t) PetscFunctionReturn(0);
  PetscCall(QepGradientDestroy(&t->grad));
  PetscCall(QepQhoGradientDestroy(&t->qgrad));
  PetscCall(QepQhoDestroy(&t->qho));
  PetscCall(QepOptimizerDestroy(&t->opt));
  PetscCall(QepDatasetDestroy(&t->train));
  PetscCall(QepDatasetDestroy(&t->test));
  PetscCall(QepModelDestroy(&t->model));
  PetscCall(PetscFree4(t->perm, t->theta, t->gmean, t->rows));
  PetscCall(PetscFree3(t->lastgroup, t->owner, t->room));
  if (t->group != MPI_COMM_NULL && t->group) PetscCallMPI(MPI_Comm_free(&t->group));
  PetscCall(PetscFree(*trainer));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadOptions(QepTrainer t)
{
  PetscBool has_steps, has_epochs, has_train, has_test, has_task;

  PetscFunctionBegin;
  PetscOptionsBegin(t->world, NULL, "QEP training options", "QepTrainer");
  PetscCall(PetscOptionsString("-qep_train_data", "Training data: CSV (header x0,... and output names) or HDF5 (inputs, targets)", "QepDatasetLoad", t->train_path, t->train_path,
                               sizeof(t->train_path), &has_train));
  PetscCall(PetscOptionsString("-qep_test_data", "Test data (same format); without it a seeded share of the training data is held out", "QepDatasetLoad", t->test_path,
                               t->test_path, sizeof(t->test_path), &has_test));
  PetscCall(PetscOptionsString("-qep_task", "Built-in data instead of files: parity or phase", "QepDatasetGenerate", t->task, t->task, sizeof(t->task), &has_task));
  PetscCall(PetscOptionsInt("-qep_data_size", "Examples generated for -qep_task (before the split)", NULL, t->data_size, &t->data_size, NULL));
  PetscCall(PetscOptionsReal("-qep_data_noise", "Input jitter of the generated parity task", NULL, t->noise, &t->noise, NULL));
  PetscCall(PetscOptionsReal("-qep_test_fraction", "Share held out for testing when no -qep_test_data is given", "QepDatasetSplit", t->test_fraction, &t->test_fraction, NULL));
  PetscCall(PetscOptionsInt("-qep_steps", "Optimizer steps", NULL, t->steps, &t->steps, &has_steps));
  PetscCall(PetscOptionsInt("-qep_epochs", "Epochs (passes over the training data) instead of -qep_steps", NULL, t->epochs, &t->epochs, &has_epochs));
  PetscCall(PetscOptionsInt("-qep_batch", "Examples per optimizer step", NULL, t->batch, &t->batch, NULL));
  {
    PetscInt seed = (PetscInt)t->seed;
    PetscCall(PetscOptionsInt("-qep_seed", "Seed of data generation, split and shuffling", NULL, seed, &seed, NULL));
    t->seed = seed;
  }
  PetscCall(PetscOptionsInt("-qep_eval_every", "Evaluate on the test set every K steps (and at the end)", NULL, t->eval_every, &t->eval_every, NULL));
  PetscCall(PetscOptionsBool("-qep_train_monitor", "Print a progress line at every evaluation", NULL, t->monitor, &t->monitor, NULL));
  PetscCall(PetscOptionsString("-qep_train_log", "CSV log with one line per step", NULL, t->log, t->log, sizeof(t->log), NULL));
  PetscCall(PetscOptionsString("-qep_checkpoint", "Checkpoint file (written atomically)", NULL, t->checkpoint, t->checkpoint, sizeof(t->checkpoint), &t->has_checkpoint));
  PetscCall(PetscOptionsInt("-qep_checkpoint_every", "Write the checkpoint every K steps (and at the end)", NULL, t->checkpoint_every, &t->checkpoint_every, NULL));
  PetscCall(PetscOptionsString("-qep_restart", "Resume from this checkpoint", NULL, t->restart, t->restart, sizeof(t->restart), &t->has_restart));
  PetscCall(PetscOptionsInt("-qep_train_abort_at", "Testing: abort the job right after step K, as if it were killed", NULL, t->abort_at, &t->abort_at, NULL));
  PetscCall(PetscOptionsInt("-qep_groups", "Data-parallel groups (the world's ranks split in G equal blocks)", NULL, t->ngroups, &t->ngroups, NULL));
  PetscCall(PetscOptionsString("-qep_json", "JSON summary at the end", "QepTrainerWriteJSON", t->json, t->json, sizeof(t->json), &t->has_json));
  PetscOptionsEnd();
  PetscCheck(has_train || has_task, t->world, PETSC_ERR_USER_INPUT, "No training data: give -qep_train_data FILE (CSV or HDF5) or a built-in task -qep_task parity|phase");
  PetscCheck(!(has_train && has_task), t->world, PETSC_ERR_USER_INPUT, "Give either -qep_train_data or -qep_task, not both");
  PetscCheck(!(has_steps && has_epochs), t->world, PETSC_ERR_USER_INPUT, "Give either -qep_steps or -qep_epochs, not both");
  PetscCheck(has_epochs ? t->epochs > 0 : t->steps > 0, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_steps / -qep_epochs must be positive");
  if (!has_epochs) t->epochs = 0;
  PetscCheck(t->batch > 0, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_batch must be positive, got %" PetscInt_FMT, t->batch);
  PetscCheck(t->eval_every > 0, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_eval_every must be positive");
  PetscCheck(t->checkpoint_every > 0, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_checkpoint_every must be positive");
  PetscCheck(t->test_fraction >= 0 && t->test_fraction < 1, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_test_fraction must lie in [0,1), got %g", (double)t->test_fraction);
  PetscCheck(t->ngroups >= 1 && t->ngroups <= t->wsize && t->wsize % t->ngroups == 0, t->world, PETSC_ERR_ARG_OUTOFRANGE,
             "-qep_groups %" PetscInt_FMT " must divide the %d ranks into equal groups (1 <= G <= ranks, ranks %% G == 0)", t->ngroups, (int)t->wsize);
  PetscCheck(!has_test || has_train, t->world, PETSC_ERR_USER_INPUT, "-qep_test_data needs -qep_train_data");
  if (has_test) t->test_fraction = 0;
  PetscFunctionReturn(0);
}

/* Contiguous blocks of wsize/G ranks: group g = ranks [g*wsize/G, (g+1)*wsize/G). */
static PetscErrorCode SplitGroups(QepTrainer t)
{
  PetscMPIInt per = (PetscMPIInt)(t->wsize / t->ngroups);

  PetscFunctionBegin;
  t->mygroup = t->wrank / per;
  PetscCallMPI(MPI_Comm_split(t->world, (PetscMPIInt)t->mygroup, t->wrank, &t->group));
  PetscCallMPI(MPI_Comm_rank(t->group, &t->grank));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------------------------------------------
 * The trained system: a spin model with its QepGradient, or an oscillator network with its
 * QepQhoGradient. Everything below the next section talks to it through these few functions.
 * ------------------------------------------------------------------------------------------------ */

static PetscErrorCode CreateSystem(QepTrainer t)
{
  char      type[64] = "";
  PetscBool qho;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-qep_model", type, sizeof(type), NULL));
  PetscCall(PetscStrcmp(type, "qho", &qho));
  if (qho) {
    PetscCall(QepQhoCreate(t->group, &t->qho));
    PetscCall(QepQhoSetFromOptions(t->qho));
    PetscCall(QepQhoGetSizes(t->qho, NULL, &t->nparams, NULL, &t->noutputs));
  } else {
    PetscCall(QepModelCreate(t->group, &t->model));
    PetscCall(QepModelSetFromOptions(t->model));
    PetscCall(QepModelGetNumParameters(t->model, &t->nparams));
    PetscCall(QepModelGetNumOutputs(t->model, &t->noutputs));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode CreateSystemGradient(QepTrainer t)
{
  PetscFunctionBegin;
  if (t->qho) {
    PetscCall(QepQhoGradientCreate(t->qho, &t->qgrad));
    PetscCall(QepQhoGradientSetFromOptions(t->qgrad));
  } else {
    PetscCall(QepGradientCreate(t->model, &t->grad));
    PetscCall(QepGradientSetFromOptions(t->grad));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SystemGetParameters(QepTrainer t, PetscReal theta[])
{
  PetscFunctionBegin;
  if (t->qho) PetscCall(QepQhoGetParameters(t->qho, theta));
  else PetscCall(QepModelGetParameters(t->model, theta));
  PetscFunctionReturn(0);
}

static PetscErrorCode SystemSetParameters(QepTrainer t, const PetscReal theta[])
{
  PetscFunctionBegin;
  if (t->qho) PetscCall(QepQhoSetParameters(t->qho, theta));
  else PetscCall(QepModelSetParameters(t->model, theta));
  PetscFunctionReturn(0);
}

static PetscErrorCode SystemParameterName(QepTrainer t, PetscInt k, const char **name)
{
  PetscFunctionBegin;
  if (t->qho) PetscCall(QepQhoGetParameterName(t->qho, k, name));
  else PetscCall(QepModelGetParameterName(t->model, k, name));
  PetscFunctionReturn(0);
}

/* Loss and QEP gradient of training example `example` at step `step`. */
static PetscErrorCode SystemGradient(QepTrainer t, PetscInt step, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal g[])
{
  PetscFunctionBegin;
  if (t->qho) PetscCall(QepQhoGradientCompute(t->qgrad, example, x, y, loss, g));
  else {
    /* shot mode: the shots of (step, example) are the same for any grouping, rank count or restart */
    PetscCall(QepGradientSetShotStream(t->grad, (PetscInt64)step * t->ntrain + example));
    PetscCall(QepGradientCompute(t->grad, example, x, y, loss, g));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode SystemLoss(QepTrainer t, PetscInt example, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal out[])
{
  PetscFunctionBegin;
  if (t->qho) PetscCall(QepQhoGradientComputeLoss(t->qgrad, example, x, y, loss, out));
  else PetscCall(QepGradientComputeLoss(t->grad, example, x, y, loss, out));
  PetscFunctionReturn(0);
}

/* Work done by this group so far: operator applications (spin) or ground-state solves (oscillators). */
static PetscErrorCode SystemWork(QepTrainer t, PetscLogDouble *work)
{
  PetscFunctionBegin;
  if (t->qho) {
    QepQhoGradientStats st;
    PetscCall(QepQhoGradientGetStats(t->qgrad, &st));
    *work = (PetscLogDouble)st.free_solves + (PetscLogDouble)st.nudged_solves;
  } else {
    QepGradientStats st;
    PetscCall(QepGradientGetStats(t->grad, &st));
    *work = (PetscLogDouble)st.free_matvecs + (PetscLogDouble)st.nudged_matvecs;
  }
  PetscFunctionReturn(0);
}

/* Input count and output names of the oscillator network, for its dataset columns. */
static PetscErrorCode QhoColumns(QepTrainer t, QepDatasetColumns *cols)
{
  const char **names;

  PetscFunctionBegin;
  PetscCall(QepQhoGetSizes(t->qho, NULL, NULL, &cols->ninputs, &cols->noutputs));
  PetscCall(PetscMalloc1(cols->noutputs + 1, &names));
  for (PetscInt o = 0; o < cols->noutputs; o++) PetscCall(QepQhoGetOutputName(t->qho, o, &names[o]));
  cols->outputs = names;
  PetscFunctionReturn(0);
}

#define QEP_STREAM_TEACHER_PARAMS 21
#define QEP_STREAM_TEACHER_INPUTS 22

/* The oscillator regression task "teacher": a teacher network of the same architecture with every
 * parameter scaled by a factor uniform in [1 - s, 1 + s] (s = -qep_teacher_spread, default 0.5)
 * maps inputs uniform in [-1, 1] to targets y_o = ⟨x_o⟩ of its ground state (the positions the
 * student must reproduce); n examples from seed. */
static PetscErrorCode GenerateTeacherTask(QepTrainer t, QepDataset ds)
{
  PetscInt   nin, nout;
  PetscReal *theta, *teacher, *x, *y, *zero, loss, spread = 0.5;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-qep_teacher_spread", &spread, NULL));
  PetscCheck(spread >= 0 && spread < 1, t->world, PETSC_ERR_ARG_OUTOFRANGE, "-qep_teacher_spread must lie in [0, 1); got %g", (double)spread);
  PetscCall(QepQhoGetSizes(t->qho, NULL, NULL, &nin, &nout));
  PetscCheck(nin > 0 && nout > 0, t->world, PETSC_ERR_USER_INPUT,
             "Task 'teacher' needs an oscillator network with input forces and outputs (e.g. -qep_qho_inputs 0,1 -qep_qho_outputs 5); this one has %" PetscInt_FMT
             " inputs and %" PetscInt_FMT " outputs",
             nin, nout);
  PetscCall(PetscMalloc5(t->nparams, &theta, t->nparams, &teacher, t->data_size * nin, &x, t->data_size * nout, &y, nout, &zero));
  PetscCall(PetscArrayzero(zero, nout));
  PetscCall(QepQhoGetParameters(t->qho, theta));
  for (PetscInt k = 0; k < t->nparams; k++) teacher[k] = theta[k] * (1 + spread * (2 * QepRandomUniform(t->seed, QEP_STREAM_TEACHER_PARAMS, k) - 1));
  for (PetscInt i = 0; i < t->data_size * nin; i++) x[i] = 2 * QepRandomUniform(t->seed, QEP_STREAM_TEACHER_INPUTS, i) - 1;
  PetscCall(QepQhoSetParameters(t->qho, teacher));
  for (PetscInt i = 0; i < t->data_size; i++) PetscCall(QepQhoGradientComputeLoss(t->qgrad, -1, x + i * nin, zero, &loss, y + i * nout)); /* y = ⟨x_o⟩ */
  PetscCall(QepQhoSetParameters(t->qho, theta));
  PetscCall(QepDatasetSetData(ds, t->data_size, nin, nout, x, y));
  PetscCall(PetscFree5(theta, teacher, x, y, zero));
  PetscFunctionReturn(0);
}

static PetscErrorCode LoadSystemData(QepTrainer t, QepDataset ds, const char path[])
{
  PetscFunctionBegin;
  if (t->qho) {
    QepDatasetColumns cols;
    PetscErrorCode    ierr;
    PetscCall(QhoColumns(t, &cols));
    ierr = QepDatasetLoadColumns(ds, path, &cols);
    PetscCall(PetscFree(cols.outputs));
    PetscCall(ierr);
  } else PetscCall(QepDatasetLoad(ds, path, t->model));
  PetscFunctionReturn(0);
}

static PetscErrorCode GenerateSystemData(QepTrainer t, QepDataset ds)
{
  PetscBool teacher;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(t->task, "teacher", &teacher));
  if (t->qho) {
    PetscCheck(teacher, t->world, PETSC_ERR_USER_INPUT, "Unknown task '%s' for an oscillator network; the built-in oscillator task is: teacher", t->task);
    PetscCall(GenerateTeacherTask(t, ds));
  } else PetscCall(QepDatasetGenerate(ds, t->task, t->model, t->data_size, t->seed, t->noise));
  PetscFunctionReturn(0);
}

static PetscErrorCode LoadData(QepTrainer t)
{
  QepDataset all;

  PetscFunctionBegin;
  PetscCall(QepDatasetCreate(t->world, &all));
  if (t->task[0]) PetscCall(GenerateSystemData(t, all));
  else PetscCall(LoadSystemData(t, all, t->train_path));
  if (t->test_path[0]) {
    t->train = all;
    PetscCall(QepDatasetCreate(t->world, &t->test));
    PetscCall(LoadSystemData(t, t->test, t->test_path));
  } else {
    PetscCall(QepDatasetSplit(all, t->test_fraction, t->seed, &t->train, &t->test));
    PetscCall(QepDatasetDestroy(&all));
  }
  PetscCall(QepDatasetGetSizes(t->train, &t->ntrain, NULL, NULL));
  PetscCall(QepDatasetGetSizes(t->test, &t->ntest, NULL, NULL));
  PetscCheck(t->ntrain > 0, t->world, PETSC_ERR_USER_INPUT, "The training set is empty");
  PetscFunctionReturn(0);
}

/* Classification when every target takes one of two values (single output: threshold between
 * them) or is one-hot (several outputs: argmax). */
static PetscErrorCode DetectClassification(QepTrainer t)
{
  PetscReal lo = PETSC_MAX_REAL, hi = PETSC_MIN_REAL;
  PetscBool two = PETSC_TRUE;

  PetscFunctionBegin;
  t->classification = PETSC_FALSE;
  if (t->noutputs == 1) {
    for (PetscInt i = 0; i < t->ntrain; i++) {
      const PetscReal *x, *y;
      PetscCall(QepDatasetGetExample(t->train, i, &x, &y));
      lo = PetscMin(lo, y[0]);
      hi = PetscMax(hi, y[0]);
    }
    for (PetscInt i = 0; i < t->ntrain && two; i++) {
      const PetscReal *x, *y;
      PetscCall(QepDatasetGetExample(t->train, i, &x, &y));
      if (y[0] != lo && y[0] != hi) two = PETSC_FALSE;
    }
    t->classification = (two && hi > lo) ? PETSC_TRUE : PETSC_FALSE;
    t->threshold      = 0.5 * (lo + hi);
  } else if (t->noutputs > 1) {
    t->classification = PETSC_TRUE;
    for (PetscInt i = 0; i < t->ntrain && t->classification; i++) {
      const PetscReal *x, *y;
      PetscInt         ones = 0;
      PetscCall(QepDatasetGetExample(t->train, i, &x, &y));
      for (PetscInt o = 0; o < t->noutputs; o++) {
        if (y[o] == 1) ones++;
        else if (y[o] != 0 && y[o] != -1) t->classification = PETSC_FALSE;
      }
      if (ones != 1) t->classification = PETSC_FALSE;
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerSetFromOptions(QepTrainer t)
{
  PetscInt steps_per_epoch;

  PetscFunctionBegin;
  PetscCall(ReadOptions(t));
  PetscCall(SplitGroups(t));
  PetscCall(CreateSystem(t));
  PetscCall(CreateSystemGradient(t)); /* before the data: the oscillator teacher task solves with it */
  PetscCheck(t->nparams > 0, t->world, PETSC_ERR_USER_INPUT, "The model has no trainable parameters");
  PetscCall(LoadData(t));
  PetscCall(DetectClassification(t));
  PetscCall(QepOptimizerCreate(t->world, t->nparams, &t->opt));
  steps_per_epoch = (t->ntrain + t->batch - 1) / t->batch;
  if (t->epochs) t->steps = t->epochs * steps_per_epoch;
  PetscCall(QepOptimizerSetHorizon(t->opt, t->steps));
  PetscCall(QepOptimizerSetFromOptions(t->opt));
  PetscCall(PetscMalloc4(t->ntrain, &t->perm, t->nparams, &t->theta, t->nparams, &t->gmean, (t->batch) * (t->nparams + 1), &t->rows));
  PetscCall(PetscMalloc3(t->ntrain, &t->lastgroup, t->batch, &t->owner, t->ngroups, &t->room));
  for (PetscInt i = 0; i < t->ntrain; i++) t->lastgroup[i] = i % t->ngroups;
  PetscCall(SystemGetParameters(t, t->theta));
  PetscFunctionReturn(0);
}

/* Epoch e's order: indices sorted by the key QepRandomUniform(seed, 11, e*N + i) (Fisher–Yates
 * would need sequential draws; a key sort is a pure function of (seed, e)). */
typedef struct {
  double   key;
  PetscInt i;
} ShuffleKey;

static int CompareShuffleKey(const void *a, const void *b)
{
  const ShuffleKey *p = (const ShuffleKey *)a, *q = (const ShuffleKey *)b;
  if (p->key != q->key) return p->key < q->key ? -1 : 1;
  return (p->i > q->i) - (p->i < q->i);
}

static PetscErrorCode ShuffleEpoch(QepTrainer t, PetscInt epoch)
{
  ShuffleKey *k;

  PetscFunctionBegin;
  if (epoch == t->perm_epoch) PetscFunctionReturn(0);
  PetscCall(PetscMalloc1(t->ntrain, &k));
  for (PetscInt i = 0; i < t->ntrain; i++) {
    k[i].key = QepRandomUniform(t->seed, 11, epoch * t->ntrain + i);
    k[i].i   = i;
  }
  qsort(k, (size_t)t->ntrain, sizeof(ShuffleKey), CompareShuffleKey);
  for (PetscInt i = 0; i < t->ntrain; i++) t->perm[i] = k[i].i;
  PetscCall(PetscFree(k));
  t->perm_epoch = epoch;
  PetscFunctionReturn(0);
}

/* owner[j] = the group that computes batch position j. Each group takes floor or ceil(b/G)
 * examples (balanced work); within that, an example goes back to the group that solved it last,
 * whose warm-start cache holds its free state (a cache miss costs a cold solve, ~3x the matvecs of
 * a warm one). Position-based assignment would send half the examples elsewhere every epoch. */
static void AssignBatch(QepTrainer t, const PetscInt idx[], PetscInt b)
{
  const PetscInt G = t->ngroups;

  for (PetscInt g = 0; g < G; g++) t->room[g] = b / G + (g < b % G ? 1 : 0);
  for (PetscInt j = 0; j < b; j++) {
    const PetscInt g = t->lastgroup[idx[j]];
    t->owner[j]      = t->room[g] > 0 ? g : -1;
    if (t->owner[j] >= 0) t->room[g]--;
  }
  for (PetscInt j = 0; j < b; j++) {
    PetscInt best = 0;
    if (t->owner[j] >= 0) continue;
    for (PetscInt g = 1; g < G; g++)
      if (t->room[g] > t->room[best]) best = g;
    t->owner[j] = best;
    t->room[best]--;
  }
  for (PetscInt j = 0; j < b; j++) t->lastgroup[idx[j]] = t->owner[j];
}

/* Batch table rows[j] = (gradient, loss) of batch example j, computed by group owner[j] and
 * assembled exactly with one Allreduce; returns the mean gradient and loss. */
static PetscErrorCode BatchGradient(QepTrainer t, const PetscInt idx[], PetscInt b, PetscReal *loss)
{
  const PetscInt w = t->nparams + 1;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(t->rows, b * w));
  AssignBatch(t, idx, b);
  for (PetscInt j = 0; j < b; j++) {
    if (t->owner[j] != t->mygroup) continue;
    const PetscReal *x, *y;
    PetscReal        L;
    PetscCall(QepDatasetGetExample(t->train, idx[j], &x, &y));
    PetscCall(SystemGradient(t, t->step, idx[j], x, y, &L, t->gmean));
    if (t->grank == 0) {
      PetscCall(PetscArraycpy(t->rows + j * w, t->gmean, t->nparams));
      t->rows[j * w + t->nparams] = L;
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t->rows, (PetscMPIInt)(b * w), MPIU_REAL, MPIU_SUM, t->world));
  PetscCall(PetscArrayzero(t->gmean, t->nparams));
  *loss = 0;
  for (PetscInt j = 0; j < b; j++) { /* fixed order: the same sum for any G */
    for (PetscInt k = 0; k < t->nparams; k++) t->gmean[k] += t->rows[j * w + k] / b;
    *loss += t->rows[j * w + t->nparams] / b;
  }
  PetscFunctionReturn(0);
}

static PetscBool Correct(QepTrainer t, const PetscReal out[], const PetscReal y[])
{
  PetscInt ao = 0, ay = 0;
  if (t->noutputs == 1) return ((out[0] > t->threshold) == (y[0] > t->threshold)) ? PETSC_TRUE : PETSC_FALSE;
  for (PetscInt o = 1; o < t->noutputs; o++) {
    if (out[o] > out[ao]) ao = o;
    if (y[o] > y[ay]) ay = o;
  }
  return ao == ay ? PETSC_TRUE : PETSC_FALSE;
}

/* Mean test loss and accuracy, examples shared among groups like a batch; per-example (loss,
 * correct) rows are assembled exactly and summed in example order, so the result does not depend on G. */
static PetscErrorCode Evaluate(QepTrainer t)
{
  PetscReal *rows, *out, loss = 0, correct = 0;

  PetscFunctionBegin;
  if (!t->ntest) PetscFunctionReturn(0);
  PetscCall(PetscCalloc1(2 * t->ntest, &rows));
  PetscCall(PetscMalloc1(t->noutputs + 1, &out));
  for (PetscInt j = t->mygroup; j < t->ntest; j += t->ngroups) {
    const PetscReal *x, *y;
    PetscReal        L;
    PetscCall(QepDatasetGetExample(t->test, j, &x, &y));
    PetscCall(SystemLoss(t, t->ntrain + j, x, y, &L, out));
    if (t->grank == 0) {
      rows[2 * j]     = L;
      rows[2 * j + 1] = Correct(t, out, y) ? 1 : 0;
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, rows, (PetscMPIInt)(2 * t->ntest), MPIU_REAL, MPIU_SUM, t->world));
  for (PetscInt j = 0; j < t->ntest; j++) {
    loss += rows[2 * j];
    correct += rows[2 * j + 1];
  }
  t->result.test_loss     = loss / t->ntest;
  t->result.test_accuracy = t->classification ? correct / t->ntest : -1;
  PetscCall(PetscFree(out));
  PetscCall(PetscFree(rows));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------ log, checkpoint ----------------- */

/* Rank 0: opens the CSV log; on restart keeps only the rows of steps before the restart step. */
static PetscErrorCode OpenLog(QepTrainer t, FILE **f)
{
  int failed = 0;

  PetscFunctionBegin;
  *f = NULL;
  if (t->wrank == 0) {
    if (t->step > 0) {
      FILE  *in = fopen(t->log, "r");
      char   line[1024];
      size_t cap = 1 << 16, len = 0;
      char  *kept = malloc(cap);
      if (in && kept) {
        while (fgets(line, sizeof(line), in)) {
          long s = strtol(line, NULL, 10);
          if (line[0] == 's' || (line[strlen(line) - 1] == '\n' && s >= 1 && s <= t->step)) {
            size_t n = strlen(line);
            if (len + n + 1 > cap) {
              char *grown = realloc(kept, cap = 2 * (len + n + 1));
              if (!grown) break;
              kept = grown;
            }
            memcpy(kept + len, line, n);
            len += n;
          }
        }
        fclose(in);
        *f = fopen(t->log, "w");
        if (*f) fwrite(kept, 1, len, *f);
      } else if (in) fclose(in);
      free(kept);
    }
    if (!*f) {
      *f = fopen(t->log, t->step > 0 ? "a" : "w");
      if (*f && t->step == 0) fprintf(*f, "step,epoch,lr,batch_loss,grad_norm,penalty,matvecs,seconds,test_loss,test_accuracy\n");
    }
    failed = *f ? 0 : errno;
    if (*f) fflush(*f);
  }
  PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, t->world));
  PetscCheck(!failed, t->world, PETSC_ERR_FILE_OPEN, "Cannot write the training log '%s': %s", t->log, strerror(failed));
  PetscFunctionReturn(0);
}

static PetscErrorCode AppendHex(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
  va_list ap;
  int     n;

  PetscFunctionBegin;
  for (;;) {
    va_start(ap, fmt);
    n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < *cap - *len) break;
    *cap = 2 * (*cap + (size_t)PetscMax(n, 0));
    PetscCall(PetscRealloc(*cap, buf));
  }
  *len += (size_t)n;
  PetscFunctionReturn(0);
}

/* Text checkpoint with exact hexadecimal floats, written atomically (tmp + fsync + rename). */
static PetscErrorCode WriteCheckpoint(QepTrainer t)
{
  PetscInt   ns;
  PetscReal *state;
  char      *buf;
  size_t     len = 0, cap = 4096;

  PetscFunctionBegin;
  if (!t->has_checkpoint) PetscFunctionReturn(0);
  PetscCall(QepOptimizerGetStateSize(t->opt, &ns));
  PetscCall(PetscMalloc1(ns, &state));
  PetscCall(QepOptimizerGetState(t->opt, state));
  PetscCall(PetscMalloc1(cap, &buf));
  PetscCall(AppendHex(&buf, &len, &cap, "%s\nstep %" PetscInt_FMT "\nseed %" PetscInt64_FMT "\nparams %" PetscInt_FMT "\n", QEP_CHECKPOINT_MAGIC, t->step, t->seed, t->nparams));
  for (PetscInt k = 0; k < t->nparams; k++) PetscCall(AppendHex(&buf, &len, &cap, "%a\n", (double)t->theta[k]));
  PetscCall(AppendHex(&buf, &len, &cap, "optimizer %" PetscInt_FMT "\n", ns));
  for (PetscInt k = 0; k < ns; k++) PetscCall(AppendHex(&buf, &len, &cap, "%a\n", (double)state[k]));
  PetscCall(AppendHex(&buf, &len, &cap, "end\n"));
  PetscCall(QepWriteFileAtomic(t->world, t->checkpoint, buf, len));
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree(state));
  PetscFunctionReturn(0);
}

static PetscErrorCode ExpectWord(MPI_Comm comm, const char *path, char **p, const char *word, long long *value)
{
  size_t n = strlen(word);
  char  *end;

  PetscFunctionBegin;
  while (**p == '\n' || **p == ' ') (*p)++;
  PetscCheck(!strncmp(*p, word, n), comm, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' is malformed: expected '%s'", path, word);
  *p += n;
  errno  = 0;
  *value = strtoll(*p, &end, 10);
  PetscCheck(end != *p && !errno, comm, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' is malformed: bad number after '%s'", path, word);
  *p = end;
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadReals(MPI_Comm comm, const char *path, char **p, PetscInt n, PetscReal v[])
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < n; k++) {
    char *end;
    v[k] = (PetscReal)strtod(*p, &end);
    PetscCheck(end != *p && !PetscIsInfOrNanReal(v[k]), comm, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' is malformed: value %" PetscInt_FMT " is missing or not finite", path, k);
    *p = end;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadCheckpoint(QepTrainer t)
{
  char      *text, *p;
  long long  step, seed, np, ns;
  PetscInt   nstate;
  PetscReal *state;

  PetscFunctionBegin;
  PetscCall(QepReadTextFile(t->world, t->restart, &text));
  p = text;
  PetscCheck(!strncmp(p, QEP_CHECKPOINT_MAGIC, strlen(QEP_CHECKPOINT_MAGIC)), t->world, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not a qep checkpoint", t->restart);
  p += strlen(QEP_CHECKPOINT_MAGIC);
  PetscCall(ExpectWord(t->world, t->restart, &p, "step", &step));
  PetscCall(ExpectWord(t->world, t->restart, &p, "seed", &seed));
  PetscCall(ExpectWord(t->world, t->restart, &p, "params", &np));
  PetscCheck(np == t->nparams, t->world, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' holds %lld parameters but the model has %" PetscInt_FMT, t->restart, np, t->nparams);
  PetscCheck(seed == t->seed, t->world, PETSC_ERR_USER_INPUT, "Checkpoint '%s' was written with -qep_seed %lld; resume with the same seed (got %" PetscInt64_FMT ")", t->restart, seed, t->seed);
  PetscCheck(step >= 0 && step <= t->steps, t->world, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' is at step %lld, outside 0..%" PetscInt_FMT, t->restart, step, t->steps);
  PetscCall(ReadReals(t->world, t->restart, &p, t->nparams, t->theta));
  PetscCall(QepOptimizerGetStateSize(t->opt, &nstate));
  PetscCall(ExpectWord(t->world, t->restart, &p, "optimizer", &ns));
  PetscCheck(ns == nstate, t->world, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' has an optimizer state of %lld values; this optimizer needs %" PetscInt_FMT " (same -qep_optimizer?)", t->restart, ns, nstate);
  PetscCall(PetscMalloc1(nstate, &state));
  PetscCall(ReadReals(t->world, t->restart, &p, nstate, state));
  while (*p == '\n' || *p == ' ') p++;
  PetscCheck(!strncmp(p, "end", 3), t->world, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint '%s' is truncated", t->restart);
  PetscCall(QepOptimizerSetState(t->opt, state));
  PetscCall(SystemSetParameters(t, t->theta));
  t->step = (PetscInt)step;
  PetscCall(PetscFree(state));
  PetscCall(PetscFree(text));
  PetscFunctionReturn(0);
}

/* ------------------------------------------------------------ the loop ------------------------- */

static PetscErrorCode Monitor(QepTrainer t, PetscReal lr)
{
  PetscLogDouble now, eta;

  PetscFunctionBegin;
  if (!t->monitor) PetscFunctionReturn(0);
  PetscCall(PetscTime(&now));
  eta = (now - t->t0) * (PetscLogDouble)(t->steps - t->step) / (PetscLogDouble)PetscMax(1, t->step - t->start_step);
  PetscCall(PetscPrintf(t->world, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  loss %.5f  test %.5f", t->step, t->steps, (double)t->result.train_loss, (double)t->result.test_loss));
  if (t->classification) PetscCall(PetscPrintf(t->world, "  acc %.3f", (double)t->result.test_accuracy));
  PetscCall(PetscPrintf(t->world, "  |g| %.2e  lr %.3g  matvecs %.3g  %.1f s  ETA %.1f s\n", (double)t->result.grad_norm, (double)lr, (double)t->result.matvecs, now - t->t0, eta));
  PetscFunctionReturn(0);
}

/* Summed over groups: matvecs (spin) or solves (oscillators). */
static PetscErrorCode GlobalMatvecs(QepTrainer t, PetscLogDouble *mv)
{
  PetscLogDouble mine = 0, work = 0;

  PetscFunctionBegin;
  PetscCall(SystemWork(t, &work));
  if (t->grank == 0) mine = work;
  PetscCallMPI(MPI_Allreduce(&mine, mv, 1, MPI_DOUBLE, MPI_SUM, t->world));
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerRun(QepTrainer t)
{
  const PetscInt spe = (t->ntrain + t->batch - 1) / t->batch; /* steps per epoch */
  FILE          *log;

  PetscFunctionBegin;
  if (t->has_restart) PetscCall(ReadCheckpoint(t));
  t->start_step = t->step;
  PetscCall(OpenLog(t, &log));
  PetscCall(PetscTime(&t->t0));
  while (t->step < t->steps) {
    const PetscInt epoch = t->step / spe, pos = t->step % spe, b = PetscMin(t->batch, t->ntrain - pos * t->batch);
    PetscReal      loss = 0, penalty = 0, lr, norm = 0;
    PetscLogDouble now;

    PetscCall(ShuffleEpoch(t, epoch));
    PetscCall(BatchGradient(t, t->perm + pos * t->batch, b, &loss));
    PetscCall(QepOptimizerAddPenalty(t->opt, t->theta, &penalty, t->gmean));
    for (PetscInt k = 0; k < t->nparams; k++) norm += t->gmean[k] * t->gmean[k];
    PetscCall(QepOptimizerGetLearningRate(t->opt, &lr));
    PetscCall(QepOptimizerStep(t->opt, t->theta, t->gmean));
    PetscCall(SystemSetParameters(t, t->theta));
    t->step++;
    t->result.steps      = t->step;
    t->result.train_loss = loss;
    t->result.grad_norm  = PetscSqrtReal(norm);
    PetscCall(GlobalMatvecs(t, &t->result.matvecs));
    if (t->step % t->eval_every == 0 || t->step == t->steps) PetscCall(Evaluate(t));
    PetscCall(PetscTime(&now));
    if (log) {
      fprintf(log, "%" PetscInt_FMT ",%" PetscInt_FMT ",%.10g,%.12g,%.6g,%.6g,%.0f,%.6f,", t->step, epoch, (double)lr, (double)loss, (double)t->result.grad_norm, (double)penalty,
              t->result.matvecs, now - t->t0);
      if (t->step % t->eval_every == 0 || t->step == t->steps) fprintf(log, "%.12g,%.6g\n", (double)t->result.test_loss, (double)t->result.test_accuracy);
      else fprintf(log, ",\n");
      fflush(log);
    }
    if (t->step % t->eval_every == 0 || t->step == t->steps) PetscCall(Monitor(t, lr));
    if (t->step % t->checkpoint_every == 0 || t->step == t->steps) PetscCall(WriteCheckpoint(t));
    if (t->abort_at > 0 && t->step == t->abort_at) {
      PetscCall(PetscPrintf(t->world, "[qep] simulated crash after step %" PetscInt_FMT " (-qep_train_abort_at)\n", t->step));
      PetscCallMPI(MPI_Abort(t->world, 3));
    }
  }
  if (log) fclose(log);
  PetscCall(PetscTime(&t->result.time));
  t->result.time -= t->t0;
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerGetResult(QepTrainer t, QepTrainResult *r)
{
  PetscFunctionBegin;
  *r = t->result;
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerGetModel(QepTrainer t, QepModel *m)
{
  PetscFunctionBegin;
  *m = t->model;
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerGetOscillators(QepTrainer t, QepQho *q)
{
  PetscFunctionBegin;
  *q = t->qho;
  PetscFunctionReturn(0);
}

/* The trained system's part of the summary: size, loss, estimator, β and the measurement plan. */
static PetscErrorCode WriteSystemJSON(QepTrainer t, QepJSON json)
{
  QepEstimator est;
  PetscReal    beta;

  PetscFunctionBegin;
  if (t->qho) {
    PetscInt         modes, levels;
    QepQhoSolverType solver;
    PetscCall(QepQhoGetSizes(t->qho, &modes, NULL, NULL, NULL));
    PetscCall(QepQhoGradientGetSettings(t->qgrad, &est, &beta, &solver, &levels));
    PetscCall(QepJSONString(json, "system", "oscillators"));
    PetscCall(QepJSONInt(json, "n", modes));
    PetscCall(QepJSONString(json, "loss", "observable"));
    PetscCall(QepJSONString(json, "solver", QepQhoSolverTypes[solver]));
    if (solver == QEP_QHO_SOLVER_FOCK) PetscCall(QepJSONInt(json, "levels", levels));
  } else {
    PetscInt         n, nsettings;
    PetscInt64       nshots, per;
    QepLossType      lt;
    QepGradientStats st;
    PetscLogDouble   mine = 0, total;
    PetscCall(QepModelGetNumQubits(t->model, &n));
    PetscCall(QepGradientGetSettings(t->grad, &est, &beta, &lt));
    PetscCall(QepJSONString(json, "system", "spins"));
    PetscCall(QepJSONInt(json, "n", n));
    PetscCall(QepJSONString(json, "loss", QepLossTypes[lt]));
    PetscCall(QepGradientGetShots(t->grad, &nshots, NULL));
    PetscCall(QepGradientGetMeasurementPlan(t->grad, &nsettings, NULL, &per));
    PetscCall(QepGradientGetStats(t->grad, &st));
    if (t->grank == 0) mine = (PetscLogDouble)st.shots;
    PetscCallMPI(MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, t->world));
    PetscCall(QepJSONInt(json, "shots", nshots));
    if (nshots) {
      PetscCall(QepJSONInt(json, "measurement_settings", nsettings));
      PetscCall(QepJSONInt(json, "shots_per_gradient", per));
      PetscCall(QepJSONReal(json, "shots_total", (PetscReal)total));
    }
  }
  PetscCall(QepJSONString(json, "estimator", QepEstimators[est]));
  PetscCall(QepJSONReal(json, "beta", beta));
  PetscFunctionReturn(0);
}

PetscErrorCode QepTrainerWriteJSON(QepTrainer t, const char path[])
{
  QepJSON json;
  char   *opts;

  PetscFunctionBegin;
  PetscCall(QepJSONCreate(t->world, &json));
  PetscCall(QepJSONBeginObject(json, NULL));
  PetscCall(QepJSONString(json, "command", "train"));
  PetscCall(WriteSystemJSON(t, json));
  PetscCall(QepJSONInt(json, "ranks", t->wsize));
  PetscCall(QepJSONInt(json, "groups", t->ngroups));
  PetscCall(QepJSONInt(json, "steps", t->result.steps));
  PetscCall(QepJSONInt(json, "train_examples", t->ntrain));
  PetscCall(QepJSONInt(json, "test_examples", t->ntest));
  PetscCall(QepJSONBeginObject(json, "final"));
  PetscCall(QepJSONReal(json, "train_loss", t->result.train_loss));
  PetscCall(QepJSONReal(json, "loss", t->result.test_loss));
  if (t->classification) PetscCall(QepJSONReal(json, "accuracy", t->result.test_accuracy));
  PetscCall(QepJSONReal(json, "grad_norm", t->result.grad_norm));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONBeginObject(json, "parameters"));
  for (PetscInt k = 0; k < t->nparams; k++) {
    const char *name;
    PetscCall(SystemParameterName(t, k, &name));
    PetscCall(QepJSONReal(json, name, t->theta[k]));
  }
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONReal(json, t->qho ? "solves" : "matvecs", (PetscReal)t->result.matvecs));
  PetscCall(QepJSONBeginObject(json, "time_s"));
  PetscCall(QepJSONReal(json, "total", t->result.time));
  PetscCall(QepJSONReal(json, "per_step", t->result.time / PetscMax(1, t->result.steps - t->start_step)));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONString(json, "log", t->log));
  PetscCall(PetscOptionsGetAll(NULL, &opts));
  PetscCall(QepJSONString(json, "options", opts));
  PetscCall(PetscFree(opts));
  PetscCall(QepJSONEndObject(json));
  PetscCall(QepJSONWriteFile(json, path));
  PetscCall(QepJSONDestroy(&json));
  PetscFunctionReturn(0);
}
