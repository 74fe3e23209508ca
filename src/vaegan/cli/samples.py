"""Writing samples and reconstructions for ``vaegan sample`` and ``vaegan reconstruct``."""

from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path

import numpy as np
import torch

from vaegan.cli import check_seed
from vaegan.cli.inputs import in_chunks, input_files, input_labels, open_encoder_run, read_inputs
from vaegan.cli.outputs import check_out_file
from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import write_npz_atomic
from vaegan.runs import load_run, parse_labels
from vaegan.visualization import save_grid
from vaegan.visualization.codes import decode, fit_code_density
from vaegan.visualization.grids import PAD_VALUE, layout_grid

logger = logging.getLogger(__name__)


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    if path.suffix.lower() not in allowed:
        raise VaeganError(f"--out {path}: unknown file type; use one of {', '.join(allowed)}")
    return path.suffix.lower()


def check_fits_in_memory(n: int, image_shape: tuple[int, ...]) -> None:
    """Refuse ``--n`` images whose float32 array alone would take over half this machine's memory: they are
    all held at once (to write one file), and would fail hours later, after every chunk was drawn."""
    size = n * math.prod(image_shape) * 4
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every system says
        return
    if size > memory // 2:
        raise VaeganError(
            f"--n {n}: {n} images of shape {tuple(image_shape)} take {size / 2**30:.1f} GiB, over half this "
            f"machine's {memory / 2**30:.0f} GiB; draw fewer per call (with other --seed values)"
        )


