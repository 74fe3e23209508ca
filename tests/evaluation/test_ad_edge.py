"""benchmarks/ad_edge.py: a disease map scored against the true atrophy at the brain's edge and deeper."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def effects_folder(folder: Path) -> Path:
    """What `vaegan effects` writes, on a ball of brain in 2 mm voxels: a truth with loss at the edge (the
    cortex thinning) and deep inside (the ventricles); the model finds the deep loss only, the raw group
    difference only the edge's; the two disease scans' maps are the model's with noise."""
    grid = np.stack(np.meshgrid(*(np.arange(24.0) - 11.5,) * 3, indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    brain = radius < 10
    rng = np.random.default_rng(0)
    edge_loss = np.where(brain & (radius > 8), 0.5 + 0.5 * np.cos(grid[0]), 0.0)  # the outer 2 voxels: 4 mm
    deep_loss = np.where(radius < 5, 1.0 - radius / 5, 0.0)
    noise = np.where(brain, rng.normal(0, 0.2, brain.shape), 0.0)
    maps = {
        "true_atrophy": edge_loss + deep_loss,
        "mean_control": brain * 0.8,
        "group_effect": deep_loss + np.where(brain & (radius > 8), noise, 0.0),
        "group_difference": edge_loss + np.where(radius < 5, noise, 0.0),
        "sub-01_loss": deep_loss + 0.01 * noise,
        "sub-02_loss": deep_loss - 0.005 * noise,
    }
    folder.mkdir()
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    for name, image in maps.items():
        nib.save(nib.Nifti1Image(image.astype(np.float32), affine), folder / f"{name}.nii.gz")
    (folder / "effects.json").write_text(json.dumps({"scans": [{"scan": "sub-01"}, {"scan": "sub-02"}]}))
    return folder


def test_each_map_is_scored_where_it_is_right_and_where_it_is_not(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_edge

    folder = effects_folder(tmp_path / "effects")
    outer, deeper, whole = ad_edge.edge_table(folder, edge_mm=6.0)
    assert outer["band"] == "outer 6 mm" and outer["voxels"] + deeper["voxels"] == whole["voxels"]
    assert outer["share"] + deeper["share"] == pytest.approx(1.0) and whole["share"] == pytest.approx(1.0)
    assert deeper["model (group map)"] == pytest.approx(1.0) and outer["model (group map)"] < 0.3
    assert outer["raw group difference"] == pytest.approx(1.0) and deeper["raw group difference"] < 0.9
    assert deeper["mean of the individual maps"] == pytest.approx(1.0, abs=1e-3)
    assert ad_edge.main([str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "| outer 6 mm |" in printed and f"{outer['model (group map)'] - 1:+.2f} |" in printed


def test_a_folder_without_a_truth_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_edge

    folder = effects_folder(tmp_path / "scans")
    (folder / "true_atrophy.nii.gz").unlink()
    with pytest.raises(SystemExit, match="scans has no true_atrophy"):
        ad_edge.edge_table(folder)
