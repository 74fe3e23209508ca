"""vaegan effects: a conditional MRI run's disease maps as NIfTI files, figures and a summary."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    brain,
    make_bids,
    phantom_cache_fixture,
    phantom_set_fixture,
    write_nifti,
)
from tests.visualization.conftest import saved_texts, shows_a_map
from vaegan.cli import main
from vaegan.data.phantoms import TRUTH_MAP

TINY = [
    "data.mri.size=16",
    "data.mri.progress=false",
    "model.network.channels=[8,16]",
    "model.network.hidden=[32]",
    "model.latent_dim=4",
    "train.epochs=1",
    "train.batch_size=8",
    "train.progress=false",
    "train.tensorboard=false",
]


def train(config: str, out: Path, data_dir: Path, *changes: str) -> Path:
    sets = [item for change in [*TINY, *changes] for item in ("--set", change)]
    assert main(["train", "--config", config, "--out", str(out), "--data-dir", str(data_dir), *sets]) == 0
    return out


@pytest.fixture(scope="module")
def phantom_run(tmp_path_factory, phantom_set, anatomy_cache) -> Path:
    """The shipped 3-D cVAE, tiny, registered, on the session's 12 phantoms (6 mm)."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(anatomy_cache)  # the template and registered scans, once a session
    try:
        return train("ad_cvae_3d", tmp_path_factory.mktemp("effects") / "run", phantom_set)
    finally:
        if old is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = old


def test_a_phantom_runs_maps_are_nifti_on_the_template_grid_and_scored(phantom_run, phantom_cache, capsys):
    from vaegan.data.datasets import split_subjects
    from vaegan.data.mri import config_volumes
    from vaegan.data.mri_transforms import registered_grid
    from vaegan.runs import load_run
    from vaegan.visualization.disease_maps import summarize_effects
    from vaegan.visualization.subject_maps import group_difference_maps

    assert main(["effects", str(phantom_run), "--samples", "2"]) == 0
    out = phantom_run / "effects"
    printed = capsys.readouterr().out
    assert "r(model map, true atrophy) = " in printed and "median r = " in printed

    run = load_run(phantom_run, device="cpu")
    mri = run.config.data.mri
    volumes = config_volumes(run.config.data)
    test = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))
    expected = summarize_effects(run.model, test, mri, samples=2, intervals=False)

    group = nib.load(out / "group_effect.nii.gz")
    assert np.allclose(group.affine, registered_grid(mri))  # in MNI152 mm, over the template
    assert int(group.header["sform_code"]) == int(group.header["qform_code"]) == 4  # and saying so to viewers
    assert group.shape == (16, 16, 16)
    # RAS voxel order (X, Y, Z) of the model's (D, H, W) = (Z, Y, X) volume; loss = minus the effect
    assert np.allclose(group.get_fdata(), -expected.effect[0, 0].permute(2, 1, 0).numpy(), atol=1e-6)
    truth = nib.load(out / "true_atrophy.nii.gz").get_fdata()
    assert truth.min() >= 0 and truth.max() > 0.1

    ad = [s for s, label in zip(test.subjects, test.labels.tolist()) if label == 1]
    maps = {"group_effect", "group_difference", "mean_control", "true_atrophy"}
    assert sorted(p.name for p in out.glob("*.nii.gz")) == sorted(
        [f"{name}.nii.gz" for name in maps] + [f"{s}_loss.nii.gz" for s in ad] + [f"{s}_as_CN.nii.gz" for s in ad]
    )
    healthy = nib.load(out / f"{ad[0]}_as_CN.nii.gz").get_fdata()
    assert 0.0 <= healthy.min() and healthy.max() <= 1.0 and healthy.std() > 0.05  # a brain, not a map

    summary = json.loads((out / "effects.json").read_text())
    assert summary["control"] == "CN" and summary["disease"] == "AD" and summary["split"] == "test"
    assert summary["truth"] == TRUTH_MAP  # which truth maps scored them (vaegan report flags older ones)
    assert summary["group"]["r_model"] == pytest.approx(expected.r_model, abs=1e-4)
    assert set(summary["group"]["intervals"]) >= {"r_model", "r_group_difference"}  # named as their figures
    assert [row["scan"] for row in summary["scans"]] == ad
    assert all(-1 <= row["r"] <= 1 for row in summary["scans"])
    assert summary["scans_by_class"] == {"CN": int((test.labels == 0).sum()), "AD": len(ad)}
    # the individual maps' floor: the subjects the run learned from, their group difference for every scan
    learned = volumes.select(~split_subjects(volumes.subjects, volumes.labels, mri.test_size))
    floor = group_difference_maps(test, learned, mri)
    assert summary["individual_floor"]["quartiles"] == pytest.approx(list(floor.quartiles()), abs=1e-6)
    assert summary["individual_floor"]["subjects"] == len(learned.subjects)
    assert f"floor: median r = {floor.quartiles()[1]:.2f}" in printed
    assert shows_a_map(out / "group_effect.png") and shows_a_map(out / "individual.png")
    assert not list(out.rglob(".*.tmp"))  # every file renamed into place


