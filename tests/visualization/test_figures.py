"""Each figure function: the math behind it, and a titled, labelled, non-blank figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.visualization.test_latent import assert_not_blank
from vaegan.visualization import (
    embed,
    lerp,
    plot_curves,
    plot_embedding,
    plot_manifold,
    plot_traversal,
    read_history,
    slerp,
)
from vaegan.visualization.codes import decode
from vaegan.visualization.curves import curves_figure, unit_of
from vaegan.visualization.figures import save_figure
from vaegan.visualization.interpolation import class_mixtures, plot_interpolation
from vaegan.visualization.traversal import gaussian_axis, manifold_codes, traversal_codes, traversal_images


def labelled(fig) -> tuple[str, str, str]:
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel(), "every figure needs a title and axis labels"
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_lerp_and_slerp_start_and_end_at_the_codes():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    t = torch.linspace(0, 1, 5)
    for path in (lerp(a, b, t), slerp(a, b, t)):
        assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    # the arc keeps the radius (both codes have norm 3); the chord cuts inside it
    assert torch.allclose(slerp(a, b, t).norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    assert lerp(a, b, t)[2].norm() < 3.0 - 0.5
    assert torch.allclose(slerp(a, a, t), a.expand(5, 2))  # parallel codes: no division by sin(0)


def test_class_mixtures_move_all_weight_from_one_class_to_another():
    mix = class_mixtures(0, 2, 3, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.allclose(mix, torch.tensor([[1.0, 0, 0], [0.75, 0, 0.25], [0, 0, 1.0]]))


def test_traversal_codes_move_one_dimension_per_row():
    base = torch.tensor([0.5, -1.0, 2.0])
    offsets = torch.tensor([-3.0, 0.0, 3.0])
    scale = torch.tensor([1.0, 2.0, 1.0])
    codes = traversal_codes(base, [2, 1], offsets, scale).view(2, 3, 3)
    assert torch.allclose(codes[0, :, 2], torch.tensor([-1.0, 2.0, 5.0]))
    assert torch.allclose(codes[1, :, 1], torch.tensor([-7.0, -1.0, 5.0]))  # in units of scale[1] = 2
    assert torch.allclose(codes[0, :, :2], base[:2].expand(3, 2))  # the other dimensions stay put


def test_manifold_grid_puts_high_z1_on_top_and_low_z0_on_the_left():
    z0, z1 = torch.tensor([-1.0, 0.0, 1.0]), torch.tensor([-2.0, 2.0])
    codes = manifold_codes((z0, z1)).view(2, 3, 2)
    assert codes[0, 0].tolist() == [-1.0, 2.0] and codes[-1, -1].tolist() == [1.0, -2.0]
    axis = gaussian_axis(5)
    assert axis[2].abs() < 1e-6 and torch.allclose(axis, -axis.flip(0), atol=1e-5)
    assert abs(float(axis[-1]) - 1.96) < 0.01


def test_traversal_of_a_trained_vae_changes_the_images_along_each_row(trained, tmp_path):
    model = trained("vae", 2)
    offsets = torch.linspace(-3, 3, 7)
    images = traversal_images(model, torch.zeros(2), [0, 1], offsets, torch.ones(2))
    assert images.shape == (14, 1, 16, 16) and 0 <= images.min() and images.max() <= 1
    rows = images.view(2, 7, -1)
    assert (rows[:, 0] - rows[:, -1]).abs().max() > 1e-3  # the decoder listens to the code
    fig = plot_traversal(images, offsets, ["z0", "z1"], title="vae traversal")
    title, xlabel, ylabel = labelled(fig)
    assert title == "vae traversal" and "prior sd" in xlabel and ylabel
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"{v:+.3g}" for v in offsets.tolist()]
    assert_not_blank(save_figure(fig, tmp_path / "t.png"))


def test_manifold_and_interpolation_figures_are_labelled(trained, tmp_path):
    model = trained("vae", 2)
    axis = gaussian_axis(6)
    images = decode(model, manifold_codes((axis, axis)))
    fig = plot_manifold(images, (axis, axis), title="manifold")
    assert labelled(fig) == ("manifold", "z0", "z1")
    assert_not_blank(save_figure(fig, tmp_path / "m.png"))
    t = torch.linspace(0, 1, 4)
    rows = [images[:4], images[4:8]]
    fig = plot_interpolation(rows, ["linear", "spherical"], t, endpoints=(images[0], images[1]), title="interp")
    ticks = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert ticks[0] == "image A" and ticks[-1] == "image B" and len(ticks) == 6
    assert [tick.get_text() for tick in fig.axes[0].get_yticklabels()] == ["linear", "spherical"]
    assert_not_blank(save_figure(fig, tmp_path / "i.png"))


def two_clusters(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    labels = np.arange(n) % 2
    codes = g.normal(size=(n, 6)) * 0.3 + labels[:, None] * 8.0
    return codes.astype(np.float32), labels


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projections_keep_separated_classes_apart(method, tmp_path):
    codes, labels = two_clusters()
    points, names = embed(codes, method, seed=0)
    assert points.shape == (40, 2) and np.isfinite(points).all() and all(names)
    centres = np.stack([points[labels == c].mean(0) for c in (0, 1)])
    spread = max(points[labels == c].std(0).max() for c in (0, 1))
    assert np.linalg.norm(centres[0] - centres[1]) > 2 * spread
    fig = plot_embedding(points, labels, names, class_names=["zero", "one"], title=f"codes by {method}")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["zero", "one"]
    labelled(fig)
    assert_not_blank(save_figure(fig, tmp_path / f"{method}.png"))


def legend_colours(fig) -> dict[str, tuple]:
    legend = fig.axes[0].get_legend()
    return {t.get_text(): tuple(h.get_facecolor()[0]) for t, h in zip(legend.get_texts(), legend.legend_handles)}


def test_a_class_keeps_its_colour_whichever_classes_a_subsample_holds():
    """Colours went by place among the classes present: without class b, c took b's colour, so a validation
    scatter and a test scatter of one run coloured c apart; above 20 classes tab20 gave two classes one colour."""
    points = np.random.default_rng(0).normal(size=(4, 2))
    names = ["a", "b", "c"]
    without_b = legend_colours(plot_embedding(points, np.array([0, 0, 2, 2]), ("x", "y"), class_names=names))
    with_b = legend_colours(plot_embedding(points, np.array([0, 1, 2, 2]), ("x", "y"), class_names=names))
    assert without_b["c"] == with_b["c"] and without_b["a"] == with_b["a"]
    many = np.arange(25)
    colours = legend_colours(plot_embedding(np.zeros((25, 2)), many, ("x", "y")))
    assert len(set(colours.values())) == 25
    some = legend_colours(
        plot_embedding(np.zeros((2, 2)), np.array([3, 24]), ("x", "y"), class_names=[*"abcdefghijklmnopqrstuvwxy"])
    )
    assert some["d"] == colours["3"] and some["y"] == colours["24"]  # the same colour with every class present


def test_embed_rejects_what_it_cannot_project():
    with pytest.raises(ValueError, match="isomap"):
        embed(np.zeros((10, 3)), "isomap")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        embed(np.zeros((10, 1)), "pca")
    with pytest.raises(ValueError, match="at least 4 points"):
        embed(np.zeros((3, 3)), "tsne")


def test_curves_have_integer_epoch_ticks_units_and_read_back(tmp_path):
    history = [
        {"epoch": e, "train/loss": 10.0 / e, "val/loss": 11.0 / e, "train/acc_real": 0.5 + e / 10, "seconds": 1.0}
        for e in range(1, 4)
    ]
    fig = curves_figure(history, "run curves")
    loss_ax, acc_ax = fig.axes[:2]
    ticks = [t for t in loss_ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
    one = curves_figure(history[:1])  # a one-epoch run (quick notebooks) drew 0.945 ... 1.050
    labels = [t.get_text() for t in one.axes[0].get_xticklabels() if t.get_text()]
    assert labels == ["1"], labels
    assert loss_ax.get_ylabel() == "loss (nats / image)" and acc_ax.get_ylabel() == "acc_real (fraction correct)"
    assert unit_of("mystery") is None and unit_of("mystery", {"mystery": "px"}) == "px"
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,train/loss,val/loss\n1,2.5,\n2,2.0,2.1\n")
    assert read_history(csv) == [{"epoch": 1.0, "train/loss": 2.5}, {"epoch": 2.0, "train/loss": 2.0, "val/loss": 2.1}]
    assert_not_blank(plot_curves(read_history(csv), tmp_path / "curves.png"))


def write_grids(run, grids: dict[str, list[int]]) -> None:
    """``RUN/epochNNN_<name>.png`` for each name and epoch: a gradient, brighter for later epochs."""
    from vaegan.visualization.grids import save_grid

    for name, epochs in grids.items():
        for epoch in epochs:
            ramp = torch.linspace(0, epoch / 3, 16 * 16).clamp(0, 1).view(1, 1, 16, 16)
            save_grid(ramp.expand(4, 1, 16, 16), run / f"epoch{epoch:03d}_{name}.png", 2)


def test_grid_files_index_a_run_folders_grids_by_kind_and_epoch(tmp_path):
    from vaegan.visualization.grids import grid_files

    write_grids(tmp_path, {"recons": [1, 2], "class_fakes": [2]})
    (tmp_path / "curves.png").write_bytes(b"")  # not a grid
    files = grid_files(tmp_path)
    assert {kind: sorted(epochs) for kind, epochs in files.items()} == {"recons": [1, 2], "class_fakes": [2]}
    assert files["recons"][2] == tmp_path / "epoch002_recons.png"


def test_epoch_grids_show_the_last_epoch_that_has_every_grid(tmp_path):
    from vaegan.visualization.figures import epoch_grids

    write_grids(tmp_path, {"recons": [1, 2, 3], "fakes": [1, 2]})  # epoch 3 has no fakes yet
    fig = epoch_grids(tmp_path, ["recons", "fakes"])
    assert [ax.get_title() for ax in fig.axes] == ["recons, epoch 2", "fakes, epoch 2"]
    assert_not_blank(save_figure(fig, tmp_path / "shown.png"))
    assert epoch_grids(tmp_path, ["recons"]).axes[0].get_title() == "recons, epoch 3"
    assert epoch_grids(tmp_path, ["recons"], epoch=1).axes[0].get_title() == "recons, epoch 1"


def test_epoch_grids_say_which_grids_a_run_holds(tmp_path):
    from vaegan.visualization.figures import epoch_grids

    write_grids(tmp_path, {"recons": [1]})
    with pytest.raises(FileNotFoundError, match=r"\['analogies'\] at any one epoch.*\['recons'\]"):
        epoch_grids(tmp_path, ["analogies"])
    with pytest.raises(FileNotFoundError, match="at epoch 5"):
        epoch_grids(tmp_path, ["recons"], epoch=5)


def test_image_row_draws_intensities_on_0_1_and_diverging_maps_symmetric(tmp_path):
    from vaegan.visualization.figures import image_row

    image, loss = torch.rand(8, 8) * 0.5, torch.linspace(-0.2, 0.6, 64).view(8, 8)
    fig = image_row([(image, "subject", "gray"), (loss, "loss", "hot"), (loss, "difference", "RdBu_r")])
    subject, hot, diverging = (ax for ax in fig.axes if ax.get_title())
    assert [ax.get_title() for ax in (subject, hot, diverging)] == ["subject", "loss", "difference"]
    assert subject.images[0].get_clim() == (0.0, 1.0)  # not stretched to the image's own 0..0.5
    assert hot.images[0].get_clim() == pytest.approx((-0.2, 0.6))
    assert diverging.images[0].get_clim() == pytest.approx((-0.6, 0.6))  # 0 keeps the colormap's middle
    assert len(fig.axes) == 5  # the two maps have colour bars, the intensities none
    assert_not_blank(save_figure(fig, tmp_path / "row.png"))


def test_image_row_takes_only_2d_images():
    from vaegan.visualization.figures import image_row

    with pytest.raises(ValueError, match=r"'volume' has shape \(1, 8, 8\)"):
        image_row([(torch.rand(1, 8, 8), "volume", "gray")])
    with pytest.raises(ValueError, match="no panels"):
        image_row([])


def test_panel_curves_group_the_chosen_terms_and_name_a_missing_one():
    from vaegan.visualization import panel_curves

    history = [
        {"epoch": e, "train/d_real": 0.9 - 0.1 * e, "train/d_fake": 0.1 * e, "train/g_loss": 2.0} for e in (1, 2)
    ]
    fig = panel_curves(history, {"verdicts": {"d_real": "D(x)", "d_fake": "D(G(z))"}, "G": {"g_loss": "g_loss"}})
    verdicts, generator = fig.axes
    assert verdicts.get_title().startswith("verdicts") and [line.get_label() for line in verdicts.lines] == [
        "D(x)",
        "D(G(z))",
    ]
    np.testing.assert_allclose(verdicts.lines[1].get_ydata(), [0.1, 0.2])
    assert len(generator.lines) == 1 and list(generator.get_xticks()) == [1, 2]  # epochs, not fractions
    with pytest.raises(KeyError, match="'train/kl'"):
        panel_curves(history, {"VAE": {"kl": "KL"}})


def test_panel_curves_name_their_split_and_y_axis():
    """The panels named neither the split drawn (train by default) nor the y axis, as curves_figure does."""
    import matplotlib.text

    from vaegan.visualization import panel_curves

    history = [
        {"epoch": e, "train/d_real": 0.9, "train/d_fake": 0.1, "train/g_loss": 2.0, "train/w": 1.0} for e in (1, 2)
    ]
    panels = {
        "verdicts": {"d_real": "D(x)", "d_fake": "D(G(z))"},
        "G": {"g_loss": "g_loss"},
        "mixed": {"g_loss": "G", "w": "W"},
    }
    fig = panel_curves(history, panels)
    verdicts, generator, mixed = fig.axes
    for ax in fig.axes:
        assert "train" in " ".join(t.get_text() for t in ax.findobj(matplotlib.text.Text))
    assert verdicts.get_ylabel() == "probability" and generator.get_ylabel() == "nats / image"
    assert "G" in mixed.get_ylabel() and "nats / image" in mixed.get_ylabel() and "W" in mixed.get_ylabel()
    assert generator.get_ylabel() != panel_curves(history, panels, units={"g_loss": "bits"}).axes[1].get_ylabel()
    val = [{**row, "val/d_real": 0.8, "val/d_fake": 0.2} for row in history]
    assert "val" in panel_curves(val, {"verdicts": panels["verdicts"]}, split="val").axes[0].get_title()


def test_image_grid_is_a_titled_figure_of_the_images(tmp_path):
    from vaegan.visualization import image_grid

    images = torch.rand(12, 1, 8, 8)
    fig = image_grid(images, 4, "samples", row_labels=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_title() == "samples" and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.images[0].get_array().shape == (3 * 10 + 2, 4 * 10 + 2)  # tiles of 8 with 2 pixels of padding
    assert_not_blank(save_figure(fig, tmp_path / "grid.png"))


@pytest.mark.parametrize("writer", ["curves", "figure", "grid"])
def test_pngs_rewritten_every_epoch_keep_the_old_file_when_writing_fails(writer, tmp_path, monkeypatch):
    """curves.png and the grids are rewritten during training: a full disk or a kill mid-write must leave
    the previous picture whole, never half a PNG."""
    import os

    from matplotlib.figure import Figure

    from vaegan.visualization import save_grid

    def write(path):
        if writer == "curves":
            return plot_curves([{"epoch": 1, "train/loss": 2.0, "val/loss": 2.1}], path)
        if writer == "figure":
            return save_figure(Figure(), path)
        return save_grid(torch.rand(4, 1, 8, 8), path, columns=2)

    path = tmp_path / "picture.png"
    write(path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]  # no temporary file left behind


def test_epoch_grids_keep_the_grids_own_grey_levels(tmp_path):
    # drawn with matplotlib's default range (each grid's own min to max), a near-black grid of prior
    # draws (the 64^3 cVAE's) was stretched to look like a normal one
    from PIL import Image

    from vaegan.visualization.figures import epoch_grids

    for name in ("recons", "fakes"):
        Image.fromarray(np.full((20, 20), 26, dtype=np.uint8)).save(tmp_path / f"epoch001_{name}.png")
    fig = epoch_grids(tmp_path, ["recons", "fakes"])
    assert [ax.images[0].get_clim() for ax in fig.axes] == [(0.0, 1.0)] * 2


@pytest.mark.parametrize(
    ("name", "settings", "term", "shown"),
    [
        ("wgan_gp", {}, "d_loss", "critic score"),  # a critic's score plus 10 x its penalty: no cross-entropy
        ("wgan_gp", {}, "g_loss", "critic score"),
        ("cvae", {"invariance_weight": 1000.0}, "loss", None),  # nats plus 1000 x an MMD
        ("cvaegan", {}, "loss", None),  # nats plus feature distances
        ("vae", {}, "loss", "nats / image"),
        ("vae", {}, "objective", "nats / image"),  # the same sum at the configured beta
        ("cvae", {"invariance_weight": 1000.0}, "objective", None),
        ("gan", {}, "d_loss", "nats / image"),
    ],
)
def test_curve_units_are_the_models_not_only_the_terms_name(name, settings, term, shown, tmp_path, monkeypatch):
    from tests.models.tiny_configs import tiny_model
    from vaegan.training import callbacks

    model = tiny_model(name, **settings)
    history = [{"epoch": 1, f"train/{term}": 1.0}]
    drawn = {}
    monkeypatch.setattr(callbacks, "plot_curves", lambda history, path, title, units=None: drawn.update(units or {}))
    trainer = type("T", (), {"model": model, "history": history, "out_dir": tmp_path})()
    callbacks.MetricsLog().on_epoch_end(trainer, history[0])
    ylabel = curves_figure(history, units=drawn).axes[0].get_ylabel()
    assert ylabel == (term if shown is None else f"{term} ({shown})")


def test_a_term_equal_to_an_earlier_one_shares_its_panel():
    """Without a warm-up the VAE's objective is its loss, epoch for epoch: one panel, titled with both names."""
    same = [
        {"epoch": e, "train/loss": 9.0 / e, "val/loss": 9.5 / e, "train/objective": 9.0 / e, "val/objective": 9.5 / e}
        for e in range(1, 4)
    ]
    fig = curves_figure(same)
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == ["loss = objective"], titles
    warm = [{**row, "train/objective": row["train/loss"] + 1.0} for row in same]  # a warm-up: they differ
    assert [ax.get_title() for ax in curves_figure(warm).axes if ax.axison] == ["loss", "objective"]


