"""Per-layer MACs and weight counts as the frameworks themselves report them (the importers' reference).

Keras: each Conv2D / DepthwiseConv2D / SeparableConv2D / Dense layer's `count_params()` minus its biases and
its output shape; PyTorch: forward hooks on every `nn.Conv2d` / `nn.Linear` of one inference. Names follow
the importers' (a SeparableConv2D gives `<name>_dw` and `<name>_pw`; a torch module path `a.0.b` gives `a_0_b`).
"""

from __future__ import annotations

import re
from typing import Any


def keras_layer_counts(model: Any) -> dict[str, tuple[int, int]]:
    """{layer name: (MACs, weights)} of a built Keras model's conv and dense layers."""
    out: dict[str, tuple[int, int]] = {}
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense"):
            continue
        cfg = layer.get_config()
        shape = tuple(layer.output.shape)
        positions = 1
        for d in shape[1:-1]:
            positions *= int(d)
        biases = int(shape[-1]) if cfg.get("use_bias", True) else 0
        weights = layer.count_params() - biases
        if cls == "SeparableConv2D":
            in_ch = int(layer.input.shape[-1])
            kh, kw = cfg["kernel_size"]
            dw = kh * kw * in_ch * int(cfg.get("depth_multiplier", 1))
            out[f"{layer.name}_dw"] = (positions * dw, dw)
            out[f"{layer.name}_pw"] = (positions * (weights - dw), weights - dw)
        else:
            out[layer.name] = (positions * weights, weights)
    return out


def torch_layer_counts(module: Any, example: Any) -> dict[str, tuple[int, int]]:
    """{module path with `_` for `.`: (MACs, weights)} of every Conv2d and Linear in one forward of `example`
    (batch 1)."""
    import torch

    counts: dict[str, tuple[int, int]] = {}
    hooks = []

    def hook(name: str):
        def fn(mod: Any, args: Any, output: Any) -> None:
            weights = int(mod.weight.numel())
            per_output = weights // int(mod.weight.shape[0])  # (in/groups) * kh * kw, or in_features
            counts[name] = (int(output.numel()) // int(output.shape[0]) * per_output, weights)

        return fn

    for name, mod in module.named_modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(mod.register_forward_hook(hook(re.sub(r"\W+", "_", name))))
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in hooks:
            h.remove()
    return counts
