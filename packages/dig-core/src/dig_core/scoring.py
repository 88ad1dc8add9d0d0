"""The one parse + score path: a model's answer to a pair, scored by the configured reward.

Every consumer of a score calls :func:`score_answer` — ``dig score``, the ``dig`` evaluator, both
trainers' reward functions (through :class:`dig_core.training.reward_log.SampleScorer`, which writes
``rewards.jsonl``) — and reads ``reward`` and ``accuracy`` off the reward plugin's
:class:`~dig_core.reward.RewardResult`. The curriculum's plateau means and the reward curves read
those fields from the log. So a reward with other weights, or a third-party reward with another
formula, is what every report shows: nothing downstream recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dig_core.reward import RewardResult, match_boxes

if TYPE_CHECKING:  # the label's module imports this one's users (dig_core.training)
    from dig_core.training.labels import Label

__all__ = ["ScoredAnswer", "found_boxes", "score_answer"]

#: the IoU at which a ground-truth box counts as found when the reward has no matching of its own
FOUND_IOU = 0.5


@dataclass(frozen=True, slots=True)
class ScoredAnswer:
    """An answer's boxes (parsed into the label's image pixels) and the reward's verdict on them."""

    boxes: list[list[float]]
    result: RewardResult


def score_answer(task: Any, reward: Any, completion: Any, label: Label) -> ScoredAnswer:
    """Parse ``completion`` with ``task`` in the frame of ``label`` (its ``width``, ``height`` and
    model-input ``scale``) and score the boxes against ``label.boxes`` with ``reward``.

    A well-formed empty answer (``task.answers_none``) counts only when the label has no boxes (a
    no-difference control pair). Raises what the task or the reward raise (e.g. ValueError for a
    non-positive scale); callers that must never raise (trainers) catch it."""
    boxes = task.parse(completion, label.width, label.height, label.scale)
    gt = label.boxes
    answered_none = not gt and task.answers_none(completion)
    return ScoredAnswer(boxes, reward.score(boxes, gt, answered_none))


def found_boxes(reward: Any, boxes: Any, gt: Any) -> set[int]:
    """Indices of the ground-truth boxes ``boxes`` found: those the reward's own ``match`` counts
    (the ``dig`` reward: IoU >= ``min_match_iou`` and > 0), or, for a reward without one, those a
    one-to-one matching pairs at IoU >= :data:`FOUND_IOU`."""
    match = getattr(reward, "match", None)
    matching = match(boxes, gt) if callable(match) else match_boxes(boxes, gt, FOUND_IOU)
    return set(matching.gt)
