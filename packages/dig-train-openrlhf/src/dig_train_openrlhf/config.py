"""``trainer.params`` of the ``openrlhf`` trainer (validated by OmegaConf when config names it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class OpenRLHFConfig:
    #: local path (or hub id on a machine that has it cached) of the policy model
    model: str = "Qwen/Qwen3-VL-8B-Thinking"
    #: box convention the model answers in: pixels | rel1000 | rel1; None = from the model family
    #: (Qwen3-VL / Qwen2-VL: rel1000; Qwen2.5-VL: pixels of its resized input)
    coords: Optional[str] = None
    #: image processor limits (pixels per image) passed to the model's processor; None = its default
    min_pixels: Optional[int] = None
    max_pixels: Optional[int] = None
    #: OpenRLHF --data.max_len (prompt with images + response) and --rollout.max_new_tokens
    max_len: int = 8192
    max_new_tokens: int = 4096
    #: the DiG dataset folder to train on (its stages must match curriculum.stages)
    data: Optional[str] = None
    #: where exports, per-stage logs, rewards.jsonl and checkpoints go
    run_dir: str = "runs/dig-openrlhf"
