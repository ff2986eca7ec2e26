/* test_state_io.c — the HDF5 state file: qep writes the ground state as dataset /psi with energy and
 * nqubits attributes; reading it back with PETSc gives the same vector to the last bit, and no
 * temporary file is left behind. */
#include <qep/qep.h>
#include <slepcsys.h>
#include <petscviewerhdf5.h>
#include <unistd.h>
#include "reference.h"

int main(int argc, char **argv)
{
  char            out[PETSC_MAX_PATH_LEN] = "state", path[PETSC_MAX_PATH_LEN + 32], tmp[PETSC_MAX_PATH_LEN + 64];
  PetscMPIInt     size;
  PetscInt        n = 10, nread = 0;
  PetscReal       J[10], h[10], energy = 0, diff;
  QepPauliSum     H;
  QepOperator     op;
  QepGroundSolver solver;
  QepSolveStats   st;
  Mat             A;
  Vec             psi, back;
  PetscViewer     viewer;

  PetscCall(SlepcInitialize(&argc, &argv, NULL, "HDF5 state round trip"));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof(out), NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  snprintf(path, sizeof(path), "%s_np%d.h5", out, (int)size);
  for (PetscInt i = 0; i < n; i++) {
    J[i] = 1.0 + 0.1 * i;
    h[i] = 0.7;
  }
  PetscCall(QepPauliSumInit(&H));
  PetscCall(RefTFIMPauliSum(n, J, h, PETSC_FALSE, &H));
  PetscCall(QepOperatorCreate(PETSC_COMM_WORLD, &op));
  PetscCall(QepOperatorSetStrings(op, n, H.n, H.strings));
  PetscCall(QepOperatorSetUp(op));
  PetscCall(QepOperatorSetCoefficients(op, H.coeffs));
  PetscCall(QepOperatorGetMat(op, &A));
  PetscCall(QepGroundSolverCreate(PETSC_COMM_WORLD, &solver));
  PetscCall(QepGroundSolverSetOperator(solver, A));
  PetscCall(QepGroundSolverSolve(solver));
  PetscCall(QepGroundSolverGetStats(solver, &st));
  PetscCall(QepGroundSolverGetState(solver, &psi));
  PetscCall(QepStateWriteHDF5(psi, path, n, st.energy));

  snprintf(tmp, sizeof(tmp), "%s.tmp.h5", path);
  PetscCheck(access(tmp, F_OK) != 0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "temporary file %s was left behind", tmp);
  PetscCall(VecDuplicate(psi, &back));
  PetscCall(PetscObjectSetName((PetscObject)back, "psi"));
  PetscCall(PetscViewerHDF5Open(PETSC_COMM_WORLD, path, FILE_MODE_READ, &viewer));
  PetscCall(VecLoad(back, viewer));
  PetscCall(PetscViewerHDF5ReadAttribute(viewer, "/psi", "energy", PETSC_REAL, NULL, &energy));
  PetscCall(PetscViewerHDF5ReadAttribute(viewer, "/psi", "nqubits", PETSC_INT, NULL, &nread));
  PetscCall(PetscViewerDestroy(&viewer));
  PetscCall(VecAXPY(back, -1.0, psi));
  PetscCall(VecNorm(back, NORM_INFINITY, &diff));
  PetscCheck(diff == 0.0, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "state read back differs by %g", (double)diff);
  PetscCheck(energy == st.energy, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "energy attribute %.17g != %.17g", (double)energy, (double)st.energy);
  PetscCheck(nread == n, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "nqubits attribute %" PetscInt_FMT " != %" PetscInt_FMT, nread, n);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ok: %s holds /psi (2^%" PetscInt_FMT " entries), energy %.15g, read back exactly\n", path, n, (double)energy));

  PetscCall(VecDestroy(&back));
  PetscCall(QepGroundSolverDestroy(&solver));
  PetscCall(QepOperatorDestroy(&op));
  PetscCall(QepPauliSumFree(&H));
  PetscCall(SlepcFinalize());
  return 0;
}
