"""Reading T1w MRI: BIDS (with sessions), CSV, image folders; bad inputs; splits by subject; the cache."""

from __future__ import annotations

import gzip
import json
import logging
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.mri_files import brain, cache_fixture, make_bids, options, six_subjects, write_nifti  # noqa: F401
from vaegan.config import build_config
from vaegan.data import load_dataset, mri_transforms
from vaegan.data.mri import read_volumes
from vaegan.data.volumes import save_nifti, slice_positions, to_slices
from vaegan.foundation.errors import ConfigError, DataError


def subjects_of(dataset) -> set[str]:
    return {dataset.group_names[g] for g in dataset.groups.tolist()}


def test_bids_with_sessions_gives_3d_volumes_in_0_1(tmp_path, cache):
    data = read_volumes(six_subjects(tmp_path / "bids"), options())
    assert data.volumes.shape == (7, 1, 16, 16, 16)  # sub-01 has two sessions
    assert data.subjects.count("sub-01") == 2 and sorted(set(data.subjects)) == [f"sub-0{i}" for i in range(1, 7)]
    assert data.labels.tolist() == [0, 0, 1, 0, 1, 0, 1]  # sub-01 x2 CN, then AD, CN, ...
    assert 0.0 <= float(data.volumes.min()) and float(data.volumes.max()) <= 1.0
    assert float(data.volumes[:, :, 8, 8, 8].mean()) < 0.5 < float(data.volumes[:, :, 8, 8, 3].mean())  # dark core


def test_slices_shape_and_range(tmp_path, cache):
    folder = six_subjects(tmp_path / "bids")
    mri = options(slice_axis="coronal", slice_range=(0.25, 0.75), test_size=0.34)
    splits = load_dataset("mri", data_dir=folder, val_size=0.2, mri=mri)
    per_volume = len(slice_positions(16, (0.25, 0.75)))
    assert per_volume == 8  # round(0.25 * 15) = 4 .. round(0.75 * 15) = 11, inclusive
    assert splits.image_shape == (1, 16, 16)
    total = len(splits.train) + len(splits.val) + len(splits.test)
    assert total == 7 * per_volume


def test_to_slices_puts_anterior_up():
    volume = torch.zeros(1, 1, 4, 6, 5)
    volume[:, :, :, -1] = 1.0  # the most anterior row (H = posterior -> anterior)
    slices, source = to_slices(volume, "axial", (0.0, 1.0))
    assert slices.shape == (4, 1, 6, 5) and source.tolist() == [0, 0, 0, 0]
    assert bool((slices[:, :, 0] == 1).all())  # anterior drawn at the top


def test_splits_never_share_a_subject(tmp_path, cache):
    diagnoses = {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, 13)}
    folder = make_bids(tmp_path / "bids", diagnoses)
    splits = load_dataset("mri", data_dir=folder, val_size=0.25, seed=3, mri=options(test_size=0.25))
    train, val, test = (subjects_of(s) for s in (splits.train, splits.val, splits.test))
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train | val | test) == 12
    assert sorted(splits.test.labels.unique().tolist()) == [0, 1]  # stratified: both classes tested
    nearly_all = load_dataset("mri", data_dir=folder, val_size=0, mri=options(test_size=0.99))
    assert len(subjects_of(nearly_all.train)) == 2  # one training subject of each class, not none
    assert sorted(nearly_all.train.labels.unique().tolist()) == [0, 1]


