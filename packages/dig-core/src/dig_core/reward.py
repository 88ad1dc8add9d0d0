"""The DiG reward (paper §3.3, eq. 1-3), registered as reward plugin ``dig``.

    r_format = 1 if the parser returns at least one box else 0
    r_acc    = lambda_f1 * F1 + lambda_iou * mIoU
    r        = (1 - alpha) * r_acc + alpha * r_format

Predicted and ground-truth boxes are matched one-to-one by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) maximising the total IoU; an assigned pair counts as a
true detection (one of the n_m "matched pairs") when its IoU >= ``min_match_iou``. precision =
n_m/N, recall = n_m/M, mIoU = mean IoU of the counted pairs (0 if none). ``min_match_iou = 0`` is
the literal reading of the paper: every assigned pair counts. See docs/reward.md.

No-difference control pairs (M = 0, a stage with ``k_min: 0``): a well-formed empty answer (the
task's :meth:`~dig_core.task.DigTask.answers_none`, e.g. ``[]``) is fully correct (every component
1, reward 1); any predicted box, or an answer without a well-formed empty list, scores reward 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from dig_core import hookimpl
from dig_core.plugins.base import Plugin

#: names of the per-sample components (the fields of :class:`RewardResult`), in logging order: the
#: one record schema of a scored answer (``dig score``, the ``dig`` evaluator, ``rewards.jsonl``)
COMPONENTS = ("format", "precision", "recall", "f1", "miou", "n_pred", "n_gt", "n_match", "reward", "accuracy")
#: the components that are scores (averaged in tables and metrics), not counts
SCORES = tuple(k for k in COMPONENTS if not k.startswith("n_"))

# Among assignments with the same total IoU, prefer the one with more counted pairs. Far below any
# IoU difference that matters, so the matching still maximises the total IoU.
_TIE_BREAK = 1e-9


@dataclass(frozen=True, slots=True)
class RewardResult:
    """Every component of one sample's reward (``as_dict`` for logging).

    ``reward`` is what GRPO optimises; ``accuracy`` is its accuracy part (r_acc, without the format
    term), which curriculum advance rules, reward curves and tables read. A reward plugin sets both
    by its own formula: no consumer recomputes them."""

    format: float
    precision: float
    recall: float
    f1: float
    miou: float
    n_pred: int
    n_gt: int
    n_match: int
    reward: float
    accuracy: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Matching:
    """The counted pairs of a matching: ``pred[i]`` <-> ``gt[j]`` with IoU ``ious[k]``."""

    pred: tuple[int, ...]
    gt: tuple[int, ...]
    ious: tuple[float, ...]


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of every predicted box (rows) with every ground-truth box (columns); boxes are
    ``[x0, y0, x1, y1]`` with ``x0 < x1``, ``y0 < y1``."""
    p = pred[:, None, :]
    g = gt[None, :, :]
    iw = np.minimum(p[..., 2], g[..., 2]) - np.maximum(p[..., 0], g[..., 0])
    ih = np.minimum(p[..., 3], g[..., 3]) - np.maximum(p[..., 1], g[..., 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    union = area_p[:, None] + area_g[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


_SMALL = 64  # up to this many pairs, IoUs are computed in Python (numpy's per-call cost dominates)


def _positive_ious(pred, gt) -> dict[tuple[int, int], float]:
    """``{(i, j): IoU}`` of the overlapping pairs."""
    n, m = len(pred), len(gt)
    if n * m <= _SMALL:
        out = {}
        for j, (gx0, gy0, gx1, gy1) in enumerate(gt):
            ga = (gx1 - gx0) * (gy1 - gy0)
            for i, (px0, py0, px1, py1) in enumerate(pred):
                if px0 < gx1 and gx0 < px1 and py0 < gy1 and gy0 < py1:
                    inter = ((px1 if px1 < gx1 else gx1) - (px0 if px0 > gx0 else gx0)) * (
                        (py1 if py1 < gy1 else gy1) - (py0 if py0 > gy0 else gy0))
                    union = (px1 - px0) * (py1 - py0) + ga - inter
                    if inter > 0.0 and union > 0.0:
                        out[i, j] = inter / union
        return out
    iou = iou_matrix(np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64))
    ii, jj = np.nonzero(iou > 0)
    return dict(zip(zip(ii.tolist(), jj.tolist()), iou[ii, jj].tolist()))


def match_boxes(pred: Sequence[Sequence[float]], gt: Sequence[Sequence[float]], min_iou: float) -> Matching:
    """Hungarian matching maximising total IoU; the pairs with IoU >= ``min_iou`` (and > 0).

    Boxes that overlap nothing only ever take part in zero-IoU pairs and are left out of the
    assignment, so such a box cannot change which pairs are picked. When no box overlaps two
    others the overlapping pairs are the unique optimum and scipy is not needed."""
    if not pred or not gt:
        return Matching((), (), ())
    pos = _positive_ious(pred, gt)
    if not pos:
        return Matching((), (), ())
    rows = sorted({i for i, _ in pos})
    cols = sorted({j for _, j in pos})
    if len(pos) == len(rows) == len(cols):  # every overlapping box overlaps exactly one other
        pairs = sorted(pos.items())
    elif len(rows) == 1 or len(cols) == 1:
        best = max(pos.items(), key=lambda kv: kv[1])
        pairs = [best]
    else:
        ri = {r: k for k, r in enumerate(rows)}
        ci = {c: k for k, c in enumerate(cols)}
        sub = np.zeros((len(rows), len(cols)))
        for (i, j), v in pos.items():
            sub[ri[i], ci[j]] = v + (_TIE_BREAK if 0 < min_iou <= v else 0.0)
        r_idx, c_idx = linear_sum_assignment(sub, maximize=True)
        pairs = [((rows[r], cols[c]), pos.get((rows[r], cols[c]), 0.0)) for r, c in zip(r_idx.tolist(), c_idx.tolist())]
    kept = [(i, j, v) for (i, j), v in pairs if v >= min_iou and v > 0.0]
    return Matching(tuple(k[0] for k in kept), tuple(k[1] for k in kept), tuple(k[2] for k in kept))


@dataclass
class DigRewardConfig:
    #: lambda_1: weight of the detection F1 in r_acc
    lambda_f1: float = 0.5
    #: lambda_2: weight of the mean IoU of counted pairs in r_acc
    lambda_iou: float = 0.5
    #: alpha: weight of the format reward in r (1 - alpha goes to r_acc)
    alpha: float = 0.1
    #: an assigned pair counts as a detection when IoU >= this (0 = every assigned pair counts)
    min_match_iou: float = 0.5


class DigReward(Plugin):
    """Scores parsed boxes against ground truth (:meth:`score`); a model's raw answer is parsed and
    scored by :func:`dig_core.scoring.score_answer`."""

    PLUGIN_NAME: ClassVar[str] = "dig"
    Config: ClassVar[type] = DigRewardConfig

    @classmethod
    def validate_config(cls, cfg: DigRewardConfig) -> list[str]:
        errors = []
        for name in ("lambda_f1", "lambda_iou", "alpha", "min_match_iou"):
            v = getattr(cfg, name)
            if not (0.0 <= v <= 1.0):
                errors.append(f"{name} must be in [0, 1], got {v}")
        if not errors and not math.isclose(cfg.lambda_f1 + cfg.lambda_iou, 1.0, abs_tol=1e-9):
            errors.append(
                f"lambda_f1 + lambda_iou must be 1 (so a perfect answer scores 1 and the reward stays in "
                f"[0, 1]), got {cfg.lambda_f1} + {cfg.lambda_iou} = {cfg.lambda_f1 + cfg.lambda_iou}"
            )
        return errors

    def match(self, pred: Sequence[Sequence[float]], gt: Sequence[Sequence[float]]) -> Matching:
        """The counted pairs. With ``min_match_iou = 0`` every assigned pair counts, including
        zero-IoU ones, so n_m = min(N, M); :meth:`score` handles that case."""
        return match_boxes(pred, gt, self.config.min_match_iou)

    def score(self, pred: Sequence[Sequence[float]], gt: Sequence[Sequence[float]],
              answered_none: bool = False) -> RewardResult:
        """Reward of predicted boxes ``pred`` (the parser's output) against ``gt``.

        ``answered_none``: the completion was a well-formed empty answer; it only matters when
        ``gt`` is empty (a control pair), see the module docstring."""
        c = self.config
        n, m = len(pred), len(gt)
        if m == 0:
            if n == 0 and answered_none:
                return RewardResult(1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0, 1.0, 1.0)
            return RewardResult(1.0 if n else 0.0, 0.0, 0.0, 0.0, 0.0, n, 0, 0, 0.0, 0.0)
        fmt = 1.0 if n > 0 else 0.0
        matching = match_boxes(pred, gt, c.min_match_iou)
        total = sum(matching.ious)
        n_match = min(n, m) if c.min_match_iou <= 0 else len(matching.ious)
        if n_match == 0:
            precision = recall = f1 = miou = 0.0
        else:
            precision, recall = n_match / n, n_match / m
            f1 = 2 * precision * recall / (precision + recall)
            miou = min(total / n_match, 1.0)
        r_acc = c.lambda_f1 * f1 + c.lambda_iou * miou
        reward = (1.0 - c.alpha) * r_acc + c.alpha * fmt
        reward = min(max(reward, 0.0), 1.0)  # rounding only: the weights keep it in [0, 1]
        return RewardResult(fmt, precision, recall, f1, miou, n, m, n_match, reward, r_acc)


def summarize(results: Sequence[RewardResult]) -> dict[str, float]:
    """Mean of every component over ``results`` (for logging a batch); ``{}`` when empty."""
    if not results:
        return {}
    return {k: sum(getattr(r, k) for r in results) / len(results) for k in COMPONENTS}


@hookimpl
def register_rewards() -> list[type]:
    return [DigReward]
