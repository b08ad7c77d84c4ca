# Fusion-tiling search (issue 10, config `fusion_tiling`, off by default): each network's fusion layers
# (convs with their residual edges) -> content-keyed tile jobs (tile problem, dataflow type), mapped in batch
# jobs of a few widths of one layer shape with every dataflow type (one process each: Snakemake's per-job
# cost is paid once a batch), each tile kept in <out>/cache/fusion_tiles/<key>/ and reused by any batch,
# network and layer with that tile -> the cost tables of each (network, accelerator) -> the search's plan,
# statistics, plots and comparison vs layer-by-layer. Keys and paths come from
# fusionsim.workflow.fusion_tiling.fusion_tiling_plan (benchmark_stage.plan_jobs keys).
from fusionsim.sweeps.fusion import add_sweep_fusion
from fusionsim.workflow.fusion_tiling import fusion_tiling_plan, fusion_tiling_targets

FUSION_TILING = or_exit(
    CONFIG_SOURCES, fusion_tiling_plan, PLAN, config, workflow.basedir
)
# sweeps with `fusion_tiling: true` add their points' variants (rendered fusion levels) and networks
FUSION_TILING = or_exit(
    CONFIG_SOURCES, add_sweep_fusion, FUSION_TILING, SWEEPS, PLAN, config
)


localrules:
    write_fusion_layers,
    collect_fusion_costs,


rule write_fusion_layers:
    input:
        unpack(lambda wc: FUSION_TILING.workload_inputs(wc.net)),
    output:
        directory(f"{OUT}/fusion_tiling/{{net}}/layers"),
    log:
        f"{OUT}/logs/write_fusion_layers/{{net}}.log",
    wildcard_constraints:
        net=wildcard_pattern(FUSION_TILING.network_names()),
    conda:
        CONDA_ENV
    params:
        workload=lambda wc: FUSION_TILING.workload_refs(wc.net),
        dataset=lambda wc: FUSION_TILING.datasets[wc.net],
        layers=lambda wc: FUSION_TILING.layer_names[wc.net],
        model_version=MODEL_VERSION,
    script:
        "../scripts/write_fusion_layers.py"


rule benchmark_fusion_tiles:
    input:
        unpack(lambda wc: FUSION_TILING.batch_rule_inputs(wc.batch)),
    output:
        results=f"{OUT}/cache/fusion_batches/{{batch}}/results.json",
    log:
        f"{OUT}/logs/benchmark_fusion_tiles/{{batch}}.log",
    wildcard_constraints:
        batch=r"[0-9a-f]{16}",
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        batch=lambda wc: FUSION_TILING.batch_rule_params(wc.batch),
        engine=FUSION_TILING.engine,
        seed=FUSION_TILING.seed,
        model_version=MODEL_VERSION,
    script:
        "../scripts/benchmark_fusion_tiles.py"


rule collect_fusion_costs:
    input:
        unpack(lambda wc: FUSION_TILING.costs_inputs(wc.net, wc.accel)),
    output:
        tables=expand(
            f"{OUT}/fusion_tiling/{{{{net}}}}/{{{{accel}}}}/costs/{{kind}}.json",
            kind=FUSION_TILING.types,
        ),
        cycles=expand(
            f"{OUT}/fusion_tiling/{{{{net}}}}/{{{{accel}}}}/costs/{{kind}}_cycles.json",
            kind=FUSION_TILING.types,
        ),
        costs=f"{OUT}/fusion_tiling/{{net}}/{{accel}}/costs/costs.json",
    log:
        f"{OUT}/logs/collect_fusion_costs/{{net}}/{{accel}}.log",
    wildcard_constraints:
        net=wildcard_pattern(FUSION_TILING.network_names()),
        accel=wildcard_pattern(FUSION_TILING.accel_names()),
    conda:
        CONDA_ENV
    params:
        uses=lambda wc: FUSION_TILING.uses[(wc.net, wc.accel)],
        skipped=lambda wc: FUSION_TILING.skipped.get((wc.net, wc.accel), []),
        model_version=MODEL_VERSION,
    script:
        "../scripts/collect_fusion_costs.py"


rule search_fusion_plan:
    input:
        unpack(lambda wc: FUSION_TILING.search_inputs(wc.net, wc.accel)),
    output:
        plan=f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/plan.json",
        log=f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/plan.log",
        statistics=f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/statistics.csv",
        tiling=report(
            f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/tiling.png",
            category="Fusion tiling",
            subcategory="{net} on {accel}",
            labels={
                "network": "{net}",
                "accelerator": "{accel}",
                "file": "tiling.png",
            },
        ),
        energy=report(
            f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/energy.png",
            category="Fusion tiling",
            subcategory="{net} on {accel}",
            labels={
                "network": "{net}",
                "accelerator": "{accel}",
                "file": "energy.png",
            },
        ),
        comparison=report(
            f"{OUT}/fusion_tiling/{{net}}/{{accel}}/plan/comparison.csv",
            category="Fusion tiling",
            subcategory="{net} on {accel}",
            labels={
                "network": "{net}",
                "accelerator": "{accel}",
                "file": "comparison.csv",
            },
        ),
    log:
        f"{OUT}/logs/search_fusion_plan/{{net}}/{{accel}}.log",
    wildcard_constraints:
        net=wildcard_pattern(FUSION_TILING.network_names()),
        accel=wildcard_pattern(FUSION_TILING.accel_names()),
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        levels=lambda wc: FUSION_TILING.levels(wc.accel),
        objective=config["fusion_tiling"]["objective"],
        variant=config["fusion_tiling"]["variant"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/search_fusion_plan.py"