def test_a_folded_grid_pads_with_the_separators_grey_not_black_images():
    """5 originals over 5 reconstructions, folded 3 wide: the sixth tile of each row was black, read as a black
    input reconstructed perfectly."""
    from vaegan.visualization.grids import layout_grid

    grid = torch.rand(2, 5, 1, 4, 4) * 0.2 + 0.8  # bright images
    tiles, width = layout_grid(grid, image_dims=3)
    assert width == 3 and len(tiles) == 12
    pads = tiles[[8, 11]]  # the second block: 2 originals and a pad above 2 reconstructions and a pad
    assert torch.all(pads == 0.5)


def test_a_linear_projection_is_drawn_on_equal_axes(data):
    # PC2 at 0% of the variance (+-0.025) was stretched as wide as PC1 (+-0.8): a line looked like a cloud
    from tests.visualization.conftest import tiny_model
    from vaegan.visualization.codes import LatentCodes
    from vaegan.visualization.latent import _Context, scatter_figure

    g = np.random.default_rng(0)
    line = np.stack([np.linspace(-1, 1, 30), g.normal(size=30) * 0.01, g.normal(size=30) * 0.01], 1)
    codes = LatentCodes(torch.tensor(line, dtype=torch.float32), torch.arange(30) % 2, data.test.images[:30], None)
    ctx = _Context(tiny_model("ae", 3), data.test, codes, 0, "test")
    for method, equal in (("pca", True), ("tsne", False)):
        assert (scatter_figure(ctx, method).axes[0].get_aspect() == 1.0) is equal, method


