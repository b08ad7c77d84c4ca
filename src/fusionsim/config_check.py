"""Checking the pipeline config at start: one line per problem (file, key path, what is wrong, the fix).

The Snakefile calls `check_or_exit` instead of Snakemake's `validate`: a JSON-schema error then prints as
`my.yaml: key 'fusion.enabeld': unknown key (fix: did you mean 'enabled'?)` rather than the whole schema and a
stack trace, and names that point at files (networks, datasets, accelerators, comparisons) are checked with the
closest valid name as the fix. Problems exit with code 2 before any job is planned.
"""

from __future__ import annotations

import copy
import difflib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import jsonschema
import yaml

from fusionsim.errors import InputError
from fusionsim.spec.yaml_io import load_yaml_any
from fusionsim.workloads.models import is_model_entry, network_names

T = TypeVar("T")
_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


# ------------------------------------------------------------------------------------------ which file says it


class ConfigSources:
    """The config files in merge order (workflow config first, `--configfile` overlays after, later wins), so an
    error names the file that set the key; a key set by none came from `--config` on the command line."""

    def __init__(self, files: list[str | Path], cli: dict[str, Any] | None = None):
        self.files: list[tuple[str, Any]] = []
        self.errors: list[str] = []  # unreadable or hostile files (binary, too big, too deep, an alias bomb)
        for f in files:
            try:
                data = load_yaml_any(f, allow_empty=True)
            except InputError as err:
                self.errors.append(err.line())
                data = None
            self.files.append((str(f), data))
        self.default = str(files[-1]) if files else "config"
        if cli:
            self.files.append(("--config", dict(cli)))

    def file_of(self, path: list[Any] | tuple[Any, ...]) -> str:
        """The last file that sets the key at `path` (or its nearest parent); `--config` if none does."""
        for depth in range(len(path), 0, -1):
            for name, data in reversed(self.files):
                node = data
                for part in path[:depth]:
                    if isinstance(node, dict) and part in node:
                        node = node[part]
                    elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                        node = node[part]
                    else:
                        break
                else:
                    return name
        return self.default


