"""The layer that ties the package to Snakemake: everything with a branch the rule files need, unit-tested.

One job per module (import from the module, not from this package; docs/pipeline.md has the map):

- `keys`: content hashes of objects and files, the model version (cache-key parts);
- `accelerators`: accelerator manifests (`load_accelerator`) and the key of an ERT the pipeline builds;
- `mapper_settings`: a layer job's mapper YAML (mapper file + config overrides);
- `plan`: the default run's plan (`build_plan`): pairs, layers, content keys, paths, targets;
- `jobs`: job bodies of the default run (`run_map_job`, `run_ert_job`);
- `tables`: res.csv, the layer table and the summary;
- `fusion_tiling`: the fusion-tiling stage's plan (tile and batch jobs, targets);
- `fusion_tiling_jobs`: its job bodies (layer folder, tile batches, cost tables, search);
- `archon_comparison`: the ARCHON comparison's plan (its layer jobs in the run plan, rule inputs, targets);
- `archon_jobs`: its job bodies (fused blocks, sparse tables, comparison, final and area tables).
"""
