# Built-in model generators (src/model/generators.c): exact terms of every model and lattice, spreads,
# seeds and rank independence (test_generators, no arguments), `-help` listing, and the user-facing
# message of every invalid option (test_generators -build <options>: builds one model from them).
set(GEN $<TARGET_FILE:test_generators>)

qep_mpi_test(NAME generators RANKS 1 2 4 TIMEOUT 60 COMMAND ${GEN})

qep_mpi_test(NAME generators_help RANKS 1 TIMEOUT 60 COMMAND ${GEN} -build -help)
set_tests_properties(generators_help_np1 PROPERTIES
  PASS_REGULAR_EXPRESSION "-qep_lattice <now chain : formerly chain>.*-qep_layers.*-qep_J_spread.*-qep_gamma_trainable.*-qep_delta.*-qep_inputs.*-qep_outputs")

# qep_generator_error(name regex options...): building with these options must fail with that message.
# The model is built identically on every rank, so one rank suffices; a few cases also run on 2 ranks
# to check that a collective error still ends cleanly with the message.
function(qep_generator_error name match)
  qep_error_test(NAME generators_err_${name} RANKS 1 MATCH "${match}" COMMAND ${GEN} -build ${ARGN})
endfunction()

qep_error_test(NAME generators_err_unknown_model RANKS 1 2 MATCH "Unknown model 'ising'.*tfim, xxz, heisenberg" COMMAND ${GEN} -build -qep_model ising)
qep_generator_error(unknown_lattice "Unknown option hexagonal for -qep_lattice.*chain ring square complete layered" -qep_lattice hexagonal)
qep_generator_error(n1 "Number of qubits 1 is out of range: this build allows 2 <= n" -qep_n 1)
if(QEP_INDEX64)
  qep_generator_error(n_too_big "Number of qubits 70 is out of range: this build allows 2 <= n <= 62" -qep_n 70)
else()
  qep_generator_error(n_too_big "Number of qubits 40 is out of range: this build allows 2 <= n <= 30 .*-DQEP_INDEX64=ON" -qep_n 40)
  qep_generator_error(square_overflow "Number of qubits 10000000000 is out of range.*n <= 30" -qep_lattice square -qep_lx 100000 -qep_ly 100000)
endif()
qep_generator_error(ring2 "Ring lattice needs -qep_n >= 3 \\(got 2\\)" -qep_lattice ring -qep_n 2)
qep_generator_error(square1x1 "Square lattice 1x1 is invalid" -qep_lattice square -qep_lx 1 -qep_ly 1)
qep_generator_error(square0 "Square lattice 0x5 is invalid" -qep_lattice square -qep_lx 0 -qep_ly 5)
qep_generator_error(layered_one "Layered lattice needs -qep_layers .* at least 2 layers \\(got 1\\)" -qep_lattice layered -qep_layers 4)
qep_generator_error(layered_none "Layered lattice needs -qep_layers .* at least 2 layers \\(got 0\\)" -qep_lattice layered)
qep_generator_error(layered_empty "Layer 1 of -qep_layers has 0 qubits" -qep_lattice layered -qep_layers 2,0,1)
qep_generator_error(input_range "-qep_inputs entry 1 is qubit 4, outside the model's qubits 0..3" -qep_n 4 -qep_inputs 0,4)
qep_generator_error(input_negative "-qep_inputs entry 0 is qubit -1" -qep_n 4 -qep_inputs -1)
qep_error_test(NAME generators_err_input_duplicate RANKS 1 2 MATCH "-qep_inputs lists qubit 2 twice" COMMAND ${GEN} -build -qep_n 4 -qep_inputs 2,1,2)
qep_generator_error(output_range "-qep_outputs entry 0 is qubit 6, outside" -qep_lattice layered -qep_layers 3,3 -qep_outputs 6)
qep_generator_error(negative_spread "-qep_J_spread must be a finite number >= 0 \\(got -0.1\\)" -qep_J_spread -0.1)
qep_generator_error(negative_gamma_spread "-qep_gamma_spread must be a finite number >= 0" -qep_gamma_spread -2)
qep_generator_error(heisenberg_delta "heisenberg model has delta = 1 \\(got -qep_delta 0.3\\)" -qep_model heisenberg -qep_delta 0.3)
