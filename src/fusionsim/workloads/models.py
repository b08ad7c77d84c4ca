"""`networks:` entries that are model files (.onnx, .h5, .keras): imported once into the output folder.

A config entry is either a workload name (`workloads/<name>.yaml`) or a path to a model, relative to the
working directory (where `output_dir` is). A model is imported to `<output_dir>/workloads/<stem>.yaml` with one input spec per
configured dataset (the model's own size and classes) and re-imported only when the model's bytes, the
datasets or the importer change (the key is kept beside the YAML in `<stem>.yaml.key`).
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

from fusionsim.atomic_io import write_text
from fusionsim.errors import InputError

MODEL_SUFFIXES = (".onnx", ".h5", ".keras")
IMPORTER_VERSION = "1"  # bump when the importers change what they write


def is_model_entry(entry: str) -> bool:
    """True when a `networks:` entry names a model file rather than a workload."""
    return Path(entry).suffix.lower() in MODEL_SUFFIXES


def model_network_name(entry: str) -> str:
    """The network name of a model entry: its file stem, non-word characters as `_`."""
    return re.sub(r"\W+", "_", Path(entry).stem).strip("_") or "model"


def network_names(entries: list[str]) -> list[str]:
    """The network names of `networks:` entries (a model path gives its stem)."""
    return [model_network_name(e) if is_model_entry(e) else e for e in entries]


def imported_workload(model: Path, out_dir: Path, datasets: list[str]) -> Path:
    """The workload YAML of `model` under `out_dir/workloads/`, imported now unless already current."""
    from fusionsim.cli.import_cmd import read_model
    from fusionsim.workloads.builder import write_workload

    if not model.is_file():
        raise InputError(f"model file {model} not found", file="config.yaml", key="networks",
                         fix="give a workload name or an existing .onnx/.h5/.keras path (relative to the working directory)")
    digest = hashlib.sha256()
    digest.update(model.read_bytes())
    digest.update(f"|{IMPORTER_VERSION}|{','.join(datasets)}".encode())
    key = digest.hexdigest()
    out = out_dir / "workloads" / f"{model_network_name(model.name)}.yaml"
    stamp = out.with_name(out.name + ".key")
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == key:
        return out
    workload = read_model(model, datasets[0], model_network_name(model.name))
    spec = workload["inputs"][datasets[0]]
    workload["inputs"] = {ds: copy.deepcopy(spec) for ds in datasets}
    write_workload(workload, out)
    write_text(stamp, key + "\n")
    return out


def network_files(entries: list[str], workloads_dir: Path, out_dir: Path, datasets: list[str]) -> dict[str, Path]:
    """{network name: workload file} for `networks:` entries (names or model paths)."""
    files: dict[str, Path] = {}
    for entry in entries:
        if is_model_entry(entry):
            files[model_network_name(entry)] = imported_workload(Path(entry), out_dir, datasets)
        else:
            files[entry] = workloads_dir / f"{entry}.yaml"
    return files