def test_the_validation_subjects_are_stratified_by_class(tmp_path, cache):
    diagnoses = {f"sub-{i:02d}": ("AD" if i % 4 == 0 else "CN") for i in range(1, 17)}  # 12 CN, 4 AD
    folder = make_bids(tmp_path / "bids", diagnoses)
    for seed in range(6):
        splits = load_dataset("mri", data_dir=folder, val_size=0.2, seed=seed, mri=options(test_size=0.25))
        val = {splits.val.group_names[g]: int(y) for g, y in zip(splits.val.groups.tolist(), splits.val.labels)}
        assert sorted(val.values()) == [0, 0, 1], f"seed {seed}: {val}"  # 9 CN and 3 AD left, a fifth of each
        assert not subjects_of(splits.val) & subjects_of(splits.train)
        assert subjects_of(splits.train_and_val()) == subjects_of(splits.train) | subjects_of(splits.val)
    with pytest.raises(ConfigError, match="leaves no training subject of class"):  # a val_size that takes a class whole
        load_dataset("mri", data_dir=folder, val_size=0.9, mri=options(test_size=0.25))


def test_3d_datasets_and_groups(tmp_path, cache):
    splits = load_dataset(
        "mri", data_dir=six_subjects(tmp_path / "bids"), val_size=0.2, mri=options(spatial_dims=3, test_size=0.34)
    )
    assert splits.image_shape == (1, 16, 16, 16)
    assert not subjects_of(splits.train) & subjects_of(splits.test)


def test_second_load_is_a_cache_hit(tmp_path, cache, monkeypatch):
    folder = six_subjects(tmp_path / "bids")
    first = read_volumes(folder, options())
    assert len(list((cache / "preprocessed" / "mri").rglob("*.pt"))) == 7  # one entry per file

    def recompute(*args, **kwargs):
        raise AssertionError("preprocessed again despite the cache")

    monkeypatch.setattr(mri_transforms, "preprocess", recompute)
    second = read_volumes(folder, options())
    assert torch.allclose(first.volumes, second.volumes) and first.subjects == second.subjects
    with pytest.raises(DataError, match="preprocessed again"):
        read_volumes(folder, options(size=12))  # another setting is another key


def test_edited_file_misses_the_cache(tmp_path, cache):
    folder = six_subjects(tmp_path / "bids")
    before = read_volumes(folder, options())
    image = folder / "sub-02" / "anat" / "sub-02_T1w.nii.gz"
    write_nifti(image, brain(9, ventricle=0.0))  # no dark core any more
    os.utime(image, ns=(1, 1))
    after = read_volumes(folder, options())
    assert len(list((cache / "preprocessed" / "mri").rglob("*.pt"))) == 8  # 7 files + the edited one
    row = before.subjects.index("sub-02")
    assert float(before.volumes[row, 0, 8, 8, 8]) < 0.3 < 0.5 < float(after.volumes[row, 0, 8, 8, 8])


def test_reorientation_to_ras(tmp_path, cache):
    array = brain(0)
    array[:5] += 300.0  # a bright left side (x = 0 is left in RAS)
    ras = write_nifti(tmp_path / "ras.nii.gz", array)
    flipped = np.diag([-2.0, 2.0, 2.0, 1.0])  # the same brain stored right-to-left (LAS)
    flipped[0, 3] = 2.0 * (array.shape[0] - 1)
    las = write_nifti(tmp_path / "las.nii.gz", array[::-1].copy(), flipped)
    csv = tmp_path / "images.csv"
    csv.write_text(f"path,label\n{ras.name},CN\n{las.name},AD\n")
    data = read_volumes(csv, options())
    assert torch.allclose(data.volumes[0], data.volumes[1], atol=1e-5)
    assert float(data.volumes[0, 0, :, :, :3].mean()) > float(data.volumes[0, 0, :, :, -3:].mean())


