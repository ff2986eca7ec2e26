# Matrix-free operator: brute-force reference checks at 1/2/4 ranks, and the rank-count rule.
target_include_directories(test_shell PRIVATE ${PROJECT_SOURCE_DIR}/src)
qep_mpi_test(NAME shell_reference RANKS 1 2 4 TIMEOUT 120 COMMAND $<TARGET_FILE:test_shell>)
qep_error_test(NAME shell_ranks_not_power_of_two RANKS 3 MATCH "power-of-two" COMMAND $<TARGET_FILE:test_shell> -n_max 4 -n_tiling 0)
