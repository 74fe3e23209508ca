"""``vaegan effects RUN``: a conditional MRI run's disease-effect maps, as NIfTI files and figures.

The group map (each control subject decoded as control and as disease, averaged) and each disease
subject's own map (its residual counterfactual "without the disease" minus the scan), for the run's
held-out test subjects or all of them, into ``RUN/effects/``
(:mod:`vaegan.visualization.effect_files` lists the files). On phantoms every map is also scored
against the true atrophy; on your own scans the maps are drawn and saved, unscored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaegan.foundation.errors import VaeganError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "effects", help="disease-effect maps of a conditional MRI run: group and per-subject NIfTI files, figures"
    )
    parser.add_argument("run", help="run folder of a conditional model with an encoder (cvae, cvaegan) on MRI")
    parser.add_argument("--out", help="folder for the maps (default RUN/effects)")
    parser.add_argument(
        "--split",
        choices=["test", "all"],
        default="test",
        help="test: the subjects the run held out (data.mri.test_size); all: every subject, the trained-on too",
    )
    parser.add_argument("--samples", type=int, default=8, help="posterior draws each map is averaged over")
    parser.add_argument(
        "--control",
        help="the control class, by name or number (default CN where the run has it, else the first class "
        "other than the disease)",
    )
    parser.add_argument(
        "--disease",
        help="the disease class, by name or number (default AD where the run has it, else the first class "
        "other than the control)",
    )
    parser.add_argument(
        "--scaled",
        action="store_true",
        help="each subject's map removes its own fitted amount of the disease, not the class's average "
        "(models with soft labels: cvae, cvaegan); the amounts go to effects.json",
    )
    parser.add_argument(
        "--exclude-converters",
        action="store_true",
        help="leave out subjects with scans of both classes (sessions of different diagnoses, e.g. CN then AD), "
        "which the group map otherwise counts in both groups (the floor's group difference leaves them out too)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        default=0,
        help="each subject's map from its MAP code, this many steps from the encoder's guess (the code that "
        "explains the scan best, and with model.warp_points the warp fitted to the scan with it; 100 is "
        "plenty, 0 = the encoder's posterior; --samples then sets the group map's draws only)",
    )
    parser.add_argument("--subjects", type=int, default=3, help="disease subjects drawn in individual.png")
    parser.add_argument(
        "--cut",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="3-D runs: the point (mm; MNI152 for registered scans) the figures' three planes pass through, "
        "e.g. a hippocampus, -26 -22 -13 (default: the maps' largest cluster, for AD the ventricles)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the posterior draws")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--data-dir", help="where the run's scans are, if not where its config says")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.cli import check_seed
    from vaegan.runs import load_run

    check_seed(args.seed)
    for flag, value in (("--samples", args.samples), ("--subjects", args.subjects)):
        if value < 1:
            raise VaeganError(f"{flag} {value}: needs at least 1")
    if args.refine < 0:
        raise VaeganError(f"--refine {args.refine}: a number of steps, 0 (the encoder's codes) or more")
    run_ = load_run(args.run, checkpoint=args.checkpoint, device=args.device, data_dir=args.data_dir)
    model, data = run_.model, run_.config.data
    run_.require_data()  # not the defaults (mnist) of a run that records no data section
    if not (model.conditional and model.has_encoder):
        raise VaeganError(
            f"{args.run}: its model ({model.name}) draws no disease-effect maps; they need a conditional model with an "
            "encoder (cvae, cvaegan), which can decode one subject's code with either label"
        )
    if data.dataset not in ("mri", "phantoms"):
        raise VaeganError(
            f"{args.run}: trained on {data.dataset}; disease-effect maps need brain volumes (mri, phantoms)"
        )
    names = run_.class_names or [str(i) for i in range(model.config.num_classes)]
    control, disease = chosen_classes(names, args.control, args.disease)
    if control == disease:
        raise VaeganError(f"--control and --disease both name class {control} ({names[control]}); choose two")
    if args.scaled and not model.soft_labels:
        raise VaeganError(f"--scaled: its model ({model.name}) takes no soft labels, so no amount of a class")
    if args.cut is not None and data.mri.spatial_dims != 3:
        raise VaeganError(f"--cut: {args.run} is a 2-D run; its figures show the slices it was trained on")
    from vaegan.data.mri import volumes_folder

    scans = volumes_folder(run_.config.data)  # before any work: the folder, and that it holds volumes
    out = _out_folder(args.out or run_.path / "effects", run_.path, scans)
    return _write(run_, args, control, disease, out, scans)


def chosen_classes(names: list[str], control: str | None, disease: str | None) -> tuple[int, int]:
    """(control, disease): those asked for (by name or number), the other by default: CN and AD where the
    run has them, else the first class other than the one asked for."""
    from vaegan.visualization.disease_maps import default_classes

    default_control, default_disease = default_classes(names)
    asked_control = _class(control, names, "--control") if control is not None else None
    asked_disease = _class(disease, names, "--disease") if disease is not None else None
    other = lambda taken: next(i for i in range(len(names)) if i != taken)  # noqa: E731
    if asked_control is not None and asked_disease is None:
        return asked_control, default_disease if default_disease != asked_control else other(asked_control)
    if asked_disease is not None and asked_control is None:
        return default_control if default_control != asked_disease else other(asked_disease), asked_disease
    if asked_control is not None:
        return asked_control, asked_disease
    return default_control, default_disease


def _class(spec: str, names: list[str], flag: str) -> int:
    """One class of the run, by name (any case) or number."""
    for i, name in enumerate(names):
        if spec.strip().casefold() in (name.casefold(), str(i)):
            return i
    choices = " or ".join(f"{i}={name}" for i, name in enumerate(names))
    raise VaeganError(f"{flag} {spec!r}: not a class of this run; choose {choices}")


def _out_folder(out: str | Path, run: Path, data: Path, scans: list[Path] = ()) -> Path:
    """``--out`` (or the default ``RUN/effects``) as a Path: refused where it is a file, one of the run's
    own folders other than ``effects/``, or among the data as ``vaegan train`` refuses its ``--out`` there
    (:func:`~vaegan.training.run_folder.among_data`: the data folder; a CSV and the folders of the scans it
    lists), or inside the folder of one of ``scans`` (each scan read)."""
    from vaegan.cli.outputs import check_out_folder
    from vaegan.training.run_folder import FOLDER_FILES, among_data
    from vaegan.visualization.effect_files import map_owners

    folder = check_out_folder(out, run).resolve()
    own = [run.resolve() / name for name in FOLDER_FILES if name != "effects"]
    if folder == run.resolve() or any(folder.is_relative_to(place) for place in own):
        raise VaeganError(
            f"--out {out}: is the run's own folder {folder.relative_to(run.resolve()) or '.'}, where "
            "training and the other commands write; give a folder of its own (default RUN/effects)"
        )
    place = among_data(folder, data)
    for scan in (s.resolve().parent for s in scans):
        if place is None and folder.is_relative_to(scan):
            place = f"{'' if folder == scan else 'inside '}{scan}, which holds scans read"
    if place is not None:
        raise VaeganError(f"--out {out}: lies among the scans: it is {place}; keep the maps apart from the data")
    if folder.exists() and not folder.is_dir():
        raise VaeganError(f"--out {out}: is a file, not a folder")
    others = map_owners(folder) - {str(run.resolve())}
    if others and folder != run.resolve() / "effects":  # the run's own folder holds its maps, though it moved
        raise VaeganError(
            f"--out {out}: holds the maps of another run ({', '.join(sorted(others))}), which these would replace; "
            "give another --out, or delete that run's maps first"
        )
    return folder


def _held_out(run_, volumes):
    """The volumes of the subjects the run held out for testing, as it recorded them when it trained."""
    import torch

    from vaegan.data.datasets import split_subjects
    from vaegan.runs import some_names

    held = run_.held_out()
    if held is None:
        _warn(
            f"{run_.path} records no split (trained before vaegan kept one, or its subjects.json is gone): the "
            "test subjects are drawn again from the data as they are now; if the data changed since training, "
            "some may be subjects the model learned from"
        )
        return volumes.select(split_subjects(volumes.subjects, volumes.labels, run_.config.data.mri.test_size))
    present = set(volumes.subjects)
    new = sorted(present - {s for split in held.values() for s in split})
    gone = sorted(set(held["test"]) - present)
    if new:
        _warn(
            f"the data holds subjects the run did not have when it trained, {some_names(new)}: not held out by "
            "it, so not mapped under --split test (--split all maps them)"
        )
    if gone:
        _warn(f"of the run's {len(held['test'])} test subjects, these are not in the data now: {some_names(gone)}")
    test = set(held["test"])
    return volumes.select(torch.tensor([s in test for s in volumes.subjects], dtype=torch.bool))


def _warn(message: str) -> None:
    print(f"vaegan effects: warning: {message}", file=sys.stderr)


SPLITS = {
    "test": "the subjects the run held out (--split test)",
    "all": "every subject, those the model trained on too (--split all)",
}


def figure_title(
    run: str,
    split: str,
    names: list[str],
    scans: list[int],
    subjects: list[int],
    samples: int,
    refine: int = 0,
    fitted: str = "MAP code",
) -> str:
    """The figures' title: the run, whose maps (split, scans and subjects of each class), how many draws
    (and, ``refine`` > 0, that each subject's map is decoded from its ``fitted`` MAP code, and warp).

    ``names``, ``scans``, ``subjects``: (control, disease) each.
    """
    draws = f"{samples} posterior draw{'s' if samples != 1 else ''}"
    how = f"each map averaged over {draws}"
    if refine:
        how = f"the group map averaged over {draws}, each subject's from its {fitted} ({refine} steps)"
    return (
        f"{run}\n{SPLITS[split]}\n{scans[0]} {names[0]} and {scans[1]} {names[1]} scans of {subjects[0]} and "
        f"{subjects[1]} subjects; {how}"
    )


def _converters(volumes, control: int, disease: int) -> list[str]:
    """The subjects with scans of both classes (sessions of different diagnoses), sorted."""
    from vaegan.visualization.disease_maps import subjects_where

    of = [set(subjects_where(volumes, volumes.labels == c)) for c in (control, disease)]
    return sorted(of[0] & of[1])


def _converters_note(converters: list[str], names: list[str], excluded: bool) -> str:
    from vaegan.runs import some_names

    which = f"subjects with scans of both {names[0]} and {names[1]} (sessions of different diagnoses)"
    if excluded:
        return f"left out (--exclude-converters): the {which}, {some_names(converters)}"
    return (
        f"{which}: {some_names(converters)}; each is in both groups of the group map, so it is partly subtracted "
        "from itself (--exclude-converters leaves them out)"
    )


def _write(run_, args: argparse.Namespace, control: int, disease: int, out: Path, folder: Path) -> int:
    import torch

    from vaegan.data.mri import config_volumes
    from vaegan.data.phantoms import truth_version
    from vaegan.visualization.brain import check_cut
    from vaegan.visualization.disease_maps import subjects_where, summarize_effects
    from vaegan.visualization.effect_files import save_effect_maps, scan_names
    from vaegan.visualization.subject_maps import group_difference_maps, individual_maps

    mri = run_.config.data.mri
    volumes = config_volumes(run_.config.data)
    _out_folder(out, run_.path, folder, [Path(p) for p in volumes.paths])  # the scans read, wherever they are
    cut = None
    if args.cut is not None:  # before the maps: the volume's millimetres are known once the scans are read
        try:
            cut = check_cut(args.cut, mri, volumes.grid)
        except ValueError as error:
            raise VaeganError(f"--cut {' '.join(f'{v:g}' for v in args.cut)}: {error}") from None
    everyone = [int((volumes.labels == c).sum()) for c in (control, disease)]
    named = dict(zip(volumes.paths, scan_names(volumes.paths, volumes.subjects)))  # over every scan: stable
    learned = None  # the subjects the model learned from: the individual maps' floor is their group difference
    if args.split == "test":
        everything, volumes = volumes, _held_out(run_, volumes)
        tested = set(volumes.subjects)
        learned = everything.select(torch.tensor([s not in tested for s in everything.subjects], dtype=torch.bool))
    names = [volumes.class_names[c] for c in (control, disease)]
    converters = _converters(volumes, control, disease)
    notes = [_converters_note(converters, names, args.exclude_converters)] if converters else []
    if changed := run_.phantoms_changed():  # a set cached before the anatomy changed, built again since
        _warn(changed)
        notes.append(changed)
    if learned is not None and args.exclude_converters:  # the floor's group difference: without them, as the maps
        of_learned = set(_converters(learned, control, disease))
        learned = learned.select(torch.tensor([s not in of_learned for s in learned.subjects], dtype=torch.bool))
    if converters and args.exclude_converters:
        volumes = volumes.select(torch.tensor([s not in converters for s in volumes.subjects], dtype=torch.bool))
        print(notes[0])
    elif converters:
        _warn(notes[0])
    counts = [int((volumes.labels == c).sum()) for c in (control, disease)]
    if min(counts) == 0:
        hint = " (try --split all)" if args.split == "test" and min(everyone) > 0 else ""
        raise VaeganError(
            f"--split {args.split}: {counts[0]} {names[0]} and {counts[1]} {names[1]} scans; the maps compare "
            f"the two classes{hint}"
        )
    people = [len(set(subjects_where(volumes, volumes.labels == c))) for c in (control, disease)]
    common = {"control": control, "disease": disease, "samples": args.samples, "seed": args.seed}
    summary = summarize_effects(run_.model, volumes, mri, **common)
    own = {**common, "samples": 1, "refine": args.refine} if args.refine else common  # a MAP code is one code
    maps = individual_maps(run_.model, volumes, mri, scaled=args.scaled, **own)
    for line in maps.amounts_cut_off(names[1]):
        notes.append(f"--scaled: {line}")
        _warn(notes[-1])
    floor = None
    if maps.truth is not None and learned is not None and all((learned.labels == c).any() for c in (control, disease)):
        floor = group_difference_maps(volumes, learned, mri, control=control, disease=disease)
    paths = [p for p, label in zip(volumes.paths, volumes.labels.tolist()) if label == disease]
    about = {
        "run": str(run_.path.resolve()),
        "checkpoint": str(run_.checkpoint.resolve()) if run_.checkpoint else None,
        "epoch": run_.epoch,
        "data": str(folder.resolve()),
        "truth": truth_version(folder) if summary.truth is not None else None,  # which truth maps scored them
        "split": args.split,
        "samples": args.samples,
        "seed": args.seed,
        "scaled": args.scaled,
        "refine": args.refine,
        "fitted": maps.fitted if args.refine else None,  # what the steps fitted: the code, and the warp with it
        "scans_by_class": dict(zip(names, counts)),
        "subjects_by_class": dict(zip(names, people)),
        "converters": converters,
        "exclude_converters": args.exclude_converters,
        "notes": notes,
    }
    if floor is not None:
        about["individual_floor"] = {
            "quartiles": [float(q) for q in floor.quartiles()],
            "subjects": len(set(learned.subjects)),
            "map": "the group difference of the subjects the run learned from, the same map for every scan",
        }
    files = save_effect_maps(
        summary,
        maps,
        mri,
        out,
        scans=[named[p] for p in paths],
        paths=paths,
        class_names=(names[0], names[1]),
        about=about,
        title=figure_title(run_.config.name, args.split, names, counts, people, args.samples, args.refine, maps.fitted),
        subjects=args.subjects,
        cut=cut,
    )
    print(
        f"{counts[0]} {names[0]} and {counts[1]} {names[1]} scans of {people[0]} and {people[1]} subjects "
        f"({args.split}); {summary.describe()}"
    )
    print(maps.describe())
    if floor is not None:
        low, median, high = floor.quartiles()
        print(
            f"floor: median r = {median:.2f} [IQR {low:.2f} .. {high:.2f}], the group difference of the "
            f"{len(set(learned.subjects))} subjects the run learned from as every {names[1]} scan's map; the "
            "model's own maps tell more than a group study only above it"
        )
    shared = sorted(p.name for p in files.values() if not any(p.name.startswith(scan) for scan in named.values()))
    per_scan = f"<scan>_loss.nii.gz and <scan>_as_{names[0]}.nii.gz for {len(paths)} scans"
    print(f"{len(files)} files in {out}: {', '.join(shared)}; {per_scan}")
    return 0
