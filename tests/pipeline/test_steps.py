"""The shipped step types run the commands' own code: `generate` renders a dataset for real
(Blender) and resumes; `export` (dig-train-openrlhf) writes OpenRLHF prompt files from a dataset
with a tiny model's processor; `train` exposes its last stage's checkpoint; the DiG config of each
step is validated with every existing check, the step named in each message."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.data.dataset import read_annotations, read_manifest
from dig_core.errors import ConfigError, PluginError
from dig_core.pipeline.runner import run_pipeline
from dig_core.pipeline.spec import load_pipeline
from dig_core.plugins import PluginManager

from tests.helpers import write_dig_dataset


def dig(*args: str):
    return CliRunner().invoke(load_commands(), list(args), catch_exceptions=False)


def write(tmp_path, doc):
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_step_configs_are_validated_by_dig_core_with_the_step_named(tmp_path):
    pytest.importorskip("dig_train_trl")
    path = write(tmp_path, {"run_dir": str(tmp_path / "run"), "config": {"scene": {"width": 8}}, "steps": {
        "data": {"type": "generate", "config": {"renderer": {"name": "nope"}}},
        "more": {"type": "generate"},
        "train": {"type": "train", "config": {"trainer": {"name": "trl", "params": {"num_generations": 1}}}},
        "model": {"type": "tiny-model", "params": {"family": "llama"}, "config": {"seed": 1}},
    }})
    with pytest.raises(ConfigError) as e:
        load_pipeline(path)
    msg = str(e.value)
    # a problem of the shared config is reported once, naming every step it affects
    assert "steps.data, steps.more, steps.train: scene.width/height must be >= 16, got 8x320" in msg
    assert "steps.data: renderer.name: unknown renderer 'nope'" in msg
    assert "steps.model.params: family: 'llama' is not one of ['qwen2_5_vl', 'qwen3_vl']" in msg
    assert "steps.model.config: step type 'tiny-model' takes no DiG config" in msg
    assert "steps.train: trainer.params: num_generations must be >= 2" in msg
    assert len(e.value.errors) == 5, "\n".join(e.value.errors)


def test_train_step_runs_in_its_folder_and_names_its_last_checkpoint(tmp_path):
    pytest.importorskip("dig_train_trl")
    path = write(tmp_path, {"run_dir": str(tmp_path / "run"), "steps": {
        "train": {"type": "train", "config": {"trainer": {"name": "trl", "params": {
            "model": "m", "run_dir": "elsewhere"}}}}}})
    step = load_pipeline(path).step("train")
    assert step.config.trainer.params.run_dir == str(tmp_path / "run" / "train")
    assert step.outputs["checkpoint"] == str(tmp_path / "run" / "train" / "dig-mix" / "checkpoint")


def test_export_step_writes_openrlhf_prompts_and_is_skipped_when_unchanged(tiny_qwen25_vl, tmp_path):
    pytest.importorskip("dig_train_openrlhf")
    data = write_dig_dataset(tmp_path / "data", stages=[("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2)],
                             size=(96, 64))
    path = write(tmp_path, {"run_dir": str(tmp_path / "run"), "steps": {
        "export": {"type": "export", "params": {"dataset": str(data)},
                   "config": {"trainer": {"name": "openrlhf", "params": {
                       "model": str(tiny_qwen25_vl), "max_len": 600, "max_new_tokens": 100}}}}}})
    r = dig("run", str(path), "--no-progress")
    assert r.exit_code == 0, r.output
    out = tmp_path / "run" / "export"
    lines = [json.loads(x) for x in (out / "dig-1.jsonl").read_text().splitlines()]
    ids = [p["id"] for p in read_annotations(data) if p["stage"] == "dig-1"]
    assert [json.loads(x["label"])["id"] for x in lines] == ids
    assert (out / "dig-2.jsonl").is_file() and (out / "export.json").is_file()
    r = dig("run", str(path), "--no-progress")
    assert "export (export): skip - unchanged since" in r.output
    r = dig("run", str(path), "--no-progress", "steps.export.params.stages=[dig-2]")
    assert "export (export): rerun - changed params.stages" in r.output
    assert not (out / "dig-1.jsonl").exists() and (out / "dig-2.jsonl").is_file()


@pytest.mark.render
def test_generate_step_renders_a_dataset_and_resumes_it(tmp_path, monkeypatch):
    pytest.importorskip("bpy", reason="needs Blender (dig-render-blender)")
    path = write(tmp_path, {"run_dir": str(tmp_path / "run"), "config": {
        "seed": 3, "scene": {"width": 64, "height": 48, "max_objects": 4},
        "renderer": {"name": "blender", "params": {"samples": 1, "denoise": False}},
        "validity": {"min_visible_pixels": 10, "min_box_change": 4},
        "curriculum": {"stages": [{"name": "dig-1", "k_min": 1, "k_max": 1, "pairs": 3}]},
        "generate": {"workers": 1}},
        "steps": {"data": {"type": "generate"}}})
    r = dig("run", str(path), "--no-progress")
    assert r.exit_code == 0, r.output
    data = tmp_path / "run" / "data"
    manifest = read_manifest(data)
    assert manifest["status"] == "complete" and manifest["counts"]["pairs"] == 3
    assert manifest["config"]["trainer"]["name"] is None  # sections the data does not depend on stay default
    assert "data: done in " in r.output and manifest["content_hash"][:12] in r.output

    # an interruption after two pairs: the record has no completion, the rerun resumes the dataset
    lines = (data / "metadata.jsonl").read_text().splitlines(keepends=True)
    (data / "metadata.jsonl").write_text("".join(lines[:2]))
    record_path = tmp_path / "run" / "pipeline.json"
    record = json.loads(record_path.read_text())
    record["steps"]["data"]["completed"] = None
    record_path.write_text(json.dumps(record))
    r = dig("run", str(path), "--no-progress")
    assert r.exit_code == 0, r.output
    assert "data (generate): resume - interrupted" in r.output
    assert read_manifest(data)["content_hash"] == manifest["content_hash"]
    assert [p["id"] for p in read_annotations(data)] == [json.loads(x)["id"] for x in lines]

    # only how it runs changes (generate.workers): nothing to redo
    r = dig("run", str(path), "--no-progress", "config.generate.workers=2")
    assert "data (generate): skip" in r.output

    # where Blender is not installed (a GPU box), the finished data step is skipped; a step that
    # has to render is an error naming the package, before anything runs
    monkeypatch.setenv("DIG_DISABLE_PLUGINS", "blender")
    no_blender = PluginManager()
    assert "blender" not in no_blender.available("renderer")
    lines = []
    plan = run_pipeline(load_pipeline(path, pm=no_blender), echo=lines.append)
    assert [p.action for p in plan] == ["skip"]
    with pytest.raises(PluginError, match=r"steps.data: renderer.name: .*pip install dig-render-blender"):
        run_pipeline(load_pipeline(path, ["config.seed=4"], pm=no_blender), echo=lines.append)
    assert read_manifest(data)["content_hash"] == manifest["content_hash"]
