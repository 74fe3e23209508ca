"""evaluate_model dispatches on capabilities, for every registered model, and its results serialise."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from tests.conftest import blob_images
from tests.evaluation.conftest import tiny_model
from vaegan.data import DataSplits
from vaegan.evaluation.classifier import ReferenceClassifier, fit_classifier
from vaegan.evaluation.evaluator import EvaluationOptions, evaluate_model
from vaegan.evaluation.results import Evaluation, Metric
from vaegan.models import GenerativeModel, list_models
from vaegan.models.config import ModelConfig

SAMPLE_METRICS = {"fid", "kid", "precision", "recall", "diversity", "sharpness"}
QUICK = EvaluationOptions(k=4, nll_images=8, n_samples=30, tstr_epochs=1)


def splits(shape=(1, 16, 16)) -> DataSplits:
    return DataSplits(
        blob_images(90, shape, 3, seed=0), blob_images(12, shape, 3, seed=1), blob_images(30, shape, 3, seed=2)
    )


@pytest.fixture(scope="module")
def classifier():
    return fit_classifier(splits().train, epochs=2, batch_size=16)


def expected_metrics(model) -> set[str]:
    names = set(SAMPLE_METRICS)
    if model.has_encoder:
        names |= {"recon_mse", "recon_psnr", "recon_ssim"}
    if model.probabilistic:  # binarised training: a Bernoulli decoder's NLL is a likelihood
        names |= {"nll", "nll_given_label", "neg_elbo_given_label"} if model.conditional else {"nll", "neg_elbo"}
    if model.conditional:
        names |= {"cond_accuracy", "tstr_accuracy"}
    return names


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_gets_the_metrics_its_capabilities_allow(name, classifier):
    model = tiny_model(name)
    result = evaluate_model(model, splits(), classifier, options=QUICK, binarize=True)
    assert set(result.metrics) == expected_metrics(model)
    for key, metric in result.metrics.items():
        assert math.isfinite(metric.value), key
    for key in SAMPLE_METRICS:  # each sample metric sits beside its real-vs-real floor
        assert result.metrics[key].floor is not None, key
    assert result.model == name and result.info["n_samples"] == 30


def test_three_d_models_are_evaluated_too():
    shape = (1, 8, 16, 12)
    data = splits(shape)
    model = tiny_model("vae", shape)
    classifier = fit_classifier(data.train, epochs=2)  # 1 epoch leaves it at chance: no sample metrics then
    result = evaluate_model(model, data, classifier, options=QUICK, binarize=True)
    assert {"recon_ssim", "nll", "fid"} <= set(result.metrics)


def test_floors_behave_like_floors(classifier):
    # the classifier separates the classes, so real train vs real test sit close in its feature space
    options = EvaluationOptions(k=4, nll_images=8, n_samples=30, tstr_epochs=4)
    m = evaluate_model(tiny_model("cvae"), splits(), classifier, options=options).metrics
    assert m["fid"].floor < m["fid"].value  # an untrained model is far from the data
    assert m["cond_accuracy"].floor >= 0.9 and m["tstr_accuracy"].floor >= 0.9
    assert m["cond_accuracy"].value < m["cond_accuracy"].floor


def test_evaluation_is_reproducible(classifier):
    options = EvaluationOptions(k=4, nll_images=8, n_samples=30, tstr_epochs=1)
    first, second = tiny_model("cvae"), tiny_model("cvae")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = evaluate_model(first, splits(), classifier, options=options).to_dict()["metrics"]
    assert torch.equal(state, torch.get_rng_state())  # seeded from options.seed, global RNG untouched
    torch.manual_seed(456)
    b = evaluate_model(second, splits(), classifier, options=options).to_dict()["metrics"]
    assert a == b


def test_json_round_trip_and_non_finite_values_become_null(tmp_path):
    result = Evaluation("vae", "mnist", {"fid": Metric(3.0, floor=0.5), "nll": Metric(math.nan, unit="nats")})
    result.info = {"k": 5000}
    path = result.write(tmp_path / "sub" / "evaluation.json")
    data = json.loads(path.read_text())
    assert data["model"] == "vae" and data["dataset"] == "mnist" and data["k"] == 5000
    assert data["metrics"]["fid"] == {"value": 3.0, "floor": 0.5, "unit": "", "better": "lower"}
    assert data["metrics"]["nll"]["value"] is None
    back = Evaluation.read(path)
    assert back.metrics["fid"] == Metric(3.0, floor=0.5) and back.info == {"k": 5000}
    assert "fid" in back.summary() and "floor 0.5" in back.summary()


def test_reading_a_missing_or_foreign_file_names_it(tmp_path):
    from vaegan.foundation.errors import VaeganError

    with pytest.raises(VaeganError, match="no such evaluation"):
        Evaluation.read(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(VaeganError, match="bad.json"):
        Evaluation.read(tmp_path / "bad.json")


def test_a_model_that_only_samples_gets_only_sample_metrics(classifier):
    class Noise(GenerativeModel):
        """The least a model can be: noise in, images out."""

        def __init__(self):
            super().__init__(ModelConfig(name="noise", image_shape=(1, 16, 16), num_classes=3, latent_dim=2))
            self.scale = torch.nn.Parameter(torch.ones(()))

        def synthesize(self, z, labels=None):
            return (self.scale * torch.rand(len(z), 1, 16, 16)).clamp(0, 1)

    result = evaluate_model(Noise(), splits(), classifier, options=QUICK)
    assert set(result.metrics) == SAMPLE_METRICS


class Oracle(GenerativeModel):
    """A conditional "model" that draws real training images of class (label + shift) mod 3."""

    conditional = True

    def __init__(self, shift: int = 0):
        super().__init__(ModelConfig(name="oracle", image_shape=(1, 16, 16), num_classes=3, latent_dim=2))
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the model a device
        train = splits().train
        self.by_class = [train.images[train.labels == c] for c in range(3)]
        self.shift = shift

    def synthesize(self, z, labels=None):
        pick = torch.randint(0, 1000, (len(z),), generator=torch.Generator().manual_seed(0))
        images = [self.by_class[(int(c) + self.shift) % 3] for c in labels]
        return torch.stack([pool[i % len(pool)] for pool, i in zip(images, pick.tolist())])


@pytest.mark.parametrize(("shift", "expected"), [(0, "the floor"), (1, "zero")])
def test_conditional_accuracy_of_an_oracle_is_the_floor_and_of_permuted_labels_zero(shift, expected, classifier):
    options = EvaluationOptions(k=4, nll_images=8, n_samples=60, tstr_epochs=3)
    metrics = evaluate_model(Oracle(shift), splits(), classifier, options=options).metrics
    cond, tstr = metrics["cond_accuracy"], metrics["tstr_accuracy"]
    assert cond.floor >= 0.9 and tstr.floor >= 0.9  # the classifier knows the blobs; real data teach them
    assert not any("tstr" in note for note in metrics_notes(shift, classifier))
    if expected == "the floor":  # real images of the asked class: as recognisable as the test set
        assert abs(cond.value - cond.floor) <= 0.05 and abs(tstr.value - tstr.floor) <= 0.1
    else:  # every sample shows the next class: recognised, but never as the class asked for
        assert cond.value <= 0.05 and tstr.value <= 0.1


def metrics_notes(shift, classifier) -> list[str]:
    options = EvaluationOptions(k=4, nll_images=8, n_samples=60, tstr_epochs=3)
    return evaluate_model(Oracle(shift), splits(), classifier, options=options).info["notes"]


def test_a_train_on_real_floor_at_chance_is_said_to_say_nothing(classifier):
    # labels that the images do not show (as CN vs AD slices are for a small classifier trained 3
    # epochs): the floor sits at chance, and "tstr 0.5 (floor 0.5)" would read as a perfect model
    data = splits()
    shuffled = data.train.labels[torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))]
    data = DataSplits(dataclasses.replace(data.train, labels=shuffled), data.val, data.test)
    result = evaluate_model(tiny_model("cvae"), data, classifier, options=QUICK)
    notes = [note for note in result.info["notes"] if note.startswith("tstr")]
    assert len(notes) == 1 and "chance 0.33" in notes[0] and "--tstr-epochs" in notes[0] and "left out" in notes[0]
    assert "tstr_accuracy" not in result.metrics  # not printed beside the note that says it says nothing


def test_a_bernoulli_vae_trained_on_grey_levels_gets_no_nll_and_a_note(classifier):
    result = evaluate_model(tiny_model("vae"), splits(), classifier, options=QUICK, binarize=False)
    assert not {"nll", "neg_elbo", "bits_per_dim"} & set(result.metrics)
    assert any("data.binarize=true" in note for note in result.info["notes"])


def test_nll_scores_the_kind_of_images_the_model_was_trained_on(classifier, monkeypatch):
    from vaegan.evaluation import sections

    scored = []
    likelihood_metrics = sections.likelihood_metrics
    monkeypatch.setattr(
        sections,
        "likelihood_metrics",
        lambda model, x, *a, **kw: scored.append(x) or likelihood_metrics(model, x, *a, **kw),
    )
    data = splits()
    first = evaluate_model(tiny_model("vae"), data, classifier, options=QUICK, binarize=True).metrics["nll"]
    again = evaluate_model(tiny_model("vae"), data, classifier, options=QUICK, binarize=True).metrics["nll"]
    from vaegan.evaluation.sections import nll_rows

    images, grey = scored[0], data.test.images[nll_rows(len(data.test), QUICK.nll_images, QUICK.seed)]
    # a binary draw with the grey level as p(1) (not rounding: dim pixels are sometimes 1), the same each time
    drawn = torch.bernoulli(grey.float(), generator=torch.Generator().manual_seed(QUICK.seed))
    assert torch.equal(images, drawn) and torch.equal(images, scored[1])
    assert not torch.equal(images, grey.round())
    assert first == again


def test_a_reference_classifier_at_chance_scores_no_samples():
    # the 3-D phantoms' classifier (5 epochs on 160 volumes) stayed at 0.50: its features were constant,
    # and "fid 0.15 (floor 0)", "precision 0 (floor 1)" were printed as measurements
    blind = ReferenceClassifier((1, 16, 16), 3)
    torch.nn.init.zeros_(blind.head[1].weight), torch.nn.init.zeros_(blind.head[1].bias)  # always class 0
    result = evaluate_model(tiny_model("cvae"), splits(), blind, options=QUICK)
    assert not {"fid", "kid", "precision", "recall", "diversity", "cond_accuracy"} & set(result.metrics)
    assert {"sharpness", "tstr_accuracy", "recon_mse"} <= set(result.metrics)  # they need no reference features
    (note,) = [note for note in result.info["notes"] if note.startswith("reference classifier")]
    assert "0.33 on the test images, chance 0.33" in note and "vaegan train-classifier" in note


def test_train_on_generated_gets_the_steps_a_small_set_needs(classifier, monkeypatch):
    # 40 test volumes made 5 steps an epoch: 3 epochs (15 steps) left the real floor at chance on MRI
    from vaegan.evaluation import conditional
    from vaegan.evaluation.classifier import MIN_STEPS, batch_for

    epochs = []
    fit = conditional.fit_classifier
    monkeypatch.setattr(
        conditional, "fit_classifier", lambda train, **kw: epochs.append(kw["epochs"]) or fit(train, **kw)
    )
    options = EvaluationOptions(k=4, nll_images=8, n_samples=30)
    evaluate_model(tiny_model("cvae"), splits(), classifier, options=options)
    steps = math.ceil(30 / batch_for(30))
    assert len(epochs) == 2 and all(e * steps >= MIN_STEPS for e in epochs)
    assert EvaluationOptions(n_samples=10000).tstr_epochs is None  # MNIST's 79 steps an epoch keep 3 epochs


def test_samples_from_the_fitted_codes_are_scored_and_said_to_be(classifier):
    # the shipped 64^3 cVAE's prior draws are near-black; its fitted-code draws are brains, and a user
    # wants their FID too, labelled as such
    options = dataclasses.replace(QUICK, latent="fitted")
    prior = evaluate_model(tiny_model("cvae"), splits(), classifier, options=QUICK)
    fitted = evaluate_model(tiny_model("cvae"), splits(), classifier, options=options)
    assert fitted.metrics["fid"].value != prior.metrics["fid"].value
    assert fitted.metrics["fid"].floor == prior.metrics["fid"].floor  # the floor has no model in it
    (note,) = [note for note in fitted.info["notes"] if note.startswith("samples")]
    assert "90 training images" in note and "not the prior" in note
    assert fitted.info["options"]["latent"] == "fitted"
    assert not any(note.startswith("samples") for note in prior.info["notes"])


def test_fitted_codes_need_an_encoder(classifier):
    from vaegan.foundation.errors import VaeganError

    with pytest.raises(VaeganError, match="no encoder"):
        evaluate_model(tiny_model("gan"), splits(), classifier, options=dataclasses.replace(QUICK, latent="fitted"))
    with pytest.raises(ValueError, match="latent"):
        EvaluationOptions(latent="posterior")


class Replay(GenerativeModel):
    """An unconditional "model" whose samples are the given images themselves, in order: a perfect one."""

    def __init__(self, images):
        super().__init__(ModelConfig(name="replay", image_shape=(1, 16, 16), num_classes=3, latent_dim=2))
        self.anchor = torch.nn.Parameter(torch.zeros(()))
        self.images, self.drawn = images, 0

    def synthesize(self, z, labels=None):
        start, self.drawn = self.drawn, self.drawn + len(z)
        return self.images[start : self.drawn]


def test_a_perfect_unconditional_model_reaches_the_diversity_floor(classifier):
    # its samples are grouped by the classifier's predicted classes; the floor's real images were grouped
    # by their true labels, so with a classifier short of perfect a perfect model missed its floor
    import copy

    confused = copy.deepcopy(classifier)
    with torch.no_grad():
        confused.head[1].bias[0] += 1.6  # one class is taken for class 0: accuracy 0.67, above chance
    data = splits()
    options = dataclasses.replace(QUICK, n_samples=len(data.test))
    diversity = evaluate_model(Replay(data.test.images), data, confused, options=options).metrics["diversity"]
    assert diversity.value == pytest.approx(diversity.floor)
    # a collapsed model (one image over and over): the same floor, a value far below it
    collapsed = Replay(data.test.images[:1].expand(len(data.test), -1, -1, -1))
    diversity_of_one = evaluate_model(collapsed, data, confused, options=options).metrics["diversity"]
    assert diversity_of_one.floor == pytest.approx(diversity.floor) and diversity_of_one.value < 0.1 * diversity.floor


def test_more_samples_than_training_images_are_capped_and_said_to_be(classifier):
    # the floors compare as many real training images as samples: 120 samples against 90 real ones
    # gave a perfect model a precision and FID short of floors measured on fewer images
    result = evaluate_model(tiny_model("vae"), splits(), classifier, options=dataclasses.replace(QUICK, n_samples=120))
    assert result.info["n_samples"] == 90
    (note,) = [note for note in result.info["notes"] if "120" in note]
    assert "90 training images" in note


def test_too_few_samples_are_refused_before_any_work():
    with pytest.raises(ValueError, match="n_samples=3"):
        EvaluationOptions(n_samples=3)  # precision/recall's k = 3 neighbours need 4 images


def test_the_summary_says_which_way_each_metric_is_better():
    result = Evaluation(
        "vae",
        "mnist",
        {"fid": Metric(47.0, floor=1.9), "precision": Metric(0.65, floor=0.91, better="higher")},
    )
    lines = result.summary().splitlines()
    assert lines[0].startswith("fid ↓") and lines[1].startswith("precision ↑")
    assert any("↑ higher is better" in line and "floor: what real images score" in line for line in lines)


def test_the_retrain_command_names_the_runs_config_where_data_options_pick_the_classifier(tmp_path):
    # "vaegan train-classifier --dataset phantoms --force" trains the classifier of the default data.mri
    # options (phantoms-c374...), not the one evaluation loads for the run's own (phantoms-8939...)
    from vaegan.evaluation.chance import retrain_command

    run = tmp_path / "ad_run"
    assert retrain_command("phantoms", run, None) == f"vaegan train-classifier --config {run / 'config.yaml'} --force"
    assert retrain_command("mri", run, "/data/bids").endswith("--data-dir /data/bids --force")
    assert retrain_command("mnist", run, None) == "vaegan train-classifier --dataset mnist --force"


@pytest.mark.parametrize("eight_bit", [True, False])
def test_a_continuous_decoder_is_scored_on_dequantised_levels_or_as_a_density(eight_bit):
    """8-bit images: the bound on the 256-level data, + D log 256, and bits/dim; floats: a density, named so."""
    import math

    from vaegan.evaluation.likelihood import likelihood_metrics
    from vaegan.evaluation.sections import likelihood_section, nll_rows

    data = splits()  # blobs with a float background: not 8-bit
    if eight_bit:  # 256 grey levels, as an 8-bit image file holds
        for part in (data.train, data.val, data.test):
            part.images = (part.images * 255).round() / 255
    model = tiny_model("vae", likelihood="gaussian")
    notes: list[str] = []
    metrics = likelihood_section(model, data, QUICK, binarize=False, notes=notes)
    test = data.test.images[nll_rows(len(data.test), QUICK.nll_images, QUICK.seed)]
    dimensions = math.prod(data.image_shape)
    if eight_bit:
        noise = torch.rand(test.shape, generator=torch.Generator().manual_seed(QUICK.seed))
        dequantised = ((test * 255).round() + noise) / 256
        bound = likelihood_metrics(model, dequantised, None, k=QUICK.k, seed=QUICK.seed)["nll"]
        assert metrics["nll"].value == pytest.approx(bound + dimensions * math.log(256), rel=1e-6)
        assert metrics["bits_per_dim"].value == pytest.approx(metrics["nll"].value / (dimensions * math.log(2)))
        assert metrics["nll"].unit == "nats" and "nll_density" not in metrics
    else:
        # every likelihood figure of a density is named so, the -ELBO too: none reads as a bound on data
        assert set(metrics) == {"nll_density", "neg_elbo_density"}, set(metrics)
        assert {metric.unit for metric in metrics.values()} == {"nats (density)"}
        assert metrics["nll_density"].value == pytest.approx(
            likelihood_metrics(model, test, None, k=QUICK.k, seed=QUICK.seed)["nll"], rel=1e-6
        )
    assert any("likelihood:" in note for note in notes)


def test_the_nll_is_estimated_on_test_images_drawn_across_the_set_not_its_first_rows(classifier, monkeypatch):
    """--nll-images N took the first N test rows: on MRI slices those are one or two subjects' slices
    (the test set is ordered by subject), and on any sorted set one class. N rows are now drawn with the
    evaluation seed, the same each time, in their test-set order."""
    from vaegan.evaluation import sections

    scored = []
    likelihood_metrics = sections.likelihood_metrics
    monkeypatch.setattr(
        sections,
        "likelihood_metrics",
        lambda model, x, labels, *a, **kw: scored.append(labels) or likelihood_metrics(model, x, labels, *a, **kw),
    )
    data = splits()
    order = torch.argsort(data.test.labels, stable=True)  # sorted by class, as a set ordered by subject is
    data.test = data.test.subset(order)
    options = dataclasses.replace(QUICK, nll_images=9)
    for _ in range(2):
        evaluate_model(tiny_model("vae"), data, classifier, options=options, binarize=True)
    assert len(scored[0]) == 9 and torch.equal(scored[0], scored[1])
    assert set(scored[0].tolist()) == {0, 1, 2}  # the first 9 rows are all of class 0
    rows = sections.nll_rows(len(data.test), 9, QUICK.seed)
    assert torch.equal(data.test.labels[rows], scored[0]) and rows.tolist() == sorted(rows.tolist())
    assert sections.nll_rows(5, None, 0).tolist() == [0, 1, 2, 3, 4] == sections.nll_rows(5, 9, 0).tolist()


def test_each_image_set_goes_through_the_classifier_once(classifier, monkeypatch):
    """The test images went through the reference classifier three times (accuracy, features, the class
    accuracy's floor) and the samples twice; the test features' neighbour radii were computed twice."""
    import copy

    from vaegan.evaluation import feature_metrics

    counting = copy.deepcopy(classifier)
    seen = []
    features = counting.features

    def counted(x):
        seen.append(len(x))
        return features(x)

    monkeypatch.setattr(counting, "features", counted)
    monkeypatch.setattr(counting, "forward", lambda x: counting.head(counted(x)))
    radii = []
    real_radius = feature_metrics._kth_neighbour_radius
    monkeypatch.setattr(
        feature_metrics, "_kth_neighbour_radius", lambda f, k, c: radii.append(len(f)) or real_radius(f, k, c)
    )
    data, options = splits(), dataclasses.replace(QUICK, n_samples=24)  # 24 samples beside 30 test images
    result = evaluate_model(tiny_model("cvae"), data, counting, options=options)
    assert "cond_accuracy" in result.metrics and "precision" in result.metrics
    assert seen == [len(data.test), 24, 24], seen  # test once; real subset and samples once
    assert radii.count(len(data.test)) == 1, radii


def _slices_of_subjects(subjects: int = 40, per_subject: int = 17) -> DataSplits:
    """``subjects`` subjects of ``per_subject`` 2-D slices each, half of them in class 1 (one class a subject)."""
    from vaegan.data import ImageDataset

    groups = torch.arange(subjects).repeat_interleave(per_subject)
    test = ImageDataset(
        torch.zeros(len(groups), 1, 4, 4),
        groups % 2,
        ["CN", "AD"],
        "slices",
        groups,
        [f"sub-{i:02d}" for i in range(subjects)],
    )
    return DataSplits(test, test, test)


def test_a_classifier_is_sighted_by_its_subjects_not_by_their_correlated_slices(monkeypatch):
    """22 of 40 subjects right (all 17 slices each): 0.55 passed a binomial test over 680 slices (p~0.005)
    though the slices of one subject are no independent evidence (over the subjects, p~0.3)."""
    from types import SimpleNamespace

    from vaegan.evaluation import chance, sections

    data = _slices_of_subjects()
    notes: list[str] = []
    assert not chance.sighted(22 / 40, data, notes, "retrain")
    assert len(notes) == 1 and "40 test subjects" in notes[0]
    assert chance.sighted(30 / 40, data, [], "retrain")  # 30 of 40 subjects: p ~ 0.001
    # the TSTR floor, the same way
    monkeypatch.setattr(sections, "train_on_generated_accuracy", lambda *args, **kwargs: 22 / 40)
    samples = SimpleNamespace(images=data.train.images, labels=data.train.labels)
    options = EvaluationOptions(k=4, nll_images=8, n_samples=30, tstr_epochs=1)
    notes = []
    metrics = sections.conditional_section(samples, data.train, data, options, notes, None)
    assert len(notes) == 1 and notes[0].startswith("tstr") and "40 test subjects" in notes[0]
    assert "tstr_accuracy" not in metrics  # "0.55 (floor 0.55)" beside a note saying it says nothing
    assert "slices" not in notes[0] or "sessions" in notes[0]  # 3-D: a subject's several scans are sessions


def test_images_without_subjects_are_each_a_trial():
    from vaegan.evaluation import chance

    data = _slices_of_subjects()
    data.test.groups = data.test.group_names = None  # 680 independent images at 0.55: above chance
    assert chance.sighted(22 / 40, data, [], "retrain")


def test_collapsed_samples_are_said_to_make_precision_no_evidence(classifier):
    # a 1-epoch VAE drawing one grey square 50 times printed "precision 1 (floor 0.86)", "recall 0" and
    # "diversity 0.99 (floor 24.1)": its samples sat in one real image's large neighbourhood
    data = splits()
    options = dataclasses.replace(QUICK, n_samples=len(data.test))
    varied = evaluate_model(Replay(data.test.images), data, classifier, options=options)
    assert not [note for note in varied.info["notes"] if "collapsed" in note]
    one = Replay(data.test.images[:1].expand(len(data.test), -1, -1, -1))
    collapsed = evaluate_model(one, data, classifier, options=options)
    assert collapsed.metrics["precision"].value == 1.0  # the figure is kept, beside the note
    (note,) = [note for note in collapsed.info["notes"] if "collapsed" in note]
    assert "a fifth of its floor" in note and "no evidence of quality" in note and "precision 1" in note
    assert note in collapsed.summary()


def test_how_the_splits_were_kept_is_a_note_of_the_evaluation(classifier):
    """A run's split kept on data that changed since it trained was said in the log only, not in
    evaluation.json nor the report."""
    data = splits()
    data.notes.append("the data changed since the run trained: its test subjects are kept as it held them out")
    result = evaluate_model(tiny_model("vae"), data, classifier, options=QUICK)
    assert data.notes[0] in result.info["notes"]


def test_collapsed_samples_of_a_low_precision_get_no_note_that_it_reads_high():
    from vaegan.evaluation.sections import collapse_note

    low = {"diversity": Metric(0.5, floor=10.0), "precision": Metric(0.0, floor=0.9), "recall": Metric(0.0, floor=0.9)}
    assert collapse_note(low) is None
    high = {**low, "precision": Metric(1.0, floor=0.9)}
    assert "no evidence of quality" in collapse_note(high)


def test_too_few_test_subjects_to_pass_any_classifier_are_said_to_be_too_few(monkeypatch):
    """4 test volumes: even 4 of 4 right is p = 0.0625, so a perfect classifier was called blind and the user
    sent to retrain it (and to raise --tstr-epochs), which could never help."""
    from types import SimpleNamespace

    from vaegan.evaluation import chance, sections

    data = _slices_of_subjects(subjects=4)
    notes: list[str] = []
    assert not chance.sighted(1.0, data, notes, "vaegan train-classifier --force")
    assert len(notes) == 1 and "too few" in notes[0] and "train-classifier" not in notes[0]
    monkeypatch.setattr(sections, "train_on_generated_accuracy", lambda *args, **kwargs: 1.0)
    samples = SimpleNamespace(images=data.train.images, labels=data.train.labels)
    notes = []
    sections.conditional_section(
        samples, data.train, data, EvaluationOptions(k=4, nll_images=8, n_samples=30), notes, None
    )
    assert len(notes) == 1 and "too few" in notes[0] and "--tstr-epochs" not in notes[0]


def test_a_reference_classifier_trained_on_a_subset_is_said_in_the_notes(classifier, monkeypatch):
    # the warning went to the log alone (not evaluation.json, not the report), with a retrain command
    # lacking --dataset, which train-classifier refuses
    monkeypatch.setattr(classifier, "metadata", {**classifier.metadata, "limit": 6000})
    result = evaluate_model(
        tiny_model("vae"),
        splits(),
        classifier,
        options=QUICK,
        retrain="vaegan train-classifier --dataset blobs --force",
    )
    (note,) = [n for n in result.info["notes"] if "6000" in n]
    assert "--dataset blobs --force" in note


def test_a_test_split_of_one_class_is_not_called_too_few_subjects():
    # chance 1.0: no accuracy passes, and "hold out more test subjects" was the advice for 500 images
    from vaegan.evaluation import chance

    assert "one class" in chance.too_few(1.0, 500, "test images")
    assert "too few" in chance.too_few(0.5, 4, "test subjects")
    assert chance.too_few(0.5, 40, "test subjects") is None
