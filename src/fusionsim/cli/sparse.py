"""`fusionsim sparse`: weight sparsity and sparse-accelerator cost of a pruned Keras model; pruning.

fusionsim sparse analyze --model M.h5 --workload W.yaml [--mapping-dir D] [--dense-dir D] --out DIR
fusionsim sparse prune --workload W.yaml --sparsity 0.8 [--data X.npz] --out M.h5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fusionsim.atomic_io import write_json
from fusionsim.errors import InputError
from fusionsim.names import safe_name
from fusionsim.spec.yaml_io import load_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sparse", help="pruned-model sparsity and the sparse-accelerator baseline")
    actions = parser.add_subparsers(dest="sparse_action", required=True)

    an = actions.add_parser("analyze", help="per-layer sparsity, per-PE imbalance and sparse cost of a .h5")
    an.add_argument("--model", required=True, help="pruned Keras .h5 (full model or weights only)")
    an.add_argument("--workload", required=True, help="network YAML (workloads/*.yaml) or a list of layers")
    an.add_argument("--dataset", help="dataset of the network file (default: its first)")
    an.add_argument("--match", choices=("name", "order"), default="name", help="how model layers pair up")
    an.add_argument("--mapping-dir", help="dense mappings: <layer>.map.txt or <layer>.yaml (loops / factors)")
    an.add_argument("--dense-dir", help="dense results: <layer>.json (EvalResult JSON, one group)")
    an.add_argument(
        "--energy-model",
        choices=("measured", "seed"),
        default="measured",
        help="zero fraction for energy: each layer's measured sparsity, or the seed's 0.91 (DW dense)",
    )
    an.add_argument("--zero-fraction", type=float, help="override the energy zero fraction for all layers")
    an.add_argument("--pe-csv", action="store_true", help="also write per-PE non-zero work per layer")
    an.add_argument("--out", required=True, help="output folder (sparsity.json, sparsity.csv)")
    an.set_defaults(run=run)

    pr = actions.add_parser(
        "prune", help="build the workload in Keras, magnitude-prune it with tfmot, save .h5"
    )
    pr.add_argument("--workload", required=True)
    pr.add_argument("--dataset", help="dataset of the network file (input size and classes)")
    pr.add_argument("--sparsity", type=float, default=0.8, help="target fraction of zero weights, in [0, 1)")
    pr.add_argument("--data", help=".npz with x_train, y_train (x_test, y_test): fine-tune while pruning")
    pr.add_argument("--epochs", type=int, default=2)
    pr.add_argument("--batch-size", type=int, default=64)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--out", required=True, help="output .h5; a <out>.json label is written beside it")
    pr.set_defaults(run=run, out_is_file=True)
    parser.set_defaults(run=run)


def _find(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path | None:
    for suf in suffixes:
        cand = folder / f"{name}{suf}"
        if cand.exists():
            return cand
    return None


def run_analyze(args: argparse.Namespace) -> int:
    from fusionsim.frames import records_frame, write_csv
    from fusionsim.model.result import EvalResult
    from fusionsim.sparsity.adjust import SparseEnergyModel, analyze_layer
    from fusionsim.sparsity.imbalance import read_loops, write_pe_work_csv
    from fusionsim.sparsity.prune import check_sparsity
    from fusionsim.sparsity.weights import read_pruned_model

    if args.zero_fraction is not None:
        check_sparsity(args.zero_fraction, key="--zero-fraction")
    layers, kernels = read_pruned_model(args.model, args.workload, args.dataset, args.match)
    out = Path(args.out)
    rows = []
    pe_work: dict[str, object] = {}  # written only once every layer is validated: no half-written results
    for lw in layers:
        name = safe_name(lw.spec.name, file=args.workload, key="layers")
        loops = dense = None
        if args.mapping_dir:
            mp = _find(Path(args.mapping_dir), name, (".map.txt", ".yaml", ".yml", ".json"))
            loops = read_loops(mp, lw.spec.problem_sizes()) if mp else None
        if args.dense_dir and loops is not None:
            dp = _find(Path(args.dense_dir), name, (".json",))
            if dp:
                try:
                    dense = EvalResult.from_json(load_json(dp))
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(
                        f"not an EvalResult JSON ({exc.__class__.__name__}: {exc})", file=dp
                    ) from None
        if args.zero_fraction is not None:
            energy = SparseEnergyModel(zero_fraction=args.zero_fraction)
        elif args.energy_model == "seed":
            energy = SparseEnergyModel.seed(lw.spec.kind)
        else:
            energy = SparseEnergyModel()
        try:
            rec, work = analyze_layer(lw, loops, dense, energy)
        except InputError as exc:
            if exc.file is None and loops is not None:
                raise InputError(exc.message, file=mp, key=exc.key, fix=exc.fix) from None
            raise
        if args.pe_csv and work is not None:
            pe_work[name] = work.nonzero
        rows.append(rec)
    for name, nonzero in pe_work.items():
        write_pe_work_csv(out / "pe_work" / f"{name}.csv", nonzero)
    label = kernels.provenance or {"method": "user-supplied"}
    write_json(
        out / "sparsity.json",
        {
            "model": str(args.model),
            "layout": kernels.layout,
            "workload": str(args.workload),
            "pruning": label,
            "layers": rows,
        },
    )
    write_csv(records_frame(rows), out / "sparsity.csv")
    mean = sum(r["sparsity"] for r in rows) / len(rows)
    print(
        f"{len(rows)} layers matched ({kernels.layout}, pruning: {label.get('method')}); mean sparsity {mean:.3f}"
    )
    print(f"wrote {out / 'sparsity.json'} and {out / 'sparsity.csv'}")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from fusionsim.sparsity.prune import check_sparsity, prune_workload
    from fusionsim.sparsity.weights import load_layer_specs

    sparsity = check_sparsity(args.sparsity, key="--sparsity")
    if args.epochs < 1 or args.batch_size < 1:
        raise InputError("--epochs and --batch-size must be >= 1", key="--epochs")
    specs, info = load_layer_specs(args.workload, args.dataset)
    res = prune_workload(
        specs,
        info,
        args.out,
        sparsity=sparsity,
        dataset=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    out = Path(args.out)
    write_json(out.with_name(out.name + ".json"), {**res.label, "layer_sparsity": res.layer_sparsity})
    print(f"wrote {out} ({res.label['method']}, target sparsity {sparsity})")
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "sparse_action", None) == "prune":
        return run_prune(args)
    return run_analyze(args)
