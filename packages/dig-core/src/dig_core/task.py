"""The DiG task: the prompt for a pair (I_a, I_b) and the parser that turns a model's answer into
boxes in original-image pixels (paper §3.1). Registered as task plugin ``dig``.

Parser rules (see docs/reward.md, "Parser"); :meth:`DigTask.parse` never raises:

1. Answer region: the text after the last ``</think>`` (nothing when a ``<think>`` is never
   closed, or when the chat template already opened the thought in the generation prompt —
   ``prompt_opens_think``, Qwen3-VL-*Thinking* — and the completion never closes it: a truncated
   reasoning holds no answer; the whole text when there is no thinking); inside that, the last ``<answer>…</answer>``
   block (to the end if unclosed); inside that, the last ```` ``` ```` fence (```` ```json ```` or
   bare; to the end if unclosed). Special tokens such as ``<|image_pad|>`` are removed.
2. Boxes: if the region mentions ``bbox`` (``{"bbox_2d": [...]}`` / ``{"bbox": [...]}`` objects),
   each ``bbox``/``bbox_2d`` key's ``[a, b, c, d]`` value; otherwise every bracketed group of
   exactly four numbers (``[[x0, y0, x1, y1], ...]`` JSON or the same as plain text).
   Only the first ``max_boxes`` are kept.
3. Each box is converted to original-image pixels (``coords`` convention, per-sample ``scale``),
   then: a non-finite coordinate drops it; corners are sorted per axis (``[x1, y1, x0, y0]`` and
   ``[x1, y0, x0, y1]`` both become ``[x0, y0, x1, y1]``); a box reaching more than
   ``max_overshoot`` × the image size beyond any edge is dropped; the rest is clipped to
   ``[0, W] × [0, H]`` and dropped if its width or height is then zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from dig_core import hookimpl
from dig_core.plugins.base import Plugin

Box = tuple[float, float, float, float]
#: per-sample scale of the model's input: one factor, or (sx, sy); model pixels = original × scale
Scale = float | Sequence[float] | None

COORDS = ("pixels", "rel1000", "rel1")

COORD_HINTS = {
    "pixels": "Coordinates are integer pixels of the {width}x{height} image, with (0, 0) at the top-left "
              "corner; x grows to the right and y downwards.",
    "rel1000": "Coordinates are relative to the image size on a 0-1000 scale: (0, 0) is the top-left "
               "corner and (1000, 1000) the bottom-right corner.",
    "rel1": "Coordinates are fractions of the image size between 0 and 1: (0, 0) is the top-left "
            "corner and (1, 1) the bottom-right corner.",
}

OUTPUT_FORMAT = "[[x0, y0, x1, y1], ...]"

TEMPLATE_WITH_COUNT = (
    "You are given two images of the same scene that are nearly identical, with exactly "
    "{k_differences} between them: an object may have been added, removed, or changed in "
    "shape, color, size or material. Find every difference and give one bounding box per difference "
    "(both images share the same coordinates). {coords} Answer with the list of boxes in the form "
    "{format}."
)
TEMPLATE_WITHOUT_COUNT = (
    "You are given two images of the same scene that are nearly identical. There are one or more "
    "differences between them: an object may have been added, removed, or changed in "
    "shape, color, size or material. Find every difference and give one bounding box per difference "
    "(both images share the same coordinates). {coords} Answer with the list of boxes in the form "
    "{format}."
)
TEMPLATE_MAY_BE_NONE = (
    "You are given two images of the same scene that may be identical or may differ: an object may "
    "have been added, removed, or changed in shape, color, size or material. Find every difference and "
    "give one bounding box per difference (both images share the same coordinates). {coords} Answer "
    "with the list of boxes in the form {format}, or with an empty list [] if the images are identical."
)

#: the prompt of a grounding sample ({expression}: the description, {coords}: the coordinate hint;
#: :mod:`dig_core.grounding`); the ``refcoco`` evaluator's prompt too, so a model trained on these
#: samples is asked what it learnt
GROUNDING_PROMPT = ('Locate the object described by "{expression}" in the image and give its bounding box. '
                    "{coords} Answer with exactly one box in the form [x0, y0, x1, y1].")
#: the placeholders a template may use
TEMPLATE_FIELDS = ("k", "k_differences", "coords", "format", "width", "height")

# -- parser patterns ----------------------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
_BOX = rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]"
_BOX_RE = re.compile(_BOX, re.IGNORECASE)
_KEYED_BOX_RE = re.compile(r"""["']?bbox(?:_2d)?["']?\s*:\s*""" + _BOX, re.IGNORECASE)
_SPECIAL_TOKEN_RE = re.compile(r"<\|[^<>|]{0,64}\|>")
_FENCE_RE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?")


def answer_region(text: str, prompt_opens_think: bool = False) -> str:
    """The part of a completion that holds the answer (rule 1 of the module docstring).

    ``prompt_opens_think``: the generation prompt ends inside an opened ``<think>`` (the completion
    starts mid-thought), so only the text after a ``</think>`` can be the answer."""
    i = text.rfind("</think>")
    if i >= 0:
        text = text[i + 8:]
    elif prompt_opens_think or "<think>" in text:  # thinking never finished (truncated): no answer yet
        return ""
    i = text.rfind("<answer>")
    if i >= 0:
        text = text[i + 8:]
        j = text.find("</answer>")
        if j >= 0:
            text = text[:j]
    if "```" in text:
        fences = list(_FENCE_RE.finditer(text))
        # fences alternate open/close: the last block opens at the last even-numbered fence
        if fences:
            start = fences[(len(fences) - 1) // 2 * 2].end()
            close = text.find("```", start)
            text = text[start:] if close < 0 else text[start:close]
    if "<|" in text:
        text = _SPECIAL_TOKEN_RE.sub("", text)
    return text


def raw_boxes(region: str) -> list[tuple[str, str, str, str]]:
    """Four-number groups of an answer region, as strings (rule 2)."""
    if "bbox" in region or "BBOX" in region:
        found = _KEYED_BOX_RE.findall(region)
        if found:
            return found
    return _BOX_RE.findall(region)


def _scale_xy(scale: Scale) -> tuple[float, float]:
    if scale is None:
        return 1.0, 1.0
    if isinstance(scale, (int, float)):
        sx = sy = float(scale)
    else:
        sx, sy = (float(v) for v in scale)
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    return sx, sy


@dataclass
class DigTaskConfig:
    #: coordinate convention of the model's answer: pixels | rel1000 (Qwen2-VL, Qwen3-VL) | rel1
    coords: str = "pixels"
    #: prompt when the stage gives the count (placeholders: see TEMPLATE_FIELDS)
    template_with_count: str = TEMPLATE_WITH_COUNT
    #: prompt when the model must infer the count
    template_without_count: str = TEMPLATE_WITHOUT_COUNT
    #: prompt of a stage with no-difference control pairs (k_min 0): no count, and the answer may be []
    template_may_be_none: str = TEMPLATE_MAY_BE_NONE
    #: prompt of a grounding sample (dig_core.grounding: the base-model stage's rows and the
    #: ``grounding`` evaluator's default; placeholders {expression}: the description, {coords}: the hint)
    grounding_template: str = GROUNDING_PROMPT
    #: the answer format shown to the model ({format} in the templates)
    output_format: str = OUTPUT_FORMAT
    #: a box reaching further than this fraction of the image size beyond an edge is dropped
    max_overshoot: float = 0.25
    #: boxes after the first max_boxes of an answer are ignored
    max_boxes: int = 100
    #: the chat template's generation prompt opens ``<think>`` (Qwen3-VL-Thinking): an answer
    #: without ``</think>`` has no answer region, so it scores format 0 (dig_core.models.vlm.prompt_opens_think
    #: tells from a processor; the trl trainer sets it from the model it trains)
    prompt_opens_think: bool = False


class DigTask(Plugin):
    """Prompts for a pair and the answer parser, for one coordinate convention.

    Qwen2.5-VL answers in absolute pixels of its *resized* input: use ``coords: pixels`` and pass
    the per-sample ``scale`` (resized / original size, one factor or ``(sx, sy)``) to :meth:`parse`
    and the resized size to :meth:`prompt`.
    """

    PLUGIN_NAME: ClassVar[str] = "dig"
    Config: ClassVar[type] = DigTaskConfig

    @classmethod
    def validate_config(cls, cfg: DigTaskConfig) -> list[str]:
        errors = []
        if cfg.coords not in COORDS:
            errors.append(f"coords: unknown convention {cfg.coords!r}; allowed: {list(COORDS)}")
        for name in ("template_with_count", "template_without_count", "template_may_be_none"):
            template = getattr(cfg, name)
            try:
                template.format(k=2, k_differences="2 differences", coords="", format="", width=1, height=1)
            except (KeyError, IndexError, ValueError) as e:
                errors.append(f"{name}: bad placeholder {e}; allowed: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}")
        try:
            cfg.grounding_template.format(expression="x", coords="")
        except (KeyError, IndexError, ValueError) as e:
            errors.append(f"grounding_template: bad placeholder {e}; allowed: {{expression}}, {{coords}}")
        if not (cfg.max_overshoot >= 0):
            errors.append(f"max_overshoot must be >= 0, got {cfg.max_overshoot}")
        if cfg.max_boxes < 1:
            errors.append(f"max_boxes must be >= 1, got {cfg.max_boxes}")
        return errors

    def __init__(self, config: DigTaskConfig | None = None):
        super().__init__(config)
        c = self.config
        self._rel = {"pixels": None, "rel1000": 1000.0, "rel1": 1.0}[c.coords]

    # -- prompts ------------------------------------------------------------------------------------
    def prompt(self, width: int, height: int, k: int | None = None, may_be_none: bool = False) -> str:
        """The instruction for a pair: with the count when ``k`` is given, without it otherwise;
        ``may_be_none``: the pair comes from a stage with no-difference control pairs, so the
        prompt says the images may be identical (and never gives the count).

        ``width``/``height``: the image size the model sees (the resized size for Qwen2.5-VL)."""
        c = self.config
        if may_be_none:
            k = None
            template = c.template_may_be_none
        else:
            template = c.template_with_count if k is not None else c.template_without_count
        kd = "" if k is None else f"{k} difference" + ("" if k == 1 else "s")
        coords = COORD_HINTS[c.coords].format(width=width, height=height)
        return template.format(k=k, k_differences=kd, coords=coords, format=c.output_format,
                               width=width, height=height)

    def stage_prompt(self, stage, k: int, width: int, height: int) -> str:
        """The prompt for a pair with ``k`` differences in a curriculum stage (count given when the
        stage's ``count_in_prompt`` is set). Every pair of a stage with control pairs (``k_min`` 0,
        K = 0 or not) gets the ``template_may_be_none`` prompt, so the prompt never tells a control
        pair from the others."""
        if getattr(stage, "k_min", 1) == 0:
            return self.prompt(width, height, None, may_be_none=True)
        return self.prompt(width, height, k if stage.count_in_prompt else None)

    def answers_none(self, text: str) -> bool:
        """True when ``text`` is a well-formed "no differences" answer: its answer region (rule 1
        of the module docstring) is an empty list ``[]`` (whitespace aside)."""
        if not isinstance(text, str):
            return False
        return re.fullmatch(r"\s*\[\s*\]\s*", answer_region(text, self.config.prompt_opens_think)) is not None

    # -- parsing ------------------------------------------------------------------------------------
    def parse(self, text: str, width: float, height: float, scale: Scale = None) -> list[Box]:
        """Boxes ``(x0, y0, x1, y1)`` in original-image pixels; ``[]`` when there are none.

        Never raises on any ``text`` (a non-string gives ``[]``); a non-positive ``scale`` is a
        caller error (ValueError)."""
        if not isinstance(text, str) or not text:
            return []
        w, h = float(width), float(height)
        found = raw_boxes(answer_region(text, self.config.prompt_opens_think))
        if not found:
            return []
        c = self.config
        if self._rel is None:
            sx, sy = _scale_xy(scale)
            fx, fy = 1.0 / sx, 1.0 / sy
        else:
            fx, fy = w / self._rel, h / self._rel
        ox, oy = c.max_overshoot * w, c.max_overshoot * h
        lo_x, hi_x, lo_y, hi_y = -ox, w + ox, -oy, h + oy
        out: list[Box] = []
        for a, b, cc, d in found[: c.max_boxes]:
            x0, y0, x1, y1 = float(a) * fx, float(b) * fy, float(cc) * fx, float(d) * fy
            if not (math.isfinite(x0) and math.isfinite(y0) and math.isfinite(x1) and math.isfinite(y1)):
                continue
            if x0 > x1:
                x0, x1 = x1, x0
            if y0 > y1:
                y0, y1 = y1, y0
            if x0 < lo_x or y0 < lo_y or x1 > hi_x or y1 > hi_y:
                continue
            x0 = x0 if x0 > 0.0 else 0.0
            y0 = y0 if y0 > 0.0 else 0.0
            x1 = x1 if x1 < w else w
            y1 = y1 if y1 < h else h
            if x1 > x0 and y1 > y0:
                out.append((x0, y0, x1, y1))
        return out

    def format_boxes(self, boxes: Sequence[Sequence[float]], width: float, height: float) -> str:
        """Boxes in original pixels written as this task asks the model to answer (the ideal
        answer; used for examples and tests)."""
        if self._rel is None:
            conv = [[round(v) for v in b] for b in boxes]
        else:
            r = self._rel
            conv = [[round(b[0] / width * r, 4), round(b[1] / height * r, 4),
                     round(b[2] / width * r, 4), round(b[3] / height * r, 4)] for b in boxes]
            if r == 1000.0:
                conv = [[round(v) for v in b] for b in conv]
        return "[" + ", ".join("[" + ", ".join(str(v) for v in b) + "]" for b in conv) + "]"


@hookimpl
def register_tasks() -> list[type]:
    return [DigTask]
