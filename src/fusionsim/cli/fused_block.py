"""`fusionsim fused-block`: one fused bottleneck block's ARCHON costs from its three layer results.

Each layer result is a Timeloop stats.txt or an `evaluate --json` / stats.json file (EvalResult JSON).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fusionsim.errors import InputError
from fusionsim.model.result import EvalResult
from fusionsim.spec.yaml_io import load_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fused-block",
        help="ARCHON predictive-fusion costs of one bottleneck block (pred_decom/pred_conv/main/overhead)",
    )
    p.add_argument(
        "--decom", required=True, help="PW1 prediction result on ARCHON predictions (stats.txt or JSON)"
    )
    p.add_argument(
        "--conv", required=True, help="DW prediction result on ARCHON predictions (stats.txt or JSON)"
    )
    p.add_argument("--main", required=True, help="main fused conv result on ARCHON main (stats.txt or JSON)")
    p.add_argument("--cin", type=int, required=True, help="block input channels")
    p.add_argument("--cmid", type=int, required=True, help="expanded channels")
    p.add_argument("--cout", type=int, required=True, help="block output channels")
    p.add_argument("--p", type=int, required=True, help="block output size (P = Q)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--groups", type=int, default=1, help="groups of the 1x1 convs")
    p.add_argument("--prune-factor", type=float, default=0.014, help="fraction of fused weights kept")
    p.add_argument("--qtz-bits", type=int, default=4, help="prediction activation bits")
    p.add_argument("--adders", type=int, default=24)
    p.add_argument("--kernel", type=int, default=3, help="depthwise kernel of the block (k x k fused conv)")
    p.add_argument(
        "--variant",
        choices=["fusionet", "shufflenet", "mobilenet", "mnasnet"],
        default="fusionet",
        help="which seed script copy's formulas to use",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def load_result(path: str | Path) -> EvalResult:
    """An EvalResult from a Timeloop stats.txt or an EvalResult JSON file; InputError on bad content."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            data = load_json(path)
            return EvalResult.from_json(data)
        except KeyError as exc:
            raise InputError(
                "missing key in EvalResult JSON",
                file=path,
                key=str(exc.args[0]),
                fix="pass the output of `fusionsim evaluate --json`",
            ) from exc
        except (TypeError, AttributeError, ValueError) as exc:
            raise InputError(
                f"not an EvalResult JSON object ({exc})",
                file=path,
                fix="pass the output of `fusionsim evaluate --json`",
            ) from exc
    from fusionsim.timeloop import read_stats

    return read_stats(path)


def run(args: argparse.Namespace) -> int:
    from fusionsim.archon.predictive import VARIANT_BY_NETWORK, FusedBlock, fused_block_costs

    block = FusedBlock(
        name="block",
        cin=args.cin,
        cmid=args.cmid,
        cout=args.cout,
        p=args.p,
        stride=args.stride,
        groups=args.groups,
        prune_factor=args.prune_factor,
        qtz_bits=args.qtz_bits,
        adders=args.adders,
        kernel=args.kernel,
    )
    costs = fused_block_costs(
        block,
        load_result(args.decom),
        load_result(args.conv),
        load_result(args.main),
        VARIANT_BY_NETWORK[args.variant],
    )
    row = {k.split("_", 1)[1]: v for k, v in costs.row().items()}
    if args.json:
        out = {
            **row,
            "energy_uJ": costs.energy_uJ,
            "cycles": costs.cycles,
            "overhead": {k.split("_", 1)[1]: v for k, v in costs.overhead.row().items()},
        }
        print(json.dumps(out))
    else:
        import pandas as pd

        from fusionsim.frames import csv_text

        print(csv_text(pd.DataFrame([row]), float_format="%.4f"), end="")
    return 0