def test_refined_maps_come_from_each_scans_map_code_and_say_so(phantom_run, tmp_path, capsys):
    from vaegan.data.datasets import split_subjects
    from vaegan.data.mri import config_volumes
    from vaegan.runs import load_run
    from vaegan.visualization.subject_maps import individual_maps

    out = tmp_path / "refined"
    assert main(["effects", str(phantom_run), "--samples", "2", "--refine", "3", "--out", str(out)]) == 0
    run = load_run(phantom_run, device="cpu")
    volumes = config_volumes(run.config.data)
    test = volumes.select(split_subjects(volumes.subjects, volumes.labels, run.config.data.mri.test_size))
    expected = individual_maps(run.model, test, run.config.data.mri, refine=3)  # one MAP code, not 2 draws
    summary = json.loads((out / "effects.json").read_text())
    assert summary["refine"] == 3 and summary["samples"] == 2  # the draws of the group map
    assert [row["r"] for row in summary["scans"]] == pytest.approx(expected.r.tolist(), abs=1e-4)  # as rounded
    assert summary["fitted"] == "MAP code and warp"  # the config's warp was fitted to each scan with its code
    assert "MAP code and warp (3 steps)" in capsys.readouterr().out
    assert main(["effects", str(phantom_run), "--refine", "-1", "--out", str(tmp_path / "no")]) == 2
    assert "--refine -1" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_a_run_trained_on_other_phantoms_has_its_maps_marked(phantom_run, tmp_path, capsys):
    """Phantoms cached before 2026-12-03 are built again with the hippocampi turned (anatomy 2): a run trained
    on the old ones is mapped on phantoms it did not learn from, which the figures must say."""
    import shutil

    run = shutil.copytree(phantom_run, tmp_path / "run")
    record = json.loads((run / "subjects.json").read_text())
    assert record["phantoms"]["anatomy"] >= 2  # the fixture's run records the set it trained on
    (run / "subjects.json").write_text(json.dumps(record | {"phantoms": {"truth": 2, "anatomy": 1}}))
    assert main(["effects", str(run), "--out", str(tmp_path / "maps")]) == 0
    assert "trained on phantoms of truth maps 2 on anatomy 1" in capsys.readouterr().err
    notes = json.loads((tmp_path / "maps" / "effects.json").read_text())["notes"]
    assert any("anatomy 1" in note for note in notes)


def test_a_run_that_records_no_phantoms_has_its_maps_marked_as_unknown(phantom_run, tmp_path, capsys):
    """A run trained before runs recorded their phantoms (2026-12-03) may have learned from the old anatomy:
    that it cannot be told is said, not passed over."""
    import shutil

    run = shutil.copytree(phantom_run, tmp_path / "run")
    record = json.loads((run / "subjects.json").read_text())
    (run / "subjects.json").write_text(json.dumps({k: v for k, v in record.items() if k != "phantoms"}))
    assert main(["effects", str(run), "--out", str(tmp_path / "maps")]) == 0
    assert "records no phantom set" in capsys.readouterr().err
    notes = json.loads((tmp_path / "maps" / "effects.json").read_text())["notes"]
    assert any("records no phantom set" in note for note in notes)


def test_the_benchmark_refuses_to_measure_again_a_run_of_other_phantoms(phantom_run, tmp_path, monkeypatch):
    """benchmarks/ad_effects.py --reuse scores a kept run as evidence: on phantoms it did not learn from it
    stops, naming the run, rather than writing a row."""
    import shutil

    from vaegan.config import load_config

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import ad_effects

    run = shutil.copytree(phantom_run, tmp_path / "run")
    record = json.loads((run / "subjects.json").read_text())
    (run / "subjects.json").write_text(json.dumps(record | {"phantoms": {"truth": 2, "anatomy": 1}}))
    config = load_config(run / "config.yaml", [f"out={run}"])
    with pytest.raises(SystemExit, match=f"{config.name}: the run trained on phantoms of truth maps 2 on anatomy 1"):
        ad_effects.evaluate(config, tmp_path / "results", [], reuse=True, figures=False, ceiling=False)
    assert not (tmp_path / "results").exists()


