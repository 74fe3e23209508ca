"""``vaegan phantoms --out DIR [--subjects 200] [--seed 0] [--spacing 2.5] [--workers N]``: synthetic CN/AD brains."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "phantoms", help="write a BIDS folder of synthetic CN and AD brains with their true atrophy maps"
    )
    parser.add_argument("--out", required=True, help="new folder, e.g. data/phantoms")
    parser.add_argument("--subjects", type=int, default=200, help="how many subjects (half AD)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spacing", type=float, default=2.5, help="voxel size in mm")
    parser.add_argument("--workers", type=int, help="processes (default: CPU count, at most 8)")
    parser.add_argument(
        "--atrophy-scale",
        type=float,
        default=1.0,
        help="disease strength in [0, 1.6]: 1 the default, 0.25 a quarter, 0 the healthy twins",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.cli import check_seed
    from vaegan.data.phantoms import check_settings, write_phantoms
    from vaegan.data.shared_folder import writing_alone

    check_seed(args.seed)

    def flag(key: str) -> str:  # how the messages spell a setting: as its option
        return f"--{key.replace('_', '-')} "

    check_settings(args.subjects, args.spacing, args.atrophy_scale, args.workers, named=flag)  # before any file
    started = time.perf_counter()
    with writing_alone(Path(args.out)):  # and what a killed run left beside --out is cleared
        out = write_phantoms(
            Path(args.out),
            subjects=args.subjects,
            seed=args.seed,
            spacing=args.spacing,
            progress=args.progress,
            workers=args.workers,
            atrophy_scale=args.atrophy_scale,
        )
    seconds = time.perf_counter() - started
    print(f"wrote {args.subjects} phantom subjects to {out} in {seconds:.0f} s")
    print(f"train on them: vaegan train --config ad_cvae_2d --data-dir {shlex.quote(str(out))}")
    return 0
