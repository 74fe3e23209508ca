"""Phantom brains: the BIDS folder they form, their atrophy, the cached dataset, and a 1-epoch AD run on them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO
from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    options,
    phantom_cache_fixture,
    phantom_set_fixture,
)
from vaegan.cli import main
from vaegan.config import load_config
from vaegan.data import load_dataset
from vaegan.data.anatomy import ANATOMY_VERSION, atrophy, load_anatomy
from vaegan.data.config import DataConfig
from vaegan.data.mri import model_grid, read_volumes
from vaegan.data.mri_transforms import registered_grid
from vaegan.data.phantoms import (
    ATROPHY_SUFFIX,
    TRUTH_MAP,
    anatomy_version,
    draw_subjects,
    phantom_settings,
    synthesize,
    tissue_loss,
    truth_version,
    write_phantoms,
)
from vaegan.foundation.errors import DataError

TINY_MRI = ["data.mri.phantom_subjects=8", "data.mri.phantom_spacing=6", "data.mri.size=16", "data.mri.progress=false"]
TINY_NET = ["model.network.channels=[8,16]", "model.network.hidden=[32]", "model.latent_dim=4"]
GRIDS = ("recons", "fakes", "analogies")
TINY_TRAIN = ["train.epochs=1", "train.batch_size=16", "train.progress=false", "train.tensorboard=false"]


def participants(folder: Path) -> list[dict[str, str]]:
    with (folder / "participants.tsv").open() as file:
        return list(csv.DictReader(file, delimiter="\t"))


def test_every_subject_has_an_image_and_its_true_atrophy_map(phantom_set):
    rows = participants(phantom_set)
    assert len(rows) == 12 and {r["diagnosis"] for r in rows} == {"CN", "AD"}
    assert (phantom_set / "dataset_description.json").is_file()
    for row in rows:
        anat = phantom_set / row["participant_id"] / "anat"
        image = nib.load(anat / f"{row['participant_id']}_T1w.nii.gz")
        truth = nib.load(anat / f"{row['participant_id']}{ATROPHY_SUFFIX}")
        assert image.shape == truth.shape and np.allclose(image.affine, truth.affine)
        assert image.get_data_dtype() == np.int16 and float(np.asarray(image.dataobj).max()) > 300
        loss = truth.get_fdata()
        assert 0.0 <= loss.min() and loss.max() <= 1.0
        assert (loss.max() > 0.0) == (row["diagnosis"] == "AD"), row  # atrophy only in AD, none at all in CN


def test_ad_subjects_have_bigger_ventricles(phantom_set, phantom_cache):
    data = read_volumes(phantom_set, options(size=24, spacing=6.0, cache=False))
    centre = data.volumes[:, 0, 8:16, 8:16, 8:16]  # the middle third holds the lateral ventricles
    dark = (centre < 0.3).flatten(1).sum(1).float()
    ad, cn = dark[data.labels == 1].mean(), dark[data.labels == 0].mean()
    assert ad > 1.5 * cn, (ad, cn)


def test_atrophy_grows_with_severity_and_spares_cn(phantom_cache):
    anatomy = load_anatomy()
    mild, severe = atrophy(anatomy, 0.4), atrophy(anatomy, 1.0)
    assert not atrophy(anatomy, 0.0).any()
    assert severe.sum() > 1.5 * mild.sum() > 0
    near_ventricles = (anatomy.ventricle_depth > 0) & (anatomy.ventricle_depth <= 2.0)
    assert severe[near_ventricles].mean() > 0.5  # ventricles grow into their rim


def test_the_saved_atrophy_is_the_tissue_that_turns_a_healthy_twin_into_its_patient(phantom_cache):
    """The truth map was the disease's *relative* loss, ventricle term times tissue: the image of its healthy
    twin minus the patient's correlated with it at 0.85 on the template grid, so every map's r was capped there."""
    anatomy = load_anatomy()
    patient = next(s for s in draw_subjects(40, seed=1) if s.diagnosis == "AD" and s.age > 75)
    image, truth, _ = synthesize(anatomy, patient, 4.0)
    twin, twin_truth, _ = synthesize(anatomy, patient, 4.0, atrophy_scale=0.0)
    assert not twin_truth.any()
    brain = image > 0.05 * image.max()
    loss = twin.astype(np.float32) - image.astype(np.float32)
    assert np.corrcoef(loss[brain], truth[brain])[0, 1] > 0.93
    # on the template grid: the twin's tissue minus the patient's, as fractions of each voxel
    lost, removed = tissue_loss(anatomy, patient)
    twin_lost, _ = tissue_loss(anatomy, patient, atrophy_scale=0.0)
    np.testing.assert_allclose(removed, anatomy.tissue * ((1 - twin_lost) - (1 - lost)), atol=1e-6)


def test_the_hippocampi_rise_toward_posterior_as_real_ones_do():
    """A review found their long axis rising toward anterior: the tail sat about 20 mm too low, so part of the
    hippocampal atrophy fell near the amygdala. The real hippocampus runs from its head (anterior, inferior)
    up to its tail (posterior, superior)."""
    from vaegan.data.anatomy import HIPPOCAMPI, _hippocampi

    y, z = np.meshgrid(np.arange(-70.0, 30.0), np.arange(-50.0, 30.0), indexing="ij")
    for x, centre_y, centre_z in HIPPOCAMPI:
        mask = _hippocampi(np.stack([np.full_like(y, x), y, z]))
        head, tail = mask * (y > centre_y + 8), mask * (y < centre_y - 8)
        head_z, tail_z = (float((part * z).sum() / part.sum()) for part in (head, tail))
        assert tail_z > centre_z > head_z and tail_z - head_z > 8, (head_z, tail_z)


def test_the_figures_hippocampus_cut_passes_through_the_phantoms_hippocampus():
    """benchmarks/ad_effects.py cuts its 3-D figures there: the planes must cross the hippocampal atrophy."""
    from vaegan.data.anatomy import _hippocampi
    from vaegan.visualization.brain import HIPPOCAMPUS_MNI

    point = np.array(HIPPOCAMPUS_MNI, dtype=float).reshape(3, 1)
    assert float(_hippocampi(point)[0]) > 0.9


def test_a_phantom_set_cached_with_another_anatomy_is_built_again(tmp_path, phantom_cache):
    from vaegan.data.anatomy import ANATOMY_VERSION
    from vaegan.data.shared_folder import folder_is_complete, write_manifest

    settings = phantom_settings(3, 0, 8.0)
    assert settings["anatomy"] == ANATOMY_VERSION >= 2  # 2: the hippocampi tilted as real ones are
    folder = tmp_path / "n3"
    (folder / "sub-01").mkdir(parents=True)
    write_manifest(folder, {key: value for key, value in settings.items() if key != "anatomy"})  # before it
    assert not folder_is_complete(folder, settings)


def test_a_phantom_set_cached_with_the_old_truth_maps_is_built_again(tmp_path, phantom_cache):
    from vaegan.data.shared_folder import folder_is_complete, write_manifest

    folder = tmp_path / "n3"
    (folder / "sub-01").mkdir(parents=True)
    (folder / "sub-01" / "x.nii.gz").write_bytes(b"old")
    write_manifest(folder, {"kind": "phantoms", "subjects": 3, "seed": 0, "spacing": 8.0})  # as written before
    assert not folder_is_complete(folder, phantom_settings(3, 0, 8.0))


def test_a_phantom_folder_written_with_the_old_truth_maps_is_read_with_a_warning(tmp_path, phantom_set, caplog):
    import shutil

    from vaegan.data.mri import read_phantom_volumes
    from vaegan.data.shared_folder import MANIFEST

    assert truth_version(phantom_set) == TRUTH_MAP
    old = shutil.copytree(phantom_set, tmp_path / "old")  # as `vaegan phantoms --out` wrote it before 2026-12-02
    record = json.loads((old / MANIFEST).read_text())
    del record["settings"]["truth"]
    (old / MANIFEST).write_text(json.dumps(record))
    assert truth_version(old) == 1 and truth_version(tmp_path) is None  # no phantom set there at all
    assert anatomy_version(phantom_set) == ANATOMY_VERSION and anatomy_version(tmp_path) is None
    del record["settings"]["anatomy"]
    (old / MANIFEST).write_text(json.dumps(record))
    assert anatomy_version(old) == 1  # drawn before the hippocampi were turned the right way
    for damaged in ("x", None, [2], True):  # a marker edited by hand: not a version, and no crash on every read
        (tmp_path / MANIFEST).write_text(
            json.dumps({"settings": {"kind": "phantoms", "truth": damaged, "anatomy": damaged}})
        )
        assert truth_version(tmp_path) is None and anatomy_version(tmp_path) is None, damaged
    with caplog.at_level("WARNING"):
        data = read_phantom_volumes(old, options(size=16, spacing=6.0, cache=False))
    assert data.maps is not None  # still read, so its images train as before
    assert str(old) in caplog.text and "older truth maps" in caplog.text and "vaegan phantoms" in caplog.text


def test_subjects_are_balanced_and_reproducible():
    subjects = draw_subjects(20, seed=3)
    assert sum(s.diagnosis == "AD" for s in subjects) == 10
    assert all((s.severity > 0) == (s.diagnosis == "AD") for s in subjects)
    assert subjects == draw_subjects(20, seed=3) and subjects != draw_subjects(20, seed=4)


def test_cli_writes_phantoms_and_refuses_a_full_folder(tmp_path, phantom_cache, capsys):
    out = tmp_path / "ph"
    assert main(["phantoms", "--out", str(out), "--subjects", "3", "--spacing", "8", "--no-progress"]) == 0
    assert len(participants(out)) == 3 and "wrote 3 phantom subjects" in capsys.readouterr().out
    assert not list(tmp_path.glob(".ph.partial-*"))
    assert main(["phantoms", "--out", str(out), "--subjects", "3"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    with pytest.raises(DataError, match="at least 2"):
        write_phantoms(tmp_path / "one", subjects=1)


def test_cli_clears_what_a_killed_phantoms_run_left_and_refuses_a_second_writer(tmp_path, phantom_cache, capsys):
    """A SIGKILLed `vaegan phantoms --out` left its hidden .NAME.partial-* folder for good."""
    from filelock import FileLock

    stale = tmp_path / ".ph.partial-x1y2"
    stale.mkdir()
    (stale / "sub-001_T1w.nii.gz").write_bytes(b"half a subject")
    out = tmp_path / "ph"
    with FileLock(str(tmp_path / ".ph.lock")):  # another process writing the same folder now
        assert main(["phantoms", "--out", str(out), "--subjects", "3", "--spacing", "8", "--no-progress"]) == 2
    assert "another process is writing" in capsys.readouterr().err and stale.is_dir()
    assert main(["phantoms", "--out", str(out), "--subjects", "3", "--spacing", "8", "--no-progress"]) == 0
    assert not list(tmp_path.glob(".ph.partial-*")) and len(participants(out)) == 3


def test_phantoms_dataset_generates_into_the_cache_once(phantom_cache, monkeypatch):
    mri = options(phantom_subjects=6, phantom_spacing=8.0, spacing=8.0, size=12, test_size=0.34, spatial_dims=3)
    splits = load_dataset("phantoms", val_size=0.25, mri=mri)
    folder = phantom_cache / "phantoms" / "n6-seed0-8mm"
    assert (folder / "participants.tsv").is_file()
    assert splits.image_shape == (1, 12, 12, 12) and splits.class_names == ["CN", "AD"]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 6

    def regenerate(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr("vaegan.data.phantoms.write_phantoms", regenerate)
    again = load_dataset("phantoms", val_size=0.25, mri=mri)
    assert torch.equal(again.test.images, splits.test.images)


def test_training_on_phantoms_then_reading_their_maps_preprocesses_each_scan_once(phantom_cache, monkeypatch):
    """The AD benchmark trains on the phantoms, then reads them again with their atrophy maps: one cache
    entry serves both, so a registered scan is not registered twice (2-5 s a scan)."""
    from vaegan.data import mri_transforms
    from vaegan.data.mri import phantom_folder

    mri = options(phantom_subjects=6, phantom_spacing=8.0, spacing=8.0, size=12, test_size=0.34, spatial_dims=3)
    splits = load_dataset("phantoms", val_size=0.25, mri=mri)
    real, calls = mri_transforms.preprocess, []
    monkeypatch.setattr(mri_transforms, "preprocess", lambda *a, **k: calls.append(1) or real(*a, **k))
    with_maps = read_volumes(phantom_folder(mri), mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    assert calls == [] and with_maps.maps is not None and len(with_maps.maps) == 6
    assert torch.equal(load_dataset("phantoms", val_size=0.25, mri=mri).test.images, splits.test.images)
    assert calls == []


def test_ad_cvae_2d_trains_one_epoch_on_tiny_phantoms(tmp_path, phantom_cache, capsys):
    from vaegan.experiment import train_from_config

    config = load_config(
        REPO / "configs" / "ad_cvae_2d.yaml", [*TINY_MRI, *TINY_NET, *TINY_TRAIN, f"out={tmp_path / 'run'}"]
    )
    history = train_from_config(config)
    assert len(history) == 1 and np.isfinite(history[0]["val/loss"])
    grids = {name: np.asarray(Image.open(tmp_path / "run" / f"epoch001_{name}.png")) for name in GRIDS}
    assert grids["recons"].std() > 10  # the validation brains above their (one-epoch) reconstructions
    assert grids["fakes"].shape[0] > 100 and grids["analogies"].shape[0] > 100
    samples = tmp_path / "samples.nii.gz"
    assert main(["sample", str(tmp_path / "run"), "--n", "4", "--out", str(samples)]) == 0
    written = nib.load(samples)
    assert written.shape == (16, 1, 16, 4)  # coronal slices: planes of X and Z, one Y thick
    assert (tmp_path / "samples.json").read_text().count('"AD"') == 2
    # registered phantoms: the samples are in MNI152 mm, on the grid every registered scan shares
    grid = registered_grid(config.data.mri)
    assert np.allclose(written.affine[:3, [0, 2]], grid[:3, [0, 2]])
    assert -60 < written.affine[1, 3] < 40  # the coronal plane (MNI y) lies inside the brain
    assert "MNI152" in json.loads((tmp_path / "samples.json").read_text())["space"]
    # which phantoms it learned from: a run trained before the hippocampi turned is not scored on today's unsaid
    from vaegan.runs import load_run

    record = json.loads((tmp_path / "run" / "subjects.json").read_text())
    assert record["phantoms"] == {"truth": TRUTH_MAP, "anatomy": ANATOMY_VERSION}
    assert not load_run(tmp_path / "run").load_data().notes
    (tmp_path / "run" / "subjects.json").write_text(json.dumps(record | {"phantoms": {"truth": 2, "anatomy": 1}}))
    notes = load_run(tmp_path / "run").load_data().notes
    assert len(notes) == 1 and "anatomy 1" in notes[0] and f"anatomy {ANATOMY_VERSION}" in notes[0], notes


def test_a_run_knows_whether_its_volumes_are_in_mni_space(tmp_path):
    mri = options(spacing=6.0, size=16)
    pictures = tmp_path / "pictures"  # 2-D images in class folders: never registered
    for name in ("CN", "AD"):
        (pictures / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(pictures / name / "a.png")
    auto = mri.model_copy(update={"registration": "auto"})
    assert model_grid(DataConfig(dataset="mri", data_dir=str(pictures), mri=auto)) is None
    on = DataConfig(dataset="phantoms", mri=mri.model_copy(update={"registration": "on"}))
    assert np.allclose(model_grid(on), registered_grid(on.mri))
    assert model_grid(DataConfig(dataset="phantoms", mri=mri.model_copy(update={"registration": "auto"}))) is None
    raw = tmp_path / "raw"  # a BIDS folder of raw scans, not phantoms: registered
    (raw / "sub-01" / "anat").mkdir(parents=True)
    (raw / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-01\tCN\n")
    assert model_grid(DataConfig(dataset="mri", data_dir=str(raw), mri=auto)) is not None
    # a folder that is gone (moved phantoms?) cannot say: no MNI placement is claimed for it
    assert model_grid(DataConfig(dataset="mri", data_dir=str(tmp_path / "moved"), mri=auto)) is None
    assert model_grid(DataConfig(dataset="mri", mri=mri.model_copy(update={"registration": "off"}))) is None
    assert model_grid(DataConfig(dataset="mnist")) is None


def test_every_ad_config_is_valid():
    for path in sorted((REPO / "configs").glob("ad_*.yaml")):
        config = load_config(path)
        assert config.data.dataset == "phantoms" and config.data.mri.classes == ("CN", "AD"), path


OTHER_2D = sorted(p.stem for p in (REPO / "configs").glob("ad_*_2d.yaml") if p.stem != "ad_cvae_2d")


@pytest.mark.parametrize("name", OTHER_2D)
def test_other_2d_ad_configs_train_one_tiny_epoch(name, tmp_path, phantom_cache):
    from vaegan.experiment import train_from_config

    path = REPO / "configs" / f"{name}.yaml"
    networks = [key for key in ("network", "discriminator", "classifier") if f"\n  {key}:" in path.read_text()]
    tiny = [f"model.{key}.channels=[8,16]" for key in networks] + ["model.latent_dim=4"]
    config = load_config(path, [*TINY_MRI, *tiny, *TINY_TRAIN, f"out={tmp_path / 'run'}"])
    history = train_from_config(config)
    assert len(history) == 1 and all(np.isfinite(v) for v in history[0].values())
    assert (tmp_path / "run" / "epoch001_fakes.png").is_file()


@pytest.mark.parametrize("spacing", ["nan", "inf", "1000", "0.001"])
def test_an_impossible_voxel_size_is_refused_before_anything_is_written(spacing, tmp_path, capsys):
    # nan and inf crashed with tracebacks, 1000 wrote empty volumes and said it wrote subjects,
    # 0.001 asked for 10^15 bytes a volume
    from pydantic import ValidationError

    from vaegan.data.config import MRIConfig

    out = tmp_path / "phantoms"
    assert main(["phantoms", "--out", str(out), "--subjects", "2", "--spacing", spacing, "--no-progress"]) == 2
    assert "--spacing" in capsys.readouterr().err and not out.exists()
    for key in ("spacing", "phantom_spacing"):
        with pytest.raises(ValidationError, match=key):
            MRIConfig(**{key: float(spacing)})
