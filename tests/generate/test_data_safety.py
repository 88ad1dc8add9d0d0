"""`dig generate` under careless use, with real (tiny) Blender renders: one writer per dataset
folder, only DiG's folders written and only DiG's files repaired away, a refused rerun changes
nothing, SIGINT / SIGTERM stop within a pair (1 or 2 workers) and leave no pass folders, a pass
folder left by kill -9 is removed by the next run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dig_core.data.dataset import LOCK, MANIFEST, METADATA

from tests.helpers import dig, kill_generate_part_way

pytestmark = pytest.mark.render

PAIRS = 12


@pytest.fixture(scope="module")
def passes(tmp_path_factory) -> Path:
    """The renderers' pass folders go here (renderer.params.temp_dir), not to the shared /dev/shm."""
    return tmp_path_factory.mktemp("passes")


@pytest.fixture(scope="module")
def args(passes) -> list[str]:
    # 64x48 images, 1 sample: 12 pairs in a few seconds
    return ["scene.width=64", "scene.height=48", "scene.max_objects=4", "renderer.params.samples=1",
            "renderer.params.denoise=false", "validity.min_visible_pixels=10", "validity.min_box_change=4",
            *(f"curriculum.stages[{i}].pairs={PAIRS // 3}" for i in range(3)), "seed=11", "generate.progress=false",
            "generate.threads=1", f"renderer.params.temp_dir={passes}"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, args) -> Path:
    out = tmp_path_factory.mktemp("gen") / "baseline"
    r = dig("generate", "--out", str(out), *args, "generate.workers=1")
    assert r.returncode == 0, r.stderr
    return out


def _start(out: Path, args: list[str], workers: int = 1, executor: str = "local") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dig_core", "generate", "--out", str(out), *args,
                             f"generate.workers={workers}", f"generate.executor={executor}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})


def _lines(out: Path) -> int:
    ann = out / METADATA
    return ann.read_bytes().count(b"\n") if ann.exists() else 0


def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while _lines(out) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no pair written in 120 s"
        time.sleep(0.02)


