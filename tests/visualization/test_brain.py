"""Disease-effect maps, their correlation with the true atrophy, and the nilearn figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    options,
    phantom_cache_fixture,
    phantom_set_fixture,
)
from tests.visualization.conftest import saved_texts
from vaegan.data.config import MRIConfig
from vaegan.data.mri import read_volumes
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.models import ConditionalVAE, ConditionalVAEConfig, GenerativeModel
from vaegan.models.config import ModelConfig
from vaegan.visualization.brain import map_to_nifti, plot_effect_maps
from vaegan.visualization.disease_effects import disease_effect, pearson
from vaegan.visualization.disease_maps import summarize_effects

NET = {"channels": [8, 16], "hidden": [32]}


class Oracle(GenerativeModel):
    """Knows the true mean atrophy at each slice position: decode(z, AD) - decode(z, CN) = -truth[position].

    Its code is the position of each image in the (subject, position) order
    that summarize_effects encodes them in, so a misalignment of effect and
    truth maps shows up as a correlation below 1.
    """

    conditional = True
    has_encoder = True

    def __init__(self, truth: Tensor):
        super().__init__(ModelConfig(name="oracle", image_shape=tuple(truth.shape[1:]), num_classes=2, latent_dim=1))
        self.register_buffer("truth", truth)  # (P, C, *S)
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the model a device

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return (torch.arange(len(x)) % len(self.truth)).float().unsqueeze(1)

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        lost = self.truth[z[:, 0].long()]
        return 0.5 - labels.view(-1, *[1] * (lost.dim() - 1)).float() * lost


@pytest.fixture(scope="module")
def volumes(phantom_set):
    return read_volumes(phantom_set, options(size=16, spacing=6.0, cache=False), maps_suffix=ATROPHY_SUFFIX)


def tiny_cvae(shape: tuple[int, ...]) -> ConditionalVAE:
    torch.manual_seed(0)
    return ConditionalVAE(ConditionalVAEConfig(image_shape=shape, num_classes=2, latent_dim=4, network=NET))


def test_disease_effect_is_the_difference_of_two_decodings():
    model = tiny_cvae((1, 16, 16)).eval()
    x = torch.rand(5, 1, 16, 16)
    effect = disease_effect(model, x, source=0, target=1, chunk=2)
    with torch.no_grad():
        z = model.encode(x, torch.zeros(5, dtype=torch.long))
        cn, ad = torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.long)
        expected = model.generate(z, ad) - model.generate(z, cn)
    assert effect.shape == x.shape and torch.allclose(effect, expected, atol=1e-6)


def test_unconditional_models_have_no_disease_effect():
    from vaegan.models import VAE, VAEConfig

    with pytest.raises(ValueError, match="not a conditional model"):
        vae = VAE(VAEConfig(image_shape=(1, 16, 16), network=NET))
        disease_effect(vae, torch.rand(2, 1, 16, 16), source=0, target=1)


def test_pearson():
    a = torch.randn(4, 5, 6)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0, abs=1e-5)
    assert pearson(a, -a) == pytest.approx(-1.0, abs=1e-5)
    mask = torch.zeros_like(a, dtype=torch.bool)
    mask[:2] = True
    b = a.clone()
    b[2:] = torch.randn(2, 5, 6)  # differs only outside the mask
    assert pearson(a, b, mask) == pytest.approx(1.0, abs=1e-5)
    assert pearson(a, b) < 0.9


@pytest.mark.parametrize("dims", [2, 3])
def test_summary_shapes_and_an_oracle_correlates_perfectly(volumes, dims):
    mri = options(size=16, spacing=6.0, spatial_dims=dims, slice_axis="coronal", slice_range=(0.3, 0.7))
    model = tiny_cvae((1, 16, 16) if dims == 2 else (1, 16, 16, 16))
    summary = summarize_effects(model, volumes, mri)
    positions = 7 if dims == 2 else 1  # round(0.3 * 15) = 4 .. round(0.7 * 15) = 10
    shape = (positions, 1, 16, 16) if dims == 2 else (1, 1, 16, 16, 16)
    for maps in (summary.effect, summary.truth, summary.group_difference, summary.anatomy):
        assert maps.shape == shape
    # r is Pearson's of the tissue *loss* (-effect, -group difference) with the truth, inside the brain
    brain = summary.anatomy > 0.1
    assert summary.r_model == pytest.approx(pearson(-summary.effect, summary.truth, brain), abs=1e-6)
    assert summary.r_group == pytest.approx(pearson(-summary.group_difference, summary.truth, brain), abs=1e-6)
    assert summary.r_group > 0.2  # the raw group difference does show the atrophy
    assert float(summary.truth.max()) > 0.1 and float(summary.truth.min()) >= 0.0
    oracle = summarize_effects(Oracle(summary.truth), volumes, mri)
    assert oracle.r_model == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(-oracle.effect, summary.truth, atol=1e-6)


@pytest.mark.parametrize("dims", [2, 3])
def test_effect_figure_is_drawn(volumes, tmp_path, dims):
    mri = options(size=16, spacing=6.0, spatial_dims=dims, slice_axis="coronal", slice_range=(0.3, 0.7))
    truth = summarize_effects(tiny_cvae((1, 16, 16) if dims == 2 else (1, 16, 16, 16)), volumes, mri).truth
    summary = summarize_effects(Oracle(truth), volumes, mri)
    path = plot_effect_maps(summary, mri, tmp_path / "effects.png", title="oracle")
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert image.shape[0] > 300 and image.std() > 20


def test_effect_figure_says_its_orientation_and_where_its_colours_stop(volumes, tmp_path, monkeypatch):
    # the colour scale ends at the 99.9th percentile of |map| (565 voxels of one subject's atrophy above
    # it) and the slices had no L/R letters: neither was said
    from vaegan.visualization import brain

    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = summarize_effects(tiny_cvae((1, 16, 16, 16)), volumes, mri).truth
    summary = summarize_effects(Oracle(truth), volumes, mri)
    texts = saved_texts(monkeypatch, brain)
    plot_effect_maps(summary, mri, tmp_path / "effects.png")
    assert {"L", "R"} <= set(texts)
    titles = [t for t in texts if t.startswith(("model:", "true atrophy", "raw group difference"))]
    assert len(titles) == 3 and all("99.9th percentile" in t and "max" in t for t in titles)


def test_a_slab_of_registered_slices_is_placed_in_mni_mm():
    """Each plane of a 2-D map lands where its slice was cut from the registered volume."""
    from vaegan.data.mri_transforms import registered_grid
    from vaegan.data.volumes import slice_positions

    mri = MRIConfig(size=16, spacing=6.0, spatial_dims=2, slice_axis="coronal", slice_range=(0.3, 0.7), slice_step=2)
    grid = registered_grid(mri)
    positions = slice_positions(mri.size, mri.slice_range, mri.slice_step)
    image = map_to_nifti(torch.rand(len(positions), 1, 16, 16), mri, grid)
    for j, position in enumerate(positions.tolist()):  # voxel (x, plane j, z) of the slab = (x, position, z)
        assert np.allclose(image.affine @ [3, j, 5, 1], grid @ [3, position, 5, 1])
    volume = map_to_nifti(torch.rand(1, 1, 16, 16, 16), mri.model_copy(update={"spatial_dims": 3}), grid)
    assert np.allclose(volume.affine, grid)


def test_an_unregistered_slab_is_placed_in_the_volumes_nominal_mm_not_its_own():
    """Nominal mm centre the *volume*: a slab centred on itself put plane 22 of 64 at z = -20 mm, not -23.75,
    so the cut labels moved with slice_range and differed from a 3-D run on the same data."""
    from vaegan.data.volumes import slice_positions

    mri = MRIConfig(size=64, spacing=2.5, spatial_dims=2, slice_axis="axial", slice_range=(0.35, 0.6))
    positions = slice_positions(mri.size, mri.slice_range, mri.slice_step)
    slab = map_to_nifti(torch.rand(len(positions), 1, 64, 64), mri, None)
    volume = map_to_nifti(torch.rand(1, 1, 64, 64, 64), mri.model_copy(update={"spatial_dims": 3}), None)
    for j, position in enumerate(positions.tolist()):  # voxel (x, y, plane j) of the slab = (x, y, position)
        assert np.allclose(slab.affine @ [3, 40, j, 1], volume.affine @ [3, 40, position, 1])
    assert int(slab.header["sform_code"]) != 4  # nominal millimetres are no template's


def test_rows_of_one_unit_share_one_colour_scale():
    """Each row was scaled to its own 99.9th percentile: a mild subject's map looked as strong as a severe
    one's (what --scaled maps are for), and a weak, noisy group difference as strong as the model's map."""
    from vaegan.visualization.brain import row_peaks

    mild, severe = torch.full((1, 8, 8), 0.1), torch.full((1, 8, 8), 0.4)
    truth = torch.full((1, 8, 8), 0.9)
    peaks = row_peaks([(mild, "intensity"), (truth, "fraction"), (severe, "intensity"), (truth * 0.5, "fraction")])
    assert peaks[0] == peaks[2] == pytest.approx(0.4)
    assert peaks[1] == peaks[3] == pytest.approx(0.9)
    assert row_peaks([(torch.zeros(1, 8, 8), "intensity")]) == [1.0]  # a map of zeros still draws


def test_the_colour_limit_of_maps_beyond_torch_quantiles_reach_is_found():
    """torch.quantile refuses over 2**24 values: three 3-D subjects at 178^3, or a 2-D slab at 256^2, ended
    vaegan effects in a traceback after its NIfTI files were written."""
    from vaegan.visualization.brain import row_peaks

    big = torch.zeros(2**24 + 1000)
    big[-1000:] = 2.0  # 1000 of 16.8 M voxels: above the 99.9th percentile, which is 0
    small = torch.linspace(0, 1, 1001)
    assert row_peaks([(big, "intensity loss"), (small, "fraction")]) == [1.0, pytest.approx(0.999)]


def test_each_subjects_row_is_drawn_over_that_subjects_own_image(tmp_path, monkeypatch):
    """Every row of individual.png lay over the mean disease image, which no text said: the grey anatomy a
    reader took for the subject's was everyone's."""
    from vaegan.visualization import brain
    from vaegan.visualization.subject_maps import IndividualMaps

    mri = options(size=16, spacing=6.0, spatial_dims=3)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 1, 16, 16, 16, generator=g)
    maps = torch.rand(3, 1, 1, 16, 16, 16, generator=g)
    individual = IndividualMaps(
        maps, maps, images, maps * 0.5, ["s1", "s2", "s3"], torch.rand(3), torch.rand(3), 0.5, images[0] > 0
    )
    drawn = []
    stat_map = brain._stat_map
    monkeypatch.setattr(
        brain,
        "_stat_map",
        lambda plotting, image, background, *rest: (
            drawn.append(background),
            stat_map(plotting, image, background, *rest),
        ),
    )
    brain.plot_individual_maps(individual, mri, tmp_path / "individual.png", subjects=2)
    own = [map_to_nifti(images[i], mri).get_fdata() for i in (0, 0, 1, 1)]  # each subject's map, then its truth
    assert len(drawn) == 4
    for background, image in zip(drawn, own):
        assert np.allclose(background.get_fdata(), image)


def test_the_group_figure_says_what_anatomy_its_maps_lie_over(volumes, tmp_path, monkeypatch):
    """Its rows lie over the mean control image, which only the docstring said (individual.png: each subject's)."""
    from vaegan.visualization import brain

    mri = options(size=16, spacing=6.0, spatial_dims=3)
    summary = summarize_effects(tiny_cvae((1, 16, 16, 16)), volumes, mri)
    texts = saved_texts(monkeypatch, brain)
    plot_effect_maps(summary, mri, tmp_path / "effects.png")
    assert any("over the mean CN image" in t for t in texts)


def stat_map_peaks(monkeypatch) -> list[float]:
    """The colour limit each row of the next figures of vaegan.visualization.brain is drawn to."""
    from vaegan.visualization import brain

    peaks: list[float] = []
    stat_map = brain._stat_map
    monkeypatch.setattr(
        brain,
        "_stat_map",
        lambda *args: (peaks.append(args[-1]), stat_map(*args)),  # (..., ax, peak)
    )
    return peaks


def test_a_model_map_too_faint_for_the_shared_scale_is_drawn_on_its_own_and_says_so(tmp_path, monkeypatch):
    """A model's map of max 0.0017 under a group difference of 0.11 was coloured to ±0.11 and hidden below
    10% of it: the row was blank, and a reader concluded the model had found nothing."""
    from vaegan.visualization import brain
    from vaegan.visualization.disease_maps import EffectSummary

    mri = options(size=16, spacing=6.0, spatial_dims=3)
    g = torch.Generator().manual_seed(0)
    anatomy = torch.rand(1, 1, 16, 16, 16, generator=g)
    faint = -0.0017 * torch.rand(1, 1, 16, 16, 16, generator=g)
    strong = -0.11 * torch.rand(1, 1, 16, 16, 16, generator=g)
    summary = EffectSummary(faint, None, strong, anatomy, float("nan"), float("nan"))
    texts, peaks = saved_texts(monkeypatch, brain), stat_map_peaks(monkeypatch)
    plot_effect_maps(summary, mri, tmp_path / "effects.png")
    model, raw = (next(t for t in texts if t.startswith(start)) for start in ("model:", "raw group difference"))
    assert "own scale" in model and "0.0017" in model and "hidden" in model, model
    assert "own scale" not in raw
    assert peaks[0] == pytest.approx(float(np.quantile(-faint.numpy(), 0.999)), rel=1e-3)
    assert peaks[1] == pytest.approx(float(np.quantile(-strong.numpy(), 0.999)), rel=1e-3)
    texts.clear()
    peaks.clear()
    plot_effect_maps(EffectSummary(strong, None, faint, anatomy, 0.0, 0.0), mri, tmp_path / "effects.png")
    assert peaks[0] == pytest.approx(float(np.quantile(-strong.numpy(), 0.999)), rel=1e-3)  # the strong row: as was


def test_scaled_maps_say_so_and_each_subjects_amount(tmp_path, monkeypatch):
    """--scaled drew individual.png as plain maps: neither 'scaled' nor the amounts (every one 2.0, the top of
    the search) were in it."""
    from vaegan.visualization import brain
    from vaegan.visualization.subject_maps import IndividualMaps

    mri = options(size=16, spacing=6.0, spatial_dims=3)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1, 1, 16, 16, 16, generator=g)
    maps = torch.rand(2, 1, 1, 16, 16, 16, generator=g)
    args = (maps, maps, images, None, ["s1", "s2"], torch.rand(2), torch.rand(2), 0.5, images[0] > 0)
    texts = saved_texts(monkeypatch, brain)
    brain.plot_individual_maps(IndividualMaps(*args, amounts=torch.tensor([2.0, 0.35])), mri, tmp_path / "i.png")
    rows = [t for t in texts if t.startswith(("s1:", "s2:"))]
    assert len(rows) == 2 and all("scaled" in t for t in rows), rows
    assert "amount of AD 2.00" in rows[0] and "top" in rows[0] and "amount of AD 0.35" in rows[1], rows
    texts.clear()
    brain.plot_individual_maps(IndividualMaps(*args), mri, tmp_path / "i.png")
    assert not any("scaled" in t or "amount" in t for t in texts)


