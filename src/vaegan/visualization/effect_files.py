"""A conditional run's disease maps as files a neuroimaging viewer opens: NIfTI volumes, figures, a summary.

:func:`save_effect_maps` writes, into one folder,

- ``group_effect.nii.gz``: the model's group map, intensity *loss* (decode as control minus decode as
  disease, averaged over the control subjects; positive where the model says the disease removes
  tissue), and ``group_difference.nii.gz``, the model-free mean control minus mean disease image of the
  same subjects; ``mean_control.nii.gz`` to lay them over; ``true_atrophy.nii.gz`` on phantoms;
- ``<scan>_loss.nii.gz`` for each disease scan: its residual counterfactual ("this subject without
  the disease") minus the scan, and ``<scan>_as_<control>.nii.gz``, the counterfactual image itself
  (``<scan>``: :func:`scan_names`);
- ``group_effect.png`` and ``individual.png`` (:mod:`vaegan.visualization.brain`);
- ``effects.json``: what was computed from what, and on phantoms every r.

Registered scans are written on the MNI152 grid they were registered to (their ``grid``), so the files
overlay the template in FSLeyes or nilearn; 2-D models' maps are the slab of the slices they see.
Every file is written through a temporary one renamed over it: an interrupted run leaves each file
whole, old or new. The maps an earlier call listed in ``effects.json`` (or a killed one in
``.effects-pending.json``) and this one did not write (another split, other classes) are deleted after
the new ``effects.json``; nothing else in the folder is.

Example:
    >>> files = save_effect_maps(summary, maps, mri, Path("outputs/ad_cvae_3d/effects"))  # doctest: +SKIP
    >>> files["group_effect"]  # doctest: +SKIP
    PosixPath('outputs/ad_cvae_3d/effects/group_effect.nii.gz')
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor

from vaegan.foundation.errors import VaeganError
from vaegan.foundation.files import write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    from vaegan.data.config import MRIConfig
    from vaegan.visualization.disease_maps import EffectSummary
    from vaegan.visualization.subject_maps import IndividualMaps


PENDING = ".effects-pending.json"  # what a call is writing, until it has written effects.json
FIGURES = ("group_effect.png", "individual.png")


def scan_names(paths: list[str], subjects: list[str]) -> list[str]:
    """A distinct, plain file-name stem per scan, from its own path and subject (not its place in a list).

    ``sub-01_ses-02_T1w.nii.gz`` -> ``sub-01_ses-02``; a file name without its subject gets it in front
    (``p01/T1.nii.gz`` -> ``p01_T1``); scans that would still share a name get the folders where their
    paths differ (``p01/ses-01/T1.nii.gz`` -> ``p01_ses-01_T1``), and a number only where that is not
    enough. Names are compared without case (as some disks do); a path separator, a control character
    or a leading ``.`` or ``-`` in a subject id becomes ``_``. Pass every scan of a cohort, so that a
    scan is named alike whichever of them a call maps.
    """
    parts = []  # (subject, the rest of the file name)
    for path, subject in zip(paths, subjects):
        stem = re.sub(r"(_T1w)?\.nii(\.gz)?$", "", Path(path).name, flags=re.IGNORECASE)
        subject, stem = plain_name(subject), plain_name(stem)
        own = stem == subject or stem.startswith(f"{subject}_")  # BIDS: the file name starts with its subject
        parts.append((subject, stem[len(subject) + 1 :] if own else stem))
    names = ["_".join(p for p in part if p) for part in parts]
    for name in {n.casefold() for n in names}:
        same = [i for i, n in enumerate(names) if n.casefold() == name]
        if len(same) > 1:  # the folders where their paths part, between subject and file name
            folders = [Path(paths[i]).parent.parts for i in same]
            common = len(os.path.commonprefix(folders))
            for i, where in zip(same, folders):
                extra = [plain_name(f) for f in where[common:] if f != subjects[i]]
                names[i] = "_".join(p for p in (parts[i][0], *extra, parts[i][1]) if p)
    taken, out = {n.casefold() for n in names}, []
    repeated = {n for n in taken if sum(m.casefold() == n for m in names) > 1}
    for name in names:  # the same path twice, or folders that still collide: numbered, never onto a name in use
        if name.casefold() in repeated:
            number = 1
            while f"{name}-{number}".casefold() in taken:
                number += 1
            name = f"{name}-{number}"
            taken.add(name.casefold())
        out.append(name)
    return out


def plain_name(text: str) -> str:
    """``text`` as one file name: separators and control characters as ``_``, no leading ``.`` or ``-``."""
    return re.sub(r"[/\\\x00-\x1f\x7f]", "_", text).lstrip(".-") or "scan"


def save_effect_maps(
    summary: EffectSummary,
    maps: IndividualMaps,
    options: MRIConfig,
    out: Path,
    *,
    scans: list[str],
    paths: list[str] | None = None,
    class_names: tuple[str, str] = ("CN", "AD"),
    about: dict | None = None,
    title: str = "",
    subjects: int = 3,
    cut: list[float] | None = None,
) -> dict[str, Path]:
    """Write the group and individual maps into ``out`` (see the module); returns every file by name.

    Args:
        summary: :func:`~vaegan.visualization.disease_maps.summarize_effects` of the subjects.
        maps: :func:`~vaegan.visualization.subject_maps.individual_maps` of the same subjects.
        options: the run's ``data.mri`` (how the maps' images sit in the volume).
        out: the folder.
        scans: the file-name stem of each disease scan of ``maps``, in its order (:func:`scan_names`);
            ``paths``: their files, recorded in ``effects.json``.
        class_names: the (control, disease) names, for file names and the summary.
        about: what to record in ``effects.json`` beside the figures (run, checkpoint, split, samples).
        title: the figures' title, which should say whose maps they are (vaegan effects: the run, the
            split, the scans and subjects of each class, the posterior draws); ``individual.png`` adds
            which of the disease scans it draws.
        subjects: disease subjects drawn in ``individual.png``.
        cut: (x, y, z) mm the 3-D figures are cut through (else where the true atrophy, or the map, is).
    """
    from vaegan.visualization.brain import map_to_nifti, plot_effect_maps, plot_individual_maps

    if len(scans) != len(maps.subjects):
        raise ValueError(f"{len(scans)} scan names for {len(maps.subjects)} disease scans")
    control = plain_name(class_names[0])
    files: dict[str, Path] = {}

    def nifti(name: str, image: Tensor, relative: str) -> None:
        path = out / relative
        data = map_to_nifti(image, options, summary.grid).to_bytes()
        write_bytes_atomic(path, gzip.compress(data, mtime=0))
        files[name] = path

    # what this call may write, and what earlier ones listed, is noted before any map is written: a call
    # killed half-way leaves its maps listed there, and the next call deletes those it does not write again
    pending = out / PENDING
    planned = [f"{scan}_{kind}.nii.gz" for scan in scans for kind in ("loss", f"as_{control}")]
    planned += [f"{name}.nii.gz" for name in ("group_effect", "group_difference", "mean_control", "true_atrophy")]
    planned += FIGURES
    earlier = listed_maps(out)
    ours = earlier | ({"effects.json"} if _listing(out / "effects.json") is not None else set())
    theirs = sorted(n for n in [*planned, "effects.json"] if (out / n).exists() and n not in ours)
    if theirs:  # files of the same names that no listing of vaegan's names: the user's, kept
        raise VaeganError(
            f"--out {out}: holds {', '.join(theirs[:5])}{' ...' if len(theirs) > 5 else ''}, which vaegan did "
            "not write (no effects.json of its own lists them) and these maps would replace; "
            "give another --out, or move those files"
        )
    listing = {"run": (about or {}).get("run"), "files": sorted(earlier | set(planned))}
    write_text_atomic(pending, json.dumps(listing) + "\n")
    nifti("group_effect", -summary.effect, "group_effect.nii.gz")
    nifti("group_difference", -summary.group_difference, "group_difference.nii.gz")
    nifti("mean_control", summary.anatomy, "mean_control.nii.gz")
    if summary.truth is not None:
        nifti("true_atrophy", summary.truth, "true_atrophy.nii.gz")
    for scan, loss, image in zip(scans, maps.loss, maps.images):
        nifti(f"{scan}_loss", loss, f"{scan}_loss.nii.gz")
        nifti(f"{scan}_as_{control}", (image + loss).clamp(0.0, 1.0), f"{scan}_as_{control}.nii.gz")
    drawn = {"title": title, "names": class_names, "cut": cut}
    files["group_figure"] = plot_effect_maps(summary, options, out / "group_effect.png", **drawn)
    shown = min(subjects, len(maps.subjects))
    of_all = f"the first {shown} of {len(maps.subjects)} {class_names[1]} scans"
    drawn_individual = {**drawn, "title": f"{title}\n{of_all}" if title else of_all}
    files["individual_figure"] = plot_individual_maps(
        maps, options, out / "individual.png", subjects=shown, scans=scans, **drawn_individual
    )
    record = {
        "run": None,  # the mark of vaegan's own listing (see _listed), a run's path where ``about`` gives one
        **(about or {}),
        "control": class_names[0],
        "disease": class_names[1],
        "space": "MNI152 mm (registered)" if summary.grid is not None else "nominal mm (not registered)",
        "maps": "intensity loss: control minus disease, positive where tissue is lost",
        "group": {"r_model": _number(summary.r_model), "r_group_difference": _number(summary.r_group)},
        "scans": [
            {"scan": scan, "subject": subject, "path": path, "r": _number(r), "r_model_free": _number(free)}
            for scan, subject, path, r, free in zip(
                scans, maps.subjects, paths or [None] * len(scans), maps.r.tolist(), maps.r_baseline.tolist()
            )
        ],
        "files": {name: str(path.relative_to(out)) for name, path in files.items()},
    }
    if cut is not None:  # the figures' planes, as asked (else nilearn's, through the maps' largest cluster)
        record["cut_mm"] = cut
    if maps.amounts is not None:  # scaled maps: the amount of the disease each scan was fitted with
        for row, amount in zip(record["scans"], maps.amounts.tolist()):
            row["amount"] = _number(amount)
    if summary.truth is not None:
        names = {"r_group": "r_group_difference"}  # as the figure they bound is named above
        intervals = summary.intervals.items()
        record["group"]["intervals"] = {names.get(key, key): [_number(v) for v in value] for key, value in intervals}
        record["individual_quartiles"] = [_number(v) for v in maps.quartiles()]  # JSON has no NaN
    files["summary"] = out / "effects.json"
    write_text_atomic(files["summary"], json.dumps(record, indent=1) + "\n")
    for stale in earlier - {path.name for path in files.values()}:
        (out / stale).unlink(missing_ok=True)
    pending.unlink()
    return files


def map_owners(out: Path) -> set[str]:
    """The runs whose maps ``out`` holds, as its ``effects.json`` and a killed call's pending list name them."""
    owners = set()
    for summary in (out / "effects.json", out / PENDING):
        run = (_listing(summary) or {}).get("run")
        if isinstance(run, str):
            owners.add(run)
    return owners


def listed_maps(out: Path) -> set[str]:
    """The files of ``out`` that its ``effects.json`` and a killed call's pending list name (vaegan wrote them)."""
    return _listed(out / "effects.json") | _listed(out / PENDING)


def _listed(summary: Path) -> set[str]:
    """The map and figure files an earlier ``effects.json`` (or a killed call's pending list) named: plain
    names of this folder only, ending as vaegan's maps and figures do, and only where vaegan wrote the list."""
    listed = (_listing(summary) or {}).get("files", {})
    names = listed.values() if isinstance(listed, dict) else listed if isinstance(listed, list) else []
    return {str(n) for n in names if plain_name(str(n)) == str(n) and str(n).endswith((".nii.gz", ".png"))}


def _listing(summary: Path) -> dict | None:
    """``summary`` read as vaegan wrote it (a JSON object with its ``run`` key), else None: a user's file."""
    try:
        record = json.loads(summary.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "run" in record else None


def _number(value: float) -> float | None:
    """JSON has no NaN: an unscored r (no true atrophy) is null."""
    return None if value != value else round(float(value), 4)
