# Oscillator networks (qep/qho.h). test_qho checks, at 1/2/4 ranks: analytic 1- and 2-mode ground
# states; Gaussian ground states of random 30/47-mode networks against a dense LAPACK reference
# built in the test (1e-10); the distributed Chebyshev covariance against the dense one on a 500-mode
# chain (probing) and a 24x24 lattice (1e-10 at tol 1e-12, within its reported bound at 1e-6); the
# QEP gradient against the exact analytic gradient and finite differences (1e-6), estimator bias
# orders 1/2/4; the ħ → 0 limit (classical elastic-network EP) and the zero-point part; file round
# trips; and a quartic network on the Fock solver (QEP vs finite differences). Numbers written with
# -out must agree across rank counts to 1e-10. Bad input fails with its message.
set(QHO_OUT ${CMAKE_CURRENT_BINARY_DIR}/qho_out)
file(MAKE_DIRECTORY ${QHO_OUT})
set(QHO_TEST $<TARGET_FILE:test_qho>)

set(qho_ground_files "")
set(qho_gradient_files "")
foreach(r 1 2 4)
  qep_mpi_test(NAME qho_ground RANKS ${r} TIMEOUT 60
    COMMAND ${QHO_TEST} -checks analytic,dense,chebyshev -out ${QHO_OUT}/ground_np${r}.txt)
  set_tests_properties(qho_ground_np${r} PROPERTIES FIXTURES_SETUP qho_ground_files)
  list(APPEND qho_ground_files ${QHO_OUT}/ground_np${r}.txt)
  qep_mpi_test(NAME qho_gradient RANKS ${r} TIMEOUT 60
    COMMAND ${QHO_TEST} -checks gradient,bias,classical -out ${QHO_OUT}/gradient_np${r}.txt)
  set_tests_properties(qho_gradient_np${r} PROPERTIES FIXTURES_SETUP qho_gradient_files)
  list(APPEND qho_gradient_files ${QHO_OUT}/gradient_np${r}.txt)
  qep_mpi_test(NAME qho_fock_gradient RANKS ${r} TIMEOUT 60 COMMAND ${QHO_TEST} -checks fock -levels 14)
endforeach()
foreach(kind ground gradient)
  string(REPLACE ";" "," files "${qho_${kind}_files}")
  add_test(NAME qho_${kind}_ranks_agree COMMAND ${QHO_TEST} -compare ${files} -compare_tol 1e-10)
  set_tests_properties(qho_${kind}_ranks_agree PROPERTIES FIXTURES_REQUIRED qho_${kind}_files ENVIRONMENT "${QEP_TEST_ENV}"
    FAIL_REGULAR_EXPRESSION "PETSC ERROR;\\[qep\\] error")
endforeach()
foreach(r 1 2)
  file(MAKE_DIRECTORY ${QHO_OUT}/roundtrip_np${r})
  qep_mpi_test(NAME qho_roundtrip RANKS ${r} TIMEOUT 60
    COMMAND ${QHO_TEST} -checks roundtrip -dir ${QHO_OUT}/roundtrip_np${r} -example ${QEP_TEST_DATA}/qho_example.model)
endforeach()

# Bad input: a file is read and its ground state solved (Gaussian unless -bad_fock d), or the
# generator options are used (-bad_generator), as `qep ground -qep_model qho` does.
set(QHO_BAD ${QHO_TEST} -bad_file)
qep_error_test(NAME qho_bad_free_chain RANKS 1 2 MATCH "not positive definite.*springs to the ground"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_free.model)
qep_error_test(NAME qho_bad_negative_stiffness RANKS 1 2 MATCH "not positive definite.*-4\\.6"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_negative.model)
qep_error_test(NAME qho_bad_free_chain_chebyshev RANKS 1 2 MATCH "not positive definite"
  COMMAND ${QHO_TEST} -bad_generator -qep_lattice chain -qep_n 40 -qep_qho_k0 0 -qep_qho_cov chebyshev)
qep_error_test(NAME qho_bad_negative_chebyshev RANKS 1 2 MATCH "not positive definite"
  COMMAND ${QHO_TEST} -bad_generator -qep_lattice square -qep_n 49 -qep_qho_k -1 -qep_qho_cov chebyshev)
qep_error_test(NAME qho_bad_mass RANKS 1 2 MATCH "qho_bad_mass.model:4: mass -1 of mode 1 is not positive"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_mass.model)
qep_error_test(NAME qho_bad_mass_parameter RANKS 1 2 MATCH "Mass of mode 1 is -0\\.5.*parameter 'm'"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_massparam.model)
qep_error_test(NAME qho_bad_mass_option RANKS 1 MATCH "-qep_qho_mass -1\\.? is invalid"
  COMMAND ${QHO_TEST} -bad_generator -qep_qho_mass -1)
qep_error_test(NAME qho_bad_keyword RANKS 1 2 MATCH "qho_bad_keyword.model:3: unknown keyword 'sprang'"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_keyword.model)
qep_error_test(NAME qho_bad_index RANKS 1 2 MATCH "qho_bad_index.model:3: mode index 5 .*allows 0\\.\\.2"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_index.model)
qep_error_test(NAME qho_bad_quartic_gaussian RANKS 1 2 MATCH "quartic terms need -qep_qho_solver fock"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_quartic.model)
qep_error_test(NAME qho_bad_negative_quartic RANKS 1 MATCH "qho_bad_negquartic.model:4: quartic coefficient -0\\.1"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_negquartic.model)
qep_error_test(NAME qho_bad_undeclared RANKS 1 MATCH "qho_bad_param.model:3: 'k' .*declared parameter"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_param.model)
qep_error_test(NAME qho_bad_input_stiffness RANKS 1 MATCH "qho_bad_input.model:4: .*forces only"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_input.model)
qep_error_test(NAME qho_bad_no_modes RANKS 1 MATCH "qho_bad_nomodes.model:1: .*'modes <N>'"
  COMMAND ${QHO_BAD} ${QEP_TEST_DATA}/qho_bad_nomodes.model)
