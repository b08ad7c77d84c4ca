"""What an ARCHON comparison is: a compact network vs its fusion network (`comparisons.yaml`), their head/tail
layers (derived or an explicit `edges:` file) and each block's fused main computation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsim.archon.predictive import (
    FUSIONET_STYLE,
    MOBILENET_STYLE,
)
from fusionsim.archon.tables import (
    REFERENCE_METRICS,
)
from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml
from fusionsim.workloads import Layer

VARIANTS = {"fusionet": FUSIONET_STYLE, "mobilenet": MOBILENET_STYLE}
PARTS = ("decom", "conv", "main")


@dataclass(frozen=True)
class Comparison:
    """One row of the final table: a compact network (dense and sparse baselines) vs its fusion network."""

    name: str
    baseline: Path
    fused: Path
    variant: str
    prune_factor: float
    qtz_bits: int | list[int]
    adders: int | dict[str, int]
    edges: Path | None = None  # explicit head/tail layers (`load_edges`), replacing the derived ones
    predictions_accelerator: str | None = None  # overrides `fusion.predictions_accelerator` for this network
    # published totals to compare with, per dataset (`reference:` in the comparisons file), and their source
    reference: dict[str, dict[str, float]] = field(default_factory=dict)
    reference_source: str = ""

    def qtz_for(self, k: int) -> int:
        return self.qtz_bits[k] if isinstance(self.qtz_bits, list) else int(self.qtz_bits)

    def adders_for(self, dataset: str) -> int:
        return int(self.adders[dataset]) if isinstance(self.adders, dict) else int(self.adders)


def load_comparisons(path: str | Path, workloads_dir: str | Path) -> dict[str, Comparison]:
    """Read `comparisons.yaml`; `baseline`/`fused` are workload names or files relative to it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("comparisons file not found", file=path, key="fusion.comparisons_file")
    raw = load_yaml(path)
    out = {}
    for name, spec in raw.items():

        def where(value: str, key: str, _name: str = name) -> Path:
            p = (
                path.parent / value
                if value.endswith((".yaml", ".yml"))
                else Path(workloads_dir) / f"{value}.yaml"
            )
            if not p.is_file():
                raise InputError(f"{p} does not exist", file=path, key=f"{_name}.{key}")
            return p

        if spec.get("variant") not in VARIANTS:
            raise InputError(f"variant must be one of {sorted(VARIANTS)}", file=path, key=f"{name}.variant")
        out[name] = Comparison(
            name=name,
            baseline=where(spec["baseline"], "baseline"),
            fused=where(spec["fused"], "fused"),
            variant=spec["variant"],
            prune_factor=float(spec["prune_factor"]),
            qtz_bits=spec.get("qtz_bits", 4),
            adders=spec.get("adders", 24),
            edges=where(spec["edges"], "edges") if spec.get("edges") else None,
            predictions_accelerator=spec.get("predictions_accelerator"),
            **_reference(spec.get("reference"), path, name),
        )
    return out


def _reference(raw: Any, path: Path, name: str) -> dict[str, Any]:
    """`reference: {source: text, <dataset>: {<final-table total>: number}}` -> Comparison fields."""
    if raw is None:
        return {}
    key = f"{name}.reference"
    if not isinstance(raw, dict):
        raise InputError(
            "must map datasets to totals", file=path, key=key, fix="see accelerators/archon/comparisons.yaml"
        )
    out: dict[str, dict[str, float]] = {}
    for ds, totals in raw.items():
        if ds == "source":
            continue
        if not isinstance(totals, dict):
            raise InputError("must map totals to numbers", file=path, key=f"{key}.{ds}")
        for metric, value in totals.items():
            if metric not in REFERENCE_METRICS:
                raise InputError(f"unknown total '{metric}'", file=path, key=f"{key}.{ds}.{metric}",
                                 fix=f"one of {', '.join(REFERENCE_METRICS)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InputError(
                    f"must be a positive number, got {value!r}", file=path, key=f"{key}.{ds}.{metric}"
                )
        out[str(ds)] = {m: float(v) for m, v in totals.items()}
    return {"reference": out, "reference_source": str(raw.get("source", ""))}


EDGE_SIDES = ("head", "tail", "head_fused", "tail_fused")
_EDGE_KINDS = ("conv", "pointwise", "depthwise", "fc", "pool")


@dataclass(frozen=True)
class EdgeLayer:
    """One head/tail layer of a comparison: the layer job's shape and how its cost enters the tables."""

    layer: Layer
    multiplier: int  # cost multiplier (the groups it stands for)
    depthwise_channels: int | None = None  # fused-head DW: + (channels-1) x GLB input energy


