"""``dig``: a DiG dataset split (DiG-Bench or any generated folder) scored with dig-core's own
task parser and reward matching, so evaluation and the GRPO reward agree by construction.

Per pair: the parser (``DigTask.parse``, in the model's coordinate convention and per-sample
scale) turns the answer into boxes and the configured reward scores them
(:func:`dig_core.scoring.score_answer`, the path ``dig score`` and the trainers take): format,
precision, recall, F1, mIoU, reward and its accuracy part (``dig``: matching at
``reward.min_match_iou``); ``match_boxes(pred, gt, 0)`` gives the IoU of
every ground-truth box with the prediction the Hungarian assignment (maximum total IoU) gives it.

Metrics (percent unless noted; see docs/eval.md):

* ``f1``, ``precision``, ``recall``, ``miou``, ``accuracy``: means over pairs of the reward's
  per-pair values (``accuracy``: the reward's accuracy part, ``dig``: lambda_f1 F1 + lambda_iou mIoU).
* ``acc@0.5`` / ``acc@0.75`` / ``acc@0.95``: share of all ground-truth boxes (pooled over pairs)
  whose assigned prediction has IoU >= t.
* ``exact@0.5``: share of pairs answered with exactly one box per difference, every one at IoU >= 0.5.
* ``format``: share of pairs whose answer parses to at least one box.
* ``reward``: mean reward r in [0, 1] (not a percentage).
* ``chance/<metric>``: what boxing one random object of the scene scores, in expectation (the
  objects of I_a and I_b; a pick of a changed object is given its exact ground-truth box, any other
  pick overlaps no difference, so the baseline is generous): ``chance/acc@t`` (all t), ``chance/f1``,
  ``chance/miou``, ``chance/accuracy``, ``chance/reward``. A model above it has found *differences*, not just objects.
* Breakdowns ``<metric>/k=<K>`` (pairs with K differences) and ``<metric>/type=<edit>`` (the
  ground-truth boxes of that edit type: ``n_boxes``, ``recall``, ``acc@t``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np
from dig_core.config import StageConfig, instantiate
from dig_core.data.dataset import IMAGES, MANIFEST, METADATA, image_path, read_annotations, read_manifest
from dig_core.errors import ConfigError, DatasetError
from dig_core.reward import SCORES, DigReward, iou_matrix, match_boxes
from dig_core.scoring import found_boxes, score_answer
from dig_core.task import DigTask
from dig_core.training.labels import Label

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import EvalConfig, Evaluator, Sample

THRESHOLDS = (0.5, 0.75, 0.95)
#: per-pair scores averaged in percent (the reward itself is reported as is, in [0, 1])
PAIR_METRICS = tuple(k for k in SCORES if k != "reward")
#: the scores the chance baseline reports (percent, but the reward: last)
CHANCE_SCORES = ("f1", "miou", "accuracy", "reward")


@dataclass
class DigEvalConfig(EvalConfig):
    #: a DiG dataset folder (dataset.json, metadata.jsonl, images/)
    dataset: str = ""
    #: only the pairs of this curriculum stage (null = every pair)
    stage: Optional[str] = None
    #: only the first N pairs (after the stage filter; null = all)
    limit: Optional[int] = None
    #: tell the model how many differences there are: null = each pair's stage setting
    count_in_prompt: Optional[bool] = None
    #: completion length (null = the model adapter's max_new_tokens)
    max_new_tokens: Optional[int] = None
    #: the benchmark name (run sub-folder, predictions' "benchmark"); set it to run two splits
    name: str = "dig"
    #: IoU thresholds of acc@t
    thresholds: list[float] = field(default_factory=lambda: list(THRESHOLDS))


def _pct(x: float) -> float:
    return round(100.0 * x, 4)


class DigEvaluator(Evaluator):
    """Difference grounding on DiG pairs: I_a then I_b, the task's prompt, boxes scored with the reward."""

    PLUGIN_NAME: ClassVar[str] = "dig"
    Config: ClassVar[type] = DigEvalConfig

    @classmethod
    def validate_config(cls, cfg: DigEvalConfig) -> list[str]:
        errors = super().validate_config(cfg)
        if not cfg.dataset:
            errors.append("dataset: set the DiG dataset folder (evaluator.params.dataset=DIR)")
        if cfg.limit is not None and cfg.limit < 1:
            errors.append(f"limit must be >= 1 or null, got {cfg.limit}")
        if cfg.max_new_tokens is not None and cfg.max_new_tokens < 1:
            errors.append(f"max_new_tokens must be >= 1 or null, got {cfg.max_new_tokens}")
        if not cfg.name:
            errors.append("name must not be empty")
        if not cfg.thresholds or not all(0 < t <= 1 for t in cfg.thresholds):
            errors.append(f"thresholds must be IoUs in (0, 1], got {list(cfg.thresholds)}")
        return errors

    def __init__(self, config: DigEvalConfig | None = None):
        super().__init__(config)
        self.task_template: DigTask = DigTask()
        self.reward: DigReward = DigReward()
        self.task: DigTask | None = None

    @property
    def benchmark(self) -> str:
        return self.config.name

    def bind(self, cfg: Any) -> None:
        """Prompts/parser settings from the pipeline's ``task`` section, matching from ``reward``
        (the coordinate convention always comes from the model)."""
        if cfg.task.name is not None:
            self.task_template = instantiate(cfg, "task", "task")
        if cfg.reward.name is not None:
            self.reward = instantiate(cfg, "reward", "reward")

    # -- samples ------------------------------------------------------------------------------------
    def _manifest_stages(self, root: Path) -> dict[str, dict[str, Any]]:
        """The manifest's curriculum stages by name (``{}`` when there is no manifest)."""
        try:
            manifest = read_manifest(root)
        except DatasetError:
            return {}
        stages = ((manifest.get("config") or {}).get("curriculum") or {}).get("stages") or []
        return {s["name"]: s for s in stages if isinstance(s, dict) and "name" in s}

    def _stage_counts(self, root: Path) -> dict[str, bool]:
        return {name: bool(s.get("count_in_prompt", StageConfig.count_in_prompt))
                for name, s in self._manifest_stages(root).items()}

    def _count_in_prompt(self, rec: dict[str, Any], stages: dict[str, bool], root: Path) -> bool:
        if self.config.count_in_prompt is not None:
            return self.config.count_in_prompt
        if isinstance(rec.get("count_in_prompt"), bool):
            return rec["count_in_prompt"]
        if rec["stage"] in stages:
            return stages[rec["stage"]]
        raise DatasetError(f"{root}: pair {rec['id']!r} (stage {rec['stage']!r}) has no count_in_prompt and the "
                           "manifest's curriculum does not name its stage; set evaluator.params.count_in_prompt")

    def samples(self, model: ModelAdapter) -> list[Sample]:
        c = self.config
        root = Path(c.dataset).expanduser()
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "not found"
            raise DatasetError(f"{self.benchmark}: evaluator.params.dataset: {root} {what}; expected a DiG "
                               f"dataset folder ({MANIFEST}, {METADATA}, {IMAGES}/)")
        coords = model.coords()
        self.task = type(self.task_template)(replace(self.task_template.config, coords=coords))
        stages = self._stage_counts(root)
        # stages with no-difference control pairs: every pair gets the "may be identical" prompt
        control = {name for name, st in self._manifest_stages(root).items() if st.get("k_min", 1) == 0}
        out: list[Sample] = []
        for rec in read_annotations(root):
            if c.stage is not None and rec["stage"] != c.stage:
                continue
            w, h = int(rec["width"]), int(rec["height"])
            gt = [list(map(float, b)) for b in rec["boxes"]]
            k = len(gt)
            count = self._count_in_prompt(rec, stages, root)
            sc = model.scale(w, h) if coords == "pixels" else None
            pw, ph = (w, h) if sc is None else (round(w * sc[0]), round(h * sc[1]))
            prompt = self.task.prompt(pw, ph, k if count else None, may_be_none=rec["stage"] in control)
            types = [d.get("type", "?") for d in rec.get("differences", [])]
            if len(types) != k:
                types = ["?"] * k
            request = Request(self.benchmark, rec["id"], prompt,
                              [str(image_path(root, rec["image_a"])), str(image_path(root, rec["image_b"]))],
                              c.max_new_tokens)
            target = {"boxes": gt, "width": w, "height": h, "types": types, "stage": rec["stage"],
                      "count_in_prompt": count, "n_objects": scene_objects(rec)}
            out.append(Sample(request, target))
            if c.limit is not None and len(out) >= c.limit:
                break
        if not out:
            which = f" in stage {c.stage!r}" if c.stage is not None else ""
            raise DatasetError(f"{self.benchmark}: {root} has no pairs{which}")
        return out

    # -- scoring ------------------------------------------------------------------------------------
    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        if self.task is None:
            raise ConfigError(f"{self.benchmark}: score() before samples(): the task's coordinates are not set")
        t = sample.target
        w, h, gt = t["width"], t["height"], t["boxes"]
        scale = model.sample_scale(sample.request, w, h) if self.task.config.coords == "pixels" else None
        label = Label(sample.request.id, t["stage"], len(gt), gt, w, h, self.task.config.coords, scale)
        scored = score_answer(self.task, self.reward, completion, label)
        pred, res = scored.boxes, scored.result
        assigned = match_boxes(pred, gt, 0.0)
        gt_iou = [0.0] * len(gt)
        for j, v in zip(assigned.gt, assigned.ious):
            gt_iou[j] = v
        counted = found_boxes(self.reward, pred, gt) if res.n_match else set()
        return {
            **res.as_dict(),
            "k": len(gt),
            "types": list(t["types"]),
            "pred": [[round(v, 2) for v in b] for b in pred],
            "gt_iou": [round(v, 6) for v in gt_iou],
            "gt_found": [j in counted for j in range(len(gt))],
            "scale": None if scale is None else [float(v) for v in scale],
            "chance": self.chance(gt, t.get("n_objects"), w, h),
        }

    def chance(self, gt: Sequence[Sequence[float]], n_objects: int | None, width: float,
               height: float) -> dict[str, float] | None:
        """Expected scores of answering one random object's box (module docstring): each changed
        object with probability 1 / ``n_objects`` (its exact box), else a box that overlaps no
        difference. None without the scene (``n_objects``) or for a control pair."""
        if not n_objects or not gt or n_objects < len(gt):
            return None
        miss = _box_outside(gt, width, height)
        picks = [(self.reward.score([list(b)], gt), 1.0) for b in gt]
        if miss is not None:
            picks.append((self.reward.score([miss], gt), 0.0))
        weights = [1.0 / n_objects] * len(gt) + [1.0 - len(gt) / n_objects] * (miss is not None)
        out = {k: sum(w * getattr(r, k) for w, (r, _) in zip(weights, picks)) for k in CHANCE_SCORES}
        out["found"] = sum(w * hit for w, (_, hit) in zip(weights, picks))  # expected GT boxes found
        return out

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        ths = list(self.config.thresholds)
        out: dict[str, float] = {}
        if not records:
            return {"n": 0}
        out.update(self._pair_metrics(records, ths))
        by_k: dict[int, list] = defaultdict(list)
        for r in records:
            by_k[r["k"]].append(r)
        for k in sorted(by_k):
            for name, v in self._pair_metrics(by_k[k], ths).items():
                out[f"{name}/k={k}"] = v
        boxes: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for r in records:
            for t, iou, found in zip(r["types"], r["gt_iou"], r["gt_found"]):
                boxes[t].append((iou, found))
        for t in sorted(boxes):
            items = boxes[t]
            out[f"n_boxes/type={t}"] = len(items)
            out[f"recall/type={t}"] = _pct(sum(f for _, f in items) / len(items))
            for th in ths:
                out[f"acc@{th:g}/type={t}"] = _pct(sum(iou >= th for iou, _ in items) / len(items))
        return out

    @staticmethod
    def _pair_metrics(records: Sequence[dict[str, Any]], ths: Sequence[float]) -> dict[str, float]:
        n = len(records)
        out: dict[str, float] = {"n": n}
        for name in PAIR_METRICS:
            out[name] = _pct(sum(r[name] for r in records) / n)
        ious = [v for r in records for v in r["gt_iou"]]
        for th in ths:
            out[f"acc@{th:g}"] = _pct(sum(v >= th for v in ious) / len(ious)) if ious else 0.0
        exact = sum(r["n_pred"] == r["n_gt"] and all(v >= 0.5 for v in r["gt_iou"]) for r in records)
        out["exact@0.5"] = _pct(exact / n)
        out["reward"] = round(sum(r["reward"] for r in records) / n, 6)
        chance = [r.get("chance") for r in records]
        if all(chance) and ious:
            for th in ths:
                out[f"chance/acc@{th:g}"] = _pct(sum(c["found"] for c in chance) / len(ious))
            for name in CHANCE_SCORES[:-1]:
                out[f"chance/{name}"] = _pct(sum(c[name] for c in chance) / n)
            out["chance/reward"] = round(sum(c["reward"] for c in chance) / n, 6)
        return out


def scene_objects(rec: dict[str, Any]) -> int | None:
    """How many objects a pair's scenes hold (those of I_a and I_b, by id); None without scenes."""
    scenes = [rec.get("scene_a"), rec.get("scene_b")]
    if not all(isinstance(sc, dict) and isinstance(sc.get("objects"), list) for sc in scenes):
        return None
    return len({o.get("id") for sc in scenes for o in sc["objects"] if isinstance(o, dict)})


def _box_outside(gt: Sequence[Sequence[float]], width: float, height: float) -> list[float] | None:
    """A small box in an image corner that overlaps none of ``gt`` (None if every corner does)."""
    side = max(1.0, min(width, height) / 16)
    gts = np.asarray(gt, dtype=np.float64)
    for x0, y0 in ((0, 0), (width - side, 0), (0, height - side), (width - side, height - side)):
        box = [x0, y0, x0 + side, y0 + side]
        if not iou_matrix(np.asarray([box], dtype=np.float64), gts).any():
            return box
    return None
