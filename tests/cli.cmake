# The `qep ground` command: JSON summaries at 1/2/4 ranks for both operators agree to 1e-10, the
# HDF5 state round-trips, and every kind of bad input exits non-zero with its message.
set(QEP_CLI_OUT ${CMAKE_CURRENT_BINARY_DIR}/cli_out)
file(MAKE_DIRECTORY ${QEP_CLI_OUT})
set(CLI_TFIM -qep_model tfim -qep_lattice chain -qep_n 12 -qep_J 1 -qep_J_spread 0.3 -qep_gamma 0.9 -qep_b 0.05 -qep_seed 3 -qep_gap)
set(CLI_JSONS_TFIM "")
set(CLI_JSONS_XYZ "")
foreach(optype aij shell)
  foreach(r 1 2 4)
    qep_mpi_test(NAME cli_ground_tfim_${optype} RANKS ${r}
      COMMAND ${QEP_CLI} ground ${CLI_TFIM} -qep_operator ${optype} -qep_json ${QEP_CLI_OUT}/tfim_${optype}_np${r}.json)
    set_tests_properties(cli_ground_tfim_${optype}_np${r} PROPERTIES FIXTURES_SETUP cli_tfim)
    list(APPEND CLI_JSONS_TFIM ${QEP_CLI_OUT}/tfim_${optype}_np${r}.json)
    qep_mpi_test(NAME cli_ground_xyz_${optype} RANKS ${r}
      COMMAND ${QEP_CLI} ground -qep_model_file ${QEP_TEST_DATA}/cli_xyz.model -qep_gap -qep_operator ${optype} -qep_json ${QEP_CLI_OUT}/xyz_${optype}_np${r}.json)
    set_tests_properties(cli_ground_xyz_${optype}_np${r} PROPERTIES FIXTURES_SETUP cli_xyz)
    list(APPEND CLI_JSONS_XYZ ${QEP_CLI_OUT}/xyz_${optype}_np${r}.json)
  endforeach()
endforeach()
add_test(NAME cli_ground_tfim_agree COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_json.py 1e-10 ${CLI_JSONS_TFIM})
set_tests_properties(cli_ground_tfim_agree PROPERTIES FIXTURES_REQUIRED cli_tfim)
add_test(NAME cli_ground_xyz_agree COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_json.py 1e-10 ${CLI_JSONS_XYZ})
set_tests_properties(cli_ground_xyz_agree PROPERTIES FIXTURES_REQUIRED cli_xyz)

qep_mpi_test(NAME state_hdf5 RANKS 1 2 4 COMMAND $<TARGET_FILE:test_state_io> -out ${QEP_CLI_OUT}/state)

qep_error_test(NAME cli_unknown_command RANKS 1 MATCH "Unknown command 'grund'" COMMAND ${QEP_CLI} grund)
qep_error_test(NAME cli_no_command RANKS 1 MATCH "No command given" COMMAND ${QEP_CLI})
qep_error_test(NAME cli_shell_three_ranks RANKS 3 MATCH "power-of-two" COMMAND ${QEP_CLI} ground -qep_n 8 -qep_operator shell)
qep_error_test(NAME cli_bad_operator RANKS 1 MATCH "aij|shell" COMMAND ${QEP_CLI} ground -qep_n 8 -qep_operator dense)
qep_error_test(NAME cli_degenerate RANKS 1 2 MATCH "Degenerate ground state"
  COMMAND ${QEP_CLI} ground -qep_model tfim -qep_lattice ring -qep_n 10 -qep_J 1 -qep_gamma 0.2 -qep_gap)
qep_error_test(NAME cli_not_converged RANKS 1 2 MATCH "did not converge"
  COMMAND ${QEP_CLI} ground -qep_n 12 -eps_max_it 1 -eps_ncv 4)
qep_error_test(NAME cli_missing_model_file RANKS 1 2 MATCH "no_such.model"
  COMMAND ${QEP_CLI} ground -qep_model_file ${QEP_TEST_DATA}/no_such.model)
qep_error_test(NAME cli_input_count RANKS 1 MATCH "input features"
  COMMAND ${QEP_CLI} ground -qep_model_file ${QEP_TEST_DATA}/cli_xyz.model -qep_input 1,2)
if(QEP_INDEX64)
  qep_error_test(NAME cli_too_many_qubits RANKS 1 MATCH "out of range|at most|allows" COMMAND ${QEP_CLI} ground -qep_n 63)
  qep_error_test(NAME cli_out_of_memory RANKS 1 MATCH "Not enough memory" COMMAND ${QEP_CLI} ground -qep_n 34)
else()
  qep_error_test(NAME cli_too_many_qubits RANKS 1 MATCH "out of range.*QEP_INDEX64" COMMAND ${QEP_CLI} ground -qep_n 31)
  qep_error_test(NAME cli_out_of_memory RANKS 1 MATCH "Not enough memory" COMMAND ${QEP_CLI} ground -qep_n 30)
endif()
qep_error_test(NAME cli_bad_gap_tol RANKS 1 MATCH "gap_tol"
  COMMAND ${QEP_CLI} ground -qep_n 6 -qep_gap_tol -1)
qep_error_test(NAME cli_json_unwritable RANKS 1 2 MATCH "no_such_dir"
  COMMAND ${QEP_CLI} ground -qep_n 6 -qep_json /no_such_dir/out.json)
if(QEP_COMPLEX)
  qep_mpi_test(NAME cli_odd_y_complex RANKS 1 2 COMMAND ${QEP_CLI} ground -qep_model_file ${QEP_TEST_DATA}/cli_oddy.model)
else()
  qep_error_test(NAME cli_odd_y_real RANKS 1 MATCH "cli_oddy.model:3.*QEP_COMPLEX"
    COMMAND ${QEP_CLI} ground -qep_model_file ${QEP_TEST_DATA}/cli_oddy.model)
endif()
