"""The fusion-tiling search per sweep point (`sweeps.NAME.fusion_tiling: true`): each variant joins the
fusion-tiling plan with its own rendered level sizes, tile jobs stay content-keyed (equal points share them),
and points.csv gains the fused columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.sweeps.fusion import add_sweep_fusion
from fusionsim.sweeps.pareto import FUSED_COLUMNS, points_table
from fusionsim.sweeps.plan import sweep_plan
from fusionsim.workflow.fusion_tiling import fusion_tiling_plan, fusion_tiling_targets
from fusionsim.workflow.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["conv4", "conv5", "fc8"]  # fc8 is no fusion layer: the search takes conv4 and conv5


def _config(tmp_path: Path, sweeps: dict, **fusion: object) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg.update({"output_dir": str(tmp_path / "out"), "networks": ["alexnet"], "datasets": ["imagenet"],
                "accelerators": {"simba_like": {}}, "layers": {"alexnet": ["fc8"]}, "sweeps": sweeps})
    cfg["fusion_tiling"] = {**cfg["fusion_tiling"], "enabled": False, "tiles": [6, 13], **fusion}
    return cfg


def _sweep(**extra: object) -> dict:
    return {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
            "layers": {"alexnet": LAYERS}, "grid": {"pe_count": [4, 16], "glb_kib": [64, 256]},
            "fusion_tiling": True, **extra}


def _plans(cfg: dict):
    plan = build_plan(cfg, ROOT)
    sp = sweep_plan(plan, cfg, ROOT)
    ft = add_sweep_fusion(fusion_tiling_plan(plan, cfg, ROOT), sp, plan, cfg)
    return plan, sp, ft


def test_each_point_searches_with_its_own_level_sizes(tmp_path: Path) -> None:
    _, sp, ft = _plans(_config(tmp_path, {"s": _sweep()}))
    sweep = sp.sweeps["s"]
    assert set(ft.accel_names()) == set(sweep.points) and len(sweep.points) == 4
    assert fusion_tiling_targets(ft) == []  # the stage itself stays off; sweep_tables pulls the searches
    (fid,) = ft.network_names()
    assert ft.layer_names[fid] == ["conv4", "conv5"] and ft.datasets[fid] == "imagenet"
    for pid, values in sweep.points.items():
        words = values["glb_kib"] * 1024 * 8 // values["word_bits"]
        weights = values["pe_count"] * 8 * 512 * (128 // values["word_bits"])
        assert ft.levels(pid) == {"weights_level": f"PEWeightBuffer:{weights}",
                                  "inputs_level": f"PEInputBuffer:{words}",
                                  "outputs_level": f"PEAccuBuffer:{words}"}
        # the rule's inputs: the variant's files and its built ERT
        batch = ft.batch_of[next(iter(ft.uses[(fid, pid)]))]
        assert ft.batch_inputs(batch)["ert"] == f"{sp.out}/ert/{pid}/ERT.yaml"
        assert ft.batch_inputs(batch)["arch"] == str(sp.variants[pid].arch)
    # two levels sizes differ between points: the searches cannot all read the plain manifest's
    assert len({ft.levels(p)["inputs_level"] for p in sweep.points}) == 2
    assert len({ft.levels(p)["weights_level"] for p in sweep.points}) == 2
    rows = sp.table_rows("s")
    fused = sp.table_inputs("s")["fused"]
    assert len(fused) == len(rows) == 4
    assert all(f == f"{ft.plan_dir(fid, r['point'])}/comparison.csv" for f, r in zip(fused, rows, strict=True))
    assert all(f in ft.plan_files(fid, r["point"]) for f, r in zip(fused, rows, strict=True))


def test_tile_jobs_are_content_keyed_and_shared(tmp_path: Path) -> None:
    _, _, one = _plans(_config(tmp_path, {"s": _sweep()}))
    # a second sweep whose points are a subset of the first's adds no tile job; replanning gives equal keys
    _, _, two = _plans(_config(tmp_path, {"s": _sweep(), "t": _sweep(grid={"pe_count": [4], "glb_kib": [64]})}))
    assert set(one.jobs) == set(two.jobs) and one.batches == two.batches
    # the points' tiles differ (their arch files do) but no key is shared between two variants
    per_accel: dict[str, set[str]] = {}
    for key, job in one.jobs.items():
        per_accel.setdefault(job.accel, set()).add(key)
    assert len(per_accel) == 4 and sum(map(len, per_accel.values())) == len(one.jobs)
    # the main stage on the plain accelerator keeps its keys when a sweep joins
    cfg = _config(tmp_path, {}, enabled=True, layers={"alexnet": ["conv4", "conv5"]})
    plain = fusion_tiling_plan(build_plan(cfg, ROOT), cfg, ROOT)
    _, _, both = _plans({**cfg, "sweeps": {"s": _sweep()}})
    assert set(plain.jobs) < set(both.jobs) and fusion_tiling_targets(both) == fusion_tiling_targets(plain)


def test_the_search_needs_all_seven_types(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        _plans(_config(tmp_path, {"s": _sweep()}, types=["SLC", "WCC"]))
    assert "fusion_tiling.types" in err.value.line() and "sweeps.s.fusion_tiling" in err.value.line()


def test_a_sweep_without_fusion_layers_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        _plans(_config(tmp_path, {"s": _sweep(layers={"alexnet": ["fc8"]})}))
    assert "sweeps.s.layers.alexnet" in err.value.line() and "conv1" in err.value.line()


def test_points_table_has_the_fused_columns(tmp_path: Path) -> None:
    point = tmp_path / "point.json"
    point.write_text(json.dumps({"valid": True, "energy_uJ": 10.0, "cycles": 100.0}))
    art = tmp_path / "ART.yaml"
    art.write_text(yaml.safe_dump({"ART": {"tables": [{"name": "System.PE[0..3].MAC", "area": 1e6}]}}))
    comparison = tmp_path / "comparison.csv"
    comparison.write_text("schedule,energy_uJ,cycles,saving_pct,stacks\nlayer_by_layer,8,90,0,(0 0)\n"
                          "\"fused (exact, energy)\",6,95,25,(0 1)\n")
    rows = [{"point": "p", "network": "alexnet", "dataset": "imagenet", "values": {"glb_kib": 64}}]
    frame = points_table(rows, [str(point)], {"p": str(art)}, ["glb_kib"], [str(comparison)])
    assert list(frame.columns[frame.columns.isin(FUSED_COLUMNS)]) == FUSED_COLUMNS
    assert frame.iloc[0][FUSED_COLUMNS].tolist() == [8.0, 6.0, 95.0, 25.0]
    assert frame.iloc[0]["area_mm2"] == pytest.approx(4.0)
    plain = points_table(rows, [str(point)], {"p": str(art)}, ["glb_kib"])
    assert not set(FUSED_COLUMNS) & set(plain.columns)
