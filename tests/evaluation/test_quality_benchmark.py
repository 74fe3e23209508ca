"""benchmarks/quality.py: its table and its edit of benchmarks/README.md, which only touches its own section."""

from __future__ import annotations

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
