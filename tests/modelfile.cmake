# Model files (src/model/modelfile.c). test_modelfile: in-memory parsing against hand-written
# strings/couplings/parameters/outputs, loops, round trips, error classes and a seeded robustness
# loop (with -malloc_debug so its leak check measures real allocations). test_model_read: the
# -qep_model_file options path, the counts of good files (-expect) and the user-facing message of
# every kind of bad file (one data file tests/data/mf_bad_*.model each). Parsing is identical on
# every rank, so errors must be collective: a sample of the bad-file cases (file-level errors, a
# loop error, the odd-Y check) also runs on 2 and 4 ranks and must not hang.
set(MF_READ $<TARGET_FILE:test_model_read>)
set(MF_DATA ${QEP_TEST_DATA})

qep_mpi_test(NAME modelfile RANKS 1 2 4 TIMEOUT 60 COMMAND $<TARGET_FILE:test_modelfile> -malloc_debug)

# Good files: the counts printed must be exactly these.
qep_mpi_test(NAME modelfile_example RANKS 1 2 4 TIMEOUT 60
  COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_example.model -expect "qubits 6 strings 4 params 1 inputs 1 outputs 1")
qep_mpi_test(NAME modelfile_fixed RANKS 1 2 TIMEOUT 60
  COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_fixed.model -expect "qubits 4 strings 7 params 0 inputs 0 outputs 0")
qep_mpi_test(NAME modelfile_ring RANKS 1 2 TIMEOUT 60
  COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_ring.model -expect "qubits 10 strings 30 params 10 inputs 10 outputs 1")

# -qep_model_write, then reading the written file gives the same counts (one file per rank count).
foreach(r 2)
  set(written ${CMAKE_CURRENT_BINARY_DIR}/mf_ring_written_np${r}.model)
  qep_mpi_test(NAME modelfile_write RANKS ${r} TIMEOUT 60
    COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_ring.model -qep_model_write ${written}
            -expect "qubits 10 strings 30 params 10 inputs 10 outputs 1")
  qep_mpi_test(NAME modelfile_reread RANKS ${r} TIMEOUT 60
    COMMAND ${MF_READ} -qep_model_file ${written} -expect "qubits 10 strings 30 params 10 inputs 10 outputs 1")
  set_tests_properties(modelfile_write_np${r} PROPERTIES FIXTURES_SETUP mf_written_np${r})
  set_tests_properties(modelfile_reread_np${r} PROPERTIES FIXTURES_REQUIRED mf_written_np${r})
endforeach()

# qep_modelfile_error(name ranks regex): reading tests/data/mf_bad_<name>.model must fail with that message.
function(qep_modelfile_error name ranks match)
  qep_error_test(NAME modelfile_err_${name} RANKS ${ranks} MATCH "${match}"
    COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_bad_${name}.model)
endfunction()

qep_modelfile_error(undeclared "1;2;4" "mf_bad_undeclared.model:3: 'J12' is neither a keyword .* a declared parameter")
qep_modelfile_error(redeclared "1" "mf_bad_redeclared.model:3: parameter 'J' is declared twice")
qep_modelfile_error(reserved "1" "mf_bad_reserved.model:2: parameter name 'x2' is reserved: x<k> names input feature k")
qep_modelfile_error(number "1" "mf_bad_number.model:2: coefficient '1e999' is not a finite number")
qep_modelfile_error(nan "1" "mf_bad_nan.model:1: initial value 'nan' is not a finite number")
qep_modelfile_error(bigqubit "1" "mf_bad_bigqubit.model:2: qubit index in 'Z99999999999999999999' is out of range: this build supports qubits 0\\.\\.[0-9]+")
qep_modelfile_error(qubits_range "1" "mf_bad_qubits_range.model:3: 'Z4' acts on qubit 4, but 'qubits 4' \\(line 1\\) allows qubits 0\\.\\.3")
qep_modelfile_error(qubits_late "1" "mf_bad_qubits_late.model:3: 'qubits 4' allows qubits 0\\.\\.3, but line 2 uses qubit 7")
qep_modelfile_error(qubits_twice "1" "mf_bad_qubits_twice.model:3: 'qubits' is given twice \\(first on line 1\\)")
qep_modelfile_error(repeat "1" "mf_bad_repeat.model:2: qubit 2 appears more than once in this term")
qep_modelfile_error(keyword "1" "mf_bad_keyword.model:1: 'parm' is neither a keyword \\(param, output, qubits, for\\)")
qep_modelfile_error(factor "1" "mf_bad_factor.model:2: 'W2' is not a Pauli factor; expected X<k>, Y<k>, Z<k> or I<k>")
qep_modelfile_error(divzero "1;2;4" "mf_bad_divzero.model:2: division by zero in \\{\\(i\\+1\\)%\\(i-3\\)\\} \\(loop i=3\\)")
qep_modelfile_error(loopvar "1" "mf_bad_loopvar.model:1: unknown loop variable 'k' in \\{k\\}; variables in scope: i, j")
qep_modelfile_error(noterms "1;2" "mf_bad_noterms.model:3: the file has no Hamiltonian terms")
qep_modelfile_error(output "1" "mf_bad_output.model:2: output line without a name")
qep_modelfile_error(expansion "1;2" "mf_bad_expansion.model:2: the loops expand to more than 10000000 lines")
qep_modelfile_error(brace "1" "mf_bad_brace.model:1: '\\{' without a matching '\\}' \\(braces do not nest\\)")
qep_modelfile_error(nocoef "1" "mf_bad_nocoef.model:2: a term starts with its coefficient")
qep_modelfile_error(longline "1" "mf_bad_longline.model:2: line is 5005 characters long; lines may have at most 4095")
qep_modelfile_error(binary "1;2;4" "mf_bad_binary.model' contains a NUL byte at offset 9 \\(binary file\\?\\)")
qep_error_test(NAME modelfile_err_missing RANKS 1 2 4 MATCH "Cannot open '.*mf_no_such_file.model' for reading: No such file or directory"
  COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_no_such_file.model)
if(QEP_COMPLEX)
  qep_mpi_test(NAME modelfile_oddy_complex RANKS 1 2 TIMEOUT 60
    COMMAND ${MF_READ} -qep_model_file ${MF_DATA}/mf_bad_oddy.model -expect "qubits 2 strings 2 params 0 inputs 0 outputs 0")
else()
  qep_modelfile_error(oddy "1;2;4" "mf_bad_oddy.model:3: Pauli string 'Y0 Z1' has an odd number \\(1\\) of Y factors.*rebuild qep with -DQEP_COMPLEX=ON")
endif()
