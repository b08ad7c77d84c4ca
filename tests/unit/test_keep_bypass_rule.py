"""Timeloop v1.0's keep/bypass rule at every level, the outermost included (semantics_v1): a map.txt header
lists exactly what its level keeps (`DRAM [ ]` keeps nothing), a missing header keeps everything, a mapping
YAML's `datatype` directive is honoured at every level; the mapper obeys `datatype` constraints on DRAM."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsim.mapper.api import map_files
from fusionsim.model.evaluate import evaluate_files
from fusionsim.spec.arch import load_arch
from fusionsim.spec.mapping import load_mapping
from fusionsim.spec.problem import load_problem

TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"
ALL = {"Weights", "Inputs", "Outputs"}

# The tiny arch's reference mapping (conv1d_map.yaml) printed as Timeloop prints a map.txt.
MAP_TXT = """\
DRAM [ {dram}]
---------------------------------
| for M in [0:2)
{glb}
| for P in [0:2)
|   for P in [0:2) (Spatial-X)
RF [ Weights:3 Inputs:3 Outputs:1 ]
-----------------------------------
|   for R in [0:3)
"""
GLB_FULL = "GLB [ Weights:6 Inputs:6 Outputs:4 ]\n------------------------------"


def _keeps(tmp_path: Path, text: str) -> dict[str, frozenset[str]]:
    f = tmp_path / "map.txt"
    f.write_text(text)
    arch = load_arch(TINY / "arch.yaml")
    mapping = load_mapping(f, arch, load_problem(TINY / "conv1d.yaml"))
    return {lv.name: lv.keep for lv in mapping.levels}


def _dram(res) -> dict[str, object]:
    return next(lv for lv in res.levels if lv.name == "DRAM").dataspaces


def test_empty_outermost_header_keeps_nothing(tmp_path: Path) -> None:
    keeps = _keeps(tmp_path, MAP_TXT.format(dram="", glb=GLB_FULL))
    assert keeps["DRAM"] == frozenset()
    assert keeps["GLB"] == ALL and keeps["RF"] == ALL


def test_outermost_header_lists_exactly_what_it_keeps(tmp_path: Path) -> None:
    keeps = _keeps(tmp_path, MAP_TXT.format(dram="Outputs:8 ", glb=GLB_FULL))
    assert keeps["DRAM"] == {"Outputs"}


def test_empty_inner_header_keeps_nothing(tmp_path: Path) -> None:
    glb = "GLB [ ]\n------------------------------"
    keeps = _keeps(tmp_path, MAP_TXT.format(dram="Weights:6 Inputs:6 Outputs:8 ", glb=glb))
    assert keeps["GLB"] == frozenset() and keeps["DRAM"] == ALL


def test_a_level_without_header_takes_the_default_keep(tmp_path: Path) -> None:
    # No GLB header: its loops then belong to the DRAM block, and GLB keeps everything (v1.0's default).
    text = "DRAM [ ]\n----\n| for M in [0:2)\n| for P in [0:2)\n|   for P in [0:2) (Spatial-X)\n" \
           "RF [ Weights:3 Inputs:3 Outputs:1 ]\n----\n|   for R in [0:3)\n"
    keeps = _keeps(tmp_path, text)
    assert keeps["GLB"] == ALL and keeps["DRAM"] == frozenset()


def _yaml_mapping(tmp_path: Path, directives: list[dict]) -> Path:
    data = yaml.safe_load((TINY / "conv1d_map.yaml").read_text())
    data["mapping"].extend(directives)
    f = tmp_path / "map.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


@pytest.mark.parametrize(
    ("directive", "level", "kept"),
    [
        ({"target": "DRAM", "type": "datatype", "keep": ["Outputs"], "bypass": ["Weights", "Inputs"]}, "DRAM",
         {"Outputs"}),
        ({"target": "DRAM", "type": "bypass", "bypass": ["Weights"]}, "DRAM", {"Inputs", "Outputs"}),
        ({"target": "DRAM", "type": "datatype", "keep": ["Weights"]}, "DRAM", ALL),
        ({"target": "GLB", "type": "datatype", "bypass": ["Inputs"]}, "GLB", {"Weights", "Outputs"}),
        ({"target": "GLB", "type": "datatype", "keep": ["Inputs"]}, "GLB", ALL),
    ],
)
def test_yaml_keep_bypass_at_every_level(tmp_path: Path, directive: dict, level: str, kept: set[str]) -> None:
    arch = load_arch(TINY / "arch.yaml")
    mapping = load_mapping(_yaml_mapping(tmp_path, [directive]), arch, load_problem(TINY / "conv1d.yaml"))
    assert {lv.name: lv.keep for lv in mapping.levels}[level] == kept


def test_yaml_without_directives_keeps_everything_everywhere(tmp_path: Path) -> None:
    arch = load_arch(TINY / "arch.yaml")
    mapping = load_mapping(TINY / "conv1d_map.yaml", arch, load_problem(TINY / "conv1d.yaml"))
    assert all(lv.keep == ALL for lv in mapping.levels)


def test_map_txt_and_yaml_agree_and_dram_kept_nothing_costs_nothing(tmp_path: Path) -> None:
    """The same nest as map.txt `DRAM [ ]` and as YAML bypassing all at DRAM: identical results, no DRAM
    traffic, fewer pJ than keeping everything at DRAM and identical cycles."""
    txt = tmp_path / "m.txt"
    txt.write_text(MAP_TXT.format(dram="", glb=GLB_FULL))
    yml = _yaml_mapping(tmp_path, [{"target": "DRAM", "type": "datatype", "bypass": sorted(ALL)}])
    a, p, e = TINY / "arch.yaml", TINY / "conv1d.yaml", TINY / "ert.yaml"
    off_txt, off_yaml = evaluate_files(a, p, txt, e), evaluate_files(a, p, yml, e)
    full = evaluate_files(a, p, TINY / "conv1d_map.yaml", e)
    assert off_txt.to_json() == off_yaml.to_json()
    assert all(ds.reads == ds.fills == ds.updates == 0 for ds in _dram(off_txt).values())
    assert off_txt.energy_pJ < full.energy_pJ and off_txt.cycles == full.cycles


@pytest.mark.parametrize("kept", [[], ["Outputs"], ["Weights", "Outputs"], ["Inputs"]])
def test_mapper_honours_datatype_constraints_on_the_outermost_level(tmp_path: Path, kept: list[str]) -> None:
    rule = {"architecture_constraints": {"targets": [
        {"target": "DRAM", "type": "datatype", "keep": kept, "bypass": sorted(ALL - set(kept))}]}}
    cons = tmp_path / "dram.yaml"
    cons.write_text(yaml.safe_dump(rule))
    out = map_files(TINY / "arch.yaml", TINY / "conv1d.yaml", [TINY / "constraints.yaml", cons],
                    TINY / "mapper.yaml", TINY / "ert.yaml")
    mapping = yaml.safe_load(out["mapping"])
    dram = [d for d in mapping["mapping"] if d["target"] == "DRAM" and d["type"] in ("datatype", "bypass")]
    stated_bypass = set(dram[0].get("bypass") or []) if dram else set()
    assert stated_bypass == ALL - set(kept)
    dram_stats = next(lv for lv in out["stats"]["levels"] if lv["name"] == "DRAM")
    moved = {n: d["reads"] + d["fills"] + d["updates"] for n, d in dram_stats["dataspaces"].items()}
    assert all(moved.get(n, 0) == 0 for n in ALL - set(kept)), moved
