"""Parametric accelerators: an accelerator.yaml `parameters: {NAME: default}` section and Jinja2 templates.

A file the manifest names (arch, constraints, mapper) is rendered from `<file>.j2` when that template exists
beside it, else taken as it is. Templates are user input: they render in a sandboxed environment with
StrictUndefined, so an unknown name is an error, not an empty string. The plain files are the templates
rendered at the defaults (`check_defaults`), so the plain accelerator keeps its bytes and its cache keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any

SCALARS = (bool, int, float, str)
# what rendering a template may raise: Jinja2's errors and those of its expressions (e.g. `// word_bits` at 0)
RENDER_ERRORS = (TemplateError, ArithmeticError, TypeError, ValueError)


def _manifest(root: Path) -> tuple[Path, dict[str, Any]]:
    path = Path(root) / "accelerator.yaml"
    if not path.is_file():
        raise InputError("no accelerator manifest", file=path, fix="name an accelerator folder with accelerator.yaml")
    raw = load_yaml_any(path, allow_empty=True) or {}
    if not isinstance(raw, dict):
        raise InputError("expected a YAML mapping at the top level", file=path)
    return path, raw


def parameters(root: str | Path) -> dict[str, Any]:
    """The manifest's `parameters:` (name -> default), {} when it declares none."""
    path, raw = _manifest(Path(root))
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise InputError("must map parameter names to defaults", file=path, key="parameters",
                         fix="e.g. parameters: {pe_count: 16, glb_kib: 128}")
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"parameter name {name!r} is not an identifier", file=path, key=f"parameters.{name}",
                             fix="use letters, digits and underscores, e.g. glb_kib")
        if not isinstance(value, SCALARS):
            raise InputError("a parameter default must be a number, boolean or string", file=path,
                             key=f"parameters.{name}")
    return dict(params)


def resolve_values(root: str | Path, values: dict[str, Any], where: str = "parameters",
                   source: object = "config.yaml") -> dict[str, Any]:
    """The defaults with `values` applied; an unknown parameter or a non-scalar value is an InputError at `where`."""
    defaults = parameters(root)
    for name, value in values.items():
        key = f"{where} {name}" if where.startswith("--") else f"{where}.{name}"
        if name not in defaults:
            known = ", ".join(defaults) or "none"
            raise InputError(f"accelerator {Path(root).name} has no parameter {name!r}", file=source, key=key,
                             fix=f"its parameters are: {known} (declare more under `parameters:` in its accelerator.yaml)")
        if not isinstance(value, SCALARS):
            raise InputError("a parameter value must be a number, boolean or string", file=source, key=key)
        want, got = _kind(defaults[name]), _kind(value)
        if got != want and not (want == "number" and got == "integer"):
            raise InputError(f"{name} takes {want} values (default {defaults[name]!r}), got {value!r}",
                             file=source, key=key, fix=f"give {name} {want} values like its default")
    return {**defaults, **values}


def _kind(value: Any) -> str:
    """A parameter value's type as a word: boolean, integer, number or text."""
    if isinstance(value, bool):
        return "boolean"
    return "integer" if isinstance(value, int) else "number" if isinstance(value, float) else "text"


def _render_fix(exc: Exception, values: dict[str, Any]) -> str:
    if isinstance(exc, TemplateError):
        return "use only the manifest's parameters (" + (", ".join(values) or "none") + ") in {{ ... }} expressions"
    return "choose parameter values the template's expressions accept (e.g. no zero divisor)"


def template_files(root: str | Path) -> list[str]:
    """The files the manifest names that the mapper and energy model read (relative, in manifest order)."""
    path, raw = _manifest(Path(root))
    files = [raw.get("arch")]
    for spec in (raw.get("layer_kinds") or {}).values():
        if isinstance(spec, dict):
            files += list(spec.get("constraints") or []) + [spec.get("mapper")]
    out = []
    for f in files:
        if not isinstance(f, str):
            raise InputError("expected a path relative to the accelerator folder", file=path, key="arch/layer_kinds",
                             fix="see accelerators/simba_like/accelerator.yaml")
        if f not in out:
            out.append(f)
    return out


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def render_file(root: str | Path, rel: str, values: dict[str, Any]) -> str:
    """The text of accelerator file `rel` at `values`: its `.j2` template rendered, else the file's own text.

    A template error (syntax, an undefined name, a forbidden operation) or rendered text that is not YAML is
    one InputError naming the template, the line and the fix."""
    root = Path(root)
    template = root / f"{rel}.j2"
    if not template.is_file():
        plain = root / rel
        if not plain.is_file():
            raise InputError(f"{plain} does not exist", file=root / "accelerator.yaml", key=rel)
        return plain.read_text()
    try:
        text = _environment().from_string(template.read_text()).render(**values)
    except RENDER_ERRORS as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(
            f"template error{f' on line {line}' if line else ''} at {values}: {getattr(exc, 'message', None) or exc}",
            file=template,
            key=f"line {line}" if line else rel,
            fix=_render_fix(exc, values),
        ) from None
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (rendered line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"renders to invalid YAML{at} at {values}", file=template, key=rel,
                         fix="check the template's indentation and quoting around {{ ... }}") from None
    return text


