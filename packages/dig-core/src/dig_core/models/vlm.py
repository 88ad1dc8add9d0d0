"""What DiG knows about a vision-language model: its family, the box coordinates it answers in, and
its real processor (resize, image tokens, chat prompt, token budget). See docs/models.md.

This is the one place that knows model families. Trainers (export) and evaluators (adapters) use
:class:`VLProcessor` instead of re-implementing a resize: the resized size, the per-sample scale and
the image token counts all come from running the model's own image processor.

Coordinates follow the family unless set explicitly (:func:`resolve_coords`): Qwen2-VL and Qwen3-VL
answer on a 0-1000 relative scale, Qwen2.5-VL in absolute pixels of its *resized* input. An unknown
family needs an explicit setting; conventions are never guessed from the answers.

transformers / torchvision are imported only when a :class:`VLProcessor` is built (``dig-core[hf]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dig_core.errors import DigError
from dig_core.task import COORDS

#: the coordinate convention (dig_core.task.COORDS) each known family answers in
FAMILY_COORDS = {
    "qwen2_vl": "rel1000",
    "qwen3_vl": "rel1000",
    "qwen3_vl_moe": "rel1000",
    "qwen2_5_vl": "pixels",
}

ImageLike = Any  # a path (str / Path) or a PIL image


class ModelError(DigError):
    """A model folder that is missing or unusable, an unknown family without explicit coords, or a
    prompt that does not fit the token budget."""


def model_family(model_path: str | Path) -> str:
    """The ``model_type`` of a local model folder's ``config.json`` (e.g. ``qwen2_5_vl``)."""
    path = Path(model_path)
    if not path.is_dir():
        raise ModelError(f"model folder not found: {path} (give the path of a local model folder, "
                         "e.g. one saved by save_pretrained or downloaded with `hf download`)")
    cfg_path = path / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{cfg_path}: not found (is {path} a transformers model folder?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{cfg_path}: not valid JSON ({e})") from None
    family = cfg.get("model_type") if isinstance(cfg, dict) else None
    if not isinstance(family, str) or not family:
        raise ModelError(f"{cfg_path}: has no 'model_type'; cannot tell the model family")
    return family


def resolve_coords(family: str | None, explicit: str | None) -> str:
    """The coordinate convention to use: ``explicit`` when set (one of ``COORDS``), else the
    family's (``FAMILY_COORDS``). An unknown family without an explicit setting is an error."""
    if explicit is not None:
        if explicit not in COORDS:
            raise ModelError(f"coords: unknown convention {explicit!r}; allowed: {list(COORDS)}")
        return explicit
    if family in FAMILY_COORDS:
        return FAMILY_COORDS[family]
    raise ModelError(
        f"model family {family!r} has no known coordinate convention (known families: "
        f"{', '.join(f'{k} -> {v}' for k, v in FAMILY_COORDS.items())}); set coords explicitly "
        f"to one of {list(COORDS)} (e.g. task.params.coords=rel1000)"
    )


def processor_settings_errors(coords: str | None, min_pixels: int | None, max_pixels: int | None) -> list[str]:
    """Problems with a config's ``coords`` / ``min_pixels`` / ``max_pixels`` (trainers' and model
    adapters' params), one message each, naming the key and what is allowed."""
    errors = []
    if coords is not None and coords not in COORDS:
        errors.append(f"coords: unknown convention {coords!r}; allowed: {list(COORDS)} or null (from the model family)")
    for name, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if v is not None and v < 1:
            errors.append(f"{name} must be >= 1 or null, got {v}")
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        errors.append(f"min_pixels ({min_pixels}) must be <= max_pixels ({max_pixels})")
    return errors


def _require_hf() -> None:
    from dig_core.models.tiny import require_hf

    require_hf("reading a model's processor")


def _open_image(image: ImageLike):
    from PIL import Image

    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as im:
                return im.convert("RGB")
        except FileNotFoundError:
            raise ModelError(f"image not found: {image}") from None
        except OSError as e:
            raise ModelError(f"{image}: unreadable image ({e})") from None
    if hasattr(image, "size") and hasattr(image, "convert"):
        return image.convert("RGB")
    raise ModelError(f"expected an image path or a PIL image, got {type(image).__name__}")


class VLProcessor:
    """The model's real processor (``AutoProcessor``, local files only) and what DiG derives from it.

    ``min_pixels`` / ``max_pixels`` override the image processor's resize bounds (None keeps the
    model's). ``coords`` overrides the family's convention (see :func:`resolve_coords`).
    """

    def __init__(self, model_path: str | Path, min_pixels: int | None = None, max_pixels: int | None = None,
                 coords: str | None = None):
        self.path = Path(model_path)
        self.family = model_family(self.path)
        self.coords = resolve_coords(self.family, coords)
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ModelError(f"{name} must be a positive integer, got {value!r}")
        if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
            raise ModelError(f"min_pixels ({min_pixels}) must not exceed max_pixels ({max_pixels})")
        _require_hf()
        from transformers import AutoProcessor

        kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        try:
            self.processor = AutoProcessor.from_pretrained(str(self.path), local_files_only=True, **kwargs)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{self.path}: cannot load the model's processor ({type(e).__name__}: {e})") from None
        self.image_processor = getattr(self.processor, "image_processor", None)
        if self.image_processor is None or getattr(self.processor, "tokenizer", None) is None:
            raise ModelError(f"{self.path}: {type(self.processor).__name__} is not a vision-language processor "
                             "(no image processor or tokenizer)")
        self.tokenizer = self.processor.tokenizer
        self.patch_size = int(getattr(self.image_processor, "patch_size", 0) or 0)
        self.merge_size = int(getattr(self.image_processor, "merge_size", 1) or 1)
        size = getattr(self.image_processor, "size", None)
        #: the effective resize bounds (None where the image processor has none)
        self.min_pixels = _size_get(size, "shortest_edge", min_pixels)
        self.max_pixels = _size_get(size, "longest_edge", max_pixels)
        self._grids: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._marker: str | None = None

    def __repr__(self) -> str:
        return (f"VLProcessor({str(self.path)!r}, family={self.family!r}, coords={self.coords!r}, "
                f"min_pixels={self.min_pixels}, max_pixels={self.max_pixels})")

    # -- image size -------------------------------------------------------------------------------------
    def grid(self, width: int, height: int) -> tuple[int, int, int]:
        """``image_grid_thw`` (temporal, rows, columns of patches) the image processor gives an
        image of ``width`` × ``height`` (cached per size)."""
        key = (int(width), int(height))
        if key not in self._grids:
            if key[0] < 1 or key[1] < 1:
                raise ModelError(f"image size must be positive, got {key[0]}x{key[1]}")
            from PIL import Image

            try:
                out = self.image_processor(images=[Image.new("RGB", key, (127, 127, 127))], return_tensors="np")
            except ValueError as e:  # e.g. an aspect ratio the processor refuses
                raise ModelError(f"{self.path}: the image processor refuses a {key[0]}x{key[1]} image: {e}") from None
            if "image_grid_thw" not in out or not self.patch_size:
                raise ModelError(f"{self.path}: {type(self.image_processor).__name__} reports no image_grid_thw / "
                                 "patch_size; VLProcessor supports Qwen-VL style processors")
            t, h, w = (int(v) for v in out["image_grid_thw"][0])
            self._grids[key] = (t, h, w)
        return self._grids[key]

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` of the image the model sees for an input of ``width`` × ``height``."""
        _, h, w = self.grid(width, height)
        return w * self.patch_size, h * self.patch_size

    @property
    def answers_in_resized_pixels(self) -> bool:
        """True when the model answers in pixels of its resized input (coords ``pixels`` for a
        family that answers in pixels, i.e. Qwen2.5-VL)."""
        return self.coords == "pixels" and FAMILY_COORDS.get(self.family) == "pixels"

    def scale(self, width: int, height: int) -> tuple[float, float] | None:
        """``(sx, sy)`` = resized / original size when the model answers in resized pixels, else
        None: exactly the ``scale`` :meth:`dig_core.task.DigTask.parse` takes."""
        if not self.answers_in_resized_pixels:
            return None
        rw, rh = self.resized_size(width, height)
        return rw / width, rh / height

    def prompt_size(self, width: int, height: int) -> tuple[int, int]:
        """The image size to state in the prompt (``DigTask.prompt(width, height)``): the resized
        size when the model answers in resized pixels, else the original size."""
        return self.resized_size(width, height) if self.answers_in_resized_pixels else (int(width), int(height))

    def image_tokens(self, width: int, height: int) -> int:
        """Tokens one image of ``width`` × ``height`` takes in the prompt."""
        t, h, w = self.grid(width, height)
        return t * h * w // (self.merge_size ** 2)

    # -- prompts ----------------------------------------------------------------------------------------
    @staticmethod
    def messages(text: str, n_images: int) -> list[dict[str, Any]]:
        """One user turn: ``n_images`` images, then ``text``."""
        content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}]

    def chat_prompt(self, text: str, n_images: int) -> str:
        """The prompt string through the model's chat template: the images (placeholders) first,
        then ``text``, then the generation prompt that opens the assistant's turn."""
        return self.processor.apply_chat_template(self.messages(text, n_images), tokenize=False,
                                                  add_generation_prompt=True)

    def prompt_tokens(self, text: str, images: Sequence[ImageLike]) -> int:
        """Exact length in tokens of :meth:`chat_prompt` with ``images`` (paths or PIL images) after
        the processor expanded the image placeholders."""
        ims = [_open_image(im) for im in images]
        prompt = self.chat_prompt(text, len(ims))
        out = self.processor(text=[prompt], images=ims or None, return_tensors="np")
        return int(len(out["input_ids"][0]))

    def assistant_marker(self) -> str:
        """The string that opens the assistant's turn in the chat template (e.g.
        ``<|im_start|>assistant\\n``): what the generation prompt appends to a conversation."""
        if self._marker is None:
            msgs = self.messages("x", 0)
            without = self.processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
            with_gen = self.processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            if not with_gen.startswith(without) or len(with_gen) == len(without):
                raise ModelError(f"{self.path}: cannot derive the assistant marker from the chat template "
                                 "(the generation prompt does not extend the conversation)")
            self._marker = with_gen[len(without):]
        return self._marker

    @property
    def prompt_opens_think(self) -> bool:
        """The generation prompt ends inside an opened ``<think>`` (Qwen3-VL-*Thinking*'s template):
        completions start mid-thought, so an answer counts only after ``</think>``
        (``task.params.prompt_opens_think``, :func:`dig_core.task.answer_region`)."""
        return opens_think(self.chat_prompt("x", 0))


def opens_think(prompt: str) -> bool:
    """``prompt`` (a generation prompt) leaves a ``<think>`` open at its end."""
    return prompt.rfind("<think>") > prompt.rfind("</think>")


def _size_get(size: Any, key: str, default: int | None) -> int | None:
    if size is None:
        return default
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return int(value) if value is not None else default


@dataclass(frozen=True)
class TokenCount:
    """Tokens of one prompt with its images."""

    image_tokens: int
    text_tokens: int
    total: int
    budget: int  # max_len - max_new_tokens


class TokenBudgetError(ModelError):
    """A prompt with its images does not fit ``max_len - max_new_tokens``."""


def check_token_budget(processor: VLProcessor, text: str, images: Sequence[ImageLike], max_len: int,
                       max_new_tokens: int, where: str = "") -> TokenCount:
    """Count the prompt's tokens with the model's real processor and check that they fit
    ``max_len - max_new_tokens``; raise :class:`TokenBudgetError` naming the numbers and the
    settings that fix it otherwise. ``where`` (e.g. a sample id) prefixes the message."""
    budget = int(max_len) - int(max_new_tokens)
    head = f"{where}: " if where else ""
    if budget <= 0:
        raise TokenBudgetError(f"{head}max_len ({max_len}) must exceed max_new_tokens ({max_new_tokens})")
    ims = [_open_image(im) for im in images]
    total = processor.prompt_tokens(text, ims)
    per_image = [processor.image_tokens(*im.size) for im in ims]
    n_image = sum(per_image)
    count = TokenCount(n_image, total - n_image, total, budget)
    if total > budget:
        sizes = ", ".join(f"{im.size[0]}x{im.size[1]}" for im in ims) or "none"
        fixes = []
        room = budget - count.text_tokens
        factor = processor.patch_size * processor.merge_size
        if ims and room >= len(ims) and factor:
            # an image resized to at most max_pixels takes at most max_pixels / factor² tokens
            per_image = room // len(ims)
            fit = per_image * factor * factor
            also = (f" and min_pixels to at most {fit}" if processor.min_pixels is not None
                    and processor.min_pixels > fit else "")
            fixes.append(f"lower max_pixels to {fit} or less{also} (now {processor.max_pixels}; at most "
                         f"{per_image} tokens per image of {factor}x{factor} pixels each)")
        elif ims:
            fixes.append("lower max_pixels (the text alone leaves no room for the images)")
        fixes += [f"raise max_len to at least {total + max_new_tokens}",
                  f"lower max_new_tokens to at most {max_len - total}" if max_len > total else "lower max_new_tokens"]
        raise TokenBudgetError(
            f"{head}the prompt needs {total} tokens ({n_image} image tokens for {len(ims)} image(s) of {sizes} "
            f"at max_pixels={processor.max_pixels}, {count.text_tokens} text tokens) but the budget is "
            f"max_len - max_new_tokens = {max_len} - {max_new_tokens} = {budget}. Fix: " + "; or ".join(fixes)
        )
    return count
