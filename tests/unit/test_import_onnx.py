"""`fusionsim import` of ONNX models: three PyTorch networks written here with torch.nn, exported with
torch.onnx.export, imported; per-layer MACs and weights equal torch's own (forward hooks); bad inputs are
one-line errors with exit code 2 and nothing written."""

from __future__ import annotations

import difflib
import json
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the torch CPU wheel to export reference models")
pytest.importorskip("onnx", reason="needs onnx")
nn = torch.nn

from fusionsim.cli import main  # noqa: E402
from fusionsim.fusion import benchmark_stage as bs  # noqa: E402
from fusionsim.workloads import load_network, network_graph, problem_instance  # noqa: E402
from fusionsim.workloads.builder import layer_counts  # noqa: E402
from fusionsim.workloads.reference import torch_layer_counts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class Basic(nn.Module):
    """ResNet basic block; a strided 1x1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.proj is None else self.proj(x)))


class ResNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layers = nn.Sequential(Basic(16, 16, 1), Basic(16, 32, 2), Basic(32, 32, 1), Basic(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        y = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


class Inverted(nn.Module):
    """MobileNetV2 inverted residual: expand 1x1 (skipped for t=1), depthwise 3x3, project 1x1."""

    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        mid = cin * t
        parts = [] if t == 1 else [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6()]
        parts += [nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(),
                  nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*parts)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


# (t, c, n, s) as in the paper's Table 2, with the strides of workloads/mobilenetv2.yaml (CIFAR, 32x32)
CIFAR_V2 = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 1), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1)]


class MobileNetV2ish(nn.Module):
    def __init__(self, cfg=CIFAR_V2, grouped: bool = False):
        super().__init__()
        layers, cin = [nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()], 32
        for t, c, n, s in cfg:
            for i in range(n):
                layers.append(Inverted(cin, c, s if i == 0 else 1, t))
                cin = c
        if grouped:  # a grouped 3x3 conv (4 groups) before the head
            layers += [nn.Conv2d(cin, cin, 3, 1, 1, groups=4, bias=False), nn.Hardswish()]
        layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 10))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class Dilated(nn.Module):
    """Dilation, asymmetric padding, non-square kernels, a ceil-mode pool, a channel shuffle + split + concat
    and a flatten into the classifier, on a non-square input."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))  # left, right, top, bottom
        self.c1 = nn.Conv2d(3, 16, (3, 5), stride=(1, 2), dilation=(2, 1))
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.c2 = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=2)
        self.a = nn.Conv2d(8, 8, (1, 3), padding=(0, 1))
        self.b = nn.Conv2d(8, 8, (3, 1), padding=(1, 0))
        self.c3 = nn.Conv2d(16, 8, 3, stride=2, padding=(1, 0))
        self.fc = nn.Linear(8 * 7 * 4, 10)

    def forward(self, x):
        y = self.pool(torch.relu(self.c1(self.pad(x))))
        y = self.c2(y)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # channel shuffle
        left, right = torch.split(y, [8, 8], dim=1)
        y = torch.cat([self.a(left), self.b(right)], 1)
        return self.fc(torch.flatten(nn.functional.gelu(self.c3(y)), 1))


def export(model: nn.Module, shape: tuple[int, ...], path: Path, dynamo: bool = True, **kw) -> Path:
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(*shape),), str(path), dynamo=dynamo, **kw)
    return path


def imported(tmp_path: Path, onnx_file: Path, *extra: str):
    out = tmp_path / f"{onnx_file.stem}.yaml"
    assert main(["import", str(onnx_file), "--dataset", "d", "-o", str(out), *extra]) == 0
    return network_graph(load_network(out), "d")


def costed(graph) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in layer_counts(graph).items() if graph.layer(k).kind != "pool"}


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_resnet_style_counts_and_residual_edges(tmp_path: Path, dynamo: bool) -> None:
    model = ResNetish()
    graph = imported(tmp_path, export(model, (1, 3, 32, 32), tmp_path / "resnet.onnx", dynamo))
    ref = torch_layer_counts(model.eval(), torch.randn(1, 3, 32, 32))
    got = costed(graph)
    if dynamo:  # module paths survive as layer names
        assert got == ref
    else:  # the TorchScript exporter folds BN into anonymous weights: compare in execution order
        assert sorted(got.values()) == sorted(ref.values()) and len(got) == len(ref) == 12
    adds = [n for n in graph.nodes.values() if n.kind == "add"]
    assert len(adds) == 4
    ls = bs.network_layer_set(tmp_path / "resnet.yaml", "d")
    names = [x.name for x in ls.layers]
    assert len(ls.adds) == 4 and sum(len(v) for v in ls.adds.values()) == 4
    if dynamo:
        pairs = {frozenset(names[k] for k in (main, *skip)) for main, skip in ls.adds.items()}
        # each add joins its two operands (the fusion graph files it under the one that runs later)
        assert pairs == {frozenset(p) for p in (("layers_0_conv2", "stem_0"), ("layers_1_conv2", "layers_1_proj_0"),
                                                ("layers_2_conv2", "layers_1_proj_0"),  # block 1's sum
                                                ("layers_3_conv2", "layers_3_proj_0"))}
        proj = graph.layer("layers_1_proj_0")
        assert (proj.kind, proj.kernel, proj.stride, proj.out_size) == ("pointwise", 1, 2, 16)