def render_section(section: dict[str, Any], values: dict[str, Any], file: object, where: str) -> dict[str, Any]:
    """A manifest section with each string value rendered as a Jinja2 template at `values` (sandboxed, strict):
    `weights_level: "PEWeightBuffer:{{ 4096 * pe_count }}"`. Values without `{{` are kept as they are."""
    out = dict(section)
    for key, value in section.items():
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            continue
        try:
            out[key] = _environment().from_string(value).render(**values)
        except RENDER_ERRORS as exc:
            raise InputError(f"template error at {values}: {getattr(exc, 'message', None) or exc}", file=file,
                             key=f"{where}.{key}", fix=_render_fix(exc, values)) from None
    return out


def fusion_section(manifest: str | Path) -> dict[str, Any]:
    """An accelerator manifest's `fusion:` section with its templated values rendered at the manifest's
    parameter defaults (a rendered variant's manifest has them rendered already and declares none)."""
    manifest = Path(manifest)
    raw = load_yaml_any(manifest, allow_empty=True) or {}
    section = raw.get("fusion") or {}
    if not isinstance(section, dict):
        raise InputError("expected a mapping", file=manifest, key="fusion",
                         fix="e.g. fusion: {dram: DRAM, weights_level: GlobalBuffer:65536, ...}")
    params = raw.get("parameters") or {}
    return render_section(section, params if isinstance(params, dict) else {}, manifest, "fusion")


def render_texts(root: str | Path, values: dict[str, Any]) -> dict[str, str]:
    """Every manifest-named file's text at `values` (relative path -> text)."""
    return {rel: render_file(root, rel, values) for rel in template_files(root)}


def check_defaults(root: str | Path) -> None:
    """Each plain file with a template must be that template rendered at the defaults, byte for byte (it is
    generated, `write_plain_files`): the plain accelerator is the default point. InputError naming the first
    file that differs."""
    root = Path(root)
    defaults = parameters(root)
    for rel, text in render_texts(root, defaults).items():
        if not (root / f"{rel}.j2").is_file():
            continue
        if not (root / rel).is_file() or (root / rel).read_text() != text:
            raise InputError("is not its template rendered at the manifest's defaults", file=root / rel,
                             key="parameters",
                             fix=f"regenerate it: fusionsim render-accelerator {root} --plain (edit {rel}.j2, not {rel})")


def write_plain_files(root: str | Path) -> list[Path]:
    """Write each manifest-named file that has a `<file>.j2` as that template rendered at the defaults (only
    when its bytes change, so cached jobs stay fresh); returns those files."""
    root = Path(root)
    defaults = parameters(root)
    out = []
    for rel, text in render_texts(root, defaults).items():
        if (root / f"{rel}.j2").is_file():
            _write_if_changed(root / rel, text.encode())
            out.append(root / rel)
    return out


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write only when the bytes differ: Snakemake reruns jobs whose inputs got newer."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def render_accelerator(root: str | Path, values: dict[str, Any], dest: str | Path,
                       texts: dict[str, str] | None = None) -> Path:
    """Write a plain accelerator folder at `values` into `dest`: the rendered files, the component classes and a
    manifest without `parameters` and without `ert` (the variant's ERT and ART are built, rule build_ert), its
    `fusion:` values rendered at `values`.

    Files are written only when their bytes change, so re-planning never makes cached jobs look stale."""
    root, dest = Path(root), Path(dest)
    path, raw = _manifest(root)
    texts = render_texts(root, values) if texts is None else texts
    for rel, text in texts.items():
        _write_if_changed(dest / rel, text.encode())
    if raw.get("components"):
        src = root / raw["components"]
        for f in sorted(src.glob("*.yaml")):
            _write_if_changed(dest / raw["components"] / f.name, f.read_bytes())
    manifest = {k: v for k, v in raw.items() if k not in ("parameters", "ert")}
    if isinstance(raw.get("fusion"), dict):  # the fusion search's level sizes follow the point's parameters
        manifest["fusion"] = render_section(raw["fusion"], values, path, "fusion")
    manifest["name"] = dest.name
    manifest["rendered_from"] = {"accelerator": root.name, "parameters": dict(values)}
    # the accelerator's folder name, not `path`: an absolute path would name the checkout in generated content
    head = f"# Rendered from {root.name}/{path.name} at {values} (fusionsim.sweeps.params); do not edit.\n"
    _write_if_changed(dest / "accelerator.yaml", (head + yaml.safe_dump(manifest, sort_keys=False)).encode())
    return dest

