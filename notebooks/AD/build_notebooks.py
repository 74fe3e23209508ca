"""The AD caller programs (train_cvae_ad.ipynb, disease_effect_maps.ipynb), cell by cell: their source.

Edit the cells here, not in the notebooks, and add a new notebook to ``NOTEBOOKS``.
``python scripts/build_notebooks.py notebooks/AD`` executes them and writes each .ipynb with its
outputs (figures); ``python notebooks/AD/build_notebooks.py`` only writes them, unexecuted.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """import matplotlib.pyplot as plt
import torch
from IPython.display import Image

from vaegan.config import load_config
from vaegan.exercises import notebook_outputs, quick

QUICK = quick()
# quick: 12 phantom subjects at 5 mm, 32^3, a small network, 3 short epochs (seconds); else the config as written
QUICK_SETTINGS = [
    "data.mri.phantom_subjects=12", "data.mri.phantom_spacing=5", "data.mri.size=32",
    "model.network.channels=[16,32]", "model.network.hidden=[128]", "model.network.norm=none",
    "model.latent_dim=8", "model.lr=0.003", "train.epochs=3", "train.batch_size=8",
]
overrides = [*(QUICK_SETTINGS if QUICK else []), "train.progress=false", "data.mri.progress=false"]"""

TRAIN = [
    new_markdown_cell(
        "# A conditional VAE on T1w brain slices: CN vs AD\n\n"
        "The AD caller program: synthetic T1w brains (phantoms) of cognitively normal (CN) and Alzheimer's "
        "(AD) subjects, a conditional VAE on coronal slices through the hippocampi, and what it produces: "
        "reconstructions, samples of each class, and one brain drawn as both classes.\n\n"
        "Real data (ADNI, OASIS) cannot be shipped; `vaegan phantoms` writes a BIDS folder that reads exactly "
        "like one, so the same code runs on your own data with `data.dataset=mri` and `data.data_dir=YOUR_BIDS`.\n\n"
        "Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does): a few dozen steps on 12 small "
        "brains give brain-shaped blurs, not brains; the full run (the config as written) gives the real thing."
    ),
    new_code_cell(SETUP),
    new_markdown_cell(
        "## The data\n"
        "The shipped config `ad_cvae_2d` names the `phantoms` dataset without a folder, so the phantoms are generated "
        "into the cache on first use (anatomy from nilearn's MNI152 templates, subject variability, age, and for "
        "AD graded atrophy). Preprocessing (RAS, resampling, intensity normalisation inside the brain, cropping, "
        "resizing) is cached too. Subjects, not slices, are split into train, validation and test."
    ),
    new_code_cell(
        'config = load_config("ad_cvae_2d", overrides + [f"out={notebook_outputs(\'train_cvae_ad\')}"])\n'
        "from vaegan.experiment import prepare\n\n"
        "config, data = prepare(config)\n"
        'for name in ("train", "val", "test"):\n'
        "    split = getattr(data, name)\n"
        "    subjects = len(split.groups.unique())\n"
        '    print(f"{name:5s} {len(split):5d} slices of {subjects:3d} subjects, image shape {split.image_shape}")'
    ),
    new_markdown_cell(
        "## One phantom subject, drawn with nilearn\n"
        "An AD subject as stored on disk (int16 scanner units) with its true atrophy map, the fraction of "
        "tissue lost in each voxel, saved beside the image."
    ),
    new_code_cell(
        "import csv\n\n"
        "from nilearn import plotting\n\n"
        "from vaegan.data.mri import phantom_folder\n"
        "from vaegan.data.phantoms import ATROPHY_SUFFIX\n\n"
        "folder = phantom_folder(config.data.mri)\n"
        'rows = list(csv.DictReader((folder / "participants.tsv").open(), delimiter="\\t"))\n'
        'subject = next(r for r in rows if r["diagnosis"] == "AD")\n'
        'anat = folder / subject["participant_id"] / "anat"\n'
        "image = anat / f\"{subject['participant_id']}_T1w.nii.gz\"\n"
        "display = plotting.plot_stat_map(\n"
        "    str(anat / f\"{subject['participant_id']}{ATROPHY_SUFFIX}\"), bg_img=str(image), threshold=0.1,\n"
        "    cmap=\"hot\", title=f\"{subject['participant_id']} (AD, severity {subject['severity']}): true atrophy\",\n"
        ")\n"
        "plt.show()"
    ),
    new_markdown_cell(
        "## Train\n"
        "`train_from_config` builds the model from the config (image shape and classes come from the data) and "
        "writes a run folder: grids per epoch, metrics, curves, checkpoints."
    ),
    new_code_cell(
        "from vaegan.experiment import train_from_config\n\n"
        "history = train_from_config(config, overwrite=True)\n"
        "history[-1]"
    ),
    new_markdown_cell(
        "## What the model shows after training\n"
        "Validation slices above their reconstructions; samples from the prior, one row per class "
        "(row 1 CN, row 2 AD, the same noise down each column); analogies: each input (column 1) decoded "
        "as CN and as AD from its own code."
    ),
    new_code_cell(
        "run = config.out_dir\n"
        "last = len(history)\n"
        "fig, axes = plt.subplots(1, 3, figsize=(15, 5))\n"
        'for ax, name in zip(axes, ("recons", "fakes", "analogies")):\n'
        '    ax.imshow(plt.imread(run / f"epoch{last:03d}_{name}.png"), cmap="gray")\n'
        "    ax.set_title(name)\n"
        '    ax.axis("off")\n'
        "plt.show()\n"
        'Image(str(run / "curves.png"))'
    ),
    new_markdown_cell(
        "## Samples as NIfTI\n"
        "`vaegan sample RUN --out samples.nii.gz` writes the samples as one 4-D NIfTI (and their labels in a "
        "JSON sidecar), for any viewer."
    ),
    new_code_cell(
        "import nibabel as nib\n\n"
        "from vaegan.cli import main\n\n"
        'main(["sample", str(run), "--n", "8", "--out", str(run / "samples.nii.gz")])\n'
        'print(nib.load(run / "samples.nii.gz").shape, (run / "samples.json").read_text()[:80])'
    ),
]

EFFECTS = [
    new_markdown_cell(
        "# Disease-effect maps: what did the conditional VAE learn about AD?\n\n"
        "Encode a CN subject with the CN label, then decode its code twice, with CN and with AD. The code "
        "holds the subject's anatomy, the label the diagnosis, so the difference is the model's idea of what "
        "AD does to *this* brain. On phantoms the true atrophy is known, so the idea can be checked.\n\n"
        "Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does); its maps are noise, as a model trained "
        "for a few dozen steps knows nothing yet. The full run trains for the config's epochs; "
        "`benchmarks/README.md` shows what it finds."
    ),
    new_code_cell(SETUP),
    new_markdown_cell("## Train (or reuse) a conditional VAE on coronal slices"),
    new_code_cell(
        "from vaegan.experiment import train_from_config\n"
        "from vaegan.runs import load_run\n\n"
        'config = load_config("ad_cvae_2d", overrides + [f"out={notebook_outputs(\'disease_effect_maps\')}"])\n'
        'if QUICK or not (config.out_dir / "checkpoints" / "best.pt").is_file():\n'
        "    train_from_config(config, overwrite=True)\n"
        "model = load_run(config.out_dir).model\n"
        "mri = config.data.mri"
    ),
    new_markdown_cell(
        "## The test subjects, with their true atrophy maps\n"
        "`read_volumes` reads the preprocessed volumes (from the cache) and, beside each, the true atrophy map "
        "transformed identically. `split_subjects` is the same subject split the training used."
    ),
    new_code_cell(
        "from vaegan.data.mri import phantom_folder, read_volumes, split_subjects\n"
        "from vaegan.data.phantoms import ATROPHY_SUFFIX\n\n"
        "volumes = read_volumes(phantom_folder(mri), mri, maps_suffix=ATROPHY_SUFFIX)\n"
        "test = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))\n"
        'print(f"{len(test.subjects)} test subjects:", dict(zip(["CN", "AD"], test.labels.bincount().tolist())))'
    ),
    new_markdown_cell(
        "## One CN subject: decoded as CN and as AD\n"
        "Left to right: the slice, decoded as CN, decoded as AD, and their difference (red: darker as AD, "
        "i.e. tissue lost)."
    ),
    new_code_cell(
        "from vaegan.data.mri_transforms import to_slices\n"
        "from vaegan.visualization.disease_effects import disease_effect\n\n"
        "cn = test.volumes[test.labels == 0][:1]\n"
        "slices, _ = to_slices(cn, mri.slice_axis, mri.slice_range, mri.slice_step)\n"
        "middle = slices[len(slices) // 2 : len(slices) // 2 + 1]\n"
        "effect = disease_effect(model, middle, source=0, target=1)\n"
        "with torch.no_grad():\n"
        "    z = model.encode(middle.to(model.device), torch.zeros(1, dtype=torch.long, device=model.device))\n"
        "    as_cn = model.generate(z, torch.zeros(1, dtype=torch.long, device=model.device)).cpu()\n"
        "fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))\n"
        'panels = [(middle, "CN subject"), (as_cn, "decoded as CN"), (as_cn + effect, "decoded as AD")]\n'
        "for ax, (img, title) in zip(axes, panels):\n"
        '    ax.imshow(img[0, 0], cmap="gray", vmin=0, vmax=1)\n'
        "    ax.set_title(title)\n"
        "peak = float(effect.abs().max()) or 1.0\n"
        'shown = axes[3].imshow(-effect[0, 0], cmap="RdBu_r", vmin=-peak, vmax=peak)\n'
        'axes[3].set_title("CN - AD decoding")\n'
        "fig.colorbar(shown, ax=axes[3])\n"
        "for ax in axes:\n"
        '    ax.axis("off")\n'
        "plt.show()"
    ),
    new_markdown_cell(
        "## Mean disease-effect map vs the true atrophy\n"
        "The mean over the test CN subjects of the effect map, beside the mean true atrophy of the test AD "
        "subjects and the raw group difference (mean CN image minus mean AD image). *r* is the Pearson "
        "correlation with the true atrophy inside the brain; nilearn draws the maps at the slices' positions."
    ),
    new_code_cell(
        "from vaegan.visualization.brain import plot_effect_maps\n"
        "from vaegan.visualization.disease_effects import summarize_effects\n\n"
        "summary = summarize_effects(model, test, mri)\n"
        'print(f"r(model effect, true atrophy) = {summary.r_model:.2f}")\n'
        'print(f"r(raw group difference, true atrophy) = {summary.r_group:.2f}")\n'
        'Image(str(plot_effect_maps(summary, mri, config.out_dir / "effect_maps.png", title="ad_cvae_2d")))'
    ),
    new_markdown_cell(
        "## Does the code itself carry the diagnosis?\n"
        "A logistic regression on the latent means, trained on the training subjects and scored on the test "
        "subjects (never a subject on both sides). Every slice is encoded with the CN label, so the label "
        "given to the encoder cannot leak. A conditional VAE gets the diagnosis for free from its label, so "
        "its code need not carry it: an AUC near 0.5 means the label, not the code, explains the disease."
    ),
    new_code_cell(
        "from vaegan.experiment import load_data\n"
        "from vaegan.visualization.disease_effects import latent_auc\n\n"
        "splits = load_data(config)\n"
        "latent_auc(model, splits.train, splits.test)"
    ),
]


def write(cells: list, name: str) -> Path:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = HERE / name
    nbformat.write(notebook, path)
    return path


# notebook file -> its cells; scripts/build_notebooks.py and tests/test_notebooks.py read this
NOTEBOOKS = {"train_cvae_ad.ipynb": TRAIN, "disease_effect_maps.ipynb": EFFECTS}


if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        print(write(cells, name))
