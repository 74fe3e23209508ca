"""Latent figures for every registered model, 2-D and wider codes, chosen by capability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import tiny_splits
from tests.visualization.conftest import CLASSES, quick_config, saved_spreads, saved_texts, tiny_model
from vaegan.models import get_model_class, list_models
from vaegan.training import Trainer
from vaegan.training.callbacks import default_callbacks
from vaegan.training.run_folder import is_run_file, write_marker
from vaegan.visualization import latent_figures
from vaegan.visualization.codes import (
    LatentCodes,
    decode,
    encode_dataset,
    rank_dimensions,
    sweep_scale,
)


def assert_not_blank(path, min_std: float = 10.0) -> np.ndarray:
    """A readable figure: a real PNG whose grey levels vary (text, axes and images drawn)."""
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert image.shape[0] > 100 and image.shape[1] > 100, (path, image.shape)
    assert image.std() > min_std, (path, float(image.std()))
    return image


def expected_figures(model) -> set[str]:
    d = model.config.latent_dim
    names = {"traversal", "interpolation"}
    if d == 2:
        names.add("manifold")
    if model.has_encoder and d >= 2:
        names |= {"scatter_pca"} | ({"scatter_latent"} if d == 2 else set())
    if model.conditional:
        names.add("class_interpolation")
    return names


@pytest.mark.parametrize("latent_dim", [2, 5])
@pytest.mark.parametrize("name", list_models())
def test_every_model_gets_the_figures_its_capabilities_allow(name, latent_dim, trained, data, tmp_path, monkeypatch):
    from vaegan.visualization import latent

    spreads = saved_spreads(monkeypatch, latent)
    (tmp_path / "run").mkdir()
    write_marker(tmp_path / "run")
    model = trained(name, latent_dim)
    modes: set[bool] = set()  # the mode of every layer that ran while the figures were drawn
    hooks = [m.register_forward_pre_hook(lambda m, _: modes.add(m.training)) for m in model.modules()]
    model.train()  # as a callback finds it mid-training
    try:
        paths = latent_figures(model, data.test, tmp_path / "latent", methods=("pca",), n_points=16, k=4, steps=5)
        assert model.training and all(m.training for m in model.modules())  # the mode it was found in
    finally:
        model.eval()  # the cached model is shared with other tests
        for hook in hooks:
            hook.remove()
    assert modes == {False}  # drawn in eval mode: batch norm's running statistics, no dropout
    assert set(paths) == expected_figures(model)
    assert all(is_run_file(tmp_path / "run" / "latent" / path.name) for path in paths.values())  # --overwrite's
    assert is_run_file(tmp_path / "run" / "latent" / "latent.json")
    for path in paths.values():
        assert path.parent == tmp_path / "latent" and path.suffix == ".png"
        assert_not_blank(path)
        assert spreads[path.name] > 1e-3, (path.name, spreads[path.name])  # images or points that vary


def test_three_d_models_get_figures_too(tmp_path, monkeypatch):
    from vaegan.visualization import latent

    spreads = saved_spreads(monkeypatch, latent)
    model = tiny_model("vae", 3, shape=(1, 8, 8, 8))
    paths = latent_figures(model, tiny_splits((1, 8, 8, 8), n=16).test, tmp_path, methods=("pca",), n_points=8)
    assert {"traversal", "interpolation", "scatter_pca"} <= set(paths)
    assert_not_blank(paths["traversal"])
    assert all(spreads[path.name] > 1e-3 for path in paths.values()), spreads


def test_kl_ranking_puts_the_informative_dimension_first(trained):
    model = trained("vae", 5)
    kl = torch.tensor([[0.01, 0.02, 3.0, 0.5, 0.0]]).repeat(4, 1)
    codes = LatentCodes(torch.zeros(4, 5), torch.zeros(4, dtype=torch.long), torch.zeros(4, 1, 16, 16), kl)
    dims, labels = rank_dimensions(model, codes, k=3)
    assert dims == [2, 3, 1]
    assert labels[0].startswith("z2") and "KL 3.00 nats" in labels[0]
    scale, unit = sweep_scale(model, codes)
    assert torch.equal(scale, torch.ones(5)) and unit == "prior sd"


def test_deterministic_codes_rank_by_variance_and_sweep_in_their_own_sd(trained, data):
    model = trained("ae", 5)
    codes = encode_dataset(model, data.test, n=16)
    assert codes.kl is None and codes.codes.shape == (16, 5)
    dims, _ = rank_dimensions(model, codes, k=5)
    variances = codes.codes.var(0)
    assert dims[0] == int(variances.argmax())
    scale, unit = sweep_scale(model, codes)
    assert torch.allclose(scale, codes.codes.std(0)) and "test codes" in unit


def test_vae_codes_carry_per_dimension_kl_that_sums_to_the_models_kl(trained, data):
    model = trained("vae", 5)
    codes = encode_dataset(model, data.test, n=16)
    with torch.no_grad():
        q = model.posterior(codes.images, None)
    assert torch.allclose(codes.kl.sum(1), q.kl(), atol=1e-5)


@pytest.mark.parametrize("name", [n for n in list_models() if get_model_class(n).conditional])
def test_soft_one_hot_labels_decode_exactly_like_hard_labels(name, trained):
    model = trained(name, 2)
    assert model.soft_labels
    z = torch.randn(CLASSES, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(CLASSES)
    hard = decode(model, z, labels)
    soft = decode(model, z, torch.eye(CLASSES))
    halfway = decode(model, z[:1], torch.tensor([[0.5, 0.5, 0.0]]))
    assert torch.allclose(hard, soft, atol=1e-6)
    assert not torch.allclose(halfway, hard[:1])  # a mixture is a different image from either class


def test_unconditional_models_have_no_soft_labels(trained):
    assert not trained("vae", 2).soft_labels


def test_conditional_decode_without_labels_names_the_fix(trained):
    with pytest.raises(ValueError, match="pass labels"):
        decode(trained("cvae", 2), torch.zeros(1, 2))


def test_visualize_every_adds_a_callback_that_draws_during_training(data, tmp_path):
    config = quick_config(visualize_every=2, epochs=3, tensorboard=True)
    names = [type(c).__name__ for c in default_callbacks(config)]
    assert names[-1] == "LatentFigures"
    assert "LatentFigures" not in [type(c).__name__ for c in default_callbacks(quick_config())]
    Trainer(tiny_model("vae", 2), data, config, out_dir=tmp_path).fit()
    written = {p.stem for p in (tmp_path / "latent").glob("*.png")}
    assert {"traversal", "manifold", "scatter_pca", "interpolation"} <= written
    assert_not_blank(tmp_path / "latent" / "manifold.png")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    steps = [event.step for event in events.Images("latent/traversal")]
    assert steps == [2, 3]  # epoch 2 (every 2) and the last epoch


@pytest.mark.parametrize("name", ["ae", "cvae"])
def test_figures_name_the_split_they_encode(name, trained, data, tmp_path, monkeypatch):
    # the training callback encodes the validation images and `visualize --split train` the training
    # ones, yet every title said "test image", "test-code quantiles", "sd of test codes"
    from vaegan.visualization import latent

    texts = saved_texts(monkeypatch, latent)
    latent_figures(trained(name, 2), data.val, tmp_path, methods=("pca",), n_points=16, k=2, steps=3, split="val")
    words = " ".join(texts)
    assert "val" in words and "test" not in words


def test_hard_label_class_interpolation_columns_are_class_names_and_traversal_offsets_exact(
    trained, data, tmp_path, monkeypatch
):
    # a conditional model without soft labels had its class columns labelled 0.00, 1.00, 2.00, and the
    # traversal's -2.25 and -0.75 showed as -2.2 and -0.8
    import dataclasses

    from vaegan.visualization import latent

    renamed = dataclasses.replace(data.test, class_names=["CN", "MCI", "AD"])
    model = trained("cvae", 2)
    monkeypatch.setattr(type(model), "soft_labels", False)
    texts = saved_texts(monkeypatch, latent)
    latent_figures(model, renamed, tmp_path, methods=("pca",), n_points=16, k=2, steps=9)
    assert {"CN", "MCI", "AD"} <= set(texts) and "2.00" not in texts  # t of the image interpolation stops at 1
    assert {"-2.25", "-0.75", "+0", "+3"} <= set(texts)


def test_each_figure_records_the_checkpoint_and_epoch_it_was_drawn_from(trained, data, tmp_path):
    """The callback draws PCA from each epoch's weights, `vaegan visualize` all three projections from best.pt:
    a folder could mix them, and nothing said which figure showed which model."""
    import json

    from vaegan.visualization.latent import PROVENANCE, figure_sources

    model = trained("vae", 5)
    common = {"methods": ("pca",), "n_points": 16, "k": 2, "steps": 3}
    latent_figures(model, data.test, tmp_path, **common, drawn_from={"checkpoint": "best", "epoch": 4})
    first = json.loads((tmp_path / PROVENANCE).read_text())
    assert first["scatter_pca"] == {"checkpoint": "best", "epoch": 4, "split": "test"}
    (tmp_path / "scatter_tsne.png").write_bytes(b"")  # a projection this call does not draw
    first["scatter_tsne"] = first["scatter_pca"]
    (tmp_path / PROVENANCE).write_text(json.dumps(first))
    latent_figures(model, data.val, tmp_path, **common, split="val", drawn_from={"checkpoint": "last", "epoch": 9})
    record = figure_sources(tmp_path)
    assert record["scatter_pca"] == record["traversal"] == {"checkpoint": "last", "epoch": 9, "split": "val"}
    assert record["scatter_tsne"] == {"checkpoint": "best", "epoch": 4, "split": "test"}  # kept: still its own
    (tmp_path / PROVENANCE).write_text("{not json")
    assert figure_sources(tmp_path) == {}  # a damaged record is no record, and is rewritten by the next call


def test_a_neighbour_embedding_of_a_handful_of_points_is_not_drawn(tmp_path, caplog):
    """t-SNE and UMAP of 4 test volumes took 14 s and drew axes of +-4000 that say nothing."""
    from vaegan.visualization.latent import latent_figures

    model = tiny_model("vae", 3)
    paths = latent_figures(model, tiny_splits(n=16).test, tmp_path, methods=("pca", "tsne", "umap"), n_points=8)
    assert "scatter_pca" in paths and not {"scatter_tsne", "scatter_umap"} & set(paths)
    assert "tsne" in caplog.text and "too few" in caplog.text


def test_a_model_without_an_encoder_records_prior_draws_not_the_split(data, tmp_path):
    # a GAN's figures are drawn from prior draws, yet latent.json recorded "test" and the report captioned
    # them "(best.pt of epoch 3, test images)" under titles saying "prior sample"
    from vaegan.visualization.latent import figure_sources
    from vaegan.visualization.report_figures import _drawn

    drawn = {"checkpoint": "best", "epoch": 3}
    latent_figures(tiny_model("gan", 2), data.test, tmp_path, methods=("pca",), k=2, steps=3, drawn_from=drawn)
    for source in figure_sources(tmp_path).values():
        caption, _ = _drawn(source, {}, tmp_path)
        assert caption == "best.pt of epoch 3, prior draws", caption
