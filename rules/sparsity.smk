# Sparse baseline of the ARCHON comparison (issue 8): each compact network is pruned once per dataset
# (TensorFlow only here, in envs/sparsity.yaml; magnitude pruning of the untrained network when no dataset is
# configured, labelled magnitude-untrained), then its dense layer jobs' mappings and stats are turned into
# sparse cycles (slowest PE per pass) and energy. A network listed in `sparsity.pe_work` is not pruned: its
# sparse cycles come from the given per-PE non-zero work files (e.g. the seed's sparse_baseline/csvs).
# Files of the workflow folder reach the jobs as `{workflow}/...` params with their hash (fusionsim.workflow.paths).
from fusionsim.workflow.paths import inputs_outside, refs_inside


rule prune_network:
    input:
        unpack(
            lambda wc: inputs_outside(
                COMPARISON.prune_inputs(wc.base, wc.dataset), workflow.basedir
            )
        ),
    output:
        model=f"{OUT}/sparsity/{{base}}/{{dataset}}/pruned.h5",
        label=f"{OUT}/sparsity/{{base}}/{{dataset}}/pruned.h5.json",
    log:
        f"{OUT}/logs/prune_network/{{base}}/{{dataset}}.log",
    wildcard_constraints:
        base=r"[A-Za-z0-9_-]+",
    conda:
        "../envs/sparsity.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        files=lambda wc: refs_inside(
            COMPARISON.prune_inputs(wc.base, wc.dataset), workflow.basedir
        ),
        dataset=lambda wc: wc.dataset,
        sparsity=config["sparsity"]["target_sparsity"],
        epochs=config["sparsity"]["epochs"],
        seed=config["sparsity"]["seed"],
    script:
        "../scripts/prune_network.py"


rule adjust_sparse:
    input:
        unpack(
            lambda wc: inputs_outside(
                COMPARISON.sparse_rule_inputs(wc.base, wc.dataset), workflow.basedir
            )
        ),
    output:
        f"{OUT}/sparsity/{{base}}/{{dataset}}/sparse_layers.csv",
    log:
        f"{OUT}/logs/adjust_sparse/{{base}}/{{dataset}}.log",
    wildcard_constraints:
        base=r"[A-Za-z0-9_-]+",
    conda:
        CONDA_ENV
    params:
        files=lambda wc: refs_inside(
            COMPARISON.sparse_rule_inputs(wc.base, wc.dataset), workflow.basedir
        ),
        cached=lambda wc: COMPARISON.sparse_cached(wc.base, wc.dataset),
        dataset=lambda wc: wc.dataset,
        layers=lambda wc: COMPARISON.sparse_layer_names(wc.base, wc.dataset),
        groups=lambda wc: COMPARISON.sparse_layer_groups(wc.base, wc.dataset),
        energy_model=config["sparsity"]["energy_model"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/adjust_sparse.py"
