# Optimizers (src/train/optimizer.c). test_optimizer (no arguments) checks the first steps of sgd,
# momentum, adam and adamax against hand-worked values, every schedule against its closed form,
# clipping, the soft-bound penalty, bit-for-bit checkpoint resume, Adam's convergence on a quadratic
# and that every rank holds identical bits. `test_optimizer -mode run <options>` builds one optimizer
# from the options and takes one step: the -help listing and every invalid setting's message.
set(OPT $<TARGET_FILE:test_optimizer>)

qep_mpi_test(NAME optimizer RANKS 1 2 4 TIMEOUT 60 COMMAND ${OPT})

qep_mpi_test(NAME optimizer_help RANKS 1 TIMEOUT 60 COMMAND ${OPT} -mode run -help)
set_tests_properties(optimizer_help_np1 PROPERTIES
  PASS_REGULAR_EXPRESSION "-qep_optimizer <now adam : formerly adam>.*-qep_lr <.*-qep_momentum.*-qep_adam_beta1.*-qep_adam_beta2.*-qep_adam_eps.*-qep_lr_schedule <now constant.*-qep_lr_decay <.*-qep_lr_decay_steps.*-qep_lr_min.*-qep_param_clip.*-qep_param_bound.*-qep_param_penalty")

# qep_optimizer_error(name regex options...): one step with these options must fail with that message.
# The optimizer is replicated, so one rank suffices; the cases listed in OPT_ERR_TWO_RANKS also run on
# 2 ranks to check that a collective error still ends cleanly with its message. An unpaired [ or ]
# in a CMake argument swallows the list separators after it, so the half-open intervals below match
# their lone bracket with `.`.
set(OPT_ERR_TWO_RANKS lr_zero momentum_one clip_order cosine_no_horizon nan_gradient)
function(qep_optimizer_error name match)
  set(ranks 1)
  if(name IN_LIST OPT_ERR_TWO_RANKS)
    set(ranks 1 2)
  endif()
  qep_error_test(NAME optimizer_err_${name} RANKS ${ranks} MATCH "${match}" COMMAND ${OPT} -mode run ${ARGN})
endfunction()

qep_optimizer_error(lr_zero "Learning rate \\(-qep_lr\\) must be positive and finite; got 0" -qep_lr 0)
qep_optimizer_error(lr_negative "Learning rate \\(-qep_lr\\) must be positive and finite; got -0.1" -qep_lr -0.1)
qep_optimizer_error(momentum_one "Momentum \\(-qep_momentum\\) must be in .0, 1\\); got 1" -qep_optimizer momentum -qep_momentum 1)
qep_optimizer_error(beta1 "Adam beta1 \\(-qep_adam_beta1\\) must be in .0, 1\\); got -0.5" -qep_adam_beta1 -0.5)
qep_optimizer_error(beta2 "Adam beta2 \\(-qep_adam_beta2\\) must be in .0, 1\\); got 1" -qep_adam_beta2 1)
qep_optimizer_error(eps "Adam epsilon \\(-qep_adam_eps\\) must be positive" -qep_adam_eps 0)
qep_optimizer_error(decay "decay factor \\(-qep_lr_decay\\) must be in \\(0, 1.; got 1.5" -qep_lr_schedule step -qep_lr_decay 1.5)
qep_optimizer_error(decay_steps "-qep_lr_decay_steps\\) must be at least 1 step; got 0" -qep_lr_schedule step -qep_lr_decay_steps 0)
qep_optimizer_error(lr_min "-qep_lr_min\\) must be in \\[0, lr = 0.05\\]; got 0.1" -qep_lr_schedule cosine -qep_lr_min 0.1 -horizon 10)
qep_optimizer_error(clip_order "-qep_param_clip lo,hi needs finite lo < hi; got 2,1" -qep_param_clip 2,1)
qep_optimizer_error(clip_equal "-qep_param_clip lo,hi needs finite lo < hi; got 1,1" -qep_param_clip 1,1)
qep_optimizer_error(clip_count "-qep_param_clip needs two values lo,hi; got 1" -qep_param_clip 1)
qep_optimizer_error(bound "-qep_param_bound\\) must be finite and >= 0; got -1" -qep_param_bound -1)
qep_optimizer_error(penalty "-qep_param_penalty\\) must be finite and >= 0; got -2" -qep_param_bound 1 -qep_param_penalty -2)
qep_optimizer_error(penalty_without_bound "-qep_param_penalty 0.5 has no effect without -qep_param_bound" -qep_param_penalty 0.5)
qep_optimizer_error(cosine_no_horizon "cosine learning-rate schedule needs the planned number of steps.*QepOptimizerSetHorizon" -qep_lr_schedule cosine)
qep_optimizer_error(unknown_type "Unknown option rmsprop for -qep_optimizer.*sgd momentum adam adamax" -qep_optimizer rmsprop)
qep_optimizer_error(unknown_schedule "Unknown option linear for -qep_lr_schedule.*constant step exponential cosine" -qep_lr_schedule linear)
qep_optimizer_error(nan_gradient "Gradient entry 1 is NaN: the solve upstream failed" -poison 1)
qep_optimizer_error(inf_gradient "Gradient entry 2 is inf: the solve upstream failed" -poison 2 -poison_inf)
