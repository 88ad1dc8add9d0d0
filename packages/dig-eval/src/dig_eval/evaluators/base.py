"""The evaluator interface: a benchmark's samples, how to score one answer, how to aggregate.

An evaluator is a :class:`Evaluator` registered through ``register_evaluators`` and selected with
``evaluator: {name, params}`` (or an entry of ``evaluators: [...]``). The runner
(:mod:`dig_eval.run`) asks it for samples, sends their requests to the model adapter, stores one
prediction line per sample (resumable), then scores every answer and aggregates the metrics.

A sample left without an answer (the adapter returned None: a ``predictions`` file without its line)
is scored as a wrong answer by default (:meth:`Evaluator.score_missing`), as the official protocols
count every question; the evaluator param ``missing: exclude`` leaves it out of the metrics instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dig_core.plugins.base import Plugin

from dig_eval.adapters.base import ModelAdapter, Request

#: what ``missing`` allows: ``wrong`` (scored as a wrong answer, the default) or ``exclude``
MISSING = ("wrong", "exclude")


@dataclass
class EvalConfig:
    """Params every shipped evaluator takes (its ``Config`` subclasses this)."""

    #: a sample with no answer (the adapter returned none, e.g. a predictions file without its line):
    #: wrong = scored as a wrong answer (every question counts, as in the official protocols);
    #: exclude = left out of the metrics (partial runs). Either way counts.missing lists how many
    missing: str = "wrong"


#: the old name of :class:`EvalConfig` (third-party evaluators may subclass it)
EvalParams = EvalConfig


def missing_policy(evaluator: Evaluator) -> str:
    """The evaluator's ``missing`` param (``wrong`` for evaluators whose config has none)."""
    return getattr(evaluator.config, "missing", MISSING[0])


@dataclass
class Sample:
    """One benchmark item: the request to send and everything the scorer needs (``target``,
    JSON-serialisable, stored beside the prediction)."""

    request: Request
    target: dict[str, Any] = field(default_factory=dict)


class Evaluator(Plugin):
    """Base of evaluators. :attr:`benchmark` (``PLUGIN_NAME`` unless overridden) is the
    ``benchmark`` field of its requests and predictions."""

    @classmethod
    def validate_config(cls, cfg: Any) -> list[str]:
        """Checks ``missing`` (:class:`EvalConfig`); subclasses extend the list."""
        value = getattr(cfg, "missing", MISSING[0])
        return [] if value in MISSING else [f"missing: unknown {value!r}; allowed: {list(MISSING)}"]

    @property
    def benchmark(self) -> str:
        """The benchmark name: the ``benchmark`` field of requests and predictions and the run
        sub-folder. ``PLUGIN_NAME`` unless the evaluator lets config rename it (``dig``: ``name``)."""
        return self.PLUGIN_NAME

    def bind(self, cfg: Any) -> None:
        """Called by the runner with the whole loaded config (an OmegaConf ``DictConfig``) before
        :meth:`samples`, for evaluators that share pipeline sections (``dig`` reads ``task`` and
        ``reward``). Default: nothing."""

    def samples(self, model: ModelAdapter) -> list[Sample]:
        """Every sample of the benchmark, in a fixed order. ``model`` is passed so prompts can
        state the model's coordinate convention. A missing or malformed data file raises
        :class:`dig_core.errors.DigError` naming the benchmark, the path and the expected layout."""
        raise NotImplementedError

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        """The per-sample record of one answer (parsed answer, correctness, IoU, ...)."""
        raise NotImplementedError

    def score_missing(self, sample: Sample, model: ModelAdapter) -> dict[str, Any]:
        """The record of a sample without an answer, scored as a wrong answer (``missing: wrong``).
        Default: :meth:`score` of an empty answer, which every rule here reads as no answer (no
        letter, no box, unclear); an evaluator whose rule reads something from an empty answer
        (POPE's: no negation means yes) overrides this."""
        return self.score(sample, "", model)

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Aggregate per-sample records into the benchmark's metrics (percentages where the
        paper reports percentages), keyed by metric name."""
        raise NotImplementedError
