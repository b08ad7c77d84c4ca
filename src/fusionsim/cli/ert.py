"""`fusionsim ert`: energy (ERT.yaml) and area (ART.yaml) reference tables of an architecture, in Accelergy's
v0.3 format, without Accelergy."""

from __future__ import annotations

import argparse
from pathlib import Path

from fusionsim.energy.ert import BACKENDS, TECHNOLOGIES, build_tables, write_tables


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ert", help="build ERT.yaml and ART.yaml for an architecture", description=__doc__
    )
    p.add_argument("--arch", required=True, type=Path, help="architecture YAML (tree or flattened form)")
    p.add_argument(
        "--components",
        type=Path,
        action="append",
        default=None,
        help="compound component class folder or file (repeatable; default: components/ beside the arch)",
    )
    p.add_argument(
        "--technology",
        choices=TECHNOLOGIES,
        default=None,
        help="override every component's technology (default: the arch's own attributes)",
    )
    p.add_argument(
        "--energy-backend",
        choices=BACKENDS,
        default="native",
        help="primitive models: native tables (default) or the hwcomponents package",
    )
    p.add_argument("--precision", type=int, default=3, help="decimals of energies and areas (default 3)")
    p.add_argument("--out", required=True, type=Path, help="output folder for ERT.yaml and ART.yaml")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tables = build_tables(args.arch, args.components, args.technology, args.energy_backend)
    ert_path, art_path = write_tables(tables, args.out, args.precision)
    print(f"wrote {ert_path} and {art_path} ({len(tables.components)} components, backend {tables.backend})")
    return 0