def test_the_figures_are_cut_where_asked_and_a_point_outside_is_refused_before_any_work(
    phantom_run, tmp_path, capsys, monkeypatch
):
    """The largest cluster of an AD map is the ventricles, on the midline: its sagittal plane never crossed a
    hippocampus. --cut puts the three planes through a point of the user's (MNI152 mm for registered scans)."""
    from vaegan.visualization import brain

    texts = saved_texts(monkeypatch, brain)
    out = tmp_path / "hippocampus"
    assert main(["effects", str(phantom_run), "--samples", "1", "--cut", "-26", "-22", "-13", "--out", str(out)]) == 0
    assert texts.count("x=-26") == texts.count("y=-22") == texts.count("z=-13") == 5  # 3 rows + 2 rows of 1 subject
    assert json.loads((out / "effects.json").read_text())["cut_mm"] == [-26, -22, -13]
    assert shows_a_map(out / "group_effect.png")

    far = tmp_path / "far"
    assert main(["effects", str(phantom_run), "--cut", "0", "500", "0", "--out", str(far)]) == 2
    error = capsys.readouterr().err
    assert "--cut 0 500 0: cut point (0, 500, 0) mm lies outside the maps' volume: x " in error
    assert not (far / "effects.json").exists() and not list(far.glob("*.nii.gz"))


