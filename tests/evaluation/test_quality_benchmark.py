"""benchmarks/quality.py: its table and its edit of benchmarks/README.md, which only touches its own section."""

from __future__ import annotations

import pytest

from benchmarks.quality import END, GENERATED, START, table, write_readme
from vaegan.evaluation.results import Evaluation, Metric


def results():
    vae = Evaluation("vae", "mnist", {"fid": Metric(12.5, floor=0.8), "nll": Metric(95.1234, unit="nats")})
    vae.info = {"train": {"epochs": 8, "seconds_per_epoch": 21.0}}
    gan = Evaluation("gan", "mnist", {"fid": Metric(4.2, floor=0.8), "recall": Metric(0.42, floor=0.97)})
    return [(vae, "mnist_vae.yaml"), (gan, "model defaults")]


def test_table_has_a_row_per_model_and_a_floor_row():
    lines = table(results()).splitlines()
    assert len(lines) == 2 + 2 + 1
    assert lines[2].startswith("| vae | mnist_vae.yaml | 8 | 21.0 |") and "95.12" in lines[2]
    assert "| gan |" in lines[3] and "0.4200" in lines[3]
    assert lines[4].startswith("| *real data (floor)*") and "0.80" in lines[4] and "0.9700" in lines[4]
    assert "–" in lines[3]  # the GAN has no NLL


def test_readme_section_is_created_then_replaced_and_others_are_kept(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Throughput\nfast\n")
    write_readme(f"{START}\n{GENERATED}\nfirst\n{END}", readme)
    assert readme.read_text() == f"# Benchmarks\n\n## Throughput\nfast\n\n{START}\n{GENERATED}\nfirst\n{END}\n"
    readme.write_text(readme.read_text() + "\n## Later section\nkept\n")
    write_readme(f"{START}\n{GENERATED}\nsecond\n{END}", readme)
    text = readme.read_text()
    assert "first" not in text and "second" in text
    assert text.startswith("# Benchmarks\n\n## Throughput\nfast\n") and text.endswith("## Later section\nkept\n")


def test_floors_that_differ_between_models_are_an_error_not_the_first_ones():
    (vae, vae_source), (gan, gan_source) = results()
    gan.metrics["fid"] = Metric(4.2, floor=0.9)  # another test set or classifier: not comparable
    with pytest.raises(ValueError, match=r"fid floors differ between models \(vae=0.8, gan=0.9\)"):
        table([(vae, vae_source), (gan, gan_source)])
    gan.metrics["fid"] = Metric(4.2, floor=None)  # a model without the floor does not disagree
    floor_row = table([(vae, vae_source), (gan, gan_source)]).splitlines()[-1]
    assert floor_row.startswith("| *real data (floor)* | train vs test |  |  | – | – | – | – | – | 0.8000 |")


def test_the_fastest_epoch_is_a_column_of_its_own(tmp_path):
    """A mean over epochs slowed by other jobs said little; the shortest epoch is the least disturbed."""
    from benchmarks.quality import fastest_epoch

    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "metrics.csv").write_text("epoch,train/loss,seconds\n1,9,120.5\n2,8,14.25\n3,7,15\n")
    assert fastest_epoch(tmp_path / "vae") == 14.25 and fastest_epoch(tmp_path / "gan") is None
    lines = table(results(), {"vae": 14.25, "gan": None}).splitlines()
    assert "fastest epoch, s" in lines[0] and lines[2].startswith("| vae | mnist_vae.yaml | 8 | 21.0 | 14.2 |")
    assert lines[4].count("|") == lines[0].count("|")


def test_the_diversity_floor_has_one_value_per_protocol():
    """Conditional models group the test images by their labels, the others by the classifier's predictions:
    two floors, which agreed_floor refused as 'not comparable' and stopped the whole table."""
    from benchmarks.quality import floor_cell

    cvae = Evaluation("cvae", "mnist", {"diversity": Metric(17.0, floor=23.91), "cond_accuracy": Metric(0.9)})
    vae = Evaluation("vae", "mnist", {"diversity": Metric(20.0, floor=23.88)})
    gan = Evaluation("gan", "mnist", {"diversity": Metric(21.0, floor=23.88)})
    cell = floor_cell([(cvae, ""), (vae, ""), (gan, "")], "diversity")
    assert cell == "23.91 (by labels) / 23.88 (by predictions)"
    assert floor_cell([(vae, ""), (gan, "")], "diversity") == "23.88"
    other = Evaluation("vae2", "mnist", {"diversity": Metric(20.0, floor=25.0)})
    with pytest.raises(ValueError, match="diversity floors differ"):
        floor_cell([(vae, ""), (other, "")], "diversity")


