"""``vaegan encode`` and ``vaegan reconstruct`` on your own files: PNG, JPEG, NIfTI, folders, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tests.conftest import blob_images
from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    brain,
    options,
    phantom_cache_fixture,
    phantom_set_fixture,
)
from vaegan.cli import main
from vaegan.data import register_dataset


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny VAE trained for one epoch on 16x16 blobs."""
    register_dataset(
        "encode-blobs",
        lambda data_dir=None, **_: (blob_images(64, (1, 16, 16)), blob_images(16, (1, 16, 16), seed=5)),
        replace=True,
    )
    root = tmp_path_factory.mktemp("encode")
    config = {
        "name": "tiny",
        "data": {"dataset": "encode-blobs", "val_size": 16, "mri": {"registration": "off"}},
        "model": {"name": "vae", "latent_dim": 3, "network": {"kind": "mlp", "hidden": [32]}},
        "train": {"epochs": 1, "batch_size": 16, "grid_size": 4, "progress": False, "tensorboard": False},
    }
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(root / "tiny.yaml"), "--out", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture
def images(tmp_path):
    """A folder of user images: sizes and modes unlike the run's 16x16 grey."""
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), mode="L").convert("RGBA").save(folder / "c.png")
    (folder / "notes.txt").write_text("not an image, ignored in a folder")
    return folder


def test_encode_a_folder_writes_codes_and_file_names(run, images, tmp_path):
    out = tmp_path / "codes.npz"
    assert main(["encode", str(run), str(images), "--out", str(out)]) == 0
    saved = np.load(out)
    assert saved["codes"].shape == (3, 3) and np.isfinite(saved["codes"]).all()
    assert [name.rsplit("/", 1)[-1] for name in saved["files"]] == ["a.png", "b.jpg", "c.png"]


def test_encode_agrees_with_the_model(run, images, tmp_path):
    from vaegan.runs import load_run

    out = tmp_path / "codes.npz"
    assert main(["encode", str(run), str(images / "a.png"), "--out", str(out)]) == 0
    x = np.asarray(Image.open(images / "a.png"), dtype=np.float32)[None, None] / 255.0  # already 28x28 -> resized
    import torch
    import torch.nn.functional as F

    x = F.interpolate(torch.from_numpy(x), size=(16, 16), mode="bilinear", antialias=True, align_corners=False)
    expected = load_run(run).model.encode(x.clamp(0, 1)).numpy()
    assert np.allclose(np.load(out)["codes"], expected, atol=1e-5)


def test_reconstruct_a_list_of_files_to_png_and_npz(run, images, tmp_path):
    files = [str(images / "a.png"), str(images / "b.jpg")]
    assert main(["reconstruct", str(run), *files, "--out", str(tmp_path / "recon.png")]) == 0
    assert Image.open(tmp_path / "recon.png").size[0] > 16
    assert main(["reconstruct", str(run), *files, "--out", str(tmp_path / "recon.npz")]) == 0
    saved = np.load(tmp_path / "recon.npz")
    assert saved["inputs"].shape == saved["recons"].shape == (2, 1, 16, 16)


def test_reconstruct_without_inputs_still_uses_the_test_images(run, tmp_path):
    assert main(["reconstruct", str(run), "--n", "4", "--out", str(tmp_path / "test.png")]) == 0
    assert (tmp_path / "test.png").is_file()


