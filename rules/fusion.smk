# ARCHON predictive layer fusion (issue 9): the comparison's layer jobs (compact network on the dense
# baseline, fusion network's head/tail and block predictions on ARCHON `predictions`, fused main computations on
# ARCHON `main`) are registered as ordinary content-keyed map_layer jobs (rules/map.smk); one fused_block job
# per block then prices its three engine results plus the analytical overhead. See docs/archon.md.
from fusionsim.workflow import comparison_plan, comparison_targets

COMPARISON = or_exit(CONFIG_SOURCES, comparison_plan, PLAN, config, workflow.basedir)


rule fused_block:
    input:
        unpack(lambda wc: COMPARISON.fused_block_inputs(wc.cmp, wc.dataset, wc.block)),
    output:
        f"{OUT}/archon/{{cmp}}/{{dataset}}/blocks/{{block}}.json",
    log:
        f"{OUT}/logs/fused_block/{{cmp}}/{{dataset}}/{{block}}.log",
    wildcard_constraints:
        cmp=r"[A-Za-z0-9_-]+",
        block=r"b[0-9]+",
    conda:
        CONDA_ENV
    params:
        block=lambda wc: COMPARISON.fused_block_params(wc.cmp, wc.dataset, wc.block),
        model_version=MODEL_VERSION,
    script:
        "../scripts/fused_block.py"
