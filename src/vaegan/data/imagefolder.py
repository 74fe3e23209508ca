"""2-D images in one subfolder per class (the common "image folder" layout): PNG, JPEG or TIFF.

::

    DIR/CN/sub-01_slice-40.png      class names = the subfolder names, sorted; for diagnoses
    DIR/AD/sub-07_slice-40.png      (``dataset: mri``) mapped through data.mri.label_map and
                                    numbered in data.mri.classes order
                                    (or DIR/train/<class>/... and DIR/test/<class>/...)

Images are read with Pillow, scaled to [0, 1] by their type's range (8- or
16-bit) or min-max for float TIFFs, made grayscale (or RGB when any image is in
colour; an RGB image whose channels agree is grey), resized so the longest side is ``data.mri.size`` and padded square.
An image's group (its subject) is the ``sub-XXX`` part of its path, else the
folder it lies in below its class folder (``DIR/CN/subject7/slice-40.png``),
else its file name (with a warning), so slices exported from one subject stay
in one split. Unreadable or truncated images,
decompression bombs (over Pillow's ``MAX_IMAGE_PIXELS``) and files that are not
images are named and skipped (or fatal with ``data.mri.strict``); hidden files
are ignored.

Example:
    >>> train, test = load_image_folder(Path("slices"), mri=MRIConfig(size=64))  # doctest: +SKIP
    >>> train.image_shape, train.class_names  # doctest: +SKIP
    ((1, 64, 64), ['AD', 'CN'])
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vaegan.data.bad_inputs import BadFile, BadInputs, first_line, reason_of
from vaegan.data.config import MRIConfig
from vaegan.data.datasets import ImageDataset, split_subjects
from vaegan.data.mri_sources import IMAGE_SUFFIXES, SUBJECT_PART, map_label, subject_of
from vaegan.foundation.errors import DataError

logger = logging.getLogger(__name__)

GRAY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F")


def read_image(path: Path) -> np.ndarray:
    """(H, W, C) float32 in [0, 1], C = 1 or 3.

    Raises:
        BadFile: unreadable, truncated, a decompression bomb, or not a 2-D image.
    """
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are refused here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # the decoders of the suffixes read (IMAGE_SUFFIXES): a WebP or other format named .png stays unread
            with Image.open(path, formats=("PNG", "JPEG", "TIFF")) as stored:
                stored.load()
                pages = getattr(stored, "n_frames", 1)
                if pages > 1:
                    raise BadFile(f"holds {pages} pages or frames (a TIFF stack, an animation); save each on its own")
                img = ImageOps.exif_transpose(stored)  # upright, as a viewer shows a phone's photo
                if img.mode in GRAY_MODES and "transparency" not in img.info:
                    array = np.asarray(img)
                else:  # palette, alpha, colour and keyed grey modes; transparency shows a viewer's white
                    grey = img.mode in ("LA", "La", *GRAY_MODES)
                    array = np.asarray(_on_white(img).convert("L" if grey else "RGB"))
    except BadFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadFile(
            f"is a decompression bomb or a huge image ({first_line(error)}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS if it is genuine"
        ) from None
    except Exception as error:  # Pillow raises many types for foreign, truncated or damaged files
        raise BadFile(f"cannot be read as an image ({type(error).__name__}: {first_line(error)})") from None
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim == 3 and array.shape[2] == 3 and _is_grey(array):  # a grey slice exported as RGB
        array = array.mean(axis=2, keepdims=True).round().astype(array.dtype)
    if array.ndim != 3 or min(array.shape[:2]) < 2:
        raise BadFile(f"is not a 2-D image (array shape {array.shape})")
    if array.max() == array.min():
        raise BadFile(f"is blank (every pixel is {array.flat[0]})")
    if array.dtype == bool:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):  # by the depth it was stored at, not by its brightest pixel
        top = 255.0 if array.dtype == np.uint8 else 65535.0
        if array.max() > top or array.min() < 0:
            raise BadFile(f"has pixel values {array.min()}..{array.max()}, outside 0..{top:g} for its depth")
        return array.astype(np.float32) / top
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise BadFile("contains NaN or infinite pixels")
    low, high = float(array.min()), float(array.max())
    return (array - low) / max(high - low, 1e-6)


def _is_grey(rgb: np.ndarray) -> bool:
    """Whether an 8-bit RGB array is grey: its channels differ by at most 2 levels (JPEG's colour rounding)."""
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2).astype(np.int16)
    return int(spread.max()) <= 2


