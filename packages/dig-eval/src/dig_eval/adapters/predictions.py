"""``predictions``: answers read from a JSONL file instead of a live model, so the output of any
system (an API model, another framework, a past run's ``predictions.jsonl``) is scored by exactly
the same evaluator code.

Line format: ``{"benchmark": str, "id": str, "completion": str}`` plus an optional ``"scale"``
(model-input / original size, one number or ``[sx, sy]``, for answers in pixels of a resized
input). ``benchmark`` may be left out when ``model.params.benchmark`` names it for every line (a
``dig score`` file). Other keys (a run's ``target``) are ignored.

A sample without a line has no answer: the runner lists it as missing (a warning,
``counts.missing`` in metrics.json) and scores it as wrong unless the evaluator's ``missing`` is
``exclude``; ``strict: true`` makes it an error. An id
given twice keeps its first line (reported in ``info()``).

Coordinates: ``coords`` must be set (or come from ``processor``, a model folder whose family
decides it) as soon as an evaluator asks for boxes; evaluators that need no boxes (multiple
choice, yes/no) run without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

from dig_core.data.io import iter_jsonl
from dig_core.data.predictions import PredictionsError, parse_scale
from dig_core.errors import ConfigError
from dig_core.task import COORDS

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.adapters.common import AdapterError

MAX_LISTED = 10


@dataclass
class PredictionsConfig:
    #: the JSONL file of answers
    path: str = ""
    #: box convention of the answers: pixels | rel1000 | rel1 (null: from ``processor``'s family,
    #: else an error when an evaluator needs boxes)
    coords: Optional[str] = None
    #: benchmark of lines that carry none (e.g. "dig" for a ``dig score`` file)
    benchmark: Optional[str] = None
    #: a model folder: its processor gives the pixel scale of lines without "scale" (Qwen2.5-VL)
    processor: Optional[str] = None
    min_pixels: Optional[int] = None
    max_pixels: Optional[int] = None
    #: fail when a sample has no line (default: it is missing, see the evaluator param ``missing``)
    strict: bool = False


def listed(items: Sequence[str]) -> str:
    head = ", ".join(items[:MAX_LISTED])
    return head + (f", ... ({len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")


class PredictionsAdapter(ModelAdapter):
    """Answers looked up by ``(benchmark, id)``; ``generate`` gives None for a missing one."""

    PLUGIN_NAME: ClassVar[str] = "predictions"
    Config: ClassVar[type] = PredictionsConfig

    @classmethod
    def validate_config(cls, cfg: PredictionsConfig) -> list[str]:
        errors = []
        if not cfg.path:
            errors.append("path: set the predictions file (model.params.path=answers.jsonl)")
        if cfg.coords is not None and cfg.coords not in COORDS:
            errors.append(f"coords: unknown convention {cfg.coords!r}; allowed: {list(COORDS)}")
        return errors

    def __init__(self, config: PredictionsConfig | None = None):
        super().__init__(config)
        self.answers: dict[tuple[str, str], tuple[str, tuple[float, float] | None]] = {}
        self.duplicates: list[str] = []
        self.requested: set[tuple[str, str]] = set()
        self.missing: list[str] = []
        self._read(Path(self.config.path))
        self._vlp = None

    def _read(self, path: Path) -> None:
        if not path.is_file():
            raise PredictionsError(f"model.params.path: predictions file not found: {path}")
        default = self.config.benchmark
        for lineno, rec in iter_jsonl(path, PredictionsError):
            where = f"{path}:{lineno}"
            bench, pid, completion = rec.get("benchmark", default), rec.get("id"), rec.get("completion")
            if not isinstance(bench, str):
                raise PredictionsError(f"{where}: 'benchmark' must be a string (or set model.params.benchmark), "
                                       f"got {bench!r}")
            if not isinstance(pid, str):
                raise PredictionsError(f"{where}: 'id' must be a string, got {pid!r}")
            if not isinstance(completion, str):
                raise PredictionsError(f"{where}: 'completion' must be a string, got {type(completion).__name__}")
            key = (bench, pid)
            if key in self.answers:
                self.duplicates.append(f"{bench}/{pid} (line {lineno})")
                continue
            self.answers[key] = (completion, parse_scale(rec.get("scale"), where))

    # -- the interface --------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> list[str | None]:
        out: list[str | None] = []
        missing = []
        for r in requests:
            key = (r.benchmark, r.id)
            self.requested.add(key)
            hit = self.answers.get(key)
            if hit is None:
                missing.append(f"{r.benchmark}/{r.id}")
            out.append(None if hit is None else hit[0])
        if missing and self.config.strict:
            raise PredictionsError(f"{self.config.path}: no answer for {len(missing)} sample(s) (strict): "
                                   f"{listed(missing)}")
        self.missing.extend(missing)
        return out

    def batch_size(self) -> int:
        return 256

    def _processor(self):
        if self._vlp is None and self.config.processor:
            from dig_eval.adapters.common import LiveModelConfig, vl_processor

            c = self.config
            self._vlp = vl_processor(LiveModelConfig(path=c.processor, coords=c.coords, min_pixels=c.min_pixels,
                                                     max_pixels=c.max_pixels))
        return self._vlp

    def coords(self) -> str:
        if self.config.coords is not None:
            return self.config.coords
        vlp = self._processor()
        if vlp is None:
            raise ConfigError("model.params.coords: the predictions adapter needs the answers' box convention "
                              f"for this benchmark; set it to one of {list(COORDS)} (or processor=<model folder>)")
        return vlp.coords

    def scale(self, width: int, height: int) -> tuple[float, float] | None:
        vlp = self._processor()
        if vlp is None or self.coords() != "pixels":
            return None
        return vlp.scale(width, height)

    def sample_scale(self, request: Request, width: int, height: int) -> tuple[float, float] | None:
        hit = self.answers.get((request.benchmark, request.id))
        if hit is not None and hit[1] is not None:
            return hit[1]
        return self.scale(width, height)

    def info(self) -> dict[str, Any]:
        c = self.config
        unused = len(set(self.answers) - self.requested)
        try:
            coords = self.coords()
        except ConfigError:
            coords = None  # never needed: no evaluator asked for boxes
        out: dict[str, Any] = {"adapter": self.PLUGIN_NAME, "path": str(Path(c.path).resolve()),
                               "coords": coords, "answers": len(self.answers), "duplicates": len(self.duplicates)}
        if c.processor:
            out.update(processor=c.processor, min_pixels=c.min_pixels, max_pixels=c.max_pixels)
        if self.requested:
            out["unused"] = unused
        return out


__all__ = ["PredictionsAdapter", "PredictionsConfig", "AdapterError"]
