"""``trainer.params`` of the ``openrlhf`` trainer (validated by OmegaConf when config names it).

Every hyperparameter the launcher passes to ``openrlhf.cli.train_ppo_ray`` is a field here; the
values chosen for the paper preset and why are in docs/train-openrlhf.md ("Hyperparameters").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from dig_core.training import TrainerConfig, report_to_errors, stage_overrides, trainer_config_errors

#: KL estimators OpenRLHF accepts (--algo.kl.estimator)
KL_ESTIMATORS = ("k1", "k2", "k3")
#: advantage estimators that need no critic (VLM training in OpenRLHF cannot use a critic)
ADVANTAGE_ESTIMATORS = ("group_norm", "dr_grpo", "rloo", "reinforce_baseline")
PARAM_DTYPES = ("bf16", "fp16")
ZERO_STAGES = (0, 1, 2, 3)
#: --actor.lr_scheduler values OpenRLHF can build from warmup + total steps alone (transformers'
#: get_scheduler names; OpenRLHF's own default is cosine_with_min_lr with min_lr_ratio 0.1)
LR_SCHEDULERS = ("constant_with_warmup", "constant", "linear", "cosine", "cosine_with_min_lr")
#: --actor.loss_agg_mode choices of OpenRLHF 0.11 (paper eq. 6 is seq-mean-token-mean)
LOSS_AGG_MODES = ("seq-mean-token-mean", "token-mean")


@dataclass
class StageParams:
    """Per-stage overrides (``trainer.params.stages.<stage name>``); None = the global value."""

    #: KL coefficient beta (0 = no KL term and no reference model)
    kl_coef: Optional[float] = None
    kl_estimator: Optional[str] = None
    actor_lr: Optional[float] = None
    temperature: Optional[float] = None


@dataclass
class OpenRLHFConfig(TrainerConfig):
    """``trainer.params`` of ``openrlhf``: the shared :class:`~dig_core.training.TrainerConfig`
    fields (model, coords, min/max_pixels, data, run_dir) plus OpenRLHF's settings. The processor
    limits must match the model folder's saved processor (OpenRLHF and vLLM load it as saved)."""

    model: str = "Qwen/Qwen3-VL-8B-Thinking"
    #: where exports, per-stage logs, rewards.jsonl and checkpoints go
    run_dir: str = "runs/dig-openrlhf"
    #: OpenRLHF --data.max_len (prompt with images + response) and --rollout.max_new_tokens
    max_len: int = 8192
    max_new_tokens: int = 4096

    # -- cluster -------------------------------------------------------------------------------------
    #: GPUs per node and nodes for the actor (and the reference model, colocated with it)
    gpus_per_node: int = 8
    num_nodes: int = 1
    #: address of an existing Ray cluster (multi-node: "auto" on the head node, or "HOST:6379");
    #: None = OpenRLHF starts a local Ray instance on this machine
    ray_address: Optional[str] = None
    #: vLLM rollout engines; None = one per GPU group (num_nodes * gpus_per_node / vllm_tensor_parallel_size)
    vllm_num_engines: Optional[int] = None
    vllm_tensor_parallel_size: int = 1
    vllm_gpu_memory_utilization: float = 0.6
    #: vLLM and DeepSpeed release GPU memory while the other works (colocate_all only)
    vllm_enable_sleep: bool = True
    #: actor, reference and vLLM engines share the same GPUs
    colocate_all: bool = True
    #: the command that starts training, before the flags; None = [this Python, -m,
    #: openrlhf.cli.train_ppo_ray] (e.g. [ray, job, submit, --address, ..., --, python3, -m, ...])
    entrypoint: Optional[list[str]] = None

    # -- GRPO ----------------------------------------------------------------------------------------
    #: group size G: responses sampled per prompt
    n_samples_per_prompt: int = 8
    advantage_estimator: str = "group_norm"
    #: prompts per rollout step and samples per optimiser step (global)
    rollout_batch_size: int = 32
    train_batch_size: int = 128
    #: per-GPU micro batches for training and for computing log-probs of rollouts
    micro_train_batch_size: int = 1
    micro_rollout_batch_size: int = 2
    actor_lr: float = 1.0e-6
    lr_warmup_ratio: float = 0.0
    #: --actor.lr_scheduler: constant after the warmup (verl's default); one of LR_SCHEDULERS
    lr_scheduler: str = "constant_with_warmup"
    #: --actor.loss_agg_mode: seq-mean-token-mean averages each response's tokens, then the G
    #: responses (paper eq. 6); token-mean (OpenRLHF's default) averages all tokens of a batch
    loss_agg_mode: str = "seq-mean-token-mean"
    temperature: float = 1.0
    top_p: float = 1.0
    #: PPO/GRPO clip range epsilon (paper eq. 5)
    eps_clip: float = 0.2
    #: KL regularisation (paper eq. 6) as a loss term with this estimator and coefficient beta
    kl_estimator: str = "k3"
    kl_coef: float = 0.01
    #: beta of the first curriculum stage: the paper relaxes the KL regularisation early (§3.3);
    #: None = kl_coef
    first_stage_kl_coef: Optional[float] = 0.001
    #: per-stage overrides keyed by stage name, e.g. {dig-mix: {temperature: 0.9}} (win over the above)
    #: (keys: the fields of StageParams)
    stages: dict[str, Any] = field(default_factory=dict)
    #: passes over a stage's pairs when curriculum.advance is plateau without max_epochs
    plateau_max_episodes: int = 3

    # -- model / memory --------------------------------------------------------------------------------
    freeze_visual_encoder: bool = False
    zero_stage: int = 3
    param_dtype: str = "bf16"
    gradient_checkpointing: bool = True
    #: --ds.attn_implementation (flash_attention_2 needs flash-attn; sdpa works without it)
    attn_implementation: str = "flash_attention_2"

    # -- checkpoints -------------------------------------------------------------------------------------
    #: save a checkpoint every N steps (the plateau rule stops a stage at the next one); -1 = never
    save_steps: int = 20
    #: also save Hugging Face weights at each checkpoint (<stage>/ckpt/global_step<N>_hf)
    save_hf: bool = True
    #: DeepSpeed checkpoints kept per stage (resume inside a stage)
    max_ckpt_num: int = 2
    #: keep a finished stage's DeepSpeed states (<stage>/ckpt/_actor) and superseded
    #: global_step<N>_hf folders; false = delete them once the stage's DONE marker is written
    keep_checkpoints: bool = False
    #: None = the config's top-level seed
    seed: Optional[int] = None
    #: experiment trackers, OpenRLHF's own loggers: tensorboard (--logger.tensorboard_dir
    #: <stage>/tensorboard), wandb (--logger.wandb.*; the key comes from WANDB_API_KEY or `wandb login`,
    #: or set WANDB_MODE=offline); [] = none
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    #: further flags passed to train_ppo_ray unchanged, e.g. ["--logger.wandb.project", "dig"]
    extra_args: list[str] = field(default_factory=list)


