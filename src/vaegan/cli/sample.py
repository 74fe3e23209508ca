"""``vaegan sample RUN --out grid.png|samples.npz|samples.nii.gz`` and ``vaegan reconstruct RUN [INPUTS...]``."""

from __future__ import annotations

import argparse

from vaegan.cli.encode import add_input_arguments


def add_parser(subparsers) -> None:
    sample = subparsers.add_parser("sample", help="draw new images from a trained run")
    sample.add_argument("run", help="run folder, e.g. outputs/mnist_vae")
    sample.add_argument("--n", type=int, default=64, help="how many images")
    sample.add_argument(
        "--out", required=True, help="grid.png, samples.npz (arrays images, labels) or samples.nii.gz (X, Y, Z, N)"
    )
    sample.add_argument("--labels", help="classes for conditional models, e.g. 0-9 or 1,3,5 (N spread over them)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--latent",
        choices=["prior", "fitted"],
        default="prior",
        help="codes from the prior N(0, I), or from a Gaussian fitted to the training images' codes (models "
        "with an encoder; for one whose prior draws look wrong while its reconstructions look right)",
    )
    _add_common(sample)
    sample.set_defaults(func=lambda args: _run("run_sample", args))

    recon = subparsers.add_parser("reconstruct", help="test images (or your own) above their reconstructions")
    recon.add_argument("run", help="run folder")
    add_input_arguments(recon, required=False)  # none given: the run's test images
    recon.add_argument("--out", required=True, help="recon.png, or recon.npz (arrays inputs, recons, files)")
    recon.add_argument("--n", type=int, default=32, help="how many test images, when no INPUTS are given")
    _add_common(recon)
    recon.set_defaults(func=lambda args: _run("run_reconstruct", args))


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--data-dir", help="where the run's dataset is, if not where its config says")


def _run(name: str, args: argparse.Namespace) -> int:
    from vaegan.cli import samples  # torch and the data stack: only when a command runs

    return getattr(samples, name)(args)
