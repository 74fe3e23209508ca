"""benchmarks/ad_effects.py: the options of the command reach every measurement, the curve's too."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_strength_curve_measures_with_the_commands_options(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # the script imports its neighbours by name
    import ad_effects

    seen = []
    monkeypatch.setattr(ad_effects, "evaluate", lambda *args, **kwargs: seen.append(kwargs) or {})
    monkeypatch.setattr(ad_effects, "strength_folder", lambda config, scale: tmp_path)  # no phantoms drawn
    args = argparse.Namespace(
        runs=str(tmp_path), results=str(tmp_path), reuse=False, samples=8, refine=50, ceiling=False
    )
    rows = ad_effects.strength_curve(str(ROOT / "configs" / "ad_cvae_2d.yaml"), [], [1.0], args)
    assert rows[0]["atrophy_scale"] == 1.0
    assert seen[0]["refine"] == 50 and seen[0]["ceiling"] is False and seen[0]["samples"] == 8


def test_twins_of_another_phantom_set_are_refused(monkeypatch):
    """The ceiling's healthy twins must be this set's subjects: its controls are then the very same images."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import pytest
    import torch
    from ad_phantom_sets import twins_of

    from vaegan.data.mri import MRIVolumes

    def volumes(images: torch.Tensor) -> MRIVolumes:
        subjects = ["sub-001", "sub-002", "sub-003"]
        return MRIVolumes(images, torch.tensor([0, 1, 0]), subjects, subjects, ["CN", "AD"])

    test = volumes(torch.rand(3, 1, 4, 4, 4))
    twins = volumes(test.volumes.clone())
    twins.volumes[1] += 0.1  # the AD subject without its atrophy: differs, as it should
    assert twins_of(twins, test).tolist() == [True, True, True]
    other = volumes(torch.rand(3, 1, 4, 4, 4))  # same subject ids, another seed's brains
    with pytest.raises(ValueError, match="not the healthy twins"):
        twins_of(other, test)


def test_merged_rows_replace_theirs_and_keep_the_old_under_a_new_name(tmp_path, monkeypatch):
    import json

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ad_merge_results

    into = tmp_path / "kept" / "results.json"
    into.parent.mkdir()
    into.write_text(
        json.dumps(
            {
                "note": "",
                "curves": {},
                "rows": [{"name": "a", "r_model": 0.7, "settings": "x", "figure": "kept/a_effects.png"}],
            }
        )
    )
    new = tmp_path / "new"
    new.mkdir()
    (new / "a_effects.png").write_bytes(b"png")
    row = {"name": "a", "r_model": 0.8, "settings": "as written", "figure": str(new / "a_effects.png")}
    (new / "results.json").write_text(json.dumps({"note": "", "rows": [row]}))
    args = [str(new), "--into", str(into), "--keep-old", "_before", "--note", "older", "--readme", ""]
    assert ad_merge_results.main(args) == 0
    rows = {row["name"]: row for row in json.loads(into.read_text())["rows"]}
    assert rows["a"]["r_model"] == 0.8 and (into.parent / "a_effects.png").read_bytes() == b"png"
    assert rows["a_before"]["r_model"] == 0.7 and "figure" not in rows["a_before"]
    assert rows["a_before"]["settings"] == "x (older)"
