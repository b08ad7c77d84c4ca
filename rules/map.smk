# One mapper job per content key (problem + accelerator files + mapper settings + engine + seed + model
# version): equal layer problems are mapped once. Each (network, dataset, accelerator, layer, tile) then
# gets its own folder with problem.yaml, mapping.yaml, stats.json and stats.txt, copied from the cache.


localrules:
    collect_layer,


rule map_layer:
    input:
        unpack(lambda wc: PLAN.map_job_inputs(wc.key)),
    output:
        mapping=f"{OUT}/cache/layers/{{key}}/mapping.yaml",
        stats_json=f"{OUT}/cache/layers/{{key}}/stats.json",
        stats_txt=f"{OUT}/cache/layers/{{key}}/stats.txt",
        run=f"{OUT}/cache/layers/{{key}}/run.json",
    log:
        f"{OUT}/logs/map_layer/{{key}}.log",
    params:
        components=lambda wc: PLAN.components_dir(wc.key),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
    threads: config["mapper"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        CONDA_ENV
    script:
        "../scripts/map_layer.py"


rule collect_layer:
    input:
        unpack(lambda wc: PLAN.collect_inputs(wc.net, wc.dataset, wc.accel, wc.layer, wc.tile)),
    output:
        problem=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/problem.yaml",
        mapping=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/mapping.yaml",
        stats_json=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/stats.json",
        stats_txt=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/stats.txt",
    log:
        f"{OUT}/logs/collect_layer/{{net}}/{{dataset}}/{{accel}}/{{layer}}/{{tile}}.log",
    run:
        copy_files([(input[k], output[k]) for k in ("problem", "mapping", "stats_json", "stats_txt")])
