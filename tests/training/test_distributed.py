"""Data-parallel training on the CPU (gloo): two spawned ranks against one process.

Each test spawns two processes that join a gloo process group the way torchrun
would (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the environment), so the
Trainer's own setup and teardown run.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests.conftest import REPO, blob_images, tiny_splits
from tests.models.tiny_configs import tiny_model
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import TrainingError
from vaegan.models import list_models
from vaegan.models.distributions import DiagonalGaussian
from vaegan.training import TrainConfig, Trainer
from vaegan.training.distributed import Ranks, sync_batchnorm

WORLD = 2
# The global batch 15 splits unevenly (8 + 7 images), so the test also covers the
# per-rank gradient weights. Tolerance: the two runs sum the same gradients in a
# different order (float32 rounding ~1e-7 relative), which Adam's normalised
# steps carry into the weights at about lr * 1e-3 after a few steps.
BATCH, ATOL, RTOL = 15, 1e-5, 1e-4


def config(**extra) -> TrainConfig:
    options = {"epochs": 1, "batch_size": BATCH, "grid_size": 4, "progress": False, "tensorboard": False}
    return TrainConfig(**{**options, **extra})


def equivalence_vae():
    # norm none: batch norm normalises over each rank's shard, not the global batch, which
    # changes the function itself (documented in docs/distributed.md); everything else is exact
    return tiny_model("vae", network={"kind": "conv", "channels": [8, 16], "hidden": [32], "norm": "none"})


def posterior_mean(self: DiagonalGaussian, n=None, generator=None) -> torch.Tensor:
    """z = the posterior mean: each rank draws its own reparameterisation noise, which no single
    process can reproduce, so the equivalence test takes the noise out (the KL term still trains)."""
    return self.mean


def validation_splits():
    data = tiny_splits()
    data.val = blob_images(20, (1, 16, 16), 3, 1)  # in batches of 8: 8, 8 and 4 images
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_torchrun(rank: int, port: int) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)


def spawn(worker, *args) -> None:
    mp.spawn(worker, args=(free_port(), *args), nprocs=WORLD, join=True)


# -- workers (module level, so spawn can import them) ----------------------
def _train_vae(rank: int, port: int, out: str) -> None:
    as_torchrun(rank, port)
    DiagonalGaussian.sample = posterior_mean  # a spawned process of its own: nothing to restore
    trainer = Trainer(equivalence_vae(), tiny_splits(), config(epochs=2), out_dir=out)
    trainer.fit()
    torch.save(trainer.model.state_dict(), Path(out).parent / f"rank{rank}.pt")


def _train_every_model(rank: int, port: int, root: str) -> None:
    as_torchrun(rank, port)
    torch.distributed.init_process_group("gloo")  # one group for all models (the Trainer leaves it open)
    try:
        for name in list_models():
            trainer = Trainer(tiny_model(name), tiny_splits(), config(), out_dir=Path(root) / name)
            assert (trainer.callbacks == []) == (rank != 0), "only rank 0 writes outputs"
            trainer.fit()
        tc = Trainer(tiny_model("beta_tcvae"), validation_splits(), config(batch_size=8), out_dir=Path(root) / "tc")
        torch.save(tc.evaluate(tc.data.val), Path(root) / f"val{rank}.pt")
        # rank 0 refuses to overwrite; rank 1 must hear of it rather than wait forever
        again = Trainer(tiny_model("gan"), tiny_splits(), config(), out_dir=Path(root) / "gan")
        try:
            again.fit()
        except TrainingError as error:
            (Path(root) / f"refused{rank}.txt").write_text(str(error))
        # gradients present on every rank, on one rank only, on none
        every, some, none = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
        every.grad = torch.full((2,), float(rank + 1))
        some.grad = torch.ones(2) if rank == 0 else None
        # a channels-last conv weight: its averaged gradient must keep that layout, since fused Adam walks
        # the raw memory of weight and gradient together (a standard-layout gradient moved other weights)
        conv = torch.nn.Parameter(torch.zeros(2, 3, 2, 2).contiguous(memory_format=torch.channels_last))
        conv.grad = torch.arange(24.0).view(2, 3, 2, 2).contiguous(memory_format=torch.channels_last) * (rank + 1)
        Ranks(rank, WORLD, grouped=True).average_gradients([every, some, none, conv])
        layout = conv.grad.stride() == conv.stride()
        torch.save([every.grad, some.grad, none.grad, conv.grad.contiguous(), layout], Path(root) / f"grads{rank}.pt")
        torch.distributed.barrier()  # no rank tears down while the last all_reduce is in flight to another
    finally:
        torch.distributed.destroy_process_group()


# -- tests ------------------------------------------------------------------
def test_two_ranks_match_one_process_at_the_same_global_batch(tmp_path, monkeypatch):
    spawn(_train_vae, str(tmp_path / "ddp" / "run"))
    monkeypatch.setattr(DiagonalGaussian, "sample", posterior_mean)
    single = Trainer(equivalence_vae(), tiny_splits(), config(epochs=2), out_dir=tmp_path / "single")
    history = single.fit()

    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt") for r in range(WORLD)]
    for key, value in single.model.state_dict().items():
        assert torch.equal(ranks[0][key], ranks[1][key]), f"ranks disagree on {key}"
        torch.testing.assert_close(ranks[0][key], value, atol=ATOL, rtol=RTOL, msg=key)
    saved = read_checkpoint(tmp_path / "ddp" / "run" / "checkpoints" / "last.pt")
    for key, value in saved["model"].items():
        assert torch.equal(value, ranks[0][key])
    for ddp_row, row in zip(saved["history"], history):  # metrics reduced over ranks = one process's
        for key in row:
            if key != "seconds":
                assert ddp_row[key] == pytest.approx(row[key], rel=1e-4, abs=1e-5), key

    # resume after a change of world size: the 2-rank run continues in one process
    other = equivalence_vae()
    with torch.no_grad():  # other weights than a fresh start's: only what last.pt holds can make it match
        for parameter in other.parameters():
            parameter.add_(0.5)
    resumed = Trainer(other, tiny_splits(), config(epochs=3), out_dir=tmp_path / "ddp" / "run")
    rows = resumed.fit(resume=True)
    assert [row["epoch"] for row in rows] == [1, 2, 3] and rows[:2] == saved["history"]
    # and from all the state it saved (weights, Adam's moments): it ends where 3 uninterrupted epochs end
    straight = Trainer(equivalence_vae(), tiny_splits(), config(epochs=3), out_dir=tmp_path / "straight")
    straight.fit()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, atol=ATOL, rtol=RTOL, msg=key)


def test_every_model_trains_on_two_ranks_and_writes_one_set_of_outputs(tmp_path):
    spawn(_train_every_model, str(tmp_path))
    for name in list_models():
        run = tmp_path / name
        assert (run / "metrics.csv").read_text().count("\n") == 2, name  # header + one epoch
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"], name
        assert list(run.glob("epoch001_*.png")), name
        assert not list(run.rglob("*.tmp")), name
    for rank in range(WORLD):
        assert "--resume" in (tmp_path / f"refused{rank}.txt").read_text()
        every, some, none, conv, layout = torch.load(tmp_path / f"grads{rank}.pt")
        assert layout and torch.equal(conv, torch.arange(24.0).view(2, 3, 2, 2) * 1.5)
        assert every.tolist() == [1.5, 1.5]  # the mean of 1 and 2
        assert some.tolist() == [0.5, 0.5]  # the sum over the world size: zeros where a rank had none
        assert none is None  # no gradient anywhere stays None (Adam must not move it)
    # validation: a beta-TCVAE's total correlation is estimated over each batch; the ranks validated batches of
    # batch_size / world size, so val/ moved with the number of processes, and a resume at another world size
    # chose best.pt by figures that did not compare. The same batches and noise as one process give its figures.
    single = Trainer(tiny_model("beta_tcvae"), validation_splits(), config(batch_size=8), out_dir=tmp_path / "one")
    expected = single.evaluate(single.data.val)
    for rank in range(WORLD):
        scores = torch.load(tmp_path / f"val{rank}.pt")
        assert scores.keys() == expected.keys() and "tc" in scores
        for key, value in expected.items():
            assert scores[key] == pytest.approx(value, rel=1e-5, abs=1e-5), key


def test_sync_batchnorm_is_refused_on_the_cpu_with_the_fix(tmp_path):
    with pytest.raises(TrainingError, match="needs CUDA.*sync_batchnorm=false"):
        sync_batchnorm(tiny_model("gan"), torch.device("cpu"))
    with pytest.raises(TrainingError, match="needs CUDA"):  # in one process too: it trained, silently unsynced
        Trainer(tiny_model("gan"), tiny_splits(), config(epochs=1, sync_batchnorm=True), out_dir=tmp_path)


def test_torchrun_trains_from_the_cli(tmp_path, mnist_dir):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "vaegan", "train", "--config", "configs/mnist_gan.yaml", "--nproc", "2"]
    command += ["--epochs", "1", "--out", str(out), "--data-dir", str(mnist_dir)]
    for override in ("data.limit=300", "data.val_size=100", "train.grid_size=4", "train.tensorboard=false"):
        command += ["--set", override]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("1 epochs") == 1  # the summary comes from rank 0 only
    assert (out / "checkpoints" / "last.pt").is_file()


def test_a_user_error_under_nproc_is_one_line_and_status_2(tmp_path):
    """Each rank printed its one line, then torchrun added a traceback and exited with status 1."""
    command = [sys.executable, "-m", "vaegan", "train", "--config", "configs/mnist_gan.yaml", "--nproc", "2"]
    command += ["--epochs", "1", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "nowhere")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("VAEGAN_DATA_DIR", None)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("vaegan train: error:")]
    assert errors and "nowhere" in errors[0]


def test_sigterm_under_nproc_stops_every_rank_as_ctrl_c_does_without_a_traceback(tmp_path, mnist_dir):
    """A batch scheduler's time limit: the ranks stopped cleanly, then torchrun's SignalException was a traceback."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "vaegan", "train", "--config", "configs/mnist_gan.yaml", "--nproc", "2"]
    command += ["--epochs", "50", "--out", str(out), "--data-dir", str(mnist_dir), "--set", "data.limit=2000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not (out / "checkpoints" / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)  # the ranks are training: an epoch is saved
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "SignalException" not in err, err[-2000:]
    assert "vaegan train: interrupted" in err and (out / "checkpoints" / "last.pt").is_file()


def test_a_cuda_device_beyond_the_machines_is_named(monkeypatch):
    from vaegan.foundation.errors import TrainingError
    from vaegan.training.distributed import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TrainingError, match=r"cuda:7.*1 CUDA device"):
        resolve_device("cuda:7")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.device=cuda"], "no CUDA device"),
        (["train.sync_batchnorm=true", "train.device=cpu"], "needs CUDA"),
    ],
)
def test_a_placement_the_config_alone_rules_out_is_refused_before_the_data_is_read(
    tmp_path, monkeypatch, overrides, message
):
    """An MRI config generated and registered its cohort first, then found it had no GPU."""
    from vaegan import experiment
    from vaegan.config import load_config
    from vaegan.foundation.errors import VaeganError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(experiment, "load_data", lambda config: pytest.fail("the data was read first"))
    config = load_config("mnist_vae", [*overrides, f"out={tmp_path / 'run'}"])
    with pytest.raises(VaeganError, match=message):
        experiment.train_from_config(config)


