"""The dig CLI as a user runs it: exit codes, no tracebacks for user errors, help that answers."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dig(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True, cwd=cwd,
                          env=None if env is None else {**os.environ, **env})


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


#: as if dig-render-blender were not installed (it is not in a training / evaluation environment)
NO_RENDERER = {"DIG_DISABLE_PLUGINS": "blender"}


def test_help_lists_commands():
    r = dig("--help")
    assert r.returncode == 0
    for cmd in ("generate", "config", "plugins", "show", "audit", "score", "verify"):
        assert cmd in r.stdout


def test_generate_help_explains_resume_and_overrides():
    r = dig("generate", "--help")
    assert r.returncode == 0
    assert "continues where it stopped" in r.stdout and "KEY=VALUE" in r.stdout


def test_config_show_prints_resolved_yaml():
    r = dig("config", "show", "scene.max_objects=6")
    assert r.returncode == 0, r.stderr
    assert "max_objects: 6" in r.stdout


@pytest.mark.parametrize("args", [
    ("config", "show", "scene.max_objects=abc", "renderer.name=nope"),
    ("config", "show", "--config", "/nonexistent/file.yaml"),
    ("generate", "--out", "x", "scene.min_objects=9", "scene.max_objects=2"),
])
def test_config_errors_exit_2_without_traceback(args):
    r = dig(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ")


def test_all_config_errors_in_one_run():
    r = dig("config", "show", "scene.max_objects=abc", "renderer.name=nope")
    assert "(2 problems)" in r.stderr
    assert "max_objects" in r.stderr and "unknown renderer 'nope'" in r.stderr


def test_plugins_lists_builtins_with_package_and_version():
    r = dig("plugins", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    by = {(x["kind"], x["name"]): x for x in rows}
    assert by[("perturbation", "color")]["package"] == "dig-core"
    assert by[("executor", "ray")]["package"] == "dig-core"
    if _installed("dig-render-blender"):
        assert by[("renderer", "blender")]["package"] == "dig-render-blender"
    else:
        assert ("renderer", "blender") not in by
    assert all(x["version"] for x in rows)
    table = dig("plugins").stdout
    assert table.splitlines()[0].split() == ["kind", "name", "package", "version", "class"]


def test_dataset_errors_exit_2_without_traceback(tmp_path):
    r = dig("show", str(tmp_path / "missing"), "--out", str(tmp_path / "s.png"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not found" in r.stderr
    (tmp_path / "annotations.jsonl").write_text("{oops\n")
    r = dig("audit", str(tmp_path))
    assert r.returncode == 2 and "annotations.jsonl:1" in r.stderr and "Traceback" not in r.stderr


def test_a_plugin_adds_a_command():
    """register_commands: every plugin's commands (core's and a fixture's) land in the group."""
    import click
    from click.testing import CliRunner
    from dig_core import hookimpl
    from dig_core.plugins import get_plugin_manager

    class HelloPlugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-test")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    pm = get_plugin_manager()
    pm.register(HelloPlugin(), "hello-test-plugin")
    try:
        group = click.Group("dig")
        pm.pm.hook.register_commands(cli=group)
        assert {"generate", "score", "hello-test"} <= set(group.commands)
        result = CliRunner().invoke(group, ["hello-test"])
        assert result.exit_code == 0 and "hello from a plugin" in result.output
    finally:
        pm.unregister("hello-test-plugin")


# -- without a renderer (pip install dig-core alone, a training or evaluation machine) ----------------
MISSING = "renderer 'blender' comes with `pip install dig-render-blender`"


@pytest.mark.parametrize("preset", [None, "paper.yaml", "dig-bench.yaml"])
def test_config_show_works_without_the_renderer(preset):
    args = ("--config", str(ROOT / "configs" / preset)) if preset else ()
    r = dig("config", "show", *args, "reward.params.alpha=0.2", env=NO_RENDERER)
    assert r.returncode == 0, r.stderr
    assert "name: blender" in r.stdout and "alpha: 0.2" in r.stdout
    assert r.stderr.startswith("note: renderer.name: unknown renderer 'blender'") and MISSING in r.stderr
    bad = dig("config", "show", *args, "reward.params.alpha=2", env=NO_RENDERER)  # the rest is still checked
    assert bad.returncode == 2 and "alpha must be in [0, 1]" in bad.stderr and "Traceback" not in bad.stderr


