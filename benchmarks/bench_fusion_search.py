"""Wall time of the fusion-tiling search on real and synthetic cost tables (one core).

usage: .venv/bin/python benchmarks/bench_fusion_search.py [--tables RESULTS_DIR ...]
AlexNet uses the seed's real AlexNet_Simba tables from ../shared when present. `--tables` takes pipeline output
folders (e.g. `benchmarks/bench_cost_tables.py --keep DIR` leaves DIR/<net>/results): every
`fusion_tiling/<net>/<accel>/costs` there is searched with its layer folder (residual edges from graph.json)
and the accelerator's `fusion:` levels -- the real VGG-16 and ResNet-18 tables of our engine and mapper.
The VGG-16 and ResNet-50 tables generated from a simple analytic model are a SCALING TEST only (timings, not
energies). Targets: < 1 s each for AlexNet and VGG-16, < 30 s for ResNet-50.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fusionsim.fusion.deepfrack_compat import search_seed
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import TYPES, LayerShape, load_layers, load_tables, validate_tables
from fusionsim.fusion.workload import build_workload, load_workload
from fusionsim.tiling.propagate import needed_input_width

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/deepfrack-reference/Examples/AlexNet_Simba"
LEVELS = BufferLevels(Level("PEWeightBuffer", 524288), Level("PEInputBuffer", 65536), Level("PEAccuBuffer", 65536))
# role -> (weights from DRAM, inputs from DRAM, outputs to DRAM)
DRAM = {"SLC": (1, 1, 1), "Start": (1, 1, 0), "LBLC": (1, 0, 0), "ELBLC": (1, 0, 1), "WCC": (0, 0, 0),
        "EWCC": (0, 0, 1), "OutWCC": (0, 1, 0)}
VGG16 = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56), (256, 256, 56),
         (256, 256, 56), (256, 512, 28), (512, 512, 28), (512, 512, 28), (512, 512, 14), (512, 512, 14),
         (512, 512, 14)]


def synthetic_entry(sh: LayerShape, kind: str, w: int) -> tuple[float, float]:
    """(energy uJ, cycles) of one tile: 0.5 pJ/MAC, 2 pJ per on-chip word, 40 pJ per DRAM word."""
    wi = needed_input_width(w, sh.R, sh.stride, sh.dilation)
    macs = w * w * sh.M * sh.C * sh.R * sh.R
    words = (sh.weight_words, wi * wi * sh.C, w * w * sh.M)
    dram = sum(x for x, on in zip(words, DRAM[kind], strict=True) if on)
    energy_pj = 0.5 * macs + 2.0 * sum(words) + 40.0 * dram
    return energy_pj * 1e-6, macs / 1024 + dram / 8


def write_problem(path: Path, sh: LayerShape) -> None:
    """A Timeloop CNN-layer problem with the seed's Inputs projection."""
    inst = {"C": sh.C, "M": sh.M, "N": 1, "P": sh.P, "Q": sh.P, "R": sh.R, "S": sh.R, "Wstride": sh.stride,
            "Hstride": sh.stride, "Wdilation": 1, "Hdilation": 1}
    proj = [[["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]], [["S", "Hdilation"], ["Q", "Hstride"]]]
    shape = {"name": "CNN-Layer", "dimensions": ["C", "M", "R", "S", "N", "P", "Q"],
             "data-spaces": [{"name": "Weights", "projection": [[["C"]], [["M"]], [["R"]], [["S"]]]},
                             {"name": "Inputs", "projection": proj},
                             {"name": "Outputs", "projection": [[["N"]], [["M"]], [["Q"]], [["P"]]],
                              "read-write": True}]}
    path.write_text(yaml.safe_dump({"problem": {"instance": inst, "shape": shape}}))


def write_seed_format(folder: Path, shapes: list[LayerShape]) -> tuple[Path, Path]:
    """Synthetic <TYPE>.json / <TYPE>_cycles.json tables and problem YAMLs for `shapes`."""
    costs, layers = folder / "costs", folder / "layers"
    costs.mkdir(parents=True)
    layers.mkdir(parents=True)
    for kind in TYPES:
        energy, cycles = {}, {}
        for idx, sh in enumerate(shapes):
            cells = {w: synthetic_entry(sh, kind, w) for w in range(1, sh.P + 1)}
            energy[str(idx + 1)] = {str(w): round(e, 4) for w, (e, _) in cells.items()}
            cycles[str(idx + 1)] = {str(w): round(c, 1) for w, (_, c) in cells.items()}
        (costs / f"{kind}.json").write_text(json.dumps(energy))
        (costs / f"{kind}_cycles.json").write_text(json.dumps(cycles))
    for idx, sh in enumerate(shapes):
        write_problem(layers / f"layer{idx + 1:02d}.yaml", sh)
    return costs, layers


def resnet50() -> tuple[list[LayerShape], list[int | None], dict[int, list[int]]]:
    """ResNet-50's 53 convs in execution order, each layer's input and its residual operand."""
    shapes = [LayerShape("stem", Path("stem"), 3, 64, 112, 7, 2)]
    srcs: list[int | None] = [None]
    adds: dict[int, list[int]] = {}
    x, chans, width = 0, 64, 56
    for stage, (blocks, mid) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)]):
        for blk in range(blocks):
            stride = 2 if blk == 0 and stage > 0 else 1
            out_w = width // stride
            a = len(shapes)
            shapes += [LayerShape(f"s{stage}b{blk}a", Path("a"), chans, mid, width, 1),
                       LayerShape(f"s{stage}b{blk}b", Path("b"), mid, mid, out_w, 3, stride)]
            srcs += [x, a]
            operand = x
            if blk == 0:
                shapes.append(LayerShape(f"s{stage}b{blk}proj", Path("p"), chans, 4 * mid, out_w, 1, stride))
                srcs.append(x)
                operand = len(shapes) - 1
            shapes.append(LayerShape(f"s{stage}b{blk}c", Path("c"), mid, 4 * mid, out_w, 1))
            srcs.append(a + 1)
            adds[len(shapes) - 1] = [operand]
            x, chans, width = len(shapes) - 1, 4 * mid, out_w
    return shapes, srcs, adds


