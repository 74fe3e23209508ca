"""The tables, curve figure and results file of ``benchmarks/ad_effects.py``.

``results.json`` keeps every measured row and strength curve; ``render`` turns it into the
section of ``benchmarks/ad_effects.md`` between the markers, which ``write_section`` replaces.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vaegan.data.anatomy import ANATOMY_VERSION
from vaegan.foundation.files import write_text_atomic

START, END = "<!-- ad:start -->", "<!-- ad:end -->"
READING = [
    "- *r (effect vs truth)*: Pearson r, inside the brain, of the mean disease-effect map of the test CN "
    "subjects (encoded with CN, decoded as CN minus decoded as AD: the intensity the model says AD removes) "
    "with the mean true tissue loss of the test AD subjects. 1 = the model puts the atrophy exactly where it is.",
    "- *r (group difference)*: the same for the raw mean CN image minus mean AD image of the same test "
    "subjects, the model-free baseline; it also carries the subjects' variability (head size, position, bias "
    "field, age).",
    "- *model - group difference*: how far the model's map beats the raw difference. In parentheses, here "
    "and after r and the AUC: the 95% jackknife interval over the test subjects (the figure +- 1.96 standard "
    "errors from leaving out one CN or AD subject at a time; the margin from the same subjects, so paired). "
    "Rows without one were measured before the intervals were.",
    "- *r (AD maps, mean)*: the mean of the test AD subjects' individual (residual) maps against their mean "
    "true atrophy: a group map made on the very subjects whose atrophy it is scored against.",
    "- *individual r*: for each test AD subject, r inside the brain of its own map with its own true atrophy; "
    "median [25th-75th percentile] over the subjects. *residual*: the residual counterfactual, encoded with AD, "
    "decoded as CN minus decoded as AD (x + dec(z, CN) - dec(z, AD) - x: the reconstruction error cancels); "
    "*plain*: decoded as CN minus the image itself (the reconstruction error stays in); *model-free*: mean CN "
    "image minus the subject.",
    "- *ceiling*: the same two figures for the true counterfactual, each AD subject's healthy twin (the same "
    "phantom generated without its disease, `vaegan phantoms --atrophy-scale 0`, preprocessed alike) minus the "
    "subject: what a perfect model would score. It stays a little below 1 because an intensity map is scored "
    "against the tissue the disease removed (grey and white matter lose different intensities for the same "
    "fraction, and each twin is registered on its own); against the old truth maps it stood at 0.86-0.88.",
    "- *AUC*: AD vs CN by a logistic regression on latent means, fitted on every non-test subject (training "
    "and validation; rows measured before 2026-11-30 on the training subjects alone), scored on the test "
    "subjects; every image encoded with the CN label. A conditional model is handed the diagnosis "
    "as its label, so its code need not carry it (lower AUC); an unconditional VAE's code must.",
    "- Maps are averaged over `samples` posterior draws per image (1 = the posterior mean).",
    "- Figures: row 1 the model's map, row 2 the true atrophy, row 3 the raw group difference, "
    "over the mean CN anatomy (nilearn); `*_individual.png`: three test AD subjects, their map over their "
    "own true atrophy. 3-D volumes are cut through the largest cluster of true atrophy (the ventricles, on the "
    "midline), those of `ad_cvae_3d` since 2026-12-03 (late) through the left hippocampus, MNI152 (-26, -22, "
    "-13), as `ad_effects.py` now cuts every 3-D run on registered phantoms.",
]
CURVE_READING = (
    "Each point is a fresh phantom set, the same subjects (seed) with every AD subject's atrophy scaled by "
    "`atrophy_scale` (1 = the default phantoms; 0.25 = a quarter of the ventricle growth, cortical thinning "
    "and hippocampal loss), and a model trained on it with the config and settings named."
)


OLD_TRUTH = (
    "\u2020 scored against the old truth maps (before 2026-12-02 the phantoms saved the disease's relative "
    "loss of each voxel's tissue, blind to how much tissue the voxel held and to what ageing took first; "
    "a healthy twin's image minus its patient's correlates 0.85 with that map on the template grid, 0.99 "
    "with the tissue removed, which the phantoms save since): not comparable with rows without the mark."
)


OLD_ANATOMY = (
    "\u2021 on the phantoms before 2026-12-03 (anatomy 1: the hippocampi's long axis rose toward anterior, "
    "the real one rises toward posterior, so part of the hippocampal atrophy lay near the amygdala): the AD "
    "images and their truth maps differ from today's; comparable with one another, not with unmarked rows."
)


def _old(row: dict) -> bool:
    """Whether the row's maps were scored against the old truth maps (``truth`` absent: 1); a VAE's figures
    (AUC, explained variance) never read the truth."""
    return row.get("truth", 1) < 2 and (row.get("r_model") is not None or bool(row.get("individual")))


def _age(row: dict) -> int:
    """0: today's phantoms and truth; 1: today's truth on the phantoms of an older anatomy (\u2021; ``anatomy``
    absent: 1), a VAE's images included; 2: the old truth maps (\u2020, older anatomy too)."""
    return 2 if _old(row) else int(row.get("anatomy", 1) < ANATOMY_VERSION)