def test_score_works_without_the_renderer(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    ann = {"id": "p-0", "stage": "s", "image_a": "images/p-0_a.png", "image_b": "images/p-0_b.png", "width": 100,
           "height": 100, "boxes": [[10, 10, 20, 20]], "scene_a": {}, "scene_b": {}, "seed": 0,
           "differences": [{"type": "color", "object_id": 0, "before": {}, "after": {}, "box": [10, 10, 20, 20]}]}
    (root / "annotations.jsonl").write_text(json.dumps(ann) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "p-0", "completion": "[[10, 10, 20, 20]]"}) + "\n")
    r = dig("score", str(preds), "--dataset", str(root), "--config", str(ROOT / "configs" / "demo.yaml"),
            env=NO_RENDERER)
    assert r.returncode == 0, r.stderr
    assert "scored 1 of 1 samples" in r.stdout and r.stderr == ""


def test_generate_without_the_renderer_names_the_package(tmp_path):
    out = tmp_path / "out"
    r = dig("generate", "--out", str(out), env=NO_RENDERER)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and MISSING in r.stderr
    assert not out.exists()  # nothing written


def test_plugins_audit_and_show_work_without_the_renderer(tmp_path):
    r = dig("plugins", "--json", env=NO_RENDERER)
    assert r.returncode == 0 and ("renderer", "blender") not in {(x["kind"], x["name"]) for x in json.loads(r.stdout)}
    for args in (("audit", str(tmp_path)), ("show", str(tmp_path), "--out", str(tmp_path / "s.png"))):
        r = dig(*args, env=NO_RENDERER)  # an empty folder: a dataset error, not a plugin error
        assert r.returncode == 2 and "not found" in r.stderr and "renderer" not in r.stderr


#: every command that reads a dataset and writes a file or folder: (package, args with {D} = the dataset)
OUTPUT_INTO_DATASET = [
    ("dig-core", "score {P} --dataset {D} --out {D}/metadata.jsonl"),
    ("dig-core", "audit {D} --json-out {D}/dataset.json"),
    ("dig-core", "audit {D} --histograms {D}/difficulty.png"),
    ("dig-core", "show {D} --out {D}/images/dig-1-00000_a.png"),
    ("dig-eval", "show-predictions {D} --dataset {D} --out {D}/README.md"),
    ("dig-eval", "eval model.name=predictions model.params.path={P} evaluator.name=dig evaluator.params.dataset={D} "
                 "--out {D}"),
    ("dig-train-openrlhf", "export-openrlhf {D} --out {D}"),
    ("dig-train-trl", "train trainer.name=trl trainer.params.model=m trainer.params.data={D} "
                      "trainer.params.run_dir={D}/images"),
]


@pytest.mark.parametrize("package, command", OUTPUT_INTO_DATASET, ids=[c.split()[0] + "-" + c.split("{D}/")[-1].split()[0]
                                                                     for _, c in OUTPUT_INTO_DATASET])
def test_an_output_inside_the_dataset_being_read_is_refused(tmp_path, package, command):
    from tests.helpers import write_dig_dataset

    if not _installed(package):
        pytest.skip(f"{package} is not installed")
    data = write_dig_dataset(tmp_path / "ds", n=1)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "dig-1-00000", "completion": "none"}) + "\n")
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    r = dig(*command.format(D=data, P=preds).split())
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert "being read" in r.stderr and str(data) in r.stderr
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before


def test_a_report_beside_the_dataset_is_written(tmp_path):
    from tests.helpers import write_dig_dataset

    data = write_dig_dataset(tmp_path / "ds", n=1)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "dig-1-00000", "completion": "none"}) + "\n")
    r = dig("score", str(preds), "--dataset", str(data), "--out", str(data / "scored.jsonl"))
    assert r.returncode == 0, r.stderr
    assert dig("verify", str(data), "--no-progress").returncode == 0
