"""Individual counterfactual maps, residual counterfactuals, posterior averaging, and the atrophy-scale setting."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from tests.data.mri_files import (  # noqa: F401  (fixtures)
    anatomy_cache_fixture,
    options,
    phantom_cache_fixture,
    phantom_set_fixture,
)
from tests.visualization.conftest import shows_a_map
from vaegan.data.anatomy import load_anatomy
from vaegan.data.mri import MRIVolumes, read_volumes
from vaegan.data.phantoms import ATROPHY_SUFFIX, PhantomSubject, phantom_settings, synthesize
from vaegan.models import ConditionalVAE, ConditionalVAEConfig, GenerativeModel
from vaegan.models.config import ModelConfig
from vaegan.visualization.disease_effects import counterfactual, disease_effect, fitted_name, loss_only, pearson
from vaegan.visualization.disease_maps import per_position, summarize_effects
from vaegan.visualization.subject_maps import IndividualMaps, individual_maps

MRI = {"size": 16, "spacing": 6.0, "spatial_dims": 2, "slice_axis": "coronal", "slice_range": (0.3, 0.7)}


class Oracle(GenerativeModel):
    """Knows each image's own true atrophy: decode(z, CN) - decode(z, AD) = 0.1 * truth[image].

    Its code is the image's index in the order individual_maps encodes them (AD subjects, then positions).
    """

    conditional = True
    has_encoder = True

    def __init__(self, truth: Tensor):
        super().__init__(ModelConfig(name="oracle", image_shape=tuple(truth.shape[1:]), num_classes=2, latent_dim=1))
        self.register_buffer("truth", truth)  # (N, C, *S)
        self.anchor = nn.Parameter(torch.zeros(()))

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return torch.arange(len(x)).float().unsqueeze(1)

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        lost = self.truth[z[:, 0].long()]
        return 0.5 - 0.1 * labels.view(-1, *[1] * (lost.dim() - 1)).float() * lost


class Blind(ConditionalVAE):
    """A conditional VAE whose decoder never sees the label: it cannot show a disease."""

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return super().synthesize(z, torch.zeros_like(labels))


@pytest.fixture(scope="module")
def volumes(phantom_set):
    return read_volumes(phantom_set, options(size=16, spacing=6.0, cache=False), maps_suffix=ATROPHY_SUFFIX)


def tiny(cls=ConditionalVAE) -> ConditionalVAE:
    torch.manual_seed(0)
    net = {"channels": [8, 16], "hidden": [32]}
    return cls(ConditionalVAEConfig(image_shape=(1, 16, 16), num_classes=2, latent_dim=4, network=net))


def test_an_oracle_finds_every_subjects_own_atrophy(volumes):
    mri = options(**MRI)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].flatten(0, 1)
    maps = individual_maps(Oracle(truth), volumes, mri)
    assert len(maps.subjects) == int((volumes.labels == 1).sum()) == len(maps.r)
    assert maps.loss.shape == maps.truth.shape == maps.baseline.shape
    assert float(maps.r.min()) > 0.999 and maps.r_group > 0.999
    low, median, high = maps.quartiles()
    assert low <= median <= high and median > 0.999
    assert 0.0 < maps.quartiles(baseline=True)[1] < 0.999  # the model-free map is not the truth


def test_a_model_that_ignores_the_label_shows_no_effect(volumes):
    mri = options(**MRI)
    maps = individual_maps(tiny(Blind), volumes, mri)
    assert float(maps.loss.abs().max()) == 0.0  # residual: x + dec(z, CN) - dec(z, AD) - x
    assert float(maps.r.abs().max()) == 0.0
    assert float(summarize_effects(tiny(Blind), volumes, mri).effect.abs().max()) == 0.0


class GroupOracle(Oracle):
    """Knows the mean true atrophy of all disease subjects and draws it into every image: a perfect group map."""

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return torch.zeros(len(x), 1)


def test_group_maps_carry_jackknife_intervals_over_subjects(volumes):
    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].mean(0, keepdim=True).flatten(0, 1)
    summary = summarize_effects(GroupOracle(truth), volumes, mri)
    assert summary.r_model > 0.999
    low, high = summary.intervals["r_model"]
    assert 0.5 < low < high <= 1.0  # other disease subjects move their mean atrophy; r stays <= 1
    low, high = summary.intervals["r_group"]
    assert low < summary.r_group < high and high - low > 0.02
    low, high = summary.intervals["margin"]  # paired: the same draws for the model and the raw difference
    assert 0.0 < low < 1.0 - summary.r_group < high
    assert summary.intervals == summarize_effects(GroupOracle(truth), volumes, mri).intervals  # seeded
    assert "95% interval" in summary.describe()
    assert summarize_effects(GroupOracle(truth), volumes, mri, intervals=False).intervals == {}


def with_sessions(data: MRIVolumes, copies: dict[int, int]) -> MRIVolumes:
    """``data`` with scan i repeated ``copies[i]`` more times under its own subject: later sessions of one subject."""
    rows = [i for i in range(len(data.labels)) for _ in range(1 + copies.get(i, 0))]
    index = torch.tensor(rows)
    return replace(
        data,
        volumes=data.volumes[index],
        labels=data.labels[index],
        subjects=[data.subjects[i] for i in rows],
        paths=[f"{data.paths[i]}#{n}" for n, i in enumerate(rows)],
        maps=data.maps[index],
        seconds=[],
    )


def test_a_subject_counts_once_in_group_maps_however_many_sessions_it_has(volumes):
    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].mean(0, keepdim=True).flatten(0, 1)
    control, patient = int((volumes.labels == 0).nonzero()[0]), int((volumes.labels == 1).nonzero()[0])
    longitudinal = with_sessions(volumes, {control: 3, patient: 2})
    half = torch.arange(len(volumes.labels)) % 2 == 0
    once = summarize_effects(GroupOracle(truth), volumes, mri, reference=volumes.select(half))
    repeated = summarize_effects(
        GroupOracle(truth), longitudinal, mri, reference=with_sessions(volumes.select(half), {0: 4})
    )
    for name in ("effect", "truth", "group_difference", "anatomy", "reference"):
        assert torch.allclose(getattr(repeated, name), getattr(once, name), atol=1e-6), name
    assert repeated.r_group == pytest.approx(once.r_group) and repeated.r_reference == pytest.approx(once.r_reference)
    for name, (low, high) in once.intervals.items():  # the jackknife leaves out a subject, not a scan
        assert repeated.intervals[name] == pytest.approx((low, high), abs=1e-6), name

    def oracle(data: MRIVolumes) -> Oracle:
        return Oracle(per_position(data.maps, mri)[data.labels == 1].flatten(0, 1))

    maps, again = (
        individual_maps(oracle(volumes), volumes, mri),
        individual_maps(oracle(longitudinal), longitudinal, mri),
    )
    assert torch.allclose(again.brain, maps.brain)  # the mask is the subjects' mean brain, not the scans'
    control_mean = per_position(volumes.volumes, mri)[volumes.labels == 0].mean(0)
    first = per_position(volumes.volumes, mri)[patient]
    assert torch.allclose(again.baseline[0], control_mean - first, atol=1e-6)  # the controls' mean: per subject
    assert again.r_group == pytest.approx(maps.r_group)  # the AD maps' mean: per subject too
    for kind in ({}, {"baseline": True}, {"specific": True}, {"one_sided": True}):  # a subject once in each median
        assert again.quartiles(**kind) == pytest.approx(maps.quartiles(**kind), abs=1e-6), kind
    n = len(maps.subjects)
    assert again.describe().startswith(f"{n + 2} disease scans of {n} subjects: median r")


def test_the_reference_is_the_voxelwise_group_difference_of_other_subjects(volumes):
    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].mean(0, keepdim=True).flatten(0, 1)
    model = GroupOracle(truth)
    itself = summarize_effects(model, volumes, mri, reference=volumes)
    assert itself.r_reference == pytest.approx(itself.r_group)  # the same subjects: the raw group difference
    assert torch.equal(itself.reference, itself.group_difference)
    held = torch.arange(len(volumes.labels)) % 2 == 0
    test, train = volumes.select(held), volumes.select(~held)
    summary = summarize_effects(model, test, mri, reference=train)
    images = per_position(train.volumes, mri)
    difference = images[train.labels == 1].mean(0) - images[train.labels == 0].mean(0)
    assert torch.allclose(summary.reference, difference)
    assert summary.r_reference == pytest.approx(pearson(-difference, summary.truth, summary.anatomy > 0.1), abs=1e-6)
    assert summary.r_reference != pytest.approx(summary.r_group, abs=1e-3)  # other subjects, another map
    low, high = summary.intervals["r_reference"]
    assert low < summary.r_reference < high  # the test disease subjects left out move the truth it is scored on
    low, high = summary.intervals["margin_reference"]
    assert low < summary.r_model - summary.r_reference < high
    assert "training subjects' group difference" in summary.describe()
    plain = summarize_effects(model, test, mri)
    assert math.isnan(plain.r_reference) and plain.reference is None and "margin_reference" not in plain.intervals
    with pytest.raises(ValueError, match="reference"):
        summarize_effects(model, test, mri, reference=train.select(train.labels == 0))


def test_what_is_individual_scores_each_map_beyond_the_group_mean(volumes):
    """An oracle of each subject's own atrophy keeps r 1 beyond the group mean; a map that draws the
    group's mean atrophy into everyone scores high per subject and about nothing beyond the group."""
    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].flatten(0, 1)
    own = individual_maps(Oracle(truth), volumes, mri)
    assert own.quartiles(specific=True)[0] > 0.999
    shared = individual_maps(GroupOracle(truth.mean(0, keepdim=True)), volumes, mri)
    assert shared.quartiles()[1] > 0.5
    assert abs(shared.quartiles(specific=True)[1]) < 0.2
    low, median, high = own.quartiles(baseline=True, specific=True)
    assert -1.0 <= low <= median <= high < 0.999
    with pytest.raises(ValueError, match="one_sided or specific"):
        own.quartiles(one_sided=True, specific=True)
    one = own.loss[:1]
    alone = IndividualMaps(one, one, one, one, ["sub-1"], own.r[:1], own.r[:1], 1.0, own.brain)
    assert all(math.isnan(q) for q in alone.quartiles(specific=True))  # its own mean: nothing left


