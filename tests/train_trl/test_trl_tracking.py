"""dig-train-trl's experiment tracking (`trainer.params.report_to`, dig_train_trl.tracking): a real
two-step GRPO stage on a tiny random Qwen2.5-VL writes TensorBoard events into its stage folder,
read back with TensorBoard's own event reader; bad integration names and missing packages fail
before anything trains."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
pytest.importorskip("dig_train_trl")
pytest.importorskip("tensorboard", reason="tensorboard is not installed (a dependency of dig-train-trl)")

from click.testing import CliRunner  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from tests.helpers import write_dig_dataset  # noqa: E402

G = 4
STEPS = 2
STAGE = ["curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 2}]"]


def _cli():
    from dig_core.cli import DigGroup
    from dig_core.cli.commands.train_cmd import train

    cli = DigGroup(commands={})
    cli.add_command(train)
    return cli


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dig_dataset(tmp_path_factory.mktemp("trl-tb-data") / "data", size=(64, 48),
                             stages=[("dig-1", 1, 1, True, 2)])


def overrides(model, data, run, *more: str) -> list[str]:
    return ["trainer.name=trl", f"trainer.params.model={model}", f"trainer.params.data={data}",
            f"trainer.params.run_dir={run}", f"trainer.params.num_generations={G}", "trainer.params.max_new_tokens=8",
            f"trainer.params.max_steps={STEPS}", "trainer.params.save_steps=-1", "trainer.params.seed=0", *STAGE, *more]


def invoke(args: list[str]):
    return CliRunner().invoke(_cli(), ["train", *args], catch_exceptions=False)


def scalars(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def test_grpo_stage_writes_tensorboard_events_in_its_folder(tiny_qwen25_vl, dataset, tmp_path):
    run = tmp_path / "run"
    r = invoke(overrides(tiny_qwen25_vl, dataset, run, "trainer.params.report_to=[tensorboard]"))
    assert r.exit_code == 0, r.output
    tb = run / "dig-1" / "tensorboard"
    assert list(tb.glob("events.out.tfevents.*")), sorted(p.name for p in (run / "dig-1").iterdir())
    acc = scalars(tb)
    tags = set(acc.Tags()["scalars"])
    assert {"train/reward", "train/loss", "train/frac_reward_zero_std", "train/learning_rate"} <= tags, sorted(tags)
    # one value per optimiser step, equal to what train.log recorded for that step
    log = {rec["step"]: rec for rec in map(json.loads, (run / "dig-1" / "train.log").read_text().splitlines())
           if "reward" in rec}
    events = acc.Scalars("train/reward")
    assert [e.step for e in events] == list(range(1, STEPS + 1)) == sorted(log)
    for e in events:
        assert math.isclose(e.value, log[e.step]["reward"], rel_tol=1e-6, abs_tol=1e-6)
    assert not (run / "dig-1" / "trl").exists()  # nothing of it lives in TRL's (deleted) output folder


def test_report_to_empty_writes_no_events(tiny_qwen25_vl, dataset, tmp_path):
    run = tmp_path / "run"
    r = invoke(overrides(tiny_qwen25_vl, dataset, run, "trainer.params.report_to=[]", "trainer.params.max_steps=1"))
    assert r.exit_code == 0, r.output
    assert (run / "dig-1" / "DONE").is_file() and not (run / "dig-1" / "tensorboard").exists()


@pytest.mark.parametrize("value, message", [
    ("[mlflow]", "'mlflow' is not allowed; allowed: ['tensorboard', 'wandb', 'none']"),
    ("[none, wandb]", "'none' cannot be combined"),
])
def test_unknown_integration_fails_validation(tiny_qwen25_vl, dataset, tmp_path, value, message):
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        f"trainer.params.report_to={value}")])
    assert r.exit_code == 2, r.output
    assert "report_to" in r.output and message in r.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["tensorboard", "wandb"])
def test_missing_integration_package_names_the_pip_install(tiny_qwen25_vl, dataset, tmp_path, monkeypatch, name):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a))
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        f"trainer.params.report_to=[{name}]")])
    assert r.exit_code == 2, r.output
    assert f"report_to has {name} but the {name} package is not installed: `pip install {name}`" in r.output
    assert not (tmp_path / "r" / "dig-1").exists()  # failed before the first stage


def test_stage_scalars_for_a_loop_of_its_own(tmp_path):
    """The writer the SFT warm start's loop uses: train/<key> per step, None and NaN skipped; a
    rerun hides what the earlier attempt wrote; a no-op without tensorboard in report_to."""
    from dig_train_trl.tracking import StageScalars

    with StageScalars(["tensorboard"], tmp_path / "tb") as w:
        for step in (1, 2, 3):
            w.add(step, {"loss": 1.0 / step, "skip": None, "nan": math.nan})
        w.add(3, {"format": 0.5}, prefix="eval/")
    with StageScalars(["tensorboard"], tmp_path / "tb") as w:  # restarted from its beginning
        w.add(1, {"loss": 0.25})
    acc = scalars(tmp_path / "tb")
    assert set(acc.Tags()["scalars"]) == {"train/loss", "eval/format"}
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(1, 0.25)]
    with StageScalars([], tmp_path / "none") as w:
        w.add(1, {"loss": 1.0})
    assert not (tmp_path / "none").exists()
