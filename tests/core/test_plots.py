"""``dig plot-rewards``: reward curves from a run folder with two stages (any trainer's layout)."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from dig_core.cli import DigGroup
from dig_core.cli.commands.plot_cmd import plot_rewards
from dig_core.training import RunDir, read_rewards
from dig_core.training.plots import DPI, FIGSIZE, reward_curves, smooth

pytest.importorskip("matplotlib")


def write_run(root: Path, per_step: int | None = 4, steps: int = 30) -> Path:
    """Two stages; accuracy rises within each stage and drops at the boundary (as in Fig. 5)."""
    rng = random.Random(0)
    run = RunDir(root)
    extra = {"samples_per_step": per_step} if per_step else {}
    run.write_manifest("test", ["dig-1", "dig-2"], {"name": "dig", "params": {"lambda_f1": 0.5, "lambda_iou": 0.5}},
                       **extra)
    for s, name in enumerate(["dig-1", "dig-2"]):
        path = run.stage(name).rewards
        path.parent.mkdir(parents=True)
        lines = []
        for i in range(steps * (per_step or 1)):
            acc = min(1.0, 0.2 + 0.02 * (i // (per_step or 1))) - 0.15 * s
            f1, miou = acc + rng.uniform(-0.05, 0.05), acc
            lines.append(json.dumps({"step": i, "stage": name, "id": f"{name}-{i % 8}", "format": 1.0 if i % 5 else 0.0,
                                     "f1": f1, "miou": miou, "accuracy": (f1 + miou) / 2, "reward": 0.9 * acc}))
        path.write_text("\n".join(lines) + "\n" + '{"step": 999, "stage"')  # + a torn last line
    return root


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_rewards_writes_a_png_with_both_stages(tmp_path):
    run = write_run(tmp_path / "run")
    out = tmp_path / "figs" / "rewards.png"
    cli = DigGroup(commands={"plot-rewards": plot_rewards})
    r = CliRunner().invoke(cli, ["plot-rewards", str(run), "--out", str(out), "--smooth", "3"])
    assert r.exit_code == 0, r.output
    assert png_size(out) == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
    assert "dig-1: 120 samples, 30 steps" in r.output and "dig-2: 120 samples, 30 steps" in r.output
    assert [p.name for p in out.parent.iterdir()] == ["rewards.png"]  # no temporary file left


def test_curves_are_per_training_step_and_continue_across_stages(tmp_path):
    curves = reward_curves(write_run(tmp_path / "run"))
    assert curves.unit == "step" and [s.name for s in curves.stages] == ["dig-1", "dig-2"]
    one, two = curves.stages
    assert one.x == list(range(30)) and two.start == 30 and two.x == list(range(30, 60))
    assert one.accuracy[0] == pytest.approx(0.2, abs=0.03) and one.format[0] == pytest.approx(0.75)
    assert two.accuracy[0] < one.accuracy[-1]  # the drop at the stage boundary
    # without samples_per_step, x counts samples
    curves = reward_curves(write_run(tmp_path / "run2", per_step=None, steps=10))
    assert curves.unit == "sample" and curves.stages[1].x[0] == 10


def test_accuracy_is_the_logged_value_whatever_the_runs_lambdas(tmp_path):
    run = RunDir(tmp_path)
    run.write_manifest("t", ["s"], {"params": {"lambda_f1": 1.0, "lambda_iou": 0.0}})
    path = run.stage("s").rewards
    path.parent.mkdir()
    path.write_text(json.dumps({"step": 0, "f1": 0.8, "miou": 0.2, "format": 1}) + "\n"  # no accuracy: left out
                    + json.dumps({"step": 1, "f1": 0.8, "miou": 0.2, "format": 1, "accuracy": 0.3}) + "\n")
    assert reward_curves(tmp_path).stages[0].accuracy == [0.3]
    assert [r["step"] for r in read_rewards(tmp_path)["s"]] == [0, 1]


def test_smooth_is_a_trailing_mean():
    assert smooth([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]
    assert smooth([1, 2], 1) == [1, 2]


def test_no_rewards_is_a_clear_error(tmp_path):
    (tmp_path / "run").mkdir()
    cli = DigGroup(commands={"plot-rewards": plot_rewards})
    r = CliRunner().invoke(cli, ["plot-rewards", str(tmp_path / "run"), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and "no rewards logged yet" in r.output
    r = CliRunner().invoke(cli, ["plot-rewards", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and "run folder not found" in r.output
