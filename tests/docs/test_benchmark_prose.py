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
    means = re.search(r"subject-level latent AUC >= 0\.9 on the encoder's means: \*\*(\d\.\d\d)\*\*", text)
    refined = re.search(r"on its MAP codes (\d\.\d\d)", text[means.end() :] if means else "")
    assert means and refined, "benchmarks/README.md no longer states the 3-D VAE's AUC goal as this test reads it"
    assert float(means.group(1)) == round(shipped["subject_auc"], 2)
    assert float(refined.group(1)) == round(shipped["subject_auc_refined"], 2)
