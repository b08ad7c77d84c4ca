# Per-layer stats -> one res.csv per (network, dataset, accelerator) in the seed's result.csv layout
# (head/tail layers, then blocks with PW1/DW/PW2 energy in uJ and cycles, then a total row), and the
# final table across networks, datasets and accelerators.


rule aggregate_res:
    input:
        unpack(lambda wc: PLAN.workload_inputs(wc.net)),
        layers=lambda wc: PLAN.layers_dir(wc.net, wc.dataset, wc.accel),
    output:
        f"{OUT}/{{net}}/{{dataset}}/{{accel}}/res.csv",
    log:
        f"{OUT}/logs/aggregate_res/{{net}}/{{dataset}}/{{accel}}.log",
    conda:
        CONDA_ENV
    params:
        workload=lambda wc: PLAN.workload_refs(wc.net),
        layers=lambda wc: PLAN.layer_names(wc.net, wc.dataset),
        stats=lambda wc: PLAN.layer_stats(wc.net, wc.dataset, wc.accel),
        dataset=lambda wc: wc.dataset,
        dw_levels=lambda wc: list(PLAN.accelerators[wc.accel].depthwise_input_levels),
        model_version=MODEL_VERSION,
    script:
        "../scripts/aggregate_res.py"


rule write_summary:
    input:
        res=PLAN.res_inputs(),
    output:
        csv=f"{OUT}/summary.csv",
        md=f"{OUT}/summary.md",
    log:
        f"{OUT}/logs/write_summary.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/write_summary.py"
