# Energy reference tables: an accelerator whose accelerator.yaml names no `ert:` gets its ERT (and ART) from
# this rule, built from its arch and component classes (fusionsim.energy.build_tables) at the config's
# `energy` settings. Its map_layer jobs take the built ERT as an input; their cache keys hash what it is built
# from (fusionsim.workflow.accelerators.ert_build_key), not its bytes, so keys are known before the ERT exists.


localrules:
    build_ert,


rule build_ert:
    input:
        unpack(lambda wc: PLAN.ert_build_rule_inputs(wc.accel)),
    output:
        ert=f"{OUT}/ert/{{accel}}/ERT.yaml",
        art=f"{OUT}/ert/{{accel}}/ART.yaml",
    log:
        f"{OUT}/logs/build_ert/{{accel}}.log",
    wildcard_constraints:
        accel=wildcard_pattern(PLAN.ert_build_names()),
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        files=lambda wc: PLAN.ert_build_rule_files(wc.accel),
        technology=lambda wc: PLAN.ert_settings(wc.accel)["technology"],
        backend=lambda wc: PLAN.ert_settings(wc.accel)["backend"],
        key=lambda wc: PLAN.ert_builds[wc.accel],
        model_version=MODEL_VERSION,
    script:
        "../scripts/build_ert.py"
