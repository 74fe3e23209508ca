"""Reading your own images for ``vaegan encode`` and ``vaegan reconstruct``, and encoding them.

See :mod:`vaegan.cli.encode` for what is accepted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vaegan.data.bad_inputs import BadFile, reason_of
from vaegan.data.config import MRIConfig
from vaegan.data.imagefolder import fit_square, read_image
from vaegan.data.mri_sources import IMAGE_SUFFIXES, NIFTI_SUFFIXES
from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import write_npz_atomic
from vaegan.models import GenerativeModel
from vaegan.models.vae import check_refine, map_codes
from vaegan.runs import Run, load_run, parse_labels

SUFFIXES = (*IMAGE_SUFFIXES, *NIFTI_SUFFIXES)


def input_files(inputs: list[Path]) -> list[Path]:
    """The files named, and the image files inside the folders named (sorted); errors name the path."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(SUFFIXES)
            )  # hidden files (a Mac's ._a.png) are skipped, as training skips them
            if not found:
                raise VaeganError(f"{path}: the folder holds no images ({', '.join(SUFFIXES)})")
            files.extend(found)
        elif not path.is_file():
            raise VaeganError(f"{path}: no such file or folder")
        elif not path.name.lower().endswith(SUFFIXES):
            raise VaeganError(f"{path}: unsupported file type; use {', '.join(SUFFIXES)}")
        else:
            files.append(path)
    return files


def _resize(x: Tensor, spatial: tuple[int, ...]) -> Tensor:
    """(C, *S) -> (C, *spatial), anti-aliased where it shrinks."""
    if tuple(x.shape[1:]) == spatial:
        return x
    mode = "bilinear" if len(spatial) == 2 else "trilinear"
    antialias = len(spatial) == 2
    return F.interpolate(x[None], size=spatial, mode=mode, antialias=antialias, align_corners=False)[0]


def _channels(x: Tensor, channels: int) -> Tensor:
    if x.shape[0] == channels:
        return x
    return x.expand(channels, *x.shape[1:]) if x.shape[0] == 1 else x.mean(0, keepdim=True)


def read_input(path: Path, image_shape: tuple[int, ...], mri: MRIConfig, *, invert: bool = False) -> Tensor:
    """One file as the model's input (C, *S) in [0, 1]; BadFile says why it cannot be.

    ``invert``: light on dark from dark on light (a photographed page), before any padding, which stays dark.
    """
    return _read(path, image_shape, mri, invert=invert)[0]


def _read(path: Path, image_shape: tuple[int, ...], mri: MRIConfig, *, invert: bool) -> tuple[Tensor, float | None]:
    """:func:`read_input`, and a 2-D image's background (:func:`paper`, before any padding); None for NIfTI."""
    channels, *spatial = image_shape
    if path.name.lower().endswith(NIFTI_SUFFIXES):
        from vaegan.data.mri_sources import raw_scan
        from vaegan.data.mri_transforms import preprocess, read_volume  # MONAI: only for NIfTI
        from vaegan.data.volumes import to_slices

        mri = raw_scan(path, mri)  # registration and N4 "auto" settled as training settled them for its folder
        data, affine = read_volume(path)
        volume, _ = preprocess(data, affine, mri, source=path)  # (1, D, H, W), as the run's MRI data was prepared
        if len(spatial) == 2:
            slices, _ = to_slices(volume[None], mri.slice_axis, (0.5, 0.5))  # the middle slice: (1, 1, H, W)
            volume = slices[0]
        volume = 1.0 - volume if invert else volume
        return _channels(_resize(volume, tuple(spatial)), channels).clamp(0.0, 1.0), None
    if len(spatial) != 2:
        raise BadFile(f"is a 2-D image, but this run's model takes 3-D volumes of shape {tuple(image_shape)}")
    image = 1.0 - read_image(path) if invert else read_image(path)
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))  # (C, H, W)
    background = paper(x)  # before fit_square's dark padding would be taken for the page's own edge
    if spatial[0] == spatial[1] and image.shape[0] != image.shape[1]:  # as an image folder's run was prepared
        return fit_square(image, spatial[0], channels), background  # the longest side to size, padded: not stretched
    return _channels(_resize(x, tuple(spatial)), channels).clamp(0.0, 1.0), background


