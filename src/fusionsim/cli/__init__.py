"""The `fusionsim` command: one sub-module per subcommand, each with `register(subparsers)`.

Bad input raises InputError anywhere below; here it becomes one stderr line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from fusionsim.atomic_io import check_out_dir
from fusionsim.errors import InputError

# subcommand name -> module under fusionsim.cli that defines register(subparsers) and run(args)
SUBCOMMANDS = {
    "evaluate": "evaluate",
    "map": "map_cmd",
    "ert": "ert",
    "fusion-search": "fusion_search",
    "sparse": "sparse",
    "fused-block": "fused_block",
    "fusion-benchmark": "fusion_benchmark",
    "import": "import_cmd",
    "render-accelerator": "render",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fusionsim", description="Timeloop-compatible accelerator cost model, mapper, energy tables, "
        "sparse baseline and layer-fusion search.")
    parser.add_argument(
        "--missing-ert", choices=["error", "timeloop-v1.0"], default=None,
        help="a component without ERT energies: error (default), or Timeloop v1.0's default energies with a "
        "warning naming it (sets FUSIONSIM_MISSING_ERT for the pipeline's jobs too)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        importlib.import_module(f"fusionsim.cli.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.missing_ert:
        os.environ["FUSIONSIM_MISSING_ERT"] = args.missing_ert
    try:
        out = getattr(args, "out", None)
        if out is not None:  # an unusable --out fails before any work, not after it
            check_out_dir(Path(out).parent if getattr(args, "out_is_file", False) else out)
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"fusionsim {args.command}: error: {exc.line()}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"fusionsim {args.command}: error: {exc.filename}: file not found (fix: check the path)", file=sys.stderr)
        return 2
    except OSError as exc:  # permissions, read-only places, a file where a folder should be, a full disk
        name = exc.filename or "output"
        print(f"fusionsim {args.command}: error: {name}: {exc.strerror or exc} "
              "(fix: check the path and its permissions)", file=sys.stderr)
        return 2
