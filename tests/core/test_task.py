"""DiG task: prompts per coordinate convention, and the answer parser (never raises)."""

from __future__ import annotations

import math

import pytest
from dig_core.config import instantiate, load_config
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager
from dig_core.task import DigTask, DigTaskConfig, answer_region, register_tasks
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import answer_score

W, H = 480, 320
TASK = DigTask()


def test_registered_through_entry_point():
    assert register_tasks() == [DigTask]
    assert get_plugin_manager().get("task", "dig") is DigTask


def test_prompt_with_and_without_count():
    with_k = TASK.prompt(W, H, 3)
    assert "exactly 3 differences" in with_k and "[[x0, y0, x1, y1], ...]" in with_k and "480x320" in with_k
    assert "exactly 1 difference " in TASK.prompt(W, H, 1)
    without = TASK.prompt(W, H)
    assert "exactly" not in without and "[[x0, y0, x1, y1], ...]" in without


def test_stage_prompt_follows_count_in_prompt():
    from dig_core.curriculum import PAPER_STAGES

    assert "exactly 2 differences" in TASK.stage_prompt(PAPER_STAGES[1], 2, W, H)
    assert "exactly" not in TASK.stage_prompt(PAPER_STAGES[2], 2, W, H)


def test_coordinate_hints_differ():
    hints = {c: DigTask(DigTaskConfig(coords=c)).prompt(W, H, 1) for c in ("pixels", "rel1000", "rel1")}
    assert "0-1000" in hints["rel1000"] and "between 0 and 1" in hints["rel1"] and "pixels" in hints["pixels"]


def test_templates_overridable_from_config():
    cfg = load_config(None, ["task.params.coords=rel1000",
                             "task.params.template_with_count=Find {k}. {coords} Reply {format}"], sections=("task",))
    task = instantiate(cfg, "task", "task")
    assert task.prompt(W, H, 2).startswith("Find 2. Coordinates are relative")


def test_bad_task_config_is_reported():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["task.params.coords=inches", "task.params.template_without_count=Find {n}"], sections=("task",))
    text = str(e.value)
    assert "task.params: coords: unknown convention 'inches'" in text
    assert "task.params: template_without_count: bad placeholder 'n'" in text


@pytest.mark.parametrize("text", [
    "[[10, 20, 50, 60], [100, 100, 150, 140]]",
    "The differences are: [10,20,50,60] and [100.0, 100.0, 150.0, 140.0].",
    '```json\n[{"bbox_2d": [10, 20, 50, 60], "label": "cube"}, {"bbox_2d": [100, 100, 150, 140]}]\n```',
    '[{"bbox": [10, 20, 50, 60]}, {"bbox": [100, 100, 150, 140]}]',
    "<think>maybe [0, 0, 5, 5]? no.</think>\n<answer>[[10, 20, 50, 60], [100, 100, 150, 140]]</answer>",
    "<think>hmm</think>```json\n[[10, 20, 50, 60],\n [100, 100, 150, 140]]\n```\nDone [1, 1, 2, 2]",
    "[[10, 20, 50, 60], <|image_pad|>[100, <|image_pad|>100, 150, 140]]",
    "[[50, 60, 10, 20], [150, 100, 100, 140]]",  # corners swapped (both axes / one axis)
])
def test_parse_formats(text):
    assert TASK.parse(text, W, H) == [(10.0, 20.0, 50.0, 60.0), (100.0, 100.0, 150.0, 140.0)]


def test_answer_region_rules():
    assert answer_region("a</think>b</think>c") == "c"
    assert answer_region("<answer>x</answer> <answer>y</answer>") == "y"
    assert answer_region("<answer>unclosed [1,2,3,4]") == "unclosed [1,2,3,4]"
    assert answer_region("```json\nA\n``` text ```\nB\n```") == "B\n"
    assert answer_region("<think>maybe [1,2,3,4]") == ""  # truncated thinking: no answer
    assert answer_region("no tags [1,2,3,4]") == "no tags [1,2,3,4]"


