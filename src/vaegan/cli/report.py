"""``vaegan report RUN [--out FILE]``: one self-contained HTML page describing a run."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help="write RUN/report.html: config, metrics, curves, grids, figures")
    parser.add_argument("run", help="run folder, e.g. outputs/mnist_vae")
    parser.add_argument("--out", help="the HTML file to write (default RUN/report.html)")
    parser.add_argument("--max-epochs", type=int, default=20, help="per-epoch grids embedded per kind (spread evenly)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.foundation.errors import VaeganError
    from vaegan.visualization import write_report

    if args.max_epochs < 1:
        raise VaeganError(f"--max-epochs {args.max_epochs}: must be at least 1")
    if args.out:
        from vaegan.cli.outputs import check_out_file

        check_out_file(args.out, suffixes=(".html", ".htm"), own="report.html", run=args.run)
    path = write_report(args.run, args.out, max_epochs=args.max_epochs)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser")
    return 0
