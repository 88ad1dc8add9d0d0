"""Which folders under a run folder are what, found by their content (never by their names alone):

* a DiG dataset: ``dataset.json`` with a ``format_version`` and a lines file (``metadata.jsonl`` or
  format 1's ``annotations.jsonl``) — what :mod:`dig_core.data.dataset` writes;
* a training run: ``run.json`` with ``trainer`` and a ``stages`` list — what
  :meth:`dig_core.training.RunDir.write_manifest` writes (any trainer);
* a dig-eval run: ``eval.json`` (``run.json`` in folders of earlier versions) with ``dig_eval`` and
  ``benchmarks`` and at least one
  ``<benchmark>/metrics.json`` — what :func:`dig_eval.run.run_eval` writes.

The search goes :data:`MAX_DEPTH` folders deep, skips hidden folders and the report's own folder and
does not descend into a folder it recognised; a folder holding a ``report.html`` (an earlier report,
whose ``dynamics/`` holds small eval runs) is skipped too. Order of the eval runs (the first is the baseline):
a run of the training run's base model first, then runs whose folder name says ``base``, then the
others by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dig_core.data.dataset import LINES_FILES, MANIFEST
from dig_core.errors import DigError
from dig_core.training import RUN_CONFIG, RUN_MANIFEST, RunDir

from dig_eval.report import METRICS, RUN_INFO, run_info_path

MAX_DEPTH = 3
#: a folder holding this file is a run report (its dynamics/ holds eval runs of its own): skipped
REPORT_PAGE = "report.html"


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_dataset(path: Path) -> bool:
    manifest = _json(path / MANIFEST)
    return (manifest is not None and "format_version" in manifest
            and any((path / name).is_file() for name in LINES_FILES.values()))


def is_training_run(path: Path) -> bool:
    info = _json(path / RUN_MANIFEST)
    return info is not None and "trainer" in info and isinstance(info.get("stages"), list)


def is_eval_run(path: Path) -> bool:
    info = _json(run_info_path(path))
    return (info is not None and "dig_eval" in info and isinstance(info.get("benchmarks"), list)
            and any(path.glob(f"*/{METRICS}")))


@dataclass
class Parts:
    """The parts of a run the report draws (None / empty where there is none)."""

    data: Path | None = None
    train: Path | None = None
    evals: list[Path] = field(default_factory=list)
    #: every dataset folder found (the training data, DiG-Bench, ...)
    datasets: list[Path] = field(default_factory=list)


def scan(root: Path, skip: Path | None = None) -> tuple[list[Path], list[Path], list[Path]]:
    """``(datasets, training runs, eval runs)`` under ``root`` (``root`` included), sorted by path."""
    found: tuple[list[Path], list[Path], list[Path]] = ([], [], [])
    skip = skip.resolve() if skip is not None else None

    def walk(path: Path, depth: int) -> None:
        if (skip is not None and path.resolve() == skip) or (path / REPORT_PAGE).is_file():
            return
        for i, test in enumerate((is_dataset, is_training_run, is_eval_run)):
            if test(path):
                found[i].append(path)
                return
        if depth >= MAX_DEPTH:
            return
        try:
            children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            walk(child, depth + 1)

    walk(root, 0)
    return found


def train_info(train: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run.json, config.yaml as a dict)`` of a training run (``{}`` for an unreadable part)."""
    info = RunDir(train).read_manifest() or {}
    config: dict[str, Any] = {}
    path = train / RUN_CONFIG
    if path.is_file():
        from omegaconf import OmegaConf

        try:
            loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        except Exception as e:  # noqa: BLE001 - omegaconf/yaml raise many kinds
            raise DigError(f"{path}: cannot read the training config ({type(e).__name__}: {e})") from None
        config = loaded if isinstance(loaded, dict) else {}
    return info, config


def base_model(train: Path) -> str | None:
    """The model the training run started from: run.json's ``model``, else config.yaml's
    ``trainer.params.model``."""
    info, config = train_info(train)
    model = info.get("model") or ((config.get("trainer") or {}).get("params") or {}).get("model")
    return str(model) if model else None


def eval_model(run: Path) -> str | None:
    """The model path a dig-eval run used (its eval.json ``model.params.path``)."""
    info = _json(run_info_path(run)) or {}
    params = (info.get("model") or {}).get("params") or {}
    path = params.get("path")
    return str(path) if path else None


def _same_path(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def order_evals(evals: list[Path], base: str | None) -> list[Path]:
    def key(run: Path) -> tuple[int, str]:
        if _same_path(eval_model(run), base):
            return (0, run.name)
        return (1 if "base" in run.name.lower() else 2, run.name)

    return sorted(evals, key=key)


def training_data(train: Path) -> str | None:
    """The dataset folder the training run trained on (config.yaml's ``trainer.params.data``)."""
    _, config = train_info(train)
    data = ((config.get("trainer") or {}).get("params") or {}).get("data")
    return str(data) if data else None


def discover(run_dir: str | Path, *, data: str | Path | None = None, train: str | Path | None = None,
             evals: list[str | Path] | None = None, skip: Path | None = None) -> Parts:
    """The report's parts: those given, the others found under ``run_dir``. A given folder that is
    not what it is given as is an error naming it."""
    root = Path(run_dir)
    if not root.is_dir():
        raise DigError(f"run folder not found: {root}")
    for given, test, what in ((data, is_dataset, f"DiG dataset ({MANIFEST} + {'/'.join(LINES_FILES.values())})"),
                              (train, is_training_run, f"training run ({RUN_MANIFEST} with trainer and stages)")):
        if given is not None and not test(Path(given)):
            raise DigError(f"{given}: not a {what}")
    for e in evals or []:
        if not is_eval_run(Path(e)):
            raise DigError(f"{e}: not a dig eval run ({RUN_INFO} with dig_eval and benchmarks, <benchmark>/{METRICS})")
    datasets, trains, found_evals = scan(root, skip)
    parts = Parts(datasets=datasets)
    parts.train = Path(train) if train is not None else (trains[0] if trains else None)
    base = base_model(parts.train) if parts.train is not None else None
    parts.evals = [Path(e) for e in evals] if evals else order_evals(found_evals, base)
    if data is not None:
        parts.data = Path(data)
    else:
        trained_on = training_data(parts.train) if parts.train is not None else None
        match = [d for d in datasets if _same_path(str(d), trained_on)]
        if trained_on and not match and is_dataset(Path(trained_on)):
            match = [Path(trained_on)]
        named = [d for d in datasets if d.name == "data"]
        parts.data = (match or named or datasets or [None])[0]
    if parts.data is not None and parts.data not in parts.datasets:
        parts.datasets.insert(0, parts.data)
    return parts
