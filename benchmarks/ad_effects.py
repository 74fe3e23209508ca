"""What do the AD models learn about Alzheimer's disease? Checked on phantoms, whose atrophy is known.

One command (trains each config on the cached phantom set, then measures):

    python benchmarks/ad_effects.py                    # 200 subjects, the configs' epochs
    python benchmarks/ad_effects.py --quick            # 12 tiny subjects, 2 epochs: a smoke test (rows <name>_quick
                                                       # in outputs/ad_effects_quick, never the committed ones)
    python benchmarks/ad_effects.py --from-results benchmarks/ad_effects/results.json   # only the tables
    python benchmarks/ad_effects.py --configs configs/ad_cvae_2d.yaml --reuse   # measure a trained run again
    python benchmarks/ad_effects.py --configs configs/ad_cvae_2d.yaml --strengths 0.25 0.5 1   # the curve
    python benchmarks/ad_effects.py --configs configs/ad_cvae_2d.yaml --floor   # add the model-free floor to its row

For each config it reports

- r (effect vs truth): Pearson correlation, inside the brain, between the mean
  disease-effect map of the test CN subjects (encode with CN, decode with AD
  and with CN, take CN - AD: the intensity the model says AD removes) and the
  mean true tissue loss of the test AD subjects; conditional models only;
- r (group difference): the same for the raw mean CN image minus mean AD
  image, what a model-free look at the data shows;
- AUC: AD vs CN by a logistic regression on latent means, trained on the
  non-test (training and validation) subjects and scored on the test subjects (every image encoded with
  the CN label, so a conditional model's label cannot leak), per image and per
  subject (mean over its slices);
- individual maps: for each test AD subject the residual counterfactual "this
  subject as CN" minus the subject (encode with AD, decode as CN and as AD,
  subtract), correlated with that subject's own true atrophy: median and
  interquartile range over subjects, beside the same for the plain
  counterfactual (decode as CN minus the image) and for the model-free map
  (mean CN image minus the subject), all on the same subjects, and the floor a
  model's individual maps must beat to say more than a group study: the
  training subjects' group difference handed to every subject;

writes ``benchmarks/ad_effects/<name>_effects.png`` and ``results.json``, and
rewrites the section between ``<!-- ad:start -->`` and ``<!-- ad:end -->`` in
``benchmarks/ad_effects.md``. A row is keyed by its config's name: a ``--set`` that changes what is
measured needs a ``--set name=...`` of its own, or it would replace the row (and the run folder) of
the config as shipped, and is refused. With ``--strengths`` it trains each config on
phantom sets whose atrophy is scaled (``atrophy_scale``; 1 = the default
phantoms) and adds the curve ``benchmarks/ad_effects/<name>_strength.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from pathlib import Path

import torch
from ad_phantom_sets import prepare_phantoms, strength_folder, twins_of  # benchmarks/ (run from there)
from ad_tables import merge, plot_curve, read_results, render, write_section

from vaegan.config import RunConfig, load_config
from vaegan.config.run import flatten
from vaegan.data.mri import phantom_folder, read_volumes, split_subjects
from vaegan.data.phantoms import ATROPHY_SUFFIX, anatomy_version, truth_version
from vaegan.evaluation.reconstruction import explained_variance
from vaegan.experiment import load_data, train_from_config
from vaegan.runs import load_run
from vaegan.visualization.brain import HIPPOCAMPUS_MNI, plot_effect_maps, plot_individual_maps
from vaegan.visualization.curves import read_history
from vaegan.visualization.disease_codes import latent_auc
from vaegan.visualization.disease_effects import fitted_name
from vaegan.visualization.disease_maps import summarize_effects
from vaegan.visualization.subject_maps import group_difference_maps, individual_maps, true_counterfactual_maps

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/ad_cvae_2d.yaml", "configs/ad_vae_2d.yaml", "configs/ad_cvae_3d.yaml"]
QUICK = [
    "data.mri.phantom_subjects=12",
    "data.mri.size=32",
    "data.mri.phantom_spacing=5",
    "data.mri.registration=off",
    "train.epochs=2",
]
QUIET = ["train.progress=false", "data.mri.progress=false"]
QUIET_KEYS = {item.partition("=")[0] for item in QUIET}  # they change what is printed, not what is measured
QUICK_SUFFIX = "_quick"  # a smoke test's rows and run folders: never those of the real runs


def settings_text(settings: list[str]) -> str:
    """The overrides a row was measured with, as its table's settings column shows them."""
    return " ".join(f"`{o}`" for o in settings if o.partition("=")[0] not in QUIET_KEYS) or "as written"


