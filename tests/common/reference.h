/* reference.h — independent reference solutions that qep's tests compare against.
 *
 * Everything here is serial, dense and deliberately naive: it shares no code path with libqep's
 * bit-mask operators, solvers or observables. The only libqep functions used are the Pauli-string
 * accessors QepPauliGetFactor / QepPauliSetFactor and the QepPauliSum container.
 *
 * Conventions shared by every function:
 *   - qubit q is bit q of the basis index s (the rightmost Kronecker factor is qubit 0);
 *   - dense matrices are N x N column-major with N = 2^n, entry (r, c) at H[r + c*N];
 *   - returned arrays are allocated with PetscMalloc and owned by the caller (PetscFree);
 *   - in the real build a string with an odd number of Y factors is an error (its matrix is imaginary);
 *   - dense functions accept 1 <= n <= REF_DENSE_MAX_QUBITS (memory grows as 4^n).
 * The transverse-field Ising model used throughout is
 *     H = -sum_i J_i Z_i Z_{i+1} - sum_i h_i X_i,
 * open: bonds i = 0..n-2; periodic: also the bond (n-1, 0) carrying J_{n-1}. */
#pragma once
#include <qep/pauli.h>
#include <petscvec.h>

/* 4^12 scalars = 256 MiB complex (plus 128 MiB of Kronecker workspace): the largest dense matrix a
 * test may reasonably build; a dense eigen-decomposition at this size already takes minutes. */
#define REF_DENSE_MAX_QUBITS 12

/* Dense H = sum_t coeffs[t] * strings[t], each string built as the Kronecker product
 * sigma_{n-1} (x) ... (x) sigma_0 of explicit 2x2 Pauli matrices (letters from QepPauliGetFactor).
 * Duplicated strings simply add. *H is a new N x N column-major array (caller PetscFree's).
 * Fails (PETSC_ERR_ARG_OUTOFRANGE) for n outside [1, REF_DENSE_MAX_QUBITS] or a string acting on a
 * qubit >= n; in the real build (PETSC_ERR_SUP) for a string whose matrix is not real. */
PETSC_EXTERN PetscErrorCode RefDenseHamiltonian(PetscInt n, PetscInt nterms, const QepPauli strings[], const PetscReal coeffs[], PetscScalar **H);

/* Same as RefDenseHamiltonian for a QepPauliSum. */
PETSC_EXTERN PetscErrorCode RefDenseHamiltonianFromSum(PetscInt n, const QepPauliSum *sum, PetscScalar **H);

/* All eigenvalues of the Hermitian N x N column-major matrix H, ascending, into evals[N]
 * (caller-allocated). If evecs is non-NULL it receives the orthonormal eigenvectors as columns
 * (N x N column-major, caller-allocated; column j belongs to evals[j]). H is not modified.
 * LAPACK syev (real build) / heev (complex build); only the lower triangle of H is read.
 * Fails with PETSC_ERR_LIB if LAPACK reports an error or no convergence. */
PETSC_EXTERN PetscErrorCode RefDenseEigen(PetscInt N, const PetscScalar H[], PetscReal evals[], PetscScalar evecs[]);

/* Ground state of the 2^n x 2^n Hermitian H: E0 and E1 are the two lowest eigenvalues counted with
 * multiplicity (so E1 == E0 for a degenerate ground state); either pointer may be NULL.
 * If psi0 is non-NULL (caller-allocated, length 2^n) it receives the normalised ground vector with
 * the phase fixed so that its largest-modulus entry (first one on ties) is real and positive; this
 * vector is only meaningful when E1 - E0 is clearly positive. Fails like RefDenseEigen. */
PETSC_EXTERN PetscErrorCode RefDenseGround(PetscInt n, const PetscScalar H[], PetscReal *E0, PetscReal *E1, PetscScalar psi0[]);

/* y = H x for a dense N x N column-major H (plain loops, no BLAS). x and y must not alias. Cannot fail. */
PETSC_EXTERN PetscErrorCode RefDenseMatVec(PetscInt N, const PetscScalar H[], const PetscScalar x[], PetscScalar y[]);