def load_edges(path: str | Path, dataset: str, classes: int) -> dict[str, list[EdgeLayer]]:
    """Explicit head/tail layers of a comparison (the `edges:` file of a comparisons.yaml entry).

    Each of `head`, `tail` (compact network, dense and sparse baselines) and `head_fused`, `tail_fused` (ARCHON,
    on the predictions arch) is an optional list of layers with explicit shapes, so that definitions which do not
    chain with the bottleneck blocks (the seed's head/tail runs) can be stated as run:
    `{name, type: conv|pointwise|depthwise|fc|pool, in_channels, out_channels (or `classes`), kernel, stride,
    size (input size), groups (the problem is one group: C/G -> M/G), multiplier (cost multiplier, default
    groups), depthwise_channels (fused DW input correction, default the channel count on fused sides)}`.
    A side that is not listed keeps the layers derived from the network files."""
    path = Path(path)
    raw = load_yaml(path)
    bad = set(raw) - set(EDGE_SIDES) - {"description", "source"}
    if bad:
        raise InputError(f"unknown key (allowed: {' '.join(EDGE_SIDES)})", file=path, key=sorted(bad)[0])
    out: dict[str, list[EdgeLayer]] = {}
    for side in EDGE_SIDES:
        if side not in raw:
            continue
        layers: list[EdgeLayer] = []
        for i, e in enumerate(raw[side] or []):
            key = f"{side}[{i}]"
            kind = e.get("type")
            if kind not in _EDGE_KINDS:
                raise InputError(f"type must be one of {' '.join(_EDGE_KINDS)}", file=path, key=f"{key}.type")

            def num(k: str, default: int | None = None, _e: dict = e, _key: str = key) -> int:
                v = _e.get(k, default)
                if v == "classes":
                    v = classes
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise InputError(f"must be a positive integer, got {v!r}", file=path, key=f"{_key}.{k}")
                return v

            cin = num("in_channels")
            cout = num("out_channels", cin)
            groups = num("groups", 1)
            if kind == "fc":
                kernel, stride, size, out_size = 1, 1, 1, 1
            else:
                kernel = num("kernel", 1 if kind == "pointwise" else 3)
                stride = num("stride", 1)
                size = num("size")
                pad = 0 if kind == "pool" else kernel // 2
                out_size = (size + 2 * pad - kernel) // stride + 1
            if cin % groups or cout % groups:
                raise InputError(f"channels not divisible by groups={groups}", file=path, key=f"{key}.groups")
            dw = kind in ("depthwise", "pool")
            layer = Layer(
                str(e.get("name") or f"{side}{i + 1}"),
                kind,
                cin,
                cout,
                kernel,
                stride,
                size,
                out_size,
                groups=1 if dw else groups,
                channels=cin if dw else 1,
            )
            dwc = e.get(
                "depthwise_channels", cin if (kind == "depthwise" and side.endswith("fused")) else None
            )
            layers.append(EdgeLayer(layer, num("multiplier", 1 if dw else groups), dwc))
        out[side] = layers
    return out


def derived_edges(baseline: list[Layer], fused: list[Layer]) -> dict[str, list[EdgeLayer]]:
    """Head/tail layers of the network files: grouped layers x groups, fused-side DW with its GLB correction."""

    def side(layers: list[Layer], fused_side: bool) -> list[EdgeLayer]:
        return [
            EdgeLayer(x, x.groups, x.channels if (fused_side and x.kind == "depthwise") else None)
            for x in layers
        ]

    head, tail = _edges(baseline)
    fhead, ftail = _edges(fused)
    return {
        "head": side(head, False),
        "tail": side(tail, False),
        "head_fused": side(fhead, True),
        "tail_fused": side(ftail, True),
    }


def main_layer(decom: Layer, comp: Layer, conv: Layer) -> Layer:
    """The fused main computation of a block: a k x k conv Cin/G -> Cout at output resolution, stride s, with
    the block's depthwise kernel k (PW1, DW k x k and PW2 compose into one k x k conv)."""
    g = decom.groups
    return Layer(
        name=f"{decom.block}_main",
        kind="conv",
        in_channels=decom.in_channels // g,
        out_channels=comp.out_channels,
        kernel=conv.kernel,
        stride=conv.stride,
        in_size=conv.in_size,
        out_size=conv.out_size,
        groups=1,
        block=decom.block,
        role="main",
    )


def network_blocks(layers: list[Layer]) -> list[dict[str, Layer]]:
    """Bottleneck blocks in order, each {"decom", "conv", "comp"} -> layer."""
    by: dict[str, dict[str, Layer]] = {}
    for x in layers:
        if x.block is not None:
            by.setdefault(x.block, {})[x.role or ""] = x
    return list(by.values())


def _edges(layers: list[Layer]) -> tuple[list[Layer], list[Layer]]:
    """Head (before the first block) and tail (after the last) layers."""
    idx = [i for i, x in enumerate(layers) if x.block is not None]
    if not idx:
        return layers, []
    return layers[: idx[0]], layers[idx[-1] + 1 :]
