"""The DiG reward as TRL's GRPOTrainer calls it, and the callbacks of a GRPO stage.

TRL calls ``reward_func(prompts=..., completions=..., completion_ids=..., **columns)`` once per
generation batch; every extra dataset column (here ``label`` and ``id``) arrives as a list
repeated per generation, and conversational completions as ``[{"role": "assistant", "content": ...}]``.
:class:`DigRewardFunc` scores each completion with dig-core's task + reward
(:class:`dig_core.training.reward_log.SampleScorer`, shared with the ``openrlhf`` trainer), appends one line
per completion to ``RUN_DIR/<stage>/rewards.jsonl`` and **never raises** (a bad label, a
non-text completion or any scoring error gives reward 0 and an ``error`` field in the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.training import PresentationMeans
from dig_core.training.reward_log import SampleScorer

logger = logging.getLogger("dig_train_trl.reward")


def completion_text(completion: Any) -> Any:
    """The answer text of one TRL completion: a string as is; for a conversation, the last
    assistant message's content (text parts joined). Anything else is returned unchanged (the
    scorer turns it into reward 0 with an error)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        if isinstance(content, list):
            return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
        return content
    return completion


class DigRewardFunc:
    """``reward_func`` for one stage; ``__name__`` is what TRL logs (``rewards/dig/mean``).

    ``advance``: optional :class:`AdvanceTracker` fed with every scored record;
    ``prompt_opens_think``: the model's generation prompt opens ``<think>``, so a completion without
    ``</think>`` scores format 0 (:class:`~dig_core.training.reward_log.SampleScorer`)."""

    __name__ = "dig"

    def __init__(self, cfg: Any, run_dir: str | Path | None, stage: str | None,
                 advance: AdvanceTracker | None = None, prompt_opens_think: bool | None = None):
        self.scorer = SampleScorer(cfg, run_dir, stage, logger, prompt_opens_think)
        self.advance = advance

    def __call__(self, completions: Sequence[Any] | None = None, label: Sequence[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        try:
            n = len(completions)
        except Exception:  # noqa: BLE001 - not a sequence: nothing to score
            self.scorer.warn("batch", f"completions is not a sequence ({type(completions).__name__})")
            return []
        try:
            labels = list(label) if label is not None else []
            if len(labels) != n:
                self.scorer.warn("batch", f"{n} completions but {len(labels)} labels; missing labels score 0")
                labels = (labels + [None] * n)[:n]
            records = [self.scorer.score_sample(completion_text(c), lab) for c, lab in zip(completions, labels)]
        except Exception as e:  # noqa: BLE001 - never raise into TRL
            self.scorer.warn("error", f"cannot score batch: {type(e).__name__}: {e}")
            return [0.0] * n
        self.scorer.log(records)
        if self.advance is not None:
            try:
                self.advance.feed(records)
            except Exception as e:  # noqa: BLE001
                self.scorer.warn("advance", f"advance rule failed: {type(e).__name__}: {e}")
        return [float(r["reward"]) for r in records]

    def close(self) -> None:
        self.scorer.close()


class AdvanceTracker:
    """Feeds each prompt's mean accuracy reward (over its G completions) to the curriculum's advance
    rule; :attr:`decided` once it fires (the stage then stops after the current step)."""

    def __init__(self, stage: Any, rule: Any, group_size: int):
        from dig_core.curriculum import CurriculumState

        self.state = CurriculumState([stage], rule)
        self.means = PresentationMeans(group_size)
        self.presentations = 0

    @property
    def decided(self) -> bool:
        return self.state.finished

    def feed(self, records: Sequence[dict[str, Any]]) -> None:
        for rec in records:
            if self.decided:
                return
            if rec.get("id") is None:
                continue  # a sample whose label could not be read belongs to no prompt
            mean = self.means.add(rec)
            if mean is not None:
                self.presentations += 1
                self.state.record(mean)


def make_callbacks(train_log: Path, advance: AdvanceTracker | None):
    """TRL callbacks: every logged metrics dict appended to ``train_log`` as one JSON line, and a
    stop after the step in which the advance rule fired."""
    from transformers import TrainerCallback

    class LogToFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                try:
                    with open(train_log, "a") as f:
                        f.write(json.dumps({"step": state.global_step, **logs}, default=str) + "\n")
                except OSError as e:
                    logger.warning("cannot append to %s: %s", train_log, e)

    class StopOnAdvance(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if advance is not None and advance.decided:
                control.should_training_stop = True
            return control

    return [LogToFile(), StopOnAdvance()]
