/* cliqho.h — `qep ground|gradient -qep_model qho`: oscillator networks on the command line. Each
 * function parses its own options, prints a readable summary and writes -qep_json FILE. */
#pragma once
#include "cli.h"
#include <qep/qho.h>

/* One ground state: energy, output means and variances, solver information. Collective on PETSC_COMM_WORLD. */
PetscErrorCode QepCliQhoGround(void);
/* The QEP gradient of one example (-qep_input, -qep_target), split into its mean (classical) and
 * zero-point parts, optionally next to -qep_reference linear|fd. Collective on PETSC_COMM_WORLD. */
PetscErrorCode QepCliQhoGradient(void);
