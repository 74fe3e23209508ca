"""``vaegan train --config mnist_vae [--epochs N] [--out DIR] [--set key=value ...] [--nproc N]``."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from vaegan.foundation.errors import ConfigError, VaeganError

if TYPE_CHECKING:  # the config stack imports torch: only when a command runs, so --help is instant
    from vaegan.config import RunConfig


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model from a YAML config")
    parser.add_argument(
        "--config", required=True, help="a shipped config name (see: vaegan configs), e.g. mnist_vae, or a YAML file"
    )
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--out", help="run folder (default outputs/<name>)")
    add_override_arguments(parser, "override any config key, e.g. --set model.latent_dim=2 (repeatable)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing run in the folder (only the run's own files, kept aside until the new run's "
        "first checkpoint)",
    )
    parser.add_argument(
        "--accept-changes",
        action="store_true",
        help="with --resume: go on under a config that differs from the run's (recorded in RUN/config_changes.yaml)",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train on N processes of this machine (torchrun --standalone); multi-node: see docs/distributed.md",
    )
    parser.set_defaults(func=run)


def add_override_arguments(parser: argparse.ArgumentParser, set_help: str) -> None:
    """--data-dir, --device and --set, shared by the commands that read a run config."""
    parser.add_argument("--data-dir", help="folder holding the dataset files")
    parser.add_argument("--device", help="override train.device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)


def config_from_args(args: argparse.Namespace, **shortcuts: str | None) -> RunConfig:
    """The config file with --set overrides, --data-dir, --device and the given ``key=value`` shortcuts."""
    from vaegan.runs import check_device

    if args.device is not None:
        check_device(args.device, training=True)
    from vaegan.config import load_config, text_override

    overrides = list(args.overrides)
    for key, value in {"data.data_dir": args.data_dir, "train.device": args.device, **shortcuts}.items():
        if isinstance(value, str):  # folders and devices as written, not read as YAML
            overrides.append(text_override(key, value))
        elif value is not None:
            overrides.append(f"{key}={value}")

    return load_config(args.config, overrides)


def run(args: argparse.Namespace) -> int:
    from vaegan.experiment import train_from_config

    config = config_from_args(args, **{"train.epochs": args.epochs, "out": args.out})  # fails early on a bad key
    if args.accept_changes and not args.resume:
        raise VaeganError("--accept-changes goes with --resume (it accepts a changed config for a resumed run)")
    if args.nproc is not None:
        return launch(args.nproc, args)
    history = train_from_config(
        config, resume=args.resume, overwrite=args.overwrite, accept_changes=args.accept_changes
    )
    last = history[-1] if history else {}
    summary = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k.startswith("val/"))
    if os.environ.get("RANK", "0") == "0":
        print(f"{config.out_dir}: {len(history)} epochs; {summary}")
    return 0


def launch(nproc: int, args: argparse.Namespace) -> int:
    """Run this same ``train`` command (less ``--nproc``) under ``torchrun --standalone --nproc-per-node=N``."""
    if nproc < 1:
        raise ConfigError(f"--nproc {nproc}: give the number of processes, 1 or more")
    argv = ["train", "--config", args.config]
    for flag, value in {"--epochs": args.epochs, "--out": args.out, "--data-dir": args.data_dir}.items():
        if value is not None:
            argv += [flag, str(value)]
    if args.device is not None:
        argv += ["--device", args.device]
    for override in args.overrides:
        argv += ["--set", override]
    argv += ["--resume"] * args.resume + ["--overwrite"] * args.overwrite + ["--accept-changes"] * args.accept_changes
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    verbose = ["-v"] if getattr(args, "verbose", False) else []
    launcher = ["--standalone", f"--nproc-per-node={nproc}", "--module", "vaegan", *verbose, *argv]
    try:  # in this process, so a failed rank is a line here, not torchrun's traceback
        torchrun(parse_args(launcher))
    except SignalException:  # SIGTERM (a scheduler's time limit): torchrun stopped the ranks, each said where
        raise KeyboardInterrupt from None
    except ChildFailedError as error:
        codes = sorted({failure.exitcode for failure in error.failures.values()})
        if codes == [2]:  # every failed rank printed its one-line error above (vaegan's status for them)
            return 2
        raise VaeganError(
            f"{len(error.failures)} of {nproc} processes failed (exit status {', '.join(map(str, codes))}); "
            "their output above says why"
        ) from None
    return 0
