# Ground states against dense LAPACK and free-fermion references, aij and shell. The dense models and
# TFIM chains up to n = 16 run at 1/2/4 ranks; the n = 20 chains (open and periodic) at 2 ranks.
foreach(optype aij shell)
  qep_mpi_test(NAME ground_exact_${optype} RANKS 1 2 4 TIMEOUT 600
    COMMAND $<TARGET_FILE:test_ground> -qep_operator ${optype} -tfim_nmin 8 -tfim_nmax 16)
  qep_mpi_test(NAME ground_exact_n20_${optype} RANKS 2 TIMEOUT 600
    COMMAND $<TARGET_FILE:test_ground> -qep_operator ${optype} -dense false -tfim_nmin 20 -tfim_nmax 20)
endforeach()

# The lean Lanczos eigensolver (-qep_eigensolver lanczos) against the same references, gap by
# deflation included: stored basis (default budget) at 1/2/4 ranks, the regenerating second pass
# (-qep_lanczos_memory 0), and the SLEPc fallback when the step limit is too small.
qep_mpi_test(NAME ground_lanczos_shell RANKS 1 2 4 TIMEOUT 600
  COMMAND $<TARGET_FILE:test_ground> -qep_operator shell -qep_eigensolver lanczos -expect_fallback false -tfim_nmin 8 -tfim_nmax 16)
qep_mpi_test(NAME ground_lanczos_twopass_aij RANKS 1 3 TIMEOUT 600
  COMMAND $<TARGET_FILE:test_ground> -qep_operator aij -qep_eigensolver lanczos -qep_lanczos_memory 0 -expect_fallback false -tfim_nmin 12 -tfim_nmax 16)
qep_mpi_test(NAME ground_lanczos_fallback RANKS 1 2
  COMMAND $<TARGET_FILE:test_ground> -qep_operator shell -qep_eigensolver lanczos -qep_lanczos_max_it 4 -expect_fallback true -tfim_nmin 8 -tfim_nmax 8)
qep_error_test(NAME ground_lanczos_bad_max_it RANKS 1 MATCH "qep_lanczos_max_it must be >= 1"
  COMMAND ${QEP_CLI} ground -qep_model tfim -qep_n 6 -qep_eigensolver lanczos -qep_lanczos_max_it 0)
qep_error_test(NAME ground_lanczos_bad_memory RANKS 1 MATCH "qep_lanczos_memory must be >= 0"
  COMMAND ${QEP_CLI} ground -qep_model tfim -qep_n 6 -qep_eigensolver lanczos -qep_lanczos_memory -1)
qep_error_test(NAME ground_bad_eigensolver RANKS 1 MATCH "qep_eigensolver"
  COMMAND ${QEP_CLI} ground -qep_model tfim -qep_n 6 -qep_eigensolver arnoldi)
qep_error_test(NAME ground_bad_excited_tol RANKS 1 MATCH "qep_excited_tol must be in"
  COMMAND ${QEP_CLI} ground -qep_model tfim -qep_n 6 -qep_gap -qep_eigensolver lanczos -qep_excited_tol 1.5)
