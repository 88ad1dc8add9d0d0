"""dig-train-openrlhf's pipeline step type ``export`` (``dig run``, docs/pipeline.md): a DiG
dataset as OpenRLHF prompt files in the step's folder, like ``dig export-openrlhf DATA --out STEP_DIR``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from dig_core.pipeline import PipelineStep, StepContext


@dataclass
class ExportConfig:
    #: the DiG dataset folder, e.g. ${steps.data.out}
    dataset: str = ""
    #: only these stages (null: every stage in the dataset)
    stages: Optional[list[str]] = None


class ExportStep(PipelineStep):
    """OUT/<stage>.jsonl and OUT/export.json for the model of ``trainer.params`` (openrlhf's)."""

    PLUGIN_NAME: ClassVar[str] = "export"
    Config: ClassVar[type] = ExportConfig
    SECTIONS: ClassVar[Optional[tuple[str, ...]]] = ("task",)

    @classmethod
    def validate_config(cls, cfg: ExportConfig) -> list[str]:
        return [] if cfg.dataset else ["dataset: set the DiG dataset folder (e.g. ${steps.data.out})"]

    def config_errors(self, cfg: Any) -> list[str]:
        from dig_core.errors import ConfigError

        from dig_train_openrlhf.export import trainer_params

        try:
            trainer_params(cfg)
        except ConfigError as e:
            return e.errors
        return []

    def fingerprint_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: cfg[k] for k in ("task", "curriculum", "trainer")}

    def run(self, ctx: StepContext) -> str:
        from dig_train_openrlhf.export import export_dataset

        p = self.config
        files = export_dataset(ctx.config, p.dataset, ctx.out, stages=list(p.stages) if p.stages else None,
                               progress=ctx.progress)
        return f"{len(files)} stage file(s): {', '.join(files)}"
