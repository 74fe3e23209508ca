"""benchmarks/ad_tables.py: results.json merged run by run, its tables, and the edit of ad_effects.md."""

from __future__ import annotations

import json

from benchmarks.ad_tables import END, START, merge, render, write_section


def row(name: str, r_model: float | None = 0.7, **extra) -> dict:
    return {
        "name": name,
        "model": "cvae",
        "dims": "2-D",
        "image_shape": [1, 32, 32],
        "test_subjects": 40,
        "epochs": 30,
        "r_model": r_model,
        "r_group": 0.5,
        "individual": [0.5, 0.6, 0.7],
        "individual_baseline": [0.2, 0.3, 0.4],
        "subject_auc": 0.9,
        "train_seconds": 45.2,
        "device": "CPU",
        "settings": "as shipped",
        "truth": 2,  # scored against today's truth maps
        "anatomy": 2,  # on today's phantoms
        **extra,
    }


def point(scale: float, r_model: float) -> dict:
    return row("ad_cvae_2d_atrophy", r_model, config="ad_cvae_2d", atrophy_scale=scale)


def test_a_row_measured_again_replaces_its_own_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.json"
    merge(path, [row("a", 0.1), row("b", 0.2)], {}, "first note")
    saved = merge(path, [row("a", 0.9)], {}, "")
    assert {r["name"]: r["r_model"] for r in saved["rows"]} == {"a": 0.9, "b": 0.2}
    assert saved["note"] == "first note"  # an empty note keeps the one on file
    assert json.loads(path.read_text()) == saved


def test_a_strength_measured_again_replaces_its_point_and_draws_the_curve(tmp_path):
    path = tmp_path / "results.json"
    merge(path, [], {"ad_cvae_2d": [point(0.5, 0.3), point(1.0, 0.6)]}, "")
    saved = merge(path, [], {"ad_cvae_2d": [point(1.0, 0.8)]}, "")
    assert sorted((r["atrophy_scale"], r["r_model"]) for r in saved["curves"]["ad_cvae_2d"]) == [(0.5, 0.3), (1.0, 0.8)]
    assert (tmp_path / "ad_cvae_2d_strength.png").stat().st_size > 0


def test_the_curve_draws_the_fitted_maps_and_the_floor_where_every_point_has_them(tmp_path, monkeypatch):
    import matplotlib.axes

    from benchmarks.ad_tables import plot_curve

    drawn = []
    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", lambda self, x, y, **kw: drawn.append((kw["label"], y)))
    points = [
        point(s, 0.5) | {"individual_refined": [0.3, 0.4 * s, 0.5], "individual_group_difference": [0.2, 0.3, 0.4]}
        for s in (0.5, 1.0)
    ]
    plot_curve("c", points, tmp_path / "c.png")
    assert ("individual, code and warp fitted", [0.2, 0.4]) in drawn
    assert any(label.startswith("individual, floor") for label, _ in drawn)
    drawn.clear()
    plot_curve("c", [points[0], point(1.0, 0.6)], tmp_path / "c.png")  # one point without: not drawn
    assert not any("fitted" in label for label, _ in drawn)


def test_render_has_a_row_per_run_a_curve_table_and_dashes_for_what_was_not_measured():
    floored = point(1.0, 0.62) | {"individual_group_difference": [0.7, 0.75, 0.8], "individual_refined": [0.8] * 3}
    text = render({"note": "n", "rows": [row("a", None)], "curves": {"c": [point(0.5, 0.31), floored]}})
    lines = text.splitlines()
    (line,) = [line for line in lines if line.startswith("| a |")]
    assert "| 2-D 32x32 | 40 | 30 | – | 0.50 |" in line and "0.60 [0.50, 0.70]" in line and "45 on CPU" in line
    assert "### c against the atrophy strength" in text
    assert any(line.startswith("| 0.5 | 0.31 |") and "| 0.30 [0.20, 0.40] | – | – | 0.90 |" in line for line in lines)
    floor_and_fitted = "| 0.30 [0.20, 0.40] | 0.75 [0.70, 0.80] | 0.80 [0.80, 0.80] |"  # the floor, where measured
    assert any(line.startswith("| 1 | 0.62 |") and floor_and_fitted in line for line in lines)


