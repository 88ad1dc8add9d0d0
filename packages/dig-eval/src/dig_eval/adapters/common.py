"""Pieces shared by the live-model adapters (``hf``, ``vllm``): sampling settings, image loading,
decoding that keeps ``<think>`` tags, the model's processor and coordinate convention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from dig_core.errors import DigError
from dig_core.models.vlm import processor_settings_errors

from dig_eval.adapters.base import ModelAdapter

#: thinking tags kept in decoded completions even where the tokenizer marks them special
THINK_TAGS = ("<think>", "</think>")


class AdapterError(DigError):
    """A model adapter cannot run: missing model folder, missing package, bad request."""


@dataclass
class LiveModelConfig:
    """Settings shared by adapters that run a model (``hf``, ``vllm``)."""

    #: local model folder (weights, config, processor/tokenizer files)
    path: str = ""
    #: box convention of the answers: pixels | rel1000 | rel1; null = from the model family
    coords: Optional[str] = None
    #: the processor's pixel budget per image (null = the processor's own setting)
    min_pixels: Optional[int] = None
    max_pixels: Optional[int] = None
    #: requests generated together (and written together by the runner)
    batch_size: int = 8
    #: completion length when a request does not set its own
    max_new_tokens: int = 512
    #: false = greedy decoding (temperature and top_p unused)
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    #: top-k filter when sampling (0 = off)
    top_k: int = 0
    #: 1.0 = off. Decoding is fully set here: the sampling defaults of the model's
    #: generation_config.json are not used, so hf and vllm decode alike
    repetition_penalty: float = 1.0
    #: sampling seed: each batch is seeded from it and the batch's request ids (resume-stable)
    seed: int = 0


def live_config_errors(cfg: LiveModelConfig) -> list[str]:
    errors = []
    if not cfg.path:
        errors.append("path: set the local model folder (model.params.path=...)")
    errors += processor_settings_errors(cfg.coords, cfg.min_pixels, cfg.max_pixels)
    if cfg.batch_size < 1:
        errors.append(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.max_new_tokens < 1:
        errors.append(f"max_new_tokens must be >= 1, got {cfg.max_new_tokens}")
    if not (cfg.temperature > 0):
        errors.append(f"temperature must be > 0 (use do_sample=false for greedy), got {cfg.temperature}")
    if not (0 < cfg.top_p <= 1):
        errors.append(f"top_p must be in (0, 1], got {cfg.top_p}")
    if cfg.top_k < 0:
        errors.append(f"top_k must be >= 0 (0 = off), got {cfg.top_k}")
    if not (cfg.repetition_penalty > 0):
        errors.append(f"repetition_penalty must be > 0 (1.0 = off), got {cfg.repetition_penalty}")
    return errors


def model_dir(path: str) -> Path:
    """The model folder, or an error naming it."""
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        what = "not found" if not p.exists() else "has no config.json (not a transformers model folder)"
        raise AdapterError(f"model.params.path: {p} {what}")
    return p


def vl_processor(cfg: LiveModelConfig):
    """``dig_core.models.vlm.VLProcessor`` of the model: family, coords, resize, chat template."""
    try:
        from dig_core.models.vlm import VLProcessor
    except ImportError as e:
        raise AdapterError(f"the model's processor needs transformers, torch and torchvision ({e}); "
                           "install them with pip install 'dig-eval[hf]' (torch for your platform first)") from None
    return VLProcessor(str(model_dir(cfg.path)), min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels,
                       coords=cfg.coords)


def load_images(images: Sequence[Any], where: str) -> list:
    """PIL RGB images from paths or PIL images; a missing file names the request."""
    from PIL import Image

    out = []
    for im in images:
        if isinstance(im, (str, Path)):
            try:
                with Image.open(im) as f:
                    out.append(f.convert("RGB"))
            except FileNotFoundError:
                raise AdapterError(f"{where}: image not found: {im}") from None
            except OSError as e:
                raise AdapterError(f"{where}: unreadable image {im} ({e})") from None
        elif hasattr(im, "convert"):
            out.append(im.convert("RGB"))
        else:
            raise AdapterError(f"{where}: an image must be a file path or a PIL image, got {type(im).__name__}")
    return out


def special_ids_to_drop(tokenizer) -> set[int]:
    """Ids of special tokens removed from completions: every special token except the thinking
    tags (Qwen3 marks ``<think>`` special in some releases; the parser needs it)."""
    drop = set(getattr(tokenizer, "all_special_ids", []) or [])
    for tid, tok in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items():
        if getattr(tok, "special", False):
            drop.add(int(tid))
    for tag in THINK_TAGS:
        tid = tokenizer.convert_tokens_to_ids(tag)
        unk = getattr(tokenizer, "unk_token_id", None)
        if isinstance(tid, int) and tid != unk:
            drop.discard(tid)
    return drop


def decode(tokenizer, ids: Sequence[int], drop: set[int]) -> str:
    """Completion text: special tokens removed (``drop``), ``<think>`` tags kept."""
    return tokenizer.decode([int(i) for i in ids if int(i) not in drop], skip_special_tokens=False,
                            clean_up_tokenization_spaces=False)


def batch_seed(seed: int, ids: Sequence[str]) -> int:
    """The seed of one batch: depends on the config seed and the batch's request ids only."""
    from dig_core.seeds import derive_seed

    return derive_seed(seed, *ids) % (2**31)


def request_seed(seed: int, request_id: str) -> int:
    """The seed of one request (engines that seed each request, like vLLM)."""
    from dig_core.seeds import derive_seed

    return derive_seed(seed, request_id) % (2**31)


class LiveModelAdapter(ModelAdapter):
    """What ``hf`` and ``vllm`` share once ``self.vlp`` (the model's :class:`VLProcessor`) is set:
    the coordinate convention, the per-image scale, the batch size and the recorded settings."""

    vlp: Any

    def coords(self) -> str:
        return self.vlp.coords

    def completion_text(self, ids: Sequence[int]) -> str:
        """The decoded completion (:func:`decode`); when the chat template opened ``<think>`` in the
        generation prompt (Qwen3-VL-Thinking), with that ``<think>`` in front, so the text reads as
        the model's whole turn: a thought cut off by max_new_tokens holds no answer for any
        evaluator (:func:`dig_core.task.answer_region`), instead of its numbers being read as one."""
        opens = getattr(self, "_opens_think", None)
        if opens is None:
            opens = self._opens_think = bool(self.vlp.prompt_opens_think)
        text = decode(self.tokenizer, ids, self._drop)
        return "<think>" + text if opens else text

    def scale(self, width: int, height: int) -> tuple[float, float] | None:
        return self.vlp.scale(width, height) if self.vlp.coords == "pixels" else None

    def batch_size(self) -> int:
        return self.config.batch_size

    def engine_info(self) -> dict[str, Any]:
        """The adapter's own settings for :meth:`info` (device, parallelism, ...)."""
        return {}

    def info(self) -> dict[str, Any]:
        c = self.config
        return {"adapter": self.PLUGIN_NAME, "path": str(model_dir(c.path).resolve()), "family": self.vlp.family,
                "coords": self.coords(), **self.engine_info(),
                "min_pixels": c.min_pixels, "max_pixels": c.max_pixels, "max_new_tokens": c.max_new_tokens,
                "do_sample": c.do_sample, "temperature": c.temperature, "top_p": c.top_p, "top_k": c.top_k,
                "repetition_penalty": c.repetition_penalty, "seed": c.seed}
