"""ERTs and areas regenerated from the arch and component classes alone, against Accelergy's.

- each distinct `timeloop-mapper.ERT.yaml` of the reference runs (4 among 221 cases): every action energy
  within 10 % of the reference (plus half a unit in the last printed digit: the reference is rounded to
  3 decimals); the worst actions are printed (`pytest -s`);
- area per component of the baseline and ARCHON accelerators within 10 % of the seed's area CSVs.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from fusionsim.energy.ert import EnergyTables, build_tables
from fusionsim.spec.ert import load_ert

TOLERANCE = 0.10
ROUNDING_PJ = 0.0005  # the reference ERTs print 3 decimals


def _accel(ref: Path) -> Path:
    return ref / "fusion-timeloop-model" / "accelerator"


def _distinct_erts(ref: Path) -> list[Path]:
    """One case folder per distinct reference ERT (the first in path order)."""
    seen: dict[str, Path] = {}
    for f in sorted(ref.rglob("timeloop-mapper.ERT.yaml")):
        digest = hashlib.md5(f.read_bytes()).hexdigest()
        seen.setdefault(digest, f.parent.parent)
    return list(seen.values())


def _compare(ours: EnergyTables, ref_file: Path) -> list[tuple[float, str, str, dict | None, float, float]]:
    """(relative error, table, action, arguments, ours, reference) for every reference row."""
    ref = load_ert(ref_file)
    mine = ours.by_name()
    rows = []
    for name, actions in ref.tables.items():
        assert name in mine, f"{name} missing from our ERT"
        for a in actions:
            e = mine[name].energy(a.action, **(a.arguments or {}))
            err = abs(e - a.energy_pJ) / a.energy_pJ if a.energy_pJ else abs(e)
            rows.append((err, name, a.action, a.arguments, e, a.energy_pJ))
    for name in mine:
        assert name in ref.tables, f"{name} is in our ERT but not in the reference"
    return rows


def _print_worst(title: str, rows: list, n: int = 8) -> None:
    print(f"\n{title}: {len(rows)} actions, worst relative errors")
    print(f"  {'component':44s} {'action':7s} {'arguments':28s} {'ours pJ':>10s} {'ref pJ':>10s} {'err':>7s}")
    for err, name, action, args, e, r in sorted(rows, key=lambda x: -x[0])[:n]:
        a = ",".join(f"{k}={v}" for k, v in (args or {}).items())
        print(f"  {name:44s} {action:7s} {a:28s} {e:10.4f} {r:10.3f} {err:7.2%}")


def test_every_distinct_reference_ert_is_regenerated(timeloop_ref: Path):
    cases = _distinct_erts(timeloop_ref)
    assert len(cases) == 4
    components = _accel(timeloop_ref) / "baseline" / "components"
    failures = []
    for case in cases:
        arch = case / "output" / "timeloop-mapper.flattened_architecture.yaml"
        rows = _compare(build_tables(arch, components), case / "output" / "timeloop-mapper.ERT.yaml")
        _print_worst(str(case.relative_to(timeloop_ref)), rows)
        failures += [r for r in rows if abs(r[4] - r[5]) > TOLERANCE * r[5] + ROUNDING_PJ]
    assert not failures, f"{len(failures)} actions off by more than 10 %: {failures[:5]}"


def test_tree_form_baseline_arch_gives_the_baseline_ert(timeloop_ref: Path):
    """The accelerator/baseline spec (tree form, components/ beside it) prices as the baseline runs did."""
    arch = _accel(timeloop_ref) / "baseline" / "arch.yaml"
    case = next(
        c
        for c in _distinct_erts(timeloop_ref)
        if "PE[0..71]" in (c / "output" / "timeloop-mapper.ERT.yaml").read_text()
    )
    rows = _compare(build_tables(arch), case / "output" / "timeloop-mapper.ERT.yaml")
    _print_worst("accelerator/baseline/arch.yaml (tree form)", rows, 3)
    assert all(abs(r[4] - r[5]) <= TOLERANCE * r[5] + ROUNDING_PJ for r in rows)


def _csv(path: Path) -> dict[str, float]:
    with path.open() as fh:
        return {row[0]: float(row[1]) for row in csv.reader(fh) if row}


def _areas(t: EnergyTables) -> dict[str, float]:
    return {c.name.rsplit(".", 1)[-1].split("[", 1)[0]: c.area_um2 for c in t.components}


def _check(ours: dict[str, float], ref: dict[str, float], title: str) -> None:
    print(f"\n{title}: area per component (um^2)")
    bad = []
    for name, r in ref.items():
        e = ours[name]
        err = abs(e - r) / r
        print(f"  {name:18s} ours {e:12.2f}  csv {r:12.2f}  err {err:6.2%}")
        if err > TOLERANCE:
            bad.append(name)
    assert not bad, f"area off by more than 10 %: {bad}"


def test_baseline_area_matches_area_csv(timeloop_ref: Path):
    """area/sim.py: baseline = globals + 72 x per-PE components (DummyBuffer and DRAM skipped)."""
    ref = _csv(timeloop_ref / "fusion-timeloop-model" / "area" / "baseline_area.csv")
    a = _areas(build_tables(_accel(timeloop_ref) / "baseline" / "arch.yaml"))
    ours = {k: a[k] for k in ("shared_glb", "mac", "ifmap_spad", "weights_spad", "psum_spad")}
    ours["total"] = ours["shared_glb"] + 72 * sum(v for k, v in ours.items() if k != "shared_glb")
    _check(ours, ref, "baseline")


# Multipliers the seed's area model applied before writing fusion_area.csv. The seed doc says A = 24 adders and
# x6, but the CSV's numbers are those of A = 20 and x5 (e.g. bit_masks_and 2016 = 40 x 50.4 um^2).
ADDERS = 20
FUSION_MULTIPLIERS = {
    "binary_decoder": 8 * ADDERS,
    "bit_masks_and": 2 * ADDERS,
    "mux": ADDERS,
    "mux_": 5,
    "adders": 5,
    "adder_fifo": 5,
}


def test_fusion_area_matches_area_csv(timeloop_ref: Path):
    ref = _csv(timeloop_ref / "fusion-timeloop-model" / "area" / "fusion_area.csv")
    fusion = _accel(timeloop_ref) / "fusion"
    a = {
        **_areas(build_tables(fusion / "main" / "arch.yaml")),
        **_areas(build_tables(fusion / "overhead" / "arch.yaml")),
    }
    ours = {k: a[k] * FUSION_MULTIPLIERS.get(k, 1) for k in ref if k != "total"}
    per_pe = (
        "mac",
        "ifmap_spad",
        "psum_spad",
        "prediction_buffer",
        "adders",
        "adder_fifo",
        "bit_masks_and",
        "mux_",
        "mux",
    )
    ours["total"] = ours["shared_glb"] + ours["binary_decoder"] + 64 * sum(ours[k] for k in per_pe)
    _check(ours, ref, "ARCHON (fusion)")


@pytest.mark.parametrize("accel", ["baseline", "fusion/main", "fusion/predictions", "fusion/overhead"])
def test_every_seed_accelerator_builds(timeloop_ref: Path, accel: str):
    t = build_tables(_accel(timeloop_ref) / accel / "arch.yaml")
    assert t.components and all(c.actions for c in t.components)


@pytest.mark.slow
def test_every_layer_energy_with_our_ert_within_5_percent(timeloop_ref: Path, tmp_path: Path):
    """Each reference case evaluated by the native engine on its own mapping, priced with our ERT instead of
    Accelergy's: total energy within 5 % of Timeloop's stats.txt."""
    from fusionsim.energy.ert import write_tables
    from fusionsim.model.evaluate import evaluate_files
    from fusionsim.timeloop.stats_reader import read_stats

    components = _accel(timeloop_ref) / "baseline" / "components"
    erts: dict[str, Path] = {}
    rows = []
    for stats in sorted(timeloop_ref.rglob("output/timeloop-mapper.stats.txt")):
        out = stats.parent
        case = out.parent
        probs = sorted(case.glob("prob/*.yaml"))
        if not probs or not (out / "timeloop-mapper.map.txt").exists():
            continue
        arch = out / "timeloop-mapper.flattened_architecture.yaml"
        key = hashlib.md5(arch.read_bytes()).hexdigest()
        if key not in erts:
            erts[key] = write_tables(build_tables(arch, components), tmp_path / key)[0]
        ours = evaluate_files(arch, probs[0], out / "timeloop-mapper.map.txt", erts[key])
        ref = read_stats(stats).energy_pJ
        rows.append(
            (abs(ours.energy_pJ - ref) / ref, str(case.relative_to(timeloop_ref)), ours.energy_pJ, ref)
        )
    assert len(rows) == 221 and len(erts) == 4
    rows.sort(reverse=True)
    print(f"\nlayer energy with our ERT: {len(rows)} cases, worst relative errors")
    for err, name, e, r in rows[:5]:
        print(f"  {name:70s} ours {e / 1e6:10.4f} uJ  timeloop {r / 1e6:10.4f} uJ  err {err:6.2%}")
    assert rows[0][0] <= 0.05, rows[:3]
