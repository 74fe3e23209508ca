"""The MRI preprocessing cache: one entry per file, keyed by everything that changes it; every file isolated."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vaegan.data.cache
import vaegan.data.mri_cache
from tests.data.mri_files import brain, cache_fixture, make_bids, options, write_nifti  # noqa: F401
from vaegan.data import mri_transforms
from vaegan.data.mri import read_volumes
from vaegan.foundation.errors import DataError


def entries(cache: Path) -> set[Path]:
    return set((cache / "preprocessed").rglob("*.pt"))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the volumes preprocessed (not read from the cache)."""
    calls: list[int] = []
    real = mri_transforms.preprocess

    def preprocess(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mri_transforms, "preprocess", preprocess)
    return calls


def four_subjects(root: Path) -> Path:
    return make_bids(root, {"sub-01": "CN", "sub-02": "AD", "sub-03": "CN", "sub-04": "AD"})


def test_an_all_negative_volume_is_skipped_not_fatal(tmp_path, cache):
    folder = four_subjects(tmp_path / "bids")
    odd = folder / "sub-03" / "anat" / "sub-03_T1w.nii.gz"
    write_nifti(odd, -brain(3) - 1.0)  # MONAI's Compose wraps the BadFile this raises in a RuntimeError
    data = read_volumes(folder, options())
    assert sorted(set(data.subjects)) == ["sub-01", "sub-02", "sub-04"]
    assert [item.path for item in data.skipped] == [str(odd)]
    assert "no positive voxels" in data.skipped[0].reason and "applying transform" not in data.skipped[0].reason
    with pytest.raises(DataError, match="sub-03_T1w.nii.gz: has no positive voxels.*strict"):
        read_volumes(folder, options(strict=True))


def test_any_error_in_one_file_is_recorded_with_its_root_reason(tmp_path, cache, monkeypatch):
    folder = four_subjects(tmp_path / "bids")
    real_read, real = mri_transforms.read_volume, mri_transforms.preprocess
    current: list[Path] = []
    monkeypatch.setattr(mri_transforms, "read_volume", lambda path, **k: current.append(path) or real_read(path, **k))

    def flaky(*args, **kwargs):
        if current[-1].name == "sub-02_T1w.nii.gz":
            try:
                raise MemoryError("cannot allocate 8 GiB")
            except MemoryError as error:
                raise RuntimeError("applying transform <Spacingd>") from error
        return real(*args, **kwargs)

    monkeypatch.setattr(mri_transforms, "preprocess", flaky)
    data = read_volumes(folder, options())
    assert sorted(set(data.subjects)) == ["sub-01", "sub-03", "sub-04"]
    assert data.skipped[0].path.endswith("sub-02_T1w.nii.gz")
    assert data.skipped[0].reason == "failed in preprocessing (MemoryError: cannot allocate 8 GiB)"


def test_finished_files_survive_an_interrupt(tmp_path, cache, counted, monkeypatch):
    folder = four_subjects(tmp_path / "bids")
    real = mri_transforms.preprocess

    def interrupted(*args, **kwargs):
        if len(counted) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third file
        return real(*args, **kwargs)

    monkeypatch.setattr(mri_transforms, "preprocess", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_volumes(folder, options())
    monkeypatch.undo()
    counted.clear()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache.parent))
    monkeypatch.setattr(mri_transforms, "preprocess", lambda *a, **k: counted.append(1) or real(*a, **k))
    data = read_volumes(folder, options())
    assert len(data.subjects) == 4 and len(counted) == 2  # the two done before Ctrl-C came from the cache
    assert not [p for p in (cache / "preprocessed").rglob("*") if p.name.endswith(".tmp")]


def test_every_setting_and_the_version_key_the_cache(tmp_path, cache, counted, monkeypatch):
    folder = four_subjects(tmp_path / "bids")
    first = read_volumes(folder, options())
    assert len(counted) == 4 and len(entries(cache)) == 4
    again = read_volumes(folder, options(slice_axis="coronal", strict=True, progress=False))  # after the cache
    assert len(counted) == 4 and torch.equal(first.volumes, again.volumes)
    read_volumes(folder, options(percentiles=(1.0, 99.0)))
    assert len(counted) == 8 and len(entries(cache)) == 8
    read_volumes(folder, options(fit="pad"))
    assert len(counted) == 12
    monkeypatch.setattr(vaegan.data.cache, "package_version", lambda: "99.0.0")
    read_volumes(folder, options())
    assert len(counted) == 16 and len(entries(cache)) == 16
    # the template and the resampling come from libraries: a new version is a new volume
    real = vaegan.data.mri_cache.version
    monkeypatch.setattr(vaegan.data.mri_cache, "version", lambda name: "0.7" if name == "nilearn" else real(name))
    read_volumes(folder, options())
    assert len(counted) == 20


def test_an_edited_file_recomputes_only_itself(tmp_path, cache, counted):
    folder = four_subjects(tmp_path / "bids")
    read_volumes(folder, options())
    image = folder / "sub-02" / "anat" / "sub-02_T1w.nii.gz"
    write_nifti(image, brain(9, ventricle=0.0))
    after = read_volumes(folder, options())
    assert len(counted) == 5 and len(after.subjects) == 4


def test_a_damaged_cache_entry_is_recomputed(tmp_path, cache, counted):
    folder = four_subjects(tmp_path / "bids")
    first = read_volumes(folder, options())
    for entry in entries(cache):
        entry.write_bytes(b"garbage")
    second = read_volumes(folder, options())
    assert len(counted) == 8 and torch.equal(first.volumes, second.volumes)


def test_cache_false_writes_nothing(tmp_path, cache):
    read_volumes(four_subjects(tmp_path / "bids"), options(cache=False))
    assert not entries(cache)