def timed(label: str, fn, target: float | None = None) -> None:
    t0 = time.perf_counter()
    plan = fn()
    dt = time.perf_counter() - t0
    verdict = "" if target is None else f" (target < {target:g} s: {'met' if dt < target else 'MISSED'})"
    print(f"  {label:<34} {dt:8.3f} s   fused {plan.fused_uJ:10.2f} uJ vs LBL {plan.layer_by_layer_uJ:10.2f} uJ"
          f" ({plan.saving_pct:5.1f} %), {len(plan.stacks)} stacks{verdict}")


def bench_files(name: str, costs: Path, layers: Path, seed_variants: bool, levels: BufferLevels = LEVELS) -> None:
    def load():
        shapes, tables = load_layers(layers), load_tables(costs)
        validate_tables(tables, shapes)
        return shapes, tables

    shapes, tables = load()
    def exact(objective: str):
        sh, tb = load()
        return search_exact(build_workload(sh), tb, levels, objective)

    for obj in ("energy", "latency", "edp") if tables.cycles else ("energy",):
        timed(f"{name} exact/{obj} (incl. loading)", lambda o=obj: exact(o), 1.0)
    if seed_variants:
        for variant in ("deepfrack-simple", "deepfrack-fast"):
            timed(f"{name} {variant}", lambda v=variant: search_seed(tables, shapes, levels, v))


def bench_pipeline_tables(results: Path) -> None:
    """Exact searches on every (network, accelerator) cost table a pipeline run left in `results`."""
    for costs in sorted(results.glob("fusion_tiling/*/*/costs")):
        net, accel = costs.parent.parent.name, costs.parent.name
        layers = results / "fusion_tiling" / net / "layers"
        manifest = yaml.safe_load((ROOT / "accelerators" / accel / "accelerator.yaml").read_text())["fusion"]
        levels = BufferLevels(*(Level.parse(str(manifest[k]), k) for k in
                                ("weights_level", "inputs_level", "outputs_level")))  # fmt: skip
        workload = load_workload(layers)
        print(f"{net} on {accel}: REAL tables of the pipeline ({len(workload.layers)} layers, {results})")
        for obj in ("energy", "latency", "edp"):
            timed(f"{net} exact/{obj} (incl. loading)",
                  lambda o=obj, la=layers, c=costs, lv=levels: search_exact(load_workload(la), load_tables(c), lv, o),
                  1.0)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=Path, nargs="*", default=[], help="pipeline output folders with real tables")
    args = ap.parse_args()
    print(f"fusion-search benchmark (python {sys.version.split()[0]}, one core)")
    for results in args.tables:
        bench_pipeline_tables(results)
    if SHARED.exists():
        print("AlexNet: the seed's real AlexNet_Simba tables")
        bench_files("AlexNet", SHARED / "BenchMarkLogFiles", SHARED / "AlexNet", True)
    else:
        print(f"AlexNet: skipped, {SHARED} not found")
    with tempfile.TemporaryDirectory() as tmp:
        vgg = [LayerShape(f"conv{i + 1}", Path("v"), c, m, p, 3) for i, (c, m, p) in enumerate(VGG16)]
        costs, layers = write_seed_format(Path(tmp) / "vgg16", vgg)
        print("VGG-16 (13 convs): SYNTHETIC tables in the seed's format -- scaling test only (real: --tables)")
        bench_files("VGG-16", costs, layers, True)
        shapes, srcs, adds = resnet50()
        costs, _ = write_seed_format(Path(tmp) / "resnet50", shapes)
        tables = load_tables(costs)
        print(f"ResNet-50 ({len(shapes)} convs, residual edges): SYNTHETIC tables -- scaling test only")
        for obj, target in (("energy", 30.0), ("latency", 30.0)):
            timed(f"ResNet-50 exact/{obj}",
                  lambda o=obj: search_exact(build_workload(shapes, srcs, adds), tables, LEVELS, o), target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
