"""The seed's area tables rebuilt by our area model from per-component unit areas.

Input (labeled): unit areas of one instance of each component, taken from the seed's area CSVs divided by
the model's multipliers (Accelergy's ART of the arches is not in the reference). This checks the
aggregation rule (globals once, per-PE parts x PEs, pred_glb listed but not counted) against both totals."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fusionsim.archon.area import archon_area_spec, area_table, baseline_area_spec


def _read(path: Path) -> dict[str, float]:
    with open(path, newline="") as fh:
        return {row[0]: float(row[1]) for row in csv.reader(fh) if row}


@pytest.mark.parametrize(
    ("csv_name", "spec"),
    [("baseline_area.csv", baseline_area_spec()), ("fusion_area.csv", archon_area_spec())],
)
def test_seed_area_tables(timeloop_ref: Path, csv_name: str, spec) -> None:
    seed = _read(timeloop_ref / "fusion-timeloop-model" / "area" / csv_name)
    units = {k: v / spec.multipliers.get(k, 1) for k, v in seed.items() if k != "total"}
    ours = dict(area_table(units, spec))
    print(f"\n{spec.name}: ours total {ours['total']:.2f} um^2, seed {seed['total']:.2f}")
    for comp, value in seed.items():
        assert ours[comp] == pytest.approx(value, rel=0.01), comp
