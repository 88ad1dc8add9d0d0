"""dig-core's pipeline step types: ``generate`` (``dig generate``), ``tiny-model`` (``dig
tiny-model``) and ``train`` (``dig train``). Each calls the same code as its command, in-process,
into the step's folder. Registered through ``register_pipeline_steps`` (entry point
``core-pipeline-steps``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

from dig_core import hookimpl
from dig_core.pipeline.step import PipelineStep, StepContext
from dig_core.training import TRAIN_SECTIONS

#: sections ``generate`` leaves at their defaults: the data does not depend on them, so changing
#: them (e.g. the trainer's settings in a shared config) does not make the data step rerun
NOT_GENERATE = ("trainer", "evaluator", "evaluators", "model")


class GenerateStep(PipelineStep):
    """A DiG dataset into the step's folder (``dig generate --out STEP_DIR``); resumes."""

    PLUGIN_NAME: ClassVar[str] = "generate"
    SECTIONS: ClassVar[Optional[tuple[str, ...]]] = ("renderer",)

    def configure(self, cfg: Any, out: Path) -> None:
        from omegaconf import OmegaConf

        from dig_core.config import DigConfig

        defaults = OmegaConf.structured(DigConfig)
        for key in NOT_GENERATE:
            cfg[key] = defaults[key]

    def fingerprint_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in cfg.items() if k not in (*NOT_GENERATE, "generate")}

    def run(self, ctx: StepContext) -> str:
        from dig_core.generate import generate

        manifest = generate(ctx.config, ctx.out, progress=None if ctx.progress else False)
        return f"{manifest['counts']['pairs']} pairs, content hash {manifest['content_hash'][:12]}"


@dataclass
class TinyModelConfig:
    #: qwen2_5_vl (answers in resized pixels) or qwen3_vl (0-1000)
    family: str = "qwen2_5_vl"
    #: test (smoke runs; random text) or nano (a few million parameters, learns DiG on a CPU)
    size: str = "test"
    #: seed of the random weights
    seed: int = 0
    #: image processor limits; None = 4 and 256 merged patches of the size's patch
    min_pixels: Optional[int] = None
    max_pixels: Optional[int] = None


class TinyModelStep(PipelineStep):
    """A random Qwen-VL model folder (``dig tiny-model``): ``size: test`` for smoke runs, ``nano``
    for the DiG-nano study."""

    PLUGIN_NAME: ClassVar[str] = "tiny-model"
    Config: ClassVar[type] = TinyModelConfig

    @classmethod
    def validate_config(cls, cfg: TinyModelConfig) -> list[str]:
        from dig_core.models.tiny import SIZES, TINY_FAMILIES

        errors = [] if cfg.family in TINY_FAMILIES else [f"family: {cfg.family!r} is not one of {list(TINY_FAMILIES)}"]
        if cfg.size not in SIZES:
            errors.append(f"size: {cfg.size!r} is not one of {list(SIZES)}")
        return errors

    def run(self, ctx: StepContext) -> str:
        from dig_core.models.tiny import build_tiny_vlm

        p = self.config
        # the folder appears complete or not at all; an interrupted step simply builds it again
        build_tiny_vlm(p.family, ctx.out, seed=p.seed, min_pixels=p.min_pixels, max_pixels=p.max_pixels,
                       overwrite=True, size=p.size)
        return f"{p.size} {p.family} (seed {p.seed})"


class TrainStep(PipelineStep):
    """The curriculum with the trainer of ``trainer.name`` (``dig train``); the run folder
    (``trainer.params.run_dir``) is the step's folder. Output ``checkpoint``: the last stage's."""

    PLUGIN_NAME: ClassVar[str] = "train"
    SECTIONS: ClassVar[Optional[tuple[str, ...]]] = TRAIN_SECTIONS
    OUTPUTS: ClassVar[tuple[str, ...]] = ("checkpoint",)

    #: the DiG config keys training depends on
    KEYS: ClassVar[tuple[str, ...]] = ("seed", "curriculum", "task", "reward", "trainer")

    def configure(self, cfg: Any, out: Path) -> None:
        cfg.trainer.params["run_dir"] = str(out)

    def config_errors(self, cfg: Any) -> list[str]:
        from dig_core.errors import ConfigError, DigError
        from dig_core.training import resolve_trainer

        try:
            resolve_trainer(cfg)
        except ConfigError as e:
            return e.errors
        except DigError as e:
            return [str(e)]
        return []

    def fingerprint_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: cfg[k] for k in self.KEYS}

    def outputs(self, out: Path, cfg: Any) -> dict[str, str]:
        from dig_core.errors import DigError
        from dig_core.training import RunDir, resolve_trainer

        try:  # the trainer's stages: a warm start first, GRPO stages it may leave out
            names = [s.name for s in resolve_trainer(cfg).plan(cfg)]
        except DigError:  # reported by config_errors
            names = [s.name for s in cfg.curriculum.stages]
        return {"checkpoint": str(RunDir(out).stage(names[-1]).checkpoint)} if names else {}

    def run(self, ctx: StepContext) -> str:
        from dig_core.training import resolve_trainer

        trainer = resolve_trainer(ctx.config)
        trainer.progress = ctx.progress
        ctx.echo(f"   trainer {ctx.config.trainer.name}: {len(ctx.config.curriculum.stages)} stages in {ctx.out}")
        plan = trainer.train(ctx.config, echo=lambda line: ctx.echo(f"   {line}"))
        return f"{len(plan)} stages, checkpoint {self.outputs(ctx.out, ctx.config).get('checkpoint')}"


@hookimpl
def register_pipeline_steps() -> list[type]:
    return [GenerateStep, TinyModelStep, TrainStep]
