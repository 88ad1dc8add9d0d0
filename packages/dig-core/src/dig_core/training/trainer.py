"""What every trainer plugin shares: the :class:`Trainer` interface (its config, input checks and
stage loop), stage chaining and resume, choosing the trainer (:func:`resolve_trainer`) and the
``report_to`` integrations. A rerun skips every stage with a DONE marker and starts the first
unfinished stage from the previous stage's checkpoint (the base model for the first stage); the run
folder is :mod:`dig_core.training.run_dir`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import shutil
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, TypeVar

from dig_core.data.dataset import refuse_output_in_dataset
from dig_core.data.io import atomic_write_text
from dig_core.plugins.base import Plugin
from dig_core.training.run_dir import (
    RunDir,
    StagePaths,
    TrainError,
)

T = TypeVar("T")


@dataclass
class TrainerConfig:
    """``trainer.params`` every trainer has; a trainer's ``Config`` subclasses it (and may change the
    defaults). :func:`trainer_config_errors` checks these fields."""

    #: local folder (or cached hub id) of the policy model
    model: str = ""
    #: box convention the model answers in: pixels | rel1000 | rel1; None = from the model family
    #: (Qwen3-VL / Qwen2-VL: rel1000; Qwen2.5-VL: pixels of its resized input)
    coords: Optional[str] = None
    #: image processor limits (pixels per image); None = the model's own
    min_pixels: Optional[int] = None
    max_pixels: Optional[int] = None
    #: the DiG dataset folder to train on (its stages must match curriculum.stages)
    data: Optional[str] = None
    #: where per-stage logs, rewards.jsonl and checkpoints go
    run_dir: str = "runs/dig"


def stage_overrides(stages: Mapping[str, Any] | None, name: str, cls: type[T]) -> T:
    """Stage ``name``'s entry of a trainer's ``stages`` mapping (``trainer.params.stages.<name>``)
    as the dataclass ``cls`` whose fields are all optional overrides (``cls()`` when the stage has
    none). String fields must be strings; numeric ones take numbers or numeric strings (YAML reads
    ``2e-6`` as a string), finite, integral for ``int`` fields. ValueError names a bad key or value;
    ranges are the trainer's to check."""
    raw = (stages or {}).get(name)
    if raw is None:
        return cls()
    if isinstance(raw, cls):
        return raw
    allowed = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a mapping of {allowed}, got {raw!r}")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {allowed}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for k, v in raw.items():
        if v is None:
            continue
        want = next((t for t in typing.get_args(hints[k]) if t is not type(None)), hints[k])
        if want is str:
            if not isinstance(v, str):
                raise ValueError(f"{k} must be a string, got {v!r}")
        else:
            if isinstance(v, str):
                try:
                    v = float(v)
                except ValueError:
                    pass
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{k} must be a number, got {v!r}")
            if want is int:
                if v != int(v):
                    raise ValueError(f"{k} must be an integer, got {v!r}")
                v = int(v)
            else:
                v = float(v)
        values[k] = v
    return cls(**values)


def trainer_config_errors(cfg: TrainerConfig) -> list[str]:
    """Problems with the shared :class:`TrainerConfig` fields, one message each."""
    from dig_core.models.vlm import processor_settings_errors

    errors = [] if cfg.model else ["model: set the policy model (trainer.params.model=...)"]
    return errors + processor_settings_errors(cfg.coords, cfg.min_pixels, cfg.max_pixels)


def lr_scheduler_with_warmup(name: str, warmup: float) -> str:
    """The transformers learning-rate schedule that honours a warm-up: transformers' ``get_scheduler``
    builds ``constant`` without looking at the warm-up steps, so with ``warmup`` > 0 it becomes
    ``constant_with_warmup`` (what both trainers pass on); any other name is returned as is."""
    return "constant_with_warmup" if name == "constant" and warmup > 0 else name


#: experiment trackers ``trainer.params.report_to`` may name (``[]`` or ``[none]``: none), with the
#: package each needs where the trainer runs in this process
REPORT_TO = {"tensorboard": "tensorboard", "wandb": "wandb"}


def report_to_errors(report_to: Sequence[str] | None) -> list[str]:
    """Problems with a ``report_to`` list (unknown names, ``none`` next to others), one message each."""
    values = list(report_to or [])
    errors = [f"report_to: {v!r} is not allowed; allowed: {[*REPORT_TO, 'none']} (a list, [] for none)"
              for v in values if v not in REPORT_TO and v != "none"]
    if "none" in values and len(values) > 1:
        errors.append(f"report_to: 'none' cannot be combined with other integrations, got {values}")
    return errors


def report_integrations(report_to: Sequence[str] | None) -> list[str]:
    """The integrations of a valid ``report_to`` list, in order, without duplicates and ``none``."""
    return [v for v in dict.fromkeys(report_to or []) if v != "none"]


