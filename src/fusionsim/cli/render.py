"""`fusionsim render-accelerator`: a parametric accelerator (accelerator.yaml `parameters:`, `<file>.j2`
templates) rendered at given values into a plain accelerator folder, the one a sweep point maps on; or, with
--plain, its templates rendered at the defaults beside them (the shipped plain files, e.g. arch.yaml)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from fusionsim.errors import InputError
from fusionsim.sweeps import params as P


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render-accelerator", help="render a parametric accelerator at given parameter values", description=__doc__
    )
    p.add_argument("accelerator", type=Path, help="accelerator folder whose accelerator.yaml declares `parameters:`")
    p.add_argument("--set", dest="values", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter value (repeatable; YAML scalar: 8, 1.5, true, text); the rest keep their defaults")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="folder for the rendered accelerator (arch, constraints, mapper, "
                       "components, a manifest without `parameters` and `ert`)")
    group.add_argument("--plain", action="store_true",
                       help="write each <file>.j2 rendered at the defaults to <file> beside it (no --set)")
    p.set_defaults(run=run)


def parse_values(root: Path, items: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` items as parameter values (VALUE read as a YAML scalar); InputError on a bad item."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"expected NAME=VALUE, got {item!r}", key="--set", fix="e.g. --set glb_kib=256")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = None
        if not isinstance(value, P.SCALARS):
            raise InputError(f"{name.strip()}: expected a number, boolean or text, got {text!r}", key="--set",
                             fix=f"e.g. --set {name.strip()}=8")
        values[name.strip()] = value
    return values


def run(args: argparse.Namespace) -> int:
    root = args.accelerator
    manifest = root / "accelerator.yaml"
    defaults = P.parameters(root)
    if not defaults:
        raise InputError("declares no `parameters:`", file=manifest, key="parameters",
                         fix="declare them (NAME: default) and use them in <file>.j2 templates")
    if args.plain:
        if args.values:
            raise InputError("--plain renders the defaults; it takes no --set", key="--set",
                             fix="drop --set, or render a point with --out DIR")
        written = P.write_plain_files(root)
        print(f"rendered {len(written)} template(s) of {root} at the defaults: "
              + (" ".join(str(w) for w in written) or "none"))
        return 0
    values = P.resolve_values(root, parse_values(root, args.values), "--set", manifest)
    out = P.render_accelerator(root, values, args.out)
    print(f"rendered {root} at {values} into {out} (build its ERT and ART with: "
          f"fusionsim ert --arch {out / 'arch.yaml'} --out {out})")
    return 0
