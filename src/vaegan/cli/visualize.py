"""``vaegan visualize RUN``: latent-space figures into RUN/latent/, and curves.png redrawn from metrics.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaegan.foundation.errors import VaeganError

METHODS = ("latent", "pca", "tsne", "umap")  # vaegan.visualization.scatter.METHODS (a test keeps them equal)
SPLIT_SETTING = {"train": "training set", "val": "data.val_size", "test": "test set (data.mri.test_size for MRI)"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "visualize", help="latent traversal, manifold, scatter (PCA/t-SNE/UMAP) and interpolation figures"
    )
    parser.add_argument("run", help="run folder, e.g. outputs/mnist_vae")
    parser.add_argument("--out", help="folder for the figures and curves.png (default RUN/latent and RUN/curves.png)")
    parser.add_argument(
        "--methods", default="pca,tsne,umap", help=f"scatter projections, comma-separated from {', '.join(METHODS)}"
    )
    parser.add_argument("--n-points", type=int, default=2000, help="images of --split encoded for the scatter plots")
    parser.add_argument("--k", type=int, default=8, help="latent dimensions in the traversal (the most informative)")
    parser.add_argument("--steps", type=int, default=9, help="images per traversal/interpolation row")
    parser.add_argument("--split", choices=["test", "val", "train"], default="test", help="images to encode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--data-dir", help="where the run's dataset is, if not where its config says")
    parser.set_defaults(func=run)


def parse_methods(spec: str) -> list[str]:
    methods = [m.strip().lower().replace("-", "") for m in spec.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise VaeganError(f"--methods {spec!r}: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    return methods


def run(args: argparse.Namespace) -> int:
    from vaegan import runs
    from vaegan.cli import check_seed
    from vaegan.cli.outputs import check_out_folder
    from vaegan.training.run_folder import LATENT_FIGURES
    from vaegan.visualization import latent_figures, plot_curves, read_history
    from vaegan.visualization.latent import foreign_files, record_figures

    check_seed(args.seed)
    methods = parse_methods(args.methods)
    for flag, value in (("--n-points", args.n_points), ("--k", args.k), ("--steps", args.steps)):
        if value < (4 if flag == "--n-points" else 1):
            raise VaeganError(f"{flag} {value}: too small (at least {4 if flag == '--n-points' else 1})")
    out = None
    if args.out:  # checked before the run is loaded and its images encoded
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise VaeganError(f"--out {args.out}: is a file, not a folder")
        out = check_out_folder(args.out, Path(args.run))
        theirs = foreign_files(out, [*LATENT_FIGURES, "curves"])  # a folder of the user's: their files are kept
        if theirs:
            raise VaeganError(
                f"--out {args.out}: holds {', '.join(theirs)}, which vaegan did not write there (its latent.json "
                "does not record them) and these figures would replace; give another --out, or move those files"
            )
    run_ = runs.load_run(args.run, checkpoint=args.checkpoint, device=args.device, data_dir=args.data_dir)
    dataset = getattr(run_.load_data(), args.split)
    if len(dataset) < 4:  # the scatter projections need 4 points (PCA 3, t-SNE and UMAP 4)
        raise VaeganError(
            f"--split {args.split}: only {len(dataset)} images; the latent figures need at least 4 "
            f"(choose another --split, or a larger {SPLIT_SETTING[args.split]})"
        )
    out = out or run_.path / "latent"
    paths = latent_figures(
        run_.model,
        dataset,
        out,
        methods=methods,
        n_points=args.n_points,
        k=args.k,
        steps=args.steps,
        seed=args.seed,
        split=args.split,
        # which checkpoint each figure shows (latent.json), for the report
        drawn_from=None if run_.checkpoint is None else {"checkpoint": run_.checkpoint.stem, "epoch": run_.epoch},
    )
    metrics = run_.path / "metrics.csv"
    if metrics.is_file():
        if args.out:
            record_figures(out, {"curves": {"source": "metrics.csv", "epoch": run_.epoch}})
        paths["curves"] = plot_curves(
            read_history(metrics),
            out / "curves.png" if args.out else run_.path / "curves.png",  # --out: nothing in the run is rewritten
            title=f"{run_.model.name}: training curves",
            units=run_.model.curve_units(),
        )
    for name, path in paths.items():
        print(f"{name:<22} {path}")
    return 0
