"""Test helpers shared by every test package: tiny DiG dataset folders without Blender.

:func:`write_dig_dataset` writes a valid dataset folder in the real format (``dataset.json`` as
``dig generate`` writes it, the lines file with every key of :data:`dig_core.data.dataset.ANNOTATION_KEYS`
built by :func:`dig_core.generate.pair_record`, ``images/<id>_a.png`` / ``<id>_b.png``) through
dig-core's own planner, scene/edit samplers and :class:`dig_core.data.dataset.DatasetWriter`. Only the renderer is
replaced: images are drawn with PIL (colored shapes on gray) and I_b differs from I_a exactly inside
the difference boxes, so the folder passes ``dig audit``. Deterministic for a seed. The folder's
format (lines file, manifest keys) is whatever dig-core's writer writes today.

The generate-and-check helpers (:func:`generated`, :func:`assert_same_dataset`,
:func:`check_resume_after_kill_9`, :func:`check_show_and_audit`) run the real ``dig generate`` and are
shared by tests/generate, tests/render_blender and tests/render_kubric with the ``baseline`` fixture
(tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: (name, k_min, k_max, count_in_prompt, pairs), as in ``curriculum.stages``
Stage = tuple[str, int, int, bool, int]

GRAY = (128, 128, 128)
COLORS = ((220, 40, 40), (40, 200, 60), (40, 70, 220), (230, 210, 40), (150, 50, 200), (40, 200, 210))


def _stage_dicts(stages: Iterable[Stage | dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for st in stages:
        if isinstance(st, dict):
            out.append(dict(st))
        else:
            name, k_min, k_max, count_in_prompt, pairs = st
            out.append({"name": name, "k_min": int(k_min), "k_max": int(k_max),
                        "count_in_prompt": bool(count_in_prompt), "pairs": int(pairs)})
    return out


def _boxes(rng: random.Random, k: int, width: int, height: int) -> list[list[int]]:
    """``k`` boxes [x0, y0, x1, y1] (pixels, x1/y1 exclusive), non-overlapping when they fit."""
    boxes: list[list[int]] = []
    for _ in range(k):
        for attempt in range(200):
            bw = rng.randint(max(4, width // 8), max(5, width // 4))
            bh = rng.randint(max(4, height // 8), max(5, height // 4))
            x0, y0 = rng.randint(0, width - bw), rng.randint(0, height - bh)
            box = [x0, y0, x0 + bw, y0 + bh]
            free = all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in boxes)
            if free or attempt == 199:
                boxes.append(box)
                break
    return boxes


def _box_mask(box: Sequence[int], width: int, height: int) -> np.ndarray:
    """The pixels a drawn difference covers: its whole box (I_b is repainted inside it only)."""
    mask = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def _draw_pair(rng: random.Random, width: int, height: int, boxes: Sequence[Sequence[int]],
               diffs: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """I_a: gray with a few colored distractors and each difference's 'before' object; I_b: a copy
    of I_a repainted inside each box only (the 'after' object, or background when removed)."""
    from PIL import Image, ImageDraw

    a = Image.new("RGB", (width, height), GRAY)
    draw = ImageDraw.Draw(a)
    for _ in range(3):  # distractors, identical in both images
        x0, y0 = rng.randint(0, width - 4), rng.randint(0, height - 4)
        x1, y1 = min(width - 1, x0 + rng.randint(3, 12)), min(height - 1, y0 + rng.randint(3, 12))
        draw.ellipse([x0, y0, x1, y1], fill=rng.choice(COLORS))
    after: list[tuple[list[int], tuple[int, int, int] | None]] = []
    for box, diff in zip(boxes, diffs):
        x0, y0, x1, y1 = box
        ca, cb = rng.sample(COLORS, 2)
        if diff["before"]:  # the object exists in A: a filled rectangle covering the box
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=ca)
        after.append((list(box), cb if diff["after"] else None))
    b = a.copy()
    draw_b = ImageDraw.Draw(b)
    for (x0, y0, x1, y1), color in after:
        # the object exists in B: a rectangle of another color; else the box is background
        draw_b.rectangle([x0, y0, x1 - 1, y1 - 1], fill=GRAY if color is None else color)
    return np.asarray(a), np.asarray(b)


def write_dig_dataset(root: str | Path, n: int = 4, stage: str = "dig-1", k: int = 1,
                      size: tuple[int, int] = (96, 64), seed: int = 0,
                      stages: Sequence[Stage | dict[str, Any]] | None = None) -> Path:
    """Write a complete DiG dataset folder at ``root`` and return its path.

    ``stages``: a list of ``(name, k_min, k_max, count_in_prompt, pairs)`` (or dicts with those
    keys); default one stage ``(stage, k, k, True, n)``. ``size``: (width, height) of every image.
    Pair ids, per-pair seeds, scenes and difference records come from dig-core's own planner and
    samplers (``dig_core.generate.plan``, ``sample_scene``, ``sample_edits``) with the default config.
    """
    from dig_core import __version__
    from dig_core.config import StageConfig, load_config, to_plain
    from dig_core.data.dataset import FORMAT_VERSION, DatasetWriter, content_hash
    from dig_core.data.pairs import encode_png
    from dig_core.difficulty import measure_difference
    from dig_core.errors import SamplingError
    from dig_core.generate import pair_record, plan, summarize
    from dig_core.sampling import build_perturbations, edit_context, sample_edits, sample_scene, vocabulary_from_config
    from dig_core.seeds import derive_seed

    width, height = int(size[0]), int(size[1])
    stage_list = _stage_dicts(stages if stages is not None else [(stage, k, k, True, n)])
    cfg = load_config(None, [f"seed={seed}", f"scene.width={width}", f"scene.height={height}"], validate=False)
    cfg.curriculum.stages = [StageConfig(**st) for st in stage_list]
    plain = to_plain(cfg)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "status": "in_progress",
        "seed": seed,
        "config": {key: value for key, value in plain.items() if key != "generate"},
        "versions": {"dig-core": __version__},
    }
    vocab = vocabulary_from_config(cfg.scene)
    ctx = edit_context(cfg.scene, vocab)
    perturbations = build_perturbations(cfg)
    weights = {name: float(w) for name, w in cfg.perturbations.weights.items() if w > 0}
    root = Path(root)
    items = plan(cfg)
    with DatasetWriter(root).open(manifest) as writer:
        for item in items[len(writer.done):]:
            for attempt in range(50):
                pair_seed = derive_seed(item.seed, attempt)
                scene_a = sample_scene(cfg.scene, vocab, pair_seed)
                try:
                    scene_b, diffs = sample_edits(scene_a, item.k_min, item.k_max, weights, perturbations, ctx,
                                                  random.Random(pair_seed), cfg.perturbations.max_attempts)
                except SamplingError:
                    continue
                break
            else:  # pragma: no cover - the default config always finds edits
                raise RuntimeError(f"no edits for {item.id}")
            rng = random.Random(pair_seed)
            boxes = _boxes(rng, len(diffs), width, height)
            records = []
            for d, box in zip(diffs, boxes):
                rec = d.to_dict()
                rec["box"] = box
                records.append(rec)
            img_a, img_b = _draw_pair(rng, width, height, boxes, records)
            measures = [measure_difference(_box_mask(box, width, height), box, img_a, img_b) for box in boxes]
            # the drawn rectangles are the only "objects" visible: the edited ones, where they exist
            visible = tuple([{"id": r["object_id"], "box": r["box"], "pixels": int(_box_mask(r["box"], width, height).sum())}
                             for r in records if r["type"] != gone] for gone in ("add", "remove"))
            record = pair_record(item, scene_a, scene_b, records, measures, pair_seed, {}, visible)
            name_a, name_b = record["image_a"], record["image_b"]
            writer.write_pair(record, {name_a: encode_png(img_a), name_b: encode_png(img_b)})
        manifest.update(status="complete", counts=summarize(root), renderer={"name": "tests.helpers"},
                        last_run={"workers": 1, "threads": 1, "seconds": 0.0, "pairs": len(items)})
        manifest["content_hash"] = content_hash(root)  # as `dig generate` records it
        writer.write_manifest(manifest)
    return root


def plugin_with(**hooks: Sequence[type]) -> Any:
    """A plugin object whose registration hooks return the given classes, e.g.
    ``plugin_with(register_renderers=[MyRenderer])`` (hook names as in dig_core's hookspecs)."""
    from dig_core import hookimpl

    def returning(classes: list[type]):
        def hook(self):
            return classes
        return hookimpl(hook)

    return type("TestPlugin", (), {name: returning(list(classes)) for name, classes in hooks.items()})()


@contextlib.contextmanager
def registered(plugin: Any, name: str | None = None) -> Iterator[Any]:
    """``plugin`` registered with dig-core's plugin manager for the block (yields the manager)."""
    from dig_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    name = name or f"test-plugin-{id(plugin)}"
    pm.register(plugin, name)
    try:
        yield pm
    finally:
        pm.unregister(name)


def answer_score(task: Any, reward: Any, text: str, gt: Sequence[Sequence[float]], width: float, height: float,
                 scale: Any = None):
    """The reward's result for answer ``text`` to a pair with boxes ``gt`` (dig-core's one parse+score
    path, :func:`dig_core.scoring.score_answer`)."""
    from dig_core.scoring import score_answer
    from dig_core.training.labels import Label

    label = Label("pair", "stage", len(gt), tuple(tuple(b) for b in gt), width, height, "pixels", scale)
    return score_answer(task, reward, text, label).result


def thinking_copy(model: str | Path, dest: str | Path) -> Path:
    """A copy of a tiny Qwen model folder whose chat template opens ``<think>`` in the generation
    prompt, as Qwen3-VL-Thinking's does (``<|im_start|>assistant\n<think>\n``)."""
    import shutil

    dest = Path(dest)
    shutil.copytree(model, dest)
    template = dest / "chat_template.jinja"
    text = template.read_text()
    # the generation prompt as a Jinja string ('...\\n', Qwen3-VL) or as template text (Qwen2.5-VL)
    for marker, think in (("'<|im_start|>assistant\\n'", "'<|im_start|>assistant\\n<think>\\n'"),
                          ("{% if add_generation_prompt %}<|im_start|>assistant\n",
                           "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n")):
        if marker in text:
            template.write_text(text.replace(marker, think))
            return dest
    raise AssertionError(f"{template}: no generation prompt to open a thought in")


def dig(*args: str, **kw: Any) -> subprocess.CompletedProcess:
    """``python -m dig_core ARGS`` in a subprocess (output captured as text, Ray's usage stats off);
    ``kw`` go to :func:`subprocess.run`."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True, env=env, **kw)


def kill_generate_part_way(out: Path, args: Sequence[str], lines: int = 2, poll: float = 0.05) -> int:
    """Start ``dig generate --out OUT ARGS`` and kill -9 its whole process group once ``lines`` pairs
    are on disk (at most 240 s); return how many lines ``metadata.jsonl`` holds afterwards."""
    cmd = [sys.executable, "-m", "dig_core", "generate", "--out", str(out), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ann = out / "metadata.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (ann.exists() and ann.read_bytes().count(b"\n") >= lines):
        time.sleep(poll)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return ann.read_bytes().count(b"\n") if ann.exists() else 0


# -- generate and check: the one setup of tests/generate, tests/render_blender and tests/render_kubric --
def generated(out: Path, args: Sequence[str]) -> Path:
    """``dig generate --out OUT ARGS``, which must succeed; the folder."""
    r = dig("generate", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr
    return out


def assert_same_dataset(out: Path, baseline: Path, image_bytes: bool = False) -> None:
    """``out`` holds ``baseline``'s dataset: the same ``metadata.jsonl`` bytes and image files (and
    the same image bytes with ``image_bytes``)."""
    from dig_core.data.dataset import METADATA

    assert (out / METADATA).read_bytes() == (baseline / METADATA).read_bytes()
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(p.name for p in (baseline / "images").iterdir())
    if image_bytes:
        for p in (baseline / "images").iterdir():
            assert (out / "images" / p.name).read_bytes() == p.read_bytes()


def check_resume_after_kill_9(baseline: Path, tmp_path: Path, args: Sequence[str], pairs: int,
                              poll: float = 0.05, image_bytes: bool = False) -> None:
    """Kill -9 a one-worker ``dig generate ARGS`` after 2 pairs, rerun it: ``baseline``'s dataset, no
    temp file left. The killed worker cannot remove its pass folder, so it goes to ``tmp_path``."""
    out = tmp_path / "killed"
    args = [*args, "generate.workers=1", f"renderer.params.temp_dir={tmp_path}"]
    n_before = kill_generate_part_way(out, args, poll=poll)
    assert 2 <= n_before < pairs, "the run should have been killed part-way"
    generated(out, args)
    assert_same_dataset(out, baseline, image_bytes)
    assert not list(out.rglob("*.tmp"))


def check_show_and_audit(baseline: Path, tmp_path: Path, size: tuple[int, int], pairs: int) -> list[dict[str, Any]]:
    """``dig show`` draws a sheet of 3 pairs (each at least the images' ``size``), ``dig audit`` finds
    every box changed by ≥ 6 levels; the audit rows."""
    import json

    from PIL import Image

    sheet = tmp_path / "sheet.png"
    r = dig("show", str(baseline), "--n", "3", "--out", str(sheet))
    assert r.returncode == 0, r.stderr
    im = Image.open(sheet)
    assert im.width >= 2 * size[0] and im.height >= 3 * size[1]
    r = dig("audit", str(baseline), "--json-out", str(tmp_path / "audit.jsonl"))
    assert r.returncode == 0, r.stderr
    assert "share of change inside boxes" in r.stdout and f"pairs: {pairs}" in r.stdout
    rows = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(rows) == pairs and all(min(x["box_change"]) >= 6 for x in rows)
    return rows