def wandb_credentials_missing(env: Mapping[str, str] | None = None) -> str | None:
    """Why W&B could not log from a process with ``env`` (default: this one's), or None: an API key
    comes from ``WANDB_API_KEY`` or ``wandb login``'s netrc entry; ``WANDB_MODE=offline`` (logs kept
    locally for ``wandb sync``) or ``disabled`` needs none."""
    import netrc
    from urllib.parse import urlparse

    env = os.environ if env is None else env
    if env.get("WANDB_API_KEY") or env.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun"):
        return None
    host = urlparse(env.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    try:
        if netrc.netrc(env.get("NETRC") or None).authenticators(host):
            return None
    except (OSError, netrc.NetrcParseError):
        pass
    return ("trainer.params.report_to has wandb but W&B has no API key here: set WANDB_API_KEY (or run "
            "`wandb login`), or WANDB_MODE=offline to keep the logs locally (`wandb sync` uploads them later)")


def report_to_problems(report_to: Sequence[str] | None, env: Mapping[str, str] | None = None) -> list[str]:
    """What stops the integrations of ``report_to`` from logging from this process (a package that
    cannot be imported, missing W&B credentials), one message each."""
    problems = []
    for name in report_integrations(report_to):
        package = REPORT_TO[name]
        if importlib.util.find_spec(package) is None:
            problems.append(f"trainer.params.report_to has {name} but the {package} package is not installed: "
                            f"`pip install {package}` (or leave {name} out of trainer.params.report_to)")
        elif name == "wandb" and (why := wandb_credentials_missing(env)):
            problems.append(why)
    return problems


# -- stage chaining ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageRun:
    """One curriculum stage of a run: where it starts from and whether it is already done."""

    index: int
    stage: Any  # dig_core.config.StageConfig
    paths: StagePaths
    init_model: str  # base model, or the previous stage's checkpoint
    done: dict[str, Any] | None

    @property
    def name(self) -> str:
        return self.stage.name


def plan_stages(stages: Sequence[Any], run: RunDir, base_model: str) -> list[StageRun]:
    """Chain the stages: each starts from the previous stage's checkpoint — the one its DONE marker
    names, or, for a stage not yet run, where that stage will save its final model."""
    plan: list[StageRun] = []
    init = base_model
    for i, stage in enumerate(stages):
        paths = run.stage(stage.name)
        done = run.read_done(stage.name)
        plan.append(StageRun(i, stage, paths, init, done))
        init = done["checkpoint"] if done else str(paths.checkpoint)
    return plan


#: config sections training uses (``dig train``, the pipeline's train step; never the renderer: a GPU
#: box has no Blender)
TRAIN_SECTIONS = ("task", "reward", "curriculum.advance", "trainer")


def resolve_trainer(cfg, pm=None):
    """The trainer named by ``trainer.name``; when unset, the only installed one. Sets
    ``cfg.trainer.name`` to the one chosen and returns it built with its validated params."""
    from dig_core.config import instantiate
    from dig_core.errors import ConfigError, PluginError
    from dig_core.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    if cfg.trainer.name is None:
        available = pm.available("trainer")
        if not available:
            raise PluginError(
                "no trainer installed: `pip install dig-train-trl` (GRPO on TRL; CPU or one GPU) or "
                "`pip install dig-train-openrlhf` (GRPO on OpenRLHF + vLLM; GPU clusters), see docs/training.md")
        if len(available) > 1:
            raise ConfigError(f"trainer.name is not set and several trainers are installed: {', '.join(available)}; "
                              f"choose one, e.g. trainer.name={available[0]}")
        cfg.trainer.name = available[0]
    return instantiate(cfg, "trainer", "trainer", pm)


# -- the plugin interface --------------------------------------------------------------------------------
class Trainer(Plugin):
    """Base of trainer plugins (kind ``trainer``, config ``trainer: {name, params}``).

    ``dig train`` builds the trainer named in config and calls :meth:`train`. The stage loop — chaining,
    resume, DONE markers, run.json — lives here; a subclass says how to run one stage:

    * :meth:`base_model` / :meth:`run_root`: the model stage 1 starts from and the run folder
      (default: ``params.model`` and ``params.run_dir``);
    * :meth:`prepare`: once before the pending stages run (export data, write reward code);
    * :meth:`describe_stage`: what ``--dry-run`` prints for a stage (e.g. the exact command);
    * :meth:`run_stage`: train one stage, return ``(checkpoint, reason, step)``;
    * :meth:`stage_done`: after a stage's DONE marker is written (e.g. free its disk).
    """

    #: package that provides this trainer (for messages)
    PACKAGE: ClassVar[str] = ""

    #: show progress bars and per-step console logs (the pipeline's ``--no-progress`` turns them off;
    #: the per-stage logs in the run folder are written either way)
    progress: bool = True

    def base_model(self) -> str:
        """``params.model``; a local folder is made absolute (workers may run elsewhere)."""
        model = str(self.config.model)
        return str(Path(model).absolute()) if Path(model).exists() else model

    def run_root(self) -> Path:
        return Path(self.config.run_dir).absolute()

    def plan(self, cfg: Any) -> list[StageRun]:
        return plan_stages(list(cfg.curriculum.stages), RunDir(self.run_root()), self.base_model())

    def prepare(self, cfg: Any, run: RunDir, pending: list[StageRun], echo: Callable[[str], None]) -> None:
        """Called once, before the first pending stage of a real (not dry) run."""

    def check_inputs(self, dataset_keys: Sequence[str] = (), report_to: bool = True) -> Path:
        """What every trainer's :meth:`prepare` checks first, before anything runs: the dataset folder
        ``trainer.params.data`` (and the other ``dataset_keys`` of trainer.params, when set) exists,
        and (``report_to``) ``trainer.params.report_to`` names integrations that can run in this
        Python. Returns the dataset folder; ConfigError naming the key otherwise."""
        from dig_core.errors import ConfigError

        data = getattr(self.config, "data", None)
        if not data:
            raise ConfigError("trainer.params.data is not set: the DiG dataset folder to train on "
                              "(e.g. trainer.params.data=data/demo)")
        for key in ("data", *dataset_keys):
            folder = getattr(self.config, key)
            if folder and not Path(folder).is_dir():
                raise ConfigError(f"trainer.params.{key}={folder!r}: dataset folder not found")
        problems = report_to_problems(getattr(self.config, "report_to", None)) if report_to else []
        if problems:
            raise ConfigError(problems)
        return Path(data)

    @staticmethod
    def check_stages(data: str | Path, wanted: Sequence[str], found: Sequence[str]) -> None:
        """TrainError when the dataset ``data`` has no pairs for some ``wanted`` stages (``found``:
        the stages it has)."""
        missing = [n for n in wanted if n not in found]
        if missing:
            raise TrainError(f"dataset {data} has no pairs for stage(s) {missing} of curriculum.stages; "
                             f"it has {sorted(found)}")

    def manifest_extra(self) -> dict[str, Any]:
        """More fields for run.json, e.g. ``samples_per_step`` (rewards.jsonl lines per training
        step, for ``dig plot-rewards``) and ``group_size``."""
        return {}

    def describe_stage(self, cfg: Any, stage: StageRun) -> str:
        return f"stage {stage.name}: from {stage.init_model}"

    def run_stage(self, cfg: Any, run: RunDir, stage: StageRun,
                  echo: Callable[[str], None]) -> tuple[str | Path, str, int | None]:
        raise NotImplementedError

    def stage_done(self, cfg: Any, run: RunDir, stage: StageRun, record: dict[str, Any],
                   echo: Callable[[str], None]) -> None:
        """Called after ``stage``'s DONE marker ``record`` is written (default: nothing)."""

    def train(self, cfg: Any, dry_run: bool = False, echo: Callable[[str], None] = print) -> list[StageRun]:
        """Run every unfinished stage in curriculum order (or, with ``dry_run``, print what would run).
        Returns the plan as it was before running."""
        from omegaconf import OmegaConf

        from dig_core.config import to_yaml

        run = RunDir(self.run_root())
        plan = self.plan(cfg)
        pending = [s for s in plan if s.done is None]
        for s in plan:
            if s.done is not None:
                echo(f"stage {s.name}: done ({s.done.get('reason', '?')}), checkpoint {s.done['checkpoint']}")
        if not pending:
            echo(f"all {len(plan)} stages are done in {run.root}")
            return plan
        if dry_run:
            for s in pending:
                echo(self.describe_stage(cfg, s))
            return plan
        data = getattr(self.config, "data", None)
        if data:
            refuse_output_in_dataset(run.root, data, "trainer.params.run_dir")
        reward = OmegaConf.to_container(cfg.reward, resolve=True)
        fresh = not run.root.exists()
        run.write_manifest(self.PLUGIN_NAME, [s.name for s in plan], reward, **self.manifest_extra())
        atomic_write_text(run.config, to_yaml(cfg))
        try:
            self.prepare(cfg, run, pending, echo)
        except BaseException:
            if fresh:  # a run refused before its first stage leaves no folder behind (all of it is ours)
                shutil.rmtree(run.root, ignore_errors=True)
            raise
        for s in pending:
            # the previous stage may have ended early (plateau): start from the checkpoint it recorded
            prev = run.read_done(plan[s.index - 1].name) if s.index > 0 else None
            current = StageRun(s.index, s.stage, s.paths, prev["checkpoint"] if prev else s.init_model, None)
            s.paths.dir.mkdir(parents=True, exist_ok=True)
            checkpoint, reason, step = self.run_stage(cfg, run, current, echo)
            record = run.mark_done(s.name, checkpoint, reason, step)
            echo(f"stage {s.name}: done ({reason}), checkpoint {record['checkpoint']}")
            self.stage_done(cfg, run, current, record, echo)
        return plan