def _on_white(img):
    """An image with transparency composited onto white (as a viewer shows it); others unchanged."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return img


def fit_square(image: np.ndarray, size: int, channels: int) -> Tensor:
    """(C, size, size): longest side resized to ``size`` (MONAI, anti-aliased), then padded square."""
    from monai.transforms import Resize, ResizeWithPadOrCrop

    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))  # (C, H, W)
    if x.shape[0] != channels:
        x = x.expand(channels, -1, -1) if x.shape[0] == 1 else x.mean(0, keepdim=True)
    x = Resize(size, size_mode="longest", mode="bilinear", anti_aliasing=True)(x)
    return torch.as_tensor(ResizeWithPadOrCrop((size, size))(x)).float().clamp(0.0, 1.0)


def _class_folders(root: Path, bad: BadInputs) -> list[Path]:
    """The class folders of ``root``; an image lying beside them (in no class) goes to ``bad``."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    for path in sorted(p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        bad.add(path, "lies outside the class folders, so it has no class; move it into DIR/<class>/")
    folders = sorted(p for p in entries if p.is_dir())
    if not folders:
        raise DataError(f"{root}: no class subfolders; put each class's images in DIR/<class name>/")
    return folders


def read_image_folder(
    root: Path,
    options: MRIConfig,
    bad: BadInputs,
    classes: list[str] | None = None,
    *,
    diagnoses: bool = False,
    channels: int | None = None,
) -> ImageDataset:
    """Every image under ``root/<class>/`` as one dataset (classes from the folder names unless given).

    ``diagnoses``: the folders are diagnoses (the ``mri`` dataset): each is mapped through
    ``options.label_map`` (any case) to one of ``options.classes``, which number the classes in
    their order, as for BIDS and CSV data; a folder of another diagnosis is named and skipped.
    ``channels``: 1 or 3 for every image; None: 3 where any image is in colour, else 1.
    """
    folders = _class_folders(root, bad)
    if diagnoses:
        names = list(options.classes)
        label_of = lambda name: map_label(name, options)  # noqa: E731
    else:
        names = classes or [f.name for f in folders]
        label_of = lambda name: (  # noqa: E731
            names.index(name) if name in names else f"class {name!r} is not among the training classes {names}"
        )
    arrays, labels, files = _read_all(folders, label_of, bad)
    if not arrays:
        raise DataError(f"{root}: no readable PNG/JPEG/TIFF image in its class folders")
    images, kept = _fit_all(arrays, files, options.size, bad, channels)
    if not kept:
        raise DataError(f"{root}: no image in its class folders could be resized to {options.size} x {options.size}")
    labels, files = [labels[i] for i in kept], [files[i] for i in kept]
    _check_classes(root, folders, names, labels, label_of, named=diagnoses or classes is None, diagnoses=diagnoses)
    subjects, alone = [], 0
    for path in files:
        subject, own = _group_of(path, root)
        subjects.append(subject)
        alone += own
    if alone:
        logger.warning(
            "%s: %d files lie in their class folders with no sub-XX in their names and no subject folder: each "
            "counts as its own subject, so one person's slices may land in both training and test; put each "
            "subject's images in a subject folder (DIR/<class>/<subject>/...) or name them sub-XX_...",
            root,
            alone,
        )
    group_names = sorted(set(subjects))
    index = {s: i for i, s in enumerate(group_names)}
    groups = torch.tensor([index[s] for s in subjects], dtype=torch.long)
    return ImageDataset(images, torch.tensor(labels), names, "image-folder", groups, group_names)


def _check_classes(
    root: Path,
    folders: list[Path],
    names: list[str],
    labels: list[int],
    label_of: Callable[[str], int | str],
    *,
    named: bool,
    diagnoses: bool,
) -> None:
    """Refuse a class left with no image: a diagnosis folder left out for its name while a class is empty
    (a CN vs AD model trained on CN alone), or a class folder (``named``: the classes are the folders)
    that holds no usable image, e.g. ``__MACOSX/``, which would be a class nothing trains."""
    present = set(labels)
    missing = [name for i, name in enumerate(names) if i not in present]
    if not missing:
        return
    if diagnoses:
        left_out = [f"{f.name}/" for f in folders if isinstance(label_of(f.name), str)]
        if left_out:
            raise DataError(
                f"{root}: no image of class {', '.join(missing)}, and {', '.join(left_out)} left out for its "
                "diagnosis; map the diagnoses in data.mri.label_map, or list only the classes the data holds "
                "in data.mri.classes"
            )
        logger.warning("%s: no image of class %s; check data.mri.label_map and classes", root, ", ".join(missing))
    elif named:
        raise DataError(
            f"{root}: {', '.join(f'{name}/' for name in missing)} holds no image (hidden files aside), yet every "
            "subfolder is a class; remove it or put its class's images in it"
        )


def _group_of(path: Path, root: Path) -> tuple[str, bool]:
    """(subject, whether it is the file alone): the ``sub-XX`` part of the path, else
    ``<class>/<subject folder>``, else ``<class>/<file name>``."""
    named = subject_of(path, root)
    if SUBJECT_PART.match(named):
        return named, False
    class_folder, *inner = path.relative_to(root).parts
    if len(inner) > 1:
        return f"{class_folder}/{inner[0]}", False
    return f"{class_folder}/{named}", True