def test_a_map_not_on_its_images_grid_is_refused_not_mirrored(tmp_path, cache):
    """A map is used voxel by voxel with its image: one stored in another orientation would come out flipped."""
    array = brain(0)
    image = write_nifti(tmp_path / "a_T1w.nii.gz", array)
    write_nifti(tmp_path / "a_atrophy.nii.gz", np.zeros_like(array))  # the same grid: read with it
    other = write_nifti(tmp_path / "b_T1w.nii.gz", array)
    las = np.diag([-2.0, 2.0, 2.0, 1.0])
    las[0, 3] = 2.0 * (array.shape[0] - 1)
    write_nifti(tmp_path / "b_atrophy.nii.gz", np.zeros_like(array), las)  # the same place, stored mirrored
    csv = tmp_path / "images.csv"
    csv.write_text(f"path,label\n{image.name},CN\n{other.name},AD\n")
    data = read_volumes(csv, options(), maps_suffix="_atrophy.nii.gz")
    assert data.paths == [str(image)] and data.maps is not None
    (reason,) = [bad.reason for bad in data.skipped]
    assert "b_atrophy.nii.gz" in reason and "grid" in reason


def test_a_csv_that_names_no_subjects_is_warned_about(tmp_path, caplog):
    """Without a subject column or sub-XX paths, each file is its own subject: visits could cross the split."""
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    for name in ("ADNI_002_S_0295_2006.nii.gz", "ADNI_002_S_0295_2007.nii.gz"):
        write_nifti(tmp_path / name, brain(0))
    csv = tmp_path / "scans.csv"
    csv.write_text("path,label\nADNI_002_S_0295_2006.nii.gz,CN\nADNI_002_S_0295_2007.nii.gz,CN\n")
    with caplog.at_level(logging.WARNING):
        records = csv_records(csv, options(), BadInputs(strict=False))
    assert len({r.subject for r in records}) == 2
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(csv) in warning and "subject column" in warning and "2 files" in warning
    caplog.clear()
    csv.write_text("path,label,subject\nADNI_002_S_0295_2006.nii.gz,CN,002_S_0295\n")
    with caplog.at_level(logging.WARNING):
        csv_records(csv, options(), BadInputs(strict=False))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    caplog.clear()  # a subject column with blank cells: those files fall back to their names, and are counted
    csv.write_text("path,label,subject\nADNI_002_S_0295_2006.nii.gz,CN,\nADNI_002_S_0295_2007.nii.gz,CN,\n")
    with caplog.at_level(logging.WARNING):
        csv_records(csv, options(), BadInputs(strict=False))
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 files" in warning and "empty subject" in warning


@pytest.mark.parametrize("column", ["participant_id", "PTID", "subject_id", "Subject"])
def test_a_csvs_subject_column_may_carry_its_usual_names(tmp_path, caplog, column):
    """ADNI's PTID, BIDS's participant_id: each file became its own subject, and one person's visits could
    fall on both sides of the split (the warning said there was no subject column)."""
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    for name in ("visit_bl.nii.gz", "visit_m12.nii.gz", "other.nii.gz"):
        write_nifti(tmp_path / name, brain(0))
    csv = tmp_path / "scans.csv"
    csv.write_text(f"path,label,{column}\nvisit_bl.nii.gz,CN,0001\nvisit_m12.nii.gz,CN,0001\nother.nii.gz,AD,0002\n")
    with caplog.at_level(logging.WARNING):
        records = csv_records(csv, options(), BadInputs(strict=False))
    assert sorted(r.subject for r in records) == ["0001", "0001", "0002"]
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_subject_cells_sub_prefix_is_read_in_any_case(tmp_path):
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    for name in ("a.nii.gz", "b.nii.gz"):
        write_nifti(tmp_path / name, brain(0))
    csv = tmp_path / "scans.csv"
    csv.write_text("path,label,subject\na.nii.gz,CN,SUB-01\nb.nii.gz,CN,sub-01\n")
    assert {r.subject for r in csv_records(csv, options(), BadInputs(strict=False))} == {"sub-01"}