def test_the_training_subjects_group_difference_is_every_subjects_model_free_map(volumes):
    """The map a user without a model would hand each patient: the other subjects' group difference,
    one map for everyone. A model's individual maps are worth their median only above this one's."""
    from vaegan.visualization.disease_maps import group_difference
    from vaegan.visualization.subject_maps import group_difference_maps

    mri = options(**MRI)
    held = torch.arange(len(volumes.labels)) % 2 == 0
    test, train = volumes.select(held), volumes.select(~held)
    maps = group_difference_maps(test, train, mri)
    shared = -group_difference(train, mri)  # mean CN minus mean AD: the intensity AD removes
    patients = int((test.labels == 1).sum())
    assert maps.loss.shape == (patients, *shared.shape)
    assert torch.allclose(maps.loss, shared.expand_as(maps.loss), atol=1e-6)
    expected = [pearson(shared, truth, maps.brain) for truth in maps.truth]
    assert maps.r.tolist() == pytest.approx(expected, abs=1e-6)
    assert maps.r_group == pytest.approx(pearson(shared, maps.truth.mean(0), maps.brain), abs=1e-6)
    model_free = individual_maps(tiny(Blind), test, mri)  # the same subjects' own model-free maps
    assert torch.equal(maps.baseline, model_free.baseline)
    with pytest.raises(ValueError, match="both classes"):
        group_difference_maps(test, train.select(train.labels == 0), mri)


