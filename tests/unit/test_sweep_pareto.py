"""Sweep tables: area from an ART counts instances; the Pareto front keeps exactly the non-dominated rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionsim.sweeps.pareto import area_mm2, pareto_front, pareto_mask, write_sweep_tables


def test_area_counts_instances_from_the_names(tmp_path: Path) -> None:
    art = tmp_path / "ART.yaml"
    art.write_text(
        "ART:\n  version: 0.3\n  tables:\n"
        "  - {name: System.DRAM, area: 0}\n"
        "  - {name: System.ws.GlobalBuffer, area: 1000}\n"
        "  - {name: 'System.ws.PE[0..3].LMAC[0..7]', area: 10}\n"
    )
    assert area_mm2(art) == pytest.approx((1000 + 4 * 8 * 10) * 1e-6)


def test_pareto_mask_hand_cases() -> None:
    v = np.array([[1, 5, 1], [2, 2, 2], [3, 3, 3], [1, 5, 1], [5, 1, 9], [2, 2, 3]])
    # row 2 is beaten by row 1; row 5 by row 1 (equal energy and cycles, more area); duplicates 0 and 3 both stay
    assert pareto_mask(v).tolist() == [True, True, False, True, True, False]
    assert pareto_mask(np.array([[1.0, 1.0, 1.0]])).tolist() == [True]


def test_front_is_per_network_and_skips_invalid() -> None:
    pts = pd.DataFrame({
        "network": ["a", "a", "a", "b", "b"],
        "dataset": ["d"] * 5,
        "energy_uJ": [1.0, 2.0, float("nan"), 9.0, 8.0],
        "cycles": [1.0, 2.0, float("nan"), 9.0, 9.0],
        "area_mm2": [1.0, 2.0, 0.1, 1.0, 1.0],
        "valid": [True, True, False, True, True],
    })
    front = pareto_front(pts)
    assert front.index.tolist() == [0, 4]


def test_write_sweep_tables(tmp_path: Path) -> None:
    rows, files, arts = [], [], {}
    for i, (pid, e, c, valid) in enumerate([("p1", 10.0, 100.0, True), ("p2", 5.0, 200.0, True),
                                             ("p3", None, None, False)]):
        f = tmp_path / f"{pid}.json"
        f.write_text(json.dumps({"valid": valid, "energy_uJ": e, "cycles": c,
                                 "invalid_layers": [] if valid else ["conv1: no valid mapping"]}))
        art = tmp_path / f"{pid}.art"
        art.write_text(f"ART:\n  tables:\n  - {{name: 'X[0..{i}]', area: 1e6}}\n")
        rows.append({"point": pid, "network": "n", "dataset": "d", "values": {"k": i}})
        files.append(str(f))
        arts[pid] = str(art)
    outs = {k: str(tmp_path / n) for k, n in (("points", "points.csv"), ("pareto", "pareto.csv"), ("plot", "p.png"))}
    write_sweep_tables(sweep="s", rows=rows, point_files=files, art_files=arts, parameters=["k"], outputs=outs)
    pts = pd.read_csv(outs["points"])
    assert pts.columns[:4].tolist() == ["k", "point", "network", "dataset"]
    assert pts["area_mm2"].tolist() == [1.0, 2.0, 3.0]
    assert pts["valid"].tolist() == [True, True, False] and "no valid mapping" in pts["invalid_reason"][2]
    assert pts["edp"][0] == 1000.0
    assert pd.read_csv(outs["pareto"])["point"].tolist() == ["p1", "p2"]
    assert Path(outs["plot"]).read_bytes()[:4] == b"\x89PNG"
