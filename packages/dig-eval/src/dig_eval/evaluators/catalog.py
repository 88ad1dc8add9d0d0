"""The paper's benchmarks (Tables 1-3), one evaluator class each, and the lmms-eval bridge."""

from dig_eval.evaluators.cvbench import CVBenchEvaluator
from dig_eval.evaluators.hallusionbench import HallusionBenchEvaluator
from dig_eval.evaluators.hrbench import HRBenchEvaluator
from dig_eval.evaluators.mmvp import MMVPEvaluator
from dig_eval.evaluators.pope import POPEEvaluator
from dig_eval.evaluators.refcoco import RefCOCOEvaluator, RefCOCOgEvaluator, RefCOCOPlusEvaluator
from dig_eval.evaluators.vsr import VSREvaluator
from dig_eval.evaluators.vstar import VStarEvaluator
from dig_eval.lmms.evaluator import LmmsEvalEvaluator

BENCHMARKS: list[type] = [
    RefCOCOEvaluator, RefCOCOPlusEvaluator, RefCOCOgEvaluator, POPEEvaluator, HallusionBenchEvaluator,
    MMVPEvaluator, CVBenchEvaluator, VStarEvaluator, HRBenchEvaluator, VSREvaluator, LmmsEvalEvaluator,
]
