/* qepsimd.h — what qep's vectorised kernels share (observe.c, lanczos.c, operator/shell_kernel.c,
 * operator/shell_plan.c): function multiversioning (AVX-512, AVX2 and baseline x86-64 clones, one
 * picked at load time) and, in double precision, 8-wide double vectors with their loads, lane
 * permutations and the lane-sign table of the Walsh-Hadamard-style kernels.
 * Invariant: every helper taking or returning a vector is static and always inlined, so no vector
 * crosses an ABI boundary; that is why -Wpsabi is silenced from here to the end of the including
 * file (GCC reports it at the end of the file). Include after the PETSc headers. */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  #define QEP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
  #if defined(PETSC_USE_REAL_DOUBLE)
    #define QEP_HAVE_V8   1
    #define QEP_V8_INLINE static inline __attribute__((always_inline))
    #pragma GCC diagnostic ignored "-Wpsabi"

typedef double    v8d __attribute__((vector_size(64)));
typedef double    v8du __attribute__((vector_size(64), aligned(8))); /* PETSc arrays are only 16-byte aligned */
typedef long long v8i __attribute__((vector_size(64)));

/* kLaneSign8[m][lane] = (-1)^popcount(lane & m) */
static const double kLaneSign8[8][8] __attribute__((unused)) = {
  {1, 1, 1, 1, 1, 1, 1, 1},     {1, -1, 1, -1, 1, -1, 1, -1}, {1, 1, -1, -1, 1, 1, -1, -1}, {1, -1, -1, 1, 1, -1, -1, 1},
  {1, 1, 1, 1, -1, -1, -1, -1}, {1, -1, 1, -1, -1, 1, -1, 1}, {1, 1, -1, -1, -1, -1, 1, 1}, {1, -1, -1, 1, -1, 1, 1, -1},
};

QEP_V8_INLINE v8d  Load8(const double *p) { return *(const v8du *)p; }
QEP_V8_INLINE void Store8(double *p, v8d v) { *(v8du *)p = v; }
    /* lanes permuted by XOR with the constant m: lane l takes lane l ^ m */
    #define PERMUTE8(v, m) __builtin_shuffle((v), (v8i){0 ^ (m), 1 ^ (m), 2 ^ (m), 3 ^ (m), 4 ^ (m), 5 ^ (m), 6 ^ (m), 7 ^ (m)})
  #endif
#else
  #define QEP_CLONES
#endif