def test_a_thought_opened_by_the_prompt_must_close_before_the_answer():
    """Qwen3-VL-Thinking's generation prompt ends with ``<think>``: its completions start mid-thought,
    so one cut off before ``</think>`` holds no answer (its numbers are reasoning, not boxes) and
    scores format 0; after ``</think>`` the answer counts as usual."""
    from dig_core.reward import DigReward

    truncated = "The cube at [10, 20, 50, 60] looks the same, but maybe"
    finished = "The cube at [0, 0, 5, 5] is unchanged.\n</think>\n\n[[10, 20, 50, 60]]"
    assert answer_region(truncated, prompt_opens_think=True) == ""
    assert answer_region(truncated) == truncated  # without the setting: parsed as an answer
    thinking = DigTask(DigTaskConfig(prompt_opens_think=True))
    assert thinking.parse(truncated, W, H) == [] and TASK.parse(truncated, W, H) == [(10.0, 20.0, 50.0, 60.0)]
    assert thinking.parse(finished, W, H) == [(10.0, 20.0, 50.0, 60.0)]
    assert not thinking.answers_none("no differences? []") and thinking.answers_none("none</think>[]")
    gt = [(10.0, 20.0, 50.0, 60.0)]
    reward = DigReward()
    assert answer_score(thinking, reward, truncated, gt, W, H).format == 0.0
    assert answer_score(TASK, reward, truncated, gt, W, H).format == 1.0
    assert answer_score(thinking, reward, finished, gt, W, H).reward == 1.0


def test_keyed_objects_ignore_other_lists():
    text = '[{"bbox_2d": [10, 20, 50, 60], "rgba": [1, 2, 3, 4]}]'
    assert TASK.parse(text, W, H) == [(10.0, 20.0, 50.0, 60.0)]


def test_drop_and_clip_rules():
    text = ("[[nan, 1, 20, 30], [1, 1, inf, 30], [10, 10, 10, 40], [-500, 0, 20, 20], "
            "[470, 300, 500, 330], [-10, -10, 20, 20], [900, 900, 950, 950]]")
    # NaN/inf dropped, zero width dropped, reaching > 25% beyond an edge dropped, rest clipped
    assert TASK.parse(text, W, H) == [(470.0, 300.0, 480.0, 320.0), (0.0, 0.0, 20.0, 20.0)]


def test_max_boxes():
    task = DigTask(DigTaskConfig(max_boxes=2))
    assert len(task.parse("[1,1,2,2] [3,3,4,4] [5,5,6,6]", W, H)) == 2


def test_relative_conventions_map_to_pixels():
    rel1000 = DigTask(DigTaskConfig(coords="rel1000"))
    assert rel1000.parse("[[500, 250, 1000, 1000]]", W, H) == [(240.0, 80.0, 480.0, 320.0)]
    rel1 = DigTask(DigTaskConfig(coords="rel1"))
    assert rel1.parse("[[0.5, 0.25, 1.0, 1.0]]", W, H) == [(240.0, 80.0, 480.0, 320.0)]


def test_qwen25_scale_maps_resized_pixels_back():
    # the model saw the image resized to 672x448 (scale 1.4) and answers in those pixels
    (box,) = TASK.parse("[[14, 28, 70, 84]]", W, H, scale=1.4)
    assert box == pytest.approx((10.0, 20.0, 50.0, 60.0))
    got = TASK.parse("[[20, 10, 100, 30]]", W, H, scale=(2.0, 0.5))
    assert got == [(10.0, 20.0, 50.0, 60.0)]
    with pytest.raises(ValueError):
        TASK.parse("[[1, 1, 2, 2]]", W, H, scale=0)


@pytest.mark.parametrize("coords", ["pixels", "rel1000", "rel1"])
def test_format_boxes_round_trips(coords):
    task = DigTask(DigTaskConfig(coords=coords))
    boxes = [(10, 20, 50, 60), (100, 100, 150, 140)]
    got = task.parse(task.format_boxes(boxes, W, H), W, H)
    assert len(got) == 2
    for g, b in zip(got, boxes):
        assert g == pytest.approx(b, abs=0.5)


@pytest.mark.parametrize("text", ["", "no boxes here", "[]", "[[1, 2, 3]]", "[[a, b, c, d]]", "[" * 10000,
                                  "<answer></answer>", "</think>", "```", "<|image_pad|>" * 100])
def test_garbage_gives_no_boxes(text):
    assert TASK.parse(text, W, H) == []


def test_non_string_gives_no_boxes():
    assert TASK.parse(None, W, H) == [] and TASK.parse(b"[[1,2,3,4]]", W, H) == []


_tokens = st.sampled_from(["[", "]", ",", " ", "-", ".", "e", "nan", "inf", "</think>", "<answer>", "</answer>",
                           "```json\n", "```", "<|image_pad|>", '"bbox_2d":', "{", "}", "1", "250", "99999",
                           "1e308", "0.5"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_tokens, max_size=60).map("".join)))
def test_parser_never_raises_and_boxes_are_valid(text):
    for task in (TASK, DigTask(DigTaskConfig(coords="rel1000"))):
        for x0, y0, x1, y1 in task.parse(text, W, H):
            assert all(math.isfinite(v) for v in (x0, y0, x1, y1))
            assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
