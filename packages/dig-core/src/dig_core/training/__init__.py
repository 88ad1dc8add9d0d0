"""Training: what every trainer plugin shares.

* :mod:`~dig_core.training.trainer` — the :class:`Trainer` interface, stage chaining and resume,
  choosing the trainer, ``report_to``;
* :mod:`~dig_core.training.run_dir` — the run folder (``run.json``, ``<stage>/rewards.jsonl``,
  ``checkpoint``, ``DONE``) and reading its reward log back;
* :mod:`~dig_core.training.reward_log` — scoring each sampled answer (through
  :func:`dig_core.scoring.score_answer`), the ``rewards.jsonl`` writer, the presentation means
  advance rules read;
* :mod:`~dig_core.training.labels` — the label a trainer attaches to each sample;
* :mod:`~dig_core.training.plots` — reward curves (the paper's Fig. 5).

``from dig_core.training import X`` keeps working for the names below.
"""

from dig_core.training.reward_log import PresentationMeans
from dig_core.training.run_dir import (
    CHECKPOINT,
    DONE,
    REWARD_FIELDS,
    REWARDS,
    RUN_CONFIG,
    RUN_MANIFEST,
    TENSORBOARD,
    TRAIN_LOG,
    RewardTail,
    RunDir,
    StagePaths,
    TrainError,
    iter_rewards,
    read_rewards,
)
from dig_core.training.trainer import (
    REPORT_TO,
    TRAIN_SECTIONS,
    StageRun,
    Trainer,
    TrainerConfig,
    lr_scheduler_with_warmup,
    plan_stages,
    report_integrations,
    report_to_errors,
    report_to_problems,
    resolve_trainer,
    stage_overrides,
    trainer_config_errors,
    wandb_credentials_missing,
)

__all__ = [
    "CHECKPOINT", "DONE", "REPORT_TO", "REWARDS", "REWARD_FIELDS", "RUN_CONFIG", "RUN_MANIFEST", "TENSORBOARD",
    "TRAIN_LOG", "TRAIN_SECTIONS", "PresentationMeans", "RewardTail", "RunDir", "StagePaths", "StageRun",
    "TrainError", "Trainer", "TrainerConfig", "iter_rewards", "lr_scheduler_with_warmup", "plan_stages",
    "read_rewards", "report_integrations", "report_to_errors", "report_to_problems", "resolve_trainer",
    "stage_overrides", "trainer_config_errors", "wandb_credentials_missing",
]
