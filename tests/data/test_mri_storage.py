"""A cohort kept in a memory-mapped file (data.mri.storage) gives the same splits as one kept in memory."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.mri_files import cache_fixture, make_bids, options  # noqa: F401
from vaegan.data import load_dataset, mri_cache
from vaegan.data.streaming import ImageWriter, RowReader, file_rows, open_images, take_rows
from vaegan.foundation.errors import ConfigError, DataError


def eight_subjects(root: Path) -> Path:
    return make_bids(root, {f"sub-{i:02d}": ("CN" if i % 2 else "AD") for i in range(1, 9)})


def splits(folder: Path, **changes):
    mri = options(test_size=0.25, **changes)
    return load_dataset("mri", data_dir=folder, val_size=0.25, mri=mri)


@pytest.mark.parametrize("dims", [3, 2])
def test_file_storage_gives_the_memory_splits_and_stays_on_disk(tmp_path, cache, dims):
    folder = eight_subjects(tmp_path / "bids")
    memory = splits(folder, storage="memory", spatial_dims=dims, slice_axis="coronal")
    on_disk = splits(folder, storage="file", spatial_dims=dims, slice_axis="coronal")
    for name in ("train", "val", "test"):
        kept, mapped = getattr(memory, name), getattr(on_disk, name)
        assert file_rows(kept.images) is None
        assert file_rows(mapped.images) is not None, f"{name} was read into memory"
        assert mapped.images.dtype == torch.float32
        assert torch.equal(mapped.images, kept.images), name
        assert torch.equal(mapped.labels, kept.labels) and torch.equal(mapped.groups, kept.groups)
    assert list((cache / "preprocessed" / "mri-cohorts").glob("*.npy"))


def test_auto_storage_chooses_a_file_when_memory_is_short(tmp_path, cache, monkeypatch):
    folder = eight_subjects(tmp_path / "bids")
    assert file_rows(splits(folder).train.images) is None  # 8 volumes of 16^3 fit
    monkeypatch.setattr(mri_cache, "available_memory", lambda: 1000)
    assert file_rows(splits(folder).train.images) is not None
    assert file_rows(splits(folder, cache=False).train.images) is None  # a file needs the cache


def test_file_storage_never_holds_more_than_a_volume_or_two_of_the_cache(tmp_path, cache, monkeypatch):
    """Loading a cached cohort into a file reads each cache entry and lets it go: never all of them at once."""
    folder = eight_subjects(tmp_path / "bids")
    splits(folder, storage="memory")  # fills the per-file cache
    alive, most, load = weakref.WeakSet(), [0], mri_cache.load_cached

    def tracked(path):
        entry = load(path)
        if entry is not None and "volume" in entry:
            alive.add(entry["volume"])
        most[0] = max(most[0], len(alive))
        return entry

    monkeypatch.setattr(mri_cache, "load_cached", tracked)
    splits(folder, storage="file")
    assert 0 < most[0] <= 2, f"{most[0]} cached volumes were held at once"


def test_file_storage_without_the_cache_is_refused():
    with pytest.raises(ValueError, match="needs cache: true"):
        options(storage="file", cache=False)
    from vaegan.config import build_config

    with pytest.raises(ConfigError, match="storage"):
        build_config({"data": {"dataset": "mri", "mri": {"storage": "file", "cache": False}}}, [])


def test_a_cohort_file_is_written_once_and_an_interrupted_one_leaves_nothing(tmp_path, cache, monkeypatch):
    folder = eight_subjects(tmp_path / "bids")
    splits(folder, storage="file")
    cohorts = cache / "preprocessed" / "mri-cohorts"
    written = {path: path.stat().st_mtime_ns for path in cohorts.glob("*.npy")}
    splits(folder, storage="file")
    assert {path: path.stat().st_mtime_ns for path in cohorts.glob("*.npy")} == written  # reused

    for path in written:
        path.unlink()
    real, calls = mri_cache.load_cached, []

    def vanishing(path):  # the cache loses an entry after the first pass has seen it
        calls.append(path)
        return None if len(calls) == 8 + 3 else real(path)

    monkeypatch.setattr(mri_cache, "load_cached", vanishing)
    with pytest.raises(DataError, match="left the cache"):
        splits(folder, storage="file")
    # neither the cohort file nor a temporary one (the lock file beside it stays: filelock keeps it on Unix)
    assert not [path for path in cohorts.iterdir() if not path.name.endswith(".lock")]


def test_take_rows_copies_a_file_subset_beside_it_and_reuses_it(tmp_path):
    data = torch.rand(10, 1, 3, 3)
    with ImageWriter(tmp_path / "x.npy", 10, (1, 3, 3), np.float32) as writer:
        writer[:] = data
    images = open_images(tmp_path / "x.npy")
    index = torch.tensor([7, 1, 4])
    subset = take_rows(images, index, chunk=2)
    assert torch.equal(subset, data[index]) and file_rows(subset) is not None
    again = take_rows(images, index)
    assert file_rows(again).path == file_rows(subset).path
    assert take_rows(images, torch.arange(10)) is images
    assert torch.equal(take_rows(data, index), data[index])  # in memory: plain indexing

    path = file_rows(subset).path
    path.write_bytes(path.read_bytes()[:-8])  # a damaged copy is written again, not read
    assert torch.equal(take_rows(images, index), data[index])


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return sum(int(line.split()[1]) for line in status if line.startswith(("RssAnon:", "RssFile:"))) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="resident memory is read from Linux's /proc")
def test_writing_a_cohort_file_does_not_grow_the_process(tmp_path):
    """96 MB written row by row: the rows go to the page cache, not into this process's resident memory."""
    row = torch.rand(1, 64, 64, 64)  # 1 MB as float32
    before = resident_mb()
    with ImageWriter(tmp_path / "big.npy", 96, (1, 64, 64, 64), np.float32) as writer:
        for i in range(96):
            writer[i] = row + i
        assert resident_mb() - before < 32  # while the writer is open, too
    images = open_images(tmp_path / "big.npy")
    assert torch.equal(RowReader.of(images).read(torch.tensor([5, 90])), torch.stack([row + 5, row + 90]))