def run_sample(args: argparse.Namespace) -> int:
    out = check_out_file(args.out)
    is_nifti = out.name.lower().endswith((".nii", ".nii.gz"))
    suffix = ".nii.gz" if is_nifti else _suffix(out, (".png", ".npz", ".nii.gz"))
    sidecar = _check_sidecar(out) if is_nifti else None
    if args.n < 1:
        raise VaeganError(f"--n {args.n}: must be at least 1")
    check_seed(args.seed)
    run = load_run(args.run, checkpoint=args.checkpoint, device=args.device, data_dir=args.data_dir)
    model = run.model
    check_fits_in_memory(args.n, model.config.image_shape)
    labels, shown = None, ""
    if model.conditional:
        labels = _spread_labels(args, model.config.num_classes, run.class_names)
    elif args.labels:
        raise VaeganError(f"{args.run} holds an unconditional {model.name}; it takes no --labels")
    generator = torch.Generator().manual_seed(args.seed)
    if args.latent == "fitted":  # ex-post: a Gaussian fitted to the training codes (CodeDensity)
        if not model.has_encoder:
            raise VaeganError(f"{args.run} holds model {model.name}, which has no encoder: --latent fitted needs codes")
        density = fit_code_density(model, run.load_data().train)
        images = decode(model, density.sample(labels, args.n, generator=generator), labels)
    else:
        images = torch.cat(
            [
                model.sample(len(chunk), chunk if labels is not None else None, generator)
                for chunk in _chunks(args.n, labels)
            ]
        ).cpu()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".nii.gz":  # labels go to a JSON sidecar, as BIDS does
        from vaegan.data.mri import model_grid
        from vaegan.data.volumes import save_nifti, slice_positions

        data = run.config.data
        mri = data.mri
        axis = mri.slice_axis if data.dataset in ("mri", "phantoms") else "axial"  # 2-D: the slices' plane
        positions = slice_positions(mri.size, mri.slice_range, mri.slice_step)
        save_nifti(
            images,
            out,
            spacing=mri.spacing,
            labels=labels,
            class_names=run.class_names,
            slice_axis=axis,
            grid=model_grid(data),  # registered scans: MNI152 mm
            plane=int(positions[len(positions) // 2]),  # a 2-D sample: the middle of the slices trained on
        )
    elif suffix == ".png":
        if labels is None:
            save_grid(images, out, columns=math.ceil(math.sqrt(args.n)))
        else:
            grid, rows = _class_rows(images, labels)
            batch, columns = layout_grid(grid, image_dims=images.dim() - 1)  # a wide grid folds into blocks
            names = [run.class_names[c] if run.class_names else str(c) for c in rows]
            save_grid(batch, out, columns=columns, row_labels=names * (len(batch) // columns // len(rows)))
            shown = _rows_note(rows, run.class_names, columns < grid.shape[1], grid.numel() > images.numel())
    else:
        arrays = {"images": images.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels.numpy().astype(np.int64)
        write_npz_atomic(out, arrays)
    where = f" (labels in {sidecar})" if sidecar and sidecar.exists() else ""
    print(f"wrote {args.n} samples to {out}{where}{shown}")
    return 0


def _spread_labels(args: argparse.Namespace, num_classes: int, names: list[str] | None) -> torch.Tensor:
    """``--n`` labels spread over the classes ``--labels`` asks for (all by default) in blocks, each class's
    share within one: [0,0,...,1,1,...]. Fewer images than classes asked for is refused; fewer than all the
    classes, by default, draws some of them, and says which."""
    classes = parse_labels(args.labels or f"0-{num_classes - 1}", num_classes, names)
    if args.n < len(classes) and args.labels:
        raise VaeganError(
            f"--n {args.n}: fewer images than the {len(classes)} classes --labels {args.labels!r} asks for, so "
            f"some would get none; give --n {len(classes)} or more, or fewer --labels"
        )
    labels = torch.tensor(classes)[torch.arange(args.n) * len(classes) // args.n]
    if args.n < len(classes):  # all the classes, by default
        drawn = set(labels.tolist())
        name = lambda c: names[c] if names else str(c)  # noqa: E731
        logger.warning(
            "--n %d is fewer than the run's %d classes: drawing %s, none of %s; give --n %d or more for every "
            "class, or --labels to choose them",
            args.n, len(classes), ", ".join(name(c) for c in classes if c in drawn),
            ", ".join(name(c) for c in classes if c not in drawn), len(classes),
        )  # fmt: skip
    return labels


def _class_rows(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Samples drawn in class blocks as a grid (K, W, C, *S) with one class to a row, and the rows' classes.

    A near-square grid wraps the blocks across rows (20 over 10 classes, 5 wide), leaving the reader to count
    cells; here each row is one class, however many each drew, and a row shorter than the longest ends in the
    separators' grey.
    """
    rows, counts = labels.unique_consecutive(return_counts=True)  # the blocks, in order
    width = int(counts.max())
    blocks = images.split(counts.tolist())
    filler = lambda k: images.new_full((k, *images.shape[1:]), PAD_VALUE)  # noqa: E731
    grid = torch.stack([torch.cat([block, filler(width - len(block))]) for block in blocks])
    return grid, rows.tolist()


def _rows_note(rows: list[int], names: list[str] | None, folded: bool, padded: bool) -> str:
    """What the printed line says of a class grid's rows: which class each is."""
    named = [names[c] if names else str(c) for c in rows]
    if len(rows) == 1:
        return f", all of class {named[0]}"
    note = f", one row per class, top to bottom: {', '.join(named)}"
    note += f"; each row goes on in the next block of {len(rows)} rows below" if folded else ""
    return note + (" (short rows end in grey)" if padded else "")


def _check_sidecar(out: Path) -> Path:
    """The JSON sidecar a NIfTI ``out`` brings, refused like ``--out`` itself and where it would replace a
    JSON file vaegan did not write (a user's own ``study.json`` beside ``--out study.nii.gz``)."""
    from vaegan.data.volumes import is_own_sidecar, sidecar_path

    sidecar = sidecar_path(out)
    try:
        check_out_file(sidecar)
    except VaeganError as error:
        raise VaeganError(f"--out {out}: its label sidecar {sidecar.name} would be written too; {error}") from None
    if not is_own_sidecar(sidecar):
        raise VaeganError(
            f"--out {out}: its label sidecar {sidecar} exists and is not one vaegan wrote; choose another name"
        )
    return sidecar


def _chunks(n: int, labels: torch.Tensor | None, size: int = 1000):
    for start in range(0, n, size):
        yield labels[start : start + size] if labels is not None else torch.empty(min(size, n - start))


def tile_order(files: list[Path], columns: int, shown: int = 8) -> str:
    """The files in the order of a reconstruction grid's tiles (:func:`layout_grid`), the first ``shown`` of them."""
    names = ", ".join(f.name for f in files[:shown]) + (f", ... ({len(files)} files)" if len(files) > shown else "")
    return f"tiles, row by row, {columns} inputs a row, each above its reconstruction: {names}"


def run_reconstruct(args: argparse.Namespace) -> int:
    out = check_out_file(args.out, inputs=input_files(args.inputs) if args.inputs else ())
    suffix = _suffix(out, (".png", ".npz"))
    if args.n < 1:
        raise VaeganError(f"--n {args.n}: must be at least 1")
    run = open_encoder_run(args)
    if args.inputs:
        # the labels checked before every file is read (and, for NIfTI, preprocessed)
        labels = input_labels(run.model, args.labels, len(input_files(args.inputs)), args.run, run.class_names)
        x, files, kept = read_inputs(args.inputs, run, invert=args.invert, skip_bad=args.skip_bad)
        labels = labels[kept] if labels is not None else None
        what = "images"
    else:
        if args.labels:
            raise VaeganError("--labels go with input images; without inputs the test images keep their own labels")
        test = run.load_data().test
        x, labels, files = test.images[: args.n], test.labels[: args.n], []
        labels = labels if run.model.conditional else None
        what = "test images"
    recons = in_chunks(run.model.reconstruct, x, labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    order = ""
    if suffix == ".npz":
        arrays = {"inputs": x.numpy(), "recons": recons.numpy(), "files": np.array([str(f) for f in files])}
        write_npz_atomic(out, arrays)
    else:
        batch, columns = layout_grid(torch.stack([x.cpu(), recons]), image_dims=x.dim() - 1)
        save_grid(batch, out, columns)
        if len(files) > 1:  # the grid names no tile: which file each is (an .npz --out holds their names)
            order = "\n" + tile_order(files, columns)
    print(f"wrote {len(x)} {what} and their reconstructions to {out}{order}")
    return 0
