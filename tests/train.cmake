# `qep train`: the demos learn; results do not depend on groups or ranks; a crashed run resumes from
# its checkpoint onto exactly the uninterrupted trajectory; bad training input fails clearly.
set(TRAIN_OUT ${CMAKE_CURRENT_BINARY_DIR}/train_out)
file(MAKE_DIRECTORY ${TRAIN_OUT})
set(PARITY -options_file ${PROJECT_SOURCE_DIR}/petsc_options/train_parity.opts -qep_train_monitor 0)
set(PHASE -options_file ${PROJECT_SOURCE_DIR}/petsc_options/train_phase.opts -qep_train_monitor 0
  -qep_model_file ${PROJECT_SOURCE_DIR}/petsc_options/models/phase_sensor.model)
function(qep_train_out name)
  set(${name} -qep_json ${TRAIN_OUT}/${name}.json -qep_train_log ${TRAIN_OUT}/${name}.csv -qep_checkpoint ${TRAIN_OUT}/${name}.ckpt PARENT_SCOPE)
endfunction()

# 1. Both demos learn: final test loss at least 20x below the initial batch loss, accuracy >= 0.9.
qep_train_out(parity)
qep_mpi_test(NAME train_parity RANKS 2 COMMAND ${QEP_CLI} train ${PARITY} -qep_groups 2 ${parity})
set_tests_properties(train_parity_np2 PROPERTIES FIXTURES_SETUP train_parity)
add_test(NAME train_parity_learned COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_training.py ${TRAIN_OUT}/parity.json ${TRAIN_OUT}/parity.csv 20 0.9)
set_tests_properties(train_parity_learned PROPERTIES FIXTURES_REQUIRED train_parity)
qep_train_out(phase)
qep_mpi_test(NAME train_phase RANKS 1 COMMAND ${QEP_CLI} train ${PHASE} ${phase})
set_tests_properties(train_phase_np1 PROPERTIES FIXTURES_SETUP train_phase)
add_test(NAME train_phase_learned COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_training.py ${TRAIN_OUT}/phase.json ${TRAIN_OUT}/phase.csv 20 0.9)
set_tests_properties(train_phase_learned PROPERTIES FIXTURES_REQUIRED train_phase)

# 2. Group and rank invariance (30 steps). Without warm-start caching every example's solves are the
#    same computation in any group of one rank, so G = ranks matches the serial run bit for bit;
#    groups of several ranks differ only by the rounding of parallel reductions.
set(SMALL ${PARITY} -qep_steps 30 -qep_eval_every 10 -qep_warm_cache_mb 0)
set(EXACT_JSONS "")
set(CLOSE_JSONS ${TRAIN_OUT}/inv_np1_g1.json)
foreach(cfg "1;1" "2;2" "4;4" "2;1" "4;2")
  list(GET cfg 0 r)
  list(GET cfg 1 g)
  set(tag inv_np${r}_g${g})
  qep_mpi_test(NAME train_${tag} RANKS ${r} COMMAND ${QEP_CLI} train ${SMALL} -qep_groups ${g}
    -qep_json ${TRAIN_OUT}/${tag}.json -qep_train_log ${TRAIN_OUT}/${tag}.csv -qep_checkpoint ${TRAIN_OUT}/${tag}.ckpt)
  set_tests_properties(train_${tag}_np${r} PROPERTIES FIXTURES_SETUP train_invariance)
  if(r EQUAL g)
    list(APPEND EXACT_JSONS ${TRAIN_OUT}/${tag}.json)
  else()
    list(APPEND CLOSE_JSONS ${TRAIN_OUT}/${tag}.json)
  endif()
endforeach()
qep_mpi_test(NAME train_inv_cached RANKS 2 COMMAND ${QEP_CLI} train ${PARITY} -qep_steps 30 -qep_eval_every 10 -qep_groups 2
  -qep_json ${TRAIN_OUT}/inv_cached.json -qep_train_log ${TRAIN_OUT}/inv_cached.csv -qep_checkpoint ${TRAIN_OUT}/inv_cached.ckpt)
set_tests_properties(train_inv_cached_np2 PROPERTIES FIXTURES_SETUP train_invariance)
list(APPEND CLOSE_JSONS ${TRAIN_OUT}/inv_cached.json)
add_test(NAME train_invariance_exact COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_train.py 0 ${EXACT_JSONS})
add_test(NAME train_invariance_close COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_train.py 1e-7 ${CLOSE_JSONS})
set_tests_properties(train_invariance_exact train_invariance_close PROPERTIES FIXTURES_REQUIRED train_invariance)

