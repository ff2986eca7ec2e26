# QEP gradients (qep/gradient.h, `qep gradient`). test_gradient checks, for the observable, mse and
# xent losses on a random 8-qubit TFIM (trainable J, b, Γ, two inputs) and an 8-qubit XYZ chain
# (tests/data/grad_xyz.model: trainable XX/YY/ZZ couplings and fields, a tied parameter, inputs, a
# three-string output): linear response against a dense sum over eigenstates; centred QEP (β = 1e-4)
# against linear response to 1e-6 relative; finite differences against linear response; the loss
# against an independent ground solve; the bias orders 1/2/4 and nudged-solve counts 1/2/4 of the
# three estimators; warm-start states of two examples across a parameter step. aij and shell at
# 1/2/4 ranks. Each run writes its centred gradient; those files, and the JSON of `qep gradient`,
# must agree across rank counts and operators to 1e-10. A β changed after SetUp keeps QEP accurate.
# Bad input to `qep gradient` fails with its message at 1 and 2 ranks.
set(GRAD_OUT ${CMAKE_CURRENT_BINARY_DIR}/grad_out)
file(MAKE_DIRECTORY ${GRAD_OUT})
set(GRAD_tfim -qep_model tfim -qep_lattice chain -qep_n 8 -qep_J 1 -qep_J_spread 0.4 -qep_J_trainable -qep_b 0.2 -qep_b_spread 0.1
  -qep_b_trainable -qep_gamma 0.9 -qep_gamma_trainable -qep_inputs 0,1 -qep_outputs 6,7 -qep_seed 5)
set(GRAD_xyz -qep_model_file ${QEP_TEST_DATA}/grad_xyz.model)
# Tight solves: the QEP difference quotient at β = 1e-4 divides the state error by 2β.
set(GRAD_TIGHT -free_eps_tol 1e-12 -nudged_eps_tol 1e-12)

# One case per model, loss, operator and rank count (each a few seconds), then one agreement check
# per model and loss over the six files of its operators and rank counts.
foreach(model tfim xyz)
  foreach(loss observable mse xent)
    set(files "")
    foreach(optype aij shell)
      foreach(r 1 2 4)
        set(out ${GRAD_OUT}/${model}_${loss}_${optype}_np${r}.txt)
        qep_mpi_test(NAME grad_${model}_${loss}_${optype} RANKS ${r} TIMEOUT 120
          COMMAND $<TARGET_FILE:test_gradient> ${GRAD_${model}} -losses ${loss} -qep_operator ${optype} ${GRAD_TIGHT} -out ${out})
        set_tests_properties(grad_${model}_${loss}_${optype}_np${r} PROPERTIES FIXTURES_SETUP grad_${model}_${loss}_files)
        list(APPEND files ${out})
      endforeach()
    endforeach()
    string(REPLACE ";" "," files "${files}")
    add_test(NAME grad_${model}_${loss}_ranks_agree COMMAND $<TARGET_FILE:test_gradient> -compare ${files} -compare_tol 1e-10)
    set_tests_properties(grad_${model}_${loss}_ranks_agree PROPERTIES FIXTURES_REQUIRED grad_${model}_${loss}_files ENVIRONMENT "${QEP_TEST_ENV}"
      FAIL_REGULAR_EXPRESSION "PETSC ERROR;\\[qep\\] error")
  endforeach()
endforeach()

# The solver tolerance derived from β must follow a β set after QepGradientSetUp (default tolerances:
# no -*_eps_tol here), or the tiny difference quotient at β = 1e-6 drowns in solver error.
qep_mpi_test(NAME grad_beta_after_setup RANKS 1 2 TIMEOUT 60
  COMMAND $<TARGET_FILE:test_gradient> ${GRAD_xyz} -checks qep -losses mse -qep_beta_test 1e-6)

