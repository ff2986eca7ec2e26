# Expectation values (qep/observe.h), tests/test_expectation.c: QepExpectationCompute and
# ComputeTransition against brute-force Pauli application for n = 2, 3, 5, 7, 10, 12 and a mix of
# strings (pure X, X with Z, Y, one flip group with many strings, flips across rank boundaries, every
# lane permutation, random strings), at 1/2/4 ranks; with the default (SIMD) kernels, the scalar
# kernels, smaller tiles (several tiles per rank, each of several transform blocks at 2^11 rows;
# many tiny tiles at 2^4 and 2^3 rows: whole-tile and whole-chunk halving), and an irregular
# layout (uneven ranges, one rank empty) at 3 ranks.
qep_mpi_test(NAME expectation RANKS 1 2 4 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation>)
qep_mpi_test(NAME expectation_scalar RANKS 1 2 4 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -qep_expectation_vector false)
qep_mpi_test(NAME expectation_tiles11 RANKS 1 2 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -qep_expectation_tile_bits 11)
qep_mpi_test(NAME expectation_tiles4 RANKS 1 2 4 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -qep_expectation_tile_bits 4)
qep_mpi_test(NAME expectation_tiles3 RANKS 1 2 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -qep_expectation_tile_bits 3)
qep_mpi_test(NAME expectation_skew RANKS 3 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -skew)
qep_mpi_test(NAME expectation_skew_scalar RANKS 3 TIMEOUT 60 COMMAND $<TARGET_FILE:test_expectation> -skew -qep_expectation_vector false)
