"""Bad-config battery through the real `snakemake` CLI: each case exits 2 with exactly one line (the file that set
the key, the key path, what is wrong, the fix), no traceback, no schema dump, and writes no result."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, SNAKEMAKE

# (case id, overlay YAML or None, extra CLI args, text the one line must contain)
CASES: list[tuple[str, dict | None, list[str], str]] = [
    (
        "misspelt-top-key",
        {"netwroks": ["alexnet"]},
        [],
        "key 'netwroks': unknown key (fix: did you mean 'networks'?)",
    ),
    ("misspelt-nested-key", {"fusion": {"enabeld": True}}, [], "did you mean 'enabled'?"),
    (
        "misspelt-accel-mapper-key",
        {"accelerators": {"eyeriss_like": {"mapper": {"timeot": 3}}}},
        [],
        "'timeout'",
    ),
    ("misspelt-mapper-key", {"mapper": {"victory": 3}}, [], "did you mean 'victory_condition'?"),
    ("unknown-key-far-from-any", {"zzzz": 1}, [], "use one of the keys"),
    ("engine-enum", {"engine": "nativ"}, [], "did you mean 'native'?"),
    ("technology-enum", {"energy": {"technology": "44nm"}}, [], "key 'energy.technology'"),
    ("backend-enum", {"energy": {"backend": "cacti"}}, [], "key 'energy.backend'"),
    ("algorithm-enum", {"mapper": {"algorithm": "random"}}, [], "did you mean 'random-pruned'?"),
    ("metric-enum", {"mapper": {"optimization_metrics": ["speed"]}}, [], "optimization_metrics[0]"),
    ("timeout-zero", {"mapper": {"timeout": 0}}, [], "use a value >= 1"),
    ("seed-negative", {"mapper": {"seed": -1}}, [], "key 'mapper.seed'"),
    ("threads-zero", {"mapper": {"threads": 0}}, [], "key 'mapper.threads'"),
    ("timeout-wrong-type", {"mapper": {"timeout": "fast"}}, [], "is a string (fix: give an integer or null)"),
    ("networks-string", {"networks": "mobilenetv2"}, [], "(fix: give a list"),
    ("networks-empty", {"networks": []}, [], "fewer than 1 item"),
    ("networks-duplicate", {"networks": ["fusionet", "fusionet"]}, [], "listed twice"),
    ("network-unknown", {"networks": ["mobilenetv3"]}, [], "did you mean 'mobilenetv2'?"),
    ("network-path-traversal", {"networks": ["../config"]}, [], "not a valid name"),
    ("dataset-unknown", {"datasets": ["cifar01"]}, [], "did you mean 'cifar10'?"),
    ("datasets-empty", {"datasets": []}, [], "key 'datasets'"),
    ("accelerator-unknown", {"accelerators": {"eyeriss": {}}}, [], "did you mean 'eyeriss_like'?"),
    ("accelerator-bad-name", {"accelerators": {"eyeriss like": {}}}, [], "not a valid name"),
    ("accelerators-list", {"accelerators": ["eyeriss_like"]}, [], "(fix: give a mapping"),
    ("accelerator-options-int", {"accelerators": {"eyeriss_like": 3}}, [], "key 'accelerators.eyeriss_like'"),
    ("layers-unknown-network", {"layers": {"alexnet": ["conv1"]}}, [], "is not in `networks`"),
    ("layers-unknown-layer", {"layers": {"mobilenetv2": ["PW22"]}}, [], "did you mean 'PW2'?"),
    ("layers-not-list", {"layers": {"mobilenetv2": "PW2"}}, [], "key 'layers.mobilenetv2'"),
    ("output-dir-empty", {"output_dir": ""}, [], "key 'output_dir': is empty"),
    ("output-dir-null", {"output_dir": None}, [], "key 'output_dir': null is null"),
    ("sparsity-above-one", {"sparsity": {"target_sparsity": 1.5}}, [], "use a value < 1"),
    ("sparsity-negative", {"sparsity": {"target_sparsity": -0.1}}, [], "use a value >= 0"),
    ("epochs-zero", {"sparsity": {"epochs": 0}}, [], "key 'sparsity.epochs'"),
    ("energy-model-enum", {"sparsity": {"energy_model": "measure"}}, [], "did you mean 'measured'?"),
    (
        "pe-work-without-dir",
        {"sparsity": {"pe_work": {"shufflenet": {"pattern": "x"}}}},
        [],
        "key 'sparsity.pe_work.shufflenet.dir'",
    ),
    ("models-not-path", {"sparsity": {"models": {"shufflenet": 3}}}, [], "key 'sparsity.models.shufflenet'"),
    ("fusion-int", {"fusion": 3}, [], "key 'fusion': 3 is an integer (fix: give a mapping"),
    ("fusion-enabled-string", {"fusion": {"enabled": "yes"}}, [], "(fix: give true or false)"),
    ("comparison-unknown", {"fusion": {"enabled": True, "comparisons": ["fusionett"]}}, [], "'fusionet'?"),
    (
        "baseline-accel-unknown",
        {"fusion": {"enabled": True, "baseline_accelerator": "eyeris"}},
        [],
        "eyeriss_like",
    ),
    ("sigma-above-one", {"fusion": {"sigma": 2}}, [], "use a value <= 1"),
    ("index-bits-too-many", {"fusion": {"index_bits": 32}}, [], "use a value <= 16"),
    (
        "comparisons-file-missing",
        {"fusion": {"enabled": True, "comparisons_file": "nope.yaml"}},
        [],
        "cannot read",
    ),
    ("tiles-misspelt", {"fusion_tiling": {"tiles": "alll"}}, [], "did you mean 'all'?"),
    ("tiles-zero", {"fusion_tiling": {"tiles": [0, 3]}}, [], "key 'fusion_tiling.tiles[0]'"),
    ("tiles-empty", {"fusion_tiling": {"tiles": []}}, [], "fewer than 1 item"),
    ("tiles-mapping", {"fusion_tiling": {"tiles": {"a": 1}}}, [], "give 'all' or a list"),
    ("types-unknown", {"fusion_tiling": {"types": ["SLC", "LBCL"]}}, [], "did you mean 'LBLC'?"),
    ("objective-enum", {"fusion_tiling": {"objective": "speed"}}, [], "key 'fusion_tiling.objective'"),
    ("variant-objective", {"fusion_tiling": {"variant": "deepfrack-fast", "objective": "edp"}}, [], "energy"),
    (
        "tiling-network-unknown",
        {"fusion_tiling": {"enabled": True, "networks": ["alexnett"]}},
        [],
        "'alexnet'?",
    ),
    (
        "tiling-accel-unknown",
        {"fusion_tiling": {"enabled": True, "accelerators": ["simba"]}},
        [],
        "simba_like",
    ),
    ("tiling-layers-network", {"fusion_tiling": {"enabled": True, "layers": {"vgg16": ["c"]}}}, [], "not in"),
    ("workloads-dir-missing", {"workloads_dir": "nowhere"}, [], "key 'workloads_dir'"),
    ("accelerators-dir-missing", {"accelerators_dir": "nowhere"}, [], "key 'accelerators_dir'"),
    ("report-title-number", {"report": {"title": 3}}, [], "key 'report.title'"),
    ("report-unknown-key", {"report": {"titel": "x"}}, [], "did you mean 'title'?"),
    ("cli-config-network", None, ["--config", "networks=[alexnett]"], "--config: key 'networks[0]'"),
    ("cli-config-engine", None, ["--config", "engine=fast"], "--config: key 'engine'"),
]
LINE = re.compile(r"^\S+: key '[^']+': .+ \(fix: .+\)$")


def run_case(root: Path, case: tuple[str, dict | None, list[str], str]) -> subprocess.CompletedProcess:
    name, overlay, args, _ = case
    work = root / name
    work.mkdir()
    cmd = [SNAKEMAKE, "-n", "--cores", "1", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work)]
    if overlay is not None:
        conf = root / f"{name}.yaml"
        conf.write_text(yaml.safe_dump(overlay))
        cmd += ["--configfile", str(conf)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Every case's run (in parallel: each is a Snakemake start-up, ~1.5 core-s)."""
    root = tmp_path_factory.mktemp("bad_config")
    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(lambda c: run_case(root, c), CASES))
    return {c[0]: (root / c[0], p) for c, p in zip(CASES, procs, strict=True)}


def test_battery_has_at_least_40_cases() -> None:
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_config_one_line_exit_2(results: dict, case: tuple[str, dict | None, list[str], str]) -> None:
    name, _, _, expect = case
    work, proc = results[name]
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, out
    assert "Traceback" not in out and "$schema" not in out
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert LINE.match(lines[0]), lines[0]
    assert expect in lines[0], lines[0]
    if name.startswith("cli-"):
        assert lines[0].startswith("--config: ")
    else:
        assert lines[0].startswith(str(work.parent / f"{name}.yaml") + ": ")
    # nothing written: only Snakemake's own .snakemake folder may exist
    assert [p.name for p in work.iterdir() if p.name != ".snakemake"] == []
