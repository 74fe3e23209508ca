"""What a Trainer checkpoint adds to the model's own payload: the RNG states, so resume is exact."""

from __future__ import annotations

from typing import Any

import torch


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    state = {k: v.cpu() if isinstance(v, torch.Tensor) else [t.cpu() for t in v] for k, v in state.items()}
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # one state per GPU of the saving machine; a resume may see fewer (torchrun on 8, resumed on 1)
        for device, generator in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(generator, device)