class SeverityOracle(GroupOracle):
    """Draws the group's atrophy scaled by the label's weight on AD: a subject shows its own amount of it."""

    soft_labels = True

    def synthesize(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        weight = labels[:, 1] if labels.dim() == 2 else labels.float()
        return 0.5 - 0.1 * weight.view(-1, *[1] * (self.truth.dim() - 1)) * self.truth[:1]


def test_the_disease_amount_is_the_label_mix_that_reconstructs_each_subject_best():
    from vaegan.visualization.disease_effects import disease_amount

    pattern = torch.rand(1, 1, 4, 4, 4)
    model = SeverityOracle(pattern)
    x = torch.stack([0.5 - 0.1 * a * pattern[0] for a in (0.3, 1.0, 1.6)])
    assert torch.allclose(disease_amount(model, x, source=1, target=0), torch.tensor([0.3, 1.0, 1.6]), atol=0.051)
    groups = torch.tensor([0, 0, 1])  # images of one subject share one amount
    both = disease_amount(model, x, source=1, target=0, groups=groups)
    assert both[0] == both[1] and abs(float(both[2]) - 1.6) < 0.051
    with pytest.raises(ValueError, match="soft labels"):
        disease_amount(Oracle(torch.zeros(2, 1, 16, 16)), torch.rand(2, 1, 16, 16), source=1, target=0)


def test_scaled_individual_maps_remove_each_subjects_own_amount_of_disease(volumes):
    """Subjects differ in how much atrophy they show; scaled maps follow it, the plain ones cannot."""
    mri = options(size=16, spacing=6.0, spatial_dims=3)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].mean(0, keepdim=True).flatten(0, 1)
    model = SeverityOracle(truth)
    plain = individual_maps(model, volumes, mri)
    scaled = individual_maps(model, volumes, mri, scaled=True)
    assert len(scaled.amounts) == len(scaled.subjects) and plain.amounts is None
    patients = per_position(volumes.volumes, mri)[volumes.labels == 1]
    assert scaled.loss.abs().sum() != plain.loss.abs().sum()  # the amounts differ from 1
    # the oracle's effect is linear in the label's weight on AD: each subject's map is its amount of the plain one
    ratios = scaled.loss.flatten(1).abs().sum(1) / plain.loss.flatten(1).abs().sum(1)
    assert torch.allclose(ratios, scaled.amounts.float(), rtol=1e-4), (ratios, scaled.amounts)
    amount = torch.tensor([0.3, 1.6])
    two = patients[:2, 0]
    assert torch.allclose(
        disease_effect(model, two, source=1, target=0, amount=amount),
        amount.view(-1, *[1] * (two.dim() - 1)) * disease_effect(model, two, source=1, target=0),
        atol=1e-6,
    )
    assert torch.allclose(scaled.images, patients)
    with pytest.raises(ValueError, match="residual"):  # decode(z, CN) - x has no amount to scale
        individual_maps(model, volumes, mri, scaled=True, residual=False)
    with pytest.raises(ValueError, match="residual"):
        counterfactual(model, patients[:1].flatten(0, 1), source=1, target=0, residual=False, amount=torch.ones(1))


