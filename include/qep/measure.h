/* qep/measure.h — projective measurements of a distributed state, as on hardware.
 *
 * Sampling: N shots are N bitstrings drawn from a probability vector p (|ψ|² in some basis). Every
 * probability is quantised to an integer weight by a rule that depends only on p(s) and on an exact
 * global max, so the cumulative distribution is an exact 128-bit integer prefix sum (local prefix +
 * MPI_Exscan) identical at any rank count. Shot j is the global uniform integer u_j = f(seed, stream, j) in [0, total); the
 * shot lands on the basis state whose cumulative interval holds u_j. Each rank keeps the shots that
 * fall in its own interval, which is an exact multinomial split of N over ranks. Hence: the same
 * (seed, stream) gives the same bitstrings at any rank count.
 *
 * Settings: a list of Pauli strings is partitioned greedily into qubit-wise commuting groups (on
 * every qubit the non-identity factors of a group agree). Each group is one measurement setting with
 * a basis string B (the union of its members' factors); measuring in that basis means rotating
 * every qubit with an X factor by H and every qubit with a Y factor by H·S†, then reading Z. A
 * member string t is then estimated per shot b as (−1)^popcount(b & support(t)).
 * Real states rotated into a Y basis become complex: the real build carries (re, im) work vectors. */
#pragma once
#include <qep/pauli.h>
#include <petscvec.h>
#include <petscviewer.h>

/* ---------------------------------------------------------------- sampling ---------------------- */
/* Draws nshots basis states from the non-negative vector prob (normalised by its sum, which must be
 * positive; in the complex build the real parts are used). On return *nlocal shots fell on this rank;
 * (*shots)[0..nlocal) are their global basis indices in ascending order (PetscFree them; NULL when
 * none). Concatenating every rank's list in rank order gives the same sorted list at any rank count.
 * Quantisation: w(s) = floor(p(s) 2^(62-e)) with 2^(e-1) <= max p < 2^e (exact, 128-bit sums), so
 * p(s) = 0 is never drawn and the floor shifts any probability by less than 2^-61 max p. Shot j uses
 * the 128-bit integer r_j = h(2j) 2^64 + h(2j+1), h(c) the splitmix64 hash behind
 * QepRandomUniform(seed, stream, c), and u_j = floor(r_j W / 2^128) with W the total weight; shot j
 * is the state whose cumulative interval holds u_j. nshots = 0 returns no shots (prob is not read).
 * Errors: nshots < 0, a negative/NaN/infinite entry, or a zero vector ("state has zero norm").
 * Cost O(local states + nshots) per rank (every rank hashes all nshots). Collective on prob. */
PETSC_EXTERN PetscErrorCode QepSampleDistribution(Vec prob, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscInt64 *nlocal, PetscInt64 **shots);
/* prob[s] = |⟨s| U_B |ψ⟩|², U_B the product of single-qubit rotations that map the eigenbasis of
 * basis string B (factors X, Y, Z; identity qubits untouched) to the computational basis: H on X
 * qubits, H·S† on Y qubits, so the eigenvector of eigenvalue (−1)^b of each factor maps to bit b
 * (|+⟩ -> |0⟩, (|0⟩ + i|1⟩)/√2 -> |0⟩). prob has psi's layout and may be psi itself (overwritten);
 * psi need not be normalised (prob sums to ⟨ψ|ψ⟩). Works for any rank count and ownership layout
 * (qubits whose pair partners live on other ranks are exchanged: MPI_Sendrecv between matching ranks,
 * VecScatter otherwise), and the result is bit-identical at every rank count. Cost: a few passes over
 * the local states plus one exchange of the local array per qubit above the local block. Collective. */
PETSC_EXTERN PetscErrorCode QepRotatedProbabilities(Vec psi, QepPauli basis, Vec prob);
/* Value ±1 of the measured string t on shot outcome b in t's own eigenbasis. */
static inline int QepShotValue(QepPauli t, PetscInt64 b) { return (__builtin_popcountll((uint64_t)b & (t.x | t.z)) & 1) ? -1 : 1; }

/* ---------------------------------------------------------------- settings ---------------------- */
typedef struct _p_QepMeasurement *QepMeasurement;

/* 1 <= nqubits <= QepMaxQubits(). */
PETSC_EXTERN PetscErrorCode QepMeasurementCreate(MPI_Comm, PetscInt nqubits, QepMeasurement *);
PETSC_EXTERN PetscErrorCode QepMeasurementDestroy(QepMeasurement *);
/* The strings to measure (copied; every string must act on qubits < nqubits; identity strings are
 * allowed and always measure +1, duplicates are allowed and share a setting). Groups are formed by
 * SetUp: strings in order of decreasing weight (ties: input order) each join the first setting they
 * qubit-wise commute with, else open a new one; settings are numbered in creation order. (An identity
 * string thus joins setting 0.) Setting again discards the settings; the getters below set up. */
PETSC_EXTERN PetscErrorCode QepMeasurementSetStrings(QepMeasurement, PetscInt nstrings, const QepPauli strings[]);
PETSC_EXTERN PetscErrorCode QepMeasurementSetUp(QepMeasurement);
PETSC_EXTERN PetscErrorCode QepMeasurementGetNumSettings(QepMeasurement, PetscInt *nsettings);
/* Setting s: its basis string and its member strings (indices into the SetStrings list, ascending). */
PETSC_EXTERN PetscErrorCode QepMeasurementGetSetting(QepMeasurement, PetscInt s, QepPauli *basis, PetscInt *nmembers, const PetscInt **members);
/* The setting that measures string t. */
PETSC_EXTERN PetscErrorCode QepMeasurementGetStringSetting(QepMeasurement, PetscInt t, PetscInt *s);
/* Rotates psi into setting s's basis and samples nshots outcomes (see QepSampleDistribution; the
 * caller picks distinct streams for distinct settings/phases). Member t's value on shot b is
 * QepShotValue(strings[t], b). Collective. */
PETSC_EXTERN PetscErrorCode QepMeasurementSample(QepMeasurement, Vec psi, PetscInt s, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscInt64 *nlocal, PetscInt64 **shots);
/* Shot estimate of every string: setting s (s = 0 .. nsettings-1) is rotated and sampled with
 * exactly QepMeasurementSample(m, psi, s, nshots, seed, stream + s, ...), i.e. stream value
 * stream + s; two calls therefore draw independent shots when their stream ranges
 * [stream, stream + nsettings) do not overlap. Settings whose members are all the identity are not
 * sampled. mean[t] is the average of the ±1 values of string t over its setting's nshots shots,
 * stderr_[t] = sqrt(s²/N) with s² the unbiased sample variance (N - 1 denominator; 0 when N = 1);
 * identity strings give mean 1, stderr 0. Either output may be NULL. nshots must be >= 1. The shot
 * sums are reduced as exact integers (one MPI_Allreduce per call), so the results are bit-identical on
 * every rank and at every rank count. Collective. */
PETSC_EXTERN PetscErrorCode QepMeasurementEstimate(QepMeasurement, Vec psi, PetscInt64 nshots, PetscInt64 seed, PetscInt64 stream, PetscReal mean[], PetscReal stderr_[]);
/* Prints the settings (basis string and member count of each); viewer NULL: stdout of the comm. */
PETSC_EXTERN PetscErrorCode QepMeasurementView(QepMeasurement, PetscViewer viewer);
