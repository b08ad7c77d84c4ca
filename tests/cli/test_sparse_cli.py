"""`fusionsim sparse`: bad inputs give one stderr line naming file and layer, exit 2, no outputs; a good run."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from fusionsim.cli import main
from fusionsim.model.result import DataspaceStats, EvalResult, LevelStats

WORKLOAD = """
layers:
  - {name: pw1, type: pointwise, in_channels: 4, out_channels: 6, in_size: 4}
  - {name: dw1, type: depthwise, in_channels: 6, out_channels: 6, kernel: 3}
"""


def write_h5(path: Path, kernels: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([n.encode() for n in kernels])
        for n, k in kernels.items():
            kname = "depthwise_kernel:0" if n.startswith("dw") else "kernel:0"
            root.create_group(n).attrs["weight_names"] = np.array([f"{n}/{kname}".encode()])
            root[n].create_dataset(f"{n}/{kname}", data=k)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    pw = np.ones((1, 1, 4, 6), np.float32)
    pw[0, 0, :2, 0] = 0  # 2 of 24 zero, all in output channel 0
    write_h5(tmp_path / "m.h5", {"pw1": pw, "dw1": np.ones((3, 3, 6, 1), np.float32)})
    return {"workload": tmp_path / "w.yaml", "model": tmp_path / "m.h5", "dir": tmp_path}


def one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("fusionsim sparse: error:")
    return err


def test_corrupt_h5(files, capsys) -> None:
    bad = files["dir"] / "corrupt.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    out = files["dir"] / "out"
    err = one_error_line(
        capsys,
        ["sparse", "analyze", "--model", str(bad), "--workload", str(files["workload"]), "--out", str(out)],
    )
    assert "corrupt.h5" in err and not out.exists()


def test_layers_not_matching(files, capsys) -> None:
    wrong = files["dir"] / "wrong.h5"
    write_h5(wrong, {"pw1": np.ones((1, 1, 4, 8), np.float32), "dw1": np.ones((3, 3, 6, 1), np.float32)})
    out = files["dir"] / "out"
    err = one_error_line(
        capsys,
        ["sparse", "analyze", "--model", str(wrong), "--workload", str(files["workload"]), "--out", str(out)],
    )
    assert "wrong.h5" in err and "'pw1'" in err and not out.exists()
    other = files["dir"] / "other.h5"
    write_h5(other, {"conv9": np.ones((1, 1, 4, 6), np.float32)})
    err = one_error_line(
        capsys,
        ["sparse", "analyze", "--model", str(other), "--workload", str(files["workload"]), "--out", str(out)],
    )
    assert "other.h5" in err and "no layer 'pw1'" in err


@pytest.mark.parametrize("value", ["1.0", "-0.1", "1.5", "nan"])
def test_sparsity_outside_unit_interval(files, capsys, value: str) -> None:
    out = files["dir"] / "p.h5"
    err = one_error_line(
        capsys,
        ["sparse", "prune", "--workload", str(files["workload"]), "--sparsity", value, "--out", str(out)],
    )
    assert "--sparsity" in err and "[0, 1)" in err and not out.exists()
    err = one_error_line(
        capsys,
        [
            "sparse",
            "analyze",
            "--model",
            str(files["model"]),
            "--workload",
            str(files["workload"]),
            "--zero-fraction",
            value,
            "--out",
            str(files["dir"] / "o"),
        ],
    )
    assert "--zero-fraction" in err


def test_analyze_with_mapping_and_dense(files, capsys) -> None:
    maps, dense = files["dir"] / "maps", files["dir"] / "dense"
    maps.mkdir()
    dense.mkdir()
    (maps / "pw1.yaml").write_text("spatial: {M: 6}\ninner: {C: 4}\n")  # one output channel per PE
    lv = [
        LevelStats(n, 10.0, dataspaces={d: DataspaceStats(energy_pJ=10.0)})
        for n, d in [("weights_spad", "Weights"), ("ifmap_spad", "Inputs"), ("DRAM", "Weights")]
    ]
    (dense / "pw1.json").write_text(json.dumps(EvalResult(1000.0, 96, 1.0, 384, lv).to_json()))
    out = files["dir"] / "out"
    argv = [
        "sparse",
        "analyze",
        "--model",
        str(files["model"]),
        "--workload",
        str(files["workload"]),
        "--mapping-dir",
        str(maps),
        "--dense-dir",
        str(dense),
        "--pe-csv",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    data = json.loads((out / "sparsity.json").read_text())
    pw, dw = data["layers"]
    assert data["pruning"] == {"method": "user-supplied"}
    assert pw["sparsity"] == pytest.approx(2 / 24) and dw["sparsity"] == 0.0
    # 16 passes (P*Q = 4x4) of 4 C per PE; PE 0 has 2 non-zero weights, the others 4 -> slowest PE: 4 x 16
    assert pw["sparse_c"] == 64 and pw["pes"] == 6 and pw["passes"] == 16
    assert pw["sparse_e_uJ"] == pytest.approx((1000 - (2 / 24) * (6 / 16) * 20 - (2 / 24) * 10) * 1e-6)
    assert "sparse_c" not in dw  # no mapping given for dw1: densities only
    assert (out / "sparsity.csv").read_text().startswith("layer,")
    assert (out / "pe_work" / "pw1.csv").exists()