def test_the_classes_can_be_swapped_by_name_and_the_run_split_widened(phantom_run, phantom_cache, tmp_path):
    out = tmp_path / "swapped"
    args = ["effects", str(phantom_run), "--split", "all", "--samples", "1", "--out", str(out)]
    assert main([*args, "--control", "ad", "--disease", "CN"]) == 0
    summary = json.loads((out / "effects.json").read_text())
    assert summary["control"] == "AD" and summary["split"] == "all"
    assert sum(summary["scans_by_class"].values()) == 12
    assert len(summary["scans"]) == summary["scans_by_class"]["CN"]  # the CN scans are the "disease" ones now
    assert "individual_floor" not in summary  # no subjects left out of the maps to draw a group study from
    assert (out / f"{summary['scans'][0]['scan']}_as_AD.nii.gz").is_file()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--control", "AD", "--disease", "ad"], "both name class 1 (AD)"),
        (["--disease", "MCI"], "--disease 'MCI': not a class of this run; choose 0=CN or 1=AD"),
        (["--control", "0-1"], "--control '0-1': not a class"),
        (["--control", "2"], "--control '2': not a class"),
        (["--samples", "0"], "--samples 0"),
    ],
)
def test_impossible_requests_are_refused_before_any_work(phantom_run, tmp_path, capsys, flags, message):
    out = tmp_path / "effects"
    assert main(["effects", str(phantom_run), "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_your_own_scans_get_their_maps_unscored(tmp_path, capsys, monkeypatch):
    """No true atrophy: the same files, every r null, a 2-D model's maps as the slab of its slices."""
    diagnoses = {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, 13)}
    scans = make_bids(tmp_path / "bids", diagnoses, sessions={"sub-02": ["ses-01", "ses-02"]})
    run = train(
        "ad_cvae_2d",
        tmp_path / "run",
        scans,
        "data.dataset=mri",
        "data.mri.registration=off",
        "data.mri.spacing=2",
        "data.val_size=0.2",
    )
    import vaegan.visualization.brain

    texts = saved_texts(monkeypatch, vaegan.visualization.brain)
    assert main(["effects", str(run), "--split", "all", "--samples", "2", "--subjects", "12"]) == 0
    printed = capsys.readouterr().out
    assert "no true atrophy" in printed
    out = run / "effects"
    summary = json.loads((out / "effects.json").read_text())
    assert summary["group"]["r_model"] is None and all(row["r"] is None for row in summary["scans"])
    assert {"sub-02_ses-01", "sub-02_ses-02"} <= {row["scan"] for row in summary["scans"]}  # one map per session
    assert summary["scans_by_class"] == {"CN": 6, "AD": 7} and summary["subjects_by_class"] == {"CN": 6, "AD": 6}
    assert "6 CN and 7 AD scans of 6 and 6 subjects" in printed  # sub-02's two sessions count once in the group
    listed = printed.rsplit(" files in ", 1)[1]  # every file written is named: the closing line left three out
    for name in ("group_effect.nii.gz", "group_difference.nii.gz", "mean_control.nii.gz", "effects.json"):
        assert name in listed, listed
    assert "<scan>_loss.nii.gz and <scan>_as_CN.nii.gz for 7 scans" in listed
    assert any(t.startswith("sub-02_ses-01: as CN") for t in texts)  # each session's row says which it is
    # both figures say whose maps they are: --split all and --split test differed only in their r values
    said = [t for t in texts if "--split all" in t]
    assert len(said) == 2 and all("6 CN and 7 AD scans of 6 and 6 subjects" in t for t in said), said
    assert all("averaged over 2 posterior draws" in t for t in said) and "the first 7 of 7 AD scans" in said[1]
    texts.clear()
    # a scan's name is its own, not its place in the split: the test split names them alike
    assert main(["effects", str(run), "--samples", "1", "--out", str(tmp_path / "test")]) == 0
    record = json.loads((tmp_path / "test" / "effects.json").read_text())
    (cn, ad), (cn_people, ad_people) = record["scans_by_class"].values(), record["subjects_by_class"].values()
    said = [t for t in texts if "--split test" in t]
    counts = f"{cn} CN and {ad} AD scans of {cn_people} and {ad_people} subjects"
    assert len(said) == 2 and all(counts in t and "over 1 posterior draw" in t for t in said), said
    tested = record["scans"]
    names = {row["path"]: row["scan"] for row in summary["scans"]}
    assert tested and all(names[row["path"]] == row["scan"] for row in tested)
    assert not (out / "true_atrophy.nii.gz").exists()
    group = nib.load(out / "group_effect.nii.gz")
    assert group.ndim == 3 and np.isfinite(group.get_fdata()).all() and np.abs(group.get_fdata()).max() > 0
    assert shows_a_map(out / "group_effect.png") and shows_a_map(out / "individual.png")


def test_a_model_without_disease_maps_is_told_why(phantom_run, phantom_set, phantom_cache, tmp_path, capsys):
    run = train("ad_vae_3d", tmp_path / "vae", phantom_set)
    assert main(["effects", str(run)]) == 2
    assert "conditional model with an encoder" in capsys.readouterr().err and not (run / "effects").exists()


def test_the_seed_draws_the_posterior_samples(phantom_run, phantom_cache, tmp_path):
    """--seed was recorded in effects.json and changed nothing: every seed gave the same maps."""
    maps = {}
    for seed, name in (("0", "a"), ("7", "b"), ("0", "c")):
        out = tmp_path / name
        assert main(["effects", str(phantom_run), "--samples", "2", "--seed", seed, "--out", str(out)]) == 0
        maps[name] = nib.load(out / "group_effect.nii.gz").get_fdata()
    assert np.array_equal(maps["a"], maps["c"]) and not np.allclose(maps["a"], maps["b"])


def test_a_second_run_leaves_no_map_of_the_first_and_keeps_the_users_files(phantom_run, phantom_cache, tmp_path):
    """Stale subject maps sat beside the new ones, which effects.json no longer listed."""
    out = tmp_path / "effects"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "sub-9999_loss.nii.gz").write_text("mine too: no effects.json listed it")
    assert main(["effects", str(phantom_run), "--split", "all", "--samples", "1", "--out", str(out)]) == 0
    many = len(list(out.glob("*.nii.gz")))
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "effects.json").read_text())
    listed = {Path(f).name for f in summary["files"].values()} | {"effects.json"}
    assert {p.name for p in out.iterdir()} == listed | {"notes.txt", "sub-9999_loss.nii.gz"}
    assert len(list(out.glob("*.nii.gz"))) < many


def test_a_users_files_of_the_same_names_are_neither_replaced_nor_deleted(phantom_run, phantom_cache, tmp_path, capsys):
    """--out a folder of the user's: their group_effect.png was written over, and an effects.json of theirs
    with a "files" list was taken for vaegan's, so the files it named were deleted."""
    out = tmp_path / "analysis"
    out.mkdir()
    mine = {
        "effects.json": '{"files": ["photo.png"]}',
        "photo.png": "a photo of mine",
        "group_effect.png": "my own figure",
    }
    for name, text in mine.items():
        (out / name).write_text(text)
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "effects.json" in error and "group_effect.png" in error
    assert {p.name: p.read_text() for p in out.iterdir()} == mine
    (out / "effects.json").unlink()
    (out / "group_effect.png").unlink()
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 0
    assert (out / "photo.png").read_text() == "a photo of mine"


