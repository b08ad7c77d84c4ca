"""Energy-first mapper search: the DeepFrack AlexNet_Simba layers (regression of the reuse-ordered stream) and
metamorphic properties on the tiny arch (a looser constraint or a larger buffer never gives a worse objective
when the search covers the whole small space).

AlexNet bounds. Under the Simba-like arch's hardware + mapspace constraints (`constraints/arch.yaml` and
`map.yaml`), with each buffer's block-size stated as the DeepFrack runs had it (GlobalBuffer 65,536 words), an
exhaustive sweep ordered by last-level accesses (every factorisation, loop order and keep choice: 517,153
mappings for layer 4, 1,190,736 for layer 2; `algorithm: exhaustive`, 55 s and 126 s) finds no mapping below
801.18 uJ of DRAM energy for layer 4 and 599.06 uJ for layer 2 (compulsory traffic alone is 757 and 457 uJ at
512 pJ per word). The energy-first `fast.yaml` search must land within 1% of that optimum. (With the block
size left at v1.0's default of 1 the GlobalBuffer held 2,048 words and the optimum was 9,211.5 / 5,319.0 uJ.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fusionsim.mapper.api import map_files

ROOT = Path(__file__).resolve().parent.parent.parent
ACCEL = ROOT / "accelerators" / "simba_like"
TINY = Path(__file__).resolve().parent.parent / "data" / "tiny"

# layer -> (exhaustive optimum of DRAM energy in uJ under arch.yaml + map.yaml)
ALEXNET_OPTIMUM_DRAM_UJ = {2: 599.06, 4: 801.18}


def _dram_uj(stats: dict) -> float:
    return next(lv["energy_pJ"] for lv in stats["levels"] if lv["name"] == "DRAM") / 1e6


@pytest.mark.parametrize("layer", [4, 2])
def test_alexnet_simba_energy_first_reaches_exhaustive_optimum(deepfrack_ref: Path, layer: int) -> None:
    prob = deepfrack_ref / "Examples/AlexNet_Simba/AlexNet" / f"AlexNet_layer0{layer}.yaml"
    if not prob.is_file():
        pytest.skip(f"{prob} not found")
    res = map_files(ACCEL / "arch.yaml", prob, [ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml"],
                    ACCEL / "mapper/fast.yaml", ACCEL / "ERT.yaml", components=ACCEL / "components", seed=1)
    dram = _dram_uj(res["stats"])
    assert dram <= ALEXNET_OPTIMUM_DRAM_UJ[layer] * 1.01, f"layer {layer}: DRAM {dram:.1f} uJ"
    assert dram >= ALEXNET_OPTIMUM_DRAM_UJ[layer] * 0.999  # the optimum is a floor: guards the reference value


@pytest.mark.slow
def test_alexnet_layer4_hardware_constraints_only_finds_a_mapping(deepfrack_ref: Path) -> None:
    """Without the mapspace hints the space is too large to enumerate; random dives that dead-end used to end
    the energy-first stream at once (NoMappingError). Now the reuse-sorted dive pool finds a mapping far below
    the constrained optimum: hardware constraints alone let P and Q sit under the weight buffers."""
    prob = deepfrack_ref / "Examples/AlexNet_Simba/AlexNet/AlexNet_layer04.yaml"
    if not prob.is_file():
        pytest.skip(f"{prob} not found")
    res = map_files(ACCEL / "arch.yaml", prob, [ACCEL / "constraints/arch.yaml"], ACCEL / "mapper/fast.yaml",
                    ACCEL / "ERT.yaml", components=ACCEL / "components", seed=1)
    assert _dram_uj(res["stats"]) <= 3000.0


# ---------------------------------------------------------------------- metamorphic (tiny arch, whole space)
PROBLEM = {"problem": {"shape": {"name": "CNN-Layer"},
                       "instance": {"C": 1, "M": 2, "R": 3, "S": 1, "N": 1, "P": 4, "Q": 1}}}
# keep/bypass fixed except GLB Weights, so the whole space stays small enough to sweep in a second
BASE_CONS = [{"target": "RF", "type": "bypass", "keep": ["Weights"], "bypass": ["Inputs", "Outputs"]},
             {"target": "GLB", "type": "bypass", "keep": ["Inputs", "Outputs"]}]
# (name, extra constraint entries): each is a tightening of BASE_CONS
TIGHTER = [
    ("GLB M=2", [{"target": "GLB", "type": "temporal", "factors": "M=2"}]),
    ("RF P=2", [{"target": "RF", "type": "temporal", "factors": "P=2"}]),
    ("DRAM permutation", [{"target": "DRAM", "type": "temporal", "permutation": "PMR"}]),
    ("GLB keeps Weights", [{"target": "GLB", "type": "bypass", "keep": ["Weights"]}]),
    ("spatial M only", [{"target": "GLB", "type": "spatial", "factors": "P=1 R=1"}]),
]
MAPPERS = [
    {"algorithm": "exhaustive", "victory-condition": 0, "timeout": 0},
    # the energy-first reuse-ordered stream, made exhaustive: no victory condition, every order and keep choice
    {"algorithm": "random-pruned", "victory-condition": 0, "timeout": 0, "max-permutations-per-if-visit": 100000},
]


def _write(tmp: Path, name: str, data: dict) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data))
    return p


def _objective(tmp: Path, cons: list[dict], metrics: list[str], mapper: dict, arch: Path = TINY / "arch.yaml") -> tuple:
    c = _write(tmp, "cons.yaml", {"architecture_constraints": {"targets": cons}})
    m = _write(tmp, "mapper.yaml", {"mapper": {**mapper, "optimization-metrics": metrics}})
    prob = _write(tmp, "prob.yaml", PROBLEM)
    s = map_files(arch, prob, [c], m, TINY / "ert.yaml", seed=5)["stats"]
    val = {"energy": s["energy_pJ"], "delay": s["cycles"], "edp": s["energy_pJ"] * s["cycles"]}
    return tuple(val[k] for k in metrics)


@pytest.mark.parametrize("metrics", [["energy", "delay"], ["edp"], ["delay", "energy"]])
@pytest.mark.parametrize("mapper", MAPPERS, ids=["exhaustive", "random-pruned-full"])
def test_loosening_a_constraint_never_worsens_the_objective(tmp_path: Path, metrics: list[str],
                                                            mapper: dict) -> None:
    loose = _objective(tmp_path, BASE_CONS, metrics, mapper)
    for name, extra in TIGHTER:
        tight = _objective(tmp_path, BASE_CONS + extra, metrics, mapper)
        assert loose <= tuple(t * (1 + 1e-12) for t in tight), f"{name}: loose {loose} > tight {tight}"


@pytest.mark.parametrize("metrics", [["energy", "delay"], ["edp"], ["delay", "energy"]])
@pytest.mark.parametrize("mapper", MAPPERS, ids=["exhaustive", "random-pruned-full"])
def test_larger_buffer_never_worsens_the_objective(tmp_path: Path, metrics: list[str], mapper: dict) -> None:
    arch = yaml.safe_load((TINY / "arch.yaml").read_text())
    small = _objective(tmp_path, BASE_CONS, metrics, mapper)
    chip = arch["architecture"]["subtree"][0]["subtree"][0]
    chip["local"][0]["attributes"]["memory_depth"] *= 4  # GLB
    chip["subtree"][0]["local"][0]["attributes"]["memory_depth"] *= 4  # RF
    big = _objective(tmp_path, BASE_CONS, metrics, mapper, _write(tmp_path, "big.yaml", arch))
    assert big <= tuple(s * (1 + 1e-12) for s in small), f"larger buffers: {big} > {small}"
