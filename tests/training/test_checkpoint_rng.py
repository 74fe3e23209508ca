"""The RNG states a checkpoint carries, restored on another machine."""

from __future__ import annotations

import torch

from vaegan.training import checkpoint


def test_a_resume_on_fewer_gpus_restores_the_states_of_the_gpus_there(monkeypatch):
    """A run saved on 8 GPUs and resumed on 4 (or 1, under CUDA_VISIBLE_DEVICES) raised IndexError: every
    saved state was set, one per device index, and devices 4-7 do not exist there."""
    restored: dict[int, torch.Tensor] = {}

    def set_one(state, device=0):
        if device >= 4:
            raise IndexError(f"no CUDA device {device}")
        restored[device] = state

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_rng_state", set_one)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: [set_one(s, i) for i, s in enumerate(states)])
    saved = [torch.full((8,), i, dtype=torch.uint8) for i in range(8)]
    checkpoint.set_rng_state({"torch": torch.get_rng_state(), "cuda": saved})
    assert sorted(restored) == [0, 1, 2, 3]
    assert all(torch.equal(restored[i], saved[i]) for i in restored)
