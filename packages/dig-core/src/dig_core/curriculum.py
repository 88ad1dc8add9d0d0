"""Curriculum (paper §3.4): the paper's stages and the rules that decide when to move on.

A trainer logs one accuracy reward per *prompt presentation*: each time an image pair of the
current stage is used for an update it appends one number (for GRPO, the mean r_acc over the pair's
G rollouts). That list, since the stage began, is the ``history`` an :class:`AdvanceRule` reads.
:class:`CurriculumState` keeps it and reports the current stage.

Rules (plugin kind ``advance_rule``, ``curriculum.advance: {name, params}``):

* ``fixed`` (default): advance after ``ceil(stage.pairs * epochs)`` presentations, i.e. after
  ``epochs`` passes over the stage's pairs.
* ``plateau``: the history is cut into consecutive windows of ``window`` presentations; advance
  when the last complete window's mean reaches ``threshold``, or when the last ``patience``
  windows all fail to beat the best earlier window's mean by ``min_delta``; ``max_epochs``
  (optional) caps the stage like ``fixed``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from dig_core import hookimpl
from dig_core.config import StageConfig
from dig_core.plugins.base import Plugin

#: the paper's curriculum (§3.4, §4.1): 1,600 pairs each; DiG-Mix has up to four differences and
#: does not tell the model how many
PAPER_STAGES: tuple[StageConfig, ...] = (
    StageConfig(name="dig-1", k_min=1, k_max=1, count_in_prompt=True, pairs=1600),
    StageConfig(name="dig-2", k_min=2, k_max=2, count_in_prompt=True, pairs=1600),
    StageConfig(name="dig-mix", k_min=1, k_max=4, count_in_prompt=False, pairs=1600),
)


class AdvanceRule(Plugin):
    """Base of advance rules: ``should_advance(stage, history)`` -> move to the next stage now?"""

    def should_advance(self, stage: Any, history: Sequence[float]) -> bool:
        raise NotImplementedError


@dataclass
class FixedConfig:
    #: passes over the stage's pairs before advancing (fractions allowed)
    epochs: float = 1.0


class FixedAdvance(AdvanceRule):
    """Advance after ``ceil(stage.pairs * epochs)`` logged presentations."""

    PLUGIN_NAME: ClassVar[str] = "fixed"
    Config: ClassVar[type] = FixedConfig

    @classmethod
    def validate_config(cls, cfg: FixedConfig) -> list[str]:
        return [] if cfg.epochs > 0 else [f"epochs must be > 0, got {cfg.epochs}"]

    def budget(self, stage: Any) -> int:
        return math.ceil(stage.pairs * self.config.epochs)

    def should_advance(self, stage: Any, history: Sequence[float]) -> bool:
        return len(history) >= self.budget(stage)


@dataclass
class PlateauConfig:
    #: presentations per window whose mean accuracy reward is compared
    window: int = 100
    #: a window must beat the best earlier window by more than this to count as improving
    min_delta: float = 0.01
    #: advance after this many consecutive non-improving windows
    patience: int = 2
    #: advance as soon as a window's mean reaches this (None: off)
    threshold: Optional[float] = None
    #: advance anyway after this many passes over the stage's pairs (None: no cap)
    max_epochs: Optional[float] = None


class PlateauAdvance(AdvanceRule):
    """Advance when the windowed mean accuracy reward stops improving or reaches a threshold."""

    PLUGIN_NAME: ClassVar[str] = "plateau"
    Config: ClassVar[type] = PlateauConfig

    @classmethod
    def validate_config(cls, cfg: PlateauConfig) -> list[str]:
        errors = []
        if cfg.window < 1:
            errors.append(f"window must be >= 1, got {cfg.window}")
        if cfg.patience < 1:
            errors.append(f"patience must be >= 1, got {cfg.patience}")
        if cfg.min_delta < 0:
            errors.append(f"min_delta must be >= 0, got {cfg.min_delta}")
        if cfg.threshold is not None and not (0 <= cfg.threshold <= 1):
            errors.append(f"threshold must be in [0, 1] or null, got {cfg.threshold}")
        if cfg.max_epochs is not None and cfg.max_epochs <= 0:
            errors.append(f"max_epochs must be > 0 or null, got {cfg.max_epochs}")
        return errors

    def window_means(self, history: Sequence[float]) -> list[float]:
        w = self.config.window
        return [sum(history[i:i + w]) / w for i in range(0, len(history) - w + 1, w)]

    def should_advance(self, stage: Any, history: Sequence[float]) -> bool:
        c = self.config
        if c.max_epochs is not None and len(history) >= math.ceil(stage.pairs * c.max_epochs):
            return True
        means = self.window_means(history)
        if not means:
            return False
        if c.threshold is not None and means[-1] >= c.threshold:
            return True
        if len(means) <= c.patience:
            return False
        best_before = max(means[:-c.patience])
        return max(means[-c.patience:]) < best_before + c.min_delta


class CurriculumState:
    """Where a trainer is in the curriculum. Feed it accuracy rewards with :meth:`record`; read
    :attr:`stage` (None once the last stage is done)."""

    def __init__(self, stages: Sequence[Any], rule: AdvanceRule):
        if not stages:
            raise ValueError("a curriculum needs at least one stage")
        self.stages = list(stages)
        self.rule = rule
        self.index = 0
        self.history: list[float] = []
        self.transitions: list[int] = []  # total presentations seen when each stage ended
        self._seen = 0
        self._settle()

    @classmethod
    def from_config(cls, cfg, pm=None) -> CurriculumState:
        """From a loaded pipeline config: ``curriculum.stages`` and ``curriculum.advance``."""
        from dig_core.config import instantiate

        return cls(list(cfg.curriculum.stages), instantiate(cfg, "curriculum.advance", "advance_rule", pm))

    @property
    def finished(self) -> bool:
        return self.index >= len(self.stages)

    @property
    def stage(self) -> Any | None:
        return None if self.finished else self.stages[self.index]

    def _settle(self) -> bool:
        """Advance while the rule says so (a stage with 0 pairs is skipped); True if it moved."""
        moved = False
        while not self.finished and self.rule.should_advance(self.stages[self.index], self.history):
            self.index += 1
            self.history = []
            self.transitions.append(self._seen)
            moved = True
        return moved

    def record(self, rewards: float | Iterable[float]) -> bool:
        """Log one accuracy reward per presentation (a number or several); True when this moved
        to a later stage. Rewards logged after the last stage are ignored."""
        values = [float(rewards)] if isinstance(rewards, (int, float)) else [float(r) for r in rewards]
        moved = False
        for v in values:
            if self.finished:
                break
            self.history.append(v)
            self._seen += 1
            moved = self._settle() or moved
        return moved

    def state_dict(self) -> dict[str, Any]:
        """What to checkpoint; :meth:`load_state_dict` restores it."""
        return {"index": self.index, "history": list(self.history), "transitions": list(self.transitions),
                "seen": self._seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.index = int(state["index"])
        self.history = [float(v) for v in state["history"]]
        self.transitions = [int(v) for v in state["transitions"]]
        self._seen = int(state["seen"])


@hookimpl
def register_advance_rules() -> list[type]:
    return [FixedAdvance, PlateauAdvance]