# `qep gradient`: JSON at 1/2/4 ranks with both operators; the four-point estimator at β = 0.02
# (far from the noise floor) must agree across runs to 1e-10 and with its linear-response
# reference to 1e-4 relative (its bias at this β).
file(WRITE ${GRAD_OUT}/compare_gradient_json.py [=[
"""compare_gradient_json.py TOL REFTOL FILE...: `qep gradient -qep_json` summaries of one problem agree."""
import json, math, sys
REQUIRED = ["command", "n", "ranks", "estimator", "beta", "loss", "parameters", "gradient", "reference", "matvecs", "time_s"]
tol, reftol, docs = float(sys.argv[1]), float(sys.argv[2]), []
for path in sys.argv[3:]:
    with open(path) as f:
        d = json.load(f)
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        sys.exit(f"{path}: missing keys {missing}")
    if d["command"] != "gradient" or set(d["gradient"]) != set(d["parameters"]) or set(d["reference"]) != set(d["parameters"]):
        sys.exit(f"{path}: command is not 'gradient' or gradient/reference/parameters name different sets")
    if not all(k in d["matvecs"] for k in ("free", "nudged")):
        sys.exit(f"{path}: matvecs lacks free/nudged")
    g, r = d["gradient"], d["reference"]
    err = math.sqrt(sum((g[k] - r[k]) ** 2 for k in g))
    ref = math.sqrt(sum(r[k] ** 2 for k in r))
    if not ref > 0 or err > reftol * ref:
        sys.exit(f"{path}: ||gradient - reference|| / ||reference|| = {err / ref if ref else float('inf'):.3e} > {reftol}")
    docs.append((path, d))
worst = 0.0
p0, d0 = docs[0]
for path, d in docs[1:]:
    for key in ("gradient", "reference", "parameters"):
        for k, v in d0[key].items():
            diff = abs(d[key][k] - v)
            worst = max(worst, diff)
            if diff > tol:
                sys.exit(f"{path} vs {p0}: {key}[{k}] {d[key][k]!r} vs {v!r} (|diff| {diff:.3e} > {tol})")
    if d["loss"] != d0["loss"] or d["estimator"] != d0["estimator"] or d["beta"] != d0["beta"]:
        sys.exit(f"{path} vs {p0}: loss/estimator/beta differ")
print(f"{len(docs)} gradient summaries agree; largest difference {worst:.3e} <= {tol}")
]=])
set(GRAD_CLI ${QEP_CLI} gradient ${GRAD_tfim} -qep_input 0.3,-0.2 -qep_target 0.5,-0.4 -qep_loss mse -qep_estimator fourpoint -qep_beta 0.02
  -qep_reference linear ${GRAD_TIGHT})
set(files "")
foreach(optype aij shell)
  foreach(r 1 2 4)
    set(out ${GRAD_OUT}/cli_${optype}_np${r}.json)
    qep_mpi_test(NAME cli_gradient_${optype} RANKS ${r} TIMEOUT 120 COMMAND ${GRAD_CLI} -qep_operator ${optype} -qep_json ${out})
    set_tests_properties(cli_gradient_${optype}_np${r} PROPERTIES FIXTURES_SETUP grad_cli_json)
    list(APPEND files ${out})
  endforeach()
endforeach()
add_test(NAME cli_gradient_agree COMMAND python3 ${GRAD_OUT}/compare_gradient_json.py 1e-10 1e-4 ${files})
set_tests_properties(cli_gradient_agree PROPERTIES FIXTURES_REQUIRED grad_cli_json)

# Bad input: each must exit non-zero with its message, at 1 and 2 ranks.
set(GRAD_CLI_OK ${QEP_CLI} gradient ${GRAD_tfim} -qep_input 0.3,-0.2 -qep_target 0.5,-0.4)
qep_error_test(NAME cli_gradient_degenerate RANKS 1 2 MATCH "degenerate.*spin.flip|spin.flip.*degenerate"
  COMMAND ${QEP_CLI} gradient -qep_model tfim -qep_lattice ring -qep_n 8 -qep_J 1 -qep_J_trainable -qep_gamma 0.3 -qep_b 0 -qep_outputs 0 -qep_target 0.5)
qep_error_test(NAME cli_gradient_beta_zero RANKS 1 2 MATCH "beta.*positive" COMMAND ${GRAD_CLI_OK} -qep_beta 0)
qep_error_test(NAME cli_gradient_beta_negative RANKS 1 2 MATCH "beta.*positive" COMMAND ${GRAD_CLI_OK} -qep_beta -0.01)
qep_error_test(NAME cli_gradient_bad_estimator RANKS 1 2 MATCH "twopoint.*(onesided|centered|fourpoint)|(onesided|centered|fourpoint).*twopoint"
  COMMAND ${GRAD_CLI_OK} -qep_estimator twopoint)
qep_error_test(NAME cli_gradient_target_count RANKS 1 2 MATCH "-qep_target has 3 values but the model has 2 outputs"
  COMMAND ${QEP_CLI} gradient ${GRAD_tfim} -qep_input 0.3,-0.2 -qep_target 0.5,-0.4,0.1)
qep_error_test(NAME cli_gradient_input_count RANKS 1 2 MATCH "-qep_input has 1 values but the model has 2 input features"
  COMMAND ${QEP_CLI} gradient ${GRAD_tfim} -qep_input 0.3 -qep_target 0.5,-0.4)
qep_error_test(NAME cli_gradient_xent_target RANKS 1 2 MATCH "1\\.5.*\\[0, ?1\\]|\\[0, ?1\\].*1\\.5"
  COMMAND ${QEP_CLI} gradient ${GRAD_tfim} -qep_input 0.3,-0.2 -qep_target 0.5,1.5 -qep_loss xent)

# The same checks with qep's lean Lanczos for the free and nudged solves (warm starts, deflated gap):
# the QEP gradient against linear response, FD and the independent loss, as above.
foreach(model tfim xyz)
  qep_mpi_test(NAME grad_${model}_lanczos RANKS 1 2 TIMEOUT 120
    COMMAND $<TARGET_FILE:test_gradient> ${GRAD_${model}} -losses observable,mse -qep_operator shell ${GRAD_TIGHT}
            -free_qep_eigensolver lanczos -nudged_qep_eigensolver lanczos)
endforeach()
