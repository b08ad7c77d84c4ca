# ARCHON predictive layer fusion (issue 9): the comparison's layer jobs (compact network on the dense
# baseline, fusion network's head/tail and block predictions on ARCHON `predictions`, fused main computations on
# ARCHON `main`) are registered as ordinary content-keyed map_layer jobs (rules/map.smk); each (network, dataset)'s
# write_comparison job (rules/report.smk) prices every fused block's three engine results plus the analytical
# overhead (blocks/<block>.json) and builds its tables. See docs/archon.md.
from fusionsim.workflow.archon_comparison import comparison_plan, comparison_targets

COMPARISON = or_exit(CONFIG_SOURCES, comparison_plan, PLAN, config, workflow.basedir)
