# Network definitions -> per-layer Timeloop problem YAMLs (content-addressed, so equal layers share one
# file) and one layer table per (network, dataset). The tiny writers run in Snakemake's own process
# (`run:`), which is why they have no conda env: Snakemake allows conda only with shell/script.


localrules:
    write_problem,
    write_mapper,


rule write_problem:
    output:
        f"{OUT}/cache/problems/{{key}}.yaml",
    log:
        f"{OUT}/logs/write_problem/{{key}}.log",
    params:
        problem=lambda wc: PLAN.problems[wc.key],
    run:
        write_yaml(output[0], params.problem)


rule write_mapper:
    output:
        f"{OUT}/cache/mappers/{{key}}.yaml",
    log:
        f"{OUT}/logs/write_mapper/{{key}}.log",
    params:
        mapper=lambda wc: PLAN.mappers[wc.key],
    run:
        write_yaml(output[0], params.mapper)


rule write_layer_table:
    input:
        workload=lambda wc: str(PLAN.networks[wc.net].path),
    output:
        f"{OUT}/{{net}}/{{dataset}}/layers.csv",
    log:
        f"{OUT}/logs/write_layer_table/{{net}}/{{dataset}}.log",
    params:
        layers=lambda wc: PLAN.layer_names(wc.net, wc.dataset),
        dataset=lambda wc: wc.dataset,
    conda:
        CONDA_ENV
    script:
        "../scripts/write_layer_table.py"