def test_a_folder_above_the_cohort_named_sub_is_no_subject(tmp_path, caplog):
    """/home/sub-lab/cohort/list.csv: every scan took the subject sub-lab from a folder above the data."""
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    cohort = tmp_path / "sub-lab" / "cohort"
    cohort.mkdir(parents=True)
    for name in ("0001_T1w.nii.gz", "0002_T1w.nii.gz"):
        write_nifti(cohort / name, brain(0))
    csv = cohort / "list.csv"
    csv.write_text("path,label\n0001_T1w.nii.gz,CN\n0002_T1w.nii.gz,AD\n")
    with caplog.at_level(logging.WARNING):
        records = csv_records(csv, options(), BadInputs(strict=False))
    assert sorted(r.subject for r in records) == ["0001_T1w", "0002_T1w"]
    assert "2 files" in caplog.text


def test_a_csv_layout_on_a_folder_of_several_csvs_names_them(tmp_path):
    """data.mri.layout=csv took the first of a.csv and cohort.csv, alphabetically, without a word."""
    from vaegan.data.bad_inputs import BadInputs
    from vaegan.data.csv_source import csv_records

    for name in ("a.csv", "cohort.csv"):
        (tmp_path / name).write_text("path,label\n")
    with pytest.raises(DataError, match="a.csv, cohort.csv"):
        csv_records(tmp_path, options(), BadInputs(strict=False))


def test_a_class_with_no_image_is_an_error_that_names_the_diagnoses_left_out(tmp_path, cache):
    """'Dementia' outside the default label_map left a CN-only 'CN vs AD' set, which trained with a warning."""
    folder = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "Dementia", "sub-03": "CN", "sub-04": "Dementia"})
    with pytest.raises(DataError, match="no image of class AD") as error:
        read_volumes(folder, options())
    assert "'Dementia'" in str(error.value) and "label_map" in str(error.value)


def test_phantoms_from_a_folder_vaegan_phantoms_did_not_write_are_refused(tmp_path, cache):
    """The AD configs say dataset: phantoms; --data-dir at your own scans then needs data.dataset=mri."""
    from vaegan.data.mri import load_phantoms

    folder = six_subjects(tmp_path / "bids")
    with pytest.raises(DataError, match="data.dataset=mri"):
        load_phantoms(folder, mri=options())
    csv = tmp_path / "scans.csv"
    csv.write_text("path,label\n")
    with pytest.raises(DataError, match="data.dataset=mri"):
        load_phantoms(csv, mri=options())


