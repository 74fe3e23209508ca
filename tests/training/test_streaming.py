"""Streamed training data: a memory-mapped .npy read in batches gives the same run as the in-memory path."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tests.conftest import tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.data import DataSplits, ImageDataset
from vaegan.data.streaming import ImageWriter, RowReader, file_rows, open_images, prefetch
from vaegan.training import TrainConfig, Trainer
from vaegan.training import placement as placement_module


def write(path, images: torch.Tensor, dtype=np.float32):
    with ImageWriter(path, len(images), tuple(images.shape[1:]), dtype) as writer:
        for i in range(0, len(images), 10):
            writer[i : i + 10] = images[i : i + 10]
    return open_images(path)


def test_a_killed_writers_temporary_is_cleared_by_the_next_writer_on_its_host(tmp_path):
    """SIGKILL (the OOM killer, a scheduler) runs no cleanup: its .x.npy.HOST.PID.tmp, gigabytes for a cohort,
    stayed forever. The next writer of x.npy on that host deletes it if that process is gone; a live writer's
    and another host's (a cluster's shared file system) are left."""
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, host = int(gone.stdout), socket.gethostname()
    stale = tmp_path / f".x.npy.{host}.{dead_pid}.tmp"
    alive = tmp_path / f".x.npy.{host}.{os.getppid()}.tmp"
    elsewhere = tmp_path / f".x.npy.another-node.{dead_pid}.tmp"
    other_file = tmp_path / f".y.npy.{host}.{dead_pid}.tmp"
    for path in (stale, alive, elsewhere, other_file):
        path.write_bytes(b"half a cohort")
    write(tmp_path / "x.npy", torch.rand(5, 1, 2, 2))
    assert not stale.exists()
    assert alive.exists() and elsewhere.exists() and other_file.exists()


def test_writer_is_atomic_and_the_file_reads_back_row_by_row(tmp_path):
    images = torch.rand(25, 1, 4, 4)
    with pytest.raises(RuntimeError), ImageWriter(tmp_path / "x.npy", 25, (1, 4, 4)) as writer:
        writer[0] = images[0]
        raise RuntimeError("preprocessing failed half-way")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary is left

    mapped = write(tmp_path / "x.npy", images, np.float16)
    assert np.load(tmp_path / "x.npy", mmap_mode="r").shape == (25, 1, 4, 4)
    assert file_rows(mapped) is not None and file_rows(mapped[1:]) is None  # a copy is not file-backed
    index = torch.tensor([7, 0, 24, 7])
    expected = images.half().float()[index]
    assert torch.equal(RowReader.of(mapped).read(index), expected)
    batches = list(prefetch(RowReader.of(mapped), [index, index[:2]], torch.device("cpu")))
    assert torch.equal(batches[0], expected) and torch.equal(batches[1], expected[:2])


def test_prefetch_hands_a_read_error_to_the_consumer(tmp_path):
    mapped = write(tmp_path / "x.npy", torch.rand(4, 1, 2, 2))
    with pytest.raises(IndexError):
        list(prefetch(RowReader(mapped, None), [torch.tensor([9])], torch.device("cpu")))


@pytest.mark.parametrize("source", ["ram", "file"])
def test_streamed_training_is_bit_identical_to_the_in_memory_path(tmp_path, source):
    data = tiny_splits()
    images = data.train.images if source == "ram" else write(tmp_path / "train.npy", data.train.images)
    train = ImageDataset(images, data.train.labels, data.train.class_names, "blobs")
    streamed_data = DataSplits(train, data.val, data.test)
    options = {"epochs": 2, "batch_size": 16, "grid_size": 4, "progress": False, "tensorboard": False}
    kept = Trainer(tiny_model("gan"), data, TrainConfig(**options), out_dir=tmp_path / "a", callbacks=[])
    streamed = Trainer(
        tiny_model("gan"),
        streamed_data,
        TrainConfig(**options, data_on_device="never"),
        out_dir=tmp_path / "b",
        callbacks=[],
    )
    assert (kept.placement, streamed.placement) == ("device", "stream")
    assert kept.fit() == [{**row, "seconds": kept.history[i]["seconds"]} for i, row in enumerate(streamed.fit())]
    for (key, a), b in zip(kept.model.state_dict().items(), streamed.model.state_dict().values()):
        assert torch.equal(a, b), key


def test_auto_streams_a_file_that_does_not_fit_and_loads_one_that_does(tmp_path, monkeypatch):
    mapped = write(tmp_path / "x.npy", torch.rand(8, 1, 4, 4))
    cpu = torch.device("cpu")
    assert placement_module.placement("auto", torch.rand(8, 1, 4, 4), cpu) == "device"  # in RAM already
    assert placement_module.placement("auto", mapped, cpu) == "device"  # 512 bytes fit
    monkeypatch.setattr(placement_module, "available_memory", lambda: 1000)
    assert placement_module.placement("auto", mapped, cpu) == "stream"
    assert placement_module.placement("always", mapped, cpu) == "device"


def test_auto_counts_its_share_of_ram_among_the_processes_on_this_machine(tmp_path, monkeypatch):
    # under torchrun every rank loaded a file that fit half the free RAM: four ranks held it four times over
    mapped = write(tmp_path / "x.npy", torch.rand(8, 1, 4, 4))  # 512 bytes
    cpu = torch.device("cpu")
    monkeypatch.setattr(placement_module, "available_memory", lambda: 2048)
    assert placement_module.placement("auto", mapped, cpu) == "device"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert placement_module.placement("auto", mapped, cpu) == "stream"


def test_a_half_precision_file_trains_and_validates(tmp_path):
    # training read its rows as float32, validation passed the file's float16 to the float32 model
    data = tiny_splits()
    half = {name: write(tmp_path / f"{name}.npy", getattr(data, name).images, np.float16) for name in ("train", "val")}
    splits = DataSplits(
        *(
            ImageDataset(half[name], getattr(data, name).labels, data.train.class_names, "blobs")
            for name in ("train", "val")
        ),
        data.test,
    )
    options = {"epochs": 1, "batch_size": 16, "grid_size": 4, "progress": False, "tensorboard": False}
    trainer = Trainer(tiny_model("vae"), splits, TrainConfig(**options, data_on_device="never"), out_dir=tmp_path / "r")
    (row,) = trainer.fit()
    assert np.isfinite(row["val/loss"])


def test_a_fortran_order_file_is_read_in_memory_not_row_by_row(tmp_path):
    # the positioned reads assume C order: a Fortran-order .npy gave rows [3, 9, 15, 21] for [6, 7, 8, 9]
    array = np.asfortranarray(np.arange(24 * 4, dtype=np.float32).reshape(24, 1, 2, 2))
    np.save(tmp_path / "f.npy", array)
    images = open_images(tmp_path / "f.npy")
    rows = torch.tensor([6, 7, 8, 9])
    (read,) = list(prefetch(RowReader(images, file_rows(images)), [rows], torch.device("cpu")))
    assert torch.equal(read, torch.from_numpy(np.ascontiguousarray(array[6:10])))


def test_a_subset_of_a_rewritten_file_is_taken_anew(tmp_path):
    # the subset's file was named by the source's name and the rows only: after the source was rewritten
    # in place, the old subset came back
    from vaegan.data.streaming import take_rows

    source = tmp_path / "train.npy"
    write(source, torch.ones(20, 1, 2, 2))
    assert float(take_rows(open_images(source), torch.arange(5)).sum()) == 20.0
    os.utime(source, (1, 1))  # the rewrite below must not depend on the clock's resolution
    write(source, torch.full((20, 1, 2, 2), 2.0))
    assert float(take_rows(open_images(source), torch.arange(5)).sum()) == 40.0


def test_a_local_world_size_torchrun_would_not_write_counts_as_one_process(tmp_path, monkeypatch):
    # int("") ended vaegan train with a bare ValueError naming no variable
    mapped = write(tmp_path / "x.npy", torch.rand(8, 1, 4, 4))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "")
    assert placement_module.placement("auto", mapped, torch.device("cpu")) == "device"
