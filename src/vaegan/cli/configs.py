"""``vaegan configs``: the shipped ready-made configs, one line each; ``--show NAME`` prints one."""

from __future__ import annotations

import argparse

from vaegan.foundation.errors import VaeganError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("configs", help="list the shipped configs (usable by name: --config mnist_vae)")
    parser.add_argument("--show", metavar="NAME", help="print that config's YAML")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.config import find_config, shipped_configs

    if args.show:
        path = find_config(args.show)
        try:
            print(path.read_text(encoding="utf-8"), end="")
        except UnicodeDecodeError:
            raise VaeganError(f"--show {args.show}: {path} is not a YAML config (not text)") from None
        return 0
    described = shipped_configs()
    width = max(map(len, described), default=0)
    for name, line in described.items():
        print(f"{name:<{width}}  {line}")
    return 0