def load(path: str, settings: list[str], quick: bool) -> RunConfig:
    """The config at ``path`` with ``settings``; under ``--quick`` renamed ``<name>_quick``."""
    config = load_config(path, settings)
    return config.model_copy(update={"name": config.name + QUICK_SUFFIX}) if quick else config


def device_name() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'x86'})"


def train_or_reuse(config: RunConfig, reuse: bool) -> tuple[list[dict], float]:
    """The run's history and training seconds (its epochs' own, without reading and preprocessing the
    data): trained now, or (``reuse``) read from its metrics.csv."""
    out = Path(config.out_dir)
    if reuse and (out / "checkpoints" / "best.pt").is_file():
        history = read_history(out / "metrics.csv")
    else:
        history = train_from_config(config, overwrite=True)
    return history, sum(row.get("seconds", 0.0) for row in history)


def evaluate(
    config: RunConfig,
    results: Path,
    settings: list[str],
    *,
    reuse: bool = False,
    samples: int = 1,
    figures: bool = True,
    refine: int = 0,
    refine_maps: int | None = None,
    ceiling: bool = True,
) -> dict:
    """Train ``config`` (into ``config.out_dir``), then measure its effect maps and latent AUC (and draw them);
    ``refine`` > 0: a VAE's AUC and explained variance on its MAP codes after that many steps too;
    ``refine_maps`` > 0 (default ``refine``): a conditional one's individual maps decoded from its MAP codes
    (and fitted warps) after that many;
    ``ceiling``: on phantoms, the healthy twins' maps too (their set is generated on first use)."""
    history, seconds = train_or_reuse(config, reuse)
    run = load_run(config.out_dir, checkpoint="best", device="cuda" if torch.cuda.is_available() else "cpu")
    if changed := run.phantoms_changed():  # --reuse of a run trained on a set since built again
        sys.exit(f"ad_effects.py: {config.name}: {changed}")
    mri = config.data.mri
    folder = Path(config.data.data_dir) if config.data.data_dir else phantom_folder(mri)
    volumes = read_volumes(folder, mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    test_mask = split_subjects(volumes.subjects, volumes.labels, mri.test_size)  # the loader's split
    test = volumes.select(test_mask)
    splits = load_data(config)
    row = {
        "name": config.name,
        "model": run.model.name,
        "dims": f"{mri.spatial_dims}-D",
        "image_shape": list(splits.image_shape),
        "train_images": len(splits.train),
        "test_subjects": len(set(test.subjects)),
        "epochs": len(history),
        "val_loss": history[-1].get("val/loss"),
        "train_seconds": round(seconds, 1),
        "device": device_name(),
        "samples": samples,
        "settings": settings_text(settings),
    }
    if truth_version(folder) is not None:  # which truth maps the figures were scored against (ad_tables marks old)
        row["truth"], row["anatomy"] = truth_version(folder), anatomy_version(folder)  # and on which phantoms
    if run.model.has_encoder:
        row.update(latent_auc(run.model, splits.train_and_val(), splits.test))  # all 160 non-test subjects
        known = splits.train_and_val()
        row.update(
            explained_variance(
                run.model, torch.as_tensor(known.images), torch.as_tensor(splits.test.images), splits.test.labels
            )
        )
    if refine and hasattr(run.model, "map_code"):  # the codes that best explain each image (VAE.map_code)
        refined = latent_auc(run.model, known, splits.test, refine=refine)
        row.update(
            subject_auc_refined=refined["subject_auc"], subject_auc_refined_interval=refined["subject_auc_interval"]
        )
        images = torch.as_tensor(known.images), torch.as_tensor(splits.test.images)
        row["explained_refined"] = explained_variance(run.model, *images, splits.test.labels, refine=refine)[
            "explained"
        ]
        row["refine_steps"] = refine
    if run.model.conditional and run.model.has_encoder:
        training = volumes.select(~test_mask)  # every non-test subject: the training and validation subjects
        summary = summarize_effects(run.model, test, mri, samples=samples, reference=training)
        row.update(r_model=summary.r_model, r_group=summary.r_group, r_reference=summary.r_reference)
        row.update({f"{key}_interval": interval for key, interval in summary.intervals.items()})
        row["r_model_one_sided"], row["r_group_one_sided"] = summary.one_sided()
        maps = individual_maps(run.model, test, mri, samples=samples)
        plain = individual_maps(run.model, test, mri, samples=samples, residual=False)
        row.update(
            individual=maps.quartiles(),
            individual_plain=plain.quartiles(),
            individual_baseline=maps.quartiles(baseline=True),
            r_ad_maps=maps.r_group,
            individual_one_sided=maps.quartiles(one_sided=True),
            individual_baseline_one_sided=maps.quartiles(baseline=True, one_sided=True),
            individual_specific=maps.quartiles(specific=True),
            individual_baseline_specific=maps.quartiles(baseline=True, specific=True),
            individual_group_difference=group_difference_maps(test, training, mri).quartiles(),
        )
        refine_maps = refine if refine_maps is None else refine_maps
        if refine_maps:  # each subject's map from its MAP code and warp: what explains it best, not the encoder's guess
            own = individual_maps(run.model, test, mri, refine=refine_maps)
            row.update(individual_refined=own.quartiles(), individual_refined_specific=own.quartiles(specific=True))
            row["individual_refine_steps"] = refine_maps
            if figures:
                drawn = plot_individual_maps(
                    own,
                    mri,
                    results / f"{config.name}_individual_fitted.png",
                    title=f"{config.name}, {fitted_name(run.model)} fitted",  # the code alone without a warp
                    cut=hippocampus(mri, own.grid),
                )
                row["individual_fitted_figure"] = str(drawn.relative_to(ROOT) if drawn.is_relative_to(ROOT) else drawn)
        if run.model.soft_labels:  # each subject's own amount of AD removed, not the class's average
            scaled = individual_maps(run.model, test, mri, samples=samples, scaled=True)
            row.update(individual_scaled=scaled.quartiles(), individual_scaled_specific=scaled.quartiles(specific=True))
        if ceiling and config.data.dataset == "phantoms":  # the ceiling: each AD subject's twin minus the subject
            read = mri.model_copy(update={"layout": "bids"})
            twins = read_volumes(strength_folder(config, 0.0), read, maps_suffix=ATROPHY_SUFFIX)
            ceiling = true_counterfactual_maps(test, twins.select(twins_of(twins, test)), mri)
            row.update(individual_ceiling=ceiling.quartiles(), r_ad_maps_ceiling=ceiling.r_group)
            row["individual_ceiling_specific"] = ceiling.quartiles(specific=True)
        if figures:
            cut = hippocampus(mri, summary.grid)
            effects_png, individual_png = (results / f"{config.name}_{kind}.png" for kind in ("effects", "individual"))
            drawn = [
                ("figure", plot_effect_maps(summary, mri, effects_png, title=config.name, cut=cut)),
                ("individual_figure", plot_individual_maps(maps, mri, individual_png, cut=cut)),
            ]
            row.update({key: str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f) for key, f in drawn})
    return row