def key_path(path: Any) -> str:
    """`fusion.comparisons[1]` style for a jsonschema path deque."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def closest(word: str, choices: Any) -> str | None:
    """The closest valid name to a misspelt `word` (difflib), or None when nothing is close."""
    choices = [str(c) for c in choices]
    found = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if found:
        return found[0]
    starts = [c for c in choices if len(str(word)) >= 3 and c.lower().startswith(str(word).lower())]
    return starts[0] if len(starts) == 1 else None


def name_fix(word: str, choices: Any, what: str = "") -> str:
    """`did you mean 'x'?` when a close name exists, else the list of valid names (shortened)."""
    choices = sorted({str(c) for c in choices})
    near = closest(word, choices)
    listing = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    if near:
        return f"did you mean '{near}'?"
    return f"use one of {what}{listing}" if choices else "check the name"


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "a string"


def _example(schema: dict[str, Any]) -> str:
    if (
        "default" in schema
        and schema["default"] not in (None, {}, [], "")
        and not isinstance(schema["default"], bool)
    ):
        return f", e.g. {json.dumps(schema['default'])}"
    return ""


# ------------------------------------------------------------------------------------------ schema errors


def _lines_for(
    error: jsonschema.ValidationError, sources: ConfigSources
) -> Iterator[tuple[list[Any], str, str, str]]:
    """(path, file, what is wrong, fix) for one jsonschema error; one tuple per offending key."""
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind, inst, want = error.validator, error.instance, error.validator_value
    if kind == "additionalProperties" and want is False and isinstance(inst, dict):
        known = list((schema.get("properties") or {}).keys())
        for key in sorted(k for k in inst if k not in known):
            fix = name_fix(key, known, "the keys ")
            yield [*path, key], sources.file_of([*path, key]), "unknown key", fix if known else "remove it"
        return
    if kind in ("oneOf", "anyOf") and error.context:
        # the branch whose type fits the value says what is wrong; when none fits, name the forms allowed
        misfit = {
            e.relative_schema_path[0] for e in error.context if list(e.relative_schema_path)[1:] == ["type"]
        }
        fitting = [e for e in error.context if e.relative_schema_path[0] not in misfit]
        if fitting:
            yield from _lines_for(jsonschema.exceptions.best_match(fitting), sources)
            return
        forms = " or ".join(
            ("'" + "', '".join(b["enum"]) + "'") if "enum" in b else _JSON_TYPES.get(b.get("type"), "?")
            for b in want
        )
        yield path, sources.file_of(path), f"{_short(inst)} is {_kind(inst)}", f"give {forms}"
        return
    where = sources.file_of(path)
    if kind == "required":
        missing = [k for k in want if k not in inst]
        for key in missing:
            yield [*path, key], where, "missing key", f"add `{key}:` (see config.schema.yaml)"
        return
    if kind == "type":
        types = want if isinstance(want, list) else [want]
        expected = " or ".join(_JSON_TYPES.get(t, t) for t in types)
        yield path, where, f"{_short(inst)} is {_kind(inst)}", f"give {expected}{_example(schema)}"
        return
    if kind == "enum":
        allowed = [v for v in want if v is not None]
        near = closest(str(inst), allowed) if isinstance(inst, str) else None
        names = ", ".join(str(v) for v in allowed) + (" or null" if None in want else "")
        fix = f"did you mean '{near}'? (one of {names})" if near else f"use one of {names}"
        yield path, where, f"{_short(inst)} is not allowed", fix
        return
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        yield path, where, f"{_short(inst)} is out of range", f"use a value {op} {want}"
        return
    if kind == "minItems":
        yield (
            path,
            where,
            f"{_short(inst)} has fewer than {want} item(s)",
            f"list at least {want}{_example(schema)}",
        )
        return
    if kind == "uniqueItems":
        dup = next((x for i, x in enumerate(inst) if x in inst[:i]), None)
        yield path, where, f"{_short(dup)} is listed twice", "list each item once"
        return
    if kind == "minProperties":
        yield path, where, "is empty", f"give at least {want} entry{_example(schema)}"
        return
    if kind == "minLength":
        yield path, where, "is empty", f"give a non-empty value{_example(schema)}"
        return
    if kind == "pattern":
        models = ", or a .onnx/.h5/.keras model path" if "onnx" in str(want) else ""
        yield path, where, f"{_short(inst)} is not a valid name", f"use letters, digits, '_' and '-' only{models}"
        return
    if kind == "propertyNames" and error.context:
        yield (
            [*path, inst],
            sources.file_of([*path, inst]),
            "is not a valid name",
            "use letters, digits, '_' and '-' only",
        )
        return
    first = error.message.splitlines()[0] if error.message else kind
    yield path, where, first[:120], "see config.schema.yaml"


def _fill_defaults(validator_cls: type) -> type:
    """A validator class that fills in each missing property's `default` as it validates (jsonschema FAQ)."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: dict, instance: Any, schema: dict) -> Iterator[Any]:
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(prop, json.loads(json.dumps(sub["default"])))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def load_schema(path: str | Path) -> dict[str, Any]:
    """The config schema (YAML), checked against its meta-schema."""
    schema = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_errors(config: dict[str, Any], schema: dict[str, Any], sources: ConfigSources) -> list[str]:
    """One line per schema problem of `config`; on none, `config` has the schema's defaults filled in."""
    lines: dict[str, None] = {}
    validator = _fill_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for path, where, what, fix in _lines_for(error, sources):
            lines[InputError(what, file=where, key=key_path(path) or "<top level>", fix=fix).line()] = None
    return list(lines)


# ------------------------------------------------------------------------------------------ names and files


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _workload_inputs(path: Path) -> set[str]:
    """Dataset names a workload file defines an input size for (empty when it cannot be read)."""
    try:
        data = load_yaml_any(path, allow_empty=True)  # bounded: a hostile workload cannot hang the check
    except InputError:
        return set()
    inputs = data.get("inputs") if isinstance(data, dict) else None
    return set(inputs) if isinstance(inputs, dict) else set()


