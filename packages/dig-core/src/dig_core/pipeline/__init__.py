"""``dig run``: a pipeline file of named steps (generate, train, eval, report, or a plugin's) run
into one run folder, with a fingerprint per step so that reruns skip or resume (docs/pipeline.md).

* :mod:`~dig_core.pipeline.step`: the step-type interface (:class:`PipelineStep`, :class:`StepContext`);
* :mod:`~dig_core.pipeline.spec`: reading and validating a pipeline file;
* :mod:`~dig_core.pipeline.fingerprint`: fingerprints and ``RUN_DIR/pipeline.json``;
* :mod:`~dig_core.pipeline.runner`: the plan (run / rerun / resume / skip) and running it;
* :mod:`~dig_core.pipeline.steps`: core's step types ``generate``, ``tiny-model``, ``train``.
"""

from dig_core.pipeline.step import PipelineStep, StepContext

__all__ = ["PipelineStep", "StepContext"]
