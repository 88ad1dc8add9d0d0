"""``trainer.params`` of the ``trl`` trainer (validated by OmegaConf when config names it).

The GRPO settings map to the paper's (group size G, KL beta per stage with beta relaxed in the
first stage, clip range epsilon); docs/training.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from dig_core.training import TrainerConfig, report_to_errors, stage_overrides, trainer_config_errors

from dig_train_trl.data import AUGMENTATIONS, GROUNDING_IMAGES

#: TRL 1.16 GRPOTrainer loss aggregations (``GRPOConfig.loss_type``) accepted here
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
DEVICES = ("auto", "cpu", "cuda")
#: learning-rate schedules of the SFT warm start (dig_train_trl.sft.lr_factor)
SFT_SCHEDULES = ("constant", "cosine", "linear")
#: why the sampling temperature must be positive
TEMPERATURE_WANT = ("> 0 (GRPO compares a group of sampled completions of each prompt; at temperature 0 "
                    "they would all be the same greedy answer, and TRL cannot sample)")
#: what the SFT warm start can teach: dig answers, grounding answers, or both rows mixed
SFT_TASKS = ("dig", "grounding", "dig+grounding")


@dataclass
class StageParams:
    """Per-stage overrides (``trainer.params.stages.<stage name>.<key>``); None = the global value."""

    beta: Optional[float] = None
    learning_rate: Optional[float] = None
    temperature: Optional[float] = None
    max_steps: Optional[int] = None


@dataclass
class TRLConfig(TrainerConfig):
    """``trainer.params`` of ``trl``: the shared :class:`~dig_core.training.TrainerConfig` fields
    (model, coords, min/max_pixels — saved with each checkpoint —, data, run_dir) plus TRL's settings."""

    #: a Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint, or a tiny one from `dig tiny-model`
    model: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    run_dir: str = "runs/dig-trl"
    #: cpu, cuda, or auto (cuda when available)
    device: str = "auto"
    #: bf16 mixed precision; None = on when training on a GPU that supports it
    bf16: Optional[bool] = None
    gradient_checkpointing: bool = False

    # -- GRPO ----------------------------------------------------------------------------------------
    #: group size G: completions sampled per prompt (paper eq. 4)
    num_generations: int = 8
    #: prompts per optimiser micro-step (TRL's per_device_train_batch_size = prompts_per_step * G)
    prompts_per_step: int = 1
    gradient_accumulation_steps: int = 1
    #: policy updates per generated batch (mu); > 1 makes the clipped ratio matter (paper eq. 5)
    num_iterations: int = 1
    learning_rate: float = 1.0e-6
    lr_scheduler_type: str = "constant"
    warmup_ratio: float = 0.0
    #: KL coefficient beta (paper eq. 6); 0 = no reference model
    beta: float = 0.01
    #: beta of the first GRPO stage: the paper relaxes the KL term early (§3.3); None = beta
    first_stage_beta: Optional[float] = 0.001
    #: clip range epsilon of the ratio (paper eq. 5); epsilon_high None = symmetric
    epsilon: float = 0.2
    epsilon_high: Optional[float] = None
    #: TRL's loss aggregation; "grpo" = the paper's per-sequence mean
    loss_type: str = "grpo"
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    #: cap on optimiser steps per stage (None: the curriculum's epochs decide)
    max_steps: Optional[int] = None
    #: curriculum stages trained with GRPO, in curriculum order (None = all; [] = none: a run of the
    #: warm start alone, e.g. a base-model stage)
    grpo_stages: Optional[list[str]] = None
    #: passes over a stage's pairs when curriculum.advance is not fixed and has no max_epochs
    plateau_max_epochs: float = 3.0
    #: per-stage overrides keyed by stage name (keys: beta, learning_rate, temperature, max_steps)
    stages: dict[str, Any] = field(default_factory=dict)

    # -- checkpoints ---------------------------------------------------------------------------------
    #: TRL checkpoint (model + optimiser) every N steps in <stage>/trl/ for resume; -1 = never
    save_steps: int = 50
    save_total_limit: int = 2
    #: keep <stage>/trl/ after the stage finished (its final model is <stage>/checkpoint either way)
    keep_trl_checkpoints: bool = False
    #: None = the config's top-level seed
    seed: Optional[int] = None

    # -- logging -------------------------------------------------------------------------------------
    #: experiment trackers for TRL's metrics: tensorboard (<stage>/tensorboard/), wandb (needs the
    #: wandb package and WANDB_API_KEY or WANDB_MODE=offline; WANDB_PROJECT names the project); [] = none
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])

    # -- SFT warm start ------------------------------------------------------------------------------
    #: passes over the warm-start pairs before the GRPO stages; 0 = no warm start
    sft_epochs: float = 0.0
    #: cap on warm-start optimiser steps (None: sft_epochs decides)
    sft_max_steps: Optional[int] = None
    sft_learning_rate: float = 1.0e-4
    #: learning-rate schedule of the warm start after its warm-up: constant, cosine or linear (to 0)
    sft_lr_scheduler_type: str = "constant"
    #: warm-start steps of linear learning-rate warm-up
    sft_warmup_steps: int = 0
    #: AdamW weight decay of the warm start
    sft_weight_decay: float = 0.0
    #: augmentations of the warm start's rows, each applied to a drawn row with probability 1/2:
    #: hflip (mirror the images and their boxes), swap (I_b first, I_a second); the labels follow
    sft_augment: list[str] = field(default_factory=list)
    sft_batch_size: int = 4
    #: curriculum stages whose pairs the warm start trains on; None = every stage's
    sft_stages: Optional[list[str]] = None
    #: a DiG dataset folder the warm start trains on instead of ``data`` (its ``sft_stages``), e.g. a
    #: split generated with another seed: then GRPO's pairs are not ones the warm start supervised
    #: (with the same pairs, GRPO's training rewards are inflated); None = ``data``
    sft_data: Optional[str] = None
    #: what the warm start teaches: dig (the DiG answer to each pair's prompt) or grounding (the box
    #: of one described object in one image, from the pairs' exact boxes: dig_core.grounding; the
    #: base-model stage of a model trained from scratch, docs/training.md "DiG-nano"), or
    #: dig+grounding (both kinds of rows drawn from one pool, so the DiG answer is learnt beside the
    #: grounding it can reuse; the eval scores the DiG rows)
    sft_task: str = "dig"
    #: how the warm start shows a grounding row: one (its own image) or pair (I_a then I_b, the
    #: DiG prompt's layout)
    sft_grounding_images: str = "one"
    #: name of the warm-start stage in the run folder
    sft_stage_name: str = "sft"
    #: greedy answers of this many pairs (grounding samples) are scored every sft_eval_steps
    #: (<stage>/eval.jsonl): the first ones of sft_eval_data, else of the training data
    sft_eval_pairs: int = 8
    sft_eval_steps: int = 10
    #: a held-out DiG dataset folder (e.g. the nano bench) the warm start's eval scores instead of
    #: training pairs: held-out curves (a model that memorises shows it); None = training pairs
    sft_eval_data: Optional[str] = None


