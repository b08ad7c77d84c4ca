"""An accelerator without an ERT in the real workflow: rule build_ert builds it, the layer jobs use it, and
editing a buffer's depth reruns that ERT and that accelerator's layer jobs only."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from fusionsim.workflow.plan import build_plan

from .conftest import ROOT, dry_run_jobs, need_mapper, snakemake, write_overlay

pytestmark = pytest.mark.slow

LAYERS = ["PW2", "b1_conv"]
BUILT = "mini_systolic"  # .test/accelerators/mini_systolic: no `ert:` in its manifest
SHIPPED = "eyeriss_like"  # ships its ERT


def _config(overlay: Path) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for p in (ROOT / ".test/config.yaml", overlay):
        for k, v in yaml.safe_load(p.read_text()).items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    return cfg


def test_built_ert_is_used_and_a_depth_edit_reruns_only_that_accelerator(tmp_path: Path) -> None:
    need_mapper()
    from fusionsim.energy.ert import build_tables, write_tables
    from fusionsim.model.evaluate import evaluate_files

    t0 = time.time()
    accels = tmp_path / "accelerators"
    shutil.copytree(ROOT / "accelerators" / SHIPPED, accels / SHIPPED)
    shutil.copytree(ROOT / ".test/accelerators" / BUILT, accels / BUILT)
    assert not (accels / BUILT / "ERT.yaml").exists()
    overlay = write_overlay(
        tmp_path / "ert.yaml",
        {
            "accelerators_dir": str(accels),
            "accelerators": {SHIPPED: {}, BUILT: {}},
            "layers": {"mobilenetv2": LAYERS},
        },
    )
    work = tmp_path / "work"
    snakemake(work, overlays=[overlay])
    out = work / "results"

    # the ERT (and ART) of the ERT-less accelerator are built, none for the one that ships its own
    ert = out / "ert" / BUILT / "ERT.yaml"
    assert ert.is_file() and (out / "ert" / BUILT / "ART.yaml").is_file()
    assert not (out / "ert" / SHIPPED).exists()
    cfg = _config(overlay)
    plan = build_plan(cfg, ROOT)
    arch = accels / BUILT / "arch.yaml"
    assert plan.map_job_inputs(plan.key_of("mobilenetv2", "cifar10", BUILT, "PW2", "full"))["ert"] == str(
        Path("results/ert") / BUILT / "ERT.yaml"
    )
    # it is the package's table for that arch at the configured technology
    tables = build_tables(arch, [], cfg["energy"]["technology"], cfg["energy"]["backend"]).by_name()
    written = {t["name"]: t for t in yaml.safe_load(ert.read_text())["ERT"]["tables"]}
    assert set(written) == set(tables)

    # and the layer jobs used it: a direct evaluation of each mapping with that ERT gives the stats' numbers
    other = tmp_path / "ert65"
    write_tables(build_tables(arch, [], "65nm"), other)
    for layer in LAYERS:
        d = out / f"mobilenetv2/cifar10/{BUILT}/layers/{layer}/full"
        stats = json.loads((d / "stats.json").read_text())
        direct = evaluate_files(arch, d / "problem.yaml", d / "mapping.yaml", ert)
        assert direct.energy_pJ == pytest.approx(stats["energy_pJ"], rel=1e-9), layer
        assert direct.cycles == stats["cycles"]
        by_level = {lv["name"]: lv["energy_pJ"] for lv in stats["levels"]}
        for lv in direct.levels:
            assert lv.energy_pJ == pytest.approx(by_level[lv.name], rel=1e-9, abs=1e-9), (layer, lv.name)
        # another technology's table prices the same mapping differently (so the match above is not vacuous)
        assert evaluate_files(arch, d / "problem.yaml", d / "mapping.yaml", other / "ERT.yaml").energy_pJ != (
            pytest.approx(stats["energy_pJ"], rel=1e-6)
        )

    proc = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]

    # one buffer's depth changes in the copy: its ERT job, its layer jobs and their aggregation rerun, no more
    text = arch.read_text()
    assert text.count("depth: 256") == 1
    arch.write_text(text.replace("depth: 256", "depth: 512"))
    jobs = dry_run_jobs(work, overlays=[overlay])
    counts = {rule: len(v) for rule, v in jobs.items()}
    new_plan = build_plan(cfg, ROOT)
    built_keys = {k for (n, ds, a, lay, t), k in new_plan.layer_keys.items() if a == BUILT}
    old_built = {k for (n, ds, a, lay, t), k in plan.layer_keys.items() if a == BUILT}
    shipped_keys = {k for (n, ds, a, lay, t), k in new_plan.layer_keys.items() if a == SHIPPED}
    assert shipped_keys == {k for (n, ds, a, lay, t), k in plan.layer_keys.items() if a == SHIPPED}
    assert not built_keys & old_built and len(built_keys) == len(LAYERS)
    print(f"rerun after editing {BUILT}'s Accumulator depth: {counts} ({time.time() - t0:.1f} s so far)")
    assert jobs["build_ert"] == [{"accel": BUILT}]
    rerun_keys = [k for w in jobs["map_layer_batch"] for k in new_plan.map_batches()[w["batch"]]]
    assert sorted(rerun_keys) == sorted(built_keys)  # exactly the built accelerator's keys, each once
    assert [w["accel"] for w in jobs["collect_layers"]] == [BUILT]  # one job copies every layer
    assert [w["accel"] for w in jobs["aggregate_res"]] == [BUILT]
    assert set(jobs) == {"build_ert", "map_layer_batch", "collect_layers", "aggregate_res", "write_summary"}
    assert counts["write_summary"] == 1
    print(f"plan checks {time.time() - t0:.1f} s")