def test_a_study_whose_every_trial_would_fail_on_its_device_is_not_opened(tmp_path, monkeypatch):
    """Each trial failed on train.device=cuda, counted against --trials, and spent the study."""
    from vaegan.config import build_config
    from vaegan.foundation.errors import VaeganError
    from vaegan.tuning.study import Tuner

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    space = {"model.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}
    base = {"name": "t", "model": {"name": "vae"}, "train": {"device": "cuda"}}
    with pytest.raises(VaeganError, match="no CUDA device"):
        Tuner(build_config({**base, "tune": {"metric": "val/loss", "space": space}}), out=tmp_path / "s")
    assert not (tmp_path / "s" / "study.db").exists()


def test_more_processes_on_a_machine_than_gpus_is_refused_before_nccl(monkeypatch):
    """NCCL refuses two ranks on one GPU ('Duplicate GPU detected') with a traceback in every rank."""
    from vaegan.training import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: pytest.fail("NCCL was started"))
    for name, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TrainingError, match=r"2 processes.*1 CUDA device.*--device cpu"):
        distributed.setup("auto", timeout_s=5)


def test_a_cuda_device_named_under_torchrun_gives_way_to_the_local_ranks_gpu_with_a_warning(monkeypatch, caplog):
    """--device cuda:1 trained rank 0 on cuda:0 with a line at INFO level only: the device asked was not used."""
    from vaegan.training import distributed

    current = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: current.update(index=index))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current["index"])
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: None)
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 0)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO, logger=distributed.__name__):
        _, device = distributed.setup("cuda:1", timeout_s=5)
    assert device == torch.device("cuda", 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "cuda:1" in warnings[0] and "cuda:0" in warnings[0], warnings
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=distributed.__name__):
        for asked in ("cuda", "auto", "cuda:0"):  # nothing to warn of
            assert distributed.setup(asked, timeout_s=5)[1] == torch.device("cuda", 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_progress_bar_says_its_figures_are_rank_0s_share_under_torchrun():
    # the bar's running losses are rank 0's images, the epoch's metrics.csv row every rank's: they differ
    from vaegan.training.trainer import bar_label

    assert bar_label(3, 10, 1) == "epoch 3/10"
    assert "rank 0 of 4" in bar_label(3, 10, 4)
