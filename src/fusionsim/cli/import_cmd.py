"""`fusionsim import`: turn an ONNX (.onnx) or Keras (.h5, .keras) model into a `workloads/<net>.yaml`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fusionsim.errors import InputError

FORMATS = (".onnx", ".h5", ".keras")


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)(?:[x,](\d+))?", text.strip())
    if not m or int(m[1]) < 1 or (m[2] and int(m[2]) < 1):
        raise argparse.ArgumentTypeError(f"expected HxW or N, got {text!r}")
    return int(m[1]), int(m[2] or m[1])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="write a workload YAML from an ONNX or Keras model",
                       description="Write workloads/<net>.yaml from an ONNX (.onnx) or Keras (.h5, .keras) "
                       "model: convs, linear layers and pools become layers, adds/concats/splits/shuffles "
                       "zero-cost graph nodes, everything else free or a one-line error.")
    p.add_argument("model", type=Path, help="the model file (.onnx, .h5 or .keras)")
    p.add_argument("--dataset", required=True, help="the dataset name the input size is filed under")
    p.add_argument("-o", "--out", type=Path, required=True, help="the workload YAML to write")
    p.add_argument("--name", help="network name (default: the output file's stem)")
    p.add_argument("--classes", type=int, help="class count (default: the last layer's outputs)")
    p.add_argument("--input-size", type=_size, metavar="HxW",
                   help="input height x width for a model with a dynamic input size")
    p.set_defaults(run=run, out_is_file=True)


def read_model(model: Path, dataset: str, name: str, classes: int | None = None,
               input_size: tuple[int, int] | None = None) -> dict:
    """The workload dict of `model` (format by suffix), not yet validated or written."""
    try:
        return _read_model(model, dataset, name, classes, input_size)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # a config that lies
        raise InputError(f"inconsistent model ({type(exc).__name__}: {str(exc)[:80]})", file=model,
                         fix="re-export the model from its framework (model.save / torch.onnx.export)") from None


def _read_model(model: Path, dataset: str, name: str, classes: int | None,
                input_size: tuple[int, int] | None) -> dict:
    suffix = model.suffix.lower()
    if suffix == ".onnx":
        from fusionsim.workloads.onnx_import import onnx_to_workload

        return onnx_to_workload(model, dataset, name, classes, input_size)
    if suffix in (".h5", ".keras"):
        from fusionsim.workloads.keras import keras_to_workload

        return keras_to_workload(model, name, dataset, classes, input_size=input_size)
    raise InputError(f"unknown model format {suffix!r}", file=model, fix=f"use one of {' '.join(FORMATS)}")


def import_model(model: Path, dataset: str, out: Path, name: str | None = None, classes: int | None = None,
                 input_size: tuple[int, int] | None = None) -> dict:
    """Import `model` and write the checked workload to `out`; returns the workload dict."""
    from fusionsim.workloads.builder import write_workload

    workload = read_model(model, dataset, name or out.stem, classes, input_size)
    write_workload(workload, out)
    return workload


def run(args: argparse.Namespace) -> int:
    wl = import_model(args.model, args.dataset, args.out, args.name, args.classes, args.input_size)
    kinds = [e["type"] for e in wl["layers"]]
    print(f"{args.out}: {sum(k not in ('add', 'concat', 'split', 'shuffle') for k in kinds)} layers, "
          f"{sum(k in ('add', 'concat', 'split', 'shuffle') for k in kinds)} graph nodes")
    return 0
