"""fusionsim.workflow.paths: files of the workflow folder become `{workflow}/...` references, others stay inputs."""

from __future__ import annotations

from pathlib import Path

from fusionsim.workflow.keys import file_hash
from fusionsim.workflow.paths import checkout_split, portable, resolve, resolve_files


def test_portable_only_inside_the_workflow_folder(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    assert portable(base / "accelerators/x/arch.yaml", base) == "{workflow}/accelerators/x/arch.yaml"
    assert portable(tmp_path / "mine/arch.yaml", base) == str(tmp_path / "mine/arch.yaml")
    assert portable("results/ert/x/ERT.yaml", base) == "results/ert/x/ERT.yaml"
    assert portable(base / "a.yaml", "") == str(base / "a.yaml")
    assert resolve("{workflow}/a/b.yaml", tmp_path / "other") == str(tmp_path / "other/a/b.yaml")
    assert resolve("results/x", tmp_path) == "results/x"


def test_split_then_resolve_from_a_moved_checkout(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    (base / "w").mkdir(parents=True)
    (base / "w/net.yaml").write_text("layers: []\n")
    files = {"arch": str(base / "arch.yaml"), "ert": "results/ert/a/ERT.yaml",
             "constraints": [str(base / "c1.yaml"), str(base / "c2.yaml")], "components": []}
    inputs, refs = checkout_split(files, base)
    assert inputs == {"ert": "results/ert/a/ERT.yaml", "components": []}
    assert refs == {"arch": "{workflow}/arch.yaml", "constraints": ["{workflow}/c1.yaml", "{workflow}/c2.yaml"]}
    moved = tmp_path / "moved"
    got = resolve_files(inputs, refs, moved / "scripts")
    assert got["arch"] == str(moved / "arch.yaml") and got["constraints"][1] == str(moved / "c2.yaml")
    assert got["ert"] == "results/ert/a/ERT.yaml"
    _, hashed = checkout_split({"workload": str(base / "w/net.yaml")}, base, hashes=True)
    assert hashed == {"workload": "{workflow}/w/net.yaml", "sha256": {"workload": file_hash(base / "w/net.yaml")}}
