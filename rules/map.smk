# Layer mappings are content-keyed (problem + accelerator files + mapper settings + engine + seed + model
# version): equal layer problems are mapped once, into <out>/cache/layers/<key>/. One map_layer_batch job maps
# up to a dozen keys in one process (Snakemake's per-job cost, ~0.4 s, exceeded the mapper's own ~0.2 s a
# layer); a key already complete in the cache is reused (fusionsim.workflow.map_batches says which keys share
# a batch). Each (network, dataset, accelerator) then gets its layers folder, one folder per (layer, tile)
# with problem.yaml, mapping.yaml, stats.json and stats.txt copied from the cache, by one cheap local job.
# Files of the workflow folder reach jobs as `{workflow}/...` params, not inputs (fusionsim.workflow.paths):
# a checkout at another place reuses the same results folder without reruns.


localrules:
    collect_layers,


rule map_layer_batch:
    input:
        lambda wc: PLAN.batch_rule_inputs(wc.batch),
    output:
        results=f"{OUT}/cache/layer_batches/{{batch}}/results.json",
    log:
        f"{OUT}/logs/map_layer_batch/{{batch}}.log",
    wildcard_constraints:
        batch=r"[0-9a-f]{16}",
    conda:
        CONDA_ENV
    threads: config["mapper"]["threads"]
    resources:
        mem_mb=2000,
        runtime=lambda wc: 5 + 2 * len(PLAN.map_batches()[wc.batch]),
    params:
        layers=lambda wc: PLAN.batch_rule_params(wc.batch),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/map_layer_batch.py"


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
