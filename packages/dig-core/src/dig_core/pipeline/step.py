"""The interface of a pipeline step type (kind ``pipeline_step``, hook ``register_pipeline_steps``).

A step type is a :class:`~dig_core.plugins.base.Plugin`: ``PLUGIN_NAME`` is what a pipeline file's
``steps.<name>.type`` says, ``Config`` validates ``steps.<name>.params``. A step that reads the DiG
config (``steps.<name>.config``, merged over the pipeline's shared ``config``) says which plugin
sections it resolves in :attr:`PipelineStep.SECTIONS`; one that takes no DiG config leaves it None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

from dig_core.plugins.base import Plugin

#: top-level DiG config keys that name how a command runs, not what it makes
RUN_ONLY_KEYS = ("generate",)


@dataclass
class StepContext:
    """What :meth:`PipelineStep.run` gets."""

    #: the step's name in the pipeline file
    name: str
    #: the step's output folder, ``RUN_DIR/<name>`` (``${steps.<name>.out}``)
    out: Path
    run_dir: Path
    #: the step's validated DiG config (None for a step that takes none)
    config: Any
    #: prints a line (``click.echo`` under ``dig run``)
    echo: Callable[[str], None]
    #: show progress bars
    progress: bool = True


class PipelineStep(Plugin):
    """Base of step types. Subclasses set ``PLUGIN_NAME``, optionally ``Config`` (params),
    :attr:`SECTIONS` (DiG config sections they use) and :attr:`OUTPUTS`, and implement :meth:`run`."""

    #: plugin sections of the DiG config this step resolves (``dig_core.config.ALL_SECTIONS``
    #: entries); None: the step takes no ``config``
    SECTIONS: ClassVar[Optional[tuple[str, ...]]] = None
    #: named outputs beside ``out`` (e.g. train's ``checkpoint``), computed by :meth:`outputs`
    OUTPUTS: ClassVar[tuple[str, ...]] = ()

    def configure(self, cfg: Any, out: Path) -> None:
        """Set what the pipeline decides in the step's DiG config before it is validated (e.g. the
        train step's ``trainer.params.run_dir`` = its folder)."""

    def config_errors(self, cfg: Any) -> list[str]:
        """Checks of the step's validated DiG config beyond ``dig_core.config`` (one message each)."""
        return []

    def fingerprint_config(self, cfg: Any) -> dict[str, Any]:
        """The part of the step's resolved DiG config (a plain dict) whose change makes it rerun;
        default: every key but :data:`RUN_ONLY_KEYS`."""
        return {k: v for k, v in cfg.items() if k not in RUN_ONLY_KEYS}

    def outputs(self, out: Path, cfg: Any) -> dict[str, str]:
        """The paths of :attr:`OUTPUTS`, known before the step runs."""
        return {}

    def run(self, ctx: StepContext) -> str | None:
        """Do the step's work into ``ctx.out`` (resuming what an interrupted run left there when the
        work allows); return a one-line summary or None. Raise ``DigError`` on bad input."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")