def _layer_names(path: Path, datasets: list[str]) -> set[str]:
    """Layer names of a network on the configured datasets (empty when the workload itself is bad: its own
    check reports that)."""
    from fusionsim.workloads import expand_network, load_network

    try:
        net = load_network(path)
        return {x.name for ds in datasets if ds in net.inputs for x in expand_network(net, ds)}
    except InputError:
        return set()


def reference_errors(config: dict[str, Any], basedir: str | Path, sources: ConfigSources) -> list[str]:
    """Names in the (schema-valid) config that match no file: networks, datasets, accelerators, layer-subset
    networks, comparisons; each with the closest valid name as the fix."""
    base = Path(basedir)
    wdir = _resolve(base, config["workloads_dir"])
    adir = _resolve(base, config["accelerators_dir"])
    out: list[str] = []

    def bad(path: list[Any], what: str, fix: str) -> None:
        out.append(InputError(what, file=sources.file_of(path), key=key_path(path), fix=fix).line())

    if not wdir.is_dir():
        bad(
            ["workloads_dir"],
            f"folder {wdir} does not exist",
            "point it at the folder of <network>.yaml files",
        )
        return out
    if not adir.is_dir():
        bad(
            ["accelerators_dir"],
            f"folder {adir} does not exist",
            "point it at the folder of accelerator folders",
        )
        return out
    workloads = sorted(p.stem for p in wdir.glob("*.yaml"))
    accels = sorted(p.parent.name for p in adir.glob("*/accelerator.yaml"))

    def check_networks(names: list[str], path: list[Any]) -> None:
        for i, name in enumerate(names):
            if is_model_entry(name):  # a model file, imported by the plan
                if not Path(name).is_file():
                    bad([*path, i], f"model file '{name}' not found (relative to {Path.cwd()})",
                        "give a workload name or an existing .onnx/.h5/.keras path")
            elif name not in workloads:
                bad(
                    [*path, i],
                    f"unknown network '{name}' (no {wdir.name}/{name}.yaml)",
                    name_fix(name, workloads),
                )

    def check_accel(name: str, path: list[Any]) -> None:
        if name not in accels:
            bad(
                path,
                f"unknown accelerator '{name}' (no {adir.name}/{name}/accelerator.yaml)",
                name_fix(name, accels),
            )

    check_networks(config["networks"], ["networks"])
    known_sets = {n: _workload_inputs(wdir / f"{n}.yaml") for n in workloads}
    all_datasets = set().union(*known_sets.values()) if known_sets else set()
    if any(is_model_entry(n) for n in config["networks"]):  # an imported model runs on every dataset
        all_datasets |= set(config["datasets"])
    for i, ds in enumerate(config["datasets"]):
        if all_datasets and ds not in all_datasets:
            bad(
                ["datasets", i],
                f"unknown dataset '{ds}' (no workload defines it)",
                name_fix(ds, all_datasets),
            )
    for name in config["accelerators"]:
        check_accel(name, ["accelerators", name])
    for net, names in (config.get("layers") or {}).items():
        if net not in network_names(config["networks"]):
            bad(["layers", net], f"network '{net}' is not in `networks`",
                name_fix(net, network_names(config["networks"])))
        elif names and net in workloads:
            known = _layer_names(wdir / f"{net}.yaml", config["datasets"])
            for i, name in enumerate(names):
                if known and name not in known:
                    bad(["layers", net, i], f"unknown layer '{name}' of network {net}", name_fix(name, known))
    ft = config.get("fusion_tiling") or {}
    if ft.get("variant", "exact") != "exact" and ft.get("objective", "energy") != "energy":
        bad(
            ["fusion_tiling", "objective"],
            f"variant {ft['variant']} only minimises energy",
            "use objective: energy or variant: exact",
        )
    if ft.get("enabled"):
        check_networks(ft["networks"], ["fusion_tiling", "networks"])
        for i, name in enumerate(ft["accelerators"]):
            check_accel(name, ["fusion_tiling", "accelerators", i])
        for net in ft.get("layers") or {}:
            if net not in network_names(ft["networks"]):
                bad(
                    ["fusion_tiling", "layers", net],
                    f"network '{net}' is not in fusion_tiling.networks",
                    name_fix(net, network_names(ft["networks"])),
                )
    fcfg = config.get("fusion") or {}
    if fcfg.get("enabled"):
        for role in (
            "baseline_accelerator",
            "predictions_accelerator",
            "main_accelerator",
            "head_tail_accelerator",
        ):
            check_accel(fcfg[role], ["fusion", role])
        cfile = _resolve(base, fcfg["comparisons_file"])
        try:
            cmps = load_yaml_any(cfile, allow_empty=True)
        except InputError:
            cmps = None
        if not isinstance(cmps, dict):
            bad(
                ["fusion", "comparisons_file"],
                f"cannot read comparisons from {cfile}",
                "point it at a comparisons.yaml (the shipped one: accelerators/archon/comparisons.yaml)",
            )
        else:
            names = [k for k in cmps if isinstance(cmps[k], dict)]
            for i, name in enumerate(fcfg.get("comparisons") or []):
                if name not in names:
                    bad(
                        ["fusion", "comparisons", i],
                        f"unknown comparison '{name}' (not in {cfile.name})",
                        name_fix(name, names),
                    )
            known_nets = all(n in workloads for n in config["networks"])  # else that is the error to fix first
            if known_nets and not fcfg.get("comparisons") and not any(n in names for n in config["networks"]):
                bad(
                    ["networks"],
                    "no configured network has an ARCHON comparison (fusion.enabled is true)",
                    f"add one of {', '.join(sorted(names))} or set fusion.enabled: false",
                )
    return out


