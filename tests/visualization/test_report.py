"""The CLI end to end and the HTML report: every section, every image decodes, all text escaped."""

from __future__ import annotations

import base64
import csv
import io
import json
from html.parser import HTMLParser

import pytest
import yaml
from PIL import Image

from tests.models.tiny_configs import TINY
from tests.visualization.test_latent import assert_not_blank
from vaegan.cli import main
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.files import RUN_MARKER
from vaegan.visualization.report import SECTIONS, build_context, write_report
from vaegan.visualization.report_figures import spaced
from vaegan.visualization.report_tables import evaluation_section, fmt


class Page(HTMLParser):
    """The report's section ids, its images (src, alt, hidden) and its visible text."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self.text: list[str] = []
        self.outside_details: list[str] = []  # the text a reader sees before unfolding any <details>
        self.details = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "details":
            self.details += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.details -= 1

    def handle_data(self, data):
        self.text.append(data)
        if not self.details:
            self.outside_details.append(data)


def decode_img(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    image = Image.open(io.BytesIO(base64.b64decode(src[len(prefix) :])))
    image.load()
    return image


def test_visualize_writes_every_figure_for_a_conditional_2d_run(cli_run):
    names = {p.stem for p in (cli_run / "latent").glob("*.png")}
    assert names == {
        "traversal",
        "manifold",
        "scatter_latent",
        "scatter_pca",
        "scatter_tsne",
        "scatter_umap",
        "interpolation",
        "class_interpolation",
    }
    for path in (cli_run / "latent").glob("*.png"):
        assert_not_blank(path)
    assert_not_blank(cli_run / "curves.png")


def test_report_has_every_section_and_every_image_decodes(cli_run):
    html = (cli_run / "report.html").read_text()
    page = Page(html)
    assert page.ids == list(SECTIONS)
    kinds = {img["alt"].split(",")[0] for img in page.images if img.get("class") == "grid"}
    assert kinds == {"recons", "fakes", "analogies"}
    # 3 epochs thinned to --max-epochs 2 (first and last) per kind; only the last one shown at first
    recons = [img for img in page.images if str(img["alt"]).startswith("recons")]
    assert [img["data-epoch"] for img in recons] == ["1", "3"]
    assert "hidden" in recons[0] and "hidden" not in recons[1]
    assert len(page.images) == 1 + 3 * 2 + 8  # curves, grids, latent figures
    for img in page.images:
        image = decode_img(img["src"])
        assert image.width > 50 and image.height > 50
    assert 'src="http' not in html and "src='http" not in html  # self-contained


def test_report_escapes_text_and_renders_the_evaluation(cli_run):
    html = (cli_run / "report.html").read_text()
    assert "blobs &lt;cvae&gt; &amp; co" in html and "<cvae>" not in html
    assert "accuracy &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert Page(html).scripts == 1  # only the report's own slider script
    text = " ".join(Page(html).text)
    assert "91.23" in text and "0.875" in text and "fraction" in text


def test_metrics_table_shows_last_and_best_epoch(cli_run):
    metrics = build_context(cli_run)["metrics"]
    with (cli_run / "metrics.csv").open() as handle:
        history = list(csv.DictReader(handle))
    best = min(history, key=lambda row: float(row["val/objective"]))  # what picked best.pt
    assert metrics["last_epoch"] == int(history[-1]["epoch"]) == 3 and metrics["monitor"] == "val/objective"
    assert metrics["best_epoch"] == int(best["epoch"])
    names = [row["name"] for row in metrics["rows"]]
    assert {"train/loss", "val/loss", "val/kl"} <= set(names)
    rows = {row["name"]: row for row in metrics["rows"]}
    assert rows["val/objective"]["is_key"] and not rows["val/loss"]["is_key"]
    for name in ("train/loss", "val/loss", "val/kl"):
        assert rows[name]["last"] == fmt(float(history[-1][name])), name
        assert rows[name]["best"] == fmt(float(best[name])), name  # the best epoch's row, every column


def test_best_epoch_is_the_argmin_of_the_monitored_loss_not_the_last(tmp_path):
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    rows = ["epoch,train/loss,val/objective", "1,9.0,5.0", "2,8.0,3.0", "3,7.0,4.0"]  # best at 2, last at 3
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    metrics = build_context(tmp_path)["metrics"]
    assert (metrics["last_epoch"], metrics["best_epoch"], metrics["monitor"]) == (3, 2, "val/objective")
    table = {row["name"]: (row["last"], row["best"]) for row in metrics["rows"]}
    assert table == {"train/loss": ("7", "8"), "val/objective": ("4", "3")}


def test_report_of_an_empty_run_says_what_to_run(tmp_path):
    (tmp_path / RUN_MARKER).write_text("{}")  # a run folder, though nothing else is in it yet
    path = write_report(tmp_path)
    html = path.read_text()
    assert Page(html).ids == list(SECTIONS)
    assert "vaegan visualize" in html and "vaegan evaluate" in html and "No metrics.csv" in html


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        (json.dumps({"metrics": "oops"}), "not an object"),
    ],
)
def test_broken_evaluation_json_is_reported_not_raised(tmp_path, content, expected):
    (tmp_path / RUN_MARKER).write_text("{}")  # a run folder, though nothing else is in it yet
    (tmp_path / "evaluation.json").write_text(content)
    section = evaluation_section(tmp_path)
    assert section["present"] and expected in section["error"]
    assert "evaluation" in Page(write_report(tmp_path).read_text()).ids


def test_spaced_keeps_first_and_last_epochs():
    assert spaced(list(range(1, 101)), 5) == [1, 26, 51, 75, 100]
    assert spaced([1, 2, 3], 20) == [1, 2, 3]
    assert spaced([1, 2, 3], 1) == [3]


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["visualize", str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["visualize", str(tmp_path), "--methods", "pca,isomap"]) == 2
    assert "isomap" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2


def train_and_report(run, config: str, *overrides: str, effects: bool = False):
    """Train ``config`` into ``run`` and write its report (after ``vaegan effects``, with ``effects``)."""
    assert main(["train", "--config", config, "--out", str(run), "--device", "cpu", *overrides]) == 0
    if effects:
        assert main(["effects", str(run), "--split", "all", "--samples", "1"]) == 0
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    page = Page(html)
    sections = list(SECTIONS)
    assert page.ids == (sections[: sections.index("latent") + 1] + ["effects", "evaluation"] if effects else sections)
    for img in page.images:
        image = decode_img(img["src"])
        assert image.width > 50 and image.height > 50
    return page, " ".join(" ".join(page.text).split())


def test_report_of_a_gan_run_takes_the_last_epoch_as_best(tmp_path, blobs_dataset):
    """A GAN has no validation loss to monitor: best.pt and the report's best epoch are the last one."""
    config = {
        "name": "blobs gan",
        "data": {"dataset": blobs_dataset, "val_size": 16},
        "model": {**TINY["gan"], "name": "gan"},
        "train": {"epochs": 2, "batch_size": 16, "grid_size": 9, "progress": False, "tensorboard": False},
    }
    (tmp_path / "gan.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    page, text = train_and_report(run, str(tmp_path / "gan.yaml"))
    metrics = build_context(run)["metrics"]
    assert metrics["monitor"] is None and metrics["best_epoch"] == metrics["last_epoch"] == 2
    assert read_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 2
    assert "the last (no validation metric to choose by)" in text
    assert {"val/d_loss", "val/g_loss"} <= {row["name"] for row in metrics["rows"]}
    assert {img["alt"].split(",")[0] for img in page.images if img.get("class") == "grid"} == {"fakes"}


def test_report_of_an_mri_run_on_tiny_phantoms(tmp_path):
    tiny = ["data.mri.phantom_subjects=8", "data.mri.phantom_spacing=6", "data.mri.size=16", "data.mri.progress=false"]
    tiny += ["model.network.channels=[8,16]", "model.network.hidden=[32]", "model.latent_dim=4"]
    tiny += ["train.epochs=2", "train.batch_size=16", "train.progress=false", "train.tensorboard=false"]
    run = tmp_path / "run"
    page, text = train_and_report(run, "ad_cvae_2d", *[arg for item in tiny for arg in ("--set", item)], effects=True)
    metrics = build_context(run)["metrics"]
    assert metrics["monitor"] == "val/objective" and metrics["last_epoch"] == 2
    assert read_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == metrics["best_epoch"]
    assert "phantoms" in text and "cvae" in text
    grids = {img["alt"].split(",")[0] for img in page.images if img.get("class") == "grid"}
    assert grids == {"recons", "fakes", "analogies"}
    assert "row c is class c" in text and "decoded as class 0, 1" in text  # what each grid's rows mean
    assert sum(str(img.get("alt", "")).startswith("effects") for img in page.images) == 2  # vaegan effects' figures
    assert "group map r (vs true atrophy)" in text


def test_the_evaluation_keeps_its_spreads_and_notes(tmp_path):
    (tmp_path / RUN_MARKER).write_text("{}")  # a run folder, though nothing else is in it yet
    # the CLI prints "kid 4610 ± 566" and why tstr says nothing; the report showed "4610" and "0.5 (floor 0.5)"
    note = "tstr: the classifier trained on 680 real images for 3 epochs scores 0.50, chance 0.50"
    evaluation = {
        "metrics": {
            "kid": {"value": 4610.0, "floor": 3.3, "std": 565.8},
            "tstr_accuracy": {"value": 0.5, "floor": 0.5, "unit": "fraction"},
        },
        "notes": [note, "likelihood: <density> & more"],
    }
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    text = " ".join(Page(write_report(tmp_path).read_text()).text)
    assert "4610 ± 565.8" in text and note in text and "likelihood: <density> & more" in text


def test_the_evaluation_says_which_way_each_metric_is_better(tmp_path):
    (tmp_path / RUN_MARKER).write_text("{}")  # a run folder, though nothing else is in it yet
    # precision 0.65 beside a "floor" of 0.91: for a higher-is-better metric the real images' figure is
    # a ceiling, and nothing said which way was better
    evaluation = {
        "metrics": {
            "fid": {"value": 47.0, "floor": 1.9, "better": "lower"},
            "precision": {"value": 0.65, "floor": 0.91, "better": "higher"},
            "diversity": {"value": 20.0, "floor": 16.4, "better": "closer"},
        }
    }
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    cells = Page(write_report(tmp_path).read_text()).text
    assert "better" in cells and {"lower", "higher", "closer to real"} <= set(cells)


def test_a_folder_that_holds_no_run_is_refused_and_its_files_kept(tmp_path, capsys):
    mine = tmp_path / "report.html"
    mine.write_text("<h1>my own report</h1>")
    assert main(["report", str(tmp_path)]) == 2
    assert "not a vaegan run folder" in capsys.readouterr().err
    assert mine.read_text() == "<h1>my own report</h1>"


@pytest.mark.parametrize(
    ("checkpoint", "epoch_3_val", "note"),
    [
        ("best", 2.0, "evaluated best.pt of epoch 2; it now holds epoch 3"),  # a better epoch 3 replaced it
        ("best", 4.0, None),  # best.pt still holds epoch 2: the figures are the current best model's
        ("last", 4.0, "evaluated last.pt of epoch 2; it now holds epoch 3"),
    ],
)
def test_an_evaluation_of_another_checkpoint_than_the_runs_now_says_so(tmp_path, checkpoint, epoch_3_val, note):
    # evaluated at epoch 2, then resumed to epoch 3: the table showed epoch 2's figures as the run's, and
    # it called an evaluation of best.pt out of date even where best.pt had not changed
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    rows = ["epoch,train/loss,val/objective", "1,9.0,5.0", "2,8.0,3.0", f"3,7.0,{epoch_3_val}"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    evaluation = {"checkpoint": checkpoint, "checkpoint_epoch": 2, "train": {"epochs": 2}, "metrics": {"fid": {}}}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    text = " ".join(" ".join(Page(write_report(tmp_path).read_text()).text).split())
    assert "train.epochs" in text
    assert (note in text) if note else ("now holds" not in text and "earlier model" not in text), text


def test_metrics_carry_their_units_and_a_gan_names_no_best_loss(tmp_path):
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    (tmp_path / "metrics.csv").write_text("epoch,train/objective,val/kl,val/acc\n1,9.0,2.0,0.5\n")
    units = {row["name"]: row["unit"] for row in build_context(tmp_path)["metrics"]["rows"]}
    assert units == {"train/objective": "nats / image", "val/kl": "nats / image", "val/acc": "fraction correct"}
    (tmp_path / "config.yaml").write_text("model:\n  name: gan\n")
    (tmp_path / "metrics.csv").write_text("epoch,train/d_loss,val/d_loss\n1,1.0,1.1\n")
    text = " ".join(" ".join(Page(write_report(tmp_path).read_text()).text).split())
    assert "none recorded" not in text and "no validation metric to choose by" in text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("metrics.csv", "epoch,train/loss\n1,abc\n", "metrics.csv"),
        ("config.yaml", b"\xff\xfe\x00", "config.yaml"),
        ("config.yaml", "model: {name: [1]}\n", "train/loss"),  # no model to ask: the metrics still shown
    ],
)
def test_damaged_run_files_are_named_in_the_report_not_raised(tmp_path, name, content, expected):
    if name != "metrics.csv":
        (tmp_path / "metrics.csv").write_text("epoch,train/loss\n1,2.5\n")
    path = tmp_path / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    text = " ".join(Page(write_report(tmp_path).read_text()).text)
    assert expected in text


