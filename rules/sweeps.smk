# Design-space sweeps (config `sweeps:`, fusionsim.sweeps): every point is a rendered accelerator variant
# (<out>/cache/accelerators/<id>/) whose ERT and ART rule build_ert builds; one content-keyed mapper job per
# (layer problem, variant), shared by equal layers and equal points; per point and (network, dataset) a res.csv;
# per sweep points.csv, pareto.csv and pareto.png. On SLURM profiles/slurm puts the mapper jobs into the group
# `map_layers` with map_layer's: `group-components: {map_layers: N}` submits N per cluster job (docs/pipeline.md).


localrules:
    sweep_point,
    sweep_tables,


rule sweep_map_layer:
    input:
        unpack(lambda wc: SWEEPS.map_inputs(wc.key)),
    output:
        problem=f"{OUT}/cache/sweep_layers/{{key}}/problem.yaml",
        mapper=f"{OUT}/cache/sweep_layers/{{key}}/mapper.yaml",
        mapping=f"{OUT}/cache/sweep_layers/{{key}}/mapping.yaml",
        stats_json=f"{OUT}/cache/sweep_layers/{{key}}/stats.json",
        stats_txt=f"{OUT}/cache/sweep_layers/{{key}}/stats.txt",
        run=f"{OUT}/cache/sweep_layers/{{key}}/run.json",
    log:
        f"{OUT}/logs/sweep_map_layer/{{key}}.log",
    conda:
        CONDA_ENV
    threads: config["mapper"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        problem=lambda wc: SWEEPS.jobs[wc.key].problem,
        mapper=lambda wc: SWEEPS.jobs[wc.key].mapper,
        components=lambda wc: SWEEPS.components_dir(wc.key),
        engine=config["engine"],
        seed=config["mapper"]["seed"],
        model_version=MODEL_VERSION,
        unmappable_is_result=True,  # an invalid point is a row of points.csv, not a failed job
    script:
        "../scripts/map_layer.py"


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