def test_the_section_is_replaced_between_its_markers_and_the_rest_kept(tmp_path):
    readme = tmp_path / "ad_effects.md"
    readme.write_text(f"# AD\n\nby hand\n\n{START}\nold\n{END}\n\n## After\nkept\n")
    write_section(readme, "new table")
    text = readme.read_text()
    assert text.startswith("# AD\n\nby hand\n\n") and text.endswith(f"{END}\n\n## After\nkept\n")
    assert "old" not in text and "new table" in text


def test_render_gives_jackknife_intervals_in_parentheses_and_the_paired_margin():
    measured = row(
        "a",
        0.73,
        r_model_interval=[0.69, 0.77],
        r_group_interval=[0.45, 0.55],
        margin_interval=[0.15, 0.29],
        subject_auc_interval=[0.74, 0.97],
    )
    (line,) = [
        line
        for line in render({"note": "", "rows": [measured, row("old")], "curves": {}}).splitlines()
        if line.startswith("| a |")
    ]
    assert "| 0.73 (0.69, 0.77) | 0.50 (0.45, 0.55) | +0.23 (+0.15, +0.29) |" in line
    assert "| 0.90 (0.74, 0.97) |" in line
    (old,) = [
        line
        for line in render({"note": "", "rows": [row("old")], "curves": {}}).splitlines()
        if line.startswith("| old |")
    ]
    assert "| 0.70 | 0.50 | +0.20 |" in old  # measured before the intervals: the figures alone


def test_render_has_a_table_of_what_is_individual_for_the_rows_that_measured_it():
    measured = row(
        "a",
        individual_specific=[0.1, 0.2, 0.3],
        individual_baseline_specific=[0.0, 0.05, 0.1],
        individual_ceiling_specific=[0.8, 0.85, 0.9],
    )
    floored = row(
        "b",
        individual_specific=[0.1, 0.2, 0.3],
        individual_group_difference=[0.7, 0.75, 0.8],
        individual_refined=[0.62, 0.66, 0.7],
        individual_refined_specific=[0.3, 0.4, 0.5],
    )
    lines = render({"note": "", "rows": [measured, floored, row("old")], "curves": {}}).splitlines()
    head = lines.index(next(line for line in lines if line.startswith("| config | individual r | group difference")))
    assert lines[head + 2] == (
        "| a | 0.60 [0.50, 0.70] | – | 0.20 [0.10, 0.30] | 0.05 [0.00, 0.10] | 0.85 [0.80, 0.90] | – | – | – | – |"
    )
    assert lines[head + 3].startswith("| b | 0.60 [0.50, 0.70] | 0.75 [0.70, 0.80] | 0.20 [0.10, 0.30] |")
    assert lines[head + 3].endswith("| 0.66 [0.62, 0.70] | 0.40 [0.30, 0.50] |")  # from MAP codes
    assert not any(line.startswith("| old |") for line in lines[head:])


def test_render_scores_the_model_against_its_training_subjects_group_difference():
    measured = row(
        "a",
        0.73,
        r_reference=0.76,
        r_reference_interval=[0.72, 0.80],
        margin_reference_interval=[-0.06, 0.00],
        r_ad_maps_ceiling=0.86,
    )
    lines = render({"note": "", "rows": [measured, row("old")], "curves": {}}).splitlines()
    head = lines.index(next(line for line in lines if line.startswith("| config | r (effect vs truth) | r (training")))
    assert lines[head + 2] == "| a | 0.73 | 0.76 (0.72, 0.80) | -0.03 (-0.06, +0.00) | 0.86 |"
    assert not any(line.startswith("| old |") for line in lines[head:])  # measured before the reference was


def test_render_says_how_much_of_each_subject_the_model_reproduces():
    measured = row("a", explained=0.06, pca_explained=0.62, pca_components=64)
    lines = render({"note": "", "rows": [measured, row("old")], "curves": {}}).splitlines()
    head = lines.index(next(line for line in lines if line.startswith("| config | model | explained variance")))
    assert lines[head + 2] == "| a | cvae | 0.06 | – | – | 0.62 (64 components) |"  # measured before MAP codes
    assert not any(line.startswith("| old |") for line in lines[head:])
    refined = row("b", explained=0.06, pca_explained=0.62, pca_components=64, explained_refined=0.15)
    refined.update(subject_auc_refined=0.965, subject_auc_refined_interval=(0.91, 1.0))
    lines = render({"note": "", "rows": [refined], "curves": {}}).splitlines()
    assert "| b | cvae | 0.06 | 0.15 | 0.96 (0.91, 1.00) | 0.62 (64 components) |" in lines