# ------------------------------------------------------------------------------------------ the Snakefile's calls


def _exit(lines: list[str]) -> NoReturn:
    for line in lines:
        print(line, file=sys.stderr)
    sys.stderr.flush()
    sys.exit(2)


def merge_config(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into `base` recursively (mappings merge, anything else replaces), as Snakemake merges configs."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def sources_of(workflow: Any) -> ConfigSources:
    """Where a Snakemake run's config comes from: the workflow's config.yaml, each `--configfile`, `--config`."""
    default = Path(workflow.basedir) / "config.yaml"
    settings = getattr(workflow, "config_settings", None)
    extra = [str(f) for f in getattr(settings, "configfiles", []) if Path(f).resolve() != default.resolve()]
    return ConfigSources([str(default), *extra], cli=dict(getattr(settings, "config", None) or {}))


def check_or_exit(workflow: Any, config: dict[str, Any], *, with_default: bool = False) -> ConfigSources:
    """Validate the run's config (filling in the schema's defaults) and the names it uses; on problems print one
    line each and exit 2.

    `with_default`: `config` holds only the command line's configs (the Snakefile calls this before its
    `configfile:` directive, so an error is the only line printed); the workflow's config.yaml is merged under a
    copy of it. Otherwise `config` is the merged config and gets its defaults filled in place.
    """
    basedir = Path(workflow.basedir)
    sources = sources_of(workflow)
    if sources.errors:  # before the schema walks a config that an alias bomb made exponential
        _exit(sources.errors)
    if with_default:
        try:
            base = yaml.safe_load((basedir / "config.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeError, yaml.YAMLError) as exc:
            _exit(
                [InputError(f"cannot read it: {exc}", file=basedir / "config.yaml", fix="restore it").line()]
            )
        config = merge_config(base if isinstance(base, dict) else {}, config)
    lines = schema_errors(config, load_schema(basedir / "config.schema.yaml"), sources)
    if not lines:
        lines = reference_errors(config, basedir, sources)
    if lines:
        _exit(lines)
    return sources


def or_exit(sources: ConfigSources, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`, turning an InputError into its one line (naming the config file that set the key) and exit 2."""
    try:
        return fn(*args)
    except InputError as err:
        if err.file == "config.yaml" and err.key:
            err.file = sources.file_of(err.key.split("."))
        _exit([err.line()])
