# fusionsim: DNN inference on accelerators; every layer mapping cached by content, mapped in batches of layers.
# Stages, in data-flow order: problems, ERTs (rules/energy.smk) -> map -> aggregate -> fusion/fusion-tiling/sparsity -> report. See docs/pipeline.md.
import os

from fusionsim.config_check import check_or_exit
from fusionsim.console import print_summary
from fusionsim.run_lock import acquire_or_exit
from fusionsim.slurm_quiet import install as drop_slurm_account_noise

# Config problems print one line each (file, key path, fix) and exit 2 before Snakemake reads config.yaml.
check_or_exit(workflow, config, with_default=True)


configfile: os.path.join(workflow.basedir, "config.yaml")


include: "rules/common.smk"
include: "rules/problems.smk"
include: "rules/energy.smk"
include: "rules/map.smk"
include: "rules/aggregate.smk"
include: "rules/fusion.smk"
include: "rules/fusion_tiling.smk"
include: "rules/sparsity.smk"
include: "rules/report.smk"
include: "rules/sweeps.smk"


# A layer folder deleted from the cache after its batch ran: drop that batch's results file, so the batch runs
# again and maps exactly the missing layers (fusionsim.workflow.map_batches).
PLAN.drop_stale_batches()
SWEEPS.drop_stale_batches()


# One run per output folder: a lock file inside it (flock, gone when this process ends). A second run with the
# same output_dir, from any working folder, stops here with one line before any job runs (dry runs skip it).
onstart:
    acquire_or_exit(OUT, CONFIG_SOURCES.file_of(["output_dir"]))
    drop_slurm_account_noise()  # profiles/slurm sets slurm-no-account; plugin 2.8.0 still guesses (noisily)


rule all:
    default_target: True
    input:
        PLAN.targets(),
        comparison_targets(COMPARISON),
        fusion_tiling_targets(FUSION_TILING),
        sweep_targets(SWEEPS),


onsuccess:
    print_summary(OUT)
