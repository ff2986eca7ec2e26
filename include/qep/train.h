/* qep/train.h — datasets, optimizers and the training loop.
 *
 * A QepDataset holds N examples, each with the model's input features x (ninputs values) and one
 * target per model output (noutputs values), identical on every rank of its communicator.
 * A QepOptimizer updates a parameter vector from a gradient (SGD, momentum, Adam, Adamax) with a
 * learning-rate schedule, hard bounds (clipping) and a soft quadratic penalty beyond a bound; its
 * state round-trips exactly through Get/SetState (checkpoints). Both are deterministic and
 * independent of the number of ranks. */
#pragma once
#include <qep/model.h>
#include <qep/gradient.h>
#include <qep/qho.h>

/* ---------------------------------------------------------------- datasets ---------------------- */
typedef struct _p_QepDataset *QepDataset;

PETSC_EXTERN PetscErrorCode QepDatasetCreate(MPI_Comm, QepDataset *);
PETSC_EXTERN PetscErrorCode QepDatasetDestroy(QepDataset *);
/* Reads a CSV file (header row required) or an HDF5 file (datasets "inputs" N x ninputs and
 * "targets" N x noutputs), chosen by the extension (.csv; .h5/.hdf5). CSV: the header names the
 * input columns x0, x1, ... (one per model input feature) and the target columns by the model's
 * output names; other columns are ignored; column order is free. Collective; rank 0 reads.
 * Errors name the file (and line/column for CSV): missing columns, wrong field counts, non-numbers,
 * NaN/inf, no data rows. */
PETSC_EXTERN PetscErrorCode QepDatasetLoad(QepDataset, const char path[], QepModel model);
/* What a dataset needs of a model (any kind, e.g. an oscillator network): its number of input
 * features and its output names, which name the target columns. */
typedef struct {
  PetscInt           ninputs, noutputs;
  const char *const *outputs; /* [noutputs] */
} QepDatasetColumns;
PETSC_EXTERN PetscErrorCode QepDatasetLoadColumns(QepDataset, const char path[], const QepDatasetColumns *);
PETSC_EXTERN PetscErrorCode QepDatasetWriteCSVColumns(QepDataset, const char path[], const QepDatasetColumns *);
/* Built-in demo tasks for a model (see README "Demo tasks"): "parity" (2-bit parity of inputs ±1
 * with Gaussian jitter `noise`; unused by phase), "phase" (transverse field Γ of a TFIM chain uniform in [0.2, 1.8);
 * target 1 for the ordered phase Γ < 1, else 0). n examples from seed. */
PETSC_EXTERN PetscErrorCode QepDatasetGenerate(QepDataset, const char task[], QepModel model, PetscInt n, PetscInt64 seed, PetscReal noise);
/* Sets the data directly (copied). x: n x ninputs row-major, y: n x noutputs row-major. */
PETSC_EXTERN PetscErrorCode QepDatasetSetData(QepDataset, PetscInt n, PetscInt ninputs, PetscInt noutputs, const PetscReal x[], const PetscReal y[]);
/* Random split (seeded permutation): the first round(test_fraction*N) examples of the permutation
 * go to *test, the rest to *train (both new datasets, order of the permutation). */
PETSC_EXTERN PetscErrorCode QepDatasetSplit(QepDataset, PetscReal test_fraction, PetscInt64 seed, QepDataset *train, QepDataset *test);
PETSC_EXTERN PetscErrorCode QepDatasetGetSizes(QepDataset, PetscInt *n, PetscInt *ninputs, PetscInt *noutputs);
/* Borrowed pointers to example i's inputs and targets. */
PETSC_EXTERN PetscErrorCode QepDatasetGetExample(QepDataset, PetscInt i, const PetscReal **x, const PetscReal **y);
/* Writes the dataset as CSV with the model's column names (atomic, rank 0). */
PETSC_EXTERN PetscErrorCode QepDatasetWriteCSV(QepDataset, const char path[], QepModel model);

/* ---------------------------------------------------------------- optimizers -------------------- */
typedef enum { QEP_OPTIMIZER_SGD = 0, QEP_OPTIMIZER_MOMENTUM = 1, QEP_OPTIMIZER_ADAM = 2, QEP_OPTIMIZER_ADAMAX = 3 } QepOptimizerType;
PETSC_EXTERN const char *const QepOptimizerTypes[];
typedef enum { QEP_SCHEDULE_CONSTANT = 0, QEP_SCHEDULE_STEP = 1, QEP_SCHEDULE_EXPONENTIAL = 2, QEP_SCHEDULE_COSINE = 3 } QepScheduleType;
PETSC_EXTERN const char *const QepScheduleTypes[];

typedef struct _p_QepOptimizer *QepOptimizer;