def test_a_grids_row_labels_are_drawn_left_of_their_rows(tmp_path):
    from PIL import Image

    from vaegan.visualization.grids import save_grid

    images = torch.zeros(6, 1, 8, 8)
    plain = np.asarray(Image.open(save_grid(images, tmp_path / "plain.png", 2)))
    labelled = np.asarray(Image.open(save_grid(images, tmp_path / "rows.png", 2, row_labels=["CN", "AD", "CN"])))
    margin = labelled.shape[1] - plain.shape[1]
    assert labelled.shape[0] == plain.shape[0] and margin > 0
    assert np.array_equal(labelled[:, margin:], plain)  # the tiles themselves as they were
    bands = np.array_split(labelled[:, :margin], 3)  # one band per row: each holds its label's ink
    assert all((band.min(axis=-1) if band.ndim == 3 else band).min() < 64 for band in bands)


def test_row_labels_fall_back_to_pillows_own_font_without_freetype(tmp_path, monkeypatch):
    # load_default(size=...) needs FreeType; a Pillow built without it raised after every sample was drawn
    from PIL import ImageFont

    from vaegan.visualization.grids import save_grid

    def without_freetype(size=None):
        raise ImportError("The _imagingft C module is not installed")

    monkeypatch.setattr(ImageFont, "load_default", without_freetype)
    assert save_grid(torch.rand(4, 1, 8, 8), tmp_path / "g.png", 2, row_labels=["a", "b"]).is_file()
