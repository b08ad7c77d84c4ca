"""Reading pruned Keras .h5 files built here with h5py (known zero patterns): layouts, matching, masks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from fusionsim.errors import InputError
from fusionsim.sparsity.imbalance import Loop
from fusionsim.sparsity.weights import (
    LayerSpec,
    load_layer_specs,
    match_layers,
    read_keras_kernels,
    read_pruned_model,
)

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = """
layers:
  - {name: conv1, type: conv, in_channels: 3, out_channels: 4, kernel: 3, stride: 1, in_size: 8}
  - {name: pw1, type: pointwise, in_channels: 4, out_channels: 6, groups: 2}
  - {name: dw1, type: depthwise, in_channels: 6, out_channels: 6, kernel: 3, stride: 2}
  - {name: pool, type: pool, in_channels: 6, kernel: 4, stride: 4}
  - {name: fc, type: dense, in_channels: 6, out_channels: 2}
"""


def kernels_with_zeros() -> dict[str, np.ndarray]:
    """Kernels with exactly known zero counts (conv 58/108 zero, pw 3/12, dw 54/54, fc 0/12)."""
    conv = np.arange(1, 109, dtype=np.float32).reshape(3, 3, 3, 4)
    conv.reshape(-1)[::2] = 0  # the 54 even positions ...
    conv.reshape(-1)[1:9:2] = 0  # ... and odd positions 1, 3, 5, 7
    pw = np.ones((1, 1, 2, 6), np.float32)
    pw[0, 0, 0, [0, 3, 5]] = 0
    dw = np.zeros((3, 3, 6, 1), np.float32)
    fc = np.full((6, 2), 0.5, np.float32)
    return {"conv1": conv, "pw1": pw, "dw1": dw, "fc": fc}


def write_h5(
    path: Path, kernels: dict[str, np.ndarray], layout: str = "full", prefix: str = "", mask: bool = False
):
    """A Keras-2 style weight file: `model_weights/<layer>/<layer>/kernel:0` (full) or at the root."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if layout == "full" else f
        names = ["input_1", *[prefix + n for n in kernels]]
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        root.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        for n, k in kernels.items():
            name = prefix + n
            g = root.create_group(name)
            kname = "depthwise_kernel:0" if n.startswith("dw") else "kernel:0"
            ws = {kname: k, "bias:0": np.ones(k.shape[-1], np.float32)}
            if mask:
                ws["mask:0"] = np.ones_like(k)
            g.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w in ws])
            for w, arr in ws.items():
                g.create_dataset(f"{name}/{w}", data=arr)


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    p = tmp_path / "w.yaml"
    p.write_text(WORKLOAD)
    return p


@pytest.mark.parametrize("layout", ["full", "weights"])
def test_sparsity_exact_both_layouts(tmp_path: Path, workload: Path, layout: str) -> None:
    ks = kernels_with_zeros()
    write_h5(tmp_path / "m.h5", ks, layout)
    layers, raw = read_pruned_model(tmp_path / "m.h5", workload)
    assert raw.layout == ("full-model" if layout == "full" else "weights-only")
    got = {lw.spec.name: (lw.nonzero, lw.total) for lw in layers}
    assert got == {
        "conv1": (int(np.count_nonzero(ks["conv1"])), 108),
        "pw1": (9, 12),
        "dw1": (0, 54),
        "fc": (12, 12),
    }
    assert got["conv1"][0] == 108 - 54 - 4
    sp = {lw.spec.name: lw.sparsity for lw in layers}
    assert sp["pw1"] == 3 / 12 and sp["dw1"] == 1.0 and sp["fc"] == 0.0


def test_wrapper_prefix_and_mask_keras3(tmp_path: Path, workload: Path) -> None:
    ks = kernels_with_zeros()
    write_h5(tmp_path / "wrapped.h5", ks, prefix="prune_low_magnitude_", mask=True)
    layers, _ = read_pruned_model(tmp_path / "wrapped.h5", workload)
    assert [lw.nonzero for lw in layers] == [50, 9, 0, 12]
    with h5py.File(tmp_path / "k3.weights.h5", "w") as f:
        for n, k in ks.items():
            f.create_dataset(f"layers/{n}/vars/0", data=k)
    assert read_keras_kernels(tmp_path / "k3.weights.h5").layout == "keras3-weights"
    layers, _ = read_pruned_model(tmp_path / "k3.weights.h5", workload)
    assert [lw.nonzero for lw in layers] == [50, 9, 0, 12]


