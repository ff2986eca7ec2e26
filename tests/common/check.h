/* check.h — the soft assertion shared by the unit tests: a failed CHECK prints file:line and the
 * formatted message and counts the failure, so one run reports every mismatch; the test's main
 * returns non-zero when nfail > 0. Include once per test program. */
#pragma once
#include <petscsys.h>

static int nfail = 0;

#define CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      nfail++; \
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "FAIL %s:%d: ", __FILE__, __LINE__)); \
      PetscCall(PetscPrintf(PETSC_COMM_SELF, __VA_ARGS__)); \
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "\n")); \
    } \
  } while (0)
