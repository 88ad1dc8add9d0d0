"""Trainer plugin ``trl``: the curriculum on TRL's ``GRPOTrainer``, in this process, on CPU or one GPU.

``dig train trainer.name=trl`` (dig-core) builds this trainer and calls :meth:`Trainer.train`,
which chains the stages, skips finished ones and writes DONE markers (``dig_core.training``). Per
stage this class loads the model the stage starts from, builds the prompts, images and labels
(:mod:`data`, the same conversation and label the ``openrlhf`` export writes), trains, and saves
model + processor to ``<stage>/checkpoint``. An optional SFT warm start (:mod:`sft`) runs as a stage
before the GRPO stages. docs/training.md describes the settings.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dig_core.errors import ConfigError
from dig_core.training import (
    RunDir,
    StageRun,
    Trainer,
    TrainError,
    lr_scheduler_with_warmup,
    plan_stages,
    report_integrations,
)

from dig_train_trl.config import TRLConfig, stage_beta, stage_params, validate

#: TRL's checkpoints inside a stage folder (resume within a stage)
TRL_DIR = "trl"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class WarmStart:
    """The SFT warm-start stage (not a curriculum stage: it has no k range of its own)."""

    name: str
    sft: bool = True


#: new tokens a thinking model's answer is given in configs/paper.yaml (max_len 8192 - 4096 for the
#: prompt with two images): assumed, not measured on this project's machines (docs/training.md)
THINKING_NEW_TOKENS = 4096


def thinking_budget_note(vlp: Any, max_new_tokens: int) -> str | None:
    """A warning when the model thinks before answering (its template opens ``<think>``) and
    ``max_new_tokens`` is below :data:`THINKING_NEW_TOKENS`: most thoughts would be cut off and score 0."""
    if not vlp.prompt_opens_think or max_new_tokens >= THINKING_NEW_TOKENS:
        return None
    return (f"warning: {vlp.path} thinks before it answers (its chat template opens <think>), and "
            f"trainer.params.max_new_tokens={max_new_tokens} cuts most thoughts off: a completion without "
            f"</think> scores format 0. The paper preset gives thinking models {THINKING_NEW_TOKENS} new tokens "
            f"(configs/paper.yaml)")


@dataclass
class GRPOStage:
    """What :meth:`TRLTrainer.grpo_stage` builds for one GRPO stage."""

    trainer: Any  # trl.GRPOTrainer
    vlp: Any  # dig_core.models.vlm.VLProcessor
    reward: Any  # DigRewardFunc (logs rewards.jsonl)
    writer: Any  # TensorBoard writer or None
    resume: tuple[Path, int] | None  # TRL checkpoint and its step
    advance: Any  # AdvanceTracker or None
    device: str
    beta: float
    pairs: int
    integrations: list[str]

    def close(self) -> None:
        self.reward.close()
        if self.writer is not None:
            self.writer.close()
        if "wandb" in self.integrations:  # one W&B run per stage (transformers leaves it open)
            import wandb

            if wandb.run is not None:
                wandb.finish()


def is_warm_start(stage: StageRun) -> bool:
    return bool(getattr(stage.stage, "sft", False))


def latest_checkpoint(folder: Path) -> tuple[Path, int] | None:
    """TRL's newest complete ``checkpoint-N`` folder in ``folder`` (with its trainer_state.json)."""
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = _CKPT.match(p.name)
            if m and (p / "trainer_state.json").is_file():
                found.append((int(m.group(1)), p))
    if not found:
        return None
    step, path = max(found)
    return path, step


def _advance(cfg: Any) -> tuple[str, dict[str, Any]]:
    from omegaconf import OmegaConf

    ref = cfg.curriculum.advance
    params = OmegaConf.to_container(ref.params, resolve=True) if ref.params is not None else {}
    return str(ref.name), dict(params or {})


