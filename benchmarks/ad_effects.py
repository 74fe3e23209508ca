"""What do the AD models learn about Alzheimer's disease? Checked on phantoms, whose atrophy is known.

One command (trains each config on the cached phantom set, then measures):

    python benchmarks/ad_effects.py                    # 200 subjects, the configs' epochs
    python benchmarks/ad_effects.py --quick            # 12 tiny subjects, 2 epochs: a smoke test
    python benchmarks/ad_effects.py --from-results benchmarks/ad_effects/results.json   # only the README

For each config it reports

- r (effect vs truth): Pearson correlation, inside the brain, between the mean
  disease-effect map of the test CN subjects (encode with CN, decode with AD
  and with CN, take CN - AD: the intensity the model says AD removes) and the
  mean true tissue loss of the test AD subjects; conditional models only;
- r (group difference): the same for the raw mean CN image minus mean AD
  image, what a model-free look at the data shows;
- AUC: AD vs CN by a logistic regression on latent means, trained on the
  training subjects and scored on the test subjects (every image encoded with
  the CN label, so a conditional model's label cannot leak), per image and per
  subject (mean over its slices);

writes ``benchmarks/ad_effects/<name>_effects.png`` and ``results.json``, and
rewrites the section between ``<!-- ad:start -->`` and ``<!-- ad:end -->`` in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from vaegan.config import RunConfig, load_config
from vaegan.data.mri import phantom_folder, phantom_path, read_volumes, split_subjects
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.experiment import load_data, train_from_config
from vaegan.runs import load_run
from vaegan.visualization.brain import plot_effect_maps
from vaegan.visualization.disease_effects import latent_auc, summarize_effects

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/ad_cvae_2d.yaml", "configs/ad_vae_2d.yaml", "configs/ad_cvae_3d.yaml"]
QUICK = ["data.mri.phantom_subjects=12", "data.mri.size=32", "data.mri.phantom_spacing=5", "train.epochs=2"]
QUIET = ["train.progress=false", "data.mri.progress=false"]
START, END = "<!-- ad:start -->", "<!-- ad:end -->"
READING = [
    "- *r (effect vs truth)*: Pearson r, inside the brain, of the mean disease-effect map of the test CN "
    "subjects (encoded with CN, decoded as CN minus decoded as AD: the intensity the model says AD removes) "
    "with the mean true tissue loss of the test AD subjects. 1 = the model puts the atrophy exactly where it is.",
    "- *r (group difference)*: the same for the raw mean CN image minus mean AD image, the model-free baseline; "
    "it also carries the subjects' variability (head size, position, bias field, age).",
    "- *AUC*: AD vs CN by a logistic regression on latent means, fitted on the training subjects, scored on "
    "the test subjects; every image encoded with the CN label. A conditional model is handed the diagnosis "
    "as its label, so its code need not carry it (lower AUC); an unconditional VAE's code must.",
    "- Figures: row 1 the model's map, row 2 the true atrophy, row 3 the raw group difference, "
    "over the mean CN anatomy (nilearn).",
]


def prepare_phantoms(config: RunConfig) -> str:
    """Generate and preprocess the phantom set up front (cached for every run after), timed.

    Returns "" when the set was already in the cache: there was nothing to time.
    """
    mri = config.data.mri
    if (phantom_path(mri) / "participants.tsv").is_file():
        return ""
    started = time.perf_counter()
    folder = phantom_folder(mri)
    generated = time.perf_counter() - started
    read_volumes(folder, mri)
    preprocessed = time.perf_counter() - started - generated
    return (
        f"Phantoms: {mri.phantom_subjects} subjects at {mri.phantom_spacing:g} mm, generated in {generated:.0f} s "
        f"and preprocessed to {mri.size}^3 in {preprocessed:.0f} s on first use (0 s when cached)."
    )


def device_name() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'x86'})"


def evaluate(config: RunConfig, results: Path, settings: list[str]) -> dict:
    """Train ``config`` (into ``config.out_dir``), then measure its effect maps and latent AUC."""
    started = time.perf_counter()
    history = train_from_config(config, overwrite=True)
    seconds = time.perf_counter() - started
    run = load_run(config.out_dir, checkpoint="best", device="cuda" if torch.cuda.is_available() else "cpu")
    mri = config.data.mri
    folder = Path(config.data.data_dir) if config.data.data_dir else phantom_folder(mri)
    volumes = read_volumes(folder, mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    test = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))  # the loader's split
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
        "settings": " ".join(f"`{o}`" for o in settings if o not in QUIET) or "as written",
    }
    if run.model.has_encoder:
        row.update(latent_auc(run.model, splits.train, splits.test))
    if run.model.conditional and run.model.has_encoder:
        summary = summarize_effects(run.model, test, mri)
        row.update(r_model=summary.r_model, r_group=summary.r_group)
        figure = plot_effect_maps(summary, mri, results / f"{config.name}_effects.png", title=config.name)
        row["figure"] = str(figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure)
    return row


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


def _fmt(value, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _relative(figure: str) -> str:
    """A figure's path as the README (in benchmarks/) links it."""
    path = Path(figure)
    return str(path.relative_to("benchmarks")) if path.is_relative_to("benchmarks") else str(path)