def saved_figures(monkeypatch, module) -> list:
    """Every figure that ``module`` saves from now on, kept open to be measured."""
    figures = []
    save = module.save_figure
    monkeypatch.setattr(module, "save_figure", lambda fig, path: (figures.append(fig), save(fig, path))[1])
    return figures


def overlaps(a, b) -> bool:
    """Whether two display-space boxes share area (touching edges do not count)."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 0 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0


@pytest.mark.parametrize("dims", [2, 3])
def test_colour_bar_labels_overlap_no_slice_nor_each_other(volumes, tmp_path, monkeypatch, dims):
    """With five coronal slices nilearn put the bar's labels left of it, over the fifth slice (the minus signs
    of -0.023 on its voxels), and the ±threshold labels (0.023, -0.023) one almost on the other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from vaegan.visualization import brain

    mri = options(size=16, spacing=6.0, spatial_dims=dims, slice_axis="coronal", slice_range=(0.3, 0.7))
    summary = summarize_effects(tiny_cvae((1, 16, 16) if dims == 2 else (1, 16, 16, 16)), volumes, mri)
    figures = saved_figures(monkeypatch, brain)
    plot_effect_maps(summary, mri, tmp_path / "effects.png", title="tiny")
    (fig,) = figures
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    # the slices: nilearn's axes of images inside each row's frame (the bars: meshes, no images)
    panels = [ax.get_window_extent(renderer) for ax in fig.axes if ax.images and ax.get_subplotspec() is None]
    assert len(panels) == 3 * (5 if dims == 2 else 3)
    bars = [ax for ax in fig.axes if ax.axison and not ax.images]
    assert len(bars) == 3  # one a row
    for bar in bars:
        assert not any(overlaps(bar.get_window_extent(renderer), panel) for panel in panels)
        labels = [t for t in bar.get_yticklabels() if t.get_visible() and t.get_text()]
        assert len(labels) >= 3, [t.get_text() for t in labels]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for text, box in zip(labels, boxes):
            hit = [panel for panel in panels if overlaps(box, panel)]
            assert not hit, f"{text.get_text()!r} at {box} lies over a slice at {hit[0]}"
        for i, a in enumerate(boxes):  # apart by a quarter of a line at least, not edge to edge
            for j in range(i + 1, len(boxes)):
                gap = max(boxes[j].y0 - a.y1, a.y0 - boxes[j].y1)
                assert gap > 0.25 * a.height, (labels[i].get_text(), labels[j].get_text(), gap)


def test_a_cut_point_is_for_3d_maps_inside_their_volume():
    from vaegan.visualization.brain import check_cut

    volume = options(size=16, spacing=6.0, spatial_dims=3)  # nominal mm: voxel centres from -45 to 45
    assert check_cut((-26, 0.5, 45), volume) == [-26.0, 0.5, 45.0]
    with pytest.raises(ValueError, match=r"\(0, 0, -46\) mm lies outside the maps' volume: x -45 to 45"):
        check_cut((0, 0, -46), volume)
    with pytest.raises(ValueError, match="three coordinates"):
        check_cut((0, 0), volume)
    with pytest.raises(ValueError, match="for 3-D maps"):
        check_cut((0, 0, 0), options(size=16, spacing=6.0, spatial_dims=2))
