# Datasets (src/train/dataset.c). test_dataset: direct data, a hand-written CSV with extra and
# shuffled columns, CRLF + byte-order mark, exact CSV and HDF5 round trips, the parity and phase
# generators (labels, balance, noise statistics, a checksum that must be equal at every rank count),
# and the seeded split. Then the user-facing message of every kind of bad dataset file
# (tests/data/ds_bad_*.csv; malformed HDF5 files written by a fixture) via `test_dataset -load`.
# Files are read by rank 0 and parsed (CSV) or broadcast (HDF5) everywhere, so errors must be
# collective: a sample of the error cases also runs on 2 and 4 ranks and must not hang.
set(DS_EXE $<TARGET_FILE:test_dataset>)
set(DS_MODEL ${QEP_TEST_DATA}/ds_model.model)
if(HDF5MPI_FOUND)
  target_link_libraries(test_dataset PRIVATE PkgConfig::HDF5MPI) # the test writes HDF5 files itself
endif()

qep_mpi_test(NAME dataset RANKS 1 2 4 TIMEOUT 60 COMMAND ${DS_EXE} -data_dir ${QEP_TEST_DATA} -malloc_debug)
qep_mpi_test(NAME dataset_load_good RANKS 1 2 TIMEOUT 60 COMMAND ${DS_EXE} -load ${QEP_TEST_DATA}/ds_good.csv -model_file ${DS_MODEL})
set_tests_properties(dataset_load_good_np1 dataset_load_good_np2 PROPERTIES PASS_REGULAR_EXPRESSION "examples 3 inputs 2 targets 2")

# qep_dataset_error(name ranks regex): loading tests/data/ds_bad_<name>.csv must fail with that message.
function(qep_dataset_error name ranks match)
  qep_error_test(NAME dataset_err_${name} RANKS ${ranks} MATCH "${match}"
    COMMAND ${DS_EXE} -load ${QEP_TEST_DATA}/ds_bad_${name}.csv -model_file ${DS_MODEL})
endfunction()

qep_dataset_error(empty "1;2;4" "ds_bad_empty.csv: the file is empty; a dataset CSV starts with a header row")
qep_dataset_error(comments "1" "ds_bad_comments.csv: no header row: the file holds only comments and blank lines")
qep_dataset_error(headeronly "1" "ds_bad_headeronly.csv:2: the header is not followed by any data rows")
qep_dataset_error(missing "1;4" "ds_bad_missing.csv:1: the header has no column 'zz' \\(a target, named after a model output\\); required columns: x0, x1, m, zz; the header has: 'x0', 'x1', 'm', 'label'")
qep_dataset_error(duplicate "1" "ds_bad_duplicate.csv:1: column 'x0' appears twice in the header \\(fields 1 and 5\\)")
qep_dataset_error(short "1;2" "ds_bad_short.csv:4: this row has 3 fields but the header \\(line 1\\) has 4")
qep_dataset_error(number "1" "ds_bad_number.csv:3: column 'x1' \\(field 2\\): '2\\.5\\.1' is not a number")
qep_dataset_error(emptyfield "1" "ds_bad_emptyfield.csv:2: column 'm' \\(field 3\\) is empty; expected a number")
qep_dataset_error(nan "1;2" "ds_bad_nan.csv:3: column 'zz' \\(field 4\\): 'nan' is not a finite number; NaN, inf")
qep_dataset_error(inf "1" "ds_bad_inf.csv:2: column 'x0' \\(field 1\\): '-inf' is not a finite number")
qep_dataset_error(overflow "1" "ds_bad_overflow.csv:2: column 'x1' \\(field 2\\): '1e999' is not a finite number")

qep_error_test(NAME dataset_err_extension RANKS 1 MATCH "Cannot tell the format of dataset file '.*ds_good\\.txt' from its extension; allowed: \\.csv .* or \\.h5/\\.hdf5"
  COMMAND ${DS_EXE} -load ${QEP_TEST_DATA}/ds_good.txt -model_file ${DS_MODEL})
qep_error_test(NAME dataset_err_nofile RANKS 1 2 MATCH "Cannot open '.*ds_no_such_file\\.csv' for reading: No such file or directory"
  COMMAND ${DS_EXE} -load ${QEP_TEST_DATA}/ds_no_such_file.csv -model_file ${DS_MODEL})
qep_error_test(NAME dataset_err_nooutputs RANKS 1 MATCH "The model has no outputs, so the target columns of '.*ds_good\\.csv' cannot be matched"
  COMMAND ${DS_EXE} -load ${QEP_TEST_DATA}/ds_good.csv -model_file ${QEP_TEST_DATA}/ds_nooutput.model)

if(HDF5MPI_FOUND)
  set(DS_H5 ${CMAKE_CURRENT_BINARY_DIR})
  qep_mpi_test(NAME dataset_make_h5 RANKS 1 TIMEOUT 60 COMMAND ${DS_EXE} -make_h5 ${DS_H5})
  set_tests_properties(dataset_make_h5_np1 PROPERTIES FIXTURES_SETUP ds_h5_files)
  # qep_dataset_h5_error(name ranks regex): loading the fixture's ds_h5_<name>.h5 must fail with that message.
  function(qep_dataset_h5_error name ranks match)
    qep_error_test(NAME dataset_err_h5_${name} RANKS ${ranks} MATCH "${match}"
      COMMAND ${DS_EXE} -load ${DS_H5}/ds_h5_${name}.h5 -model_file ${DS_MODEL})
    foreach(r ${ranks})
      set_tests_properties(dataset_err_h5_${name}_np${r} PROPERTIES FIXTURES_REQUIRED ds_h5_files)
    endforeach()
  endfunction()
  qep_dataset_h5_error(wrongin "1;2;4" "ds_h5_wrongin.h5: dataset 'inputs' is 5 x 3, but the model has 2 input features, so it must be N x 2")
  qep_dataset_h5_error(wrongout "1" "ds_h5_wrongout.h5: dataset 'targets' is 5 x 1, but the model has 2 outputs, so it must be N x 2")
  qep_dataset_h5_error(rows "1" "ds_h5_rows.h5: 'inputs' has 5 rows but 'targets' has 4")
  qep_dataset_h5_error(missing "1" "ds_h5_missing.h5: no dataset 'targets'; a dataset file holds 'inputs' \\(N x ninputs\\) and 'targets'")
  qep_dataset_h5_error(vector "1" "ds_h5_vector.h5: dataset 'inputs' has 1 dimension; expected 2 \\(N x 2")
  qep_dataset_h5_error(nan "1" "ds_h5_nan.h5: dataset 'targets' row 3, column 1 \\(counted from 0\\) is NaN; NaN and inf are not allowed")
  qep_dataset_h5_error(text "1;2" "ds_h5_text.h5: not an HDF5 file")
endif()
