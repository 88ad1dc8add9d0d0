"""A third-party step plugin for the pipeline tests: cheap step types registered through the real
``register_pipeline_steps`` hook with the process-wide plugin manager (and unregistered after).

* ``concat``: writes ``OUT/value.txt`` = its ``text`` + the ``value.txt`` of every folder in
  ``inputs``; stops with an error after writing ``OUT/partial.txt`` while ``RUN_DIR/STOP`` exists
  (an interrupted step); on a rerun it records whether it found its own ``partial.txt`` (resumed).
* ``seed-file``: takes a DiG config (no plugin sections) and writes its ``seed`` to ``OUT/seed.txt``.

Every run appends ``<step name>`` to ``CALLS`` so tests see what ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from dig_core import hookimpl
from dig_core.errors import DigError
from dig_core.pipeline import PipelineStep, StepContext
from dig_core.plugins import get_plugin_manager

CALLS: list[str] = []


@dataclass
class ConcatParams:
    text: str = ""
    inputs: list[str] = field(default_factory=list)


class ConcatStep(PipelineStep):
    PLUGIN_NAME: ClassVar[str] = "concat"
    Config: ClassVar[type] = ConcatParams
    OUTPUTS: ClassVar[tuple[str, ...]] = ("value",)

    def outputs(self, out, cfg):
        return {"value": str(out / "value.txt")}

    def run(self, ctx: StepContext) -> str:
        CALLS.append(ctx.name)
        ctx.out.mkdir(parents=True, exist_ok=True)
        resumed = (ctx.out / "partial.txt").is_file()
        (ctx.out / "partial.txt").write_text("started")
        if (ctx.run_dir / "STOP").exists():
            raise DigError(f"{ctx.name}: stopped (RUN_DIR/STOP exists)")
        parts = [self.config.text] + [(Path(p) / "value.txt").read_text() for p in self.config.inputs]
        (ctx.out / "value.txt").write_text("+".join(parts))
        (ctx.out / "resumed.txt").write_text(str(resumed))
        return f"value {'+'.join(parts)}"


class SeedFileStep(PipelineStep):
    PLUGIN_NAME: ClassVar[str] = "seed-file"
    SECTIONS: ClassVar[tuple[str, ...]] = ()

    def run(self, ctx: StepContext) -> None:
        CALLS.append(ctx.name)
        ctx.out.mkdir(parents=True, exist_ok=True)
        (ctx.out / "seed.txt").write_text(str(ctx.config.seed))


class CheapSteps:
    @hookimpl
    def register_pipeline_steps(self):
        return [ConcatStep, SeedFileStep]


@pytest.fixture
def cheap_steps():
    pm = get_plugin_manager()
    pm.register(CheapSteps(), "cheap-steps-test-plugin")
    CALLS.clear()
    yield CALLS
    pm.unregister("cheap-steps-test-plugin")