def _complete(out: Path, baseline: Path) -> None:
    assert (out / METADATA).read_bytes() == (baseline / METADATA).read_bytes()
    assert json.loads((out / MANIFEST).read_text())["status"] == "complete"
    r = dig("verify", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("signum, workers, executor", [
    (signal.SIGTERM, 1, "local"), (signal.SIGINT, 1, "local"), (signal.SIGTERM, 2, "local"),
    (signal.SIGINT, 2, "local"),
    pytest.param(signal.SIGTERM, 2, "ray", marks=pytest.mark.ray),  # ray.init installs its own SIGTERM handler
], ids=["SIGTERM-1", "SIGINT-1", "SIGTERM-2", "SIGINT-2", "SIGTERM-ray"])
def test_a_stop_signal_keeps_what_finished_and_a_rerun_resumes(tmp_path, baseline, args, passes, signum, workers,
                                                               executor):
    out = tmp_path / "stopped"
    proc = _start(out, args, workers, executor)
    _wait_for_lines(out, 1, proc)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C in a terminal: the whole process group
    else:
        os.kill(proc.pid, signum)  # `timeout`, a batch scheduler: the process itself
    _, err = proc.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert f"error: stopped by {name}" in err and "Traceback" not in err
    assert 1 <= _lines(out) < PAIRS and (out / METADATA).read_bytes().endswith(b"\n")
    assert json.loads((out / MANIFEST).read_text())["status"] == "in_progress"
    assert not (out / LOCK).exists() and os.listdir(passes) == []  # pass folders of every worker removed
    r = dig("generate", "--out", str(out), *args, f"generate.workers={workers}")
    assert r.returncode == 0, r.stderr
    _complete(out, baseline)


def test_the_pass_folder_of_a_run_killed_with_9_is_removed_by_the_next_run(tmp_path, baseline, args, passes):
    out = tmp_path / "killed"
    assert 1 <= kill_generate_part_way(out, [*args, "generate.workers=1"], lines=1) < PAIRS
    assert [p for p in os.listdir(passes) if p.startswith("dig-blender-")]  # the killed process could not
    r = dig("generate", "--out", str(out), *args, "generate.workers=1")
    assert r.returncode == 0, r.stderr
    assert os.listdir(passes) == []
    _complete(out, baseline)


def _once_each(out: Path, pairs: int) -> None:
    ids = [json.loads(line)["id"] for line in (out / METADATA).read_text().splitlines()]
    assert len(ids) == len(set(ids)) == pairs
    r = dig("verify", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr


LONGER = 36  # pairs of the writer that the second one meets (it must still be running then)


def test_a_second_writer_is_refused_at_once(tmp_path, baseline, args):
    out = tmp_path / "busy"
    first = _start(out, args)
    _wait_for_lines(out, 1, first)
    os.kill(first.pid, signal.SIGSTOP)  # the first writer, paused mid-run, still holds the folder
    try:
        r = dig("generate", "--out", str(out), *args, "generate.workers=1", timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"being written by another process (pid {first.pid}" in r.stderr
    assert first.wait(timeout=180) == 0, first.communicate()
    _complete(out, baseline)  # every id once, as one uninterrupted run writes them


def test_two_writers_started_together(tmp_path, args):
    out = tmp_path / "race"
    longer = [*args, *(f"curriculum.stages[{i}].pairs={LONGER // 3}" for i in range(3))]
    procs = [_start(out, longer), _start(out, longer)]
    results = [(p.wait(timeout=180), p.communicate()[1]) for p in procs]
    assert sorted(rc for rc, _ in results) == [0, 2], results
    assert all("Traceback" not in err for _, err in results)
    _once_each(out, LONGER)


def test_a_folder_that_is_not_a_dig_dataset_is_refused(tmp_path, args):
    foreign = tmp_path / "photos"
    (foreign / "images" / "holiday").mkdir(parents=True)
    (foreign / "images" / "cat.png").write_bytes(b"cat")
    (foreign / ".draft.txt.a1b2.tmp").write_bytes(b"draft")
    before = _snapshot(foreign)
    r = dig("generate", "--out", str(foreign), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{foreign}: not empty and not a DiG dataset" in r.stderr and "images/" in r.stderr
    assert _snapshot(foreign) == before
    # --out '' is the current folder by accident: an error, in any folder
    r = dig("generate", "--out", "", *args, cwd=foreign)
    assert r.returncode == 2 and "error: --out is empty" in r.stderr and "Traceback" not in r.stderr
    assert _snapshot(foreign) == before


def test_a_refused_rerun_changes_nothing(tmp_path, baseline, args):
    out = tmp_path / "reordered"
    shutil.copytree(baseline, out)
    ann = out / METADATA
    lines = ann.read_bytes().splitlines(keepends=True)
    ann.write_bytes(b"".join([lines[1], lines[0], *lines[2:]]))
    before = _snapshot(out)
    r = dig("generate", "--out", str(out), *args)
    assert r.returncode == 2 and "not a prefix of this config's plan" in r.stderr and "Traceback" not in r.stderr
    assert _snapshot(out) == before  # dataset.json still complete, with its content hash


def test_a_rerun_repairs_only_what_the_plan_names(tmp_path, baseline, args, passes):
    out = tmp_path / "cut"
    shutil.copytree(baseline, out)
    (out / MANIFEST).unlink()
    shutil.copy(baseline / MANIFEST, out / MANIFEST)
    ann = out / METADATA
    lines = ann.read_bytes().splitlines(keepends=True)
    ann.write_bytes(b"".join(lines[:PAIRS - 2]) + lines[PAIRS - 2][:40])  # a torn line; its images stay as orphans
    foreign = {"images/cat.png": b"cat", "images/holiday/1.png": b"1", "notes.txt": b"mine",
               ".notes.txt.a1b2.tmp": b"vim"}
    for rel, data in foreign.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    r = dig("generate", "--out", str(out), *args, "generate.workers=1")
    assert r.returncode == 0, r.stderr
    _complete(out, baseline)
    assert {rel: (out / rel).read_bytes() for rel in foreign} == foreign
    assert os.listdir(passes) == []