def test_writing_to_a_mapped_cohort_never_changes_its_file(tmp_path):
    with ImageWriter(tmp_path / "x.npy", 2, (1, 2, 2), np.float32) as writer:
        writer[:] = torch.zeros(2, 1, 2, 2)
    images = open_images(tmp_path / "x.npy")
    images.add_(1)  # copy-on-write: this process's pages only
    assert float(images.sum()) == 8 and float(open_images(tmp_path / "x.npy").sum()) == 0


def test_a_run_trains_from_a_cohort_file_streamed_in_batches(tmp_path, cache):
    from vaegan.config import build_config
    from vaegan.experiment import train_from_config

    folder = eight_subjects(tmp_path / "bids")
    mri = {**options().model_dump(mode="json"), "storage": "file", "spatial_dims": 3, "test_size": 0.25}
    config = build_config(
        {
            "name": "cohort",
            "data": {"dataset": "mri", "data_dir": str(folder), "val_size": 0.25, "mri": mri},
            "model": {"name": "vae", "latent_dim": 2, "network": {"kind": "conv", "channels": [4], "hidden": [8]}},
            "train": {"epochs": 1, "batch_size": 2, "grid_size": 2, "progress": False, "tensorboard": False},
        },
        ["train.data_on_device=never", f"out={tmp_path / 'run'}"],
    )
    history = train_from_config(config)
    assert len(history) == 1 and all(np.isfinite(value) for value in history[0].values() if isinstance(value, float))
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file() and list((tmp_path / "run").rglob("*.png"))


@pytest.mark.parametrize("where", ["os.pwrite", "os.fsync"])
def test_a_full_disk_while_writing_a_cohort_file_names_it_and_leaves_nothing(tmp_path, monkeypatch, where):
    """ENOSPC from pwrite or fsync named no file (the CLI showed a traceback), and a failed fsync left the
    cohort-sized temporary behind."""
    import errno
    import os

    from vaegan.data import streaming

    real = getattr(os, where.split(".")[1])

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(streaming.os, where.split(".")[1], full)
    with pytest.raises(OSError) as error, streaming.ImageWriter(tmp_path / "x.npy", 2, (1, 2, 2)) as writer:
        writer[:] = torch.zeros(2, 1, 2, 2)
    monkeypatch.setattr(streaming.os, where.split(".")[1], real)
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(tmp_path / "x.npy")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_cohort_file_is_rewritten_not_a_traceback(tmp_path):
    """A zero-byte .npy (an interrupted copy) raised EOFError from complete()."""
    import numpy as np

    from vaegan.data.streaming import complete

    (tmp_path / "x.npy").write_bytes(b"")
    assert complete(tmp_path / "x.npy", (1,), np.dtype(np.float32)) is False


def test_a_cache_that_cannot_be_written_under_file_storage_says_so(tmp_path, cache, monkeypatch):
    """save_cached only warned, the lean path let the volume go, and the cohort file then failed with
    'a preprocessed volume left the cache': the wrong cause, after all the preprocessing."""
    from vaegan.data import cache as cache_module

    monkeypatch.setattr(cache_module, "atomic_write", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "full")))
    folder = make_bids(tmp_path / "bids", {"sub-01": "CN", "sub-02": "AD", "sub-03": "CN", "sub-04": "AD"})
    with pytest.raises(DataError, match="cannot be written.*storage"):
        load_dataset("mri", data_dir=folder, val_size=0.25, mri=options(storage="file"))