def paper(images: Tensor) -> float:
    """The background of 2-D images (..., C, H, W): the median of their edge pixels, channels averaged.

    The edge's median, not the whole image's mean: a thick stroke or a large blob pulls the mean of a
    light-on-dark digit towards one half, but the edge of a drawn or photographed digit is the paper
    (or the scanner's glass), and the median ignores a stroke or a shadow that reaches it.
    """
    grey = images.float().mean(-3)  # (..., H, W)
    edge = torch.cat([grey[..., 0, :], grey[..., -1, :], grey[..., 1:-1, 0], grey[..., 1:-1, -1]], dim=-1)
    return edge.median().item()


def drawn_paper(model: GenerativeModel) -> float:
    """The background of what ``model`` draws from the centre of its codes (every class's, if conditional):
    the background of the images it learned, read from the model, as ``vaegan encode`` loads no data."""
    z = torch.zeros(1, model.config.latent_dim, device=next(model.parameters()).device)  # the run's device
    drawn = model.class_fakes(z).flatten(0, 1) if model.conditional else model.generate(z)  # (K, C, H, W)
    return paper(drawn.cpu())


def warn_of_paper(files: list[Path], backgrounds: list[float | None], run: Run, *, inverted: bool) -> None:
    """Warn once, on stderr, of the 2-D images whose background is the opposite of the run's (a black digit
    on white paper given to an MNIST run): its codes of them mean little, and ``--invert`` flips them.

    The model's background is read from what it draws (:func:`drawn_paper`) and each input's from its edge
    (:func:`paper`), not from a whole image's mean against one half. The two sides are not judged alike:
    the model must draw a plain background, nearer black than mid-grey (under a quarter of the range) or
    nearer white (over three quarters), since an untrained decoder draws grey (about one half), which
    decides nothing; an input's paper need only lie past one half, on the other side, since a photographed
    page under a lamp is grey (0.6 or so) and still light. NIfTI inputs (background None) are the
    scanner's and are not judged.
    """
    pictures = [(path, b) for path, b in zip(files, backgrounds, strict=True) if b is not None]
    if not pictures or run.model.config.image_shape[0] != 1:  # colour photographs' edges are no page
        return
    drawn = drawn_paper(run.model)
    if 0.25 <= drawn <= 0.75:  # no plain background learned (an untrained model draws grey): nothing to judge
        return
    odd = [path.name for path, b in pictures if (b > 0.5) != (drawn > 0.5)]
    if not odd:
        return
    light, dark = ("light", "dark") if drawn < 0.5 else ("dark", "light")
    names = ", ".join(odd[:3]) + (", ..." if len(odd) > 3 else "")
    if inverted:
        fix = f"--invert made them so: leave it out if they were {light} on {dark} as given"
    elif len(odd) < len(files):
        fix = "--invert flips them (it flips every input: give these on their own)"
    else:
        fix = "--invert flips them"
    look = "looks" if len(odd) == 1 else "look"
    print(
        f"warning: {len(odd)} of {len(files)} inputs {look} {dark} on {light} ({names}), where {run.path} learned "
        f"{light} on {dark}, so their codes and reconstructions mean little; {fix}",
        file=sys.stderr,
    )