def test_amounts_at_an_end_of_the_search_are_told():
    """Every scan's fitted amount was 2.0, the top of the amounts searched, and nothing said the fit was cut off."""
    maps = torch.zeros(4, 1, 1, 4, 4)
    args = (maps, maps, maps, None, ["a", "b", "c", "d"], torch.zeros(4), torch.zeros(4), 0.0, maps[0] > 0)
    told = IndividualMaps(*args, amounts=torch.tensor([2.0, 2.0, 0.0, 1.05])).amounts_cut_off("AD")
    assert len(told) == 2, told
    assert told[0].startswith("2 of 4 AD scans' fitted amounts are 2, the top") and "cut off" in told[0]
    assert told[1].startswith("1 of 4 AD scans' fitted amounts are 0, the bottom")
    assert IndividualMaps(*args, amounts=torch.tensor([0.05, 1.0, 1.95, 1.5])).amounts_cut_off("AD") == []
    assert IndividualMaps(*args).amounts_cut_off("AD") == []  # not scaled


def test_residual_counterfactuals_cancel_the_reconstruction_error():
    model = tiny().eval()
    x = torch.rand(4, 1, 16, 16) * 0.5 + 0.25
    residual = counterfactual(model, x, source=1, target=0)
    assert torch.allclose(residual, x + disease_effect(model, x, source=1, target=0), atol=1e-6)
    plain = counterfactual(model, x, source=1, target=0, residual=False)
    with torch.no_grad():
        z = model.encode(x, torch.ones(4, dtype=torch.long))
        assert torch.allclose(plain, model.generate(z, torch.zeros(4, dtype=torch.long)), atol=1e-6)


