"""End to end on the native engine: 2 layers x 2 tile widths, mapped, tabled, read by the search, reported."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from fusionsim.cli.fusion_benchmark import register, setup_from_args
from fusionsim.fusion import benchmark_stage as bs
from fusionsim.fusion.plan import BufferLevels, Level
from fusionsim.fusion.search import search_exact
from fusionsim.fusion.tables import TYPES, load_layers, load_tables, validate_tables
from fusionsim.fusion.workload import load_workload
from fusionsim.sweeps.params import fusion_section
from fusionsim.workloads.problem import _shape

ACCEL = Path(__file__).resolve().parents[2] / "accelerators" / "simba_like"


def problem(C: int, M: int, P: int, R: int) -> dict:
    inst = {"C": C, "M": M, "P": P, "Q": P, "R": R, "S": R, "N": 1, "Wstride": 1, "Hstride": 1,
            "Wdilation": 1, "Hdilation": 1}
    return {"problem": {"shape": _shape(), "instance": inst}}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bs.BenchSetup, bs.BenchTables]:
    root = tmp_path_factory.mktemp("bench")
    layers = [bs.BenchLayer(1, "a", problem(8, 16, 4, 3)), bs.BenchLayer(2, "b", problem(16, 16, 4, 3))]
    bs.write_layer_set(bs.LayerSet(tuple(layers), (None, 0)), root / "layers")
    setup = bs.BenchSetup(ACCEL / "arch.yaml", ACCEL / "ERT.yaml",
                          (ACCEL / "constraints/arch.yaml", ACCEL / "constraints/map.yaml"),
                          ACCEL / "mapper/fast.yaml", ACCEL / "components")
    tables = bs.run_benchmark(bs.load_layer_dir(root / "layers"), setup, root / "costs", tiles=[2, 4])
    return root, root / "costs", setup, tables


def test_tables_load_into_the_search_and_give_a_plan(bench) -> None:
    root, costs, _, tables = bench
    assert tables.jobs == 2 * (6 * 2 + 1)
    shapes = load_layers(root / "layers")
    loaded = load_tables(costs)
    validate_tables(loaded, shapes)
    assert loaded.cycles is not None and set(loaded.energy) == set(TYPES)
    levels = BufferLevels(Level("PEWeightBuffer", 524288), Level("PEInputBuffer", 65536), Level("PEAccuBuffer", 65536))
    for objective in ("energy", "latency", "edp"):
        plan = search_exact(load_workload(root / "layers"), loaded, levels, objective)
        assert plan.stacks and plan.fused_uJ <= plan.layer_by_layer_uJ + 1e-9
    paths = bs.write_plan_outputs(plan, load_workload(root / "layers"), costs / "costs.json", root / "plan")
    assert paths["csv"].read_text().count("\n") == len(plan.stacks) + 2


def test_types_change_dram_traffic_only_as_the_spec_says(bench) -> None:
    _, costs, _, _ = bench
    detail = bs.read_costs(costs / "costs.json")
    for lay in (1, 2):
        for t in (2, 4):
            assert detail["WCC"][lay][t]["levels_pJ"]["DRAM"] == 0.0  # nothing touches DRAM
            # dropping DRAM traffic never costs more than keeping it
            assert detail["WCC"][lay][t]["energy_uJ"] <= detail["LBLC"][lay][t]["energy_uJ"] + 1e-9
            assert detail["EWCC"][lay][t]["energy_uJ"] <= detail["ELBLC"][lay][t]["energy_uJ"] + 1e-9
        p = 4
        assert detail["LBLC"][lay][p]["energy_uJ"] <= detail["SLC"][lay][p]["energy_uJ"] + 1e-9
        assert detail["SLC"][lay][p]["macs"] == detail["Start"][lay][p]["macs"]


def test_rerun_reuses_finished_jobs_and_two_types_write_two_tables(bench, tmp_path: Path) -> None:
    root, costs, setup, tables = bench
    again = bs.run_benchmark(bs.load_layer_dir(root / "layers"), setup, costs, tiles=[2, 4])
    assert again.seconds < tables.seconds and again.entries == tables.entries
    two = bs.run_benchmark(bs.load_layer_dir(root / "layers"), setup, tmp_path, ["Start", "ELBLC"], [2, 4],
                           keep_runs=False)
    assert set(two.entries) == {"Start", "ELBLC"} and two.jobs == 2 * 2 * 2
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["ELBLC.json", "ELBLC_cycles.json", "Start.json",
                                                              "Start_cycles.json", "costs.json"]
    assert json.loads((tmp_path / "Start.json").read_text()) == json.loads((costs / "Start.json").read_text())


@pytest.mark.parametrize("accel", ["simba_like", "gemmini_like"])
def test_shipped_accelerators_run_a_typed_job(accel: str, tmp_path: Path) -> None:
    root = ACCEL.parent / accel
    fusion = fusion_section(root / "accelerator.yaml")  # templated sizes rendered at the defaults
    for key in ("weights_level", "inputs_level", "outputs_level"):
        Level.parse(fusion[key])
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["fusion-benchmark", "--layers", str(tmp_path), "--accelerator", str(root),
                              "--out", str(tmp_path / "out")])
    setup, _ = setup_from_args(args)
    # gemmini_like ships no ERT: the CLI builds it into --out, as the pipeline's rule build_ert does
    assert (setup.ert == tmp_path / "out/ert/ERT.yaml") == (accel == "gemmini_like") and setup.ert.is_file()
    job = bs.plan_jobs([bs.BenchLayer(1, "x", problem(16, 16, 2, 3))], setup, ["WCC"], [2])[0]
    res = bs.run_job(job, setup, tmp_path / "job")
    assert res["levels_pJ"]["DRAM"] == 0.0 and res["energy_uJ"] > 0 and res["macs"] == 2 * 2 * 16 * 16 * 9
    assert (tmp_path / "job/result.json").is_file() and (tmp_path / "job/dataflow.yaml").is_file()
