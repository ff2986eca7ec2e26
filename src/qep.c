/* qep.c — package registration (log events), build flavour and rank-independent random numbers. */
#include "qepimpl.h"
#include <unistd.h>

PetscLogEvent QEP_ModelRead, QEP_ModelGenerate, QEP_OperatorSetUp, QEP_OperatorUpdate, QEP_ShellMult, QEP_ShellExchange,
  QEP_GroundSolve, QEP_Expectation, QEP_StateWrite, QEP_Rotate, QEP_Sample, QEP_QhoMean, QEP_QhoCovariance, QEP_QhoFockSetUp,
  QEP_QhoFockSolve, QEP_Lanczos;

static PetscBool QepPackageInitialized = PETSC_FALSE;

PetscErrorCode QepInitializePackage(void)
{
  PetscClassId classid;

  PetscFunctionBegin;
  if (QepPackageInitialized) PetscFunctionReturn(0);
  QepPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("QEP", &classid));
  PetscCall(PetscLogEventRegister("QepModelRead", classid, &QEP_ModelRead));
  PetscCall(PetscLogEventRegister("QepModelGenerate", classid, &QEP_ModelGenerate));
  PetscCall(PetscLogEventRegister("QepOpSetUp", classid, &QEP_OperatorSetUp));
  PetscCall(PetscLogEventRegister("QepOpUpdate", classid, &QEP_OperatorUpdate));
  PetscCall(PetscLogEventRegister("QepShellMult", classid, &QEP_ShellMult));
  PetscCall(PetscLogEventRegister("QepShellExchange", classid, &QEP_ShellExchange));
  PetscCall(PetscLogEventRegister("QepGroundSolve", classid, &QEP_GroundSolve));
  PetscCall(PetscLogEventRegister("QepExpectation", classid, &QEP_Expectation));
  PetscCall(PetscLogEventRegister("QepStateWrite", classid, &QEP_StateWrite));
  PetscCall(PetscLogEventRegister("QepRotate", classid, &QEP_Rotate));
  PetscCall(PetscLogEventRegister("QepSample", classid, &QEP_Sample));
  PetscCall(PetscLogEventRegister("QepQhoMean", classid, &QEP_QhoMean));
  PetscCall(PetscLogEventRegister("QepQhoCovariance", classid, &QEP_QhoCovariance));
  PetscCall(PetscLogEventRegister("QepQhoFockSetUp", classid, &QEP_QhoFockSetUp));
  PetscCall(PetscLogEventRegister("QepQhoFockSolve", classid, &QEP_QhoFockSolve));
  PetscCall(PetscLogEventRegister("QepLanczos", classid, &QEP_Lanczos));
  PetscFunctionReturn(0);
}

PetscBool QepIsComplexBuild(void)
{
#if defined(PETSC_USE_COMPLEX)
  return PETSC_TRUE;
#else
  return PETSC_FALSE;
#endif
}

static inline uint64_t SplitMix64(uint64_t z)
{
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double QepRandomUniform(PetscInt64 seed, PetscInt64 stream, PetscInt64 counter)
{
  uint64_t h = SplitMix64(SplitMix64(SplitMix64((uint64_t)seed) ^ (uint64_t)stream) ^ (uint64_t)counter);
  return (double)(h >> 11) * 0x1.0p-53; /* 53 random bits -> [0,1) */
}

PetscErrorCode QepCheckMemory(MPI_Comm comm, PetscLogDouble bytes, const char what[])
{
  PetscLogDouble physical = (PetscLogDouble)sysconf(_SC_PHYS_PAGES) * (PetscLogDouble)sysconf(_SC_PAGESIZE), worst;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&bytes, &worst, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCheck(physical <= 0 || worst < physical, comm, PETSC_ERR_MEM,
             "Not enough memory: %s need %.1f GiB on one rank but this machine has %.1f GiB in total. Use more ranks (on more nodes), "
             "-qep_operator shell (no stored matrix), or fewer qubits",
             what, worst / 1073741824.0, physical / 1073741824.0);
  PetscFunctionReturn(0);
}
