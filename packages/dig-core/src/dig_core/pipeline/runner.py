"""Planning and running a validated pipeline: which steps run, resume or are skipped, and why.

Per step, in run order (first match wins):

* ``--from STEP`` and the step is STEP or after it: **rerun** (its folder is cleared);
* no record in ``RUN_DIR/pipeline.json``: **run**;
* its fingerprint differs from the record's: **rerun**, naming the changed keys;
* its record was invalidated (a step it depends on started again): **rerun**;
* a step it depends on runs: **rerun**;
* its record has no completion: **resume** (the step's own work resumes: ``dig generate``'s
  pairs, the trainer's DONE markers, ``dig eval``'s predictions);
* else **skip**.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dig_core.data.io import atomic_write_text
from dig_core.errors import ConfigError, DigError, PluginError
from dig_core.pipeline.fingerprint import Records, changed_keys, fingerprint
from dig_core.pipeline.spec import Pipeline, ResolvedStep
from dig_core.pipeline.step import StepContext

RESOLVED = "pipeline.yaml"
MAX_KEYS = 6


@dataclass
class PlannedStep:
    step: ResolvedStep
    fingerprint: str
    #: the step's inputs with ``after`` (its inputs' fingerprints): what the fingerprint hashes
    inputs: dict[str, Any]
    action: str  # run | rerun | resume | skip
    reason: str


def _describe_change(keys: list[str]) -> str:
    inputs = sorted({k.split(".")[1] for k in keys if k.startswith("after.")})
    own = [k for k in keys if not k.startswith("after.") and k != "after"]
    parts = [f"input {', '.join(inputs)} changed"] if inputs else []
    if own:
        shown = ", ".join(own[:MAX_KEYS]) + (f" (+{len(own) - MAX_KEYS} more)" if len(own) > MAX_KEYS else "")
        parts.append(f"changed {shown}")
    return "; ".join(parts) or "changed"


def dependents(pipeline: Pipeline, name: str) -> list[str]:
    """Every step that refers to ``name``, directly or through other steps, in run order."""
    found = {name}
    for s in pipeline.steps:
        if found & set(s.deps):
            found.add(s.name)
    return [s.name for s in pipeline.steps if s.name in found and s.name != name]


def plan(pipeline: Pipeline, records: Records, from_step: str | None = None) -> list[PlannedStep]:
    """What a run would do with each step, and why."""
    names = [s.name for s in pipeline.steps]
    if from_step is not None and from_step not in names:
        raise ConfigError(f"--from {from_step!r}: no such step in {pipeline.path}; steps: {', '.join(names)}")
    forced = set(names[names.index(from_step):]) if from_step is not None else set()
    fps: dict[str, str] = {}
    actions: dict[str, str] = {}
    out: list[PlannedStep] = []
    for s in pipeline.steps:
        inputs = {**s.inputs, "after": {d: fps[d] for d in s.deps}}
        fp = fps[s.name] = fingerprint(inputs)
        rec = records.get(s.name)
        moving = [d for d in s.deps if actions[d] != "skip"]
        if s.name in forced:
            action, reason = ("rerun" if rec else "run"), f"forced by --from {from_step}"
        elif rec is None:
            action, reason = "run", "not run before in this folder"
        elif rec.get("fingerprint") != fp:
            action, reason = "rerun", _describe_change(changed_keys(rec.get("inputs") or {}, inputs))
        elif rec.get("invalid"):
            action, reason = "rerun", rec["invalid"]
        elif moving:
            action, reason = "rerun", f"input {', '.join(moving)} runs again"
        elif not rec.get("completed"):
            action, reason = "resume", f"interrupted (started {rec.get('started', '?')})"
        else:
            action, reason = "skip", f"unchanged since {rec['completed']}"
        actions[s.name] = action
        out.append(PlannedStep(s, fp, inputs, action, reason))
    return out


def _resolved_yaml(pipeline: Pipeline, planned: list[PlannedStep]) -> str:
    data = pipeline.resolved()
    for p in planned:
        data["steps"][p.step.name]["fingerprint"] = p.fingerprint
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def run_pipeline(pipeline: Pipeline, from_step: str | None = None, dry_run: bool = False,
                 echo: Callable[[str], None] = print, progress: bool = True,
                 to_step: str | None = None) -> list[PlannedStep]:
    """Run (or with ``dry_run`` only print) the plan of ``pipeline`` up to ``to_step`` (None: every
    step); return the plan of the steps considered."""
    names = pipeline.order or [s.name for s in pipeline.steps]
    for flag, step in (("--from", from_step), ("--to", to_step)):
        if step is not None and step not in names:
            raise ConfigError(f"{flag} {step!r}: no such step in {pipeline.path}; steps: {', '.join(names)}")
    later: list[str] = []
    if to_step is not None:
        if from_step is not None and names.index(from_step) > names.index(to_step):
            raise ConfigError(f"--from {from_step!r} comes after --to {to_step!r} in the run order: {', '.join(names)}")
        later = names[names.index(to_step) + 1:]
    considered = [n for n in names if n not in later]
    # a step whose type is not installed here is an error only where it would be considered
    cannot = [pipeline.unavailable[n] for n in considered if n in pipeline.unavailable]
    records = Records(pipeline.run_dir)
    forced = None if from_step in pipeline.unavailable else from_step
    planned = [p for p in plan(pipeline, records, forced) if p.step.name in considered]
    n = len(planned)
    # folders the record does not know are someone else's: never cleared or written into
    foreign = [str(p.step.out) for p in planned if p.action == "run" and _non_empty(p.step.out)]
    missing = cannot + [m for p in planned if p.action != "skip" for m in p.step.missing]
    if dry_run:
        echo(f"plan for {pipeline.run_dir} ({pipeline.path}), nothing is written:")
        lines = {p.step.name: f"{p.step.name} ({p.step.type}): {p.action} - {p.reason}" for p in planned}
        for i, name in enumerate(considered, 1):
            echo(f"  [{i}/{len(considered)}] {lines.get(name) or f'{name}: cannot run here (below)'}")
        if later:
            echo(f"  not considered (after --to {to_step}): {', '.join(later)}")
    if missing:
        raise PluginError("steps that have to run need plugins that are not installed here:\n"
                          + "\n".join(f"  - {m}" for m in missing))
    if foreign:
        raise DigError(f"{', '.join(foreign)} exist(s), but {records.path} has no record of making them; move "
                       "them away, or choose another run folder (run_dir=... / --out)")
    if dry_run:
        return planned
    pipeline.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(pipeline.run_dir / RESOLVED, _resolved_yaml(pipeline, planned))
    if from_step is not None:  # so that an interruption does not lose what --from asked for
        records.invalidate(names[names.index(from_step):], f"forced by --from {from_step}")
    started = time.time()
    for i, p in enumerate(planned, 1):
        s = p.step
        echo(f"== [{i}/{n}] {s.name} ({s.type}): {p.action} - {p.reason}")
        if p.action == "skip":
            continue
        if p.action in ("run", "rerun"):
            records.invalidate(dependents(pipeline, s.name), f"input {s.name} ran again")
            if _non_empty(s.out):
                echo(f"   clearing {s.out}")
                if s.out.is_dir():
                    shutil.rmtree(s.out)
                else:
                    s.out.unlink()
        records.start(s.name, s.type, p.fingerprint, p.inputs)
        t0 = time.time()
        ctx = StepContext(name=s.name, out=s.out, run_dir=pipeline.run_dir, config=s.config, echo=echo,
                          progress=progress)
        try:
            with contextlib.nullcontext() if progress else library_progress_bars_off():
                summary = s.step.run(ctx)
        except BaseException:
            echo(f"   {s.name}: stopped; running the same command again resumes it")
            raise
        records.complete(s.name, summary)
        echo(f"   {s.name}: done in {time.time() - t0:.1f} s" + (f" - {summary}" if summary else ""))
    echo(f"pipeline done in {time.time() - started:.1f} s: {pipeline.run_dir}"
         + (f" (not run, after --to {to_step}: {', '.join(later)})" if later else ""))
    return planned


#: environment switches the Hugging Face libraries read when imported (and child processes inherit)
_BAR_SWITCHES = ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


@contextlib.contextmanager
def library_progress_bars_off() -> Iterator[None]:
    """Silence the progress bars of huggingface_hub, transformers (which follows the hub's switch)
    and datasets for the duration: those imported already through their switches (turned back on
    after), those imported later (and child processes) through the environment (restored after; a
    library first imported inside keeps its bars off, as ``dig run --no-progress`` wants)."""
    saved_env = {k: os.environ.get(k) for k in _BAR_SWITCHES}
    os.environ.update(dict.fromkeys(_BAR_SWITCHES, "1"))
    restore: list[Callable[[], None]] = []
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

        if not are_progress_bars_disabled():
            disable_progress_bars()
            restore.append(enable_progress_bars)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        if hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()
            restore.append(hf_logging.enable_progress_bar)
    if "datasets" in sys.modules:
        import datasets

        if datasets.is_progress_bar_enabled():
            datasets.disable_progress_bars()
            restore.append(datasets.enable_progress_bars)
    try:
        yield
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for undo in reversed(restore):
            undo()


def _non_empty(path: Path) -> bool:
    return path.exists() and not (path.is_dir() and not any(path.iterdir()))
