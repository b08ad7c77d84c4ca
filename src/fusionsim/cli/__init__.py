"""The `fusionsim` command: one sub-module per subcommand, each with `register(subparsers)`.

Bad input raises InputError anywhere below; here it becomes one stderr line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fusionsim", description="Timeloop-compatible accelerator cost model, mapper, energy tables, "
        "sparse baseline and layer-fusion search.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        importlib.import_module(f"fusionsim.cli.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"fusionsim {args.command}: error: {exc.line()}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"fusionsim {args.command}: error: {exc.filename}: file not found (fix: check the path)", file=sys.stderr)
        return 2
