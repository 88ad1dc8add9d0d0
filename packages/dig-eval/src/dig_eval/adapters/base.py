"""The model-adapter interface: prompts with images in, completions out.

Every adapter (``hf``, ``vllm``, ``predictions``, third-party ones) is a :class:`ModelAdapter`
registered through ``register_model_adapters`` and selected with ``model: {name, params}``.
Evaluators never talk to a model directly: they build :class:`Request` objects and read back
strings, so the same scoring code runs on a live model and on a predictions file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dig_core.plugins.base import Plugin


@dataclass
class Request:
    """One prompt for a model.

    ``images``: file paths or PIL images, in the order the prompt refers to them (DiG: I_a then
    I_b); they are placed before the text in one user turn of the model's chat template.
    """

    benchmark: str
    id: str
    prompt: str
    images: list[Any] = field(default_factory=list)
    max_new_tokens: int | None = None  # None: the adapter's default


class ModelAdapter(Plugin):
    """Base of model adapters. Subclasses set ``PLUGIN_NAME`` and a ``Config`` and implement
    :meth:`generate`; those that see the model also answer :meth:`coords` and :meth:`scale`."""

    def generate(self, requests: Sequence[Request]) -> list[str | None]:
        """One completion (decoded text, special tokens removed except ``<think>`` tags) per
        request, in order. ``None`` means the adapter has no answer for that request (the
        ``predictions`` adapter without a line for it): the runner reports the sample as missing
        and scores it as wrong (or leaves it out: the evaluator's ``missing: exclude``)."""
        raise NotImplementedError

    def coords(self) -> str:
        """The box-coordinate convention this model answers in (``dig_core.task.COORDS``):
        from the model family unless the config sets it explicitly."""
        raise NotImplementedError

    def scale(self, width: int, height: int) -> tuple[float, float] | None:
        """Model-input size / original size for an image of ``width`` x ``height`` when the model
        answers in pixels of its resized input (Qwen2.5-VL); None otherwise."""
        return None

    def sample_scale(self, request: Request, width: int, height: int) -> tuple[float, float] | None:
        """:meth:`scale` for one request's image of ``width`` x ``height``. Evaluators call this (not
        :meth:`scale`) when scoring, so an adapter that knows a per-sample scale (``predictions``:
        a line's ``"scale"``) can give it."""
        return self.scale(width, height)

    def batch_size(self) -> int:
        """How many requests the runner hands to :meth:`generate` at once (and writes after)."""
        return 8

    def info(self) -> dict[str, Any]:
        """What to record in a run's metrics (model path, family, coords, sampling settings)."""
        return {"adapter": self.PLUGIN_NAME}

    def close(self) -> None:
        """Release the model (GPU memory, engine processes)."""