def stage_params(cfg: OpenRLHFConfig, name: str) -> StageParams:
    """The overrides of stage ``name`` (all None when it has none); ValueError naming a bad key or value."""
    return stage_overrides(cfg.stages, name, StageParams)


#: what a hub model id looks like (owner/name)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_folder_problem(model: str, key: str = "trainer.params.model") -> str | None:
    """Why ``model`` is not a local model folder (the export, OpenRLHF and vLLM read the model from
    disk; nothing is downloaded at run time), with how to get the weights; None when it is one."""
    path = Path(model)
    if (path / "config.json").is_file():
        return None
    if path.is_dir():
        return f"{key}={model!r}: the folder has no config.json; set {key} to a Hugging Face model folder"
    if _HUB_ID.match(model) and not path.parent.is_dir():
        local = f"models/{path.name}"
        hub = model
    else:
        local, hub = model, "OWNER/NAME"
    return (f"{key}={model!r} is not a local model folder: the export, OpenRLHF and vLLM read the model from "
            f"disk (no download at run time). Get the weights with `hf download {hub} --local-dir {local}` "
            f"(`huggingface-cli download {hub} --local-dir {local}` with huggingface_hub < 1.0), then set "
            f"{key}={local}")


def validate(cfg: OpenRLHFConfig) -> list[str]:
    """Checks beyond field types; one message per problem, naming the key and what is allowed."""
    errors: list[str] = trainer_config_errors(cfg)

    def positive(name: str, value: Any, allow_zero: bool = False) -> None:
        ok = value >= 0 if allow_zero else value > 0
        if not ok:
            errors.append(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")

    for name in ("max_len", "max_new_tokens", "gpus_per_node", "num_nodes", "vllm_tensor_parallel_size",
                 "n_samples_per_prompt", "rollout_batch_size", "train_batch_size", "micro_train_batch_size",
                 "micro_rollout_batch_size", "actor_lr", "top_p", "plateau_max_episodes", "max_ckpt_num"):
        positive(name, getattr(cfg, name))
    for name in ("temperature", "eps_clip", "kl_coef", "lr_warmup_ratio"):
        positive(name, getattr(cfg, name), allow_zero=True)
    if cfg.first_stage_kl_coef is not None:
        positive("first_stage_kl_coef", cfg.first_stage_kl_coef, allow_zero=True)
    if cfg.max_new_tokens >= cfg.max_len:
        errors.append(f"max_new_tokens ({cfg.max_new_tokens}) must be < max_len ({cfg.max_len}): "
                      "max_len holds the prompt with its images plus the response")
    if not 0 < cfg.vllm_gpu_memory_utilization <= 1:
        errors.append(f"vllm_gpu_memory_utilization must be in (0, 1], got {cfg.vllm_gpu_memory_utilization}")
    if cfg.top_p > 1:
        errors.append(f"top_p must be <= 1, got {cfg.top_p}")
    if cfg.lr_warmup_ratio > 1:
        errors.append(f"lr_warmup_ratio must be <= 1, got {cfg.lr_warmup_ratio}")
    if cfg.advantage_estimator not in ADVANTAGE_ESTIMATORS:
        errors.append(f"advantage_estimator: {cfg.advantage_estimator!r} is not allowed; allowed (no critic, "
                      f"as OpenRLHF's VLM training requires): {list(ADVANTAGE_ESTIMATORS)}")
    elif cfg.n_samples_per_prompt < 2:
        errors.append(f"n_samples_per_prompt (G) must be >= 2 for {cfg.advantage_estimator}, "
                      f"got {cfg.n_samples_per_prompt}")
    if cfg.lr_scheduler not in LR_SCHEDULERS:
        errors.append(f"lr_scheduler: {cfg.lr_scheduler!r} is not allowed; allowed: {list(LR_SCHEDULERS)}")
    if cfg.loss_agg_mode not in LOSS_AGG_MODES:
        errors.append(f"loss_agg_mode: {cfg.loss_agg_mode!r} is not allowed; allowed: {list(LOSS_AGG_MODES)}")
    if cfg.kl_estimator not in KL_ESTIMATORS:
        errors.append(f"kl_estimator: unknown {cfg.kl_estimator!r}; allowed: {list(KL_ESTIMATORS)}")
    if cfg.zero_stage not in ZERO_STAGES:
        errors.append(f"zero_stage: {cfg.zero_stage} not allowed; allowed: {list(ZERO_STAGES)}")
    if cfg.param_dtype not in PARAM_DTYPES:
        errors.append(f"param_dtype: unknown {cfg.param_dtype!r}; allowed: {list(PARAM_DTYPES)}")
    if cfg.entrypoint is not None and not cfg.entrypoint:
        errors.append("entrypoint must be null or a non-empty list, e.g. [python3, -m, openrlhf.cli.train_ppo_ray]")
    if cfg.save_steps == 0 or cfg.save_steps < -1:
        errors.append(f"save_steps must be >= 1, or -1 for no intermediate checkpoints, got {cfg.save_steps}")
    if cfg.vllm_num_engines is not None and cfg.vllm_num_engines < 1:
        errors.append(f"vllm_num_engines must be >= 1 or null (one per GPU group), got {cfg.vllm_num_engines}")

    errors += report_to_errors(cfg.report_to)
    gpus = cfg.gpus_per_node * cfg.num_nodes
    tp = cfg.vllm_tensor_parallel_size
    if tp > 0 and cfg.colocate_all:
        engines = cfg.vllm_num_engines if cfg.vllm_num_engines is not None else gpus // tp
        if engines * tp != gpus:
            errors.append(f"colocate_all needs vllm_num_engines * vllm_tensor_parallel_size == num_nodes * "
                          f"gpus_per_node, got {engines} * {tp} != {gpus}; set vllm_num_engines: null or "
                          "colocate_all: false")
    elif tp > 0 and cfg.vllm_num_engines is None and gpus % tp:
        errors.append(f"vllm_tensor_parallel_size ({tp}) must divide num_nodes * gpus_per_node ({gpus})")
    rollout_samples = cfg.rollout_batch_size * cfg.n_samples_per_prompt
    if cfg.train_batch_size > rollout_samples:
        errors.append(f"train_batch_size ({cfg.train_batch_size}) must be <= rollout_batch_size * "
                      f"n_samples_per_prompt ({rollout_samples}): one rollout step must fill an optimiser step")
    elif rollout_samples % cfg.train_batch_size:
        errors.append(f"train_batch_size ({cfg.train_batch_size}) must divide rollout_batch_size * "
                      f"n_samples_per_prompt ({rollout_samples})")
    if cfg.train_batch_size % (cfg.micro_train_batch_size * gpus) and cfg.train_batch_size >= 1:
        errors.append(f"train_batch_size ({cfg.train_batch_size}) must be a multiple of micro_train_batch_size "
                      f"* GPUs ({cfg.micro_train_batch_size} * {gpus})")
    for name in cfg.stages or {}:
        where = f"stages.{name}"
        try:
            sp = stage_params(cfg, name)
        except ValueError as e:
            errors.append(f"{where}: {e}")
            continue
        if sp.kl_coef is not None and not (sp.kl_coef >= 0 and math.isfinite(sp.kl_coef)):
            errors.append(f"{where}.kl_coef must be >= 0, got {sp.kl_coef}")
        if sp.kl_estimator is not None and sp.kl_estimator not in KL_ESTIMATORS:
            errors.append(f"{where}.kl_estimator: unknown {sp.kl_estimator!r}; allowed: {list(KL_ESTIMATORS)}")
        if sp.actor_lr is not None and sp.actor_lr <= 0:
            errors.append(f"{where}.actor_lr must be > 0, got {sp.actor_lr}")
        if sp.temperature is not None and sp.temperature < 0:
            errors.append(f"{where}.temperature must be >= 0, got {sp.temperature}")
    return errors