def test_mobilenetv2_style_depthwise_and_grouped(tmp_path: Path) -> None:
    model = MobileNetV2ish([(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2)], grouped=True)
    graph = imported(tmp_path, export(model, (1, 3, 32, 32), tmp_path / "mbv2.onnx"))
    assert costed(graph) == torch_layer_counts(model.eval(), torch.randn(1, 3, 32, 32))
    kinds = [x.kind for x in graph.layers]
    assert kinds.count("depthwise") == 5 and sum(x.groups == 4 for x in graph.layers) == 1
    assert sum(n.kind == "add" for n in graph.nodes.values()) == 2


def test_dilated_asymmetric_non_square(tmp_path: Path) -> None:
    model = Dilated()
    graph = imported(tmp_path, export(model, (1, 3, 30, 40), tmp_path / "dil.onnx"))
    assert costed(graph) == torch_layer_counts(model.eval(), torch.randn(1, 3, 30, 40))
    c1 = graph.layer("c1")
    assert (c1.in_h, c1.in_size, c1.kernel_h, c1.kernel, c1.dilation_h, c1.stride) == (30, 40, 3, 5, 2, 2)
    inst = problem_instance(c1)
    assert (inst["P"], inst["Q"], inst["R"], inst["S"], inst["Hdilation"]) == (20, 27, 5, 3, 2)
    kinds = sorted(n.kind for n in graph.nodes.values())
    assert kinds == ["concat", "shuffle", "split", "split"]
    pool = next(x for x in graph.layers if x.kind == "pool")
    assert (pool.out_h, pool.out_size) == (13, 10)  # ceil_mode


def test_mobilenetv2_cifar_matches_the_shipped_workload(tmp_path: Path) -> None:
    """Per-layer problems of the imported CIFAR MobileNetV2 against workloads/mobilenetv2.yaml, in order."""
    imp = imported(tmp_path, export(MobileNetV2ish(), (1, 3, 32, 32), tmp_path / "mbv2.onnx", dynamo=False))
    ship = network_graph(load_network(ROOT / "workloads/mobilenetv2.yaml"), "cifar10")

    def problems(layers):
        return [json.dumps(problem_instance(x), sort_keys=True) for x in layers]

    a, b = problems(ship.layers), problems(imp.layers)
    diff = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    # the one difference: the seed's head has an expand 1x1 (PW1, 32->32) that MobileNetV2's t=1 block lacks
    assert [(op, ship.layers[i1].name, i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in diff] == [("delete", "PW1", 1, 0)]
    assert len(a) == len(b) + 1 == 55


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return nn.functional.interpolate(self.c(x), scale_factor=2.0)

    good = export(ResNetish(), (1, 3, 32, 32), tmp_path / "good.onnx", dynamo=False)
    truncated = tmp_path / "trunc.onnx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    dynamic = export(ResNetish(), (1, 3, 32, 32), tmp_path / "dyn.onnx", dynamo=False, input_names=["x"],
                     dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    cases = [
        (export(Up(), (1, 3, 16, 16), tmp_path / "up.onnx", dynamo=False), "(Resize): op type not supported"),
        (truncated, "not a readable ONNX model"),
        (dynamic, "dynamic size"),
    ]
    for path, message in cases:
        out = tmp_path / f"{path.stem}.yaml"
        assert main(["import", str(path), "--dataset", "d", "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and str(path) in err and "fix:" in err, err
        assert not out.exists() and not list(tmp_path.glob(f".{out.name}*"))
    # the dynamic model imports once the size is given
    graph = imported(tmp_path, dynamic, "--input-size", "32x48")
    assert graph.layers[0].in_h == 32 and graph.layers[0].in_size == 48