def test_the_config_changes_accepted_on_resume_are_shown_and_the_folder_named(tmp_path):
    run = tmp_path / "vae2"
    run.mkdir()
    (run / "config.yaml").write_text("name: mnist_vae\nmodel:\n  name: vae\n  lr: 0.002\n")
    changes = "- epoch: 1\n  changes:\n    model.lr: [0.001, 0.002]\n"
    (run / "config_changes.yaml").write_text(changes)
    context = build_context(run)
    assert "vae2" in context["title"] and "mnist_vae" in context["title"]  # two runs of one config differ
    text = " ".join(Page(write_report(run).read_text()).text)
    assert "config_changes.yaml" in text and "model.lr" in text


def test_a_conditional_mri_run_has_a_disease_maps_section(tmp_path):
    """vaegan effects writes RUN/effects/; the report shows its figures and figures, or says what to run."""
    from PIL import Image as PILImage

    run = tmp_path / "run"
    run.mkdir()
    (run / RUN_MARKER).write_text("")
    config = {"name": "ad", "data": {"dataset": "phantoms"}, "model": {"name": "cvae", "latent_dim": 4}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    page = Page(write_report(run).read_text())
    assert "effects" in page.ids and f"vaegan effects {run}" in "".join(page.text)

    (run / "effects").mkdir()
    for name in ("group_effect", "individual"):
        PILImage.new("RGB", (40, 30), (200, 40, 40)).save(run / "effects" / f"{name}.png")
    summary = {
        "split": "test",
        "samples": 8,
        "scans_by_class": {"CN": 20, "AD": 20},
        "group": {"r_model": 0.7559, "r_group_difference": 0.726},
        "individual_quartiles": [0.61, 0.66, 0.71],
        "individual_floor": {"quartiles": [0.72, 0.7603, 0.8], "subjects": 160},
        "scans": [{"scan": "sub-0002", "r": 0.5255, "r_model_free": 0.286}],
    }
    (run / "effects" / "effects.json").write_text(json.dumps(summary))
    page = Page(write_report(run).read_text())
    shown = [img for img in page.images if str(img.get("alt", "")).startswith("effects")]
    assert len(shown) == 2 and all(decode_img(img["src"]).size == (40, 30) for img in shown)
    text = "".join(page.text)
    assert "0.7559" in text and "0.726" in text and "20 CN" in text and "0.66" in text
    assert "0.7603" in text and "160 subjects" in text  # the floor the individual maps must beat
    assert "older truth maps" in text  # scored before the phantoms saved the tissue removed: said so
    summary["truth"] = 2
    (run / "effects" / "effects.json").write_text(json.dumps(summary))
    assert "older truth maps" not in "".join(Page(write_report(run).read_text()).text)
    summary.update(control="AD", disease="CN", scaled=True, subjects_by_class={"AD": 20, "CN": 18}, refine=100)
    (run / "effects" / "effects.json").write_text(json.dumps(summary))
    text = " ".join(Page(write_report(run).read_text()).text)  # how the maps were made: which way, how scaled
    assert "AD as control, CN as disease" in text and "scaled" in text and "18 CN" in text
    assert "MAP code (100 steps" in text  # and from which codes (an effects.json from before "fitted")
    (run / "effects" / "effects.json").write_text(json.dumps(summary | {"fitted": "MAP code and warp"}))
    assert "MAP code and warp (100 steps" in " ".join(Page(write_report(run).read_text()).text)

    with (run / "metrics.csv").open("w") as handle:  # trained on since: the maps are of an earlier model
        handle.write("epoch,loss,val/loss\n" + "".join(f"{e},1.0,{3.0 - e / 10}\n" for e in range(1, 6)))
    summary.update(checkpoint=str(run / "checkpoints" / "best.pt"), epoch=3)
    (run / "effects" / "effects.json").write_text(json.dumps(summary))
    assert "made with epoch 3" in " ".join(Page(write_report(run).read_text()).text)
    (run / "effects" / "effects.json").write_text('{"split')  # torn: said, not passed over in silence
    assert "effects.json cannot be read" in "".join(Page(write_report(run).read_text()).text)

    config["data"]["dataset"] = "mnist"  # no brains: no such section
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert "effects" not in Page(write_report(run).read_text()).ids
    images = tmp_path / "slices"  # 2-D MRI slices in class folders: vaegan effects cannot map them
    for name in ("CN", "AD"):
        (images / name).mkdir(parents=True)
        PILImage.new("L", (16, 16)).save(images / name / "a.png")
    config["data"] = {"dataset": "mri", "data_dir": 2024}  # a hand-edited config.yaml: no crash
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert "effects" in Page(write_report(run).read_text()).ids
    config["data"] = {"dataset": "mri", "data_dir": str(images)}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "effects" / "effects.json").unlink()
    for png in (run / "effects").glob("*.png"):
        png.unlink()
    assert "effects" not in Page(write_report(run).read_text()).ids


