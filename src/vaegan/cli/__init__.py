"""The ``vaegan`` command: one module per subcommand, each registering itself here.

- ``train.py``: ``vaegan train``.
- ``configs.py``: ``vaegan configs`` (the shipped configs, usable by name).
- ``sample.py``: ``vaegan sample`` and ``vaegan reconstruct``.
- ``encode.py``: ``vaegan encode`` (your own images -> codes.npz; the input reading reconstruct shares).
- ``exercises.py``: ``vaegan exercises init|check`` (the course's graded exercises).
- ``check_model.py``: ``vaegan check-model pkg.module:Class`` (the model contract, on your own model).
- ``datasets.py``: ``vaegan datasets``.
- ``tune.py``: ``vaegan tune`` (Optuna hyperparameter search).
- ``visualize.py``: ``vaegan visualize`` (latent-space figures into RUN/latent/).
- ``report.py``: ``vaegan report`` (RUN/report.html).
- ``phantoms.py``: ``vaegan phantoms`` (synthetic CN/AD brains as a BIDS folder).
- ``evaluate.py``: ``vaegan evaluate`` (metrics with floors into RUN/evaluation.json).
- ``classifier.py``: ``vaegan train-classifier`` (the reference classifier evaluate uses).

A subcommand module defines ``add_parser(subparsers)`` which sets ``func`` on
its parser; ``main`` dispatches and turns a :class:`VaeganError` into a one-line
message and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vaegan.foundation.errors import VaeganError

COMMANDS = [
    "vaegan.cli.train",
    "vaegan.cli.configs",
    "vaegan.cli.sample",
    "vaegan.cli.encode",
    "vaegan.cli.exercises",
    "vaegan.cli.check_model",
    "vaegan.cli.datasets",
    "vaegan.cli.tune",
    "vaegan.cli.visualize",
    "vaegan.cli.report",
    "vaegan.cli.phantoms",
    "vaegan.cli.evaluate",
    "vaegan.cli.classifier",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="vaegan", description="Train and inspect VAEs and GANs on images.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args) or 0
    except VaeganError as error:
        print(f"vaegan {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vaegan {args.command}: interrupted; finished epochs are saved in the run folder", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
