"""Image folders: decompression bombs, truncated images and stray files are named and skipped (or fatal)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data.mri_files import options
from vaegan.data.bad_inputs import BadFile
from vaegan.data.imagefolder import load_image_folder, read_image
from vaegan.foundation.errors import DataError


def png(path: Path, side: int = 20, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def good_folder(root: Path) -> Path:
    for cls in ("AD", "CN"):
        for subject in range(4):
            png(root / cls / f"sub-{cls}{subject}_slice-1.png", seed=subject)
    return root


@pytest.mark.parametrize("side", [40, 60], ids=["warning", "error"])
def test_a_decompression_bomb_is_a_bad_file(tmp_path, monkeypatch, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40^2 warns in Pillow (> limit), 60^2 raises (> 2x)
    with pytest.raises(BadFile, match="decompression bomb.*1600|decompression bomb.*3600"):
        read_image(png(tmp_path / "big.png", side))


def test_truncated_and_foreign_files_are_bad_files(tmp_path):
    whole = png(tmp_path / "whole.png", 64).read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadFile, match="cannot be read as an image"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(BadFile, match="cannot be read as an image"):
        read_image(tmp_path / "text.png")


def test_bad_and_stray_files_are_named_and_skipped(tmp_path, monkeypatch, caplog):
    root = good_folder(tmp_path / "slices")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    png(root / "AD" / "sub-bomb_slice-1.png", 60)
    whole = io.BytesIO()
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(whole, format="PNG")
    (root / "CN" / "sub-cut_slice-1.png").write_bytes(whole.getvalue()[:40])
    (root / "CN" / "notes.txt").write_text("scanner notes")
    (root / "CN" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden files are not data
    with caplog.at_level(logging.WARNING, logger="vaegan"):
        train, test = load_image_folder(root, mri=options(size=16))
    assert len(train) + len(test) == 8
    summary = caplog.text
    assert "skipped 3 inputs, kept 8" in summary
    assert "sub-bomb_slice-1.png: is a decompression bomb" in summary
    assert "sub-cut_slice-1.png: cannot be read as an image" in summary
    assert "notes.txt: is not an image" in summary and ".DS_Store" not in summary


def test_strict_mode_stops_at_the_first_bad_file(tmp_path):
    root = good_folder(tmp_path / "slices")
    (root / "CN" / "notes.txt").write_text("scanner notes")
    with pytest.raises(DataError, match=r"notes.txt: is not an image .*strict"):
        load_image_folder(root, mri=options(size=16, strict=True))


def test_an_image_that_cannot_be_resized_costs_only_itself(tmp_path, caplog):
    root = good_folder(tmp_path / "slices")
    sliver = root / "AD" / "sub-sliver_slice-1.png"
    stripes = np.random.default_rng(0).integers(0, 256, (2, 5000), dtype=np.uint8)
    Image.fromarray(stripes).save(sliver)  # resized to 16 wide: 0 rows
    with caplog.at_level(logging.WARNING, logger="vaegan"):
        train, test = load_image_folder(root, mri=options(size=16))
    assert len(train) + len(test) == 8
    assert "sub-sliver_slice-1.png: failed in resizing to 16 x 16 (OverflowError" in caplog.text


def test_sixteen_bit_pngs_are_scaled_by_their_depth_not_their_content(tmp_path):
    # the scale was chosen by the brightest pixel: the same stored 200 read 0.78 in an image whose
    # maximum was 250 and 0.003 in one whose maximum was 300
    values = []
    for top in (250, 300):
        pixels = np.full((8, 8), 200, dtype=np.uint16)
        pixels[0, 0] = top
        Image.fromarray(pixels).save(tmp_path / f"max{top}.png")
        values.append(float(read_image(tmp_path / f"max{top}.png")[1, 1, 0]))
    assert values[0] == values[1] == pytest.approx(200 / 65535)


def test_ink_on_a_transparent_background_is_not_read_as_blank(tmp_path):
    # convert("RGB") dropped the alpha: black ink on a transparent (black) background read as all zeros
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[4:12, 7:9, 3] = 255  # opaque black strokes; everything else transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "ink.png")
    image = read_image(tmp_path / "ink.png")
    assert image.std() > 0.1 and image[8, 8].max() < image[0, 0].min()  # the ink darker than the background
    Image.fromarray(np.zeros((16, 16, 4), dtype=np.uint8), mode="RGBA").save(tmp_path / "empty.png")
    with pytest.raises(BadFile, match="blank"):
        read_image(tmp_path / "empty.png")


def test_slices_in_a_subject_folder_share_one_group_and_one_split(tmp_path):
    """CN/subjA/slice01.png ...: each subject folder is one person, whose slices must not cross the split."""
    for label in ("CN", "AD"):
        for subject in range(5):
            folder = tmp_path / label / f"{label}{subject}"
            folder.mkdir(parents=True)
            for k in range(4):
                png(folder / f"slice{k:02d}.png", seed=10 * subject + k)
    train, test = load_image_folder(tmp_path, mri=options(size=8, test_size=0.4))
    trained, tested = ({d.group_names[g] for g in d.groups.tolist()} for d in (train, test))
    assert len(trained) + len(tested) == 10 and not trained & tested, (trained, tested)
    assert len(test) == 4 * len(tested) == 16


def test_flat_class_folders_of_slices_are_warned_about(tmp_path, caplog):
    """Without subject folders or sub-XX names each file is its own subject, as for a CSV without a subject column."""
    for label in ("CN", "AD"):
        for k in range(4):
            png(tmp_path / label / f"002_S_029{k}_s40.png", seed=k)
    with caplog.at_level(logging.WARNING):
        load_image_folder(tmp_path, mri=options(size=8, test_size=0.25))
    (warning,) = [r.getMessage() for r in caplog.records if "own subject" in r.getMessage()]
    assert "8 files" in warning and "subject folder" in warning


def test_an_mri_run_on_class_folders_numbers_its_classes_as_data_mri_classes_names_them(tmp_path):
    """The folders sort as AD, CN; the run's class names (data.mri.classes) are CN, AD: `sample --labels AD`
    drew CN, and the NIfTI sidecars named every class the wrong way round. Folders are diagnoses, mapped
    through data.mri.label_map like a BIDS or CSV diagnosis."""
    from vaegan.data.mri import load_mri

    for label, seeds in (("AD", range(0, 4)), ("cn", range(10, 14))):  # a folder's case does not matter
        for seed in seeds:
            png(tmp_path / label / f"sub-{label}{seed}_slice-1.png", seed=seed)
    train, test = load_mri(tmp_path, mri=options(size=8, test_size=0.25))
    assert train.class_names == ["CN", "AD"]
    for data in (train, test):
        for group, label in zip(data.groups.tolist(), data.labels.tolist()):
            assert data.group_names[group].startswith(f"sub-{['cn', 'AD'][label]}"), (data.group_names[group], label)
    (tmp_path / "MCI").mkdir()
    png(tmp_path / "MCI" / "sub-MCI1_slice-1.png")
    with pytest.raises(DataError, match="MCI"):  # a diagnosis label_map does not map is named
        load_mri(tmp_path, mri=options(size=8, test_size=0.25, strict=True))


def test_a_photo_is_read_upright_as_its_exif_orientation_says(tmp_path):
    """Phones store a portrait photo sideways with an EXIF Orientation tag; viewers turn it, and so must we."""
    pixels = np.zeros((20, 40), np.uint8)  # stored 20 high, 40 wide ...
    pixels[:, :5] = 255  # ... with a bright band at the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "portrait.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "portrait.jpg")
    assert image.shape[:2] == (40, 20)  # upright: 40 high, 20 wide
    assert image[:5].mean() > 0.9 and image[-5:].mean() < 0.1  # the band is now at the top


def test_a_tiff_of_several_pages_is_a_bad_file_not_its_first_page(tmp_path):
    pages = [Image.fromarray(np.full((8, 8), 40 * k, np.uint8)) for k in range(1, 4)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    with pytest.raises(BadFile, match="3 pages"):
        read_image(tmp_path / "stack.tif")


@pytest.mark.parametrize("splits", [("train",), ("train", "val"), ("test",)])
def test_split_folders_without_their_pair_are_refused_not_taken_for_classes(tmp_path, splits):
    """DIR/train/{CN,AD}/ with no test/: `train` became one class holding both diagnoses."""
    for split in splits:
        good_folder(tmp_path / split)
    with pytest.raises(DataError, match="train/ and test/"):
        load_image_folder(tmp_path, mri=options(size=8))


def test_split_folders_are_found_in_any_case(tmp_path):
    good_folder(tmp_path / "Train")
    good_folder(tmp_path / "Test")
    train, test = load_image_folder(tmp_path, mri=options(size=8))
    assert sorted(train.class_names) == ["AD", "CN"] and len(train) == len(test) == 8


def test_a_subject_in_both_given_splits_is_warned_about(tmp_path, caplog):
    good_folder(tmp_path / "train")
    good_folder(tmp_path / "test")  # the same sub-AD0 ... sub-CN3 on both sides
    with caplog.at_level(logging.WARNING):
        load_image_folder(tmp_path, mri=options(size=8))
    assert "both train/ and test/" in caplog.text and "sub-AD0" in caplog.text


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_grey_image_stored_as_rgb_keeps_the_dataset_grey(tmp_path, fmt):
    """One grey slice exported as RGB (R = G = B, common for JPEG) made the whole dataset 3-channel."""
    folder = good_folder(tmp_path)
    grey = np.random.default_rng(5).integers(0, 256, (20, 20), dtype=np.uint8)
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(folder / "CN" / f"sub-CN9_slice-1.{fmt.lower()}", fmt)
    train, test = load_image_folder(folder, mri=options(size=8))
    assert train.image_shape[0] == 1 and len(train) + len(test) == 9


def test_a_colour_image_still_makes_the_dataset_rgb(tmp_path):
    folder = good_folder(tmp_path)
    colour = np.random.default_rng(5).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(colour).save(folder / "CN" / "sub-CN9_slice-1.png")
    train, _ = load_image_folder(folder, mri=options(size=8))
    assert train.image_shape[0] == 3


def test_given_train_and_test_folders_share_one_channel_count(tmp_path):
    """One colour training image made train RGB and left test grey: evaluate then failed in a conv layer."""
    good_folder(tmp_path / "train"), good_folder(tmp_path / "test")
    colour = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "train" / "CN" / "sub-CN9_slice-1.png")
    train, test = load_image_folder(tmp_path, mri=options(size=8))
    assert train.image_shape == test.image_shape == (3, 8, 8)
    Image.fromarray(colour).save(tmp_path / "test" / "AD" / "sub-AD9_slice-1.png")  # colour in test alone
    (tmp_path / "train" / "CN" / "sub-CN9_slice-1.png").unlink()
    train, test = load_image_folder(tmp_path, mri=options(size=8))
    assert train.image_shape == test.image_shape == (3, 8, 8)


@pytest.mark.parametrize("beside", ["val", "CN"])
def test_a_folder_beside_train_and_test_is_refused_not_ignored(tmp_path, beside):
    """A val/ beside train/ and test/ was dropped without a word, as was a leftover class folder."""
    good_folder(tmp_path / "train"), good_folder(tmp_path / "test")
    png(tmp_path / beside / "sub-X1_slice-1.png")
    with pytest.raises(DataError, match=rf"{beside}/"):
        load_image_folder(tmp_path, mri=options(size=8))


def test_an_unmapped_diagnosis_folder_that_leaves_a_class_empty_is_refused(tmp_path):
    """CN/ and Dementia/ with the default label_map: a CN vs AD model on CN alone, as NIfTI data refuses."""
    from vaegan.data.mri import load_mri

    for i in range(4):
        png(tmp_path / "CN" / f"sub-CN{i}_slice-1.png", seed=i)
        png(tmp_path / "Dementia" / f"sub-D{i}_slice-1.png", seed=i)
    with pytest.raises(DataError, match="no image of class AD.*Dementia.*label_map"):
        load_mri(tmp_path, mri=options(size=8, test_size=0.25))


def test_a_class_folder_without_images_is_refused_naming_it(tmp_path):
    """__MACOSX/ (hidden ._ files only) became a third class that nothing trained."""
    good_folder(tmp_path)
    (tmp_path / "__MACOSX" / "CN").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "CN" / "._a.png").write_bytes(b"\0\5\26\7")
    with pytest.raises(DataError, match="__MACOSX.*no image"):
        load_image_folder(tmp_path, mri=options(size=8))


def test_an_image_outside_the_class_folders_is_named(tmp_path, caplog):
    good_folder(tmp_path)
    png(tmp_path / "sub-X9_slice-1.png")
    with caplog.at_level(logging.WARNING):
        load_image_folder(tmp_path, mri=options(size=8, test_size=0.25))
    assert "sub-X9_slice-1.png" in caplog.text and "class folder" in caplog.text
    with pytest.raises(DataError, match="sub-X9"):
        load_image_folder(tmp_path, mri=options(size=8, test_size=0.25, strict=True))


def test_a_file_of_another_format_under_an_image_suffix_is_not_decoded(tmp_path):
    """Pillow picks its decoder from the bytes: a WebP named .png reached the WebP decoder (CVE-2023-4863's)."""
    path = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 20), dtype=np.uint8)).save(path, format="GIF")
    with pytest.raises(BadFile, match="cannot be read as an image"):
        read_image(path)


def test_a_grey_image_with_a_transparency_key_is_put_on_white_as_other_transparent_images(tmp_path):
    """Grey PNGs with a tRNS key kept their raw values, while the same picture saved with alpha was put on
    white: the same pixels read two ways."""
    pixels = np.full((8, 8), 100, dtype=np.uint8)
    pixels[:4] = 0  # the transparent value
    Image.fromarray(pixels).save(tmp_path / "keyed.png", transparency=0)
    alpha = np.where(pixels == 0, 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([pixels, alpha], axis=-1), mode="LA").save(tmp_path / "alpha.png")
    keyed, with_alpha = read_image(tmp_path / "keyed.png"), read_image(tmp_path / "alpha.png")
    assert keyed.shape == with_alpha.shape == (8, 8, 1)
    assert np.allclose(keyed, with_alpha) and keyed[0, 0, 0] == 1.0
