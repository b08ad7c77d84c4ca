"""Conformance with Timeloop v1.0's mapper on the generated oracle set, keep/bypass at every level included.

Each folder of tests/data/timeloop_mapper_oracle/ (written by benchmarks/timeloop_oracle.py, docs/conformance.md)
holds one random small layer on a Simba-like (16- or 8-bit), Eyeriss-like or Gemmini-like arch, one
constraints file (the arch's constraints, a DeepFrack dataflow type's DRAM keep/bypass rule, sometimes changed
inner keep/bypass rules), a mapper file, an ERT and what a local timeloop-mapper v1.0 wrote for them:
`timeloop-mapper.map.txt` and `timeloop-mapper.stats.txt.gz`. Needs neither Timeloop nor ../shared.

- evaluate: the engine on Timeloop's own map.txt reproduces every cycle count and access count, and the total
  energy to 1e-6 relative (every case prints over 5000 pJ, so the 2 decimals Timeloop prints resolve that).
- map: our mapper under the same constraints and mapper file (seed 1) reaches an objective <= 1.01x
  Timeloop's on >= 95% of the cases and never > 1.10x, with a mapping that obeys every keep/bypass rule of the
  constraints (~1.5 min on one core; benchmarks/bench_timeloop_oracle.py prints the distribution).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import yaml

from fusionsim.errors import InputError
from fusionsim.mapper.api import map_files
from fusionsim.mapper.objectives import objective_ratio, score_of
from fusionsim.model.evaluate import evaluate_files
from fusionsim.model.result import EvalResult
from fusionsim.spec.arch import load_arch
from fusionsim.spec.constraints import load_constraints
from fusionsim.spec.mapping import parse_mapping_yaml
from fusionsim.spec.problem import load_problem
from fusionsim.timeloop.stats_reader import read_stats

DATA = Path(__file__).resolve().parent.parent / "data" / "timeloop_mapper_oracle"
CASES = sorted(p for p in DATA.iterdir() if p.is_dir()) if DATA.is_dir() else []
STATS = "timeloop-mapper.stats.txt.gz"

_COUNTS = ("reads", "fills", "updates", "temporal_reductions", "address_generations", "utilized_capacity",
           "utilized_instances", "utilized_clusters", "partition_size")


def energy_ok(ours: float, printed: float) -> bool:
    """Within 1e-6 relative (above 5000 pJ that is wider than the 0.005 pJ rounding of the print)."""
    return abs(ours - printed) <= 1e-6 * abs(printed)


def test_the_set_covers_every_arch_dataflow_type_and_layer_kind() -> None:
    assert len(CASES) >= 150
    feats: dict[str, int] = {}
    for c in CASES:
        for f in (c / "features.txt").read_text().split():
            feats[f] = feats.get(f, 0) + 1
    combos = {(a, d) for c in CASES for a in c.name.split("_")[1:2] for d in c.name.split("_")[2:3]}
    assert len(combos) == 4 * 7, sorted(combos)
    for f in ("arch_simba16", "arch_simba8", "arch_eyeriss", "arch_gemmini", "df_SLC", "df_Start", "df_LBLC",
              "df_ELBLC", "df_WCC", "df_EWCC", "df_OutWCC", "stride", "dilation", "batched", "fc", "pointwise",
              "outermost_bypass", "inner_keep_bypass_random", "metric_energy", "metric_delay", "metric_edp"):
        assert feats.get(f, 0) >= 10, (f, feats.get(f, 0))


def test_gzipped_stats_read_like_plain_and_a_broken_one_is_an_input_error(tmp_path: Path) -> None:
    src = CASES[0] / STATS
    plain = tmp_path / "timeloop-mapper.stats.txt"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    assert read_stats(src) == read_stats(plain)
    bad = tmp_path / "broken.stats.txt.gz"
    bad.write_bytes(src.read_bytes()[:-40])
    with pytest.raises(InputError):
        read_stats(bad)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_evaluate_reproduces_timeloop_on_its_own_mapping(case: Path) -> None:
    ours = evaluate_files(case / "arch.yaml", case / "prob.yaml", case / "timeloop-mapper.map.txt", case / "ERT.yaml")
    ref = read_stats(case / STATS)
    assert ref.energy_pJ > 5000.0, "too small for a 1e-6 check of a 2-decimal print: regenerate the set"
    assert ours.macs == ref.macs
    assert ours.cycles == ref.cycles
    assert energy_ok(ours.energy_pJ, ref.energy_pJ), (ours.energy_pJ, ref.energy_pJ)
    bad = []
    for lv in ref.levels:
        if lv.kind != "storage":
            continue
        m = ours.level(lv.name)
        for ds, s in m.dataspaces.items():  # Timeloop lists only what a level keeps; we list zeros for the rest
            if ds not in lv.dataspaces and (s.utilized_capacity or s.reads or s.fills or s.updates):
                bad.append(f"{lv.name}.{ds}: Timeloop bypasses it, we keep {s.utilized_capacity} words")
        for ds, s in lv.dataspaces.items():
            for f in _COUNTS:
                if getattr(m.dataspaces[ds], f) != getattr(s, f):
                    bad.append(f"{lv.name}.{ds}.{f}: {getattr(m.dataspaces[ds], f)} vs {getattr(s, f)}")
    assert not bad, "\n".join(bad)


def map_ratio(case: Path) -> tuple[float, list[str]]:
    """(our objective / Timeloop's on the mapper file's metrics, keep/bypass rules our mapping breaks)."""
    mapper = case / "mapper.yaml"
    metrics = yaml.safe_load(mapper.read_text())["mapper"]["optimization-metrics"]
    res = map_files(case / "arch.yaml", case / "prob.yaml", [case / "constraints.yaml"], mapper, case / "ERT.yaml",
                    seed=1, threads=1)
    ratio = objective_ratio(score_of(EvalResult.from_json(res["stats"])), score_of(read_stats(case / STATS)), metrics)
    arch, prob = load_arch(case / "arch.yaml"), load_problem(case / "prob.yaml")
    mapping = parse_mapping_yaml(yaml.safe_load(res["mapping"]), arch, prob)
    cons = load_constraints([case / "constraints.yaml"])
    broken = []
    for lv in mapping.levels:
        broken += [f"{lv.name} keeps no {d}" for d in sorted(cons.keep.get(lv.name, set()) - lv.keep)]
        broken += [f"{lv.name} keeps {d}" for d in sorted(cons.bypass.get(lv.name, set()) & lv.keep)]
    return ratio, broken


def test_mapper_matches_timeloop_under_each_case_constraints(capsys: pytest.CaptureFixture) -> None:
    rows, broken = [], []
    for case in CASES:
        r, b = map_ratio(case)
        rows.append((r, case.name))
        broken += [f"{case.name}: {x}" for x in b]
    ok = sum(r <= 1.01 for r, _ in rows)
    worst = max(rows)
    with capsys.disabled():
        print(f"\nmapper vs Timeloop v1.0 mapper, {len(rows)} oracle cases: {ok} <= 1.01x, worst {worst[0]:.4f} "
              f"({worst[1]})")
    assert not broken, "\n".join(broken[:20])
    assert ok >= 0.95 * len(rows), f"only {ok}/{len(rows)} within 1.01x; worst: {sorted(rows)[-10:]}"
    assert worst[0] <= 1.10, worst
