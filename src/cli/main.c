/* main.c — entry point of `qep`: initialises SLEPc, dispatches the subcommand and agrees on an exit
 * status across ranks. A user error is raised identically on every rank (collective checks): rank 0
 * of the error's communicator prints one concise message, every rank unwinds, and all finalize
 * normally with status 1. If only some ranks failed, the others may be blocked in a collective, so
 * the failing ranks print their own message and abort the job after a short grace period rather
 * than letting it hang. (PETSc's default handler would instead park non-root ranks for 10 s.) */
#include "cli.h"
#include <slepcsys.h>
#include <unistd.h>

static const char help[] = "qep: Quantum Equilibrium Propagation on PETSc/SLEPc.\n"
                           "Usage: qep <command> [options]\n"
                           "Commands:\n"
                           "  ground     ground state of a model: energy, gap, observables (JSON, HDF5)\n"
                           "  gradient   QEP gradient of a loss for one example, optionally against an exact reference\n"
                           "  train      train a model on a dataset (progress, CSV log, checkpoints, JSON)\n"
                           "  shots      shot-based QEP gradients: bias, variance and MSE over a sweep of beta and shots\n"
                           "Run `qep <command> -help` for the options of a command.\n\n";

#define QEP_ABORT_GRACE_SECONDS 10.0 /* failing ranks wait this long for the others before aborting */

static char      FirstError[4096];        /* message of this rank's first error, kept for a lone failure */
static PetscBool ShowTraceback = PETSC_FALSE; /* -qep_traceback: print every stack frame */

/* Error handler: one readable message from rank 0 of the failing communicator; the stack frames only
 * with -qep_traceback. Returns the error code so every rank unwinds to main. */
static PetscErrorCode QepErrorHandler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  PetscMPIInt rank = 0;
  const char *text = NULL;

  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  PetscErrorMessage(n, &text, NULL);
  if (p == PETSC_ERROR_INITIAL && !FirstError[0])
    snprintf(FirstError, sizeof(FirstError), "%s\n[qep]   in %s() at %s:%d%s%s%s", mess && mess[0] && strcmp(mess, fun) ? mess : (text ? text : "unknown error"), fun, file, line,
             text && text[0] ? " (" : "", text && text[0] ? text : "", text && text[0] ? ")" : "");
  if (rank != 0) return n;
  if (p == PETSC_ERROR_INITIAL) fprintf(stderr, "[qep] error: %s\n", FirstError);
  else if (ShowTraceback) fprintf(stderr, "[qep]   called from %s() at %s:%d\n", fun, file, line);
  fflush(stderr);
  return n;
}

/* Collective exit status: 0 when every rank succeeded, 1 otherwise. */
static int AgreeExitStatus(PetscErrorCode ierr)
{
  MPI_Request req;
  int         done = 0, failed = ierr ? 1 : 0, anyfailed = 0;
  double      t0 = MPI_Wtime();

  MPI_Ibarrier(PETSC_COMM_WORLD, &req);
  if (!failed) MPI_Wait(&req, MPI_STATUS_IGNORE);
  else {
    while (!done && MPI_Wtime() - t0 < QEP_ABORT_GRACE_SECONDS) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (!done) usleep(2000);
    }
    if (!done) {
      int rank;
      MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
      fprintf(stderr, "[qep] error on rank %d while other ranks went on; aborting the job: %s\n", rank, FirstError);
      fflush(stderr);
      MPI_Abort(PETSC_COMM_WORLD, 1);
    }
  }
  MPI_Allreduce(&failed, &anyfailed, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  return anyfailed;
}

static PetscErrorCode Dispatch(const char *command)
{
  PetscFunctionBegin;
  if (!command) {
    PetscBool hashelp;
    PetscCall(PetscOptionsHasHelp(NULL, &hashelp));
    if (hashelp) PetscFunctionReturn(0); /* SlepcInitialize already printed the usage */
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s", help));
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "No command given; the commands are: ground, gradient, train, shots");
  }
  if (!strcmp(command, "ground")) PetscCall(QepCliGround(PETSC_COMM_WORLD));
  else if (!strcmp(command, "gradient")) PetscCall(QepCliGradient(PETSC_COMM_WORLD));
  else if (!strcmp(command, "train")) PetscCall(QepCliTrain(PETSC_COMM_WORLD));
  else if (!strcmp(command, "shots")) PetscCall(QepCliShots(PETSC_COMM_WORLD));
  else SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "Unknown command '%s'; the commands are: ground, gradient, train, shots", command);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;
  const char    *command = (argc > 1 && argv[1][0] != '-') ? argv[1] : NULL;
  int            status;

  ierr = SlepcInitialize(&argc, &argv, NULL, help);
  if (ierr) return 1;
  if (PetscOptionsGetBool(NULL, NULL, "-qep_traceback", &ShowTraceback, NULL)) return 1;
  if (PetscPushErrorHandler(QepErrorHandler, NULL)) return 1;
  ierr   = Dispatch(command);
  status = AgreeExitStatus(ierr);
  ierr   = SlepcFinalize();
  return (status || ierr) ? 1 : 0;
}
