# Comparison tables, plots and the area table (issue 9): per (network, dataset) res.csv / result.csv with
# dense, sparse and ARCHON columns; the final table with speedups and energy ratios; `snakemake --report`
# renders them (report: annotations; the workflow page shows the final table).


from fusionsim.workflow.paths import inputs_outside, refs_inside


report: "../scripts/report_workflow.rst"


rule write_comparison:
    input:
        unpack(lambda wc: COMPARISON.comparison_rule_inputs(wc.cmp, wc.dataset)),
    output:
        res=report(
            f"{OUT}/archon/{{cmp}}/{{dataset}}/res.csv",
            category="Per network",
            subcategory="{cmp} {dataset}",
            labels={
                "network": "{cmp}",
                "dataset": "{dataset}",
                "table": "res.csv (blocks)",
            },
        ),
        res_md=f"{OUT}/archon/{{cmp}}/{{dataset}}/res.md",
        summary=f"{OUT}/archon/{{cmp}}/{{dataset}}/res_summary.csv",
        summary_md=f"{OUT}/archon/{{cmp}}/{{dataset}}/res_summary.md",
        result=report(
            f"{OUT}/archon/{{cmp}}/{{dataset}}/result.csv",
            category="Per network",
            subcategory="{cmp} {dataset}",
            labels={
                "network": "{cmp}",
                "dataset": "{dataset}",
                "table": "result.csv (network)",
            },
        ),
        result_md=f"{OUT}/archon/{{cmp}}/{{dataset}}/result.md",
        energy_png=report(
            f"{OUT}/archon/{{cmp}}/{{dataset}}/block_energy.png",
            category="Per network",
            subcategory="{cmp} {dataset}",
            labels={
                "network": "{cmp}",
                "dataset": "{dataset}",
                "table": "per-block energy",
            },
        ),
        speedup_png=report(
            f"{OUT}/archon/{{cmp}}/{{dataset}}/block_speedup.png",
            category="Per network",
            subcategory="{cmp} {dataset}",
            labels={
                "network": "{cmp}",
                "dataset": "{dataset}",
                "table": "per-block speedup",
            },
        ),
        totals=f"{OUT}/archon/{{cmp}}/{{dataset}}/totals.json",
        blocks=directory(f"{OUT}/archon/{{cmp}}/{{dataset}}/blocks"),
    log:
        f"{OUT}/logs/write_comparison/{{cmp}}/{{dataset}}.log",
    wildcard_constraints:
        cmp=r"[A-Za-z0-9_-]+",
    conda:
        CONDA_ENV
    params:
        cached=lambda wc: COMPARISON.comparison_cached(wc.cmp, wc.dataset),
        tables=lambda wc: COMPARISON.comparison_params(wc.cmp, wc.dataset),
        sigma=config["fusion"]["sigma"],
        index_bits=config["fusion"]["index_bits"],
        model_version=MODEL_VERSION,
    script:
        "../scripts/write_comparison.py"


rule write_final_table:
    input:
        totals=lambda wc: COMPARISON.totals_inputs(),
    output:
        csv=report(
            f"{OUT}/report/final.csv",
            category="Final comparison",
            labels={"table": "final.csv"},
        ),
        md=f"{OUT}/report/final.md",
        reference=report(
            f"{OUT}/report/final_vs_reference.csv",
            category="Final comparison",
            labels={"table": "vs published totals"},
        ),
        reference_md=f"{OUT}/report/final_vs_reference.md",
        png=report(
            f"{OUT}/report/speedup.png",
            category="Final comparison",
            labels={"table": "speedups"},
        ),
    log:
        f"{OUT}/logs/write_final_table.log",
    conda:
        CONDA_ENV
    params:
        references=lambda wc: COMPARISON.references(),
    script:
        "../scripts/write_final_table.py"


rule write_area_table:
    input:
        unpack(lambda wc: inputs_outside(COMPARISON.area_inputs(), workflow.basedir)),
    output:
        csv=report(
            f"{OUT}/report/area.csv",
            category="Final comparison",
            labels={"table": "area"},
        ),
        md=f"{OUT}/report/area.md",
    log:
        f"{OUT}/logs/write_area_table.log",
    conda:
        CONDA_ENV
    params:
        files=lambda wc: refs_inside(COMPARISON.area_inputs(), workflow.basedir),
        adders=24,
    script:
        "../scripts/write_area_table.py"