def test_each_scan_is_named_apart_whatever_its_file_is_called():
    """Files all named T1.nii.gz became T1-1, T1-2 ... numbered by their place in the split."""
    from vaegan.visualization.effect_files import scan_names

    paths = ["/d/p01/ses-01/T1.nii.gz", "/d/p01/ses-02/T1.nii.gz", "/d/p02/ses-01/T1.nii.gz"]
    names = scan_names(paths, ["p01", "p01", "p02"])
    assert names == ["p01_ses-01_T1", "p01_ses-02_T1", "p02_T1"]
    assert scan_names(paths[1:], ["p01", "p02"]) == ["p01_T1", "p02_T1"]
    assert len(set(scan_names(["/a/T1.nii.gz", "/b/T1.nii.gz", "/c/T1-1.nii.gz"], ["s", "s", "s"]))) == 3
    bids = ["/b/sub-01/ses-01/anat/sub-01_ses-01_T1w.nii.gz", "/b/sub-02/anat/sub-02_T1w.nii"]
    assert scan_names(bids, ["sub-01", "sub-02"]) == ["sub-01_ses-01", "sub-02"]
    # a number only where nothing else tells them apart, and never one a name already has (case aside)
    three = ["/d/p01/sub-01_T1w.nii.gz", "/d/p01/sub-01_T1w.nii", "/d/p01/sub-01_scan-1_T1w.nii.gz"]
    assert len({n.casefold() for n in scan_names(three, ["sub-01"] * 3)}) == 3
    assert len({n.casefold() for n in scan_names(["/a/S1.nii", "/a/s1.nii.gz"], ["s", "s"])}) == 2
    assert scan_names(["/d/p1/p1x.nii.gz", "/e/p1/p1x.nii.gz"], ["p1", "p1"]) == ["p1_d_p1x", "p1_e_p1x"]


@pytest.mark.parametrize("subject", ["../../../escape", "site/sub-05", "-x", ".hidden", "a\\b"])
def test_a_scan_name_is_one_plain_file_name_whatever_its_subject_is_called(subject):
    """A CSV's subject column went into the file name as it was: '../../x' wrote maps outside --out."""
    from vaegan.visualization.effect_files import scan_names

    (name,) = scan_names(["/d/T1.nii.gz"], [subject])
    assert "/" not in name and "\\" not in name and not name.startswith((".", "-")) and name


def test_out_may_not_be_the_run_its_own_folders_or_the_scans(phantom_run, phantom_set, tmp_path, capsys):
    for out in (phantom_run, phantom_run / "checkpoints", phantom_run / "latent", phantom_set, phantom_set / "x"):
        before = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
        assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 2
        assert "--out" in capsys.readouterr().err
        assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else None) == before


def test_scans_of_one_folder_without_every_map_keep_the_training_split(phantom_set, tmp_path, caplog):
    """One map missing: effects skipped that scan, and its split of the rest took a trained-on subject as test."""
    import shutil

    from vaegan.config import load_config
    from vaegan.experiment import load_data

    folder = tmp_path / "scans"
    shutil.copytree(phantom_set, folder)
    (missing,) = folder.glob("sub-0004/anat/*probseg*")
    missing.unlink()
    run = train("ad_cvae_3d", tmp_path / "run", folder, "data.dataset=mri", "data.mri.registration=off")
    assert main(["effects", str(run), "--samples", "1"]) == 0
    assert "11 of the 12 scans read have a usable true atrophy map" in caplog.text  # why they are unscored
    summary = json.loads((run / "effects" / "effects.json").read_text())
    config = load_config(run / "config.yaml")
    test = load_data(config).test
    held_out_ad = {test.group_names[g] for g, label in zip(test.groups.tolist(), test.labels.tolist()) if label == 1}
    assert {row["subject"] for row in summary["scans"]} == held_out_ad
    assert summary["group"]["r_model"] is None


def test_scaled_maps_remove_each_subjects_own_amount_of_the_disease(phantom_run, phantom_cache, tmp_path):
    out = tmp_path / "scaled"
    assert main(["effects", str(phantom_run), "--samples", "1", "--scaled", "--out", str(out)]) == 0
    summary = json.loads((out / "effects.json").read_text())
    assert summary["scaled"] is True
    assert all(0.0 <= row["amount"] <= 2.0 for row in summary["scans"])  # the label mix that fits each scan
    plain = tmp_path / "plain"
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(plain)]) == 0
    assert "amount" not in json.loads((plain / "effects.json").read_text())["scans"][0]


def test_an_interrupted_run_leaves_nothing_the_next_one_does_not_clear(
    phantom_run, phantom_cache, tmp_path, monkeypatch
):
    """Killed after its subject maps, a run had not yet listed them: the next run never deleted them."""
    import vaegan.visualization.brain

    out = tmp_path / "effects"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vaegan.visualization.brain, "plot_individual_maps", killed)
    assert main(["effects", str(phantom_run), "--split", "all", "--samples", "1", "--out", str(out)]) == 130
    assert len(list(out.glob("*_loss.nii.gz"))) == 6  # every AD scan of the 12 was mapped before the kill
    monkeypatch.undo()
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 0
    listed = {Path(f).name for f in json.loads((out / "effects.json").read_text())["files"].values()}
    assert {p.name for p in out.iterdir()} == listed | {"effects.json"}