def test_posterior_samples_are_averaged_and_seeded():
    model = tiny().eval()
    x = torch.rand(3, 1, 16, 16)
    one = disease_effect(model, x, source=0, target=1, samples=4, seed=1)
    with torch.no_grad():  # the mean over the 4 draws of decode(z, target) - decode(z, source)
        z = model.posterior(x, torch.zeros(3, dtype=torch.long)).sample(4, generator=torch.Generator().manual_seed(1))
        labels = [torch.full((3,), c) for c in (0, 1)]
        expected = torch.stack([model.generate(code, labels[1]) - model.generate(code, labels[0]) for code in z])
    assert torch.allclose(one, expected.mean(0), atol=1e-6)
    assert torch.equal(one, disease_effect(model, x, source=0, target=1, samples=4, seed=1))
    assert not torch.equal(one, disease_effect(model, x, source=0, target=1, samples=4, seed=2))
    assert not torch.equal(one, disease_effect(model, x, source=0, target=1))  # 1 = the posterior mean
    with pytest.raises(ValueError, match="samples=0"):
        disease_effect(model, x, source=0, target=1, samples=0)


def test_refined_maps_decode_each_images_map_code():
    """refine=N: the effect of the code that best explains the image (VAE.map_code), not the encoder's guess."""
    from vaegan.foundation.errors import ConfigError
    from vaegan.models.vae import map_codes

    model = tiny().eval()
    x = torch.rand(3, 1, 16, 16)
    refined = disease_effect(model, x, source=1, target=0, refine=5)
    z = map_codes(model, x, torch.ones(3, dtype=torch.long), steps=5)
    with torch.no_grad():
        labels = [torch.full((3,), c) for c in (0, 1)]
        expected = model.generate(z, labels[0]) - model.generate(z, labels[1])
    assert torch.allclose(refined, expected, atol=1e-6)
    assert not torch.allclose(refined, disease_effect(model, x, source=1, target=0), atol=1e-4)  # moved
    healthy = counterfactual(model, x, source=1, target=0, refine=5)
    assert torch.allclose(healthy, (x + expected).clamp(0, 1), atol=1e-6)
    with pytest.raises(ValueError, match="one code per image"):  # a MAP code is one point, not draws
        disease_effect(model, x, source=1, target=0, refine=5, samples=4)
    with pytest.raises(ConfigError, match="refine=-1"):
        disease_effect(model, x, source=1, target=0, refine=-1)


