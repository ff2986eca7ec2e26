# `qep train` on oscillator networks (petsc_options/train_qho.opts): the teacher regression task is
# learned (test loss 20x below the first batches), the run agrees (1e-10) for 1 group on 1 rank and
# 2 groups on 2 ranks, and an anharmonic network trains on the truncated Fock path.
set(QHOTRAIN_OUT ${CMAKE_CURRENT_BINARY_DIR}/qhotrain_out)
file(MAKE_DIRECTORY ${QHOTRAIN_OUT})
set(QHOTRAIN -options_file ${PROJECT_SOURCE_DIR}/petsc_options/train_qho.opts -qep_train_monitor 0)
foreach(cfg "1;1" "2;2")
  list(GET cfg 0 r)
  list(GET cfg 1 g)
  qep_mpi_test(NAME qhotrain_g${g} RANKS ${r} COMMAND ${QEP_CLI} train ${QHOTRAIN} -qep_groups ${g}
    -qep_json ${QHOTRAIN_OUT}/g${g}.json -qep_train_log ${QHOTRAIN_OUT}/g${g}.csv -qep_checkpoint ${QHOTRAIN_OUT}/g${g}.ckpt)
  set_tests_properties(qhotrain_g${g}_np${r} PROPERTIES FIXTURES_SETUP qhotrain)
endforeach()
add_test(NAME qhotrain_learned COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_training.py ${QHOTRAIN_OUT}/g1.json ${QHOTRAIN_OUT}/g1.csv 20)
add_test(NAME qhotrain_groups_agree COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/compare_train.py 1e-10 ${QHOTRAIN_OUT}/g1.json ${QHOTRAIN_OUT}/g2.json)
set_tests_properties(qhotrain_learned qhotrain_groups_agree PROPERTIES FIXTURES_REQUIRED qhotrain)

# Anharmonic (quartic) network: only the Fock path solves it; 15 steps must lower the loss by 1.2x.
qep_mpi_test(NAME qhotrain_fock RANKS 1 COMMAND ${QEP_CLI} train ${QHOTRAIN} -qep_n 3 -qep_qho_inputs 0 -qep_qho_outputs 2 -qep_hbar 0.05
  -qep_qho_quartic 0.1 -qep_qho_solver fock -qep_qho_levels 8 -qep_steps 15 -qep_data_size 16 -qep_eval_every 15
  -qep_json ${QHOTRAIN_OUT}/fock.json -qep_train_log ${QHOTRAIN_OUT}/fock.csv -qep_checkpoint ${QHOTRAIN_OUT}/fock.ckpt)
set_tests_properties(qhotrain_fock_np1 PROPERTIES FIXTURES_SETUP qhotrain_fock)
add_test(NAME qhotrain_fock_learned COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_training.py ${QHOTRAIN_OUT}/fock.json ${QHOTRAIN_OUT}/fock.csv 1.2)
set_tests_properties(qhotrain_fock_learned PROPERTIES FIXTURES_REQUIRED qhotrain_fock)