def test_maps_of_another_run_are_not_replaced(phantom_run, phantom_cache, tmp_path, capsys):
    """One --out for two runs: the second deleted the first run's maps, whose effects.json named it."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(phantom_run, other, ignore=shutil.ignore_patterns("effects"))
    out = tmp_path / "shared"
    assert main(["effects", str(phantom_run), "--split", "all", "--samples", "1", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["effects", str(other), "--samples", "1", "--out", str(out)]) == 2
    assert "maps of another run" in capsys.readouterr().err and str(phantom_run.resolve()) in str(before)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing replaced, nothing deleted
    (out / "effects.json").rename(out / ".effects-pending.json")  # as a call of that run killed half-way left it
    assert main(["effects", str(other), "--samples", "1", "--out", str(out)]) == 2
    assert main(["effects", str(phantom_run), "--samples", "1", "--out", str(out)]) == 0  # its own run goes on


def test_the_default_folder_is_checked_as_an_out_is(phantom_run, tmp_path, capsys):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(phantom_run, run)
    shutil.rmtree(run / "effects", ignore_errors=True)
    (run / "effects").write_text("a file of mine")
    assert main(["effects", str(run), "--samples", "1"]) == 2
    assert "is a file" in capsys.readouterr().err and (run / "effects").read_text() == "a file of mine"


def test_out_may_not_lie_beside_the_scans_of_a_csv_cohort(phantom_set, tmp_path, capsys):
    """The scans' guard looked at data_dir only: a CSV's scans elsewhere got maps written beside them."""
    import csv

    rows = [("path", "label")]
    for line in (phantom_set / "participants.tsv").read_text().splitlines()[1:]:
        subject, diagnosis = line.split("\t")[:2]
        rows.append((str(phantom_set / subject / "anat" / f"{subject}_T1w.nii.gz"), diagnosis))
    cohort = tmp_path / "cohort.csv"
    with cohort.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    run = train("ad_cvae_3d", tmp_path / "run", cohort, "data.dataset=mri", "data.mri.registration=off")
    beside = phantom_set / "sub-0001" / "anat"
    before = sorted(p.name for p in beside.iterdir())
    assert main(["effects", str(run), "--samples", "1", "--out", str(beside)]) == 2
    assert "scans" in capsys.readouterr().err and sorted(p.name for p in beside.iterdir()) == before


def test_the_test_split_is_the_one_the_run_held_out_though_the_folder_changed(tmp_path, capsys, caplog):
    """A subject added after training reshuffles a recomputed split; the run's own record of it is used."""
    diagnoses = {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, 13)}
    scans = make_bids(tmp_path / "bids", diagnoses)
    run = train("ad_cvae_2d", tmp_path / "run", scans, "data.dataset=mri", "data.mri.registration=off")
    held = json.loads((run / "subjects.json").read_text())
    assert set(held) == {"train", "val", "test"} and held["test"]
    assert not set(held["test"]) & (set(held["train"]) | set(held["val"]))
    assert sorted(held["train"] + held["val"] + held["test"]) == sorted(diagnoses)
    more = make_bids(tmp_path / "more", {**diagnoses, **{f"sub-{i:02d}": "CN" for i in range(13, 16)}})
    assert main(["effects", str(run), "--samples", "1", "--data-dir", str(more), "--out", str(tmp_path / "e")]) == 0
    printed = capsys.readouterr()
    mapped = {row["subject"] for row in json.loads((tmp_path / "e" / "effects.json").read_text())["scans"]}
    assert mapped and mapped <= set(held["test"])  # never a subject the run trained on
    # the new ones: named, not mapped as held out
    assert "subjects the run did not have when it trained, 3 (sub-13, sub-14, sub-15)" in printed.err
    from vaegan.runs import load_run

    make_bids(scans, {**diagnoses, **{f"sub-{i:02d}": "CN" for i in range(13, 16)}})  # the run's own folder grows
    data = load_run(run, device="cpu").load_data()  # what evaluate and visualize read: said when it differs
    assert data.subjects()["test"] != held["test"]  # three more subjects draw another split
    assert "not of its held-out subjects" in caplog.text and data.notes  # and in evaluation.json's notes
    (run / "subjects.json").unlink()  # a run trained before the record: said, not silently redrawn
    assert main(["effects", str(run), "--samples", "1", "--out", str(tmp_path / "old")]) == 0
    assert "records no split" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["CN", "AD"], (0, 1)),
        (["AD", "CN"], (1, 0)),
        (["CN", "MCI", "AD"], (0, 2)),
        (["healthy", "sick"], (0, 1)),
        (["AD", "other"], (1, 0)),
    ],
)
def test_the_default_classes_are_cn_and_ad_by_name_where_the_run_has_them(names, expected):
    """--control 0 --disease 1 by default mapped CN against MCI for classes [CN, MCI, AD], and AD against CN
    for [AD, CN]: the wrong comparison, named correctly, and easy to miss."""
    from vaegan.visualization.disease_maps import default_classes

    assert default_classes(names) == expected


