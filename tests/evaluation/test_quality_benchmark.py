"""benchmarks/quality.py: its table and its edit of benchmarks/README.md, which only touches its own section."""

from __future__ import annotations

import pytest

from benchmarks.quality import END, START, table, write_readme
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
    write_readme(f"{START}\nfirst\n{END}", readme)
    assert readme.read_text() == f"# Benchmarks\n\n## Throughput\nfast\n\n{START}\nfirst\n{END}\n"
    readme.write_text(readme.read_text() + "\n## Later section\nkept\n")
    write_readme(f"{START}\nsecond\n{END}", readme)
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
