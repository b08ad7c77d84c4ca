"""fusionsim.workflow.map_batches: which keys share a layer-mapping batch job, what its rules read, and a real
batch mapped with the real mapper (reuse of complete keys, a failing key does not hide the others)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fusionsim.workflow.jobs import run_map_job
from fusionsim.workflow.map_batches import (
    MAP_BATCH_KEYS,
    batch_map_keys,
    drop_stale_batches,
    job_files,
    run_map_batch,
    split_cached,
)
from fusionsim.workflow.paths import resolve
from fusionsim.workflow.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]


def users_of(owners: dict[str, int]) -> dict[str, set[str]]:
    """{key: {owner}} for `n` made-up hex keys per owner."""
    out: dict[str, set[str]] = {}
    for owner, n in owners.items():
        for i in range(n):
            out[f"{owner}-{i:04d}"] = {owner}
    return out


def test_every_key_in_one_batch_of_its_first_user_at_most_the_batch_size() -> None:
    users = users_of({"a/cifar10/x": 30, "b/cifar10/x": 5})
    users["shared"] = {"b/cifar10/x", "a/cifar10/x"}  # owned by the first user in sorted order
    batches = batch_map_keys(users)
    placed = [k for keys in batches.values() for k in keys]
    assert sorted(placed) == sorted(users)  # each key exactly once
    assert all(len(keys) <= MAP_BATCH_KEYS for keys in batches.values())
    assert len(batches) == 3 + 1  # ceil(31 / 12) for a, 1 for b
    owner_of = {k: b for b, keys in batches.items() for k in keys}
    assert {k for k in batches[owner_of["shared"]]} <= {k for k in users if k.startswith("a/") or k == "shared"}


def test_a_new_key_changes_only_its_owners_batches() -> None:
    users = users_of({"a/x": 20, "b/x": 20})
    before = batch_map_keys(users)
    users["a/x-new"] = {"a/x"}
    after = batch_map_keys(users)
    changed = set(after) - set(before)
    assert changed and all(all(k.startswith("a/") for k in after[b]) for b in changed)
    assert {b for b, keys in before.items() if keys[0].startswith("b/")} <= set(after)


def test_split_cached_moves_layer_results_to_params() -> None:
    files = {
        "stats": ["results/cache/layers/k1/stats.json", "results/cache/layers/k2/stats.json"],
        "mappings": ["results/cache/layers/k1/mapping.yaml"],
        "model": "results/sparsity/net/cifar10/pruned.h5",
        "mixed": ["results/cache/layers/k1/stats.json", "results/other.csv"],
    }
    batch = {"k1": "B1", "k2": "B2"}
    inputs, cached = split_cached(files, lambda k: f"results/cache/layer_batches/{batch[k]}/results.json")
    assert cached == {"stats": files["stats"], "mappings": files["mappings"]}
    assert inputs["model"] == files["model"] and inputs["mixed"] == files["mixed"]
    assert inputs["map_batches"] == [
        "results/cache/layer_batches/B1/results.json",
        "results/cache/layer_batches/B2/results.json",
    ]
    assert job_files(inputs, cached) == {k: v for k, v in files.items()}


def test_plan_batches_cover_its_keys_and_collect_reads_their_results() -> None:
    from tests.unit.test_workflow import base_config

    plan = build_plan(base_config(datasets=["cifar10", "cifar100"]), ROOT)
    batches = plan.map_batches()
    assert sorted(k for keys in batches.values() for k in keys) == sorted(plan.jobs)
    need = {plan.batch_file_of(k) for (n, d, a, lay, t), k in plan.layer_keys.items() if d == "cifar100"}
    assert set(plan.collect_inputs("mobilenetv2", "cifar100", "eyeriss_like")["map_batches"]) == need
    entry = plan.batch_rule_params(next(iter(batches)))[0]
    assert entry["label"].endswith(" of mobilenetv2/cifar10/eyeriss_like")  # `<layer> of <owner>`
    assert entry["files"]["arch"].startswith("{workflow}/accelerators/")  # portable references
    assert set(entry["outputs"]) == {"problem", "mapper", "mapping", "stats_json", "stats_txt", "run"}


@pytest.fixture
def small_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], Path]:
    """The batch entries of three real layers (.test/config.yaml's) with outputs under tmp_path."""
    from tests.unit.test_workflow import base_config

    monkeypatch.chdir(tmp_path)
    plan = build_plan(base_config(layers={"mobilenetv2": ["PW2", "b1_conv", "FC1"]}), ROOT)
    plan.basedir = str(ROOT)
    (batch,) = plan.map_batches()
    return plan.batch_rule_params(batch), tmp_path / "results.json"


def test_real_batch_maps_each_key_then_reuses_them(small_batch: tuple[list[dict], Path]) -> None:
    entries, out = small_batch
    body = run_map_batch(entries, str(out), run_map_job, lambda r: resolve(r, ROOT), engine="native", seed=0)
    assert body["keys"] == 3 and body["reused"] == 0
    assert json.loads(out.read_text())["records"].keys() == {e["key"] for e in entries}
    for e in entries:
        stats = json.loads(Path(e["outputs"]["stats_json"]).read_text())
        assert stats["cycles"] > 0 and stats["energy_pJ"] > 0
    stamps = {e["key"]: os.stat(e["outputs"]["stats_json"]).st_mtime_ns for e in entries}
    again = run_map_batch(entries, str(out), run_map_job, lambda r: resolve(r, ROOT), engine="native", seed=0)
    assert again["reused"] == 3 and again["records"] == body["records"]
    assert stamps == {e["key"]: os.stat(e["outputs"]["stats_json"]).st_mtime_ns for e in entries}


def test_a_failing_key_fails_the_batch_after_the_others(
    small_batch: tuple[list[dict], Path], caplog: pytest.LogCaptureFixture
) -> None:
    entries, out = small_batch
    broken = {**entries[0], "files": {**entries[0]["files"], "arch": "{workflow}/no/such/arch.yaml"}}
    with pytest.raises(Exception, match="arch.yaml"):
        run_map_batch([broken, *entries[1:]], str(out), run_map_job, lambda r: resolve(r, ROOT), engine="native")
    # the log names the layer the way the user configured it, not only its content key
    assert f"{broken['label']} (key {broken['key']}) failed" in caplog.text
    assert "1 of 3 layers failed" in caplog.text
    assert not out.exists()  # no results file: Snakemake sees the batch as failed and reruns it
    assert all(Path(e["outputs"]["run"]).exists() for e in entries[1:])  # the others are cached for the rerun
    assert not Path(broken["outputs"]["run"]).exists()


def test_a_batch_whose_key_folder_was_deleted_is_stale(tmp_path: Path) -> None:
    batches = {"B1": ["k1", "k2"], "B2": ["k3"], "B3": ["k4"]}
    for k in ("k1", "k2", "k3"):
        (tmp_path / "layers" / k).mkdir(parents=True)
        (tmp_path / "layers" / k / "run.json").write_text("{}")
    for b in ("B1", "B2"):  # B3 never ran: no results file, nothing to drop
        (tmp_path / "batches" / b).mkdir(parents=True)
        (tmp_path / "batches" / b / "results.json").write_text("{}")
    batch_file = lambda b: str(tmp_path / "batches" / b / "results.json")  # noqa: E731
    key_dir = lambda k: str(tmp_path / "layers" / k)  # noqa: E731
    assert drop_stale_batches(batches, batch_file, key_dir) == []
    (tmp_path / "layers" / "k2" / "run.json").unlink()  # an interrupted or deleted key
    assert drop_stale_batches(batches, batch_file, key_dir) == [batch_file("B1")]
    assert not Path(batch_file("B1")).exists() and Path(batch_file("B2")).exists()
