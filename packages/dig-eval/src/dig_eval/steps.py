"""dig-eval's pipeline step types (``dig run``, docs/pipeline.md): ``eval`` (``dig eval``) and
``report`` (``dig report``), each calling the command's code in-process into the step's folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

from dig_core.pipeline import PipelineStep, StepContext

from dig_eval.run import SECTIONS as EVAL_SECTIONS


class EvalStep(PipelineStep):
    """The config's model (``model: {name, params}``) on its evaluators (``evaluator`` /
    ``evaluators``), like ``dig eval --out STEP_DIR``; resumes from the stored predictions."""

    PLUGIN_NAME: ClassVar[str] = "eval"
    SECTIONS: ClassVar[Optional[tuple[str, ...]]] = EVAL_SECTIONS

    def config_errors(self, cfg: Any) -> list[str]:
        errors = [] if cfg.model.name is not None else ["model.name: set the model adapter (hf, vllm, predictions)"]
        if cfg.evaluator.name is None and not len(cfg.evaluators):
            errors.append("evaluator / evaluators: set at least one evaluator (e.g. evaluator.name=dig)")
        return errors

    def fingerprint_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: cfg[k] for k in ("task", "reward", "model", "evaluator", "evaluators")}

    def run(self, ctx: StepContext) -> str:
        from dig_eval.run import run_eval

        results = run_eval(ctx.config, ctx.out, progress=ctx.progress)
        return ", ".join(f"{bench}: {res['counts']['scored']}/{res['counts']['samples']} scored"
                         for bench, res in results.items())


@dataclass
class ReportConfig:
    #: the DiG dataset the run trained on (null: found in the run folder)
    data: Optional[str] = None
    #: the training run folder (null: found in the run folder)
    train: Optional[str] = None
    #: eval run folders, the baseline first (empty: found in the run folder)
    evals: list[str] = field(default_factory=list)
    #: DiG pairs in the prediction-dynamics section (null: the report's default)
    pairs: Optional[int] = None


class ReportStep(PipelineStep):
    """The run's HTML report (``dig report RUN_DIR --out STEP_DIR``)."""

    PLUGIN_NAME: ClassVar[str] = "report"
    Config: ClassVar[type] = ReportConfig

    @classmethod
    def validate_config(cls, cfg: ReportConfig) -> list[str]:
        return [] if cfg.pairs is None or cfg.pairs >= 1 else [f"pairs must be >= 1 or null, got {cfg.pairs}"]

    def run(self, ctx: StepContext) -> str:
        from dig_eval.run_report import write_report

        p = self.config
        extra = {} if p.pairs is None else {"pairs": p.pairs}
        page = write_report(ctx.run_dir, ctx.out, data=p.data, train=p.train, evals=list(p.evals) or None,
                            progress=ctx.progress, **extra)
        return f"wrote {Path(page)}"
