"""benchmarks/ad_effects.py: the options of the command reach every measurement, the curve's too."""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.data.mri_files import anatomy_cache_fixture, phantom_set_fixture  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def test_the_strength_curve_measures_with_the_commands_options(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # the script imports its neighbours by name
    import ad_effects

    seen = []
    monkeypatch.setattr(ad_effects, "evaluate", lambda *args, **kwargs: seen.append(kwargs) or {})
    monkeypatch.setattr(ad_effects, "strength_folder", lambda config, scale: tmp_path)  # no phantoms drawn
    args = argparse.Namespace(
        runs=str(tmp_path), results=str(tmp_path), reuse=False, samples=8, refine=50, ceiling=False, quick=False
    )
    args.refine_maps = 20
    rows = ad_effects.strength_curve(str(ROOT / "configs" / "ad_cvae_2d.yaml"), [], [1.0], args)
    assert rows[0]["atrophy_scale"] == 1.0
    assert seen[0]["refine"] == 50 and seen[0]["ceiling"] is False and seen[0]["samples"] == 8
    assert seen[0]["refine_maps"] == 20


def test_twins_of_another_phantom_set_are_refused(monkeypatch):
    """The ceiling's healthy twins must be this set's subjects: its controls are then the very same images."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import pytest
    import torch
    from ad_phantom_sets import twins_of

    from vaegan.data.mri import MRIVolumes

    def volumes(images: torch.Tensor) -> MRIVolumes:
        subjects = ["sub-001", "sub-002", "sub-003"]
        return MRIVolumes(images, torch.tensor([0, 1, 0]), subjects, subjects, ["CN", "AD"])

    test = volumes(torch.rand(3, 1, 4, 4, 4))
    twins = volumes(test.volumes.clone())
    twins.volumes[1] += 0.1  # the AD subject without its atrophy: differs, as it should
    assert twins_of(twins, test).tolist() == [True, True, True]
    other = volumes(torch.rand(3, 1, 4, 4, 4))  # same subject ids, another seed's brains
    with pytest.raises(ValueError, match="not the healthy twins"):
        twins_of(other, test)


def test_merged_rows_replace_theirs_and_keep_the_old_under_a_new_name(tmp_path, monkeypatch):
    import json

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_merge_results

    into = tmp_path / "kept" / "results.json"
    into.parent.mkdir()
    into.write_text(
        json.dumps(
            {
                "note": "",
                "curves": {},
                "rows": [{"name": "a", "r_model": 0.7, "settings": "x", "figure": "kept/a_effects.png"}],
            }
        )
    )
    new = tmp_path / "new"
    new.mkdir()
    (new / "a_effects.png").write_bytes(b"png")
    row = {"name": "a", "r_model": 0.8, "settings": "as written", "figure": str(new / "a_effects.png")}
    (new / "results.json").write_text(json.dumps({"note": "", "rows": [row]}))
    args = [str(new), "--into", str(into), "--keep-old", "_before", "--note", "older", "--readme", ""]
    assert ad_merge_results.main(args) == 0
    rows = {row["name"]: row for row in json.loads(into.read_text())["rows"]}
    assert rows["a"]["r_model"] == 0.8 and (into.parent / "a_effects.png").read_bytes() == b"png"
    assert rows["a_before"]["r_model"] == 0.7 and "figure" not in rows["a_before"]
    assert rows["a_before"]["settings"] == "x (older)"


def test_merged_keys_add_new_figures_to_rows_and_leave_every_other_figure(tmp_path, monkeypatch):
    """--keys: a row measured again for figures it lacked gains those keys only; a row it does not hold is
    refused before anything is written."""
    import json

    import pytest

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_merge_results

    into = tmp_path / "kept" / "results.json"
    into.parent.mkdir()
    saved = {"note": "", "curves": {}, "rows": [{"name": "a", "r_model": 0.7, "settings": "x", "figure": "a.png"}]}
    into.write_text(json.dumps(saved))
    new = tmp_path / "new"
    new.mkdir()
    (new / "a_individual_fitted.png").write_bytes(b"png")
    row = {"name": "a", "r_model": 0.71, "settings": "y", "figure": "b.png", "individual_refined": [0.7, 0.8, 0.9]}
    row["individual_fitted_figure"] = str(new / "a_individual_fitted.png")
    (new / "results.json").write_text(json.dumps({"note": "", "rows": [row]}))
    keys = ["individual_refined", "individual_fitted_figure"]
    args = [str(new), "--into", str(into), "--keys", *keys, "--readme", ""]
    assert ad_merge_results.main(args) == 0
    (kept,) = json.loads(into.read_text())["rows"]
    copied = str(into.parent / "a_individual_fitted.png")  # a figure among the keys is copied beside the results
    assert kept == saved["rows"][0] | {"individual_refined": [0.7, 0.8, 0.9], "individual_fitted_figure": copied}
    assert (into.parent / "a_individual_fitted.png").read_bytes() == b"png"
    (new / "results.json").write_text(json.dumps({"note": "", "rows": [row | {"name": "b"}]}))
    before = into.read_text()
    with pytest.raises(SystemExit, match="b: no such row"):
        ad_merge_results.main(args)
    assert into.read_text() == before


def test_the_maps_refinement_is_its_own_option(monkeypatch, tmp_path):
    """--refine-maps N: the individual maps' MAP-code steps, apart from --refine's (the AUC's, at 64^3 the
    slow part); by default the same."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_effects

    seen = []
    monkeypatch.setattr(ad_effects, "evaluate", lambda *args, **kwargs: seen.append(kwargs) or {"name": "x"})
    monkeypatch.setattr(ad_effects, "merge", lambda *args, **kwargs: {"rows": [], "curves": {}})
    monkeypatch.setattr(ad_effects, "prepare_phantoms", lambda config: "")  # no phantoms drawn
    monkeypatch.setattr(ad_effects, "render", lambda saved: "")
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    common = ["--configs", config, "--runs", str(tmp_path), "--results", str(tmp_path), "--readme", ""]
    ad_effects.main([*common, "--refine", "0", "--refine-maps", "100"])
    ad_effects.main([*common, "--refine", "30"])
    assert [(kw["refine"], kw["refine_maps"]) for kw in seen] == [(0, 100), (30, 30)]


def test_merged_curves_replace_theirs_keep_the_old_under_a_new_name_and_draw_both(tmp_path, monkeypatch):
    import json

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_merge_results

    def point(scale, r, **extra):
        keys = {"name": "c", "config": "c", "dims": "2-D", "image_shape": [1, 8, 8], "epochs": 1, "device": "CPU"}
        keys["test_subjects"] = 4
        return keys | {"atrophy_scale": scale, "r_model": r, "train_seconds": 1.0, "settings": "s", **extra}

    into = tmp_path / "kept" / "results.json"
    into.parent.mkdir()
    old = {"c": [point(0.5, 0.3), point(1.0, 0.6)], "other": [point(1.0, 0.5)]}
    into.write_text(json.dumps({"note": "", "rows": [], "curves": old}))
    new = tmp_path / "new"
    new.mkdir()
    (new / "results.json").write_text(
        json.dumps({"note": "", "rows": [], "curves": {"c": [point(0.5, 0.4, truth=2), point(1.0, 0.8, truth=2)]}})
    )
    args = [str(new), "--into", str(into), "--keep-old", "_before", "--note", "older", "--readme", ""]
    assert ad_merge_results.main(args) == 0
    curves = json.loads(into.read_text())["curves"]
    assert [p["r_model"] for p in curves["c"]] == [0.4, 0.8] and curves["other"] == old["other"]
    assert [p["r_model"] for p in curves["c_before"]] == [0.3, 0.6]
    assert curves["c_before"][0]["settings"] == "s (older)"
    assert (into.parent / "c_strength.png").stat().st_size > 0 and (into.parent / "c_before_strength.png").is_file()


def _fake_row(config, results, settings, **kwargs) -> dict:
    """What ``evaluate`` returns, without training or measuring: the keys the tables read."""
    return {
        "name": config.name,
        "model": "cvae",
        "dims": "2-D",
        "image_shape": [1, 32, 32],
        "test_subjects": 2,
        "epochs": 2,
        "train_seconds": 1.0,
        "device": "CPU",
        "settings": "as written",
        "out": config.out,
    }


def _script(monkeypatch, tmp_path):
    """ad_effects with training and measuring replaced by ``_fake_row``, run from ``tmp_path``."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_effects

    monkeypatch.chdir(tmp_path)  # the script's default folders are relative: they land here
    monkeypatch.setattr(ad_effects, "prepare_phantoms", lambda config: "")
    monkeypatch.setattr(ad_effects, "evaluate", _fake_row)
    monkeypatch.setattr(ad_effects, "strength_folder", lambda config, scale: tmp_path)
    return ad_effects


def test_quick_writes_its_own_rows_and_runs_and_never_the_committed_ones(monkeypatch, tmp_path):
    import json

    ad_effects = _script(monkeypatch, tmp_path)
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    assert ad_effects.main(["--quick", "--configs", config]) == 0
    assert not (tmp_path / "benchmarks").exists()  # the committed results.json, figures and tables' defaults
    found = list(tmp_path.rglob("results.json"))
    assert len(found) == 1
    (row,) = json.loads(found[0].read_text())["rows"]
    assert row["name"] == "ad_cvae_2d_quick"
    assert Path(row["out"]).parts[:2] != ("outputs", "ad_effects")  # not beside the real runs


def test_quick_refuses_the_committed_results_folder_and_tables(monkeypatch, tmp_path, capsys):
    import pytest

    ad_effects = _script(monkeypatch, tmp_path)
    monkeypatch.setattr(ad_effects, "ROOT", tmp_path)  # the committed folders, as the script names them, in here
    monkeypatch.setattr(ad_effects, "merge", lambda *args: pytest.fail("--quick wrote the committed results"))
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    committed = (["--results", str(tmp_path / "benchmarks" / "ad_effects")], ["--readme", "benchmarks/ad_effects.md"])
    for chosen in committed:
        with pytest.raises(SystemExit):
            ad_effects.main(["--quick", "--configs", config, *chosen])
        assert "--quick" in capsys.readouterr().err


def test_a_set_that_changes_the_measurement_needs_a_name(monkeypatch, tmp_path, capsys):
    """Without --set name=..., the config's own row and run folder would be replaced by another measurement."""
    import json

    import pytest

    ad_effects = _script(monkeypatch, tmp_path)
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    with pytest.raises(SystemExit):
        ad_effects.main(["--configs", config, "--set", "data.mri.size=32", "--results", "r", "--readme", ""])
    err = capsys.readouterr().err
    assert "ad_cvae_2d" in err and "--set name=" in err and "data.mri.size" in err
    assert not (tmp_path / "r").exists()
    # named, re-measured as shipped, or only less talkative: each runs
    for extra in (["--set", "data.mri.size=32", "--set", "name=small"], ["--reuse"], ["--set", "train.progress=true"]):
        assert ad_effects.main(["--configs", config, *extra, "--results", "r", "--readme", ""]) == 0
    names = {row["name"] for row in json.loads((tmp_path / "r" / "results.json").read_text())["rows"]}
    assert names == {"small", "ad_cvae_2d"}


def test_a_curve_joins_a_saved_curve_of_its_name_only_with_the_same_settings(monkeypatch, tmp_path, capsys):
    import json

    import pytest

    ad_effects = _script(monkeypatch, tmp_path)
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    point = {**_fake_row(ad_effects.load_config(config), None, []), "atrophy_scale": 0.5, "config": "ad_cvae_2d"}
    point["settings"] = "`data.mri.phantom_spacing=5` `data.mri.size=32`"
    (tmp_path / "r").mkdir()
    saved = {"note": "", "rows": [], "curves": {"ad_cvae_2d": [point]}}
    (tmp_path / "r" / "results.json").write_text(json.dumps(saved))
    same = ["--set", "data.mri.size=32", "--set", "data.mri.phantom_spacing=5"]  # the order does not matter
    command = ["--configs", config, "--strengths", "1", "--results", "r", "--readme", ""]
    assert ad_effects.main([*command, *same]) == 0
    with pytest.raises(SystemExit):
        ad_effects.main([*command, *same, "--set", "model.sigma=0.05"])
    assert "curve 'ad_cvae_2d'" in capsys.readouterr().err
    assert ad_effects.main([*command, *same, "--set", "model.sigma=0.05", "--set", "name=sharp"]) == 0
    curves = json.loads((tmp_path / "r" / "results.json").read_text())["curves"]
    assert [p["atrophy_scale"] for p in curves["ad_cvae_2d"]] == [0.5, 1.0] and "sharp" in curves


def test_merging_into_a_results_file_cut_short_names_it_and_an_interrupt_keeps_it(tmp_path, monkeypatch):
    import json
    import re

    import pytest

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_merge_results

    into, new = tmp_path / "results.json", tmp_path / "new"
    new.mkdir()
    (new / "results.json").write_text(json.dumps({"note": "", "rows": [{"name": "a", "settings": "as written"}]}))
    into.write_text('{"note": "", "rows": [{"na')  # cut short by an interrupt
    with pytest.raises(ValueError, match=re.escape(str(into))):
        ad_merge_results.main([str(new), "--into", str(into), "--readme", ""])
    into.write_text(json.dumps({"note": "", "curves": {}, "rows": []}))
    before = into.read_text()

    def half(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", half)
    with pytest.raises(KeyboardInterrupt):
        ad_merge_results.main([str(new), "--into", str(into), "--readme", ""])
    assert into.read_text() == before


def test_tables_from_a_results_file_cut_short_name_it(tmp_path, monkeypatch):
    import re

    import pytest

    ad_effects = _script(monkeypatch, tmp_path)
    broken = tmp_path / "results.json"
    broken.write_text('{"rows": [')
    with pytest.raises(ValueError, match=re.escape(str(broken))):
        ad_effects.main(["--from-results", str(broken), "--readme", ""])


def test_a_curve_point_does_not_train_over_a_kept_run_trained_otherwise(monkeypatch, tmp_path):
    # with a fresh --results there was no saved curve to compare with, and the points trained over
    # outputs/ad_effects/ad_cvae_2d_atrophy1, which a later --reuse then measured as the committed curve
    import pytest

    from vaegan.config import load_config, save_config

    ad_effects = _script(monkeypatch, tmp_path)
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    command = ["--configs", config, "--strengths", "1", "--results", "fresh", "--readme", ""]
    kept = tmp_path / "outputs" / "ad_effects" / "ad_cvae_2d_atrophy1"
    kept.mkdir(parents=True)
    filled = ["model.image_shape=[1,32,32]", "model.num_classes=2"]  # as training saves them, from the data
    save_config(load_config(config, ["data.mri.size=32", "train.epochs=30", *filled]), kept / "config.yaml")
    for settings in ([], ["--set", "data.mri.size=16"]):  # the config as shipped too: 64, 40 epochs
        with pytest.raises(SystemExit, match="ad_cvae_2d_atrophy1 was trained with other settings"):
            ad_effects.main([*command, *settings])
    assert ad_effects.main([*command, "--set", "data.mri.size=32", "--set", "train.epochs=30"]) == 0  # its own
    assert ad_effects.main([*command, "--set", "data.mri.size=16", "--set", "name=small"]) == 0


def test_the_floor_joins_a_saved_row_without_training_and_only_on_its_truth(monkeypatch, tmp_path, phantom_set, capsys):
    """--floor: the individual maps' model-free floor needs no model, so a row measured before it existed
    gets it from the same subjects and split; a row scored against other truth maps is refused."""
    import json

    import pytest

    from vaegan.data.phantoms import anatomy_version, truth_version
    from vaegan.visualization.subject_maps import group_difference_maps

    ad_effects = _script(monkeypatch, tmp_path)
    config = str(ROOT / "configs" / "ad_cvae_2d.yaml")
    sets = ["--set", f"data.data_dir={phantom_set}", "--set", "data.mri.size=16", "--set", "data.mri.spacing=6"]
    results = tmp_path / "res"
    results.mkdir()
    row = _fake_row(argparse.Namespace(name="ad_cvae_2d", out="x"), None, None)
    row |= {"truth": truth_version(phantom_set), "anatomy": anatomy_version(phantom_set)}
    other = _fake_row(argparse.Namespace(name="other", out="y"), None, None)
    (results / "results.json").write_text(json.dumps({"note": "kept", "rows": [row, other], "curves": {}}))
    command = ["--floor", "--configs", config, *sets, "--results", str(results), "--readme", ""]
    assert ad_effects.main(command) == 0
    saved = json.loads((results / "results.json").read_text())
    assert saved["note"] == "kept" and [r["name"] for r in saved["rows"]] == ["ad_cvae_2d", "other"]
    assert saved["rows"][1] == other and "epochs" in saved["rows"][0]

    mri = ad_effects.load_config(config, [f"data.data_dir={phantom_set}", "data.mri.size=16", "data.mri.spacing=6"])
    volumes = ad_effects.read_volumes(
        phantom_set, mri.data.mri.model_copy(update={"layout": "bids"}), maps_suffix=ad_effects.ATROPHY_SUFFIX
    )
    test = ad_effects.split_subjects(volumes.subjects, volumes.labels, mri.data.mri.test_size)
    expected = group_difference_maps(volumes.select(test), volumes.select(~test), mri.data.mri).quartiles()
    assert saved["rows"][0]["individual_group_difference"] == pytest.approx(list(expected))

    old = saved | {"rows": [row | {"truth": 1}, other]}
    (results / "results.json").write_text(json.dumps(old))
    with pytest.raises(SystemExit):
        ad_effects.main(command)
    assert json.loads((results / "results.json").read_text()) == old  # nothing written
    assert "truth maps 1" in capsys.readouterr().err
    drawn_before = saved | {"rows": [{k: v for k, v in saved["rows"][0].items() if k != "anatomy"}, other]}
    (results / "results.json").write_text(json.dumps(drawn_before))  # on the phantoms before the hippocampi turned
    with pytest.raises(SystemExit):
        ad_effects.main(command)
    assert "on anatomy 1" in capsys.readouterr().err
    (results / "results.json").write_text(json.dumps(saved | {"rows": [other]}))
    with pytest.raises(SystemExit):
        ad_effects.main(command)
    assert "no row" in capsys.readouterr().err