# 3. Restart: a run killed after step 25 (checkpoint at 20) resumes onto the uninterrupted trajectory.
set(RESTART ${PARITY} -qep_steps 40 -qep_eval_every 10 -qep_checkpoint_every 10 -qep_warm_cache_mb 0 -qep_groups 2)
qep_mpi_test(NAME train_restart_full RANKS 2 COMMAND ${QEP_CLI} train ${RESTART}
  -qep_json ${TRAIN_OUT}/full.json -qep_train_log ${TRAIN_OUT}/full.csv -qep_checkpoint ${TRAIN_OUT}/full.ckpt)
set_tests_properties(train_restart_full_np2 PROPERTIES FIXTURES_SETUP train_restart_full)
qep_error_test(NAME train_restart_crash RANKS 2 MATCH "simulated crash after step 25" COMMAND ${QEP_CLI} train ${RESTART} -qep_train_abort_at 25
  -qep_json ${TRAIN_OUT}/resumed.json -qep_train_log ${TRAIN_OUT}/resumed.csv -qep_checkpoint ${TRAIN_OUT}/resumed.ckpt)
set_tests_properties(train_restart_crash_np2 PROPERTIES FIXTURES_SETUP train_restart_crash)
qep_mpi_test(NAME train_restart_resume RANKS 2 COMMAND ${QEP_CLI} train ${RESTART} -qep_restart ${TRAIN_OUT}/resumed.ckpt
  -qep_json ${TRAIN_OUT}/resumed.json -qep_train_log ${TRAIN_OUT}/resumed.csv -qep_checkpoint ${TRAIN_OUT}/resumed.ckpt)
set_tests_properties(train_restart_resume_np2 PROPERTIES FIXTURES_REQUIRED train_restart_crash FIXTURES_SETUP train_restart_resumed)
add_test(NAME train_restart_identical COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_train.py 0 ${TRAIN_OUT}/full.json ${TRAIN_OUT}/resumed.json
  --log ${TRAIN_OUT}/resumed.csv 40)
set_tests_properties(train_restart_identical PROPERTIES FIXTURES_REQUIRED "train_restart_full;train_restart_resumed")

# 4. Bad input.
file(WRITE ${TRAIN_OUT}/bad.ckpt "# qep checkpoint v1\nstep 10\nseed 2\nparams 19\n0x1p+0\n")
qep_error_test(NAME train_bad_groups RANKS 2 MATCH "qep_groups 3 must divide" COMMAND ${QEP_CLI} train ${PARITY} -qep_groups 3)
qep_error_test(NAME train_no_data RANKS 1 MATCH "No training data" COMMAND ${QEP_CLI} train -qep_model tfim -qep_n 4 -qep_J_trainable -qep_outputs 0)
qep_error_test(NAME train_bad_batch RANKS 1 MATCH "qep_batch must be positive" COMMAND ${QEP_CLI} train ${PARITY} -qep_batch 0)
set(PARITY_MODEL -qep_model tfim -qep_lattice layered -qep_layers 2,2,1 -qep_J_trainable -qep_J_spread 1)
qep_error_test(NAME train_missing_data RANKS 1 2 MATCH "no_such.csv" COMMAND ${QEP_CLI} train ${PARITY_MODEL} -qep_train_data ${QEP_TEST_DATA}/no_such.csv
  -qep_train_log ${TRAIN_OUT}/missing.csv)
qep_error_test(NAME train_bad_csv RANKS 1 MATCH "ds_bad_short.csv:[0-9]+" COMMAND ${QEP_CLI} train -qep_model_file ${QEP_TEST_DATA}/ds_model.model
  -qep_train_data ${QEP_TEST_DATA}/ds_bad_short.csv -qep_train_log ${TRAIN_OUT}/badcsv.csv)
qep_error_test(NAME train_truncated_checkpoint RANKS 1 MATCH "bad.ckpt.*(malformed|truncated)" COMMAND ${QEP_CLI} train ${PARITY} -qep_restart ${TRAIN_OUT}/bad.ckpt
  -qep_train_log ${TRAIN_OUT}/bad.csv)
qep_error_test(NAME train_checkpoint_seed RANKS 1 MATCH "same seed" COMMAND ${QEP_CLI} train ${PARITY} -qep_seed 9 -qep_restart ${TRAIN_OUT}/full.ckpt
  -qep_train_log ${TRAIN_OUT}/seed.csv)
set_tests_properties(train_checkpoint_seed_np1 PROPERTIES FIXTURES_REQUIRED train_restart_full)
