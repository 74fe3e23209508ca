"""``vaegan encode RUN INPUTS... --out codes.npz``: your own images through a trained encoder.

INPUTS are PNG/JPEG/TIFF images, NIfTI volumes, or folders of them. Each is read,
brought to the run's image shape (2-D images resized; NIfTI volumes preprocessed as the
run's MRI data was, and for a 2-D model cut at their middle slice), and encoded. Inputs
that cannot be used are all named in one message and stop the command (exit status 2)
before anything is written; ``--skip-bad`` leaves them out and goes on. Images whose background is the
opposite of what the run's model draws (a black digit on white paper given to an MNIST run) are named in
one warning, which points to ``--invert``.
``vaegan reconstruct RUN INPUTS... --out recon.png`` reads its inputs the same way.

Only the parser lives here, so ``vaegan encode --help`` starts at once; the work is in
:mod:`vaegan.cli.inputs`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    encode = subparsers.add_parser("encode", help="encode your own images (PNG, JPEG, NIfTI) with a trained run")
    encode.add_argument("run", help="run folder, e.g. outputs/mnist_vae")
    add_input_arguments(encode)
    encode.add_argument("--out", required=True, help="codes.npz (arrays codes (N, latent_dim) and files (N,))")
    encode.add_argument("--checkpoint", choices=["best", "last"], default="best")
    encode.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    encode.add_argument(
        "--refine",
        type=int,
        default=0,
        metavar="STEPS",
        help="VAEs: refine each code from the encoder's guess to the MAP code by STEPS Adam steps (VAE.map_code)",
    )
    encode.set_defaults(func=run)


def add_input_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "inputs",
        nargs="+" if required else "*",
        type=Path,
        help="PNG/JPEG/TIFF images, NIfTI volumes (preprocessed as the run's; a 2-D model gets the middle slice "
        "along data.mri.slice_axis), or folders",
    )
    parser.add_argument("--invert", action="store_true", help="dark strokes on light paper: flip to light on dark")
    parser.add_argument("--labels", help="classes for conditional models: one for all inputs, or one per input")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave out inputs that cannot be used (named on stderr) and go on"
    )


def run(args: argparse.Namespace) -> int:
    from vaegan.cli.inputs import encode_inputs  # torch and the data stack: only when a command runs

    return encode_inputs(args)