def read_inputs(
    inputs: list[Path], run: Run, *, invert: bool = False, skip_bad: bool = False
) -> tuple[Tensor, list[Path], list[int]]:
    """Every input file as one batch (N, C, *S) shaped for the run's model, the files, and their places.

    Every file is tried, and all that cannot be used are named at once (a folder of scans is not read
    again for each bad one). ``skip_bad``: they are left out with a warning; the places say which of
    :func:`input_files` were kept, so per-input labels can follow their files. Images whose background is
    the opposite of the run's are named in one warning (:func:`warn_of_paper`).
    """
    files = input_files(inputs)
    shape = tuple(run.model.config.image_shape)
    images, backgrounds, kept, bad = [], [], [], []
    for place, path in enumerate(files):
        try:
            image, background = _read(path, shape, run.config.data.mri, invert=invert)
        except Exception as error:  # a BadFile, or one that MONAI wrapped on the way: one line naming the file
            bad.append(f"{path}: {reason_of(error, 'could not be read')}")
            continue
        images.append(image)
        backgrounds.append(background)
        kept.append(place)
    if bad and not skip_bad:
        if len(bad) == 1:
            raise VaeganError(bad[0] + (" (--skip-bad uses the other inputs)" if len(files) > 1 else ""))
        raise VaeganError(
            f"{len(bad)} of {len(files)} inputs cannot be used (--skip-bad uses the others):\n" + "\n".join(bad)
        )
    if not images:
        raise VaeganError("no input could be used:\n" + "\n".join(bad))
    for line in bad:
        print(f"skipped {line}", file=sys.stderr)
    if bad:
        print(f"skipped {len(bad)} of {len(files)} inputs", file=sys.stderr)
    used = [files[place] for place in kept]
    warn_of_paper(used, backgrounds, run, inverted=invert)
    return torch.stack(images), used, kept


def input_labels(
    model: GenerativeModel, spec: str | None, n: int, run: str, names: list[str] | None = None
) -> Tensor | None:
    """Labels for a conditional model's inputs: one class for all, or one per input (numbers or ``names``)."""
    if not model.conditional:
        if spec:
            raise VaeganError(f"{run} holds an unconditional {model.name}; it takes no --labels")
        return None
    if not spec:
        raise VaeganError(f"{run} holds a conditional {model.name}: give --labels (one class, or one per input)")
    labels = parse_labels(spec, model.config.num_classes, names)
    if len(labels) not in (1, n):
        raise VaeganError(f"--labels {spec!r}: {len(labels)} labels for {n} inputs; give one, or one per input")
    return torch.tensor(labels * (n if len(labels) == 1 else 1))


def open_encoder_run(args: argparse.Namespace) -> Run:
    data_dir = getattr(args, "data_dir", None)  # reconstruct reads the run's test images; encode only files
    run = load_run(args.run, checkpoint=args.checkpoint, device=args.device, data_dir=data_dir)
    if not run.model.has_encoder:
        raise VaeganError(f"{args.run} holds model {run.model.name}, which has no encoder")
    return run


CHUNK_IMAGES = 256  # images a time through the model (volumes: a 16th of it), as training takes batches


def in_chunks(call, x: Tensor, labels: Tensor | None) -> Tensor:
    """``call(x, labels)`` (e.g. ``model.encode``) a chunk of images at a time, concatenated on the CPU."""
    size = CHUNK_IMAGES if x.dim() <= 4 else max(1, CHUNK_IMAGES // 16)
    parts = [call(x[i : i + size], None if labels is None else labels[i : i + size]) for i in range(0, len(x), size)]
    return torch.cat([part.cpu() for part in parts])


def encode_inputs(args: argparse.Namespace) -> int:
    from vaegan.cli.outputs import check_out_file

    out = check_out_file(args.out, inputs=input_files(args.inputs))
    if out.suffix.lower() != ".npz":
        raise VaeganError(f"--out {out}: codes are written as .npz")
    run = open_encoder_run(args)
    every = input_files(args.inputs)
    # labels and --refine checked before every file is read (and, for NIfTI, preprocessed)
    labels = input_labels(run.model, args.labels, len(every), args.run, run.class_names)
    refine = getattr(args, "refine", 0)
    check_refine(run.model, refine)
    x, files, kept = read_inputs(args.inputs, run, invert=args.invert, skip_bad=args.skip_bad)
    labels = labels[kept] if labels is not None else None  # per-input labels follow their files
    codes = map_codes(run.model, x, labels, steps=refine) if refine else in_chunks(run.model.encode, x, labels)
    arrays = {"codes": codes.numpy().astype(np.float32), "files": np.array([str(f) for f in files])}
    used = set(files)
    arrays["skipped"] = np.array([str(f) for f in every if f not in used], dtype=str)
    if labels is not None:
        arrays["labels"] = labels.numpy().astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_npz_atomic(out, arrays)
    print(f"wrote the codes of {len(files)} images ({codes.shape[1]} numbers each) to {out}")
    return 0
