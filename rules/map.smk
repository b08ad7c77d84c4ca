# One mapper job per content key (problem + accelerator files + mapper settings + engine + seed + model
# version): equal layer problems are mapped once, in <out>/cache/layers/<key>/. Each (network, dataset,
# accelerator, layer, tile) then gets its own folder with problem.yaml, mapping.yaml, stats.json and
# stats.txt, copied from the cache by a cheap local shell job.


localrules:
    collect_layer,


rule map_layer:
    input:
        unpack(lambda wc: PLAN.map_job_inputs(wc.key)),
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
        components=lambda wc: PLAN.components_dir(wc.key),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/map_layer.py"


rule collect_layer:
    input:
        unpack(
            lambda wc: PLAN.collect_inputs(
                wc.net, wc.dataset, wc.accel, wc.layer, wc.tile
            )
        ),
    output:
        problem=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/problem.yaml",
        mapping=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/mapping.yaml",
        stats_json=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/stats.json",
        stats_txt=f"{OUT}/{{net}}/{{dataset}}/{{accel}}/layers/{{layer}}/{{tile}}/stats.txt",
    log:
        f"{OUT}/logs/collect_layer/{{net}}/{{dataset}}/{{accel}}/{{layer}}/{{tile}}.log",
    conda:
        CONDA_ENV
    shell:
        # copy to a temp name, then rename: a killed copy never leaves a partial file under the real name;
        # one cp/mv per file, with every path quoted as a whole (no splitting: a path may contain '=')
        """
        (cp {input.problem:q} {output.problem:q}.tmp && mv {output.problem:q}.tmp {output.problem:q} \
            && cp {input.mapping:q} {output.mapping:q}.tmp && mv {output.mapping:q}.tmp {output.mapping:q} \
            && cp {input.stats_json:q} {output.stats_json:q}.tmp \
            && mv {output.stats_json:q}.tmp {output.stats_json:q} \
            && cp {input.stats_txt:q} {output.stats_txt:q}.tmp \
            && mv {output.stats_txt:q}.tmp {output.stats_txt:q}) 2>{log:q}
        """