def table(rows: list[dict], note: str) -> str:
    lines = [
        f"Phantoms (`vaegan phantoms`), train/val/test split by subject; torch {torch.__version__}. {note}",
        "",
        "| config | model | images | test subjects | epochs | r (effect vs truth) | r (group difference) "
        "| AUC per image | AUC per subject | train s | settings (`--set`) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shape = "x".join(str(s) for s in r["image_shape"][1:])
        lines.append(
            f"| {r['name']} | {r['model']} | {r['dims']} {shape} | {r['test_subjects']} | {r['epochs']} "
            f"| {_fmt(r.get('r_model'))} | {_fmt(r.get('r_group'))} | {_fmt(r.get('image_auc'))} "
            f"| {_fmt(r.get('subject_auc'))} | {r['train_seconds']:.0f} on {r['device']} | {r['settings']} |"
        )
    figures = [f"![{r['name']}]({_relative(r['figure'])})" for r in rows if r.get("figure")]
    return "\n".join(lines + ["", *READING, ""] + figures)


def write_section(readme: Path, body: str) -> None:
    """Replace the text between the markers (appending them if absent); other sections stay as they are."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    section = f"{START}\n## Alzheimer's disease effects on phantoms (`benchmarks/ad_effects.py`)\n\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    readme.write_text(text)


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
    parser.add_argument("--quick", action="store_true", help="12 tiny subjects, 2 epochs")
    parser.add_argument("--runs", default="outputs/ad_effects", help="folder of the training runs")
    parser.add_argument("--results", default="benchmarks/ad_effects", help="figures and results.json")
    parser.add_argument("--readme", default="benchmarks/README.md", help="'' to leave it alone")
    parser.add_argument("--from-results", help="a results.json to rewrite the README section from, without training")
    args = parser.parse_args(argv)
    if args.from_results:
        saved = json.loads(Path(args.from_results).read_text())
        write_section(Path(args.readme), table(saved["rows"], saved["note"]))
        return 0
    overrides = [*(QUICK if args.quick else []), *QUIET, *args.overrides]
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    first = load_config(args.configs[0], _for(overrides, Path(args.configs[0]).stem))
    timing = prepare_phantoms(first) if first.data.data_dir is None else ""
    print(timing, flush=True)
    timing = f"{timing} ({device_name()})" if timing else ""
    # rows of earlier runs stay (a config measured again replaces its row), so configs can be run one by one
    saved_path = results / "results.json"
    saved = json.loads(saved_path.read_text()) if saved_path.is_file() else {"rows": [], "note": ""}
    rows = {row["name"]: row for row in saved["rows"]}
    for path in args.configs:
        settings = _for(overrides, Path(path).stem)
        config = load_config(path, settings)
        config = config.model_copy(update={"out": str(Path(args.runs) / config.name)})
        row = evaluate(config, results.resolve(), settings)
        rows[row["name"]] = row
        print(json.dumps(row), flush=True)
    note = timing or saved["note"]
    saved_path.write_text(json.dumps({"note": note, "rows": list(rows.values())}, indent=1))
    if args.readme:
        write_section(Path(args.readme), table(list(rows.values()), note))
    print(table(list(rows.values()), note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
