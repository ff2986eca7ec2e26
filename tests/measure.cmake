# Shot measurements (qep/measure.h), tests/test_measure.c: chi-square of sampled shots, basis rotations
# against explicit 2x2 matrices (all 4^5 bases on 5 qubits, 4 bases on 17), sign conventions, greedy
# settings, shot means and standard errors on a TFIM ground state, Y bases; at 1/2/4 ranks, and at 3
# ranks with an irregular layout (uneven ranges, one rank empty).
qep_mpi_test(NAME measure RANKS 1 2 4 TIMEOUT 120 COMMAND $<TARGET_FILE:test_measure>)
qep_mpi_test(NAME measure_skew RANKS 3 TIMEOUT 120 COMMAND $<TARGET_FILE:test_measure> -skew)

# Rank invariance: shot lists, rotated probabilities (hex) and estimates written at 1, 2, 3 and 4
# ranks (and with irregular layouts at 3 and 4) must be byte-identical to the one-rank file.
set(MEAS_OUT ${CMAKE_CURRENT_BINARY_DIR}/measure_out)
file(MAKE_DIRECTORY ${MEAS_OUT})
set(MEAS_FILES "")
foreach(r 1 2 3 4)
  qep_mpi_test(NAME measure_dump RANKS ${r} TIMEOUT 60 COMMAND $<TARGET_FILE:test_measure> -cases none -out ${MEAS_OUT}/dump_np${r}.txt)
  set_tests_properties(measure_dump_np${r} PROPERTIES FIXTURES_SETUP measure_dump_files)
  list(APPEND MEAS_FILES dump_np${r})
endforeach()
foreach(r 3 4)
  qep_mpi_test(NAME measure_dump_skew RANKS ${r} TIMEOUT 60 COMMAND $<TARGET_FILE:test_measure> -cases none -skew -out ${MEAS_OUT}/dump_skew_np${r}.txt)
  set_tests_properties(measure_dump_skew_np${r} PROPERTIES FIXTURES_SETUP measure_dump_files)
  list(APPEND MEAS_FILES dump_skew_np${r})
endforeach()
foreach(f ${MEAS_FILES})
  if(NOT f STREQUAL "dump_np1")
    add_test(NAME measure_ranks_agree_${f} COMMAND ${CMAKE_COMMAND} -E compare_files ${MEAS_OUT}/dump_np1.txt ${MEAS_OUT}/${f}.txt)
    set_tests_properties(measure_ranks_agree_${f} PROPERTIES FIXTURES_REQUIRED measure_dump_files)
  endif()
endforeach()

# Bad input fails with its message (and no crash), at 1 and 2 ranks.
qep_error_test(NAME measure_bad_nshots RANKS 1 2 MATCH "nshots = -1 is negative" COMMAND $<TARGET_FILE:test_measure> -bad nshots)
qep_error_test(NAME measure_bad_qubit RANKS 1 2 MATCH "\\(Z0 X6\\) acts on qubit 6, but the measurement has 6 qubits"
  COMMAND $<TARGET_FILE:test_measure> -bad qubit)
qep_error_test(NAME measure_bad_zero RANKS 1 2 MATCH "state has zero norm" COMMAND $<TARGET_FILE:test_measure> -bad zero)
qep_error_test(NAME measure_bad_negative RANKS 1 2 MATCH "non-negative and finite" COMMAND $<TARGET_FILE:test_measure> -bad negative)
qep_error_test(NAME measure_bad_estimate RANKS 1 2 MATCH "nshots = 0 per setting; an estimate needs nshots >= 1"
  COMMAND $<TARGET_FILE:test_measure> -bad estimate)
