"""The mapper on the tiny arch: determinism, thread independence, clear errors for contradictory constraints
and for a search that finds nothing valid, the CLI contract and the --out files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.mapper.api import map_files
from fusionsim.mapper.search import NoMappingError
from fusionsim.model.evaluate import evaluate_files
from fusionsim.timeloop.stats_reader import read_stats

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"
ARCH, PROB, ERT = TINY / "arch.yaml", TINY / "conv1d.yaml", TINY / "ert.yaml"


def _yaml(tmp: Path, name: str, data: dict) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    cons = _yaml(tmp_path, "cons.yaml", {"architecture_constraints": {"targets": [
        {"target": "RF", "type": "bypass", "keep": ["Weights"], "bypass": ["Inputs"]}]}})
    mapper = _yaml(tmp_path, "mapper.yaml", {"mapper": {"algorithm": "random-pruned",
                                                        "optimization-metrics": ["edp"],
                                                        "victory-condition": 50, "timeout": 100}})
    return cons, mapper


def test_same_seed_same_mapping_any_threads(inputs: tuple[Path, Path]) -> None:
    cons, mapper = inputs
    a = map_files(ARCH, PROB, [cons], mapper, ERT, seed=3)
    b = map_files(ARCH, PROB, [cons], mapper, ERT, seed=3)
    c = map_files(ARCH, PROB, [cons], mapper, ERT, seed=3, threads=2)
    assert a["mapping"] == b["mapping"] == c["mapping"]
    assert a["stats"]["energy_pJ"] == c["stats"]["energy_pJ"]
    assert a["valid"] >= 1 and a["evaluated"] >= a["valid"]


def test_found_mapping_evaluates_to_reported_stats(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    cons, mapper = inputs
    res = map_files(ARCH, PROB, [cons], mapper, ERT, out_dir=tmp_path / "out")
    for f in ("mapping.yaml", "stats.json", "stats.txt"):
        assert (tmp_path / "out" / f).is_file()
    again = evaluate_files(ARCH, PROB, tmp_path / "out" / "mapping.yaml", ERT)
    assert again.energy_pJ == pytest.approx(res["stats"]["energy_pJ"])
    txt = read_stats(tmp_path / "out" / "stats.txt")
    assert txt.energy_pJ == pytest.approx(res["stats"]["energy_pJ"], abs=0.01)
    assert txt.cycles == res["stats"]["cycles"]


def test_exhaustive_is_never_worse_than_random(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    cons, _ = inputs
    ex = _yaml(tmp_path, "ex.yaml", {"mapper": {"algorithm": "exhaustive", "optimization-metrics": ["edp"],
                                                "victory-condition": 0}})
    rnd = _yaml(tmp_path, "rnd.yaml", {"mapper": {"algorithm": "random-pruned", "optimization-metrics": ["edp"],
                                                  "victory-condition": 3}})
    e = map_files(ARCH, PROB, [cons], ex, ERT)["stats"]["edp"]
    r = map_files(ARCH, PROB, [cons], rnd, ERT)["stats"]["edp"]
    assert e <= r * (1 + 1e-12)


def test_contradictory_constraints_fail_fast(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    _, mapper = inputs
    # RF (16 words) forced to keep everything with R3 x P4 x M2 inside it: no factorisation fits.
    cons = _yaml(tmp_path, "bad.yaml", {"architecture_constraints": {"targets": [
        {"target": "RF", "type": "temporal", "factors": "R=3 P=4 M=2"},
        {"target": "RF", "type": "bypass", "keep": ["Weights", "Inputs", "Outputs"]}]}})
    with pytest.raises(NoMappingError, match="no mapping satisfies the constraints.*RF"):
        map_files(ARCH, PROB, [cons], mapper, ERT)
    # M fixed to 1 at every level while the bound is 2.
    closed = _yaml(tmp_path, "closed.yaml", {"architecture_constraints": {"targets": [
        {"target": lv, "type": "temporal", "factors": "M=1"} for lv in ("RF", "GLB", "DRAM")] + [
        {"target": "GLB", "type": "spatial", "factors": "M=1"}]}})
    with pytest.raises(InputError, match="M"):
        map_files(ARCH, PROB, [closed], mapper, ERT)


def test_timeout_with_nothing_valid_says_so(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    cons, _ = inputs
    arch = yaml.safe_load(ARCH.read_text())
    glb = arch["architecture"]["subtree"][0]["subtree"][0]["local"][0]
    glb["attributes"]["min-utilization"] = 1.0  # never reachable: every mapping is rejected by the model
    arch_p = _yaml(tmp_path, "arch.yaml", arch)
    mapper = _yaml(tmp_path, "m.yaml", {"mapper": {"algorithm": "linear-pruned", "timeout": 5,
                                                   "optimization-metrics": ["energy"]}})
    with pytest.raises(NoMappingError, match="no valid mapping found.*timeout"):
        map_files(arch_p, PROB, [cons], mapper, ERT)


def _cli(*args: str, env_path: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run([sys.executable, "-m", "fusionsim", "map", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_json_contract(inputs: tuple[Path, Path]) -> None:
    cons, mapper = inputs
    r = _cli("--arch", str(ARCH), "--problem", str(PROB), "--constraints", str(cons), "--mapper", str(mapper),
             "--ert", str(ERT), "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"mapping", "stats", "evaluated", "valid", "seconds"}
    assert "mapping" in yaml.safe_load(out["mapping"])


def test_cli_timeloop_engine_absent_is_one_line(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    if shutil.which("timeloop-mapper"):
        pytest.skip("timeloop-mapper is installed")
    cons, mapper = inputs
    r = _cli("--arch", str(ARCH), "--problem", str(PROB), "--constraints", str(cons), "--mapper", str(mapper),
             "--ert", str(ERT), "--engine", "timeloop", "--json", env_path=str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "install Timeloop" in lines[0]
    assert r.stdout == ""


def test_cli_bad_constraint_file_exit_2(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    _, mapper = inputs
    bad = _yaml(tmp_path, "bad.yaml", {"architecture_constraints": {"targets": [
        {"target": "NoSuchLevel", "type": "temporal", "factors": "M=2"}]}})
    r = _cli("--arch", str(ARCH), "--problem", str(PROB), "--constraints", str(bad), "--mapper", str(mapper),
             "--ert", str(ERT), "--json")
    assert r.returncode == 2 and "NoSuchLevel" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_objective_ratio_falls_to_the_next_metric_on_a_tie() -> None:
    from fusionsim.mapper.objectives import Score, objective_ratio

    ours, ref = Score(100.0, 10, 0), Score(200.0, 10, 0)
    assert objective_ratio(ours, ref, ["delay", "energy"]) == 0.5  # equal delay: energy decides
    assert objective_ratio(ours, ref, ["delay"]) == 1.0
    assert objective_ratio(Score(100.0, 20, 0), ref, ["edp"]) == 1.0