def test_a_warped_models_refined_maps_decode_each_images_own_fitted_warp():
    model = ConditionalVAE(
        ConditionalVAEConfig(
            image_shape=(1, 16, 16),
            num_classes=2,
            latent_dim=4,
            warp_points=3,
            network={"channels": [8], "hidden": [16]},
        )
    ).eval()
    x = torch.rand(3, 1, 16, 16)
    z, points = model.map_code_and_warp(x, torch.ones(3, dtype=torch.long), steps=5)
    with torch.no_grad(), model.decoder.fixed(points):
        expected = model.generate(z, torch.zeros(3, dtype=torch.long)) - model.generate(
            z, torch.ones(3, dtype=torch.long)
        )
    torch.testing.assert_close(disease_effect(model, x, source=1, target=0, refine=5), expected)
    plain = counterfactual(model, x, source=1, target=0, refine=5, residual=False)
    with torch.no_grad(), model.decoder.fixed(points):
        torch.testing.assert_close(plain, model.generate(z, torch.zeros(3, dtype=torch.long)))
    assert fitted_name(model) == "MAP code and warp" and fitted_name(tiny()) == "MAP code"  # what refine fits


def test_refined_individual_maps_say_how_they_were_made(volumes):
    mri = options(**MRI)
    model = tiny().eval()
    plain, refined = (individual_maps(model, volumes, mri, refine=steps) for steps in (0, 3))
    assert plain.refine == 0 and refined.refine == 3
    assert refined.fitted == "MAP code" and "each map from its MAP code (3 steps)" in refined.describe()
    assert refined.loss.shape == plain.loss.shape and not torch.allclose(refined.loss, plain.loss, atol=1e-5)
    with pytest.raises(ValueError, match="one code per image"):
        individual_maps(model, volumes, mri, refine=3, samples=2)


def test_atrophy_scale_weakens_only_the_disease(phantom_cache):
    anatomy = load_anatomy()
    subject = PhantomSubject("sub-01", "AD", age=70.0, severity=0.8, seed=3)
    image, truth, _ = synthesize(anatomy, subject, 10.0)
    same_image, same_truth, _ = synthesize(anatomy, subject, 10.0, atrophy_scale=1.0)
    assert np.array_equal(image, same_image) and np.array_equal(truth, same_truth)  # the default is unchanged
    _, weak, _ = synthesize(anatomy, subject, 10.0, atrophy_scale=0.25)
    assert 0.0 < weak.sum() < 0.5 * truth.sum()
    assert phantom_settings(12, 0, 6.0) == phantom_settings(12, 0, 6.0, 1.0)  # cached sets keep their marker
    assert phantom_settings(12, 0, 6.0, 0.5)["atrophy_scale"] == 0.5


def test_individual_figure_is_drawn(volumes, tmp_path):
    from PIL import Image

    from vaegan.visualization.brain import plot_individual_maps

    mri = options(**MRI)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].flatten(0, 1)
    maps = individual_maps(Oracle(truth), volumes, mri)
    path = plot_individual_maps(maps, mri, tmp_path / "individual.png", subjects=2, title="oracle")
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert image.shape[0] > 400 and shows_a_map(path)  # four rows, maps drawn


def test_one_sided_maps_keep_an_oracle_perfect_and_drop_gains(volumes):
    mri = options(**MRI)
    truth = per_position(volumes.maps, mri)[volumes.labels == 1].flatten(0, 1)
    maps = individual_maps(Oracle(truth), volumes, mri)
    assert maps.quartiles(one_sided=True)[0] > 0.999  # the truth is never negative: nothing to drop
    assert float(loss_only(torch.tensor([-1.0, 0.5])).min()) == 0.0
    low, median, high = maps.quartiles(baseline=True, one_sided=True)
    assert -1.0 <= low <= median <= high <= 1.0


def test_summaries_describe_themselves_in_one_line():
    from vaegan.visualization.disease_maps import EffectSummary
    from vaegan.visualization.subject_maps import IndividualMaps

    maps = torch.zeros(2, 1, 1, 4, 4)
    summary = EffectSummary(maps[0], maps[0], maps[0], maps[0], r_model=0.614, r_group=0.3)
    assert summary.describe() == "r(model map, true atrophy) = 0.61; r(raw group difference) = 0.30"
    individual = IndividualMaps(
        maps, maps, maps, maps, ["sub-1", "sub-2"], torch.tensor([0.2, 0.6]), torch.tensor([0.1, 0.1]), 0.5, maps[0]
    )
    assert individual.describe() == (
        "2 disease subject(s): median r = 0.40 [IQR 0.30 .. 0.50]; model-free median r = 0.10"
    )


