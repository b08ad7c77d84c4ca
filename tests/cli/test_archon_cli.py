"""`fusionsim fused-block`: a seed block from its stats files, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionsim.cli import main

STATS = "output/timeloop-mapper.stats.txt"
SHAPE = ["--cin", "32", "--cmid", "2368", "--cout", "32", "--p", "32", "--groups", "4"]


def _paths(ref: Path) -> list[str]:
    f = ref / "fusion-timeloop-model/fusionet/cifar10/bottlenecks/fusion"
    return [
        "--decom", str(f / "predictions/b1/decom" / STATS),
        "--conv", str(f / "predictions/b1/conv" / STATS),
        "--main", str(f / "main_computations/b1" / STATS),
    ]  # fmt: skip


def test_fused_block_from_seed_stats(timeloop_ref: Path, capsys) -> None:
    assert main(["fused-block", *_paths(timeloop_ref), *SHAPE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the seed's fusion_results.csv row of FusioNet block 1
    seed = {"pred_decom_e": 209.22, "pred_conv_e": 386.57, "main_e": 23.25, "overhead_e": 110.58}
    for k, v in seed.items():
        assert out[k] == pytest.approx(v, rel=0.01)
    assert (out["pred_decom_c"], out["pred_conv_c"], out["main_c"]) == (12629, 14208, 36864)
    # a 5x5 block fuses 25 taps: only the fused-weight DRAM term of the overhead grows, by 25/9
    assert main(["fused-block", *_paths(timeloop_ref), *SHAPE, "--kernel", "5", "--json"]) == 0
    k5 = json.loads(capsys.readouterr().out)
    grew = {k for k in seed if k5[k] != pytest.approx(out[k])}
    assert grew == {"overhead_e"} and k5["overhead_e"] > out["overhead_e"]


def test_fused_block_accepts_evalresult_json(tmp_path: Path, timeloop_ref: Path, capsys) -> None:
    from fusionsim.timeloop import read_stats

    args = _paths(timeloop_ref)
    for i in (1, 3, 5):
        dst = tmp_path / f"{i}.json"
        dst.write_text(json.dumps(read_stats(args[i]).to_json()))
        args[i] = str(dst)
    assert main(["fused-block", *args, *SHAPE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pred_decom_e,") and lines[1].endswith(",36864")


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json", "malformed JSON"), ('{"energy_pJ": 1}', "key 'levels'"), ("[1, 2]", "not an EvalResult")],
)
def test_bad_json_one_line_exit_2(tmp_path: Path, capsys, content: str, needle: str) -> None:
    bad = tmp_path / "r.json"
    bad.write_text(content)
    args = ["--decom", str(bad), "--conv", str(bad), "--main", str(bad)]
    assert main(["fused-block", *args, *SHAPE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and needle in err


def test_bad_stats_and_shape_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "stats.txt"
    bad.write_text("nothing here\n")
    assert main(["fused-block", "--decom", str(bad), "--conv", str(bad), "--main", str(bad), *SHAPE]) == 2
    assert "stats.txt" in capsys.readouterr().err
    shape = [*SHAPE[:-2], "--groups", "0"]
    assert main(["fused-block", "--decom", str(bad), "--conv", str(bad), "--main", str(bad), *shape]) == 2
    assert "groups" in capsys.readouterr().err
