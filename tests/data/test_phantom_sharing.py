"""The cached phantom set is shared safely by processes (tuning workers) that ask for it at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.data.mri_files import anatomy_cache_fixture, options, phantom_cache_fixture  # noqa: F401
from vaegan.data.mri import phantom_folder, phantom_path
from vaegan.data.shared_folder import MANIFEST, folder_is_complete

CHILD = """
import sys, time
from pathlib import Path
from vaegan.data.config import MRIConfig
from vaegan.data.mri import phantom_folder
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.02)
print(phantom_folder(MRIConfig(phantom_subjects=4, phantom_spacing=8.0, progress=False)))
"""


def test_two_processes_building_one_set_share_it(tmp_path, phantom_cache):
    # the session's anatomy cache is built first, so the children only generate subjects
    from vaegan.data.anatomy import load_anatomy

    load_anatomy()
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["OMP_NUM_THREADS"] = "1"
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / f"ready{i}"), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # both start building at the same moment
    results = [child.communicate(timeout=240) for child in children]
    for child, (_out, err) in zip(children, results):
        assert child.returncode == 0, err
    mri = options(phantom_subjects=4, phantom_spacing=8.0)
    folder = phantom_path(mri)
    assert {out.strip() for out, _ in results} == {str(folder)}
    assert folder_is_complete(folder, json.loads((folder / MANIFEST).read_text())["settings"])
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}")) == [
        f".{folder.name}.lock"
    ]  # no temporary folder left; only the (empty) lock file
    assert phantom_folder(mri) == folder


def test_an_incomplete_set_is_rebuilt_and_a_complete_one_reused(phantom_cache, monkeypatch):
    mri = options(phantom_subjects=3, phantom_spacing=8.0)
    folder = phantom_folder(mri)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["files"] and manifest["settings"]["subjects"] == 3 and manifest["version"]
    # a subject lost after the build: the set no longer counts as complete and is made again
    lost = folder / sorted(manifest["files"])[-1]
    lost.unlink()
    assert not folder_is_complete(folder, manifest["settings"])
    assert phantom_folder(mri) == folder and lost.is_file()
    # participants.tsv alone (an older or interrupted build) is not a complete set
    (folder / MANIFEST).unlink()
    assert not folder_is_complete(folder, manifest["settings"])

    def regenerate(*args, **kwargs):
        raise AssertionError("generated again")

    phantom_folder(mri)  # rebuilt (no manifest)
    monkeypatch.setattr("vaegan.data.phantoms.write_phantoms", regenerate)
    assert phantom_folder(mri) == folder


@pytest.mark.parametrize("field", ["version", "settings"])
def test_a_set_built_otherwise_is_not_complete(phantom_cache, field):
    folder = phantom_folder(options(phantom_subjects=3, phantom_spacing=8.0))
    manifest = json.loads((folder / MANIFEST).read_text())
    settings = manifest["settings"]
    manifest[field] = "0.0.0" if field == "version" else {**settings, "seed": 99}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert not folder_is_complete(folder, settings)


def test_a_damaged_anatomy_cache_is_rebuilt_not_fatal(tmp_path):
    import io

    import numpy as np

    from vaegan.data.anatomy import Anatomy

    buffer = io.BytesIO()
    np.savez_compressed(buffer, version=np.asarray(1), t1=np.zeros((40, 40, 40), np.float32))
    path = tmp_path / "anatomy.npz"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # a zip cut short: BadZipFile
    assert Anatomy.load(path) is None


def test_anatomy_saves_through_a_private_temporary_file(tmp_path, monkeypatch):
    """Two processes saving at once must not write into one shared temporary file."""
    import numpy as np

    from vaegan.data import anatomy

    opened: list[str] = []
    real = np.savez_compressed
    monkeypatch.setattr(np, "savez_compressed", lambda file, **k: opened.append(str(file.name)) or real(file, **k))
    fake = anatomy.Anatomy.__new__(anatomy.Anatomy)
    monkeypatch.setattr(anatomy, "asdict", lambda _: {"t1": np.zeros(2)})
    fake.save(tmp_path / "a.npz")
    fake.save(tmp_path / "a.npz")
    assert len(set(opened)) == 2 and (tmp_path / "a.npz").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
