# Design-space sweeps (config `sweeps:`, fusionsim.sweeps): every point is a rendered accelerator variant
# (<out>/cache/accelerators/<id>/) whose ERT and ART rule build_ert builds; one content key per (layer problem,
# variant), shared by equal layers and equal points, mapped by a sweep_map_batch job with the other keys (up to
# a dozen) of its point's (network, dataset); per point and (network, dataset) a res.csv; per sweep points.csv,
# pareto.csv and pareto.png. On SLURM profiles/slurm puts the batch jobs into the group `map_layers` with
# map_layer_batch's: `group-components: {map_layers: N}` submits N per cluster job (docs/pipeline.md).


localrules:
    sweep_point,
    sweep_tables,


rule sweep_map_batch:
    input:
        lambda wc: SWEEPS.batch_inputs(wc.batch),
    output:
        results=f"{OUT}/cache/sweep_batches/{{batch}}/results.json",
    log:
        f"{OUT}/logs/sweep_map_batch/{{batch}}.log",
    wildcard_constraints:
        batch=r"[0-9a-f]{16}",
    conda:
        CONDA_ENV
    threads: config["mapper"]["threads"]
    resources:
        mem_mb=2000,
        runtime=lambda wc: 5 + 2 * len(SWEEPS.batching.batches()[wc.batch]),
    params:
        layers=lambda wc: SWEEPS.batch_params(wc.batch),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
        unmappable_is_result=True,  # an invalid point is a row of points.csv, not a failed job
    script:
        "../scripts/map_layer_batch.py"


rule sweep_point:
    input:
        unpack(lambda wc: SWEEPS.point_inputs(wc.sweep, wc.net, wc.dataset, wc.point)),
    output:
        res=f"{OUT}/sweeps/{{sweep}}/{{net}}/{{dataset}}/{{point}}/res.csv",
        point=f"{OUT}/sweeps/{{sweep}}/{{net}}/{{dataset}}/{{point}}/point.json",
    log:
        f"{OUT}/logs/sweep_point/{{sweep}}/{{net}}/{{dataset}}/{{point}}.log",
    wildcard_constraints:
        sweep=wildcard_pattern(SWEEPS.sweep_names()),
        net=wildcard_pattern(SWEEPS.network_names()),
        dataset=wildcard_pattern(SWEEPS.dataset_names()),
        point=wildcard_pattern(SWEEPS.point_names()),
    conda:
        CONDA_ENV
    params:
        stats=lambda wc: SWEEPS.point_stats(wc.sweep, wc.net, wc.dataset, wc.point),
        workload=lambda wc: SWEEPS.point_params(wc.sweep, wc.net, wc.dataset)[
            "workload"
        ],
        layers=lambda wc: SWEEPS.point_params(wc.sweep, wc.net, wc.dataset)["layers"],
        dw_levels=lambda wc: SWEEPS.point_params(wc.sweep, wc.net, wc.dataset)[
            "dw_levels"
        ],
        model_version=MODEL_VERSION,
    script:
        "../scripts/sweep_point.py"


rule sweep_tables:
    input:
        unpack(lambda wc: SWEEPS.table_inputs(wc.sweep)),
    output:
        points=report(
            f"{OUT}/sweeps/{{sweep}}/points.csv",
            category="Design-space sweeps",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "file": "points.csv"},
        ),
        pareto=report(
            f"{OUT}/sweeps/{{sweep}}/pareto.csv",
            category="Design-space sweeps",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "file": "pareto.csv"},
        ),
        plot=report(
            f"{OUT}/sweeps/{{sweep}}/pareto.png",
            category="Design-space sweeps",
            subcategory="{sweep}",
            labels={"sweep": "{sweep}", "file": "pareto.png"},
        ),
    log:
        f"{OUT}/logs/sweep_tables/{{sweep}}.log",
    wildcard_constraints:
        sweep=wildcard_pattern(SWEEPS.sweep_names()),
    conda:
        CONDA_ENV
    params:
        rows=lambda wc: SWEEPS.table_rows(wc.sweep),
        arts=lambda wc: {p: SWEEPS.art_path(p) for p in SWEEPS.sweeps[wc.sweep].points},
        parameters=lambda wc: SWEEPS.sweeps[wc.sweep].parameters,
    script:
        "../scripts/sweep_tables.py"