def test_a_latent_figure_drawn_from_a_checkpoint_replaced_since_says_so(tmp_path):
    """scatter_tsne from `vaegan visualize` (best.pt of epoch 2) beside the callback's PCA of epoch 3: the
    report showed them side by side as one model's."""
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    rows = ["epoch,train/loss,val/objective", "1,9.0,5.0", "2,8.0,3.0", "3,7.0,2.0"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "latent").mkdir()
    for name in ("scatter_pca", "scatter_tsne", "traversal"):
        Image.new("L", (120, 120), 128).save(tmp_path / "latent" / f"{name}.png")
    record = {
        "scatter_pca": {"checkpoint": "last", "epoch": 3, "split": "val"},
        "scatter_tsne": {"checkpoint": "best", "epoch": 2, "split": "test"},
    }
    (tmp_path / "latent" / "latent.json").write_text(json.dumps(record))
    figures = {fig["name"]: fig for fig in build_context(tmp_path)["latent"]}
    assert "epoch 3, validation images" in figures["scatter_pca"]["drawn"] and not figures["scatter_pca"]["stale"]
    assert "best.pt of epoch 2" in figures["scatter_tsne"]["drawn"]
    assert "now holds epoch 3" in figures["scatter_tsne"]["stale"]
    assert figures["traversal"]["drawn"] == "" and not figures["traversal"]["stale"]  # drawn before the record
    text = " ".join(" ".join(Page(write_report(tmp_path).read_text()).text).split())
    assert "best.pt of epoch 2; it now holds epoch 3" in text


