"""The recipes in docs/real_mri.md run as printed and label what they say they label."""

from __future__ import annotations

import csv
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "real_mri.md"


def recipe(heading: str) -> str:
    """The first ```python block after ``heading`` (a line of docs/real_mri.md), before the next heading."""
    text = DOC.read_text()
    after = text[text.index(f"\n{heading}\n") + len(heading) + 2 :]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match and not re.search(r"\n#{1,3} ", after[: match.start()]), f"no python block under {heading!r}"
    return match.group(1)


# (dx1, cdr) -> the label the OASIS-3 recipe must give, or None (left out)
OASIS3_ROWS = {
    ("Cognitively normal", 0): "CN",
    ("Cognitively normal", 0.5): None,  # CDR and dx1 disagree
    ("AD Dementia", 1): "AD",
    ("AD Dementia", 0): None,  # not demented by the CDR
    ("AD dem w/depresss- primary", 2): "AD",
    ("AD dem w/CVD contribut", 1): "AD",  # AD primary, vascular disease contributing
    ("DAT", 1): "AD",  # dementia of Alzheimer type: no "AD" in it
    ("DAT w/depresss not contribut", 1): "AD",
    ("AD dem cannot be primary", 1): None,  # AD present, another dementia primary
    ("Non AD dem- Other primary", 1): None,
    ("Incipient Non-AD dem", 1): None,
    ("uncertain- possible NON AD dem", 1): None,
    ("uncertain dementia", 1): None,
    ("Vascular Demt- primary", 2): None,
    ("DLBD- primary", 1): None,
    ("", 1): None,  # no dx1
}


def test_the_oasis3_recipe_labels_only_ad_primary_dementia_as_ad(tmp_path, monkeypatch):
    """dx1.str.contains("AD") made "Non AD dem- Other primary" AD and left "DAT" out."""
    with (tmp_path / "sessions_with_dx.csv").open("w", newline="") as file:
        table = csv.writer(file)
        table.writerow(["participant_id", "session_id", "path", "cdr", "dx1"])
        for i, (dx1, cdr) in enumerate(OASIS3_ROWS):
            table.writerow([f"sub-{i:02d}", "ses-d0001", f"scans/{i:02d}.nii.gz", cdr, dx1])
    monkeypatch.chdir(tmp_path)
    exec(compile(recipe("### OASIS-3 (clinica `oasis3-to-bids`, or the OASIS-3 BIDS release)"), str(DOC), "exec"), {})
    with (tmp_path / "oasis3.csv").open(newline="") as file:
        written = list(csv.DictReader(file))
    assert list(written[0]) == ["path", "label", "subject"]
    got = {row["path"]: row["label"] for row in written}
    wanted = {f"scans/{i:02d}.nii.gz": label for i, label in enumerate(OASIS3_ROWS.values()) if label}
    assert got == wanted


def test_the_adni_mci_label_maps_map_the_values_of_the_column_they_are_for():
    """The MCI recipe followed the per-visit block (CN, MCI, AD/Dementia) with a map of baseline DX_bl values
    (EMCI, LMCI): read per visit, every MCI scan was skipped."""
    import yaml

    from vaegan.data.config import MRIConfig
    from vaegan.data.mri_sources import map_label

    section = DOC.read_text().split("### ADNI", 1)[1].split("\n### ", 1)[0]
    wanted = {  # the column's values, as the section lists them -> their class
        "per-visit": {"CN": "CN", "MCI": "MCI", "AD": "AD", "Dementia": "AD"},
        "baseline": {"CN": "CN", "EMCI": "MCI", "LMCI": "MCI", "AD": "AD"},
    }
    for column, classes in wanted.items():
        found = re.search(rf"^- the {column} .*?label_map: (\{{.*?\}})", section, re.MULTILINE | re.DOTALL)
        assert found, f"no MCI label_map for the {column} column"
        mri = MRIConfig(classes=("CN", "MCI", "AD"), label_map=yaml.safe_load(found.group(1)))
        assert {value: mri.classes[map_label(value, mri)] for value in classes} == classes
