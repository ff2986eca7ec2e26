/* qep/pauli.h — Pauli strings and Pauli sums.
 *
 * A Pauli string on up to 64 qubits is two bit masks: x (qubits whose basis bit it flips: X or Y)
 * and z (qubits that contribute a sign: Z or Y). With Y = iXZ the string is
 *     P(x,z) = i^ny X^x Z^z,  ny = popcount(x & z),
 * so P|s> = i^ny (-1)^popcount(s & z) |s ^ x>.  Qubit q is bit q of the basis index s.
 * Every Pauli string is Hermitian; it has real matrix elements exactly when ny is even.
 * A QepPauliSum is a list of distinct strings with real coefficients (duplicates are merged on add). */
#pragma once
#include <petscsys.h>
#include <stdint.h>

#define QEP_PAULI_MAX_QUBITS 64

typedef struct {
  uint64_t x; /* bit q: factor X or Y on qubit q */
  uint64_t z; /* bit q: factor Z or Y on qubit q */
} QepPauli;

static inline int QepPauliNumY(QepPauli p) { return __builtin_popcountll(p.x & p.z); }
static inline PetscBool QepPauliIsReal(QepPauli p) { return (QepPauliNumY(p) % 2) == 0 ? PETSC_TRUE : PETSC_FALSE; }
static inline PetscBool QepPauliEqual(QepPauli a, QepPauli b) { return (a.x == b.x && a.z == b.z) ? PETSC_TRUE : PETSC_FALSE; }
static inline PetscBool QepPauliIsIdentity(QepPauli p) { return (p.x | p.z) == 0 ? PETSC_TRUE : PETSC_FALSE; }
static inline int QepPauliWeight(QepPauli p) { return __builtin_popcountll(p.x | p.z); }
/* Highest qubit the string acts on, -1 for the identity. */
static inline int QepPauliMaxQubit(QepPauli p) { return (p.x | p.z) ? 63 - __builtin_clzll(p.x | p.z) : -1; }
/* Sign (-1)^popcount(s & z) of the Z part on basis state s. */
static inline int QepPauliZSign(QepPauli p, uint64_t s) { return (__builtin_popcountll(s & p.z) & 1) ? -1 : 1; }

/* Sets the factor op ('X','Y','Z', case-insensitive; 'I' is a no-op) on qubit q.
 * Returns 0 on success, 1 if op is not a Pauli letter, 2 if q is out of [0,64), 3 if q already has a factor. */
PETSC_EXTERN int QepPauliSetFactor(QepPauli *p, char op, int q);
/* Factor on qubit q: 'I', 'X', 'Y' or 'Z'. */
PETSC_EXTERN char QepPauliGetFactor(QepPauli p, int q);
/* Writes "X0 Y3 Z5" (ascending qubits) or "I" for the identity; never overflows buf, always terminates. */
PETSC_EXTERN void QepPauliToString(QepPauli p, char buf[], size_t len);
/* Product a*b = i^phase * c, phase in {0,1,2,3}. */
PETSC_EXTERN void QepPauliMultiply(QepPauli a, QepPauli b, QepPauli *c, int *phase);
/* PETSC_TRUE when a and b commute. */
PETSC_EXTERN PetscBool QepPauliCommute(QepPauli a, QepPauli b);

typedef struct {
  PetscInt   n, alloc;
  QepPauli  *strings;
  PetscReal *coeffs;
} QepPauliSum;

PETSC_EXTERN PetscErrorCode QepPauliSumInit(QepPauliSum *);
/* Adds c*p, merging with an equal string already present. */
PETSC_EXTERN PetscErrorCode QepPauliSumAdd(QepPauliSum *, QepPauli p, PetscReal c);
/* Index of p in the sum or -1. */
PETSC_EXTERN PetscErrorCode QepPauliSumFind(const QepPauliSum *, QepPauli p, PetscInt *index);
PETSC_EXTERN PetscErrorCode QepPauliSumCopy(const QepPauliSum *src, QepPauliSum *dst);
PETSC_EXTERN PetscErrorCode QepPauliSumFree(QepPauliSum *);