def test_a_users_report_beside_a_config_yaml_is_kept(tmp_path, capsys):
    # a project folder of the user's with its own config.yaml and report.html looked like a run (any
    # config.yaml did), and `vaegan report ~/proj` replaced the user's page
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    mine = tmp_path / "report.html"
    mine.write_text("<h1>my own report</h1>")
    assert main(["report", str(tmp_path)]) == 2
    assert "report.html" in capsys.readouterr().err
    assert mine.read_text() == "<h1>my own report</h1>"


def test_vaegans_own_report_is_written_again(tmp_path):
    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    first = write_report(tmp_path).read_text()
    assert 'name="generator" content="vaegan' in first
    (tmp_path / "metrics.csv").write_text("epoch,train/loss\n1,9.0\n")
    assert write_report(tmp_path).read_text() != first


def test_counts_and_seeds_are_shown_whole_not_to_four_digits(tmp_path):
    """`options.seed 1.234e+04` read as 12340: re-running with it gave other figures."""
    assert fmt(12345) == "12345" and fmt(10000) == "10000" and fmt(0.123456) == "0.1235"
    (tmp_path / RUN_MARKER).write_text("{}")
    evaluation = {"options": {"seed": 12345, "k": 5000}, "n_test": 10000, "metrics": {"fid": {"value": 12.3456}}}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    cells = Page(write_report(tmp_path).read_text()).text
    assert {"12345", "10000", "5000", "12.35"} <= set(cells)