def _bad_image(anat: Path, subject: str, kind: str) -> None:
    path = anat / f"{subject}_T1w.nii.gz"
    anat.mkdir(parents=True, exist_ok=True)
    if kind == "corrupt":
        path.write_bytes(b"this is not a NIfTI file" * 20)
    elif kind == "truncated":
        whole = gzip.compress(nib.Nifti1Image(brain(1), np.eye(4)).to_bytes())
        path.write_bytes(whole[: len(whole) // 2])
    elif kind == "4-D":
        write_nifti(path, np.ones((8, 8, 8, 3), np.float32))
    elif kind == "2-D":
        write_nifti(path, np.ones((16, 16), np.float32))
    elif kind == "nan":
        image = brain(2)
        image[3, 3, 3] = np.nan
        write_nifti(path, image)
    else:
        write_nifti(path, brain(3))


# subject -> (what its image or row is, a part of the expected path, a part of the expected reason)
BAD = {
    "sub-03": ("corrupt", "sub-03_T1w.nii.gz", "cannot be read as NIfTI"),
    "sub-04": ("truncated", "sub-04_T1w.nii.gz", "truncated or corrupt"),
    "sub-05": ("4-D", "sub-05_T1w.nii.gz", "is 4-D (shape (8, 8, 8, 3))"),
    "sub-06": ("2-D", "sub-06_T1w.nii.gz", "is 2-D (shape (16, 16))"),
    "sub-07": ("nan", "sub-07_T1w.nii.gz", "1 NaN or infinite voxels"),
    "sub-08": ("unlisted", "sub-08", "is not listed in participants.tsv"),
    "sub-09": ("n/a", "sub-09", "has no diagnosis"),
    "sub-10": ("FTD", "sub-10", "diagnosis 'FTD' is not in data.mri.label_map"),
    "sub-11": ("no image", "sub-11", "has no anat/*_T1w.nii[.gz] image"),
}


def write_bad_bids(root: Path, cases: list[str]) -> Path:
    """Two good subjects (CN, AD) and the bad ``cases`` (keys of BAD)."""
    make_bids(root, {"sub-01": "CN", "sub-02": "AD"})
    rows = (root / "participants.tsv").read_text()
    for subject in cases:
        kind = BAD[subject][0]
        if kind in ("n/a", "FTD"):  # a good image, a bad label
            write_nifti(root / subject / "anat" / f"{subject}_T1w.nii.gz", brain(4))
            rows += f"{subject}\t{kind}\t70\n"
        elif kind == "no image":
            rows += f"{subject}\tAD\t70\n"
        else:  # a bad image (listed in participants.tsv unless "unlisted")
            _bad_image(root / subject / "anat", subject, kind)
            rows += "" if kind == "unlisted" else f"{subject}\tCN\t70\n"
    (root / "participants.tsv").write_text(rows)
    return root


def test_bad_inputs_are_named_and_skipped_with_a_summary(tmp_path, cache, caplog):
    folder = write_bad_bids(tmp_path / "bids", list(BAD))
    with caplog.at_level(logging.WARNING, logger="vaegan"):
        data = read_volumes(folder, options())
    assert sorted(set(data.subjects)) == ["sub-01", "sub-02"]
    summary = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(summary) == 1 and "skipped 9 inputs, kept 2" in summary[0]
    lines = summary[0].splitlines()
    for _, where, why in BAD.values():
        assert any(where in line and why in line for line in lines), (where, why, summary[0])
    assert len(data.skipped) == 9


@pytest.mark.parametrize("subject", list(BAD))
def test_bad_inputs_are_fatal_in_strict_mode(tmp_path, cache, subject):
    folder = write_bad_bids(tmp_path / "bids", [subject])
    read_volumes(folder, options(strict=False))  # skipped without strict
    _, where, why = BAD[subject]
    with pytest.raises(DataError, match="strict") as error:
        read_volumes(folder, options(strict=True))
    assert where in str(error.value) and why in str(error.value)


def test_csv_layout_with_a_missing_file(tmp_path, cache, caplog):
    for i in range(4):
        write_nifti(tmp_path / "img" / f"scan{i}.nii.gz", brain(i))
    rows = ["path,label,subject", "img/scan0.nii.gz,CN,a", "img/scan1.nii.gz,AD,b", "img/scan2.nii.gz,CN,a"]
    rows += ["img/scan3.nii.gz,Dementia,c", "img/gone.nii.gz,AD,d"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING, logger="vaegan"):
        data = read_volumes(tmp_path, options(label_map={"CN": "CN", "AD": "AD", "dementia": "AD"}))
    assert data.subjects == ["a", "b", "a", "c"] and data.labels.tolist() == [0, 1, 0, 1]
    assert "list.csv, line 6: file" in caplog.text and "gone.nii.gz does not exist" in caplog.text


def test_image_folder_layout(tmp_path, cache):
    rng = np.random.default_rng(0)
    for cls in ("AD", "CN"):
        for subject in range(4):
            for z in (10, 11):
                pixels = rng.integers(0, 256, (20, 30), dtype=np.uint8)
                path = tmp_path / "slices" / cls / f"sub-{cls}{subject}_slice-{z}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
    (tmp_path / "slices" / "CN" / "broken.png").write_bytes(b"not a png")
    splits = load_dataset("image-folder", data_dir=tmp_path / "slices", val_size=0.2, mri=options(size=24))
    assert splits.image_shape == (1, 24, 24) and splits.class_names == ["AD", "CN"]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 16
    assert not subjects_of(splits.train) & subjects_of(splits.test)  # both slices of a subject together
    auto = load_dataset("mri", data_dir=tmp_path / "slices", val_size=0.2, mri=options(size=24))
    assert auto.image_shape == (1, 24, 24)


def test_missing_folder_and_unknown_layout_are_explained(tmp_path, cache):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset("mri", data_dir=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="participants.tsv"):
        load_dataset("mri", data_dir=tmp_path / "empty")
    make_bids(tmp_path / "bids", {"sub-01": "CN"}, column="dx")
    with pytest.raises(DataError, match="no column 'diagnosis'.*dx"):
        load_dataset("mri", data_dir=tmp_path / "bids")


@pytest.mark.parametrize(
    ("mri", "message"),
    [
        ({"label_map": {"Dementia": "AD", "dementia": "CN", "CN": "CN"}}, "Dementia.*dementia"),
        ({"classes": ["CN", "AD", "CN"], "label_map": {"CN": "CN", "AD": "AD"}}, "CN.*twice"),
    ],
)
def test_label_map_keys_differing_in_case_and_repeated_classes_are_refused(mri, message):
    """label_map is read without case, so the last of Dementia/dementia won; a class named twice took index 0
    for both and the third class was never filled."""
    with pytest.raises(ConfigError, match=message):
        build_config({"model": {"name": "vae"}, "data": {"mri": mri}})


def test_mri_config_checks_its_values():
    with pytest.raises(ConfigError, match="label_map maps to \\['MCI'\\]"):
        build_config({"model": {"name": "vae"}, "data": {"mri": {"label_map": {"mci": "MCI"}}}})
    with pytest.raises(ConfigError, match="unknown key 'data.mri.slices'"):
        build_config({"model": {"name": "vae"}, "data": {"mri": {"slices": 3}}})
    three = {"classes": ["CN", "MCI", "AD"], "label_map": {"CN": "CN", "MCI": "MCI", "AD": "AD"}}
    assert build_config({"model": {"name": "vae"}, "data": {"mri": three}}).data.mri.classes == ("CN", "MCI", "AD")


def test_save_nifti_round_trip(tmp_path):
    volumes = torch.rand(3, 1, 4, 5, 6)  # (N, C, D=z, H=y, W=x)
    labels = torch.tensor([0, 1, 1])
    path = save_nifti(volumes, tmp_path / "s.nii.gz", spacing=2.5, labels=labels, class_names=["CN", "AD"])
    img = nib.load(path)
    assert img.shape == (6, 5, 4, 3) and img.header.get_zooms()[:3] == (2.5, 2.5, 2.5)
    assert np.allclose(img.get_fdata()[2, 1, 3, 0], volumes[0, 0, 3, 1, 2].item(), atol=1e-6)
    assert '"AD"' in (tmp_path / "s.json").read_text()


@pytest.mark.parametrize(
    ("axis", "shape"), [("coronal", (6, 1, 4, 2)), ("axial", (6, 4, 1, 2)), ("sagittal", (1, 6, 4, 2))]
)
def test_2d_samples_are_written_as_planes_of_their_slice_axis(tmp_path, axis, shape):
    """A coronal sample was written as an axial plane: viewers showed superior as anterior."""
    images = torch.zeros(2, 1, 4, 6)  # (N, C, rows, columns): row 0 is up (superior; anterior for axial)
    images[:, 0, 0, :] = 1.0
    path = save_nifti(images, tmp_path / "s.nii.gz", spacing=2.0, slice_axis=axis)
    img = nib.load(path)
    assert img.shape == shape and nib.aff2axcodes(img.affine) == ("R", "A", "S")
    data = img.get_fdata()
    up = {"coronal": data[:, 0, -1, 0], "axial": data[:, -1, 0, 0], "sagittal": data[0, :, -1, 0]}[axis]
    assert np.all(up == 1.0)  # the top row lands at the top (S) or the front (A, axial)
    assert json.loads((tmp_path / "s.json").read_text())["slice_axis"] == axis


def test_samples_on_the_template_grid_say_so_to_viewers(tmp_path):
    """Registered runs' samples were in MNI mm but marked "aligned" (2), unlike the disease maps (4)."""
    from vaegan.data.config import MRIConfig
    from vaegan.data.mri_transforms import registered_grid

    grid = registered_grid(MRIConfig(size=8, spacing=8.0, registration="on"))
    for images, name in ((torch.rand(2, 1, 8, 8, 8), "v"), (torch.rand(2, 1, 8, 8), "s")):
        img = nib.load(save_nifti(images, tmp_path / f"{name}.nii.gz", grid=grid, slice_axis="coronal", plane=3))
        assert int(img.header["sform_code"]) == int(img.header["qform_code"]) == 4, name
    nominal = nib.load(save_nifti(torch.rand(1, 1, 4, 4, 4), tmp_path / "n.nii.gz", spacing=2.0))
    assert int(nominal.header["sform_code"]) != 4  # nominal millimetres are no template's
    # an unregistered 2-D sample sits at its plane of the volume's nominal grid, not always at z = 0
    flat = nib.load(save_nifti(torch.rand(1, 1, 4, 4), tmp_path / "f.nii.gz", spacing=2.0, plane=3))
    assert np.allclose(flat.affine @ [0, 0, 0, 1], nominal.affine @ [0, 0, 3, 1])
    assert int(flat.header["sform_code"]) != 4


def test_save_nifti_keeps_the_old_files_when_writing_fails(tmp_path, monkeypatch):
    """A full disk (or a killed process) mid-write must leave the previous samples whole, not half a file."""
    path = tmp_path / "s.nii.gz"
    save_nifti(torch.rand(2, 1, 4, 5, 6), path, labels=torch.tensor([0, 1]), class_names=["CN", "AD"])
    before, sidecar = path.read_bytes(), (tmp_path / "s.json").read_text()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_nifti(torch.rand(3, 1, 4, 5, 6), path, labels=torch.tensor([1, 1, 1]), class_names=["CN", "AD"])
    assert path.read_bytes() == before and (tmp_path / "s.json").read_text() == sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.nii.gz"]  # no temporary file left behind
    monkeypatch.undo()
    again = save_nifti(torch.rand(3, 1, 4, 5, 6), tmp_path / "plain.nii")  # uncompressed NIfTI too
    assert nib.load(again).shape == (6, 5, 4, 3)


def test_an_upper_case_nii_gz_is_written_compressed(tmp_path):
    """`sample --out S.NII.GZ` passed the suffix check (case-blind) and got raw .nii bytes under a .gz name."""
    path = save_nifti(torch.rand(1, 1, 4, 4, 4), tmp_path / "S.NII.GZ", spacing=2.0)
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # gzip's magic number
    assert nib.load(path).shape[:3] == (4, 4, 4)


def test_a_nifti_written_without_labels_leaves_no_sidecar_of_an_earlier_one(tmp_path):
    """`sample` of a cVAE then of an unconditional 3-D VAE to one s.nii.gz: s.json kept the first labels."""
    from vaegan.data.volumes import save_nifti, sidecar_path

    out = tmp_path / "s.nii.gz"
    save_nifti(torch.rand(2, 1, 4, 4, 4), out, spacing=2.0, labels=torch.tensor([0, 1]), class_names=["CN", "AD"])
    assert "labels" in json.loads(sidecar_path(out).read_text())
    save_nifti(torch.rand(2, 1, 4, 4, 4), out, spacing=2.0)
    assert not sidecar_path(out).exists()
    mine = tmp_path / "t.json"
    mine.write_text('{"my": "notes"}')
    save_nifti(torch.rand(2, 1, 4, 4, 4), tmp_path / "t.nii.gz", spacing=2.0)
    assert mine.read_text() == '{"my": "notes"}'  # a JSON of the user's is never ours to delete
