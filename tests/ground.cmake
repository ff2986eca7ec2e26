# Ground states against dense LAPACK and free-fermion references, aij and shell, 1/2/4 ranks.
foreach(optype aij shell)
  qep_mpi_test(NAME ground_exact_${optype} RANKS 1 2 4 TIMEOUT 600
    COMMAND $<TARGET_FILE:test_ground> -qep_operator ${optype} -tfim_nmax 20)
endforeach()
