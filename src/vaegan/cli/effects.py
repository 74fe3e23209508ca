"""``vaegan effects RUN``: a conditional MRI run's disease-effect maps, as NIfTI files and figures.

The group map (each control subject decoded as control and as disease, averaged) and each disease
subject's own map (its residual counterfactual "without the disease" minus the scan), for the run's
held-out test subjects or all of them, into ``RUN/effects/``
(:mod:`vaegan.visualization.effect_files` lists the files). On phantoms every map is also scored
against the true atrophy; on your own scans the maps are drawn and saved, unscored.
"""

from __future__ import annotations

import argparse

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
    parser.add_argument("--control", default="0", help="the control class, by name or number (default the first)")
    parser.add_argument("--disease", default="1", help="the disease class, by name or number (default the second)")
    parser.add_argument("--subjects", type=int, default=3, help="disease subjects drawn in individual.png")
    parser.add_argument("--seed", type=int, default=0, help="seed of the posterior draws")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--data-dir", help="where the run's scans are, if not where its config says")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.cli import check_seed
    from vaegan.cli.outputs import check_out_folder
    from vaegan.runs import load_run, parse_labels

    check_seed(args.seed)
    for flag, value in (("--samples", args.samples), ("--subjects", args.subjects)):
        if value < 1:
            raise VaeganError(f"{flag} {value}: needs at least 1")
    run_ = load_run(args.run, checkpoint=args.checkpoint, device=args.device, data_dir=args.data_dir)
    model, data = run_.model, run_.config.data
    if not (model.conditional and model.has_encoder):
        raise VaeganError(
            f"{args.run}: a {model.name} has no disease-effect maps; they need a conditional model with an "
            "encoder (cvae, cvaegan), which can decode one subject's code with either label"
        )
    if data.dataset not in ("mri", "phantoms"):
        raise VaeganError(
            f"{args.run}: trained on {data.dataset}; disease-effect maps need brain volumes (mri, phantoms)"
        )
    names = run_.class_names
    flags = (("--control", args.control), ("--disease", args.disease))
    picked = [parse_labels(spec, model.config.num_classes, names, flag=flag) for flag, spec in flags]
    if any(len(labels) != 1 for labels in picked):
        raise VaeganError(f"--control {args.control} --disease {args.disease}: name one class each")
    (control,), (disease,) = picked
    if control == disease:
        raise VaeganError(f"--control {args.control} and --disease {args.disease} name the same class")
    out = check_out_folder(args.out, run_.path) if args.out else run_.path / "effects"
    return _write(run_, args, control, disease, out)


def _write(run_, args: argparse.Namespace, control: int, disease: int, out) -> int:
    import torch

    from vaegan.data.datasets import split_subjects
    from vaegan.data.mri import config_volumes
    from vaegan.visualization.disease_maps import summarize_effects
    from vaegan.visualization.effect_files import save_effect_maps, scan_names
    from vaegan.visualization.subject_maps import individual_maps

    mri = run_.config.data.mri
    volumes = config_volumes(run_.config.data)
    if args.split == "test":
        volumes = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))
    counts = [int((volumes.labels == c).sum()) for c in (control, disease)]
    names = [volumes.class_names[c] for c in (control, disease)]
    if min(counts) == 0:
        raise VaeganError(
            f"--split {args.split}: {counts[0]} {names[0]} and {counts[1]} {names[1]} scans; the maps compare "
            "the two classes" + (" (try --split all)" if args.split == "test" else "")
        )
    torch.manual_seed(args.seed)
    common = {"control": control, "disease": disease, "samples": args.samples}
    summary = summarize_effects(run_.model, volumes, mri, **common)
    maps = individual_maps(run_.model, volumes, mri, **common)
    scans = scan_names([p for p, label in zip(volumes.paths, volumes.labels.tolist()) if label == disease])
    about = {
        "run": str(run_.path),
        "checkpoint": str(run_.checkpoint) if run_.checkpoint else None,
        "epoch": run_.epoch,
        "split": args.split,
        "samples": args.samples,
        "seed": args.seed,
        "scans_by_class": dict(zip(names, counts)),
    }
    files = save_effect_maps(
        summary,
        maps,
        mri,
        out,
        scans=scans,
        class_names=(names[0], names[1]),
        about=about,
        title=run_.config.name,
        subjects=args.subjects,
    )
    print(f"{counts[0]} {names[0]} and {counts[1]} {names[1]} scans ({args.split}); {summary.describe()}")
    print(maps.describe())
    print(f"{len(files)} files in {out}: group_effect.nii.gz, subjects/*_loss.nii.gz, *.png, effects.json")
    return 0
