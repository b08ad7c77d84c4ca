# Validates the config (filling in the schema's defaults), builds the run plan and constrains wildcards.
from snakemake.utils import min_version

from fusionsim.config_check import check_or_exit, or_exit
from fusionsim.sweeps.plan import sweep_plan, sweep_targets
from fusionsim.workflow.keys import model_version
from fusionsim.workflow.plan import build_plan, wildcard_pattern

min_version("8.0")


# Fill in the schema's defaults (the Snakefile checked the config before loading it); keep where keys come from.
CONFIG_SOURCES = check_or_exit(workflow, config)

PLAN = or_exit(CONFIG_SOURCES, build_plan, config, workflow.basedir)
OUT = PLAN.out
# sweep points register their variants' ERT builds in PLAN: before rules/energy.smk reads them
SWEEPS = or_exit(CONFIG_SOURCES, sweep_plan, PLAN, config, workflow.basedir)
MODEL_VERSION = model_version()
CONDA_ENV = "../envs/fusionsim.yaml"


wildcard_constraints:
    net=wildcard_pattern([n for n, _ in PLAN.pairs()]),
    dataset=wildcard_pattern([d for _, d in PLAN.pairs()]),
    accel=wildcard_pattern(PLAN.accel_names()),
    layer=r"[A-Za-z0-9_.-]+",
    tile="full",
    key=r"[0-9a-f]{16}",