def _read_all(
    folders: list[Path], label_of: Callable[[str], int | str], bad: BadInputs
) -> tuple[list[np.ndarray], list[int], list[Path]]:
    """(arrays, labels, files) of the readable images; every other file (hidden ones aside) goes to ``bad``.

    ``label_of``: a class folder's name -> its class index, or the reason it has none."""
    arrays, labels, files = [], [], []
    for folder in folders:
        label = label_of(folder.name)
        if isinstance(label, str):
            bad.add(folder, label)
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue  # hidden files (.DS_Store) and folders are not data
            try:
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    raise BadFile(f"is not an image (suffix {path.suffix!r}; expected PNG, JPEG or TIFF); move it out")
                arrays.append(read_image(path))
            except BadFile as error:
                bad.add(path, str(error))
                continue
            labels.append(label)
            files.append(path)
    return arrays, labels, files


def _fit_all(
    arrays: list[np.ndarray], files: list[Path], size: int, bad: BadInputs, channels: int | None = None
) -> tuple[Tensor, list[int]]:
    """(N, C, size, size) of the arrays that could be fitted, and their indices; the others go to ``bad``.
    ``channels``: None for 3 where any array is in colour, else 1."""
    channels = channels or (3 if any(a.shape[2] == 3 for a in arrays) else 1)
    fitted, kept = [], []
    for i, (array, path) in enumerate(zip(arrays, files)):
        try:
            fitted.append(fit_square(array, size, channels))
            kept.append(i)
        except Exception as error:  # e.g. a 2 x 5000 sliver: one odd image must not cost the others
            bad.add(path, reason_of(error, f"failed in resizing to {size} x {size}"))
    return (torch.stack(fitted) if fitted else torch.zeros(0, channels, size, size)), kept


SPLIT_FOLDERS = ("train", "test", "val", "valid", "validation")  # compared without case


def _warn_shared_subjects(train: ImageDataset, test: ImageDataset, folder: Path) -> None:
    """Warn where the given train/ and test/ share a subject (its ``sub-XX``, or its subject folder)."""
    shared = sorted(set(train.group_names) & set(test.group_names))
    if shared:
        logger.warning(
            "%s: %d subjects have images in both train/ and test/ (%s%s): the test figures then score images "
            "of people the model was trained on; move each subject's images to one side",
            folder,
            len(shared),
            ", ".join(shared[:5]),
            " ..." if len(shared) > 5 else "",
        )


def load_image_folder(
    folder: Path, *, mri: MRIConfig = MRIConfig(), diagnoses: bool = False
) -> tuple[ImageDataset, ImageDataset]:
    """(train_full, test): from ``train/`` and ``test/`` if present, else split by group (``test_size``).

    ``diagnoses``: the class folders are diagnoses, numbered as ``mri.classes`` (see :func:`read_image_folder`).
    """

    bad = BadInputs(strict=mri.strict)
    splits = {p.name.lower(): p for p in folder.iterdir() if p.is_dir() and p.name.lower() in SPLIT_FOLDERS}
    if "train" in splits and "test" in splits:
        others = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        others = [name for name in others if name not in (splits["train"].name, splits["test"].name)]
        if others:  # a val/ (validation comes from train/, data.val_size), a class folder left over
            raise DataError(
                f"{folder}: holds {', '.join(f'{name}/' for name in others)} beside train/ and test/, which "
                "would not be read; move its images into train/ (validation subjects are taken from it, "
                "data.val_size) or out of this folder"
            )
        train = read_image_folder(splits["train"], mri, bad, diagnoses=diagnoses)
        test = read_image_folder(splits["test"], mri, bad, classes=train.class_names, diagnoses=diagnoses)
        if train.image_shape[0] != test.image_shape[0]:  # RGB where any image of either split is in colour
            train, test = (replace(d, images=d.images.expand(-1, 3, -1, -1).contiguous()) for d in (train, test))
        _warn_shared_subjects(train, test, folder)
    elif splits:  # else `train` would be a class, holding every diagnosis
        names = ", ".join(f"{p.name}/" for p in sorted(splits.values()))
        raise DataError(
            f"{folder}: holds {names} but not both train/ and test/; give DIR/train/<class>/ with "
            "DIR/test/<class>/, or class folders alone (DIR/<class>/, split by subject with data.mri.test_size)"
        )
    else:
        full = read_image_folder(folder, mri, bad, diagnoses=diagnoses)
        subjects = [full.group_names[g] for g in full.groups.tolist()]
        is_test = split_subjects(subjects, full.labels, mri.test_size)
        train, test = full.subset(~is_test), full.subset(is_test)
    bad.report(len(train) + len(test), folder)
    if len(test) == 0:
        raise DataError(f"{folder}: too few images or subjects to hold out a test set")
    return train, test