def stage_params(cfg: TRLConfig, name: str) -> StageParams:
    """The overrides of stage ``name``; ValueError naming a bad key or value."""
    sp = stage_overrides(cfg.stages, name, StageParams)
    if sp.max_steps is not None and sp.max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {sp.max_steps!r}")
    if sp.beta is not None and sp.beta < 0:
        raise ValueError(f"beta must be >= 0, got {sp.beta!r}")
    if sp.learning_rate is not None and not sp.learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {sp.learning_rate!r}")
    if sp.temperature is not None and not sp.temperature > 0:
        raise ValueError(f"temperature must be {TEMPERATURE_WANT}, got {sp.temperature!r}")
    return sp


def stage_beta(cfg: TRLConfig, name: str, first: bool) -> float:
    """KL beta of a GRPO stage: its override, else first_stage_beta for the first GRPO stage, else beta."""
    sp = stage_params(cfg, name)
    if sp.beta is not None:
        return sp.beta
    if first and cfg.first_stage_beta is not None:
        return float(cfg.first_stage_beta)
    return float(cfg.beta)


def validate(cfg: TRLConfig) -> list[str]:
    """Checks beyond field types; one message per problem, naming the key and what is allowed."""
    errors: list[str] = trainer_config_errors(cfg)

    def check(name: str, ok: bool, want: str) -> None:
        if not ok:
            errors.append(f"{name} must be {want}, got {getattr(cfg, name)!r}")

    for name in ("num_generations", "prompts_per_step", "gradient_accumulation_steps", "num_iterations",
                 "max_new_tokens", "save_total_limit", "sft_batch_size", "sft_eval_pairs", "sft_eval_steps"):
        check(name, getattr(cfg, name) >= 1, ">= 1")
    check("num_generations", cfg.num_generations >= 2, ">= 2 (GRPO compares a group of completions)")
    for name in ("learning_rate", "sft_learning_rate", "plateau_max_epochs", "top_p"):
        check(name, getattr(cfg, name) > 0, "> 0")
    for name in ("beta", "epsilon", "warmup_ratio", "sft_epochs", "sft_warmup_steps", "sft_weight_decay"):
        check(name, getattr(cfg, name) >= 0, ">= 0")
    check("temperature", cfg.temperature > 0, TEMPERATURE_WANT)
    check("top_p", cfg.top_p <= 1, "<= 1")
    check("warmup_ratio", cfg.warmup_ratio < 1, "< 1 (a fraction of the stage's steps)")
    if cfg.first_stage_beta is not None:
        check("first_stage_beta", cfg.first_stage_beta >= 0, ">= 0 or null")
    if cfg.epsilon_high is not None:
        check("epsilon_high", cfg.epsilon_high >= cfg.epsilon, ">= epsilon or null")
    if cfg.max_steps is not None:
        check("max_steps", cfg.max_steps >= 1, ">= 1 or null")
    if cfg.sft_max_steps is not None:
        check("sft_max_steps", cfg.sft_max_steps >= 1, ">= 1 or null")
    check("save_steps", cfg.save_steps == -1 or cfg.save_steps >= 1, ">= 1, or -1 for no TRL checkpoints")
    if cfg.loss_type not in LOSS_TYPES:
        errors.append(f"loss_type: {cfg.loss_type!r} is not allowed; allowed: {list(LOSS_TYPES)}")
    if cfg.sft_task not in SFT_TASKS:
        errors.append(f"sft_task: {cfg.sft_task!r} is not allowed; allowed: {list(SFT_TASKS)}")
    if cfg.sft_grounding_images not in GROUNDING_IMAGES:
        errors.append(f"sft_grounding_images: {cfg.sft_grounding_images!r} is not allowed; "
                      f"allowed: {list(GROUNDING_IMAGES)}")
    unknown = [a for a in cfg.sft_augment if a not in AUGMENTATIONS]
    if unknown:
        errors.append(f"sft_augment: {unknown} not allowed; allowed: {list(AUGMENTATIONS)}")
    if cfg.sft_lr_scheduler_type not in SFT_SCHEDULES:
        errors.append(f"sft_lr_scheduler_type: {cfg.sft_lr_scheduler_type!r} is not allowed; "
                      f"allowed: {list(SFT_SCHEDULES)}")
    if cfg.device not in DEVICES:
        errors.append(f"device: {cfg.device!r} is not allowed; allowed: {list(DEVICES)}")
    errors += report_to_errors(cfg.report_to)
    if not cfg.sft_stage_name or "/" in cfg.sft_stage_name or cfg.sft_stage_name in (".", ".."):
        errors.append(f"sft_stage_name {cfg.sft_stage_name!r} cannot be a folder name")
    for name in cfg.stages or {}:
        try:
            stage_params(cfg, name)
        except ValueError as e:
            errors.append(f"stages.{name}: {e}")
    return errors
