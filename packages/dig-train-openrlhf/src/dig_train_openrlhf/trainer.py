"""Trainer plugin ``openrlhf``: the curriculum, one OpenRLHF ``train_ppo_ray`` run per stage.

``dig train`` (dig-core) builds this trainer and calls :meth:`Trainer.train`, which chains the
stages, skips finished ones and writes DONE markers; this class exports the dataset, writes each
stage's reward file, builds its command (:mod:`launcher`) and runs it, watched by the advance
rule when that rule is not ``fixed`` (:mod:`watcher`). Around each run (:mod:`checkpoints`): a
resumed stage's ``rewards.jsonl`` is cut to the checkpoint OpenRLHF resumes from, the checkpoint
handed on gets the stage's starting processor, and after DONE the stage's DeepSpeed states and
superseded HF checkpoints are deleted (unless ``keep_checkpoints``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from dig_core.errors import ConfigError
from dig_core.training import RunDir, StageRun, Trainer, TrainError

from dig_train_openrlhf import checkpoints, launcher
from dig_train_openrlhf.config import OpenRLHFConfig, model_folder_problem, validate
from dig_train_openrlhf.flags import OpenRLHFMissing, check_args, openrlhf_root, openrlhf_version


class OpenRLHFTrainer(Trainer):
    """Curriculum GRPO on OpenRLHF + DeepSpeed with vLLM rollouts (see docs/train-openrlhf.md)."""

    PLUGIN_NAME: ClassVar[str] = "openrlhf"
    PACKAGE: ClassVar[str] = "dig-train-openrlhf"
    Config: ClassVar[type] = OpenRLHFConfig

    #: seconds a new HF checkpoint must stay unchanged before a watched stage stops at it
    settle_s: float = 10.0
    #: seconds between watcher polls, and the grace period of SIGTERM before SIGKILL
    poll_s: float = 2.0
    grace_s: float = 60.0

    @classmethod
    def validate_config(cls, cfg: OpenRLHFConfig) -> list[str]:
        return validate(cfg)

    def __init__(self, config: Any = None):
        super().__init__(config)
        self._data: dict[str, Path] = {}

    # -- plan -------------------------------------------------------------------------------------
    def plan(self, cfg: Any) -> list[StageRun]:
        stages = list(cfg.curriculum.stages)
        launcher.check_stage_names(self.config, stages)
        for st in stages:
            launcher.episodes(cfg, self.config, st)  # a bad epochs value fails before anything runs
        return super().plan(cfg)

    def manifest_extra(self) -> dict[str, Any]:
        p = self.config
        return {"samples_per_step": p.rollout_batch_size * p.n_samples_per_prompt,
                "group_size": p.n_samples_per_prompt, "model": p.model}

    def files(self, stage: StageRun) -> launcher.StageFiles:
        files = launcher.stage_files(RunDir(self.run_root()), stage.name)
        data = self._data.get(stage.name)
        return files if data is None else launcher.StageFiles(data, files.reward_file, files.ckpt_path,
                                                                files.output_dir)

    def command(self, cfg: Any, stage: StageRun) -> list[str]:
        return launcher.build_command(cfg, self.config, stage, self.files(stage))

    def describe_stage(self, cfg: Any, stage: StageRun) -> str:
        st = stage.stage
        n = len(cfg.curriculum.stages)
        lines = [f"# stage {stage.index + 1}/{n} {st.name} (k={st.k_min}..{st.k_max}, {st.pairs} pairs, "
                 f"count in prompt: {'yes' if st.count_in_prompt else 'no'}), from {stage.init_model}"]
        size = launcher.stage_size_problem(cfg, self.config, st)
        if size:
            lines.append(f"# a real run stops here: {size}")
        if stage.index == 0 and (problem := model_folder_problem(stage.init_model)):
            lines.append(f"# a real run stops here: {problem}")
        if launcher.watched(cfg):
            lines.append(f"# ends early when curriculum.advance ({launcher.advance_rule(cfg)[0]}) fires, at the next "
                         "HF checkpoint; the next stage then starts from that checkpoint")
        lines.append(f"# {self._keeps(stage)}")
        lines.append(launcher.format_command(cfg, self.config, stage, self.files(stage)))
        note = self._check(self.command(cfg, stage))
        if note:
            lines.append(f"# {note}")
        return "\n".join(lines)

    def _keeps(self, stage: StageRun) -> str:
        """What the stage's folder keeps after DONE (the dry run's line)."""
        files = self.files(stage)
        if self.config.keep_checkpoints:
            return f"after DONE: keeps {files.output_dir} and all of {files.ckpt_path} (keep_checkpoints=true)"
        return (f"after DONE: keeps {files.output_dir} (or the global_step<N>_hf the advance rule stops at); deletes "
                f"{files.ckpt_path / checkpoints.DEEPSPEED_DIR} (DeepSpeed states) and the other global_step<N>_hf "
                "(keep_checkpoints=true keeps them)")

    def _check(self, command: list[str]) -> str:
        """Check the flags with the installed OpenRLHF's own parser and checks; a note for the dry
        run. Raises ConfigError when OpenRLHF would reject the command."""
        if openrlhf_root() is None:
            return "flags not checked: OpenRLHF is not installed here"
        flags = command[len(launcher.entrypoint(self.config)):]
        try:
            check_args(flags)
        except OpenRLHFMissing as e:
            return f"flags not checked: {e}"
        return f"flags checked against OpenRLHF {openrlhf_version() or '?'}'s train_ppo_ray parser"

    # -- run --------------------------------------------------------------------------------------
    def prepare(self, cfg: Any, run: RunDir, pending: list[StageRun], echo: Callable[[str], None]) -> None:
        from dig_train_openrlhf.export import export_dataset

        # report_to only when OpenRLHF runs in this Python, with this environment
        data = self.check_inputs(report_to=self.config.entrypoint is None)
        problems = [m for s in pending if (m := launcher.stage_size_problem(cfg, self.config, s.stage))]
        if pending[0].index == 0 and (problem := model_folder_problem(pending[0].init_model)):
            problems.append(problem)
        if problems:
            raise ConfigError(problems)
        names = [s.name for s in pending]
        echo(f"exporting {data} (stages {', '.join(names)}) to {run.root / launcher.DATA_DIR}")
        files = export_dataset(cfg, data, run.root / launcher.DATA_DIR, stages=names, progress=self.progress)
        self.check_stages(data, names, list(files))
        self._data = {n: Path(files[n]) for n in names}

    def run_stage(self, cfg: Any, run: RunDir, stage: StageRun,
                  echo: Callable[[str], None]) -> tuple[str | Path, str, int | None]:
        from dig_core.training.reward_log import truncate_lines

        from dig_train_openrlhf.reward_module import write_reward_file

        p = self.config
        files = self.files(stage)
        rows = _count_lines(files.data)
        size = launcher.stage_size_problem(cfg, p, stage.stage, rows)
        if size:
            raise TrainError(f"{files.data}: {size}")
        # resume: OpenRLHF restarts at the step of its last DeepSpeed checkpoint (or at 0) and rolls out
        # again from there, so the samples logged after it are dropped
        step = checkpoints.resume_step(files.ckpt_path)
        kept = truncate_lines(stage.paths.rewards, (step or 0) * p.rollout_batch_size * p.n_samples_per_prompt)
        if step:
            echo(f"stage {stage.name}: resuming at step {step} ({files.ckpt_path / checkpoints.DEEPSPEED_DIR}); "
                 f"{stage.paths.rewards} cut to its first {kept} lines")
        write_reward_file(files.reward_file, run.config, run.root, stage.name, model=p.model)
        command = self.command(cfg, stage)
        self._check(command)
        watcher = None
        if launcher.watched(cfg):
            from dig_core.config import instantiate

            from dig_train_openrlhf.watcher import AdvanceWatcher

            rule = instantiate(cfg, "curriculum.advance", "advance_rule")
            watcher = AdvanceWatcher(stage.stage, rule, stage.paths.rewards, files.ckpt_path,
                                     p.n_samples_per_prompt, settle_s=self.settle_s,
                                     finalize=lambda path: checkpoints.save_processor(stage.init_model, path))
            if p.save_steps < 0:
                echo(f"warning: curriculum.advance is {launcher.advance_rule(cfg)[0]} but trainer.params.save_steps "
                     "is -1: no checkpoint to stop at, the stage runs to its end")
        echo(f"stage {stage.name}: training from {stage.init_model} (log: {stage.paths.train_log})")
        result = launcher.run_process(command, stage.paths.train_log, env=launcher.command_env(p), watcher=watcher,
                                      poll_s=self.poll_s, grace_s=self.grace_s,
                                      header=f"dig train: stage {stage.name}")
        if result.stopped_at is not None:
            from dig_train_openrlhf.watcher import HF_CHECKPOINT

            m = HF_CHECKPOINT.match(result.stopped_at.name)
            return result.stopped_at, "advanced", int(m.group(1)) if m else None
        if result.returncode != 0:
            raise TrainError(f"stage {stage.name}: training exited with code {result.returncode}; log "
                             f"{stage.paths.train_log}; last lines:\n{launcher.log_tail(stage.paths.train_log)}")
        if not (files.output_dir / "config.json").is_file():
            raise TrainError(f"stage {stage.name}: training finished but saved no model in {files.output_dir}; "
                             f"see {stage.paths.train_log}")
        checkpoints.save_processor(stage.init_model, files.output_dir)
        return files.output_dir, "completed", None

    def stage_done(self, cfg: Any, run: RunDir, stage: StageRun, record: dict[str, Any],
                   echo: Callable[[str], None]) -> None:
        """Free the finished stage's disk: its DeepSpeed states and the HF checkpoints DONE does not
        name (kept, and made loadable, with ``keep_checkpoints``)."""
        files = self.files(stage)
        keep = run.read_done(stage.name)["checkpoint"]
        if self.config.keep_checkpoints:
            for path in checkpoints.kept_hf_checkpoints(files.ckpt_path):
                checkpoints.save_processor(stage.init_model, path)
            return
        gone = checkpoints.delete_leftovers(files.ckpt_path, keep)
        if gone:
            echo(f"stage {stage.name}: deleted {len(gone)} superseded checkpoint entries in {files.ckpt_path} "
                 "(DeepSpeed states, other global_step<N>_hf; trainer.params.keep_checkpoints=true keeps them)")


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        raise TrainError(f"prompt file not found: {path} (was the dataset exported?)") from None