qep_error_test(NAME qho_bad_fock_classical RANKS 1 MATCH "Fock solver needs hbar > 0"
  COMMAND ${QHO_TEST} -bad_generator -qep_n 2 -qep_hbar 0 -bad_fock 4)
qep_error_test(NAME qho_bad_square_size RANKS 1 MATCH "not a perfect square"
  COMMAND ${QHO_TEST} -bad_generator -qep_lattice square -qep_n 10)

# `qep ground|gradient -qep_model qho` (enabled once src/cli/ground.c dispatches to QepCliQhoGround):
# JSON summaries at 1/2/4 ranks agree to 1e-10, and the gradient agrees with its exact reference.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/cli/ground.c)
file(READ ${PROJECT_SOURCE_DIR}/src/cli/ground.c QHO_GROUND_SOURCE)
string(FIND "${QHO_GROUND_SOURCE}" "QepCliQhoGround" QHO_CLI_DISPATCH)
if(NOT QHO_CLI_DISPATCH EQUAL -1)
  file(WRITE ${QHO_OUT}/compare_qho_json.py [=[
"""compare_qho_json.py TOL REFTOL FILE...: `qep ground|gradient -qep_model qho -qep_json` summaries of one problem agree."""
import json, sys
tol, reftol, docs = float(sys.argv[1]), float(sys.argv[2]), []
for path in sys.argv[3:]:
    with open(path) as f:
        d = json.load(f)
    for k in ("command", "model", "nmodes", "energy", "outputs", "output_variances", "ranks", "time_s"):
        if k not in d:
            sys.exit(f"{path}: missing key {k}")
    if d["command"] == "gradient":
        g, r = d["gradient"], d["reference"]
        err = max(abs(g[k] - r[k]) for k in g)
        if err > reftol * max(abs(v) for v in r.values()):
            sys.exit(f"{path}: |gradient - reference| = {err:.3e}")
    docs.append((path, d))
p0, d0 = docs[0]
worst = 0.0
for path, d in docs[1:]:
    pairs = [("energy", d["energy"], d0["energy"])]
    for key in ("outputs", "output_variances", "gradient", "reference"):
        if key in d0:
            pairs += [(f"{key}[{k}]", d[key][k], v) for k, v in d0[key].items()]
    for name, a, b in pairs:
        worst = max(worst, abs(a - b) / max(1.0, abs(b)))
        if abs(a - b) > tol * max(1.0, abs(b)):
            sys.exit(f"{path} vs {p0}: {name} {a!r} vs {b!r}")
print(f"{len(docs)} summaries agree; largest relative difference {worst:.3e} <= {tol}")
]=])
  set(QHO_CLI_NET -qep_model qho -qep_lattice square -qep_n 64 -qep_qho_k 1 -qep_qho_k_spread 0.3 -qep_qho_k_trainable -qep_qho_k0 0.5
    -qep_qho_inputs 0,1 -qep_qho_outputs 62,63 -qep_hbar 0.7 -qep_seed 4)
  foreach(cmd ground gradient)
    set(files "")
    foreach(r 1 2 4)
      if(cmd STREQUAL "ground")
        qep_mpi_test(NAME qho_cli_ground RANKS ${r} TIMEOUT 60
          COMMAND ${QEP_CLI} ground ${QHO_CLI_NET} -qep_input 0.3,-0.2 -qep_json ${QHO_OUT}/cli_ground_np${r}.json)
      else()
        qep_mpi_test(NAME qho_cli_gradient RANKS ${r} TIMEOUT 60
          COMMAND ${QEP_CLI} gradient ${QHO_CLI_NET} -qep_input 0.3,-0.2 -qep_target 0.1,-0.1 -qep_estimator fourpoint -qep_beta 0.01
                  -qep_reference linear -qep_json ${QHO_OUT}/cli_gradient_np${r}.json)
      endif()
      set_tests_properties(qho_cli_${cmd}_np${r} PROPERTIES FIXTURES_SETUP qho_cli_${cmd})
      list(APPEND files ${QHO_OUT}/cli_${cmd}_np${r}.json)
    endforeach()
    add_test(NAME qho_cli_${cmd}_agree COMMAND python3 ${QHO_OUT}/compare_qho_json.py 1e-10 1e-6 ${files})
    set_tests_properties(qho_cli_${cmd}_agree PROPERTIES FIXTURES_REQUIRED qho_cli_${cmd})
  endforeach()
  qep_error_test(NAME qho_cli_free_chain RANKS 1 2 MATCH "not positive definite.*springs to the ground"
    COMMAND ${QEP_CLI} ground -qep_model qho -qep_lattice chain -qep_n 10 -qep_qho_k0 0)
  qep_error_test(NAME qho_cli_quartic RANKS 1 MATCH "quartic terms need -qep_qho_solver fock"
    COMMAND ${QEP_CLI} ground -qep_model qho -qep_n 4 -qep_qho_quartic 0.1)
endif()