def hippocampus(mri, grid) -> tuple[float, float, float] | None:
    """Where 3-D figures of registered phantoms are cut: through the left hippocampus, AD's hallmark (nilearn's
    largest cluster is the ventricles, whose midline sagittal plane crosses no hippocampus); else nilearn's."""
    return HIPPOCAMPUS_MNI if mri.spatial_dims == 3 and grid is not None else None


def with_floor(config: RunConfig, row: dict) -> dict:
    """``row`` (the config's saved row) with the individual maps' model-free floor measured on its subjects.

    The floor (``group_difference_maps``: the non-test subjects' group difference as every test AD
    subject's map) needs no model, so a row measured before it existed gets it without training again.
    Raises ValueError where the phantom set's truth maps are not the ones the row was scored against.
    """
    mri = config.data.mri
    folder = Path(config.data.data_dir) if config.data.data_dir else phantom_folder(mri)
    if row.get("truth") != truth_version(folder) or row.get("anatomy", 1) != anatomy_version(folder):
        raise ValueError(
            f"{config.name}: its row was scored against truth maps {row.get('truth')} on anatomy "
            f"{row.get('anatomy', 1)}, {folder} holds {truth_version(folder)} on {anatomy_version(folder)}; "
            "measure the row again instead"
        )
    volumes = read_volumes(folder, mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    test = split_subjects(volumes.subjects, volumes.labels, mri.test_size)  # the loader's split
    floor = group_difference_maps(volumes.select(test), volumes.select(~test), mri)
    return row | {"individual_group_difference": floor.quartiles()}


def raw_auc(config: RunConfig, size: int = 8) -> dict:
    """The model-free AUC: the same logistic regression as ``latent_auc`` on the images average-pooled to size^d."""
    from torch import nn

    from vaegan.models import GenerativeModel
    from vaegan.models.config import ModelConfig

    splits = load_data(config)
    pool = nn.functional.adaptive_avg_pool3d if config.data.mri.spatial_dims == 3 else nn.functional.adaptive_avg_pool2d

    class Pooled(GenerativeModel):  # an "encoder" that only shrinks the image: what the raw voxels separate
        has_encoder = True

        def __init__(self) -> None:
            super().__init__(ModelConfig(name="pooled", image_shape=splits.image_shape, num_classes=2, latent_dim=1))
            self.anchor = nn.Parameter(torch.zeros(()))

        def encode(self, x, labels=None):
            return pool(x, size).flatten(1)

        def synthesize(self, z, labels=None):
            raise NotImplementedError("draws nothing")

    return latent_auc(Pooled(), splits.train_and_val(), splits.test)


def strength_curve(path: str, settings: list[str], scales: list[float], args: argparse.Namespace) -> list[dict]:
    """One row per atrophy scale: ``path`` trained on that phantom set and measured."""
    rows = []
    for scale in scales:
        base = load(path, settings, args.quick)
        name = f"{base.name}_atrophy{scale:g}"
        folder = strength_folder(base, scale)
        config = base.model_copy(update={"name": name, "out": str(Path(args.runs) / name)})
        config = config.model_copy(update={"data": config.data.model_copy(update={"data_dir": str(folder)})})
        if why := trained_otherwise(config, Path(args.runs) / name):
            sys.exit(f"ad_effects.py: {why}; add --set name=<a new name> (or --set {Path(path).stem}:name=...)")
        row = evaluate(
            config,
            Path(args.results).resolve(),
            settings,
            reuse=args.reuse,
            samples=args.samples,
            figures=False,
            refine=args.refine,
            refine_maps=args.refine_maps,
            ceiling=args.ceiling,
        )
        row.update(atrophy_scale=scale, config=base.name)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


HOW_TRAINED = ("model.", "train.epochs", "train.batch_size", "train.seed", "data.mri.size", "data.mri.phantom")
FROM_THE_DATA = ("model.image_shape", "model.num_classes")  # filled in by training: a config to be trained lacks them


def trained_otherwise(config: RunConfig, run: Path) -> str | None:
    """What ``run`` (a kept curve point's folder) was trained with that ``config`` changes, or None.

    A curve's points are kept run folders named by the config and the strength only: another curve's
    settings (another size, epochs, sigma) would be trained over them, or measured by --reuse as this one.
    """
    if not (run / "config.yaml").is_file():
        return None
    old, new = (flatten(c.to_dict()) for c in (load_config(run / "config.yaml"), config))
    changed = [
        key
        for key in sorted(new)
        if key.startswith(HOW_TRAINED) and key not in FROM_THE_DATA and old.get(key) != new[key]
    ]
    if not changed:
        return None
    shown = ", ".join(f"{key} {old.get(key)!r} -> {new[key]!r}" for key in changed[:4])
    return f"{run} was trained with other settings ({shown}): this point would replace it"


def _for(overrides: list[str], name: str) -> list[str]:
    """The overrides that apply to the config ``name``: plain ones, and ``name:key=value`` ones unprefixed."""
    chosen = []
    for item in overrides:
        target, colon, rest = item.partition(":")
        if not colon or "=" in target:  # no prefix (a colon inside a value is not one)
            chosen.append(item)
        elif target == name:
            chosen.append(rest)
    return chosen


def replacing(path: str, settings: list[str], args: argparse.Namespace, saved: dict) -> str | None:
    """Why measuring ``path`` with ``settings`` would replace a row or curve measured otherwise, or None.

    A row is the config's name: one measured with overrides but no name of its own would take the place
    of the config as shipped (and train over its run folder). A curve may be measured with overrides,
    but its points must share them: ``saved`` (the results file) names the settings of those measured.
    """
    keys = {item.partition("=")[0] for item in settings}
    if args.quick or "name" in keys:
        return None
    name, add = load_config(path, settings).name, f"add --set name=<a new name> (or --set {Path(path).stem}:name=...)"
    if args.strengths:
        ours = {o for o in settings if o.partition("=")[0] not in QUIET_KEYS}
        measured = [p["settings"] for p in saved.get("curves", {}).get(name, [])]
        if any(set(re.findall(r"`([^`]*)`", text)) != ours for text in measured):
            return (
                f"the curve '{name}' in {Path(args.results) / 'results.json'} was measured with {measured[0]}; "
                f"these points, with {settings_text(settings)}, would join it: {add}"
            )
        return None
    changed = sorted(keys - {"name"} - QUIET_KEYS)
    if changed:
        return (
            f"--set {', '.join(changed)} without --set name=...: the run would replace the row '{name}' (the config "
            f"as shipped) in {Path(args.results) / 'results.json'} and train over its run folder "
            f"{Path(args.runs) / name}; {add}"
        )
    return None


def guard_quick(args: argparse.Namespace) -> str | None:
    """Under ``--quick``, why the chosen --results or --readme is refused (the committed ones), or None."""
    committed = {"--results": ROOT / "benchmarks" / "ad_effects", "--readme": ROOT / "benchmarks" / "ad_effects.md"}
    for option, chosen in (("--results", args.results), ("--readme", args.readme)):
        if chosen and Path(chosen).resolve() == committed[option]:
            return (
                f"--quick is a smoke test: it does not write into {committed[option]} ({option}), the committed "
                f"results; leave {option} out (outputs/ad_effects_quick) or name another"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="[NAME:]KEY=VALUE",
        help="config override for every config, or only for config NAME (e.g. ad_cvae_3d:data.mri.size=32)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="12 tiny subjects, 2 epochs; rows <name>_quick, runs and results in outputs/ad_effects_quick, no tables",
    )
    parser.add_argument("--reuse", action="store_true", help="measure a run already trained in --runs again")
    parser.add_argument("--samples", type=int, default=8, help="posterior draws each map is averaged over")
    parser.add_argument("--strengths", nargs="+", type=float, help="atrophy scales of the curve (instead of the table)")
    parser.add_argument("--refine", type=int, default=100, help="VAEs: MAP-code steps for the refined AUC (0: skip)")
    parser.add_argument(
        "--refine-maps",
        type=int,
        help="conditional VAEs: MAP-code (and warp) steps of the refined individual maps (0: skip; default --refine)",
    )
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false", help="skip the healthy twins' maps")
    parser.add_argument("--runs", help="folder of the training runs (outputs/ad_effects)")
    parser.add_argument("--results", help="figures and results.json (benchmarks/ad_effects)")
    parser.add_argument("--readme", help="the tables' file (benchmarks/ad_effects.md); '' to leave it alone")
    parser.add_argument("--raw-auc", type=int, metavar="SIZE", help="only print the AUC of raw images pooled to SIZE")
    parser.add_argument("--from-results", help="a results.json to rewrite the tables from, without training")
    parser.add_argument(
        "--floor", action="store_true", help="only add the individual maps' model-free floor to the configs' rows"
    )
    args = parser.parse_args(argv)
    quick = "outputs/ad_effects_quick"  # a smoke test's own folders: the committed results stay as they are
    defaults = {"runs": "outputs/ad_effects", "results": "benchmarks/ad_effects", "readme": "benchmarks/ad_effects.md"}
    if args.quick:
        defaults = {"runs": f"{quick}/runs", "results": quick, "readme": ""}
    for key, value in defaults.items():
        setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    if args.from_results:
        saved = read_results(Path(args.from_results))
        for name, rows in saved.get("curves", {}).items():
            if len(rows) > 1:
                plot_curve(name, rows, Path(args.from_results).parent / f"{name}_strength.png")
        if args.readme:
            write_section(Path(args.readme), render(saved))
        return 0
    overrides = [*(QUICK if args.quick else []), *QUIET, *args.overrides]
    if args.raw_auc:
        for path in args.configs:
            print(path, json.dumps(raw_auc(load_config(path, _for(overrides, Path(path).stem)), args.raw_auc)))
        return 0
    results = Path(args.results)
    if args.quick and (why := guard_quick(args)):
        parser.error(why)
    saved = read_results(results / "results.json") if (results / "results.json").is_file() else {}
    if args.floor:
        rows = {row["name"]: row for row in saved.get("rows", [])}
        configs = [load(path, _for(overrides, Path(path).stem), args.quick) for path in args.configs]
        if missing := [c.name for c in configs if c.name not in rows]:
            parser.error(f"no row in {results / 'results.json'} for {', '.join(missing)}: measure it first")
        try:
            floors = [with_floor(config, rows[config.name]) for config in configs]
        except ValueError as error:
            parser.error(str(error))
        saved = merge(results / "results.json", floors, {}, "")
        if args.readme:
            write_section(Path(args.readme), render(saved))
        print(render(saved))
        return 0
    for path in args.configs:
        if why := replacing(path, _for(overrides, Path(path).stem), args, saved):
            parser.error(why)
    results.mkdir(parents=True, exist_ok=True)
    first = load_config(args.configs[0], _for(overrides, Path(args.configs[0]).stem))
    timing = prepare_phantoms(first) if first.data.data_dir is None else ""
    print(timing, flush=True)
    timing = f"{timing} ({device_name()})" if timing else ""
    measured, curves = [], {}
    for path in args.configs:
        settings = _for(overrides, Path(path).stem)
        if args.strengths:
            curve = strength_curve(path, settings, args.strengths, args)
            curves[curve[0]["config"]] = curve
            continue
        config = load(path, settings, args.quick)
        config = config.model_copy(update={"out": str(Path(args.runs) / config.name)})
        measured.append(
            evaluate(
                config,
                results.resolve(),
                settings,
                reuse=args.reuse,
                samples=args.samples,
                refine=args.refine,
                refine_maps=args.refine if args.refine_maps is None else args.refine_maps,
                ceiling=args.ceiling,
            )
        )
        print(json.dumps(measured[-1]), flush=True)
    saved = merge(results / "results.json", measured, curves, timing)
    if args.readme:
        write_section(Path(args.readme), render(saved))
    print(render(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
