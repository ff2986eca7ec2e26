# Ground states against dense LAPACK and free-fermion references, aij and shell. The dense models and
# TFIM chains up to n = 16 run at 1/2/4 ranks; the n = 20 chains (open and periodic) at 2 ranks.
foreach(optype aij shell)
  qep_mpi_test(NAME ground_exact_${optype} RANKS 1 2 4 TIMEOUT 600
    COMMAND $<TARGET_FILE:test_ground> -qep_operator ${optype} -tfim_nmin 8 -tfim_nmax 16)
  qep_mpi_test(NAME ground_exact_n20_${optype} RANKS 2 TIMEOUT 600
    COMMAND $<TARGET_FILE:test_ground> -qep_operator ${optype} -dense false -tfim_nmin 20 -tfim_nmax 20)
endforeach()