@pytest.mark.parametrize("where", ["load", "read"])
def test_a_file_that_could_not_be_opened_once_is_not_cached_as_bad(tmp_path, cache, monkeypatch, where):
    # a permission error (or an I/O error) was cached as "cannot be read as NIfTI"; chmod changes neither
    # size nor time, so the scan stayed skipped for good after the user fixed it
    import errno

    import nibabel as nib

    folder = four_subjects(tmp_path / "bids")
    locked = folder / "sub-03" / "anat" / "sub-03_T1w.nii.gz"
    real_load = nib.load

    def load(path, *args, **kwargs):
        if Path(path) == locked:
            if where == "load":
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            image = real_load(path, *args, **kwargs)
            image.get_fdata = lambda **_: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error"))
            return image
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(mri_transforms.nib, "load", load)
    first = read_volumes(folder, options())
    assert [item.path for item in first.skipped] == [str(locked)]
    monkeypatch.setattr(mri_transforms.nib, "load", real_load)
    again = read_volumes(folder, options())
    assert not again.skipped and "sub-03" in again.subjects


def test_a_cache_file_with_damaged_bytes_is_a_miss_not_wrong_data(tmp_path):
    """torch.load does not check the CRC of a record: a cache file with flipped bytes loaded silently."""
    import torch

    from vaegan.data.cache import load_cached, save_cached

    path = tmp_path / "entry.pt"
    save_cached(path, {"volume": torch.arange(4096, dtype=torch.float32)})
    blob = bytearray(path.read_bytes())
    start = blob.find(bytes(torch.arange(4096, dtype=torch.float32)[1000:1002].numpy().tobytes()))
    assert start > 0
    blob[start : start + 8] = bytes(8)  # two floats zeroed, the archive's structure intact
    path.write_bytes(bytes(blob))
    assert load_cached(path) is None


def test_a_full_disk_while_caching_costs_time_not_the_run(tmp_path, monkeypatch, caplog):
    """torch reports a short write as RuntimeError ("unexpected pos"), which escaped the OSError handler."""
    import torch

    from vaegan.data import cache

    def short_write(payload, target):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(torch, "save", short_write)
    cache.save_cached(tmp_path / "entry.pt", {"volume": torch.zeros(3)})
    assert not (tmp_path / "entry.pt").exists() and "could not write" in caplog.text


@pytest.mark.parametrize(
    ("module", "constant", "value"),
    [
        ("vaegan.data.registration", "SAMPLING_SEED", 2),  # 217378d changed it without a new key
        ("vaegan.data.registration", "MIN_CORRELATION", 0.6),  # a refusal is cached as a verdict
        ("vaegan.data.registration", "N4_MM", 4.0),
        ("vaegan.data.mri_transforms", "BRAIN_THRESHOLD", 0.2),
    ],
)
def test_a_constant_that_changes_the_preprocessed_volume_is_in_the_cache_key(monkeypatch, module, constant, value):
    """Only data.mri settings and a hand-raised PIPELINE were in the key: a cached verdict of the old code
    (a scan refused by a wall-clock-seeded registration) outlived the fix."""
    import importlib

    from vaegan.data.mri_cache import preprocessing_settings

    before = preprocessing_settings(options(), None)
    monkeypatch.setattr(importlib.import_module(module), constant, value)
    assert preprocessing_settings(options(), None) != before


def test_a_scan_reached_through_a_link_of_another_name_has_its_own_key(tmp_path):
    """registration: auto decides from the name (_space-MNI: placed, not registered); the key held only the
    link's target, so a renamed link (git-annex, DataLad trees) took the other name's cached verdict."""
    from vaegan.data.cache import cache_key

    target = write_nifti(tmp_path / "annex" / "a.nii.gz", brain(0))
    link = tmp_path / "sub-01_space-MNI152_T1w.nii.gz"
    link.symlink_to(target)
    assert cache_key("mri", [link], {}) != cache_key("mri", [target], {})


def test_processes_reading_one_cohort_preprocess_each_scan_once(tmp_path, cache, counted, monkeypatch):
    """Under torchrun every rank read the cohort at once: each preprocessed every scan of a cold cache (and
    wrote its own cohort file). One preprocesses now; the others wait and read its cache."""
    import threading
    import time

    real = mri_transforms.preprocess

    def slow(*args, **kwargs):  # long enough for the other reader to arrive while this one works
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(mri_transforms, "preprocess", slow)
    root = four_subjects(tmp_path / "bids")
    counted_slow = counted  # counts every volume preprocessed, by either reader
    results, errors = [], []

    def read():
        try:
            results.append(read_volumes(root, options(workers=1)).volumes)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 2 and torch.equal(results[0], results[1])
    assert len(counted_slow) == 4, f"{len(counted_slow)} volumes preprocessed for 4 scans"


def test_a_cohort_whose_cache_cannot_be_locked_is_read_unlocked(tmp_path, cache, monkeypatch, caplog):
    """A cache another user owns, a read-only mount: the lock raised EACCES and the read failed."""
    import logging

    import filelock

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self.lock_file))

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    with caplog.at_level(logging.WARNING):
        assert len(read_volumes(four_subjects(tmp_path / "bids"), options()).subjects) == 4
    assert "cannot lock" in caplog.text


def test_a_cohort_already_cached_is_read_without_waiting_on_the_lock(tmp_path, cache, monkeypatch):
    """Ranks reading a cohort every scan of which is cached read it at once, not one after another."""
    import filelock

    root = four_subjects(tmp_path / "bids")
    read_volumes(root, options())  # fills the cache
    monkeypatch.setattr(filelock.FileLock, "acquire", lambda self, *a, **k: pytest.fail("waited on the lock"))
    assert len(read_volumes(root, options()).subjects) == 4
