"""``vaegan evaluate RUN [--k 5000] [--out metrics.json]``: every metric the run's model allows, with floors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaegan.foundation.errors import VaeganError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score a trained run: likelihood, reconstruction, FID/KID/PR, ...")
    parser.add_argument("run", help="run folder, e.g. outputs/mnist_vae")
    parser.add_argument("--out", help="also write the JSON here (RUN/evaluation.json is always written)")
    parser.add_argument("--k", type=int, default=5000, help="importance samples per image for the NLL (default 5000)")
    parser.add_argument(
        "--nll-images",
        type=int,
        default=1000,
        help="test images for the NLL, drawn across the test set with a fixed seed; 0 for all (default 1000)",
    )
    parser.add_argument("--samples", type=int, help="generated images for FID/KID/PR (default: as many as test images)")
    parser.add_argument(
        "--tstr-epochs",
        type=int,
        help="epochs of the train-on-generated classifier and its floor (default 3, more on small sets: "
        "at least 150 optimiser steps)",
    )
    parser.add_argument(
        "--latent",
        choices=["prior", "fitted"],
        default="prior",
        help="codes of the scored samples: the prior N(0, I), or a Gaussian fitted to the training images' "
        "codes (models with an encoder; as vaegan sample --latent fitted). The NLL is the prior's either way",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--data-dir", help="folder holding the dataset files")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.evaluation.evaluator import EvaluationOptions, evaluate_run
    from vaegan.runs import check_device
    from vaegan.training.trainer import resolve_device

    check_device(args.device)
    from vaegan.cli import check_seed

    check_seed(args.seed)
    if args.out:  # before the minutes of evaluation
        from vaegan.cli.outputs import check_out_file

        check_out_file(args.out, suffixes=(".json",), own="evaluation.json", run=args.run)

    for name, least in (("k", 1), ("samples", 4), ("tstr_epochs", 1)):  # samples: 3 neighbours each in PR
        value = getattr(args, name)
        if value is not None and value < least:
            raise VaeganError(f"--{name.replace('_', '-')} {value}: must be at least {least}")
    if args.nll_images < 0:
        raise VaeganError(f"--nll-images {args.nll_images}: give a count, or 0 for the whole test set")
    options = EvaluationOptions(
        k=args.k,
        nll_images=args.nll_images or None,
        n_samples=args.samples,
        tstr_epochs=args.tstr_epochs,
        seed=args.seed,
        device=str(resolve_device(args.device)),
        progress=True,
        latent=args.latent,
    )
    result = evaluate_run(args.run, options=options, checkpoint=args.checkpoint, data_dir=args.data_dir)
    print(f"{result.model} on {result.dataset} ({args.run}):")  # first: minutes of work are never lost to a write
    print(result.summary())
    own = Path(args.run) / "evaluation.json"
    targets = [own] + ([Path(args.out)] if args.out and Path(args.out).resolve() != own.resolve() else [])
    written = []
    for path in targets:
        try:
            written.append(result.write(path))
        except OSError as error:
            if path != own or len(targets) == 1:
                raise VaeganError(
                    f"{path}: {error.strerror or error}; the figures are printed above; write them "
                    "elsewhere with --out FILE.json"
                ) from None
            print(f"vaegan evaluate: warning: {path} not written ({error.strerror or error})", file=sys.stderr)
    print("wrote " + ", ".join(str(path) for path in written))
    return 0
