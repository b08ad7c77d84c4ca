# fusionsim: DNN inference on accelerators, one cached mapper job per layer.
# Stages, in data-flow order: problems -> map -> aggregate. See docs/pipeline.md.
import os


configfile: os.path.join(workflow.basedir, "config.yaml")


include: "rules/common.smk"
include: "rules/problems.smk"
include: "rules/map.smk"
include: "rules/aggregate.smk"


rule all:
    default_target: True
    input:
        PLAN.targets(),