def test_healthy_twins_are_the_same_subjects_without_their_disease(phantom_set, tmp_path):
    from vaegan.data.phantoms import write_phantoms
    from vaegan.visualization.subject_maps import true_counterfactual_maps

    twins_folder = write_phantoms(tmp_path / "twins", subjects=12, seed=0, spacing=6.0, atrophy_scale=0.0)
    mri = options(**MRI)
    read = options(size=16, spacing=6.0, cache=False)
    data = read_volumes(phantom_set, read, maps_suffix=ATROPHY_SUFFIX)
    twins = read_volumes(twins_folder, read, maps_suffix=ATROPHY_SUFFIX)
    assert twins.subjects == data.subjects and torch.equal(twins.labels, data.labels)
    assert float(twins.maps.abs().max()) == 0.0  # nobody has lost tissue
    control = data.labels == 0
    assert torch.equal(twins.volumes[control], data.volumes[control])  # a CN subject is its own twin
    assert not torch.equal(twins.volumes[~control], data.volumes[~control])

    ceiling = true_counterfactual_maps(data, twins, mri)
    low, median, _ = ceiling.quartiles()
    # the saved truth is the tissue the disease removes, so the twin's difference all but equals it
    assert median > 0.95 and low > ceiling.quartiles(baseline=True)[1], ceiling.quartiles()
    assert ceiling.r_group > 0.82, ceiling.r_group
    with pytest.raises(ValueError, match="same subjects"):
        true_counterfactual_maps(data, twins.select(torch.arange(12) < 11), mri)


def test_an_impossible_atrophy_scale_is_refused_with_its_range(tmp_path, capsys):
    from vaegan.cli import main

    assert main(["phantoms", "--out", str(tmp_path / "p"), "--subjects", "4", "--atrophy-scale", "2"]) != 0
    assert "[0, 1.6]" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_scans_without_a_true_atrophy_get_their_maps_drawn_and_left_unscored(volumes, tmp_path):
    """A researcher's own scans carry no true atrophy: the maps are still the model's to draw and save."""
    from dataclasses import replace

    from vaegan.visualization.brain import plot_effect_maps, plot_individual_maps
    from vaegan.visualization.disease_maps import group_difference

    mri, model = options(**MRI), tiny()
    scans = replace(volumes, maps=None)
    summary = summarize_effects(model, scans, mri, samples=2)
    assert summary.truth is None and math.isnan(summary.r_model) and math.isnan(summary.r_group)
    assert summary.intervals == {}
    assert torch.equal(summary.group_difference, group_difference(scans, mri))
    scored = summarize_effects(model, volumes, mri, samples=2, intervals=False)
    assert torch.equal(summary.effect, scored.effect)  # the map itself does not depend on the truth
    assert "no true atrophy" in summary.describe()
    maps = individual_maps(model, scans, mri, samples=2)
    ad = int((volumes.labels == 1).sum())
    assert maps.truth is None and len(maps.subjects) == ad and maps.loss.shape[0] == ad
    assert torch.isnan(maps.r).all() and all(math.isnan(q) for q in maps.quartiles(specific=True))
    assert "no true atrophy" in maps.describe()
    for path in (
        plot_effect_maps(summary, mri, tmp_path / "group.png"),
        plot_individual_maps(maps, mri, tmp_path / "individual.png", subjects=2),
    ):
        assert shows_a_map(path)  # the maps drawn, not only the anatomy
    with pytest.raises(ValueError, match="true atrophy"):
        summary.one_sided()
