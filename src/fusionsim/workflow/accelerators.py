"""Accelerator manifests (`accelerators/<name>/accelerator.yaml`) with their paths resolved and checked, and
the cache-key part standing in for an ERT the pipeline builds (`ert_build_key`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.workflow.keys import content_hash, file_hash

TECHNOLOGIES = ("40nm", "45nm", "65nm")  # what `fusionsim.energy.ert.build_tables` prices


@dataclass(frozen=True)
class KindFiles:
    """What the mapper gets for one layer kind on one accelerator."""

    constraints: tuple[Path, ...]
    mapper: Path


@dataclass(frozen=True)
class Accelerator:
    """An `accelerators/<name>/accelerator.yaml` manifest with its paths resolved."""

    name: str
    root: Path
    arch: Path
    components: Path | None
    ert: Path | None  # None: the pipeline builds it (rule build_ert)
    kinds: dict[str, KindFiles]
    depthwise_input_levels: tuple[str, ...] = ()
    technology: str | None = None  # manifest override of `energy.technology` for a built ERT

    def files_for(self, kind: str) -> KindFiles:
        """Constraints and mapper file for a layer kind (`default` when the kind is not listed)."""
        return self.kinds.get(kind) or self.kinds["default"]

    def component_files(self) -> list[Path]:
        """The component class files (sorted), or [] when the arch needs none."""
        if self.components is None:
            return []
        return sorted(self.components.glob("*.yaml"))


def load_accelerator(accel_dir: Path, name: str) -> Accelerator:
    """Read and check `<accel_dir>/<name>/accelerator.yaml`; InputError naming the file and key on bad input."""
    root = Path(accel_dir) / name
    manifest = root / "accelerator.yaml"
    if not manifest.is_file():
        raise InputError(
            "no accelerator manifest",
            file=manifest,
            key=f"accelerators.{name}",
            fix=f"create {manifest} or remove the accelerator from config.yaml",
        )
    raw = load_yaml_any(manifest, allow_empty=True) or {}

    def path(key: str, value: Any, must_be_dir: bool = False) -> Path:
        if not isinstance(value, str):
            raise InputError("must be a path relative to the accelerator folder", file=manifest, key=key)
        p = root / value
        ok = p.is_dir() if must_be_dir else p.is_file()
        if not ok:
            raise InputError(f"{p} does not exist", file=manifest, key=key)
        return p

    for key in ("arch", "layer_kinds"):
        if key not in raw:
            raise InputError("missing key", file=manifest, key=key)
    ert = None
    if raw.get("ert") is not None:
        value = raw["ert"]
        if not isinstance(value, str) or not (root / value).is_file():
            what = f"{root / value} does not exist" if isinstance(value, str) else "must be a path"
            raise InputError(
                f"ERT {what}",
                file=manifest,
                key="ert",
                fix="name an ERT file relative to the accelerator folder, or drop `ert:` to have the "
                "pipeline build one from the arch (rule build_ert)",
            )
        ert = root / value
    technology = raw.get("technology")
    if technology is not None:
        if ert is not None:
            raise InputError(
                "`technology` only applies to an ERT the pipeline builds, but this manifest ships one",
                file=manifest,
                key="technology",
                fix="drop `technology:` or drop `ert:`",
            )
        if technology not in TECHNOLOGIES:
            raise InputError(
                f"unsupported technology {technology!r}",
                file=manifest,
                key="technology",
                fix="use one of " + ", ".join(TECHNOLOGIES),
            )
    kinds_raw = raw["layer_kinds"]
    if not isinstance(kinds_raw, dict) or "default" not in kinds_raw:
        raise InputError(
            "must map layer kinds to {constraints, mapper} and include `default`",
            file=manifest,
            key="layer_kinds",
        )
    kinds = {}
    for kind, spec in kinds_raw.items():
        key = f"layer_kinds.{kind}"
        if kind not in ("default", "conv", "pointwise", "depthwise", "fc", "pool"):
            raise InputError(
                f"unknown layer kind {kind!r}",
                file=manifest,
                key=key,
                fix="use default, conv, pointwise, depthwise, fc or pool",
            )
        if not isinstance(spec, dict) or not isinstance(spec.get("constraints"), list):
            raise InputError("needs `constraints: [files]` and `mapper: file`", file=manifest, key=key)
        cons = tuple(path(f"{key}.constraints[{i}]", c) for i, c in enumerate(spec["constraints"]))
        kinds[kind] = KindFiles(cons, path(f"{key}.mapper", spec.get("mapper")))
    components = path("components", raw["components"], must_be_dir=True) if raw.get("components") else None
    return Accelerator(
        name=name,
        root=root,
        arch=path("arch", raw["arch"]),
        components=components,
        ert=ert,
        kinds=kinds,
        depthwise_input_levels=tuple(raw.get("depthwise_input_levels") or ()),
        technology=technology,
    )


def ert_build_key(acc: Accelerator, technology: str | None, backend: str, version: str) -> str:
    """Cache-key part standing in for the bytes of an ERT the pipeline builds (they do not exist at plan time).

    The hash of everything `build_ert` reads or is told: the arch's bytes, the component files (names and
    bytes), the technology, the energy backend and the model version. Editing a buffer's depth in the arch
    changes it, hence every layer key of that accelerator and nothing else.
    """
    return content_hash(
        {
            "arch": file_hash(acc.arch),
            "components": [[c.name, file_hash(c)] for c in acc.component_files()],
            "technology": technology,
            "backend": backend,
            "model_version": version,
        }
    )
