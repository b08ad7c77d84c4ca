"""A sweep layer no mapping fits is written as an invalid result (the real mapper's NoMappingError), not a
failed job; its point is invalid with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fusionsim.sweeps.jobs import run_sweep_map_job, write_point
from fusionsim.workloads.problem import _shape

ROOT = Path(__file__).resolve().parents[2]
SIMBA = ROOT / "accelerators" / "simba_like"
NAMES = {"problem": "problem.yaml", "mapper": "mapper.yaml", "mapping": "mapping.yaml",
         "stats_json": "stats.json", "stats_txt": "stats.txt", "run": "run.json"}


def test_unmappable_layer_is_an_invalid_result(tmp_path: Path) -> None:
    # the accumulation buffer (64 x 2 words per instance) is forced to hold a 64 x 8 x 8 output tile
    force = tmp_path / "force.yaml"
    force.write_text(yaml.safe_dump({"mapspace_constraints": {"targets": [
        {"target": "PEWeightRegs", "type": "temporal", "factors": "P=8 Q=8 R=1 S=1 C=1 M=1 N=1"},
        {"target": "PEAccuBuffer", "type": "temporal", "factors": "M=64 P=1 Q=1 R=1 S=1 C=1 N=1"},
    ]}}))
    inst = {"C": 8, "M": 512, "R": 1, "S": 1, "P": 8, "Q": 8, "N": 1,
            "Hstride": 1, "Wstride": 1, "Hdilation": 1, "Wdilation": 1}
    outs = {k: str(tmp_path / "job" / n) for k, n in NAMES.items()}
    record = run_sweep_map_job(
        outputs=outs, key="k", problem={"problem": {"shape": _shape(), "instance": inst}},
        mapper=yaml.safe_load((SIMBA / "mapper/fast.yaml").read_text()), arch=str(SIMBA / "arch.yaml"),
        ert=str(SIMBA / "ERT.yaml"), constraints=[str(SIMBA / "constraints/arch.yaml"), str(force)],
        components=str(SIMBA / "components"))
    assert record["valid"] == 0
    stats = json.loads(Path(outs["stats_json"]).read_text())
    assert stats["valid"] is False and "overflows a buffer" in stats["reason"]
    assert all(Path(p).is_file() for p in outs.values())

    # the point of a network with that layer is invalid, with the layer named
    body = write_point(str(ROOT / "workloads/alexnet.yaml"), "imagenet", ["fc8"], [outs["stats_json"]], [],
                       str(tmp_path / "res.csv"), str(tmp_path / "point.json"))
    assert body["valid"] is False and body["energy_uJ"] is None and body["invalid_layers"][0].startswith("fc8:")