def _interrupted_halfway(monkeypatch) -> None:
    """Every Path.write_text from here on writes half its text, then the user presses Ctrl-C."""
    from pathlib import Path

    def half(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", half)


def test_an_interrupted_write_leaves_results_json_and_the_tables_as_they_were(tmp_path, monkeypatch):

    import pytest

    path, readme = tmp_path / "results.json", tmp_path / "ad_effects.md"
    merge(path, [row("a", 0.1)], {}, "first note")
    write_section(readme, "old table")
    before = path.read_text(), readme.read_text()
    _interrupted_halfway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        merge(path, [row("b", 0.2)], {}, "")
    with pytest.raises(KeyboardInterrupt):
        write_section(readme, "new table")
    assert (path.read_text(), readme.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ad_effects.md", "results.json"]  # no temporary left


def test_a_results_file_that_is_not_json_is_named_in_the_error(tmp_path):
    import re

    import pytest

    path = tmp_path / "results.json"
    path.write_text('{"rows": [{"name": "a", "r_mo')  # cut short by an interrupt
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*(restore|remove)"):
        merge(path, [row("b", 0.2)], {}, "")


def test_rows_scored_against_the_old_truth_maps_are_marked_and_listed_after_the_others():
    """Before 2026-12-02 the phantoms saved the disease's relative loss as the truth; figures scored against it
    do not compare with those scored against the tissue removed, and the tables must not mix them unmarked."""
    old, new = row("old", 0.7, truth=1), row("new", 0.9)
    vae = row("vae", None, individual=None, truth=1)  # no maps: its AUC never read the truth
    curve = [point(0.5, 0.3), point(1.0, 0.6) | {"truth": 1}]
    text = render(
        {"note": "n", "rows": [old, vae, new], "curves": {"c": curve, "d": [point(0.5, 0.4), point(1.0, 0.7)]}}
    )
    assert text.index("### d against") < text.index("### c against")  # today's curves first, as the rows
    lines = text.splitlines()
    first = [line for line in lines if line.startswith(("| old", "| new"))][:2]
    assert first[0].startswith("| new |") and first[1].startswith("| old \u2020 |")
    assert "\u2020 scored against the old truth maps" in text
    assert "### c against the atrophy strength \u2020" in text
    assert any(line.startswith("| vae |") for line in lines)
    assert "\u2020" not in render({"note": "n", "rows": [new], "curves": {}})


def test_rows_on_the_phantoms_before_the_hippocampi_turned_are_marked_and_listed_after_todays():
    """Until 2026-12-03 the phantom hippocampi rose toward anterior (anatomy 1): the AD images and their truth
    differ from today's, so those rows (VAEs' AUCs too: they read the images) compare only with one another."""
    drawn_before = {key: value for key, value in row("before", 0.8).items() if key != "anatomy"}
    vae = row("vae", None, individual=None, anatomy=1)
    old_truth, today = row("old", 0.7, truth=1, anatomy=1), row("today", 0.9)
    curves = {"c": [point(0.5, 0.3) | {"anatomy": 1}, point(1.0, 0.6) | {"anatomy": 1}]}
    curves["d"] = [point(0.5, 0.4), point(1.0, 0.7)]
    text = render({"note": "n", "rows": [old_truth, drawn_before, vae, today], "curves": curves})
    names = [
        line.split("|")[1].strip()
        for line in text.splitlines()
        if line.startswith(("| old", "| before", "| vae", "| today"))
    ]
    assert names[:4] == ["today", "before \u2021", "vae \u2021", "old \u2020"]
    assert "\u2021 on the phantoms before 2026-12-03" in text and "\u2020 scored against the old truth maps" in text
    assert "### c against the atrophy strength \u2021" in text and text.index("### d against") < text.index("### c")
    assert "\u2021" not in render({"note": "n", "rows": [today], "curves": {}})