class TRLTrainer(Trainer):
    """Curriculum GRPO (+ optional SFT warm start) on TRL (see docs/training.md)."""

    PLUGIN_NAME: ClassVar[str] = "trl"
    PACKAGE: ClassVar[str] = "dig-train-trl"
    Config: ClassVar[type] = TRLConfig

    @classmethod
    def validate_config(cls, cfg: TRLConfig) -> list[str]:
        return validate(cfg)

    def __init__(self, config: Any = None):
        super().__init__(config)
        self._rows: dict[str, list] | None = None
        self._vlp = None

    # -- plan -------------------------------------------------------------------------------------
    def warm_start(self) -> bool:
        p = self.config
        return p.sft_epochs > 0 or p.sft_max_steps is not None

    def plan(self, cfg: Any) -> list[StageRun]:
        stages: list[Any] = list(cfg.curriculum.stages)
        names = [s.name for s in stages]
        chosen = self.config.grpo_stages
        if chosen is not None:
            unknown = [s for s in chosen if s not in names]
            if unknown:
                raise ConfigError(f"trainer.params.grpo_stages: unknown stage(s) {unknown}; curriculum.stages are {names}")
            stages = [s for s in stages if s.name in chosen]
            if not stages and not self.warm_start():
                raise ConfigError("trainer.params.grpo_stages is empty and there is no warm start "
                                  "(sft_epochs / sft_max_steps): nothing to train")
        if self.warm_start():
            if self.config.sft_stage_name in names:
                raise ConfigError(f"trainer.params.sft_stage_name={self.config.sft_stage_name!r} is also a "
                                  f"curriculum stage {names}; choose another name")
            unknown = [s for s in self.config.sft_stages or [] if s not in names]
            if unknown:
                raise ConfigError(f"trainer.params.sft_stages: unknown stage(s) {unknown}; curriculum.stages are {names}")
            stages.insert(0, WarmStart(self.config.sft_stage_name))
        for name in self.config.stages or {}:
            if name not in names:
                raise ConfigError(f"trainer.params.stages.{name}: not a curriculum stage; curriculum.stages are {names}")
        self.epochs(cfg)  # a bad advance rule setting fails before anything runs
        return plan_stages(stages, RunDir(self.run_root()), self.base_model())

    def manifest_extra(self) -> dict[str, Any]:
        p = self.config
        return {"samples_per_step": self.samples_per_step(), "group_size": p.num_generations, "model": p.model,
                "warm_start": p.sft_stage_name if self.warm_start() else None}

    def samples_per_step(self) -> int:
        """rewards.jsonl lines per optimiser step on average (generations are reused num_iterations times)."""
        p = self.config
        return max(1, self.generation_size() // p.num_iterations)

    def generation_size(self) -> int:
        """Completions TRL generates (and rewards.jsonl lines logged) at once: prompts_per_step × G ×
        gradient_accumulation_steps; it generates at the start of optimiser steps 0, μ, 2μ…
        (μ = num_iterations) and again at the first step after a resume."""
        p = self.config
        return p.prompts_per_step * p.num_generations * p.gradient_accumulation_steps

    def logged_before(self, step: int) -> int:
        """rewards.jsonl lines logged before optimiser step ``step`` (a TRL checkpoint's): the
        generations of steps 0, μ, … below ``step``, i.e. ⌈step/μ⌉ × :meth:`generation_size`
        (a generation begun before the checkpoint trained its first steps there; after the resume
        TRL generates anew)."""
        return -(-step // self.config.num_iterations) * self.generation_size()

    def epochs(self, cfg: Any) -> float:
        """Passes over a GRPO stage's pairs: ``epochs`` of the fixed rule, else ``max_epochs`` of the
        rule or ``plateau_max_epochs`` (the rule may end the stage earlier)."""
        name, params = _advance(cfg)
        key = "epochs" if name == "fixed" else "max_epochs"
        value = params.get(key)
        if value is None:
            return float(self.config.plateau_max_epochs if name != "fixed" else 1.0)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"curriculum.advance.params.{key}={value!r} must be a number") from None
        if not value > 0:
            raise ConfigError(f"curriculum.advance.params.{key}={value} must be > 0")
        return value

    def seed(self, cfg: Any) -> int:
        return int(self.config.seed if self.config.seed is not None else cfg.get("seed", 0) or 0)

    def describe_stage(self, cfg: Any, stage: StageRun) -> str:
        p = self.config
        if is_warm_start(stage):
            on = ", ".join(p.sft_stages) if p.sft_stages else "every stage's pairs"
            on += f" of {p.sft_data}" if p.sft_data else ""
            steps = p.sft_max_steps if p.sft_max_steps is not None else f"{p.sft_epochs} epoch(s)"
            return (f"# stage {stage.name}: SFT warm start ({p.sft_task}) on {on}, {steps}, lr {p.sft_learning_rate} "
                    f"({p.sft_lr_scheduler_type}, {p.sft_warmup_steps} warm-up steps), "
                    f"batch {p.sft_batch_size}, from {stage.init_model}")
        st = stage.stage
        first = stage.index == (1 if self.warm_start() else 0)
        sp = stage_params(p, st.name)
        steps = sp.max_steps or p.max_steps
        return (f"# stage {st.name} (k={st.k_min}..{st.k_max}, {st.pairs} pairs): GRPO G={p.num_generations}, "
                f"beta={stage_beta(p, st.name, first)}, epsilon={p.epsilon}, lr={sp.learning_rate or p.learning_rate}, "
                f"{'max ' + str(steps) + ' steps' if steps else str(self.epochs(cfg)) + ' epoch(s)'}, "
                f"advance {_advance(cfg)[0]}, from {stage.init_model}")

    # -- run --------------------------------------------------------------------------------------
    def prepare(self, cfg: Any, run: RunDir, pending: list[StageRun], echo: Callable[[str], None]) -> None:
        data = self.check_inputs(("sft_eval_data", "sft_data"))  # report_to before transformers' own errors
        rows = self._load_rows(cfg, pending[0].init_model)
        self.check_stages(data, [s.name for s in pending if not is_warm_start(s)], [n for n in rows if rows[n]])

    def _load_rows(self, cfg: Any, model: str) -> dict[str, list]:
        if self._rows is None:
            from dig_core.models.vlm import VLProcessor

            from dig_train_trl.data import load_rows

            p = self.config
            self._vlp = VLProcessor(model, p.min_pixels, p.max_pixels, p.coords)
            self._rows = load_rows(cfg, p.data, self._vlp)
        return self._rows

    def _device(self):
        import torch

        want = self.config.device
        if want == "cuda" and not torch.cuda.is_available():
            raise ConfigError("trainer.params.device=cuda but torch sees no CUDA device; use device=cpu or auto")
        return "cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu"

    def _load(self, stage: StageRun):
        """Model and processor the stage starts from (min/max pixels applied), and whether to train
        with bf16 autocast. The weights are float32 either way: bf16 is autocast's compute dtype,
        never the weights' (a bf16 weight cannot hold an AdamW step at lr 1e-6: almost no update
        would stick), as TRL does when it loads a model itself."""
        import torch
        from dig_core.models.vlm import VLProcessor
        from transformers import AutoModelForImageTextToText

        p = self.config
        vlp = VLProcessor(stage.init_model, p.min_pixels, p.max_pixels, p.coords)
        # TRL left-pads the prompts itself but takes mm_token_type_ids (M-RoPE) from processor(...,
        # padding=True), which pads on the tokenizer's side: both must be left
        vlp.tokenizer.padding_side = "left"
        device = self._device()
        bf16 = self._bf16(device)
        try:
            model = AutoModelForImageTextToText.from_pretrained(stage.init_model, local_files_only=True,
                                                                dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise TrainError(f"stage {stage.name}: cannot load the model {stage.init_model} "
                             f"({type(e).__name__}: {e})") from None
        if p.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model.to(device), vlp, device, bf16

    def _bf16(self, device: str) -> bool:
        if self.config.bf16 is not None:
            return bool(self.config.bf16)
        if device != "cuda":
            return False
        import torch

        return bool(torch.cuda.is_bf16_supported())

    def run_stage(self, cfg: Any, run: RunDir, stage: StageRun,
                  echo: Callable[[str], None]) -> tuple[str | Path, str, int | None]:
        self._load_rows(cfg, stage.init_model)
        if is_warm_start(stage):
            return self._run_sft(cfg, run, stage, echo)
        return self._run_grpo(cfg, run, stage, echo)

    def _save(self, model: Any, processor: Any, stage: StageRun) -> Path:
        """Model + processor to ``<stage>/checkpoint``, complete or not at all."""
        final = stage.paths.checkpoint
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        return final

    def _run_sft(self, cfg: Any, run: RunDir, stage: StageRun,
                 echo: Callable[[str], None]) -> tuple[str | Path, str, int | None]:
        from dig_core.training.reward_log import SampleScorer

        from dig_train_trl.data import answer_task
        from dig_train_trl.sft import run_sft

        p = self.config
        if p.sft_data:
            from dig_train_trl.data import load_rows

            rows = self._sft_rows(cfg, p.sft_data, load_rows(cfg, p.sft_data, self._vlp))
        else:
            rows = self._sft_rows(cfg, p.data, self._rows)
        what = {"grounding": "grounding samples", "dig": "pairs"}.get(p.sft_task, "pairs and grounding samples")
        if not rows:
            raise TrainError(f"stage {stage.name}: no {what} to warm-start on in {p.sft_data or p.data}")
        eval_rows = [r for r in rows if p.sft_task != "dig+grounding" or not r.one_box]
        if p.sft_eval_data:
            from dig_train_trl.data import load_rows

            eval_rows = self._sft_rows(cfg, p.sft_eval_data, load_rows(cfg, p.sft_eval_data, self._vlp), for_eval=True)
            if not eval_rows:
                raise TrainError(f"trainer.params.sft_eval_data: no {what} to evaluate on in {p.sft_eval_data}")
        eval_rows = eval_rows[: p.sft_eval_pairs]
        model, vlp, device, bf16 = self._load(stage)
        steps = p.sft_max_steps or max(1, math.ceil(len(rows) * p.sft_epochs / p.sft_batch_size))
        seed = self.seed(cfg)
        echo(f"stage {stage.name}: SFT warm start ({p.sft_task}), {steps} steps on {len(rows)} {what} ({device}), "
             f"from {stage.init_model}; eval on {len(eval_rows)} {'held-out' if p.sft_eval_data else 'training'} {what}")
        scorer = SampleScorer(cfg, None, stage.name, prompt_opens_think=vlp.prompt_opens_think)
        run_sft(model, vlp.processor, answer_task(cfg, vlp.coords), rows, scorer, steps=steps,
                lr=p.sft_learning_rate, batch_size=p.sft_batch_size, seed=seed, eval_rows=eval_rows,
                eval_steps=p.sft_eval_steps, max_new_tokens=p.max_new_tokens, stage_dir=stage.paths.dir,
                train_log=stage.paths.train_log, echo=echo, progress=self.progress, report_to=p.report_to,
                lr_schedule=p.sft_lr_scheduler_type, warmup_steps=p.sft_warmup_steps,
                weight_decay=p.sft_weight_decay, augmentations=list(p.sft_augment), bf16=bf16)
        return self._save(model, vlp.processor, stage), "completed", steps

    def _sft_rows(self, cfg: Any, data: str, rows_by_stage: dict[str, list], for_eval: bool = False) -> list:
        """The warm start's rows of a dataset (``rows_by_stage``: its :func:`load_rows`): the pairs of
        ``sft_stages``, their grounding samples for ``sft_task: grounding``, both for
        ``dig+grounding`` (``for_eval``: the pairs alone, the task the mix is for)."""
        p = self.config
        rows = [r for name, rs in rows_by_stage.items() if p.sft_stages is None or name in p.sft_stages for r in rs]
        if p.sft_task == "dig" or (for_eval and p.sft_task == "dig+grounding"):
            return rows
        from dig_train_trl.data import grounding_rows

        grounding = grounding_rows(cfg, data, self._vlp, {r.id for r in rows}, p.sft_grounding_images)
        return grounding if p.sft_task == "grounding" else rows + grounding

    def grpo_stage(self, cfg: Any, run: RunDir, stage: StageRun, reward_func: Any = None) -> GRPOStage:
        """TRL's ``GRPOTrainer`` for a GRPO stage, built as :meth:`run_stage` trains it: the model
        (float32, :meth:`_load`), the left-padding processor, the stage's settings, the callbacks and,
        when a TRL checkpoint exists, where to resume (the stage's rewards.jsonl already cut back to
        it). ``reward_func``: a TRL reward function instead of the DiG reward (the precision check of
        scripts/gpu-smoke-trl.sh uses one that always tells completions apart, so every step has a
        gradient)."""
        from dig_core.config import instantiate
        from dig_core.training.reward_log import truncate_lines
        from trl import GRPOConfig, GRPOTrainer

        from dig_train_trl.data import grpo_dataset
        from dig_train_trl.reward import AdvanceTracker, DigRewardFunc, make_callbacks
        from dig_train_trl.tracking import summary_writer, tensorboard_callback

        p = self.config
        name = stage.name
        rows = self._rows.get(name) or []
        if not rows:
            raise TrainError(f"stage {name}: dataset {p.data} has no pairs of this stage")
        sp = stage_params(p, name)
        first = stage.index == (1 if self.warm_start() else 0)
        beta = stage_beta(p, name, first)
        max_steps = sp.max_steps or p.max_steps
        model, vlp, device, bf16 = self._load(stage)
        trl_dir = stage.paths.dir / TRL_DIR

        # resume: TRL's newest checkpoint of this stage; rewards logged after it are dropped
        resume = latest_checkpoint(trl_dir)
        kept = truncate_lines(stage.paths.rewards, self.logged_before(resume[1]) if resume else 0)
        advance = None
        if _advance(cfg)[0] != "fixed":
            from dig_core.training import iter_rewards

            advance = AdvanceTracker(stage.stage, instantiate(cfg, "curriculum.advance", "advance_rule"),
                                     p.num_generations)
            if kept:
                advance.feed(list(iter_rewards(stage.paths.rewards)))
        reward = DigRewardFunc(cfg, run.root, name, advance, prompt_opens_think=vlp.prompt_opens_think)
        integrations = report_integrations(p.report_to)
        warmup = float(p.warmup_ratio) if p.warmup_ratio > 0 else 0
        args = GRPOConfig(
            output_dir=str(trl_dir), use_cpu=device == "cpu", bf16=bf16, fp16=False,
            num_generations=p.num_generations, per_device_train_batch_size=p.prompts_per_step * p.num_generations,
            gradient_accumulation_steps=p.gradient_accumulation_steps, num_iterations=p.num_iterations,
            learning_rate=sp.learning_rate or p.learning_rate,
            lr_scheduler_type=lr_scheduler_with_warmup(p.lr_scheduler_type, warmup),
            warmup_steps=warmup, beta=beta, epsilon=p.epsilon, epsilon_high=p.epsilon_high,
            loss_type=p.loss_type, temperature=sp.temperature if sp.temperature is not None else p.temperature,
            top_p=p.top_p, max_completion_length=p.max_new_tokens, num_train_epochs=self.epochs(cfg),
            max_steps=max_steps or -1, logging_steps=1, save_strategy="steps" if p.save_steps > 0 else "no",
            save_steps=max(1, p.save_steps), save_total_limit=p.save_total_limit, seed=self.seed(cfg),
            data_seed=self.seed(cfg), report_to=[i for i in integrations if i != "tensorboard"],
            run_name=f"{run.root.name}-{name}", disable_tqdm=not self.progress, dataloader_num_workers=0,
            gradient_checkpointing=p.gradient_checkpointing,
        )
        callbacks = make_callbacks(stage.paths.train_log, advance)
        # TensorBoard in <stage>/tensorboard/ (transformers' default is inside <stage>/trl/, deleted
        # after the stage); the events an earlier attempt wrote after the step resumed from are hidden
        writer = None
        if "tensorboard" in integrations:
            writer = summary_writer(stage.paths.tensorboard, purge_step=resume[1] + 1 if resume else 0)
            callbacks.append(tensorboard_callback(writer))
        trainer = GRPOTrainer(model=model, reward_funcs=reward_func or reward, args=args,
                              train_dataset=grpo_dataset(rows), processing_class=vlp.processor, callbacks=callbacks)
        return GRPOStage(trainer, vlp, reward, writer, resume, advance, device, beta, len(rows), integrations)

    def _run_grpo(self, cfg: Any, run: RunDir, stage: StageRun,
                  echo: Callable[[str], None]) -> tuple[str | Path, str, int | None]:
        from transformers.trainer_callback import PrinterCallback

        p = self.config
        name = stage.name
        g = self.grpo_stage(cfg, run, stage)
        trainer, resume = g.trainer, g.resume
        if not self.progress:  # without bars the console logger prints every step's metrics (train_log has them)
            trainer.remove_callback(PrinterCallback)
        where = f"resuming from {resume[0]} (step {resume[1]})" if resume else f"from {stage.init_model}"
        echo(f"stage {name}: GRPO on {g.pairs} pairs, G={p.num_generations}, beta={g.beta}, {g.device}, {where}")
        note = thinking_budget_note(g.vlp, p.max_new_tokens)
        if note:
            echo(note)
        try:
            trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
        finally:
            g.close()
        step = int(trainer.state.global_step)
        ckpt = self._save(trainer.model, g.vlp.processor, stage)
        if not p.keep_trl_checkpoints:
            shutil.rmtree(stage.paths.dir / TRL_DIR, ignore_errors=True)
        return ckpt, "advanced" if g.advance is not None and g.advance.decided else "completed", step
