"""lmms-eval tasks from local data: task configs with their dataset pointed at a local copy, and the
tasks that need a GPT judge (refused, never scored silently)."""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dig_core.errors import DigError


class LmmsEvalError(DigError):
    """An lmms-eval task cannot be loaded or run through the bridge."""


#: task-name prefixes whose scoring calls a GPT judge (lmms-eval's utils post to the OpenAI API)
GPT_JUDGED = {
    "mmvet": "MM-Vet is scored by a GPT-4 judge",
    "hallusion_bench": "HallusionBench's lmms-eval task asks GPT-4 to judge every answer; use dig's "
                       "rule-based evaluator `hallusionbench` instead",
    "hrbench": "HR-Bench's lmms-eval task falls back to a GPT matcher for answers its rules cannot read; "
               "use dig's rule-based evaluator `hrbench` instead",
    "llava_in_the_wild": "LLaVA-Bench (in the wild) is scored by a GPT-4 judge",
    "llava_wilder": "LLaVA-Wilder is scored by a GPT-4 judge",
    "mathvista": "MathVista extracts answers with GPT-4",
}


def refused(task: str) -> str | None:
    """Why ``task`` is refused (a GPT judge), or None."""
    for prefix, why in GPT_JUDGED.items():
        if task.startswith(prefix):
            return why
    return None


def import_lmms_eval():
    try:
        import lmms_eval  # noqa: F401
        from lmms_eval.tasks import TaskManager, get_task_dict
    except ImportError as e:
        raise LmmsEvalError(f"the lmms-eval bridge needs lmms-eval 0.7 ({e}); pip install 'dig-eval[lmms]' "
                            "(see docs/eval.md for its CPU dependency set)") from None
    return TaskManager, get_task_dict


def data_override(task: str, spec: str, test_split: str | None) -> dict[str, Any]:
    """Config keys that point ``task`` at local data ``spec``: a ``datasets.save_to_disk`` folder
    (``dataset_dict.json`` / ``state.json``), a dataset folder (``data/<split>-*.parquet``), or
    parquet file(s) / a glob (then they become the task's ``test_split``)."""
    p = Path(spec).expanduser()
    if p.is_dir():
        if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
            return {"dataset_path": str(p), "dataset_name": None, "dataset_kwargs": {"load_from_disk": True}}
        return {"dataset_path": str(p), "dataset_name": None, "dataset_kwargs": {}}
    files = sorted(glob.glob(str(p))) if any(c in spec for c in "*?[") else ([str(p)] if p.is_file() else [])
    if not files:
        raise LmmsEvalError(f"lmms-eval: data for task {task!r}: {spec} not found (give a dataset folder, "
                            "a save_to_disk folder, or parquet file(s))")
    split = test_split or "test"
    return {"dataset_path": "parquet", "dataset_name": None, "dataset_kwargs": {"data_files": {split: files}}}


def load_tasks(names: Sequence[str], include_path: Sequence[str], data: Mapping[str, str],
               task_type: str = "simple") -> dict[str, Any]:
    """``{task name: lmms-eval Task}`` (groups flattened to their tasks), data overrides applied."""
    TaskManager, get_task_dict = import_lmms_eval()
    for name in names:
        why = refused(name)
        if why:
            raise LmmsEvalError(f"lmms-eval task {name!r} is refused: {why}. dig eval never sends answers to a "
                                "GPT judge and never scores such a task silently.")
    for p in include_path:
        if not Path(p).expanduser().is_dir():
            raise LmmsEvalError(f"lmms-eval: include_path {p} is not a folder of task YAMLs")
    tm = TaskManager("WARNING", include_path=[str(Path(p).expanduser()) for p in include_path] or None)
    unknown = [n for n in names if n not in tm.all_tasks]
    if unknown:
        raise LmmsEvalError(f"lmms-eval: unknown task(s) {unknown} (not among lmms-eval's tasks or include_path "
                            f"{list(include_path)}); e.g. pope, mmvp, cv_bench, vstar_bench, mmstar, ai2d")
    extra = sorted(set(data) - set(names))
    if extra:
        raise LmmsEvalError(f"lmms-eval: data given for task(s) {extra} that are not in tasks {list(names)}")
    requests: list[Any] = []
    for name in names:
        if name in data:
            base = tm._get_config(name) if tm._name_is_task(name) else None
            if base is None:
                raise LmmsEvalError(f"lmms-eval: data overrides work for single tasks, {name!r} is a group or tag; "
                                    "name its tasks instead")
            requests.append({"task": name, **data_override(name, data[name], base.get("test_split"))})
        else:
            requests.append(name)
    try:
        task_dict = get_task_dict(requests, tm, task_type)
    except DigError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets / lmms-eval raise many kinds; name the task and cause
        raise LmmsEvalError(f"lmms-eval could not load task(s) {list(names)}: {type(e).__name__}: {e}") from None
    flat: dict[str, Any] = {}

    def walk(d: Mapping[Any, Any]) -> None:
        for key, value in d.items():
            if isinstance(value, Mapping):
                walk(value)
            elif isinstance(value, tuple):
                if value[1] is not None:
                    flat[str(key)] = value[1]
            elif value is not None:
                flat[str(key)] = value

    walk(task_dict)
    for name in flat:
        why = refused(name)
        if why:
            raise LmmsEvalError(f"lmms-eval task {name!r} is refused: {why}.")
    return flat
