"""Regenerate the SRAM tables `data/cacti7_sram_<node>.yaml` by running CACTI 7 over a grid.

Not needed at run time: the tables ship with the package. To refresh them (prints progress to stderr):

    python -m fusionsim.energy.cacti_grid --cacti /path/to/cacti-7-build --cfg default_SRAM.cfg \\
        --technology 45 --out src/fusionsim/energy/data/cacti7_sram_45nm.yaml

`--cacti` is a folder holding a built CACTI 7 (`cacti` binary plus its `tech_params/`), `--cfg` the base SRAM
configuration (we used the `default_SRAM.cfg` that Accelergy's CACTI plug-in ships: itrs-lstp cells and
periphery, "fast" access mode, ED^2 optimisation). Each grid point is run the way that plug-in runs CACTI:
block = max(word bytes, 4), capacity raised to at least 64 blocks, banks rounded up to a power of two.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

WIDTHS_BITS = (8, 16, 32, 64, 128, 256)
PORTS = (1, 2)
BANKS = (1, 2, 4, 8, 16, 32, 64)
# capacities in bytes from 256 B to 4 MiB, each a multiple of 64 B: half-octave steps (the default for 45 nm,
# the node of the reference designs) or octave steps (the default for other nodes, to save CACTI time)
SIZES_BYTES = tuple(sorted({int(round(256 * 2 ** (k / 2) / 64)) * 64 for k in range(0, 29)}))
SIZES_BYTES_OCTAVE = tuple(256 * 2**k for k in range(0, 15))


def run_point(
    cacti_dir: Path,
    cfg_text: str,
    tech_nm: float,
    size_b: int,
    width_bits: int,
    ports: int,
    banks: int,
    workdir: Path,
) -> dict[str, float] | None:
    """One CACTI run; returns read/write energy (pJ), leakage energy per cycle of all banks (pJ), area (um^2)."""
    block = max(width_bits // 8, 4)
    name = f"t{tech_nm}_s{size_b}_w{width_bits}_p{ports}_b{banks}.cfg"
    cfg = workdir / name
    cfg.write_text(
        cfg_text + f"\n-size (bytes) {size_b}\n-read-write port  {ports}\n-block size (bytes) {block}\n"
        f"-technology (u) {tech_nm / 1000}\n-output/input bus width  {width_bits}\n-UCA bank {banks}\n"
    )
    out = Path(str(cfg) + ".out")
    subprocess.run(
        [str(cacti_dir / "cacti"), "-infile", str(cfg)],
        cwd=cacti_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )
    if not out.exists():
        return None
    rows = list(csv.DictReader(out.open()))
    if not rows:
        return None
    row = {k.strip(): v for k, v in rows[-1].items() if k}
    try:
        leak_pj = (
            float(row["Standby leakage per bank(mW)"])
            * 1e-3
            * float(row["Random cycle time (ns)"])
            * 1e3
            * banks
        )
        return {
            "read": float(row["Dynamic read energy (nJ)"]) * 1e3,
            "write": float(row["Dynamic write energy (nJ)"]) * 1e3,
            "leak": leak_pj,
            "area": float(row["Area (mm2)"]) * 1e6,
        }
    except (KeyError, ValueError):
        return None


def generate(cacti_dir: Path, cfg: Path, tech_nm: float, jobs: int = 2, step: str | None = None) -> dict:
    """Run the whole grid for one node; returns the table as a YAML-ready dict."""
    cfg_text = cfg.read_text()
    step = step or ("half-octave" if tech_nm == 45 else "octave")
    sizes = SIZES_BYTES if step == "half-octave" else SIZES_BYTES_OCTAVE
    points = [
        (w, p, b, s)
        for w in WIDTHS_BITS
        for p in PORTS
        for b in BANKS
        for s in sizes
        if s >= 64 * max(w // 8, 4) and s // b >= max(w // 8, 4) * 16
    ]
    results: dict[tuple, dict | None] = {}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(jobs) as pool:
        futs = {
            pool.submit(run_point, cacti_dir, cfg_text, tech_nm, s, w, p, b, Path(tmp)): (w, p, b, s)
            for (w, p, b, s) in points
        }
        for i, (f, key) in enumerate(futs.items()):
            results[key] = f.result()
            if i % 100 == 0:
                print(f"{i}/{len(points)}", file=sys.stderr)
    series = []
    for w in WIDTHS_BITS:
        for p in PORTS:
            for b in BANKS:
                pts = [(s, results[(w, p, b, s)]) for s in sizes if results.get((w, p, b, s))]
                if not pts:
                    continue
                series.append(
                    {
                        "width_bits": w,
                        "ports": p,
                        "banks": b,
                        "size_bytes": [s for s, _ in pts],
                        "read_pJ": [float(f"{r['read']:.5g}") for _, r in pts],
                        "write_pJ": [float(f"{r['write']:.5g}") for _, r in pts],
                        "leak_pJ_per_cycle": [float(f"{r['leak']:.4g}") for _, r in pts],
                        "area_um2": [float(f"{r['area']:.5g}") for _, r in pts],
                    }
                )
    return {"technology_nm": tech_nm, "series": series}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacti", type=Path, required=True)
    ap.add_argument("--cfg", type=Path, required=True)
    ap.add_argument("--technology", type=float, required=True, help="node in nm")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--step",
        choices=("half-octave", "octave"),
        default=None,
        help="capacity step (default: half-octave at 45 nm, octave elsewhere)",
    )
    args = ap.parse_args(argv)
    table = generate(args.cacti.resolve(), args.cfg.resolve(), args.technology, args.jobs, args.step)
    header = (
        f"# CACTI 7.0 SRAM table, {args.technology:g} nm: made by fusionsim.energy.cacti_grid (see its docstring)\n"
        "# source: CACTI 7.0 (Balasubramonian et al., ACM TACO 2017; github HewlettPackard/cacti), run with\n"
        "# the default_SRAM.cfg of Accelergy's CACTI plug-in (itrs-lstp, fast access, ED^2).\n"
        "# read/write: dynamic energy per access (pJ); leak: standby leakage of all banks over one random\n"
        "# cycle (pJ); area in um^2. Rows: one (width, ports, banks); columns: capacity in bytes.\n"
    )
    body = yaml.safe_dump(table, default_flow_style=None, sort_keys=False, width=100000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
