"""RefCOCO, RefCOCO+ and RefCOCOg: referring-expression grounding, Acc@IoU 0.5 / 0.75 / 0.95 per split.

Data: lmms-lab's parquet copies (``lmms-lab/RefCOCO``, ``lmms-lab/RefCOCOplus``, ``lmms-lab/RefCOCOg``,
``data/<split>-*.parquet``); each row is one object with a list of referring expressions (``answer``)
and its COCO box ``bbox`` = ``[x, y, w, h]`` in pixels, converted here to corners
``[x, y, x + w, y + h]``. As in lmms-eval's ``refcoco_bbox_rec`` tasks every expression is one sample.

The prompt states the model's own coordinate convention (``model.coords()``; for models that answer
in pixels of their resized input the resized size) and the answer is read by dig-core's parser
(``DigTask.parse``, with the model's per-sample scale) — one convention, never the best of several.
The first box of the answer is the prediction; no box is IoU 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from dig_core.grounding import GROUNDING_PROMPT
from dig_core.reward import iou_matrix
from dig_core.task import COORD_HINTS, DigTask, DigTaskConfig

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, BenchmarkEvaluator, group_by, pct
from dig_eval.evaluators.parquet import Layout, unique_ids

THRESHOLDS = (0.5, 0.75, 0.95)

#: dig-core's default grounding prompt (dig_core.grounding; a task's ``grounding_template`` may replace it)
PROMPT = GROUNDING_PROMPT

_COLUMNS = {"question_id": "string", "image": "image", "answer": "list", "bbox": "list"}


def xywh_to_xyxy(bbox: Sequence[float]) -> list[float]:
    """COCO ``[x, y, w, h]`` -> ``[x0, y0, x1, y1]``."""
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x0, y0, x1, y1]`` boxes (dig-core's reward IoU)."""
    return float(iou_matrix(np.asarray([a], dtype=np.float64), np.asarray([b], dtype=np.float64))[0, 0])


@dataclass
class RefCOCOConfig(BenchmarkConfig):
    max_new_tokens: int = 128
    #: the instruction ({expression}, {coords}: the model's coordinate convention)
    prompt: str = PROMPT


class RefCOCOEvaluator(BenchmarkEvaluator):
    PLUGIN_NAME: ClassVar[str] = "refcoco"
    Config: ClassVar[type] = RefCOCOConfig
    LAYOUT: ClassVar[Layout] = Layout("refcoco", _COLUMNS, "lmms-lab/RefCOCO data/<split>-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {
        s: (f"{s}-*.parquet", f"{s}.parquet") for s in ("val", "test", "testA", "testB")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("val", "testA", "testB")

    @classmethod
    def validate_config(cls, cfg: RefCOCOConfig) -> list[str]:
        errors = super().validate_config(cfg)
        try:
            cfg.prompt.format(expression="x", coords="")
        except (KeyError, IndexError, ValueError) as e:
            errors.append(f"prompt: bad placeholder {e}; allowed: {{expression}}, {{coords}}")
        return errors

    def __init__(self, config: RefCOCOConfig | None = None):
        super().__init__(config)
        self._tasks: dict[str, DigTask] = {}

    def _task(self, coords: str) -> DigTask:
        if coords not in self._tasks:
            self._tasks[coords] = DigTask(DigTaskConfig(coords=coords))
        return self._tasks[coords]

    def samples(self, model: ModelAdapter) -> list[Sample]:
        coords = model.coords()
        self._task(coords)  # an unknown convention fails here, before any generation
        out: list[Sample] = []
        for split, rows in self.split_rows().items():
            pending = []
            for row in rows:
                bbox = row["bbox"]
                if bbox is None or len(bbox) != 4 or row["image"] is None:
                    raise self.LAYOUT.error(row["image"] or split, f"row {row['question_id']}: bbox must be "
                                            f"[x, y, w, h] and the image present, got bbox={bbox}")
                w, h = row["image"].size
                exprs = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
                for k, expr in enumerate(exprs):
                    pending.append((f"{split}/{row['question_id']}/{k}", row, str(expr), w, h))
            ids = unique_ids([p[0] for p in pending])
            for sid, (_, row, expr, w, h) in zip(ids, pending):
                scale = model.scale(w, h)
                mw, mh = (round(w * scale[0]), round(h * scale[1])) if scale else (w, h)
                prompt = self.config.prompt.format(expression=expr,
                                                   coords=COORD_HINTS[coords].format(width=mw, height=mh))
                req = Request(self.PLUGIN_NAME, sid, prompt, [row["image"]], self.config.max_new_tokens)
                out.append(Sample(req, {"split": split, "expression": expr, "width": w, "height": h,
                                        "bbox_xywh": [float(v) for v in row["bbox"]],
                                        "bbox": xywh_to_xyxy(row["bbox"])}))
        return out

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        t = sample.target
        w, h = t["width"], t["height"]
        boxes = self._task(model.coords()).parse(completion, w, h, scale=model.sample_scale(sample.request, w, h))
        pred = list(boxes[0]) if boxes else None
        v = iou(pred, t["bbox"]) if pred else 0.0
        rec: dict[str, Any] = {"split": t["split"], "parsed": pred is not None, "pred_box": pred,
                               "gt_box": t["bbox"], "iou": v}
        for thr in THRESHOLDS:
            rec[f"hit@{thr}"] = v >= thr
        return rec

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for split, recs in group_by(records, "split").items():
            n = len(recs)
            for thr in THRESHOLDS:
                out[f"{split}/acc@{thr}"] = pct(sum(1 for r in recs if r[f"hit@{thr}"]), n)
            out[f"{split}/miou"] = pct(sum(r["iou"] for r in recs), n)
            out[f"{split}/parsed"] = pct(sum(1 for r in recs if r["parsed"]), n)
            out[f"{split}/n"] = float(n)
        return out


class RefCOCOPlusEvaluator(RefCOCOEvaluator):
    PLUGIN_NAME: ClassVar[str] = "refcoco+"
    LAYOUT: ClassVar[Layout] = Layout("refcoco+", _COLUMNS, "lmms-lab/RefCOCOplus data/<split>-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {
        s: (f"{s}-*.parquet", f"{s}.parquet") for s in ("val", "testA", "testB")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("val", "testA", "testB")


class RefCOCOgEvaluator(RefCOCOEvaluator):
    PLUGIN_NAME: ClassVar[str] = "refcocog"
    LAYOUT: ClassVar[Layout] = Layout("refcocog", _COLUMNS, "lmms-lab/RefCOCOg data/<split>-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {s: (f"{s}-*.parquet", f"{s}.parquet") for s in ("val", "test")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("val", "test")
