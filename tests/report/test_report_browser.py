"""``dig report`` on a real small run, opened in headless Chromium: every section is on the page
with its images loaded, and the screenshot shows each image's pixels where the page put it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tests.eval.util import dig
from tests.report.chromium import find_chromium, probe, screenshot

SECTIONS = ("run", "dataset", "rewards", "benchmarks", "dynamics")
#: images each section of a complete run shows
IMAGES = {"dataset": ["dataset-sheet.png", "dataset-difficulty.png"], "rewards": ["rewards.png"],
          "benchmarks": ["benchmark-deltas.png"], "dynamics": ["dynamics.png"]}


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y --no-install-recommends chromium)")
    return binary


@pytest.fixture(scope="module")
def report(full_run):
    res = dig("report", full_run, "--no-progress")
    assert res.exit_code == 0, res.output
    page = full_run / "report" / "report.html"
    assert f"report: {page}" in res.output
    return page


def _image_pixels(shot: np.ndarray, box: list[float]) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in box)
    return shot[y + 2:y + h - 2, x + 2:x + w - 2]


def test_every_section_and_image_renders(report, chromium, tmp_path):
    info = probe(chromium, report)
    sections = info["sections"]
    assert list(sections) == list(SECTIONS)
    for sid in SECTIONS:
        assert sections[sid]["missing"] == [], (sid, sections[sid]["missing"])
        got = [im["src"] for im in sections[sid]["images"]]
        assert got == IMAGES.get(sid, []), sid
        for im in sections[sid]["images"]:
            assert im["loaded"] and im["natural"][0] > 50 and im["natural"][1] > 50, (sid, im)
    assert sections["dataset"]["tables"] == sections["rewards"]["tables"] == sections["benchmarks"]["tables"] == 1
    # the sections follow each other down the page
    tops = [sections[s]["top"] for s in SECTIONS]
    assert tops == sorted(tops)

    shot = np.asarray(Image.open(screenshot(chromium, report, tmp_path / "shot.png", info["height"])).convert("RGB"))
    assert shot.shape[0] >= info["height"] - 1
    for sid in SECTIONS[1:]:
        for im in sections[sid]["images"]:
            pixels = _image_pixels(shot, im["box"])
            assert pixels.size, (sid, im)
            colors = len(np.unique(pixels.reshape(-1, 3), axis=0))
            # a drawn figure, not the page's white background nor a broken-image placeholder
            assert colors >= 8 and (pixels != 255).any(axis=-1).mean() > 0.02, (sid, im["src"], colors)


def test_a_lost_image_is_caught(report, chromium, tmp_path):
    """The browser check fails when a section's PNG is gone (the test above can fail)."""
    copy = tmp_path / "report"
    shutil.copytree(report.parent, copy)
    (copy / "rewards.png").unlink()
    info = probe(chromium, copy / "report.html")
    rewards = info["sections"]["rewards"]["images"]
    assert [im["loaded"] for im in rewards] == [False]
    assert all(im["loaded"] for s in ("dataset", "benchmarks", "dynamics") for im in info["sections"][s]["images"])
