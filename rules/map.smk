# One mapper job per content key (problem + accelerator files + mapper settings + engine + seed + model
# version): equal layer problems are mapped once, in <out>/cache/layers/<key>/. Each (network, dataset,
# accelerator) then gets its layers folder, one folder per (layer, tile) with problem.yaml, mapping.yaml,
# stats.json and stats.txt copied from the cache, by one cheap local job (not one job per layer: Snakemake's
# per-job cost would dominate). Files of the workflow folder reach jobs as `{workflow}/...` params, not inputs
# (fusionsim.workflow.paths): a checkout at another place reuses the same results folder without reruns.


localrules:
    collect_layers,


rule map_layer:
    input:
        unpack(lambda wc: PLAN.map_rule_inputs(wc.key)),
    output:
        problem=f"{OUT}/cache/layers/{{key}}/problem.yaml",
        mapper=f"{OUT}/cache/layers/{{key}}/mapper.yaml",
        mapping=f"{OUT}/cache/layers/{{key}}/mapping.yaml",
        stats_json=f"{OUT}/cache/layers/{{key}}/stats.json",
        stats_txt=f"{OUT}/cache/layers/{{key}}/stats.txt",
        run=f"{OUT}/cache/layers/{{key}}/run.json",
    log:
        f"{OUT}/logs/map_layer/{{key}}.log",
    conda:
        CONDA_ENV
    threads: config["mapper"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        problem=lambda wc: PLAN.problems[PLAN.jobs[wc.key].problem_key],
        mapper=lambda wc: PLAN.mappers[PLAN.jobs[wc.key].mapper_key],
        files=lambda wc: PLAN.map_rule_files(wc.key),
        components=lambda wc: PLAN.components_ref(wc.key),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/map_layer.py"


rule collect_layers:
    input:
        unpack(lambda wc: PLAN.collect_inputs(wc.net, wc.dataset, wc.accel)),
    output:
        directory(f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers"),
    log:
        f"{OUT}/logs/collect_layers/{{net}}/{{dataset}}/{{accel}}.log",
    conda:
        CONDA_ENV
    params:
        copies=lambda wc: PLAN.collect_copies(wc.net, wc.dataset, wc.accel),
    script:
        "../scripts/collect_layers.py"