def test_a_section_edited_by_hand_is_not_replaced(tmp_path):
    """The committed section holds prose the script cannot write (what the run predates, the traversal
    figure); the command the README recommended replaced all of it with a three-row table."""
    readme = tmp_path / "README.md"
    hand = f"# Benchmarks\n\n{START}\n| vae | ... |\n\nReading it: prose only a person wrote.\n{END}\n"
    readme.write_text(hand)
    with pytest.raises(ValueError, match="edited by hand.*--no-readme"):
        write_readme(f"{START}\n{GENERATED}\nnew table\n{END}", readme)
    assert readme.read_text() == hand
    readme.write_text(f"# Benchmarks\n\n{START}\n{GENERATED}\nold table\n{END}\n")  # the script's own: replaced
    write_readme(f"{START}\n{GENERATED}\nnew table\n{END}", readme)
    assert "new table" in readme.read_text() and "old table" not in readme.read_text()


def _reuse_args(out_dir, **changes):
    import argparse

    values = dict(reuse=True, k=5000, nll_images=1000, samples=None, device="cpu", out_dir=out_dir, epochs=None)
    return argparse.Namespace(**{**values, "data_dir": None, "limit": None, **changes})


def test_reuse_scores_a_run_again_when_its_evaluation_used_other_options(tmp_path, monkeypatch):
    """--reuse took an evaluation.json scored with k=50 on 100 images into a table headed k=5000 on 1000."""
    import benchmarks.quality as quality
    from vaegan.evaluation.evaluator import EvaluationOptions

    calls = {"train": 0, "evaluate": []}
    monkeypatch.setattr(quality, "train_from_config", lambda *a, **k: calls.__setitem__("train", calls["train"] + 1))

    def evaluate(run, options):
        calls["evaluate"].append(options)
        return Evaluation("vae", "mnist", {"nll": Metric(90.0)}, {"options": vars(options), "train": {"epochs": 8}})

    monkeypatch.setattr(quality, "evaluate_run", evaluate)
    old = EvaluationOptions(k=50, nll_images=100, n_samples=None, seed=0, device="cpu")
    scored = Evaluation("vae", "mnist", {"nll": Metric(99.0)}, {"options": vars(old), "train": {"epochs": 8}})
    scored.write(tmp_path / "vae" / "evaluation.json")

    result, _ = quality.benchmark_model("vae", _reuse_args(tmp_path))
    assert [(o.k, o.nll_images) for o in calls["evaluate"]] == [(5000, 1000)] and calls["train"] == 0
    assert result.metrics["nll"].value == 90.0
    assert Evaluation.read(tmp_path / "vae" / "evaluation.json").info["options"]["k"] == 5000

    calls["evaluate"].clear()  # the same options (on another device): the file is taken as it is
    result, _ = quality.benchmark_model("vae", _reuse_args(tmp_path, device="cuda"))
    assert calls["evaluate"] == [] and result.metrics["nll"].value == 90.0


def test_the_header_names_the_test_images_the_nll_was_scored_on(tmp_path):
    """--limit 500 leaves 500 test images; the header said "on 1000 test images" (the --nll-images asked)."""
    import argparse

    from benchmarks.quality import section

    (vae, source), _ = results()
    vae.info.update(n_test=500, n_samples=500, classifier={"test_accuracy": 0.99})
    args = argparse.Namespace(k=50, nll_images=1000, device="cpu", out_dir=tmp_path)
    text = section([(vae, source)], args, 60.0)
    assert "on 1000 test images" not in text and "on all 500 test images" in text
    vae.info["n_test"] = 10000  # the full MNIST test set: 1000 of them drawn
    assert "on 1000 test images (drawn, seed 0)" in section([(vae, source)], args, 60.0)
