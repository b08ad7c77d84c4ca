# Network definitions -> one layer table per (network, dataset): every layer's shape and Timeloop
# problem sizes. (Each layer's problem YAML itself is written by its content-keyed map_layer job.)


rule write_layer_table:
    input:
        unpack(lambda wc: PLAN.workload_inputs(wc.net)),
    output:
        f"{OUT}/{{net}}/{{dataset}}/layers.csv",
    log:
        f"{OUT}/logs/write_layer_table/{{net}}/{{dataset}}.log",
    conda:
        CONDA_ENV
    params:
        workload=lambda wc: PLAN.workload_refs(wc.net),
        layers=lambda wc: PLAN.layer_names(wc.net, wc.dataset),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/write_layer_table.py"