/* <psi|O|psi> / <psi|psi> for O = sum_t coeffs[t] strings[t], via the dense Kronecker matrix of O.
 * psi has length 2^n. Fails like RefDenseHamiltonian, or with PETSC_ERR_ARG_WRONG for a zero psi. */
PETSC_EXTERN PetscErrorCode RefDenseExpectation(PetscInt n, const PetscScalar psi[], PetscInt nterms, const QepPauli strings[], const PetscReal coeffs[], PetscReal *value);

/* The TFIM above as a Pauli sum (duplicate strings merged, e.g. the two bonds of a periodic n = 2
 * ring). sum must be initialised (QepPauliSumInit) and is appended to; caller QepPauliSumFree's.
 * Fails (PETSC_ERR_ARG_OUTOFRANGE) for n < 2 or n > 64. */
PETSC_EXTERN PetscErrorCode RefTFIMPauliSum(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, QepPauliSum *sum);

/* Exact ground energy E0 of the TFIM above for arbitrary real site-dependent J[] (length n-1 open,
 * n periodic) and h[] (length n), by Jordan-Wigner to Majorana fermions: H = i sum_jk W_jk a_j b_k
 * with W the n x n (cyclic) bidiagonal matrix of the fields and couplings; the single-particle
 * energies are 2 s_k with s_k the singular values of W, computed as the non-negative eigenvalues
 * of the symmetric 2n x 2n matrix [[0, W], [W^T, 0]] (LAPACK). Periodic chains are solved in both
 * fermion-parity sectors with their own boundary condition, and a sector whose fermionic vacuum
 * has the wrong parity pays for its cheapest quasi-particle; E0 is the lower sector. Cost O(n^3).
 * Fails (PETSC_ERR_ARG_OUTOFRANGE) for n < 2, or like RefDenseEigen. */
PETSC_EXTERN PetscErrorCode RefTFIMFreeFermion(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, PetscReal *E0);

/* As RefTFIMFreeFermion, plus E1 (may be NULL): the exact second-lowest level counted with
 * multiplicity, so E1 - E0 is the first excitation gap (exponentially small but still exact in the
 * ordered phase, where the ground state becomes quasi-degenerate). */
PETSC_EXTERN PetscErrorCode RefTFIMFreeFermionLevels(PetscInt n, const PetscReal J[], const PetscReal h[], PetscBool periodic, PetscReal *E0, PetscReal *E1);

/* Closed form for the uniform periodic ring (J_i = J, h_i = h): with s(k) = sqrt(J^2 + h^2 - 2 J h cos k)
 * the even-parity sector uses k = (2m-1) pi / n and the odd-parity sector k = 2 m pi / n,
 * m = 1..n; a sector's vacuum energy is -sum_k s(k), its vacuum parity is sign(h^n + J^n) resp.
 * sign(h^n - J^n), and a vacuum of the wrong parity is lifted by 2 min_k s(k). For J, h > 0 this
 * is the classic E0 = -sum_{k in NS} s(k). E1 as in RefTFIMFreeFermionLevels (may be NULL).
 * No LAPACK; fails (PETSC_ERR_ARG_OUTOFRANGE) only for n < 2. */
PETSC_EXTERN PetscErrorCode RefTFIMUniformPeriodic(PetscInt n, PetscReal J, PetscReal h, PetscReal *E0, PetscReal *E1);

/* Distributed-vector helpers of the tests. RefCreateState: 2^n entries on PETSC_COMM_WORLD with
 * PETSc's default layout, or with skew, local sizes proportional to (rank+1)^2 (rank 1 empty from 3
 * ranks on), so blocks are unaligned and some rank may own nothing. RefGatherAll: the whole of v on every rank (length
 * VecGetSize, caller PetscFree's). RefVecSetGlobal: v's owned entries from the global array a. */
PETSC_EXTERN PetscErrorCode RefCreateState(PetscInt n, PetscBool skew, Vec *v);
PETSC_EXTERN PetscErrorCode RefGatherAll(Vec v, PetscScalar **all);
PETSC_EXTERN PetscErrorCode RefVecSetGlobal(Vec v, const PetscScalar a[]);