def test_nifti_volume_is_cut_to_its_middle_slice_for_a_2d_model(run, tmp_path):
    volume = np.zeros((20, 24, 20), np.float32)
    volume[4:16, 4:20, 4:16] = np.random.default_rng(1).uniform(50, 100, (12, 16, 12))
    # the run's config takes scans as they are (registration: off)
    brain = tmp_path / "sub-01_T1w.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.diag([2.0, 2.0, 2.0, 1.0])), brain)
    out = tmp_path / "codes.npz"
    assert main(["encode", str(run), str(brain), "--out", str(out)]) == 0
    from vaegan.cli.inputs import _resize
    from vaegan.data.mri_transforms import preprocess, read_volume
    from vaegan.data.volumes import to_slices
    from vaegan.runs import load_run

    model, mri = load_run(run).model, load_run(run).config.data.mri
    prepared, _ = preprocess(*read_volume(brain), mri, source=brain)  # not registered
    middle = to_slices(prepared[None], mri.slice_axis, (0.5, 0.5))[0][0]  # the slice halfway along the axis
    first = to_slices(prepared[None], mri.slice_axis, (0.0, 0.0))[0][0]
    spatial = tuple(model.config.image_shape[1:])
    expected = model.encode(_resize(middle, spatial).clamp(0, 1)[None]).numpy()
    assert np.allclose(np.load(out)["codes"], expected, atol=1e-5)
    assert not np.allclose(expected, model.encode(_resize(first, spatial).clamp(0, 1)[None]).numpy(), atol=1e-3)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.png", b"not a png at all", "cannot be read as an image"),
        ("scan.bmp", b"BM", "unsupported file type"),
        ("flat.nii.gz", None, "blank"),
    ],
)
def test_a_bad_input_is_one_line_naming_the_file_and_exit_2(run, images, tmp_path, capsys, name, content, reason):
    bad = tmp_path / name
    if content is None:
        nib.save(nib.Nifti1Image(np.zeros((32, 32, 32), np.float32), np.eye(4)), bad)
    else:
        bad.write_bytes(content)
    assert main(["encode", str(run), str(images / "a.png"), str(bad), "--out", str(tmp_path / "c.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and reason in err
    assert not (tmp_path / "c.npz").exists()


def test_missing_input_and_empty_folder_are_named(run, tmp_path, capsys):
    assert main(["encode", str(run), str(tmp_path / "nope.png"), "--out", str(tmp_path / "c.npz")]) == 2
    assert "nope.png: no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["reconstruct", str(run), str(tmp_path / "empty"), "--out", str(tmp_path / "r.png")]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_labels_are_refused_by_an_unconditional_model(run, images, tmp_path, capsys):
    assert main(["encode", str(run), str(images), "--labels", "1", "--out", str(tmp_path / "c.npz")]) == 2
    assert "takes no --labels" in capsys.readouterr().err


def test_encode_refine_writes_the_map_codes(run, images, tmp_path):
    from vaegan.cli.inputs import read_inputs
    from vaegan.runs import load_run

    plain, refined = tmp_path / "plain.npz", tmp_path / "refined.npz"
    assert main(["encode", str(run), str(images), "--out", str(plain)]) == 0
    assert main(["encode", str(run), str(images), "--out", str(refined), "--refine", "20"]) == 0
    loaded = load_run(run)
    x, _, _ = read_inputs([images], loaded, invert=False)
    codes = np.load(refined)["codes"]
    assert np.allclose(codes, loaded.model.map_code(x, steps=20).numpy(), atol=1e-5)
    assert not np.allclose(codes, np.load(plain)["codes"])


def test_encode_refine_refuses_a_negative_count(run, images, tmp_path, capsys):
    assert main(["encode", str(run), str(images), "--out", str(tmp_path / "c.npz"), "--refine", "-1"]) == 2
    assert "refine=-1" in capsys.readouterr().err


def rgb_brain() -> np.ndarray:
    rgb = np.zeros(brain(0).shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"] = brain(0).clip(0, 255).astype("u1")
    return rgb


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("negative.nii.gz", lambda: -brain(0) - 1),  # MONAI wraps the BadFile it meets in a RuntimeError
        ("rgb.nii.gz", rgb_brain),  # numpy cannot promote the structured voxels
    ],
)
def test_a_nifti_that_preprocessing_refuses_is_one_line_not_a_traceback(run, tmp_path, capsys, name, make):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(make(), np.diag([2.0, 2.0, 2.0, 1.0])), path)
    assert main(["encode", str(run), str(path), "--out", str(tmp_path / "codes.npz")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "codes.npz").exists()


def test_a_folder_skips_hidden_files_as_training_does(run, images, tmp_path):
    (images / "._a.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")  # what a copy from a Mac leaves
    assert main(["encode", str(run), str(images), "--out", str(tmp_path / "codes.npz")]) == 0
    assert len(np.load(tmp_path / "codes.npz")["codes"]) == 3


def test_a_non_square_image_is_letterboxed_as_training_does_not_stretched(tmp_path):
    from vaegan.cli.inputs import read_input
    from vaegan.data.config import MRIConfig
    from vaegan.data.imagefolder import fit_square, read_image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(1, 255, (20, 40), dtype=np.uint8)).save(tmp_path / "wide.png")
    mine = read_input(tmp_path / "wide.png", (1, 16, 16), MRIConfig())
    trained = fit_square(read_image(tmp_path / "wide.png"), 16, 1)
    assert torch.allclose(mine, trained, atol=1e-6)
    assert (mine[:, :4] == 0).all()  # the padding above the wide image


@pytest.mark.parametrize("n", ["0", "-3"])
def test_reconstruct_refuses_an_impossible_count(run, tmp_path, capsys, n):
    # --n 0 divided by zero in the grid; --n -3 sliced [:-3] and wrote every test image but three
    assert main(["reconstruct", str(run), "--n", n, "--out", str(tmp_path / "r.png")]) == 2
    assert f"--n {n}" in capsys.readouterr().err and not (tmp_path / "r.png").exists()


def test_every_bad_input_is_named_at_once_and_skip_bad_encodes_the_rest(run, images, tmp_path, capsys):
    """encode stopped at the first bad file: a folder of 400 scans lost its work for one, and named only that one."""
    (images / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (images / "zz.nii.gz").write_bytes(b"not gzip")
    out = tmp_path / "codes.npz"
    assert main(["encode", str(run), str(images), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 of 5 inputs" in err and "torn.png" in err and "zz.nii.gz" in err and "--skip-bad" in err
    assert not out.exists()
    assert main(["encode", str(run), str(images), "--out", str(out), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert "torn.png" in captured.err and "zz.nii.gz" in captured.err and "skipped 2" in captured.err
    saved = np.load(out)
    assert [name.rsplit("/", 1)[-1] for name in saved["files"]] == ["a.png", "b.jpg", "c.png"]
    assert [name.rsplit("/", 1)[-1] for name in saved["skipped"]] == ["torn.png", "zz.nii.gz"]
    assert saved["codes"].shape == (3, 3)
    recon = tmp_path / "recon.png"
    assert main(["reconstruct", str(run), str(images), "--out", str(recon), "--skip-bad"]) == 0 and recon.is_file()


def test_skip_bad_with_no_good_input_left_is_refused(run, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nothing")
    assert main(["encode", str(run), str(bad), "--out", str(tmp_path / "c.npz"), "--skip-bad"]) == 2
    assert "no input could be used" in capsys.readouterr().err


def test_skip_bad_keeps_each_per_input_label_with_its_file(run, images, tmp_path):
    """The labels of the inputs left out are left out with them, not the last ones."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"] = {"name": "cvae", "latent_dim": 3, "network": {"kind": "mlp", "hidden": [32]}}
    (tmp_path / "cvae.yaml").write_text(yaml.safe_dump(config))
    conditional = tmp_path / "cvae"
    assert main(["train", "--config", str(tmp_path / "cvae.yaml"), "--out", str(conditional)]) == 0
    (images / "b2.png").write_bytes(b"torn")  # sorts between b.jpg and c.png: the third of four inputs
    out = tmp_path / "codes.npz"
    assert main(["encode", str(conditional), str(images), "--labels", "0,1,2,1", "--out", str(out), "--skip-bad"]) == 0
    saved = np.load(out)
    assert [name.rsplit("/", 1)[-1] for name in saved["files"]] == ["a.png", "b.jpg", "c.png"]
    assert saved["labels"].tolist() == [0, 1, 1]


def test_a_phantom_scan_is_prepared_as_training_prepared_its_folder(phantom_set):
    """``registration: auto`` is settled for a folder of phantoms (off) when training reads it; one of its
    scans given to encode or reconstruct must be prepared the same way, not registered and N4-corrected."""
    from vaegan.cli.inputs import read_input
    from vaegan.data.mri import read_volumes

    mri = options(size=16, spacing=6.0, cache=False, registration="auto", bias_correction="auto")
    trained = read_volumes(phantom_set, mri)
    path = Path(trained.paths[0])
    assert torch.allclose(read_input(path, (1, 16, 16, 16), mri), trained.volumes[0], atol=1e-3)


def test_invert_turns_the_paper_dark_and_the_padding_stays_dark(tmp_path):
    """--invert flipped after padding: a photo of a page came with two white bars beside the digit."""
    from vaegan.cli.inputs import read_input
    from vaegan.data.config import MRIConfig

    page = np.full((40, 20), 250, np.uint8)  # a tall white page ...
    page[10:30, 8:12] = 5  # ... with a dark stroke
    Image.fromarray(page).save(tmp_path / "page.png")
    x = read_input(tmp_path / "page.png", (1, 28, 28), MRIConfig(), invert=True)
    assert x[0, 14, 0] == 0 and x[0, 14, -1] == 0  # the padding left and right of the page: dark
    assert x[0, 2, 14] < 0.05 and x[0, 14, 14] > 0.9  # the paper dark, the stroke light


def test_encode_and_reconstruct_pass_the_model_a_chunk_at_a_time(run, images, tmp_path, monkeypatch):
    """A folder of thousands of images went through the model as one batch: out of memory, and the message
    then suggested train.batch_size, which does not apply here."""
    from vaegan.cli import inputs
    from vaegan.models import VAE

    seen: list[int] = []
    for method in ("encode", "reconstruct"):
        original = getattr(VAE, method)
        monkeypatch.setattr(
            VAE, method, lambda self, x, *rest, _f=original, **kw: seen.append(len(x)) or _f(self, x, *rest, **kw)
        )
    monkeypatch.setattr(inputs, "CHUNK_IMAGES", 2)
    whole = tmp_path / "whole.npz"
    assert main(["encode", str(run), str(images), "--out", str(tmp_path / "codes.npz")]) == 0
    assert seen == [2, 1]
    seen.clear()
    assert main(["reconstruct", str(run), str(images), "--out", str(whole)]) == 0
    assert max(seen) == 2 and min(seen) == 1 and np.load(whole)["recons"].shape[0] == 3  # (its encode counts too)


def test_encode_checks_labels_and_refine_before_reading_any_file(run, images, tmp_path, capsys, monkeypatch):
    """A cVAE's codes without --labels, or --refine -5: every NIfTI was preprocessed before the refusal."""
    from vaegan.cli import inputs

    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"] = {"name": "cvae", "latent_dim": 3, "network": {"kind": "mlp", "hidden": [32]}}
    (tmp_path / "cvae.yaml").write_text(yaml.safe_dump(config))
    conditional = tmp_path / "cvae"
    assert main(["train", "--config", str(tmp_path / "cvae.yaml"), "--out", str(conditional)]) == 0

    def never(*args, **kwargs):
        raise AssertionError("the inputs were read before the options were checked")

    monkeypatch.setattr(inputs, "read_inputs", never)
    out = ["--out", str(tmp_path / "c.npz")]
    assert main(["encode", str(conditional), str(images), *out]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["encode", str(conditional), str(images), "--labels", "0", "--refine", "-5", *out]) == 2
    assert "refine=-5" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dark_run(run, tmp_path_factory):
    """The tiny VAE trained long enough to draw the blobs' dark background (``run``, of one slow epoch, draws grey)."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["lr"] = 0.1
    config["train"]["epochs"] = 2
    root = tmp_path_factory.mktemp("dark")
    (root / "dark.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(root / "dark.yaml"), "--out", str(root / "run")]) == 0
    return root / "run"


def pages(folder: Path) -> Path:
    """Two dark strokes on white paper (as drawn or photographed) and one light stroke on black (as MNIST)."""
    folder.mkdir()
    # seven.png is tall: the dark padding that squares it is not its paper
    for name, paper, ink, height in (("one.png", 245, 10, 24), ("seven.png", 230, 30, 40), ("mnist.png", 0, 255, 24)):
        page = np.full((height, 24), paper, np.uint8)
        page[4:20, 10:14] = ink
        Image.fromarray(page).save(folder / name)
    return folder


@pytest.mark.parametrize("command", ["reconstruct", "encode"])
def test_dark_on_light_inputs_are_named_once_with_invert(dark_run, tmp_path, capsys, command):
    """An inverted "1" came back an "8" blob, and stdout said only "wrote 6 images"."""
    folder = pages(tmp_path / "mine")
    out = str(tmp_path / ("r.png" if command == "reconstruct" else "c.npz"))
    assert main([command, str(dark_run), str(folder), "--out", out]) == 0
    err = capsys.readouterr().err
    assert err.count("--invert") == 1 and "2 of 3 inputs" in err and "dark on light" in err
    assert "one.png" in err and "seven.png" in err and "mnist.png" not in err
    # inverted, the MNIST-like one is the odd one out, and the warning says to leave --invert out
    assert main([command, str(dark_run), str(folder), "--out", out, "--invert"]) == 0
    err = capsys.readouterr().err
    assert "1 of 3 inputs" in err and "mnist.png" in err and "one.png" not in err and "--invert" in err


def test_light_on_dark_inputs_and_an_untrained_model_give_no_warning(run, dark_run, tmp_path, capsys):
    folder = pages(tmp_path / "mine")
    assert main(["reconstruct", str(dark_run), str(folder / "mnist.png"), "--out", str(tmp_path / "r.png")]) == 0
    assert "--invert" not in capsys.readouterr().err
    # a model that has not learned a background (it draws grey) says nothing of the inputs' paper
    assert main(["reconstruct", str(run), str(folder), "--out", str(tmp_path / "r.png")]) == 0
    assert "--invert" not in capsys.readouterr().err


def test_a_nifti_input_is_never_called_dark_on_light(dark_run, tmp_path, capsys):
    """A scan's background is the scanner's; inverted it is light, and still not for this warning to judge."""
    volume = np.zeros((20, 24, 20), np.float32)
    volume[4:16, 4:20, 4:16] = np.random.default_rng(1).uniform(50, 100, (12, 16, 12))
    scan = tmp_path / "sub-01_T1w.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.diag([2.0, 2.0, 2.0, 1.0])), scan)
    assert main(["encode", str(dark_run), str(scan), "--invert", "--out", str(tmp_path / "c.npz")]) == 0
    assert "dark on light" not in capsys.readouterr().err


def test_reconstruct_of_a_folder_says_which_file_each_tile_is(run, tmp_path, capsys):
    """A folder's PNG grid names no tile: the order of the files, row by row, is printed."""
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"d{i}.png")
    assert main(["reconstruct", str(run), str(folder), "--out", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "d0.png, d1.png, d2.png" in out and "above" in out
    for i in range(3, 30):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"d{i:02d}.png")
    assert main(["reconstruct", str(run), str(folder), "--out", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "d0.png, d03.png" in out and "..." in out and "d20.png" not in out and "30 files" in out


@pytest.mark.parametrize("model", ["gan", "acgan"])
def test_a_run_without_an_encoder_is_named_without_a_wrong_article(run, tmp_path, capsys, model):
    """It said "acgan holds a acgan, which has no encoder"."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"] = {"name": model, "latent_dim": 3, "network": {"kind": "mlp", "hidden": [16]}}
    config["train"]["epochs"] = 1
    (tmp_path / "gan.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(tmp_path / "gan.yaml"), "--out", str(tmp_path / model)]) == 0
    capsys.readouterr()
    assert main(["reconstruct", str(tmp_path / model), "--out", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert f"holds model {model}, which has no encoder" in err and "holds a " not in err
    assert main(["sample", str(tmp_path / model), "--latent", "fitted", "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert f"holds model {model}, which has no encoder" in err and "holds a " not in err


def test_colour_photographs_are_not_judged_dark_on_light(tmp_path, monkeypatch, capsys):
    # an image-folder run of photographs: a bright sky at a photo's edge is no page to --invert
    from types import SimpleNamespace

    from vaegan.cli import inputs

    monkeypatch.setattr(inputs, "drawn_paper", lambda model: 0.1)
    model = SimpleNamespace(config=SimpleNamespace(image_shape=(3, 32, 32)))
    inputs.warn_of_paper([tmp_path / "sky.png"], [0.9], SimpleNamespace(model=model, path=tmp_path), inverted=False)
    assert "--invert" not in capsys.readouterr().err
