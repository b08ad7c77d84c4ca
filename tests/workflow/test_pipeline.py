"""The real workflow on the .test overlay, through the snakemake CLI in a temporary directory."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fusionsim.workflow.plan import build_plan
from fusionsim.workflow.tables import layer_cost
from fusionsim.workloads import expand_network, load_network

from .conftest import ROOT, SNAKEMAKE, dry_run_jobs, need_mapper, snakemake, write_overlay

pytestmark = pytest.mark.slow


def test_lint_is_clean() -> None:
    proc = subprocess.run(
        [SNAKEMAKE, "--lint", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean() -> None:
    """The Snakefile and rules/*.smk keep snakefmt's layout (the Snakemake catalog's standard)."""
    snakefmt = Path(SNAKEMAKE).with_name("snakefmt")
    if not snakefmt.exists():
        pytest.skip(f"snakefmt not installed beside {SNAKEMAKE} (pip install -e '.[test]')")
    # snakefmt >= 2.1 formats shell: blocks with shfmt, installed beside it in the venv but not on PATH
    # unless the venv is activated.
    env = {**os.environ, "PATH": f"{snakefmt.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [str(snakefmt), "--check", "Snakefile", "rules"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, f"run `snakefmt Snakefile rules`:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_dry_run_with_each_profile(tmp_path: Path, profile: str) -> None:
    if profile == "slurm":
        pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM executor plugin is the `slurm` extra")
    jobs = dry_run_jobs(tmp_path) if profile == "local" else None
    if jobs is not None:
        # the 3 layer keys of .test/config.yaml fit one batch job; one copy job per network
        assert len(jobs["map_layer_batch"]) == 1 and len(jobs["collect_layers"]) == 1
    snakemake(tmp_path, "-n", profile=profile)


def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    overlay = write_overlay(tmp_path / "bad.yaml", {"mapper": {"timeuot": 5}})
    proc = snakemake(tmp_path, "-n", overlays=[overlay], check=False)
    assert proc.returncode != 0
    assert "timeuot" in proc.stdout + proc.stderr


def _config(overlays: list[Path]) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for p in [ROOT / ".test/config.yaml", *overlays]:
        over = yaml.safe_load(p.read_text())
        for k, v in over.items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    for acc in cfg["accelerators"]:
        cfg["accelerators"][acc] = cfg["accelerators"][acc] or {}
    return cfg


def test_run_matches_package_calls_then_noop_then_targeted_rerun(
    tmp_path: Path, two_accelerators: Path
) -> None:
    need_mapper()
    from fusionsim.mapper.api import map_files

    overlay = write_overlay(
        tmp_path / "two.yaml",
        {
            "accelerators_dir": str(two_accelerators),
            "accelerators": {"eyeriss_like": {}, "eyeriss_b": {}},
        },
    )
    work = tmp_path / "work"
    t0 = time.time()
    snakemake(work, overlays=[overlay])
    first_run_s = time.time() - t0
    cfg = _config([overlay])
    plan = build_plan(cfg, ROOT)
    out = work / "results"
    layers = expand_network(load_network(ROOT / "workloads/mobilenetv2.yaml"), "cifar10")
    wanted = cfg["layers"]["mobilenetv2"]
    layers = [x for x in layers if x.name in wanted]
    # one mapper job per (accelerator, distinct layer problem)
    assert len(list((out / "cache/layers").iterdir())) == 6

    for acc in ("eyeriss_like", "eyeriss_b"):
        with (out / f"mobilenetv2/cifar10/{acc}/res.csv").open() as fh:
            res = {r["layer"]: r for r in csv.DictReader(fh)}
        for layer in layers:
            d = out / f"mobilenetv2/cifar10/{acc}/layers/{layer.name}/full"
            for name in ("problem.yaml", "mapping.yaml", "stats.json", "stats.txt"):
                assert (d / name).stat().st_size > 0, d / name
            stats = json.loads((d / "stats.json").read_text())
            # the same inputs through the package API give the same numbers
            key = plan.key_of("mobilenetv2", "cifar10", acc, layer.name, "full")
            inputs = plan.map_job_inputs(key)
            direct = map_files(
                arch=Path(inputs["arch"]),
                problem=d / "problem.yaml",
                constraints=[Path(c) for c in inputs["constraints"]],
                mapper=out / "cache/layers" / key / "mapper.yaml",
                ert=Path(inputs["ert"]),
                components=Path(
                    plan.components_dir(plan.key_of("mobilenetv2", "cifar10", acc, layer.name, "full"))
                ),
                seed=cfg["mapper"]["seed"],
                threads=1,
                engine="native",
            )
            assert direct["stats"]["energy_pJ"] == pytest.approx(stats["energy_pJ"], rel=1e-9)
            assert direct["stats"]["cycles"] == stats["cycles"]
            energy_uj, cycles = layer_cost(layer, stats, ["shared_glb", "DRAM"])
            row = res[layer.block or layer.name]
            col = {"decom": "PW1/L1", "conv": "DW", "comp": "PW2", None: "PW1/L1"}[layer.role]
            assert float(row[f"{col}_e"]) == pytest.approx(energy_uj, rel=1e-6)
            assert float(row[f"{col}_c"]) == pytest.approx(cycles)
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert {r["accelerator"] for r in summary} == {"eyeriss_like", "eyeriss_b"}

    # a second run does nothing
    proc = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]

    # one accelerator's mapper setting changes: only that accelerator's jobs (and the final table) rerun
    edit = write_overlay(
        tmp_path / "edit.yaml", {"accelerators": {"eyeriss_b": {"mapper": {"victory_condition": 7}}}}
    )
    jobs = dry_run_jobs(work, overlays=[overlay, edit])
    new_plan = build_plan(_config([overlay, edit]), ROOT)
    b_keys = {k for (n, d, a, lay, t), k in new_plan.layer_keys.items() if a == "eyeriss_b"}
    a_keys = {k for (n, d, a, lay, t), k in new_plan.layer_keys.items() if a == "eyeriss_like"}
    counts = {rule: len(v) for rule, v in jobs.items()}
    print(f"first run {first_run_s:.1f} s; rerun after editing eyeriss_b's mapper: {counts}")
    # the batch jobs that run hold exactly the new keys (a batch has one owner: here one accelerator's network)
    rerun_keys = {k for w in jobs["map_layer_batch"] for k in new_plan.map_batches()[w["batch"]]}
    assert rerun_keys == b_keys and not b_keys & a_keys
    assert jobs["collect_layers"] == [{"net": "mobilenetv2", "dataset": "cifar10", "accel": "eyeriss_b"}]
    assert [w["accel"] for w in jobs["aggregate_res"]] == ["eyeriss_b"]
    assert set(jobs) <= {"write_mapper", "map_layer_batch", "collect_layers", "aggregate_res", "write_summary"}


def test_kill_mid_run_then_rerun_completes(tmp_path: Path) -> None:
    need_mapper()
    work = tmp_path / "work"
    overlay = write_overlay(
        tmp_path / "more.yaml",
        {
            "layers": {
                "mobilenetv2": [
                    "conv1",
                    "PW1",
                    "DW1",
                    "PW2",
                    "b1_decom",
                    "b1_conv",
                    "b1_comp",
                    "b2_decom",
                    "b2_conv",
                    "FC1",
                ]
            }
        },
    )
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--workflow-profile",
        str(ROOT / "profiles/local"),
        "--configfile",
        str(ROOT / ".test/config.yaml"),
        str(overlay),
        "--cores",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = work / "results/logs/map_layer_batch"
    end = time.time() + 300
    while time.time() < end and proc.poll() is None:
        done = (
            list((work / "results/cache/layers").glob("*/run.json"))
            if (work / "results/cache/layers").exists()
            else []
        )
        if logs.exists() and any(logs.iterdir()) and len(done) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; give it more layers"
    os.killpg(proc.pid, signal.SIGKILL)  # the snakemake process group this test started
    proc.wait()
    # nothing that looks finished is partial: every stats.json present parses
    for f in (work / "results").rglob("stats.json"):
        json.loads(f.read_text())
    # a SIGKILLed snakemake leaves its lock; --unlock is Snakemake's documented recovery step
    snakemake(work, "--unlock", overlays=[overlay])
    snakemake(work, overlays=[overlay])
    out = work / "results/mobilenetv2/cifar10/eyeriss_like"
    with (out / "res.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["layer"] == "total" and float(rows[-1]["PW1/L1_e"]) > 0
    for layer in ("conv1", "b2_conv", "FC1"):
        stats = json.loads((out / f"layers/{layer}/full/stats.json").read_text())
        assert stats["cycles"] > 0
    assert not list((work / "results").rglob("*.tmp"))
    proc = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_one_changed_layer_maps_exactly_its_new_key(tmp_path: Path) -> None:
    """Layer jobs run in batches, yet a changed layer shape maps one new key: the rerun batch takes the
    others from the cache (its results.json says so), and the no-op after it is a no-op. A key folder deleted
    by hand is mapped again the same way."""
    need_mapper()
    workloads = tmp_path / "workloads"
    workloads.mkdir()
    wl = workloads / "mobilenetv2.yaml"
    wl.write_text((ROOT / "workloads/mobilenetv2.yaml").read_text())
    overlay = write_overlay(tmp_path / "wl.yaml", {"workloads_dir": str(workloads)})
    work = tmp_path / "work"
    snakemake(work, overlays=[overlay])
    cache = work / "results/cache/layers"
    first = {p.name: (p / "stats.json").stat().st_mtime_ns for p in cache.iterdir()}
    assert len(first) == 3

    # 12 classes instead of 10: only FC1 changes shape
    wl.write_text(wl.read_text().replace("cifar10: {size: 32, channels: 3, classes: 10}",
                                         "cifar10: {size: 32, channels: 3, classes: 12}"))
    jobs = dry_run_jobs(work, overlays=[overlay])
    assert len(jobs["map_layer_batch"]) == 1
    snakemake(work, overlays=[overlay])
    second = {p.name: (p / "stats.json").stat().st_mtime_ns for p in cache.iterdir()}
    new = set(second) - set(first)
    assert len(new) == 1 and all(second[k] == first[k] for k in first)  # the old keys' files untouched
    (results,) = [f for f in (work / "results/cache/layer_batches").glob("*/results.json")
                  if new <= set(json.loads(f.read_text())["records"])]
    body = json.loads(results.read_text())
    assert body["keys"] == 3 and body["reused"] == 2
    fc1 = json.loads((work / "results/mobilenetv2/cifar10/eyeriss_like/layers/FC1/full/stats.json").read_text())
    assert fc1 == json.loads((cache / new.pop() / "stats.json").read_text())
    proc = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in proc.stdout + proc.stderr

    # a key folder deleted by hand, and a layers folder that needs it: the batch runs again and maps exactly
    # that key, the run completes (Snakemake alone would reuse the batch's results.json and the copy would fail)
    gone = sorted(set(body["records"]) & set(first))[0]  # an unchanged layer's key, still in the plan
    shutil.rmtree(cache / gone)
    shutil.rmtree(work / "results/mobilenetv2/cifar10/eyeriss_like/layers")
    snakemake(work, overlays=[overlay])
    assert json.loads((cache / gone / "run.json").read_text())["key"] == gone
    body = json.loads(results.read_text())
    assert body["keys"] == 3 and body["reused"] == 2
    proc = snakemake(work, "-n", overlays=[overlay])
    assert "Nothing to be done" in proc.stdout + proc.stderr