def _name(row: dict) -> str:
    """The row's name, marked where its figures were measured on older phantoms or truth maps."""
    return row["name"] + ("", " \u2021", " \u2020")[_age(row)]


def _fmt(value, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _relative(figure: str) -> str:
    """A figure's path as the README (in benchmarks/) links it."""
    path = Path(figure)
    return str(path.relative_to("benchmarks")) if path.is_relative_to("benchmarks") else str(path)


def _interval(value, interval, spec: str = ".2f") -> str:
    """A figure and its 95% jackknife interval in parentheses, or the figure alone (measured without one)."""
    if value is None or interval is None:
        return _fmt(value, spec)
    low, high = interval
    return f"{value:{spec}} ({low:{spec}}, {high:{spec}})"


def _margin(row: dict) -> str:
    """r (effect vs truth) - r (group difference), with its paired interval when measured."""
    if row.get("r_model") is None or row.get("r_group") is None:
        return "–"
    return _interval(row["r_model"] - row["r_group"], row.get("margin_interval"), "+.2f")


def _quartiles(value) -> str:
    return "–" if value is None else f"{value[1]:.2f} [{value[0]:.2f}, {value[2]:.2f}]"


def table(rows: list[dict], note: str) -> str:
    lines = [
        f"Phantoms (`vaegan phantoms`), train/val/test split by subject; torch {torch.__version__}. {note}",
        "",
        "| config | model | images | test subjects | epochs | r (effect vs truth) | r (group difference) "
        "| model - group difference | r (AD maps, mean) | individual r, residual | individual r, plain "
        "| individual r, model-free "
        "| ceiling: r (AD maps, mean) | ceiling: individual r "
        "| AUC per image | AUC per subject | samples | train s | settings (`--set`) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shape = "x".join(str(s) for s in r["image_shape"][1:])
        lines.append(
            f"| {_name(r)} | {r['model']} | {r['dims']} {shape} | {r['test_subjects']} | {r['epochs']} "
            f"| {_interval(r.get('r_model'), r.get('r_model_interval'))} "
            f"| {_interval(r.get('r_group'), r.get('r_group_interval'))} | {_margin(r)} | {_fmt(r.get('r_ad_maps'))} "
            f"| {_quartiles(r.get('individual'))} | {_quartiles(r.get('individual_plain'))} "
            f"| {_quartiles(r.get('individual_baseline'))} "
            f"| {_fmt(r.get('r_ad_maps_ceiling'))} | {_quartiles(r.get('individual_ceiling'))} "
            f"| {_fmt(r.get('image_auc'))} | {_interval(r.get('subject_auc'), r.get('subject_auc_interval'))} "
            f"| {r.get('samples', 1)} "
            f"| {r['train_seconds']:.0f} on {r['device']} | {r['settings']} |"
        )
    lines += [
        "",
        "Loss-only maps (negative values set to 0: the disease removes tissue, never adds it; "
        "`loss_only`), model and model-free alike:",
        "",
        "| config | r (effect vs truth) | r (group difference) | individual r, residual | individual r, model-free |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_name(r)} | {_fmt(r.get('r_model_one_sided'))} | {_fmt(r.get('r_group_one_sided'))} "
        f"| {_quartiles(r.get('individual_one_sided'))} | {_quartiles(r.get('individual_baseline_one_sided'))} |"
        for r in rows
        if r.get("individual_one_sided")
    ]
    lines += [
        "",
        "Against the data the model learned from: the voxel-wise group difference (mean CN image minus mean AD "
        "image, a GLM of the group alone) of every non-test subject, the model's training and validation "
        "subjects, scored against the same truth (`summarize_effects(reference=...)`). A model adds to its data "
        "only where it beats this map; the test subjects' own raw difference averages 40 brains and is noisier. "
        "Its interval moves only the test AD subjects (the truth); the margin is paired:",
        "",
        "| config | r (effect vs truth) | r (training subjects' group difference) "
        "| model - training group difference | ceiling: r (AD maps, mean) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_name(r)} | {_fmt(r.get('r_model'))} | {_interval(r['r_reference'], r.get('r_reference_interval'))} "
        f"| {_interval(r['r_model'] - r['r_reference'], r.get('margin_reference_interval'), '+.2f')} "
        f"| {_fmt(r.get('r_ad_maps_ceiling'))} |"
        for r in rows
        if r.get("r_reference") is not None and r.get("r_model") is not None
    ]
    lines += [
        "",
        "How much of each test subject the model reproduces: the explained variance of its reconstructions "
        "(posterior mean) around the mean image of the non-test subjects, 1 - MSE(reconstruction) / "
        "MSE(mean image), beside a PCA of the non-test images with as many components as the model's code "
        "(`explained_variance`). 0 draws every subject as the mean brain. In 2-D the mean image is that of "
        "slices from every position, so most of what a 2-D model explains is which slice it was given. "
        "*MAP codes*: each image's code refined from the encoder's guess by 100 Adam steps on "
        "-log p(x|z) - log p(z) (`VAE.map_code`, `--refine`), the same decoder, and the latent AUC on those codes "
        "(the probe's training and test subjects refined alike):",
        "",
        "| config | model | explained variance | explained, MAP codes | AUC per subject, MAP codes "
        "| PCA of the same size |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_name(r)} | {r['model']} | {r['explained']:.2f} | {_fmt(r.get('explained_refined'))} "
        f"| {_interval(r.get('subject_auc_refined'), r.get('subject_auc_refined_interval'))} "
        f"| {r['pca_explained']:.2f} ({r['pca_components']} components) |"
        for r in rows
        if r.get("explained") is not None
    ]
    lines += [
        "",
        "What is individual: each AD subject's map minus the mean map of the test AD subjects, against its true "
        "atrophy minus their mean atrophy (`quartiles(specific=True)`); a map that draws the group pattern "
        "into every subject scores well in the main table and about 0 here. *Group difference for everyone*: "
        "the non-test subjects' mean CN image minus their mean AD image, one map handed to every test AD "
        "subject (`group_difference_maps`): what a group study says of each patient, the floor a model's "
        "individual r must beat to say more (– where the row was measured before it was). *Scaled*: each "
        "subject's own amount of AD removed (`individual_maps(scaled=True)`: the label mix that reconstructs "
        "the subject best, `disease_amount`), not the class's average. *Fitted*: each subject's map decoded "
        "from the code, and with `model.warp_points` the warp, that explain it best (`individual_maps(refine=...)`, "
        "the row's `individual_refine_steps` Adam steps from the encoder's mean; – where not measured):",
        "",
        "| config | individual r | group difference for everyone | beyond the group, residual "
        "| beyond the group, model-free | beyond the group, ceiling | individual r, scaled "
        "| beyond the group, scaled | individual r, fitted | beyond the group, fitted |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_name(r)} | {_quartiles(r.get('individual'))} | {_quartiles(r.get('individual_group_difference'))} "
        f"| {_quartiles(r.get('individual_specific'))} "
        f"| {_quartiles(r.get('individual_baseline_specific'))} | {_quartiles(r.get('individual_ceiling_specific'))} "
        f"| {_quartiles(r.get('individual_scaled'))} | {_quartiles(r.get('individual_scaled_specific'))} "
        f"| {_quartiles(r.get('individual_refined'))} | {_quartiles(r.get('individual_refined_specific'))} |"
        for r in rows
        if r.get("individual_specific")
    ]
    figures = [
        f"![{r['name']}]({_relative(r[key])})"
        for r in rows
        for key in ("figure", "individual_figure", "individual_fitted_figure")
        if r.get(key)
    ]
    return "\n".join(lines + ["", *READING, ""] + figures)


def curve_table(curves: dict[str, list[dict]]) -> str:
    """The strength curves as tables, one per config, with their figures; one-point curves as experiments."""
    out = []
    single = [rows[0] for rows in curves.values() if len(rows) == 1]
    if single:
        out += [
            "### Experiments (one phantom set each)",
            "",
            "| run | images | atrophy scale | r (effect vs truth) | r (group difference) | r (AD maps, mean) "
            "| individual r, residual | individual r, model-free | AUC per subject | epochs | train s "
            "| settings (`--set`) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {_name(r | {'name': r['config']})} | {r['dims']} {'x'.join(str(n) for n in r['image_shape'][1:])} "
            f"| {r['atrophy_scale']:g} | {_fmt(r.get('r_model'))} | {_fmt(r.get('r_group'))} "
            f"| {_fmt(r.get('r_ad_maps'))} | {_quartiles(r.get('individual'))} "
            f"| {_quartiles(r.get('individual_baseline'))} | {_fmt(r.get('subject_auc'))} | {r['epochs']} "
            f"| {r['train_seconds']:.0f} on {r['device']} | {r['settings']} |"
            for r in single
        ]
        out.append("")
    # curves on today's phantoms and truth maps first, as the rows are
    for name, rows in sorted(curves.items(), key=lambda item: max(map(_age, item[1]))):
        if len(rows) == 1:
            continue
        old = ("", " \u2021", " \u2020")[max(map(_age, rows))]
        out += [
            f"### {name} against the atrophy strength{old}",
            "",
            CURVE_READING,
            "",
            "| atrophy scale | r (effect vs truth) | r (group difference) | r (AD maps, mean) | individual r, residual "
            "| individual r, model-free | floor: group difference for everyone | individual r, fitted "
            "| AUC per subject | epochs | train s | settings (`--set`) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(rows, key=lambda row: row["atrophy_scale"]):
            out.append(
                f"| {r['atrophy_scale']:g} | {_fmt(r.get('r_model'))} | {_fmt(r.get('r_group'))} "
                f"| {_fmt(r.get('r_ad_maps'))} "
                f"| {_quartiles(r.get('individual'))} | {_quartiles(r.get('individual_baseline'))} "
                f"| {_quartiles(r.get('individual_group_difference'))} | {_quartiles(r.get('individual_refined'))} "
                f"| {_fmt(r.get('subject_auc'))} | {r['epochs']} | {r['train_seconds']:.0f} on {r['device']} "
                f"| {r['settings']} |"
            )
        out += ["", f"![{name} strength curve](ad_effects/{name}_strength.png)", ""]
    return "\n".join(out)


def plot_curve(name: str, rows: list[dict], path: Path) -> Path:
    """r of the model's maps, of the model-free maps (and the floor and the fitted maps, where every point
    measured them), and the subject AUC against the atrophy scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda row: row["atrophy_scale"])
    x = [r["atrophy_scale"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, [r.get("r_model") for r in rows], "o-", label="group map, model")
    ax.plot(x, [r.get("r_group") for r in rows], "o--", label="group map, raw group difference")
    for key, style, label in (
        ("individual", "s-", "individual, residual"),
        ("individual_baseline", "s--", "individual, model-free"),
        ("individual_group_difference", "s:", "individual, floor (training group difference)"),
        ("individual_refined", "D-", "individual, code and warp fitted"),
    ):
        if all(r.get(key) for r in rows):
            q = [r[key] for r in rows]
            ax.errorbar(
                x, [v[1] for v in q], yerr=[[v[1] - v[0] for v in q], [v[2] - v[1] for v in q]], fmt=style, label=label
            )
    ax.plot(x, [r.get("subject_auc") for r in rows], "^:", label="latent AUC per subject")
    shape = "x".join(str(n) for n in rows[0]["image_shape"][1:])
    title = f"{name}: {rows[0]['dims']} {shape}, {rows[0]['test_subjects']} test subjects"
    ax.set(xlabel="atrophy scale (1 = default phantoms)", ylabel="r with the true atrophy / AUC", title=title)
    ax.set_ylim(-0.1, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_section(readme: Path, body: str) -> None:
    """Replace the text between the markers (appending them if absent); the rest of the file stays as it is."""
    text = readme.read_text() if readme.exists() else "# Alzheimer's disease effects on phantoms\n"
    section = f"{START}\n## Results (`benchmarks/ad_effects.py`)\n\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_text_atomic(readme, text)  # an interrupt leaves the old file, never half of one


def merge(path: Path, rows: list[dict], curves: dict[str, list[dict]], note: str) -> dict:
    """``path``'s results with these added, read just before writing, so configs can be run one by one
    (or at once): a config measured again replaces its row, a strength measured again its point."""
    saved = read_results(path) if path.is_file() else {"rows": [], "note": ""}
    by_name = {row["name"]: row for row in saved["rows"]} | {row["name"]: row for row in rows}
    all_curves = saved.get("curves", {})
    for name, curve in curves.items():
        scales = {row["atrophy_scale"] for row in curve}
        all_curves[name] = [r for r in all_curves.get(name, []) if r["atrophy_scale"] not in scales] + curve
        if len(all_curves[name]) > 1:
            plot_curve(name, all_curves[name], path.parent / f"{name}_strength.png")
    saved = {"note": note or saved["note"], "rows": list(by_name.values()), "curves": all_curves}
    write_text_atomic(path, json.dumps(saved, indent=1))
    return saved


def read_results(path: Path) -> dict:
    """The results file at ``path``.

    Raises:
        ValueError: ``path`` is not JSON (cut short, e.g. written by a run before its writes were atomic).
    """
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: not a results file that can be read ({error}); restore it (git restore, if it is the "
            "committed benchmarks/ad_effects/results.json) or remove it to start a new one"
        ) from None


def render(saved: dict) -> str:
    """The tables of ``saved``: rows on today's phantoms and truth maps first, the older ones after, marked."""
    rows = sorted(saved["rows"], key=_age)  # stable: each group keeps its order
    body = table(rows, saved["note"])
    body += "\n\n" + curve_table(saved["curves"]) if saved.get("curves") else ""
    every = saved["rows"] + [r for curve in saved.get("curves", {}).values() for r in curve]
    ages = set(map(_age, every))
    return body + "".join("\n\n" + legend for age, legend in ((1, OLD_ANATOMY), (2, OLD_TRUTH)) if age in ages)
