"""A 2 x 2 sweep of simba_like (PE count x global-buffer KiB) on two AlexNet layers through the real workflow:
area grows strictly with buffer size and PE count, the default point reproduces the plain accelerator's
res.csv (both with the ERT the pipeline builds), and a new grid value adds only the new points' jobs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from . import conftest
from .conftest import ROOT, need_mapper, write_overlay

pytestmark = pytest.mark.slow

LAYERS = ["conv2", "fc8"]


def _run(work: Path, overlay: Path, *args: str) -> str:
    """snakemake on config.yaml + `overlay` only (not .test/config.yaml: its layers name mobilenetv2)."""
    cmd = [conftest.SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--workflow-profile", str(ROOT / "profiles/local"), "--configfile", str(overlay), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _dry_run_jobs(work: Path, overlay: Path) -> dict[str, list[dict[str, str]]]:
    jobs: dict[str, list[dict[str, str]]] = {}
    current = None
    for line in _run(work, overlay, "-n").splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            current = m.group(1)
            jobs.setdefault(current, []).append({})
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and current:
            jobs[current][-1] = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
    jobs.pop("all", None)
    return jobs


def _overlay(tmp_path: Path, accels: Path, pe_counts: list[int], name: str) -> Path:
    return write_overlay(tmp_path / name, {
        "accelerators_dir": str(accels),
        "networks": ["alexnet"],
        "datasets": ["imagenet"],
        "layers": {"alexnet": LAYERS},
        "accelerators": {"simba_like": {}},  # (+ config.yaml's eyeriss_like: dicts merge)
        "mapper": {"timeout": 200, "victory_condition": 20},
        "sparsity": {"enabled": False},
        "fusion": {"enabled": False},
        "fusion_tiling": {"enabled": False},
        "sweeps": {"s": {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
                         "layers": {"alexnet": LAYERS}, "grid": {"pe_count": pe_counts, "glb_kib": [64, 128]}}},
    })


def test_sweep_area_default_point_and_incremental_grid(tmp_path: Path) -> None:
    need_mapper()
    accels = tmp_path / "accelerators"
    for name in ("simba_like", "eyeriss_like"):
        shutil.copytree(ROOT / "accelerators" / name, accels / name)
    manifest = accels / "simba_like" / "accelerator.yaml"
    raw = yaml.safe_load(manifest.read_text())
    raw.pop("ert")  # the plain accelerator uses the built ERT too, as every sweep point does
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    work = tmp_path / "work"
    _run(work, _overlay(tmp_path, accels, [4, 16], "a.yaml"))
    out = work / "results"

    pts = pd.read_csv(out / "sweeps/s/points.csv")
    assert len(pts) == 4 and pts["valid"].all()
    assert sorted(pts.columns[:2]) == ["glb_kib", "pe_count"]  # the grid's key order (the overlay sorts keys)
    area = pts.set_index(["pe_count", "glb_kib"])["area_mm2"]
    for pe in (4, 16):
        assert area[(pe, 64)] < area[(pe, 128)]
    for glb in (64, 128):
        assert area[(4, glb)] < area[(16, glb)]
    assert pts["edp"].to_numpy() == pytest.approx((pts["energy_uJ"] * pts["cycles"]).to_numpy(), rel=1e-9)
    front = pd.read_csv(out / "sweeps/s/pareto.csv")
    assert 1 <= len(front) <= 4 and set(front["point"]) <= set(pts["point"])
    assert (out / "sweeps/s/pareto.png").read_bytes()[:4] == b"\x89PNG"

    default = pts[(pts["pe_count"] == 16) & (pts["glb_kib"] == 128)]["point"].item()
    swept = (out / f"sweeps/s/alexnet/imagenet/{default}/res.csv").read_text()
    plain = (out / "alexnet/imagenet/simba_like/res.csv").read_text()
    assert swept == plain

    # one more PE count: only the two new points' ERTs, layer jobs and totals, and the sweep's tables
    jobs = _dry_run_jobs(work, _overlay(tmp_path, accels, [4, 8, 16], "b.yaml"))
    counts = {rule: len(v) for rule, v in jobs.items()}
    # each new point's layers are one batch job (len(LAYERS) <= 12 keys): nothing of the old points reruns
    assert counts == {"build_ert": 2, "sweep_map_batch": 2, "sweep_point": 2, "sweep_tables": 1}
    assert {j["point"] for j in jobs["sweep_point"]}.isdisjoint(set(pts["point"]))


def test_unknown_sweep_parameter_is_one_line_and_exit_2(tmp_path: Path) -> None:
    overlay = write_overlay(tmp_path / "bad.yaml", {
        "sweeps": {"s": {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
                         "grid": {"pe_rows": [2, 4]}}},
    })
    cmd = [conftest.SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path / "work"),
           "--configfile", str(overlay), "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if "pe_rows" in x]
    assert len(lines) == 1 and str(overlay) in lines[0] and "key 'sweeps.s.grid.pe_rows'" in lines[0]
    assert "fix: its parameters are: pe_count, glb_kib, word_bits" in lines[0] and "Traceback" not in proc.stderr


def test_sweep_with_fusion_tiling_adds_the_fused_saving_per_point(tmp_path: Path) -> None:
    """Two global-buffer sizes with `fusion_tiling: true` on AlexNet conv4 + conv5 (widths 6, 13): every row of
    points.csv has the fused columns from its own search, whose levels are the point's rendered sizes."""
    need_mapper()
    overlay = write_overlay(tmp_path / "fused.yaml", {
        "networks": ["alexnet"], "datasets": ["imagenet"], "layers": {"alexnet": ["fc8"]},
        "accelerators": {"simba_like": {}}, "mapper": {"timeout": 200, "victory_condition": 20},
        "sparsity": {"enabled": False}, "fusion": {"enabled": False},
        "fusion_tiling": {"enabled": False, "tiles": [6, 13], "mapper": {"timeout": 200, "victory_condition": 20}},
        "sweeps": {"f": {"accelerator": "simba_like", "networks": ["alexnet"], "datasets": ["imagenet"],
                         "layers": {"alexnet": ["conv4", "conv5"]}, "grid": {"glb_kib": [64, 256]},
                         "fusion_tiling": True}},
    })
    work = tmp_path / "work"
    _run(work, overlay)
    out = work / "results"
    pts = pd.read_csv(out / "sweeps/f/points.csv")
    fused = ["fusion_lbl_energy_uJ", "fused_energy_uJ", "fused_cycles", "fusion_saving_pct"]
    assert len(pts) == 2 and set(fused) <= set(pts.columns) and pts[fused].notna().all().all()
    (fid,) = [p.name for p in (out / "fusion_tiling").iterdir()]  # alexnet.imagenet.<hash of the subset>
    assert fid.startswith("alexnet.imagenet.")
    for _, row in pts.iterrows():
        plan = json.loads((out / f"fusion_tiling/{fid}/{row['point']}/plan/plan.json").read_text())
        assert row["fusion_saving_pct"] == pytest.approx(plan["saving_pct"], abs=1e-6)
        assert row["fused_energy_uJ"] == pytest.approx(plan["fused_uJ"], rel=1e-9)
        words = row["glb_kib"] * 1024 * 8 // 16
        log = (out / f"logs/search_fusion_plan/{fid}/{row['point']}.log").read_text()
        assert f"PEInputBuffer:{words} PEAccuBuffer:{words}" in log, log