def test_mismatch_errors_name_file_and_layer(tmp_path: Path, workload: Path) -> None:
    ks = kernels_with_zeros()
    bad = dict(ks, pw1=np.ones((1, 1, 4, 6), np.float32))  # ungrouped kernel for a groups=2 layer
    write_h5(tmp_path / "shape.h5", bad)
    with pytest.raises(InputError) as exc:
        read_pruned_model(tmp_path / "shape.h5", workload)
    assert "shape.h5" in exc.value.line() and "pw1" in exc.value.line() and "(1, 1, 2, 6)" in exc.value.line()
    renamed = {("conv_x" if n == "conv1" else n): k for n, k in ks.items()}
    write_h5(tmp_path / "names.h5", renamed)
    with pytest.raises(InputError, match="no layer 'conv1'"):
        read_pruned_model(tmp_path / "names.h5", workload)
    layers, _ = read_pruned_model(tmp_path / "names.h5", workload, match="order")
    assert layers[0].model_layer == "conv_x"
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="junk.h5: not a readable HDF5"):
        read_keras_kernels(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_group("something")
    with pytest.raises(InputError, match="no Keras weights"):
        read_keras_kernels(tmp_path / "empty.h5")


def test_problem_masks_groups_and_depthwise() -> None:
    k = np.zeros((3, 3, 2, 6))
    k[0, 2, 1, 4] = 1  # height 0, width 2, c 1, m 4 -> group 1 (m 3..5), local m 1
    lw = match_layers_one(LayerSpec("c", "conv", 4, 6, kernel=3, groups=2), k)
    masks = lw.problem_masks()
    assert len(masks) == 2 and masks[0].sum() == 0
    assert masks[1].shape == (3, 3, 2, 3) and masks[1][2, 0, 1, 1]  # (R=width, S=height, C, M)
    d = np.zeros((3, 3, 4, 1))
    d[1, 1, 3, 0] = 1
    dmask = match_layers_one(LayerSpec("d", "depthwise", 4, 4, kernel=3), d).problem_masks()
    assert len(dmask) == 1 and dmask[0].shape == (3, 3, 1, 4) and dmask[0][1, 1, 0, 3]
    # per-PE work per group under a mapping that spreads M over 3 PEs, C inside
    works = lw.per_pe_work([Loop("M", 3, True), Loop("C", 2), Loop("R", 3), Loop("S", 3)])
    assert [w.nonzero.ravel().tolist() for w in works] == [[0, 0, 0], [0, 1, 0]]


def match_layers_one(spec: LayerSpec, kernel: np.ndarray):
    from fusionsim.sparsity.weights import KerasKernels

    return match_layers(KerasKernels(Path("x.h5"), "full-model", {spec.name: kernel}, {}), [spec])[0]


def test_load_layer_specs_forms(tmp_path: Path, workload: Path) -> None:
    specs, info = load_layer_specs(workload)
    assert [s.kind for s in specs] == ["conv", "pointwise", "depthwise", "pool", "fc"]
    assert info == {"size": 8, "channels": 3, "classes": 2}  # from the first layer without `input`
    assert specs[0].problem_sizes() == {"C": 3, "M": 4, "R": 3, "S": 3, "N": 1, "P": 8, "Q": 8}
    net_specs, net_info = load_layer_specs(ROOT / "workloads" / "mobilenetv2.yaml", "cifar10")
    names = [s.name for s in net_specs]
    assert "b1_decom" in names and "b16_comp" in names and net_info["classes"] == 10
    (tmp_path / "bad.yaml").write_text("- {name: a, type: lstm, in_channels: 2}\n")
    with pytest.raises(InputError, match=r"bad.yaml: key 'layers\[0\].type'"):
        load_layer_specs(tmp_path / "bad.yaml")


def test_module_does_not_import_tensorflow() -> None:
    code = (
        "import sys, fusionsim.sparsity.weights, fusionsim.sparsity.adjust, fusionsim.sparsity.prune, "
        "fusionsim.cli.sparse; print(any(m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
