"""The dig CLI as a user runs it: exit codes, no tracebacks for user errors, help that answers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def dig(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_commands():
    r = dig("--help")
    assert r.returncode == 0
    for cmd in ("generate", "config", "plugins", "show", "audit", "score"):
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
    assert by[("renderer", "blender")]["package"] == "dig-render-blender"
    assert all(x["version"] for x in rows)
    table = dig("plugins").stdout
    assert table.splitlines()[0].split() == ["kind", "name", "package", "version", "class"]


def test_dataset_errors_exit_1_without_traceback(tmp_path):
    r = dig("show", str(tmp_path / "missing"), "--out", str(tmp_path / "s.png"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not found" in r.stderr
    (tmp_path / "annotations.jsonl").write_text("{oops\n")
    r = dig("audit", str(tmp_path))
    assert r.returncode == 1 and "annotations.jsonl:1" in r.stderr and "Traceback" not in r.stderr


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
