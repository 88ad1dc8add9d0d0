"""The shipped demo pipeline end to end, for real, on CPU (the slow one: ~2 minutes on 2 cores;
marked `render`): `dig run configs/pipelines/demo.yaml` renders the data and 4 DiG-Bench pairs
with Blender, builds a tiny Qwen2.5-VL, trains it through the 3 curriculum stages with TRL,
evaluates base and trained, writes the report; a rerun skips every step; `--from train` reruns
train, the trained model's eval and the report, and nothing before them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy", reason="needs Blender (dig-render-blender) to render the data")
pytest.importorskip("dig_train_trl", reason="the demo trains with the trl trainer (dig-train-trl)")
pytest.importorskip("dig_eval", reason="the demo evaluates and reports with dig-eval")
pytest.importorskip("transformers", reason="the demo's tiny model needs transformers")

from dig_core.data.dataset import read_annotations, read_manifest  # noqa: E402
from dig_core.training import read_rewards  # noqa: E402

from tests.pipeline.util import actions  # noqa: E402

pytestmark = pytest.mark.render

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "pipelines" / "demo.yaml"
STEPS = ["data", "bench", "model", "eval-base", "train", "eval-trained", "report"]


def dig_run(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "dig_core", "run", str(DEMO), "--no-progress", *args],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_demo_pipeline_runs_skips_and_reruns_from_train(tmp_path):
    run = tmp_path / "demo"
    r = dig_run("--out", str(run))
    assert actions(r.stdout) == dict.fromkeys(STEPS, "run")
    # --no-progress silences transformers', datasets' and TRL's bars and TRL's per-step metric dicts too
    bar = re.search(r"\d+/\d+ \[\d\d:\d\d", r.stdout + r.stderr)
    assert bar is None, (r.stdout + r.stderr)[max(0, bar.start() - 200):bar.end() + 100]
    assert "'loss'" not in r.stdout

    data = list(read_annotations(run / "data"))
    assert [p["stage"] for p in data] == ["dig-1"] * 2 + ["dig-2"] * 2 + ["dig-mix"] * 2
    bench = read_manifest(run / "bench")
    assert bench["config"]["seed_namespace"] == "dig-bench-v1" and bench["config"]["scene"]["width"] == 480
    assert [p["stage"] for p in read_annotations(run / "bench")] == ["bench-k1", "bench-k2", "bench-k3", "bench-k4"]
    assert (run / "model" / "config.json").is_file()
    rewards = read_rewards(run / "train")
    assert list(rewards) == ["dig-1", "dig-2", "dig-mix"] and all(len(v) == 2 * 4 for v in rewards.values())
    assert (run / "train" / "dig-mix" / "checkpoint" / "config.json").is_file()
    for ev in ("eval-base", "eval-trained"):
        metrics = json.loads((run / ev / "dig" / "metrics.json").read_text())
        assert metrics["counts"]["scored"] == 4, ev
    assert json.loads((run / "eval-trained" / "eval.json").read_text())["model"]["params"]["path"] == \
        str(run / "train" / "dig-mix" / "checkpoint")
    page = run / "report" / "report.html"
    assert "eval-trained" in page.read_text()
    record = json.loads((run / "pipeline.json").read_text())["steps"]
    assert list(record) == STEPS and all(rec["completed"] for rec in record.values())

    # the same command again: every step is skipped, nothing is rewritten
    stamp = page.stat().st_mtime_ns
    r = dig_run("--out", str(run))
    assert actions(r.stdout) == dict.fromkeys(STEPS, "skip")
    assert page.stat().st_mtime_ns == stamp

    # --from train: train and everything after it again; the data, bench, model and base eval stay
    data_stamp = (run / "data" / "metadata.jsonl").stat().st_mtime_ns
    r = dig_run("--out", str(run), "--from", "train")
    assert actions(r.stdout) == {**dict.fromkeys(STEPS[:4], "skip"), **dict.fromkeys(STEPS[4:], "rerun")}
    assert f"clearing {run / 'train'}" in r.stdout
    assert (run / "data" / "metadata.jsonl").stat().st_mtime_ns == data_stamp
    assert page.stat().st_mtime_ns != stamp and list(read_rewards(run / "train")) == ["dig-1", "dig-2", "dig-mix"]
