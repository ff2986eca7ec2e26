# Truncated Fock-space solver of oscillator networks (src/qho/fock.c through qep/qho.h), tests/test_qho_fock.c:
# a harmonic mode against the analytic oscillator (exact at every d) and two coupled modes against their
# normal modes (errors falling with d); a 4-mode chain against the exact Gaussian solver (monotone in
# d = 4..10, energy < 1e-8 at d = 10, ⟨H⟩ from the moments = eigenvalue); quartic modes against the known
# p² + x² + x⁴ ground energy and a sinc-DVR/LAPACK position-grid reference (1e-8); the centred QEP
# gradient on the Fock path against finite differences of the Fock loss (1e-5). All at 1, 2 and 4 ranks;
# the moments written at each rank count must agree to 1e-10; bad levels, oversized spaces and springs that
# leave H unbounded below (no quartic term) fail with their message.
set(QHOFOCK_OUT ${CMAKE_CURRENT_BINARY_DIR}/qhofock_out)
file(MAKE_DIRECTORY ${QHOFOCK_OUT})
foreach(case single chain anharmonic gradient)
  qep_mpi_test(NAME qhofock_${case} RANKS 1 2 4 TIMEOUT 60 COMMAND $<TARGET_FILE:test_qho_fock> -case ${case})
endforeach()

set(files "")
foreach(r 1 2 4)
  set(out ${QHOFOCK_OUT}/moments_np${r}.txt)
  qep_mpi_test(NAME qhofock_ranks RANKS ${r} TIMEOUT 60 COMMAND $<TARGET_FILE:test_qho_fock> -case ranks -out ${out})
  set_tests_properties(qhofock_ranks_np${r} PROPERTIES FIXTURES_SETUP qhofock_files)
  list(APPEND files ${out})
endforeach()
string(REPLACE ";" "," files "${files}")
add_test(NAME qhofock_ranks_agree COMMAND $<TARGET_FILE:test_qho_fock> -compare ${files} -compare_tol 1e-10)
set_tests_properties(qhofock_ranks_agree PROPERTIES FIXTURES_REQUIRED qhofock_files ENVIRONMENT "${QEP_TEST_ENV}"
  FAIL_REGULAR_EXPRESSION "PETSC ERROR;\\[qep\\] error")

qep_error_test(NAME qhofock_bad_levels RANKS 1 2 MATCH "2 levels per mode" COMMAND $<TARGET_FILE:test_qho_fock> -case levels)
qep_error_test(NAME qhofock_too_large RANKS 1 2 MATCH "Fock space too large|Not enough memory" COMMAND $<TARGET_FILE:test_qho_fock> -case huge)
qep_error_test(NAME qhofock_unbounded RANKS 1 2 MATCH "unbounded below" COMMAND $<TARGET_FILE:test_qho_fock> -case unbounded)
# The degeneracy check itself: a threshold above the real gap (≈ ħω) must stop the solve with its message.
qep_error_test(NAME qhofock_gap_check RANKS 1 2 MATCH "Degenerate ground state" COMMAND $<TARGET_FILE:test_qho_fock> -case chain -fock_gap_tol 10)
