"""`dig run`: pipeline files are validated as a whole (every problem in one error), steps are
fingerprinted in RUN_DIR/pipeline.json, and reruns skip, resume, rerun what changed, or (--from)
force a step and everything after it; --dry-run writes nothing. The steps are a test plugin's
(conftest.py), registered through the register_pipeline_steps hook like any third-party step type."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.errors import ConfigError, PluginError
from dig_core.pipeline.runner import run_pipeline
from dig_core.pipeline.spec import load_pipeline
from dig_core.plugins import PluginManager, get_plugin_manager
from dig_core.plugins.manager import unknown_name_message

from tests.pipeline.conftest import CALLS, CheapSteps
from tests.pipeline.util import actions


def write(tmp_path: Path, doc: dict, name: str = "pipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def dig(*args: str):
    return CliRunner().invoke(load_commands(), list(args), catch_exceptions=False)


def chain(tmp_path: Path) -> Path:
    """a -> b -> c (c also reads a), with a seed-file step beside them."""
    return write(tmp_path, {
        "run_dir": str(tmp_path / "run"),
        "config": {"seed": 1},
        "steps": {
            "a": {"type": "concat", "params": {"text": "A"}},
            "b": {"type": "concat", "params": {"text": "B", "inputs": ["${steps.a.out}"]}},
            "s": {"type": "seed-file"},
            "c": {"type": "concat", "params": {"text": "C", "inputs": ["${steps.b.out}", "${steps.a.out}"]}},
        }})


def test_every_problem_of_a_pipeline_file_in_one_error(cheap_steps, tmp_path):
    path = write(tmp_path, {
        "run_dir": str(tmp_path / "run"), "colour": 1,
        "config": {"scene": {"widht": 64}},
        "steps": {
            "a": {"type": "bogus"},
            "b": {"type": "concat", "params": {"inputs": ["${steps.nowhere.out}"]}, "after": ["a"]},
            "c": {"type": "concat", "params": {"inputs": ["${steps.d.out}"]}},
            "d": {"type": "concat", "params": {"inputs": ["${steps.c.out}"]}},
            "e": {"type": "concat", "params": {"inputs": ["${steps.b.checkpoint}"]}},
            "f": {"type": "concat", "params": {"txt": "x"}},
            "s": {"type": "seed-file", "config": {"seed": "many"}},
        }})
    with pytest.raises(ConfigError) as e:
        load_pipeline(path)
    msg = str(e.value)
    assert "unknown top-level key 'colour'" in msg
    assert "steps.a.type: unknown pipeline_step 'bogus'; available: " in msg and "concat" in msg and "generate" in msg
    assert "refers to step 'nowhere', which is not in the pipeline" in msg
    assert "steps.b: unknown key 'after'" in msg
    assert "steps form a cycle: c -> d -> c" in msg
    assert "step 'b' (concat) has no output 'checkpoint'; its outputs: out, value" in msg
    assert "steps.f.params: unknown key 'txt'" in msg
    assert "unknown key 'scene.widht'" in msg
    assert "seed=" in msg and "many" in msg
    assert len(e.value.errors) == 9, "\n".join(e.value.errors)

    # the CLI prints the same list and exits 2 (a config error), running nothing
    r = dig("run", str(path))
    assert r.exit_code == 2 and "invalid configuration (9 problems)" in r.output
    assert not (tmp_path / "run").exists() and cheap_steps == []


def test_register_pipeline_steps_collects_every_packages_step_types(cheap_steps):
    pm = get_plugin_manager()
    names = {cls.PLUGIN_NAME for classes in pm.pm.hook.register_pipeline_steps() for cls in classes}
    assert {"generate", "tiny-model", "train", "concat", "seed-file"} <= names
    reg = pm.registries["pipeline_step"]
    assert reg["concat"].source == "cheap-steps-test-plugin" and reg["generate"].package == "dig-core"
    for name, package in (("eval", "dig-eval"), ("report", "dig-eval"), ("export", "dig-train-openrlhf")):
        if name in reg:
            assert reg[name].package == package


def test_a_step_type_of_an_uninstalled_package_names_the_package():
    assert "pip install dig-eval" in unknown_name_message("pipeline_step", "eval", {})
    assert "pip install dig-train-openrlhf" in unknown_name_message("pipeline_step", "export", {})


def test_references_order_the_steps_and_resolve_to_output_folders(cheap_steps, tmp_path):
    path = write(tmp_path, {"run_dir": str(tmp_path / "run"), "vars": {"word": "W"}, "steps": {
        "late": {"type": "concat", "params": {"text": "${vars.word}", "inputs": ["${steps.early.out}"]}},
        "early": {"type": "concat", "params": {"text": "E"}},
    }})
    p = load_pipeline(path)
    assert [s.name for s in p.steps] == ["early", "late"]
    late = p.step("late")
    assert late.deps == ["early"] and late.step.config.inputs == [str(tmp_path / "run" / "early")]
    assert late.outputs == {"out": str(tmp_path / "run" / "late"), "value": str(tmp_path / "run" / "late" / "value.txt")}
    r = dig("run", str(path))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "late" / "value.txt").read_text() == "W+E"


def test_rerun_skips_unchanged_steps_and_reruns_changed_ones_and_their_dependents(cheap_steps, tmp_path):
    path = chain(tmp_path)
    run = tmp_path / "run"
    r = dig("run", str(path))
    assert r.exit_code == 0, r.output
    assert actions(r.output) == {"a": "run", "b": "run", "s": "run", "c": "run"}
    assert cheap_steps == ["a", "b", "s", "c"]
    assert (run / "c" / "value.txt").read_text() == "C+B+A+A"
    record = json.loads((run / "pipeline.json").read_text())["steps"]
    assert all(record[n]["completed"] for n in "absc")
    assert record["c"]["inputs"]["after"] == {"b": record["b"]["fingerprint"], "a": record["a"]["fingerprint"]}
    resolved = yaml.safe_load((run / "pipeline.yaml").read_text())
    assert resolved["steps"]["c"]["after"] == ["a", "b"] and resolved["steps"]["c"]["params"]["text"] == "C"

    cheap_steps.clear()
    r = dig("run", str(path))
    assert r.exit_code == 0 and cheap_steps == []
    assert actions(r.output) == dict.fromkeys("absc", "skip")
    assert f"a (concat): skip - unchanged since {record['a']['completed']}" in r.output

    # b's params change: b reruns from scratch (its folder cleared), so does c, which reads it
    (run / "b" / "stale.txt").write_text("old")
    cheap_steps.clear()
    r = dig("run", str(path), "steps.b.params.text=BB")
    assert r.exit_code == 0, r.output
    assert actions(r.output) == {"a": "skip", "b": "rerun", "s": "skip", "c": "rerun"}
    assert "b (concat): rerun - changed params.text" in r.output
    assert "c (concat): rerun - input b changed" in r.output
    assert f"clearing {run / 'b'}" in r.output and not (run / "b" / "stale.txt").exists()
    assert cheap_steps == ["b", "c"] and (run / "c" / "value.txt").read_text() == "C+BB+A+A"

    # the shared config changes: only the step that takes a config reruns, naming the key
    cheap_steps.clear()
    r = dig("run", str(path), "steps.b.params.text=BB", "config.seed=7")
    assert actions(r.output) == {"a": "skip", "b": "skip", "s": "rerun", "c": "skip"}
    assert "s (seed-file): rerun - changed config.seed" in r.output
    assert (run / "s" / "seed.txt").read_text() == "7"


def test_an_interrupted_step_resumes_and_the_steps_after_it_run(cheap_steps, tmp_path):
    path = chain(tmp_path)
    run = tmp_path / "run"
    assert dig("run", str(path)).exit_code == 0
    cheap_steps.clear()
    r = dig("run", str(path), "steps.b.params.text=B2", "--from", "b")
    assert r.exit_code == 0
    (run / "STOP").write_text("")
    r = dig("run", str(path), "steps.b.params.text=B3")
    assert r.exit_code == 1 and "b: stopped (RUN_DIR/STOP exists)" in r.output
    assert "b: stopped; running the same command again resumes it" in r.output
    record = json.loads((run / "pipeline.json").read_text())["steps"]
    assert record["b"]["completed"] is None and record["c"]["completed"] is None

    (run / "STOP").unlink()
    cheap_steps.clear()
    r = dig("run", str(path), "steps.b.params.text=B3", "--dry-run")
    assert actions(r.output) == {}  # the dry run prints a plan, no step headers
    assert "b (concat): resume - interrupted (started " in r.output
    assert "c (concat): rerun - " in r.output and cheap_steps == []
    r = dig("run", str(path), "steps.b.params.text=B3")
    assert r.exit_code == 0, r.output
    assert actions(r.output) == {"a": "skip", "b": "resume", "s": "skip", "c": "rerun"}
    assert (run / "b" / "resumed.txt").read_text() == "True"  # its partial work was kept
    assert (run / "c" / "value.txt").read_text() == "C+B3+A+A"


def test_from_forces_a_step_and_every_step_after_it(cheap_steps, tmp_path):
    path = chain(tmp_path)
    assert dig("run", str(path)).exit_code == 0
    cheap_steps.clear()
    r = dig("run", str(path), "--from", "b")
    assert r.exit_code == 0, r.output
    assert actions(r.output) == {"a": "skip", "b": "rerun", "s": "rerun", "c": "rerun"}
    assert "b (concat): rerun - forced by --from b" in r.output
    assert cheap_steps == ["b", "s", "c"]
    r = dig("run", str(path), "--from", "nope")
    assert r.exit_code == 2 and "--from 'nope': no such step" in r.output and "a, b, s, c" in r.output


def test_to_stops_after_a_step(cheap_steps, tmp_path):
    path = chain(tmp_path)
    r = dig("run", str(path), "--to", "b")
    assert r.exit_code == 0, r.output
    assert actions(r.output) == {"a": "run", "b": "run"} and cheap_steps == ["a", "b"]
    assert "(not run, after --to b: s, c)" in r.output and not (tmp_path / "run" / "c").exists()
    r = dig("run", str(path))
    assert actions(r.output) == {"a": "skip", "b": "skip", "s": "run", "c": "run"}
    r = dig("run", str(path), "--from", "c", "--to", "b")
    assert r.exit_code == 2 and "--from 'c' comes after --to 'b'" in r.output


def test_dry_run_prints_the_plan_and_writes_nothing(cheap_steps, tmp_path):
    path = chain(tmp_path)
    r = dig("run", str(path), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "[1/4] a (concat): run - not run before in this folder" in r.output
    assert "[4/4] c (concat): run" in r.output
    assert not (tmp_path / "run").exists() and cheap_steps == []


def test_out_overrides_run_dir_and_a_foreign_folder_is_not_overwritten(cheap_steps, tmp_path):
    path = chain(tmp_path)
    other = tmp_path / "other"
    (other / "a").mkdir(parents=True)
    (other / "a" / "mine.txt").write_text("user data")
    (other / "c").write_text("a file")
    r = dig("run", str(path), "--out", str(other))
    assert r.exit_code == 1 and f"{other / 'a'}, {other / 'c'} exist(s), but " in r.output
    assert "has no record of making them" in r.output and cheap_steps == []  # checked before any step runs
    assert (other / "a" / "mine.txt").read_text() == "user data"
    r = dig("run", str(path), "--out", str(other), "--dry-run")
    assert r.exit_code == 1 and "[1/4] a (concat): run" in r.output and "has no record" in r.output


def test_no_progress_silences_the_hugging_face_libraries_bars_and_restores_them(monkeypatch):
    datasets = pytest.importorskip("datasets")
    hf_logging = pytest.importorskip("transformers.utils.logging")
    from dig_core.pipeline.runner import library_progress_bars_off
    from huggingface_hub.utils import are_progress_bars_disabled

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "0")
    assert datasets.is_progress_bar_enabled() and hf_logging.is_progress_bar_enabled()
    with library_progress_bars_off():
        # imported already: switched off now; imported later (or in a child process): by the environment
        assert not datasets.is_progress_bar_enabled() and not hf_logging.is_progress_bar_enabled()
        assert are_progress_bars_disabled()
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1"
    assert datasets.is_progress_bar_enabled() and hf_logging.is_progress_bar_enabled()
    assert not are_progress_bars_disabled()
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "0"


def test_a_step_type_of_a_package_not_installed_here_stops_only_the_steps_that_need_it(monkeypatch, tmp_path):
    # a render box: dig-eval is not installed, so `eval` steps (and what uses them) cannot run, but
    # `--to` a step before them works; a type that no DiG package provides stays a config error
    monkeypatch.setenv("DIG_DISABLE_PLUGINS", "eval")
    pm = PluginManager()
    pm.register(CheapSteps(), "cheap-steps-test-plugin")
    assert "eval" not in pm.available("pipeline_step")
    CALLS.clear()
    run = tmp_path / "run"
    path = write(tmp_path, {"run_dir": str(run), "steps": {
        "a": {"type": "concat", "params": {"text": "A"}},
        "score": {"type": "eval", "params": {"not": "validated here"}},
        "b": {"type": "concat", "params": {"inputs": ["${steps.score.out}"]}},
        "c": {"type": "concat", "params": {"text": "C", "inputs": ["${steps.a.out}"]}},
    }})
    p = load_pipeline(path, pm=pm)
    assert [s.name for s in p.steps] == ["a", "c"] and p.order == ["a", "score", "b", "c"]
    assert "steps.score.type: unknown pipeline_step 'eval'" in p.unavailable["score"]
    assert "pip install dig-eval" in p.unavailable["score"]
    assert p.unavailable["b"] == "steps.b: uses the output of score, which cannot run here"

    lines: list[str] = []
    with pytest.raises(PluginError) as e:
        run_pipeline(p, dry_run=True, echo=lines.append)
    assert "  [2/4] score: cannot run here (below)" in lines and "[4/4] c (concat): run" in " ".join(lines)
    assert "pip install dig-eval" in str(e.value) and "steps.b: uses the output of score" in str(e.value)
    with pytest.raises(PluginError):
        run_pipeline(p, to_step="c", echo=lines.append)  # score and b come before c in run order
    assert CALLS == [] and not run.exists()

    run_pipeline(p, to_step="a", echo=lines.append)
    assert CALLS == ["a"] and (run / "a" / "value.txt").read_text() == "A"

    doc = yaml.safe_load(path.read_text())
    doc["steps"]["score"]["type"] = "evaluate"
    with pytest.raises(ConfigError, match=r"steps.score.type: unknown pipeline_step 'evaluate'"):
        load_pipeline(write(tmp_path, doc, "typo.yaml"), pm=pm)