def test_the_commands_it_prints_can_be_pasted_for_a_folder_with_a_space(tmp_path):
    run = tmp_path / "my run"  # check_name allows inner spaces: the name is the run's title
    run.mkdir()
    (run / RUN_MARKER).write_text("{}")
    text = "".join(Page(write_report(run).read_text()).text)  # HTMLParser unescapes &#39;
    assert f"vaegan visualize '{run}'" in text and f"vaegan evaluate '{run}'" in text
    assert f"vaegan visualize {run}." not in text


def test_a_hand_edited_better_field_is_shown_not_raised(tmp_path):
    (tmp_path / RUN_MARKER).write_text("{}")
    (tmp_path / "evaluation.json").write_text(json.dumps({"metrics": {"fid": {"value": 1.0, "better": ["lower"]}}}))
    section = evaluation_section(tmp_path)
    assert section["rows"][0]["name"] == "fid" and section["rows"][0]["better"] == ""


def test_the_epoch_a_checkpoint_holds_is_read_from_it_not_from_metrics_csv(tmp_path):
    """metrics.csv is written before the checkpoints: a save of epoch 3 cut short left last.pt at epoch 2,
    and the report told the user to evaluate again, forever ('it now holds epoch 3')."""
    import torch

    from vaegan.foundation.checkpoints import FORMAT, atomic_save

    (tmp_path / "config.yaml").write_text("model:\n  name: vae\n")
    rows = ["epoch,train/loss,val/objective", "1,9.0,5.0", "2,8.0,4.0", "3,7.0,3.0"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "checkpoints").mkdir()
    for name in ("last", "best"):
        atomic_save(
            {"format": FORMAT, "epoch": 2, "model": {"w": torch.zeros(3)}}, tmp_path / "checkpoints" / f"{name}.pt"
        )
    evaluation = {"checkpoint": "last", "checkpoint_epoch": 2, "train": {"epochs": 2}, "metrics": {"fid": {}}}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    text = " ".join(" ".join(Page(write_report(tmp_path).read_text()).text).split())
    assert "now holds" not in text and "earlier model" not in text, text
    assert "last.pt holds epoch 2" in text  # and the report says why the table runs one epoch further


