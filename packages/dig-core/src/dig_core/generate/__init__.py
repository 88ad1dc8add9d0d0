"""``dig generate``: scenes -> edits -> renders -> labelled pairs -> dataset folder.

- :mod:`~dig_core.generate.planning`: one work item per pair, made when read (``plan``, ``Plan``);
- :mod:`~dig_core.generate.worker`: one valid pair per work item (``PairMaker``);
- :mod:`~dig_core.generate.executors`: where the workers run (``local`` processes, ``ray`` actors);
- :mod:`~dig_core.generate.driver`: the run (``generate``): folder, manifest, results in item order.
"""

from dig_core.generate.driver import data_config_of, generate, split_workers, summarize
from dig_core.generate.planning import (
    Plan,
    PlanIds,
    WorkItem,
    attempt_seed,
    pair_id,
    pair_seed,
    plan,
    planned_k,
    seed_head,
)
from dig_core.generate.worker import (
    REJECTION_REASONS,
    RULE_ORDER,
    STEER_DRAWS,
    PairMaker,
    PairResult,
    pair_record,
)

__all__ = [
    "REJECTION_REASONS", "RULE_ORDER", "STEER_DRAWS", "PairMaker", "PairResult", "Plan", "PlanIds", "WorkItem",
    "attempt_seed", "data_config_of", "generate", "pair_id", "pair_record", "pair_seed", "plan", "planned_k",
    "seed_head", "split_workers", "summarize",
]
