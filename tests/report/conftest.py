"""A real small pipeline run for the report tests, built once per session:

RUN/data (tests.helpers.write_dig_dataset, three curriculum stages), RUN/train (``dig train
trainer.name=trl`` on the tiny Qwen2.5-VL: two GRPO steps per stage, G=2), RUN/eval-base and
RUN/eval-trained (``dig eval`` with the hf adapter on the base model and on the last checkpoint).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.util import dig
from tests.helpers import write_dig_dataset

STAGES = [("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2), ("dig-mix", 1, 3, False, 2)]
SIZE = (64, 48)


def _ok(res) -> str:
    assert res.exit_code == 0, res.output
    return res.output


def build_run(root: Path, model: Path, size: tuple[int, int] = SIZE) -> Path:
    """The pipeline's folders under ``root`` (see the module docstring); returns ``root``."""
    data = write_dig_dataset(root / "data", size=size, stages=STAGES)
    stages = []
    for i, (name, kmin, kmax, cip, pairs) in enumerate(STAGES):
        stages += [f"curriculum.stages.{i}.name={name}", f"curriculum.stages.{i}.k_min={kmin}",
                   f"curriculum.stages.{i}.k_max={kmax}", f"curriculum.stages.{i}.count_in_prompt={cip}",
                   f"curriculum.stages.{i}.pairs={pairs}"]
    _ok(dig("train", "trainer.name=trl", f"trainer.params.model={model}", f"trainer.params.data={data}",
            f"trainer.params.run_dir={root / 'train'}", "trainer.params.num_generations=2",
            "trainer.params.max_new_tokens=16", "trainer.params.max_steps=2", "trainer.params.seed=0", *stages))
    for name, path in (("eval-base", model), ("eval-trained", root / "train" / "dig-mix" / "checkpoint")):
        _ok(dig("eval", "model.name=hf", f"model.params.path={path}", "model.params.max_new_tokens=16",
                "evaluator.name=dig", f"evaluator.params.dataset={data}", "--out", root / name, "--no-progress"))
    return root


@pytest.fixture(scope="session")
def full_run(tiny_qwen25_vl, tmp_path_factory) -> Path:
    pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
    pytest.importorskip("dig_train_trl")
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'dig-core[plot]')")
    return build_run(tmp_path_factory.mktemp("report") / "run", tiny_qwen25_vl)