def test_processes_that_need_one_split_file_write_it_once(tmp_path, monkeypatch):
    """Under torchrun every rank found the split file missing and wrote its own copy of it."""
    import threading
    import time

    from vaegan.data import streaming

    source = tmp_path / "cohort.npy"
    with ImageWriter(source, 8, (1, 2, 2), np.float32) as writer:
        writer[:] = torch.arange(32.0).view(8, 1, 2, 2)
    images = open_images(source)
    written = []
    enter = ImageWriter.__enter__

    def slow_enter(self):
        written.append(self.path.name)
        time.sleep(0.3)  # the other reader arrives while this one writes
        return enter(self)

    monkeypatch.setattr(streaming.ImageWriter, "__enter__", slow_enter)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(take_rows(images, torch.tensor([1, 3, 5])))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(written) == 1, written
    assert len(results) == 2 and all(torch.equal(r, images[[1, 3, 5]]) for r in results)


def write_group(folder: Path, limit: str, usage: str, names=("memory.max", "memory.current")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / names[0]).write_text(f"{limit}\n")
    (folder / names[1]).write_text(f"{usage}\n")


def test_the_memory_a_job_may_use_is_its_control_groups(tmp_path, monkeypatch):
    """A Slurm job with --mem=32G on a 512 GB node saw 512 GB, chose memory storage and was killed."""
    from vaegan.data import streaming

    membership = tmp_path / "cgroup"
    membership.write_text("0::/\n")  # a cgroup namespace: the job's group is the mount's root
    write_group(tmp_path, "1073741824", "268435456")  # 1 GiB, 256 MiB in use
    assert streaming.cgroup_memory_left(tmp_path, membership) == 768 * 2**20
    write_group(tmp_path, "max", "268435456")
    assert streaming.cgroup_memory_left(tmp_path, membership) is None
    monkeypatch.setattr(streaming, "cgroup_memory_left", lambda: 2**20)
    assert streaming.available_memory() == 2**20


def test_a_limit_on_an_ancestor_of_the_process_group_counts(tmp_path):
    """Without a cgroup namespace (a Slurm job) --mem sits on job_1 while the process is in job_1/step_0;
    only the mount's root was read, which has no limit, so the job was sized by the host's RAM."""
    from vaegan.data import streaming

    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    write_group(v2, "max", "999")
    write_group(v2 / "system.slice" / "job_1", "1073741824", "268435456")  # 1 GiB, 256 MiB in use
    write_group(v2 / "system.slice" / "job_1" / "step_0", "max", "1000")
    (tmp_path / "cgroup").write_text("0::/system.slice/job_1/step_0\n")
    assert streaming.cgroup_memory_left(v2, tmp_path / "cgroup") == 768 * 2**20

    v1_names = ("memory.limit_in_bytes", "memory.usage_in_bytes")
    unlimited = "9223372036854771712"  # v1's "no limit"
    write_group(v1 / "memory", unlimited, "999", v1_names)
    write_group(v1 / "memory" / "slurm" / "job_1", "1073741824", "268435456", v1_names)
    write_group(v1 / "memory" / "slurm" / "job_1" / "step_0", unlimited, "1000", v1_names)
    (tmp_path / "cgroup").write_text("5:cpu,cpuacct:/slurm/job_1\n4:memory:/slurm/job_1/step_0\n0::/\n")
    assert streaming.cgroup_memory_left(v1, tmp_path / "cgroup") == 768 * 2**20
    write_group(v1 / "memory" / "slurm" / "job_1" / "step_0", "536870912", "0", v1_names)  # the tightest counts
    assert streaming.cgroup_memory_left(v1, tmp_path / "cgroup") == 512 * 2**20


@pytest.mark.parametrize("processes", [4, 2])
def test_auto_storage_shares_the_free_memory_among_the_processes_on_this_machine(monkeypatch, processes):
    """Under torchrun --nproc 4 every rank loads the cohort itself: a cohort at a fifth of the free memory
    was kept in memory four times over and a rank was OOM-killed."""
    mri = options(storage="auto")
    needed = 8 * mri.size**3 * 4  # 8 float32 volumes
    monkeypatch.setattr(mri_cache, "available_memory", lambda: needed * 5)
    assert not mri_cache.in_file(mri, 8, None)  # one process: a fifth of the memory fits
    choices = set()
    for rank in range(processes):  # every rank of one machine must choose alike: ranks agree on storage
        monkeypatch.setenv("RANK", str(rank)), monkeypatch.setenv("LOCAL_RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(processes)), monkeypatch.setenv("LOCAL_WORLD_SIZE", str(processes))
        choices.add(mri_cache.in_file(mri, 8, None))
    assert choices == {True}
