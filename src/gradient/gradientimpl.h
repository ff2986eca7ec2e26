/* gradientimpl.h — private layout of QepGradient, shared by gradient.c (estimators), loss.c (nudge
 * observables and loss values) and reference.c (linear response, finite differences).
 * Invariants: strings[0..nh) are the model's strings in the model's order, followed by the extra
 * strings the nudge needs (outputs, their squares, the identity); every array indexed by string
 * has nstrings entries. psi0 holds the last free ground state while free_valid is true. */
#pragma once
#include "qepimpl.h"
#include <qep/measure.h>

#define QEP_MAX_STENCIL 4

typedef struct {
  PetscInt  n;
  PetscInt *string; /* operator string index of each term */
  PetscReal *coef;
} QepTermList;

/* One example's last free state, its last first excited state (from its last gap solve: the warm
 * start of the next one; NULL before), its last computed gap and how often it was solved. */
typedef struct {
  PetscInt  id;
  Vec       psi, excited;
  PetscReal gap;
  PetscInt  visits;
} QepWarmEntry;

struct _p_QepGradient {
  MPI_Comm        comm;
  QepModel        model;
  QepEstimator    estimator;
  QepLossType     loss;
  PetscReal       beta, fd_step, warm_cache_mb;
  QepOperatorType optype;
  PetscBool       setup;

  PetscInt   nh, nstrings, identity; /* identity: index of the identity string or -1 */
  QepPauli  *strings;
  PetscReal *hcoef;  /* H(θ, x) coefficients (zero beyond nh) */
  PetscReal *nudge;  /* nudge observable C' */
  PetscReal *coef;   /* scratch: hcoef + β nudge */
  PetscReal *expect; /* ⟨P_t⟩ of the last phase */

  PetscInt     nparams, noutputs;
  QepTermList *outputs; /* O_o */
  QepTermList *squares; /* O_o² (observable loss only) */
  PetscReal   *outval;  /* ⟨O_o⟩ of the last free solve */

  QepOperator     op;
  QepGroundSolver free, nudged;
  QepExpectation  plan;
  QepExpectation  plan_loss;  /* only the strings the loss and outputs read: the free phase's plan */
  PetscInt        nloss;
  PetscInt       *loss_string; /* [nloss] string index of each of plan_loss's strings */
  PetscReal      *loss_expect; /* [nloss] */
  Vec             psi0;       /* last free ground state */
  PetscBool       gap_wanted; /* the free solver computes gaps (-free_qep_gap, default on) */
  PetscInt        gap_every;  /* an example's gap is recomputed on every gap_every-th free solve */
  PetscBool       free_valid;
  PetscBool       free_tol_user; /* -free_eps_tol given: no tolerance of ours replaces it */
  PetscReal       energy0;

  PetscInt      ncache, acache; /* warm-start states per example */
  QepWarmEntry *cache;

  /* Shot mode (nshots > 0): every phase's expectations are means of projective measurements. */
  PetscInt64     nshots, shot_seed;
  PetscInt64     shot_stream;  /* base stream of the next Compute (SetShotStream or a call counter) */
  PetscBool      stream_set;
  PetscInt64     calls;
  QepMeasurement meas;         /* settings over the measured strings */
  PetscInt       nmeasured;
  PetscInt      *measured;     /* [nmeasured] operator string index of each measured string */
  QepPauli      *measured_strings; /* [nmeasured] those strings, in the order given to meas */
  PetscInt      *set_cstart;   /* [nsettings+1] parameter couplings of each setting: */
  PetscInt      *set_cmember;  /*   position of the string in the setting's member list */
  PetscInt      *set_cparam;   /*   parameter index */
  PetscReal     *set_cfactor;  /*   factor */
  PetscReal     *phase_var;    /* [nparams] variance of the last measured phase's g_k estimate */
  PetscReal     *se;           /* [nparams] standard error of the last gradient (0 when exact) */
  PetscInt       nstencil;     /* stencil of the last Compute, kept for Remeasure */
  PetscReal      sb[QEP_MAX_STENCIL], sw[QEP_MAX_STENCIL], sw0;
  Vec            phase_psi[QEP_MAX_STENCIL]; /* nudged states of the last Compute (shot mode) */
  PetscReal     *ybuf;         /* [noutputs] targets of the last Compute */
  PetscBool      have_phases;

  QepGradientStats stats;
};

/* g_k = Σ_(t,k,f) f values[t] over the model's parameter couplings. */
PETSC_INTERN PetscErrorCode QepGradientParameterSums(QepGradient, const PetscReal values[], PetscReal g[]);
/* Free solve at the current hcoef, warm-started from `warm` (NULL: cold), computing the gap when
 * `gap` is true; fills psi0, expect, outval and stats. */
PETSC_INTERN PetscErrorCode QepGradientFreeSolve(QepGradient, Vec warm, Vec warm_excited, PetscBool gap, PetscBool loss_only);
/* Sets hcoef from the model's parameters and x. */
PETSC_INTERN PetscErrorCode QepGradientSetInputs(QepGradient, const PetscReal x[]);
/* loss.c: nudge coefficients (from targets and, for error-signal losses, the free ⟨O_o⟩) and the loss value. */
PETSC_INTERN PetscErrorCode QepGradientBuildNudge(QepGradient, const PetscReal y[], PetscReal *loss);
PETSC_INTERN PetscErrorCode QepGradientLossValue(QepGradient, const PetscReal y[], PetscReal *loss);
PETSC_INTERN PetscErrorCode QepGradientCheckTargets(QepGradient, const PetscReal y[]);
/* outval[o] = ⟨O_o⟩ from the current term expectations. */
PETSC_INTERN void QepGradientOutputValues(QepGradient);
/* loss.c: the extra strings of the nudge (outputs, squares, identity), added to `all`. */
PETSC_INTERN PetscErrorCode QepGradientCollectStrings(QepGradient, QepPauliSum *all);
PETSC_INTERN PetscErrorCode QepGradientFreeTermLists(QepGradient);
/* shots.c: measurement settings of the strings the gradient needs; the shot estimate of one phase
 * (phase 0 = free) from state psi into expect[] (measured strings; identity 1) and phase_var[]. */
PETSC_INTERN PetscErrorCode QepGradientSetUpShots(QepGradient);
PETSC_INTERN PetscErrorCode QepGradientDestroyShots(QepGradient);
PETSC_INTERN PetscErrorCode QepGradientMeasurePhase(QepGradient, Vec psi, PetscInt64 stream, PetscInt phase);
/* reference.c */
PETSC_INTERN PetscErrorCode QepGradientLinearResponse(QepGradient, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
PETSC_INTERN PetscErrorCode QepGradientFiniteDifferences(QepGradient, const PetscReal x[], const PetscReal y[], PetscReal *loss, PetscReal grad[]);