def test_the_evaluation_says_what_was_evaluated_and_folds_away_its_options(tmp_path):
    # the section opened on "options.progress True options.latent prior ... seconds.test_features 0.17"
    (tmp_path / RUN_MARKER).write_text("{}")
    evaluation = {
        "run": str(tmp_path),
        "checkpoint": "best",
        "checkpoint_epoch": 7,
        "options": {"k": 5000, "nll_images": 1000, "n_samples": None, "seed": 3, "progress": True, "latent": "prior"},
        "n_samples": 10000,
        "n_test": 10000,
        "seconds": {"reference_classifier": 361.2, "likelihood": 80.5, "test_features": 0.17},
        "metrics": {"nll": {"value": 80.1, "unit": "nats"}, "fid": {"value": 12.3, "floor": 0.4, "better": "lower"}},
        "notes": ["likelihood: binarised once"],
    }
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    html = write_report(tmp_path).read_text()
    section = html[html.index('<section id="evaluation">') :]
    assert section.index("floor (real images)") < section.index("<details")  # the metrics first
    page = Page(html)
    visible = " ".join(page.outside_details)
    assert "options.progress" not in visible and "seconds.test_features" not in visible
    assert "best.pt of epoch 7" in visible and "k 5000" in visible and "seed 3" in visible
    assert "NLL on 1000 test images" in visible and "10000 samples" in visible
    everything = " ".join(page.text)
    assert "options.progress" in everything and "seconds.reference_classifier" in everything  # folded, not lost


def test_the_evaluated_line_names_the_test_images_the_nll_was_scored_on():
    """40 test volumes and --nll-images 1000: the report said 'NLL on 1000 test images'."""
    from vaegan.visualization.report_tables import evaluated_line

    data = {"options": {"nll_images": 1000, "k": 5}, "n_test": 40, "metrics": {"nll_density": {"value": 1.0}}}
    assert "NLL on all 40 test images" in evaluated_line(data)
