"""OpenRLHF's own ``train_ppo_ray`` argument parser and checks, without importing that module.

``openrlhf.cli.train_ppo_ray`` imports Ray and vLLM at the top, so it cannot be imported on a CPU
machine. Its parser and its post-parse checks live in the file's ``if __name__ == "__main__":``
block; this module reads that block with :mod:`ast` and runs it: the statements up to
``parse_args()`` build the real parser, the statements after it are OpenRLHF's own argument
validation (asserts and fix-ups), run with ``train(args)`` replaced by a no-op. Nothing here copies
OpenRLHF's flags: a flag the installed OpenRLHF does not know fails exactly as it would there.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import importlib.util
import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dig_core.errors import ConfigError, DigError

ENTRY_MODULE = "openrlhf.cli.train_ppo_ray"


class OpenRLHFMissing(DigError):
    """OpenRLHF is not installed where it is needed."""


def openrlhf_root() -> Path | None:
    """The installed ``openrlhf`` package folder (found without importing it), or None."""
    try:
        spec = importlib.util.find_spec("openrlhf")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def openrlhf_version() -> str | None:
    import importlib.metadata as md

    try:
        return md.version("openrlhf")
    except md.PackageNotFoundError:
        return None


def train_ppo_ray_source() -> Path:
    root = openrlhf_root()
    path = root / "cli" / "train_ppo_ray.py" if root else None
    if path is None or not path.is_file():
        raise OpenRLHFMissing(
            "OpenRLHF is not installed (needed to check or run training commands): "
            "`pip install 'dig-train-openrlhf[gpu]'` on a GPU machine, or `pip install --no-deps openrlhf==0.11.2` "
            "to check commands on CPU")
    return path


def _main_block(tree: ast.Module, path: Path) -> list[ast.stmt]:
    for node in tree.body:
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            return node.body
    raise OpenRLHFMissing(f"{path}: no `if __name__ == '__main__':` block; is this OpenRLHF 0.11.x?")


def _is_parse_args(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "parse_args")


@dataclass(frozen=True)
class _Blocks:
    build: Any  # code object: builds `parser`
    check: Any  # code object: OpenRLHF's checks on `args` (ends before train(args))
    path: Path


@lru_cache(maxsize=4)
def _compile(path: Path) -> _Blocks:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    body = _main_block(tree, path)
    split = next((i for i, node in enumerate(body) if _is_parse_args(node)), None)
    if split is None:
        raise OpenRLHFMissing(f"{path}: no `args = parser.parse_args()` in its __main__ block")
    build = ast.Module(body=body[:split], type_ignores=[])
    check = ast.Module(body=body[split + 1:], type_ignores=[])
    return _Blocks(compile(build, str(path), "exec"), compile(check, str(path), "exec"), path)


def _hierarchize():
    """OpenRLHF's own ``openrlhf.utils.config.hierarchize``, loaded from its file (the package's
    ``__init__`` imports torch; this one module does not)."""
    root = openrlhf_root()
    path = root / "utils" / "config.py" if root else None
    if path is None or not path.is_file():
        raise OpenRLHFMissing("OpenRLHF's openrlhf/utils/config.py not found")
    spec = importlib.util.spec_from_file_location("_dig_openrlhf_utils_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.hierarchize


def build_parser(path: Path | None = None) -> argparse.ArgumentParser:
    """The parser ``train_ppo_ray`` builds, from the installed file (or ``path``)."""
    blocks = _compile(Path(path) if path else train_ppo_ray_source())
    namespace: dict[str, Any] = {"argparse": argparse, "datetime": datetime, "__name__": "__dig_flags__"}
    exec(blocks.build, namespace)
    parser = namespace.get("parser")
    if not isinstance(parser, argparse.ArgumentParser):
        raise OpenRLHFMissing(f"{blocks.path}: its __main__ block built no `parser`")
    parser.prog = ENTRY_MODULE
    return parser


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


class _ParseError(Exception):
    pass


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit
        raise _ParseError(message)


def check_args(argv: list[str], path: Path | None = None) -> Any:
    """Parse ``argv`` with OpenRLHF's parser and run OpenRLHF's own post-parse checks, as
    ``python -m openrlhf.cli.train_ppo_ray ARGV`` would before training. Returns the hierarchical
    args it would train with; raises :class:`ConfigError` with OpenRLHF's message otherwise."""
    path = Path(path) if path else train_ppo_ray_source()
    parser = build_parser(path)
    parser.__class__ = _RaisingParser
    try:
        flat = parser.parse_args(argv)
    except _ParseError as e:
        raise ConfigError(f"OpenRLHF ({path}) rejects the training command: {e}") from None
    blocks = _compile(path)
    captured: dict[str, Any] = {}
    hierarchize = _hierarchize()

    def train(args):
        captured["args"] = args

    namespace: dict[str, Any] = {"args": flat, "train": train, "print": lambda *a, **k: None,
                                 "__name__": "__dig_flags__"}
    # the block imports hierarchize from openrlhf.utils.config (whose package imports torch): hand it
    # the same function, loaded from its own file
    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "openrlhf.utils.config":
            return SimpleNamespace(hierarchize=hierarchize)
        return builtins.__import__(name, globals, locals, fromlist, level)

    namespace["__builtins__"] = {**vars(builtins), "__import__": _import}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(blocks.check, namespace)
    except AssertionError as e:
        raise ConfigError(f"OpenRLHF's argument check fails for the training command: {e}") from None
    if "args" not in captured:
        raise OpenRLHFMissing(f"{path}: its __main__ block did not reach train(args)")
    return captured["args"]
