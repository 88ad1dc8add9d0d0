"""Evaluators shipped with dig-eval: ``dig`` (DiG-Bench and any DiG split) and the paper's benchmarks."""

from dig_eval.evaluators.catalog import BENCHMARKS
from dig_eval.evaluators.dig import DigEvaluator
from dig_eval.evaluators.grounding import GroundingEvaluator

EVALUATORS: list[type] = [DigEvaluator, GroundingEvaluator, *BENCHMARKS]
