"""The prose of benchmarks/README.md quotes figures of benchmarks/ad_effects/results.json by name; a row
measured again must not leave the prose quoting the row it replaced (the summary quoted the 3-D VAE's AUC
from before the registered scans shared one grid)."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO


def row(name: str) -> dict:
    rows = json.loads((REPO / "benchmarks" / "ad_effects" / "results.json").read_text())["rows"]
    return next(r for r in rows if r["name"] == name)


def test_the_3d_vaes_latent_auc_in_the_summary_is_the_shipped_rows():
    text = " ".join((REPO / "benchmarks" / "README.md").read_text().split())
    shipped = row("ad_vae_3d")
    means = re.search(
        r"subject-level latent AUC >= 0\.9, \*\*met\*\* \((\d\.\d\d) \(.*?\) on the encoder's means", text
    )
    refined = re.search(r"(\d\.\d\d) on MAP codes", text[means.end() :] if means else "")
    assert means and refined, "benchmarks/README.md no longer states the 3-D VAE's AUC goal as this test reads it"
    assert float(means.group(1)) == round(shipped["subject_auc"], 2)
    assert float(refined.group(1)) == round(shipped["subject_auc_refined"], 2)


def test_the_summary_rows_of_the_shipped_cvaes_are_their_rows_in_the_results():
    """The rows measured against the corrected truth maps, as the summary table quotes them."""
    lines = (REPO / "benchmarks" / "README.md").read_text().splitlines()
    for name in ("ad_cvae_2d", "ad_cvae_3d"):
        shipped = row(name)
        assert shipped["truth"] == 2
        line = next((x for x in lines if x.startswith(f"| `{name}` as shipped, **corrected truth**")), None)
        assert line, f"benchmarks/README.md has no summary row of {name} on the corrected truth maps"
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1].startswith(f"**{shipped['r_model']:.2f}**") and cells[2].startswith(f"{shipped['r_group']:.2f}")
        assert cells[3].startswith(f"{shipped['r_reference']:.2f}")
        assert cells[5].startswith(f"**{shipped['individual'][1]:.2f}**")
        low, floor, high = shipped["individual_group_difference"]
        assert cells[7] == f"{floor:.2f} [{low:.2f}, {high:.2f}]"
        assert cells[9] == f"{shipped['r_ad_maps_ceiling']:.2f}, {shipped['individual_ceiling'][1]:.2f}"
        low, fitted, high = shipped["individual_refined"]  # each subject's code and warp fitted to it
        assert cells[10] == f"**{fitted:.2f}** [{low:.2f}, {high:.2f}]"
