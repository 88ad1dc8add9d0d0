"""Hook specifications: every way a plugin extends DiG.

Each ``register_*`` hook is called once by :class:`dig_core.plugins.PluginManager` when the registry
for that kind is first needed. An implementation returns a list of **classes** (not instances), each
with a unique ``PLUGIN_NAME`` and an optional ``Config`` dataclass for its parameters. Two classes with
the same name are an error; config selects a class by that name.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("dig")


@hookspec
def register_perturbations() -> list[type]:
    """Called by the edit sampler's registry. Return :class:`dig_core.perturbations.Perturbation`
    subclasses; each edits one object (or adds one) and returns a ``Difference`` record."""


@hookspec
def register_renderers() -> list[type]:
    """Called when ``renderer.name`` is resolved. Return :class:`dig_core.render.Renderer`
    subclasses that render a scene (and a pair) to RGB plus a per-pixel instance map."""


@hookspec
def register_tasks() -> list[type]:
    """Called when ``task.name`` is resolved. Return task classes that build prompts for a pair and
    parse a model's answer into boxes."""


@hookspec
def register_rewards() -> list[type]:
    """Called when ``reward.name`` is resolved. Return reward classes that score parsed boxes
    against ground-truth boxes: ``score(pred, gt, answered_none=False)`` returns a
    :class:`dig_core.reward.RewardResult` whose ``reward`` (what GRPO optimises) and ``accuracy``
    (its accuracy part, what advance rules and curves read) follow the plugin's own formula;
    :func:`dig_core.scoring.score_answer` is how every command and trainer calls it."""


@hookspec
def register_advance_rules() -> list[type]:
    """Called when ``curriculum.advance.name`` is resolved. Return curriculum advance-rule classes
    that answer "advance to the next stage now?" from logged rewards."""


@hookspec
def register_executors() -> list[type]:
    """Called when ``generate.executor`` is resolved. Return executor classes that run generation
    work items (local processes, Ray, ...)."""


@hookspec
def register_trainers() -> list[type]:
    """Called when ``trainer.name`` is resolved. Return trainer classes (export, reward module,
    launcher) for a DiG dataset."""


@hookspec
def register_evaluators() -> list[type]:
    """Called when ``evaluator.name`` is resolved. Return benchmark evaluator classes."""


@hookspec
def register_model_adapters() -> list[type]:
    """Called when ``model.name`` is resolved (``dig eval``, and anything else that asks a model for
    answers). Return model-adapter classes that turn prompts with images into completions
    (transformers, vLLM, a predictions file, ...)."""


@hookspec
def register_pipeline_steps() -> list[type]:
    """Called by ``dig run`` when a pipeline file's ``steps.<name>.type`` is resolved. Return
    :class:`dig_core.pipeline.PipelineStep` subclasses: one step type each (``generate``, ``train``,
    ``eval``, ...), whose ``Config`` dataclass validates the step's ``params`` (docs/pipeline.md)."""


@hookspec
def register_commands(cli) -> None:
    """Called once when the ``dig`` CLI starts. Add click commands to the ``cli`` group; return
    nothing."""