PETSC_EXTERN PetscErrorCode QepOptimizerCreate(MPI_Comm, PetscInt nparams, QepOptimizer *);
PETSC_EXTERN PetscErrorCode QepOptimizerDestroy(QepOptimizer *);
PETSC_EXTERN PetscErrorCode QepOptimizerSetType(QepOptimizer, QepOptimizerType);
PETSC_EXTERN PetscErrorCode QepOptimizerSetLearningRate(QepOptimizer, PetscReal lr);
/* Total number of steps planned (the cosine schedule needs it). */
PETSC_EXTERN PetscErrorCode QepOptimizerSetHorizon(QepOptimizer, PetscInt nsteps);
/* -qep_optimizer sgd|momentum|adam|adamax, -qep_lr, -qep_momentum (0.9), -qep_adam_beta1 (0.9),
 * -qep_adam_beta2 (0.999), -qep_adam_eps (1e-8), -qep_lr_schedule constant|step|exponential|cosine,
 * -qep_lr_decay (step/exponential factor), -qep_lr_decay_steps, -qep_lr_min (cosine floor),
 * -qep_param_clip lo,hi (hard bounds), -qep_param_bound B and -qep_param_penalty mu (soft penalty
 * mu * sum max(0,|theta|-B)^2 added to the loss). */
PETSC_EXTERN PetscErrorCode QepOptimizerSetFromOptions(QepOptimizer);
/* The penalty value at theta and its gradient added into grad (no-op without a soft bound). */
PETSC_EXTERN PetscErrorCode QepOptimizerAddPenalty(QepOptimizer, const PetscReal theta[], PetscReal *penalty, PetscReal grad[]);
/* One update of theta in place from grad (already including any penalty), then clipping. */
PETSC_EXTERN PetscErrorCode QepOptimizerStep(QepOptimizer, PetscReal theta[], const PetscReal grad[]);
/* Learning rate the next Step will use (schedule applied). */
PETSC_EXTERN PetscErrorCode QepOptimizerGetLearningRate(QepOptimizer, PetscReal *lr);
PETSC_EXTERN PetscErrorCode QepOptimizerGetStepCount(QepOptimizer, PetscInt *steps);
/* The whole mutable state (step count and moment vectors) as nstate reals; SetState restores it exactly. */
PETSC_EXTERN PetscErrorCode QepOptimizerGetStateSize(QepOptimizer, PetscInt *nstate);
PETSC_EXTERN PetscErrorCode QepOptimizerGetState(QepOptimizer, PetscReal state[]);
PETSC_EXTERN PetscErrorCode QepOptimizerSetState(QepOptimizer, const PetscReal state[]);

/* ---------------------------------------------------------------- training ---------------------- */
typedef struct {
  PetscInt       steps;          /* steps done (including those before a restart) */
  PetscReal      train_loss;     /* mean loss of the last batch */
  PetscReal      test_loss;      /* mean loss on the test set at the last evaluation */
  PetscReal      test_accuracy;  /* classification accuracy at the last evaluation (-1 if not a classification task) */
  PetscReal      grad_norm;      /* 2-norm of the last mean gradient */
  PetscLogDouble matvecs;        /* operator applications in all groups (oscillator networks: ground-state solves) */
  PetscLogDouble time;           /* wall seconds of this run */
} QepTrainResult;

typedef struct _p_QepTrainer *QepTrainer;

/* The trainer splits `comm` into -qep_groups G groups (contiguous rank blocks), builds the model on
 * each group's communicator, and trains data-parallel: each group solves a share of every batch and
 * the per-example gradients meet in one Allreduce. */
PETSC_EXTERN PetscErrorCode QepTrainerCreate(MPI_Comm, QepTrainer *);
PETSC_EXTERN PetscErrorCode QepTrainerDestroy(QepTrainer *);
/* Every training option (see the README and -help): model, data, optimizer, loss, estimator, steps,
 * batch, groups, evaluation, logging, checkpoints. */
PETSC_EXTERN PetscErrorCode QepTrainerSetFromOptions(QepTrainer);
PETSC_EXTERN PetscErrorCode QepTrainerRun(QepTrainer);
PETSC_EXTERN PetscErrorCode QepTrainerGetResult(QepTrainer, QepTrainResult *);
/* The (group-local) system being trained, borrowed; its parameters are the trained ones after Run.
 * A spin model (-qep_model other than qho) or an oscillator network (-qep_model qho); the other is NULL. */
PETSC_EXTERN PetscErrorCode QepTrainerGetModel(QepTrainer, QepModel *);
PETSC_EXTERN PetscErrorCode QepTrainerGetOscillators(QepTrainer, QepQho *);
/* Writes the JSON summary (command, n, ranks, groups, steps, final, parameters, time_s, log). */
PETSC_EXTERN PetscErrorCode QepTrainerWriteJSON(QepTrainer, const char path[]);