@pytest.mark.parametrize(
    ("names", "control", "disease", "expected"),
    [
        (["HC", "PD"], None, "HC", (1, 0)),  # the control: the first class other than the disease asked for
        (["CN", "AD"], None, "CN", (1, 0)),
        (["CN", "AD"], "AD", None, (1, 0)),
        (["CN", "MCI", "AD"], "MCI", None, (1, 2)),
        (["CN", "MCI", "AD"], None, None, (0, 2)),
    ],
)
def test_the_class_not_asked_for_defaults_to_one_other_than_the_one_asked_for(names, control, disease, expected):
    """--disease HC on [HC, PD] was refused as 'both name class 0', though the help promised control PD."""
    from vaegan.cli.effects import chosen_classes

    assert chosen_classes(names, control, disease) == expected


def test_a_run_that_records_no_data_is_not_said_to_be_mnist(tmp_path, capsys):
    """A cVAE trained by a bare Trainer records no data section: effects called it 'trained on mnist'."""
    from tests.conftest import tiny_splits
    from tests.models.tiny_configs import tiny_model
    from vaegan.training import Trainer
    from vaegan.training.config import TrainConfig

    config = TrainConfig(epochs=1, batch_size=16, grid_size=4, progress=False, tensorboard=False)
    Trainer(tiny_model("cvae"), tiny_splits(), config, out_dir=tmp_path / "run").fit()
    assert main(["effects", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "records no data section" in err and "mnist" not in err


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory) -> Path:
    """tmp/cohort.csv listing scans in tmp/scans/, a 2-D run in tmp/runs/csv trained on it; sub-02 converts: its
    first scan is CN, its second AD."""
    root = tmp_path_factory.mktemp("csv")
    rows = ["path,label,subject"]
    for i in range(1, 13):
        subject, diagnosis = f"sub-{i:02d}", "CN" if i % 2 else "AD"
        write_nifti(root / "scans" / f"{subject}.nii.gz", brain(i, ventricle=0.35 if diagnosis == "AD" else 0.2))
        rows.append(f"scans/{subject}.nii.gz,{diagnosis},{subject}")
    write_nifti(root / "scans" / "sub-02_early.nii.gz", brain(2, ventricle=0.2))
    rows.append("scans/sub-02_early.nii.gz,CN,sub-02")
    (root / "cohort.csv").write_text("\n".join(rows) + "\n")
    changes = ("data.dataset=mri", "data.mri.registration=off", "data.mri.spacing=2", "data.val_size=0.2")
    return train("ad_cvae_2d", root / "runs" / "csv", root / "cohort.csv", *changes)


def test_a_csv_runs_default_folder_is_not_among_its_scans_but_the_scans_folder_is(csv_run, capsys):
    """train accepted runs/csv beside cohort.csv; effects refused its default runs/csv/effects as 'among the scans'
    (it guarded the CSV's whole folder)."""
    scans = csv_run.parent.parent / "scans"
    before = sorted(p.name for p in scans.iterdir())
    assert main(["effects", str(csv_run), "--split", "all", "--samples", "1"]) == 0
    assert (csv_run / "effects" / "effects.json").is_file()
    capsys.readouterr()
    assert main(["effects", str(csv_run), "--split", "all", "--samples", "1", "--out", str(scans / "maps")]) == 2
    err = capsys.readouterr().err
    assert "among the scans" in err and "cohort.csv" in err, err
    assert sorted(p.name for p in scans.iterdir()) == before


def test_a_subject_in_both_classes_is_named_and_can_be_left_out(csv_run, tmp_path, capsys):
    """A CN->AD converter was in both groups of the group map, partly subtracting itself, and nothing said so."""
    out = tmp_path / "all"
    assert main(["effects", str(csv_run), "--split", "all", "--samples", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "sub-02" in err and "both groups" in err and "--exclude-converters" in err, err
    record = json.loads((out / "effects.json").read_text())
    assert record["converters"] == ["sub-02"] and any("sub-02" in note for note in record["notes"])
    assert record["scans_by_class"] == {"CN": 7, "AD": 6}
    left = tmp_path / "left"
    flags = ["--split", "all", "--samples", "1", "--out", str(left), "--exclude-converters"]
    assert main(["effects", str(csv_run), *flags]) == 0
    record = json.loads((left / "effects.json").read_text())
    assert record["scans_by_class"] == {"CN": 6, "AD": 5} and record["subjects_by_class"] == {"CN": 6, "AD": 5}
    assert "sub-02" not in {row["subject"] for row in record["scans"]}
    assert any("left out" in note and "sub-02" in note for note in record["notes"]), record["notes"]


def test_scaled_amounts_at_the_top_of_the_search_are_told_and_drawn(csv_run, tmp_path, capsys, monkeypatch):
    """--scaled fitted every scan at 2.0, the top of the amounts searched: no warning, and individual.png said
    neither 'scaled' nor the amounts."""
    import torch

    import vaegan.visualization.brain
    import vaegan.visualization.subject_maps

    monkeypatch.setattr(
        vaegan.visualization.subject_maps, "disease_amount", lambda model, x, **kw: torch.full((len(x),), 2.0)
    )
    texts = saved_texts(monkeypatch, vaegan.visualization.brain)
    out = tmp_path / "scaled"
    assert main(["effects", str(csv_run), "--split", "all", "--samples", "1", "--scaled", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "6 of 6 AD scans' fitted amounts are 2, the top" in err, err
    record = json.loads((out / "effects.json").read_text())
    assert any("the top" in note for note in record["notes"]) and {row["amount"] for row in record["scans"]} == {2.0}
    rows = [t for t in texts if ": as CN minus as observed" in t]
    assert rows and all("scaled: its amount of AD 2.00 (the top of those searched)" in t for t in rows), rows


def test_the_floor_leaves_out_the_learned_converters_too_when_asked(tmp_path, capsys):
    """--exclude-converters left the converters out of the maps but not out of the floor's group difference of
    the subjects the run learned from, where each still partly subtracted itself."""
    from vaegan.data.datasets import split_subjects
    from vaegan.data.mri import config_volumes
    from vaegan.data.phantoms import ATROPHY_SUFFIX
    from vaegan.runs import load_run
    from vaegan.visualization.subject_maps import group_difference_maps

    rows, converters = ["path,label,subject"], {"sub-04", "sub-12", "sub-16"}
    for i in range(1, 21):
        subject, diagnosis = f"sub-{i:02d}", "CN" if i % 2 else "AD"
        ventricle = 0.35 if diagnosis == "AD" else 0.2
        scans = [(subject, diagnosis, ventricle)] + ([(f"{subject}_early", "CN", 0.2)] if subject in converters else [])
        for name, label, size in scans:
            write_nifti(tmp_path / "scans" / f"{name}.nii.gz", brain(i, ventricle=size))
            loss = brain(i, ventricle=size) < brain(i, ventricle=0.2) - 100  # the tissue the disease removed
            write_nifti(tmp_path / "scans" / f"{name}{ATROPHY_SUFFIX}", loss.astype(np.float32))
            rows.append(f"scans/{name}.nii.gz,{label},{subject}")
    (tmp_path / "cohort.csv").write_text("\n".join(rows) + "\n")
    changes = ("data.dataset=mri", "data.mri.registration=off", "data.mri.spacing=2", "data.val_size=0.2")
    run = train("ad_cvae_2d", tmp_path / "run", tmp_path / "cohort.csv", *changes)
    out = tmp_path / "maps"
    assert main(["effects", str(run), "--samples", "1", "--exclude-converters", "--out", str(out)]) == 0
    capsys.readouterr()

    config = load_run(run, device="cpu").config
    volumes = config_volumes(config.data)
    tested = split_subjects(volumes.subjects, volumes.labels, config.data.mri.test_size)
    kept = torch.tensor([s not in converters for s in volumes.subjects])
    assert converters & {s for s, t in zip(volumes.subjects, tested.tolist()) if not t}  # learned converters
    floor = group_difference_maps(volumes.select(tested & kept), volumes.select(~tested & kept), config.data.mri)
    summary = json.loads((out / "effects.json").read_text())
    assert summary["individual_floor"]["subjects"] == len(set(volumes.select(~tested & kept).subjects))
    assert summary["individual_floor"]["quartiles"] == pytest.approx(list(floor.quartiles()), abs=1e-6)
