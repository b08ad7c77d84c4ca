"""`fusionsim fusion-search` on bad inputs: one stderr line naming the file or key, exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fusionsim.cli import main

LEVELS = ["--weights-level", "PEWeightBuffer:524288", "--inputs-level", "PEInputBuffer:65536",
          "--outputs-level", "PEAccuBuffer:65536"]


@pytest.fixture
def example(deepfrack_ref, tmp_path) -> tuple[Path, Path]:
    ex = deepfrack_ref / "Examples/AlexNet_Simba"
    costs, layers = tmp_path / "costs", tmp_path / "layers"
    costs.mkdir()
    for f in (ex / "BenchMarkLogFiles").glob("*.json"):
        shutil.copy(f, costs / f.name)
    shutil.copytree(ex / "AlexNet", layers)
    return costs, layers


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["fusion-search", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def test_json_contract(example, capsys) -> None:
    costs, layers = example
    code, out, _ = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS, "--json")
    got = json.loads(out)
    assert code == 0 and set(got) >= {"stacks", "fused_uJ", "layer_by_layer_uJ", "saving_pct", "seconds"}
    assert set(got["stacks"][0]) >= {"layers", "tile_widths", "cached_weights", "energy_uJ"}


def test_missing_table_entry(example, capsys) -> None:
    costs, layers = example
    edit(costs / "SLC.json", lambda d: d["2"].pop("27"))
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS, "--json")
    assert_one_line_error(*res, "SLC.json", "2/27")


def test_missing_layer_in_a_table(example, capsys) -> None:
    costs, layers = example
    edit(costs / "WCC.json", lambda d: d.pop("3"))
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS, "--variant", "deepfrack-fast")
    assert_one_line_error(*res, "WCC.json", "key '3'")


def test_tile_wider_than_the_layer(example, capsys) -> None:
    costs, layers = example
    edit(costs / "LBLC.json", lambda d: d["4"].update({"20": 1.0}))
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS)
    assert_one_line_error(*res, "LBLC.json", "4/20", "wider than layer 4")


@pytest.mark.parametrize("variant", ["exact", "deepfrack-fast", "deepfrack-simple"])
def test_capacity_too_small_for_any_stack(example, capsys, variant) -> None:
    costs, layers = example
    small = ["--weights-level", "PEWeightBuffer:524288", "--inputs-level", "PEInputBuffer:10",
             "--outputs-level", "PEAccuBuffer:10"]
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *small, "--variant", variant)
    assert_one_line_error(*res, "capacity too small", "PEAccuBuffer")


def test_missing_file(example, capsys) -> None:
    costs, layers = example
    (costs / "EWCC.json").unlink()
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS)
    assert_one_line_error(*res, "EWCC.json", "not found")


def test_missing_folder_and_bad_level(example, capsys, tmp_path) -> None:
    costs, _ = example
    res = run(capsys, "--costs", str(costs), "--layers", str(tmp_path / "nope"), *LEVELS)
    assert_one_line_error(*res, "nope", "not found")
    bad = ["--weights-level", "PEWeightBuffer", *LEVELS[2:]]
    res = run(capsys, "--costs", str(costs), "--layers", str(tmp_path), *bad)
    assert_one_line_error(*res, "--weights-level", "NAME:WORDS")


def test_latency_without_cycle_tables(example, capsys) -> None:
    costs, layers = example
    res = run(capsys, "--costs", str(costs), "--layers", str(layers), *LEVELS, "--objective", "latency")
    assert_one_line_error(*res, "cycle tables")


def test_graph_json_gives_the_cli_residual_edges(example, capsys) -> None:
    """`--layers DIR/graph.json` (as `fusion-benchmark` writes it) reaches the CLI. AlexNet's conv4 then conv5
    twice (all 13x13x384 out) with their tables: a chain graph changes nothing; adding layer 0's output to layer
    2's makes layer 2 read it again: from DRAM layer by layer (13x13x384 words more), on chip inside the fused
    stack (it fits the 65,536-word output level); the seed variants refuse the graph."""
    costs, layers = example
    conv4, conv5 = ((layers / f"AlexNet_layer0{i}.yaml").read_text() for i in (3, 4))
    shutil.rmtree(layers)
    layers.mkdir()
    for i, text in enumerate((conv4, conv5, conv5), start=1):
        (layers / f"Net_layer{i:02d}.yaml").write_text(text)
    for table in costs.glob("*.json"):
        edit(table, lambda d: d.update({"1": d["3"], "2": d["4"], "3": d["4"]}) or d.pop("4"))
    args = ["--costs", str(costs), "--layers", str(layers), *LEVELS, "--json"]
    chain = json.loads(run(capsys, *args)[1])
    (layers / "graph.json").write_text(json.dumps({"srcs": [None, 0, 1], "adds": {}}))
    assert json.loads(run(capsys, *args)[1]) | {"seconds": 0} == chain | {"seconds": 0}
    (layers / "graph.json").write_text(json.dumps({"srcs": [None, 0, 1], "adds": {"2": [0]}}))
    code, out, _ = run(capsys, *args)
    residual = json.loads(out)
    dram_uj_per_word = (700.85 - 700.26) / (13 * 13 * 384)  # ELBLC - LBLC of the last layer at full width
    extra = residual["layer_by_layer_uJ"] - chain["layer_by_layer_uJ"]
    assert code == 0 and extra == pytest.approx(13 * 13 * 384 * dram_uj_per_word, rel=0.05)
    assert [st["layers"] for st in residual["stacks"]] == [[0, 2]]
    assert residual["fused_uJ"] == pytest.approx(chain["fused_uJ"])
    res = run(capsys, *args[:-1], "--variant", "deepfrack-fast")
    assert_one_line_error(*res, "graph.json", "chains only", "--variant exact")


def test_bad_graph_json(example, capsys) -> None:
    costs, layers = example
    args = ["--costs", str(costs), "--layers", str(layers), *LEVELS, "--json"]
    (layers / "graph.json").write_text('{"srcs": [null, 0, 1,')
    assert_one_line_error(*run(capsys, *args), "graph.json", "malformed JSON")
    (layers / "graph.json").write_text(json.dumps({"srcs": [None, 0, 1]}))
    assert_one_line_error(*run(capsys, *args), "graph.json", "key 'srcs'", "4 layers")
    (layers / "graph.json").write_text(json.dumps({"srcs": [None, 0, 1, 2], "adds": {"2": [3]}}))
    assert_one_line_error(*run(capsys, *args), "graph.json", "adds[2]", "does not run before it")
