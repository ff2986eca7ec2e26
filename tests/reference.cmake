# reference.cmake — the independent reference solutions (tests/common/reference.c) checked against
# hand-written matrices, dense LAPACK diagonalisation and the free-fermion TFIM. Serial by nature.
qep_mpi_test(NAME reference RANKS 1 TIMEOUT 60 COMMAND $<TARGET_FILE:test_reference>)
