"""dig_core.grounding: which objects of a pair's renders are samples, in which image, with which
description and box; the prompt and the answer in each coordinate convention."""

from __future__ import annotations

from dig_core.grounding import GROUNDING_PROMPT, describe, grounding_answer, grounding_prompt, grounding_samples
from dig_core.task import DigTask, DigTaskConfig


def _obj(i, color="red", shape="cube", size="large", material="rubber"):
    return {"id": i, "color": color, "shape": shape, "size": size, "material": material, "position": [0, 0, 0]}


def _vis(i, box, pixels=500):
    return {"id": i, "box": box, "pixels": pixels}


def _rec(pid, a, b, vis_a, vis_b):
    return {"id": pid, "stage": "s", "width": 100, "height": 50, "differences": [],
            "scene_a": {"objects": a}, "scene_b": {"objects": b}, "visible_a": vis_a, "visible_b": vis_b}


def test_every_visible_uniquely_described_object_is_a_sample():
    blue, red = _obj(0, color="blue"), _obj(1)
    recs = [
        # color edit of object 0: both objects in I_a; in I_b only the edited one (object 1 is unchanged)
        _rec("c", [blue, red], [_obj(0, "green"), red],
             [_vis(0, [1, 2, 3, 4]), _vis(1, [5, 5, 9, 9])], [_vis(0, [1, 2, 3, 4]), _vis(1, [5, 5, 9, 9])]),
        # add: the new object in I_b; an object uncovered in I_b (new box) is a sample there too
        _rec("a", [blue, red], [blue, red, _obj(2, shape="sphere")],
             [_vis(0, [1, 1, 4, 4]), _vis(1, [5, 5, 7, 9])],
             [_vis(0, [1, 1, 4, 4]), _vis(1, [5, 5, 9, 9]), _vis(2, [6, 0, 8, 2])]),
        # too few visible pixels, not visible at all, or a description another object shares: skipped
        _rec("skip", [blue, red, _obj(3), _obj(4, "cyan")], [blue, red, _obj(3), _obj(4, "cyan")],
             [_vis(0, [1, 1, 2, 2], pixels=99), _vis(1, [3, 3, 4, 4]), _vis(3, [5, 5, 6, 6])], []),
        # a dataset made before visible boxes were recorded gives none
        {"id": "old", "stage": "s", "width": 100, "height": 50, "scene_a": {"objects": [blue]}},
    ]
    got = [(s.id, s.image_key, s.description, s.box) for s in grounding_samples(recs)]
    assert got == [
        ("c/a/0", "image_a", "large blue rubber cube", (1.0, 2.0, 3.0, 4.0)),
        ("c/a/1", "image_a", "large red rubber cube", (5.0, 5.0, 9.0, 9.0)),
        ("c/b/0", "image_b", "large green rubber cube", (1.0, 2.0, 3.0, 4.0)),
        ("a/a/0", "image_a", "large blue rubber cube", (1.0, 1.0, 4.0, 4.0)),
        ("a/a/1", "image_a", "large red rubber cube", (5.0, 5.0, 7.0, 9.0)),
        ("a/b/1", "image_b", "large red rubber cube", (5.0, 5.0, 9.0, 9.0)),
        ("a/b/2", "image_b", "large red rubber sphere", (6.0, 0.0, 8.0, 2.0)),
    ]
    assert [s.id for s in grounding_samples(recs[2:3], min_pixels=50)] == ["skip/a/0"]
    assert describe(_obj(3, "yellow", "cylinder", "small", "metal")) == "small yellow metal cylinder"


def test_prompt_and_answer_in_the_models_convention():
    rel, px = DigTask(DigTaskConfig(coords="rel1000")), DigTask(DigTaskConfig(coords="pixels"))
    prompt = grounding_prompt(rel, "small red metal cube", 192, 128)
    assert prompt == GROUNDING_PROMPT.format(expression="small red metal cube", coords=prompt.split(" in the image "
                                             "and give its bounding box. ")[1].split(" Answer")[0])
    assert '"small red metal cube"' in prompt and "0-1000" in prompt
    assert "192x128" in grounding_prompt(px, "x", 192, 128)
    assert grounding_answer(rel, [19.2, 12.8, 96, 64], 192, 128) == "[100, 100, 500, 500]"
    assert grounding_answer(px, [19.2, 12.8, 96, 64], 192, 128) == "[19, 13, 96, 64]"
    # the parser reads the single box back
    assert rel.parse(grounding_answer(rel, [19.2, 12.8, 96, 64], 192, 128), 192, 128) == [(19.2, 12.8, 96.0, 64.0)]


def test_the_task_can_shorten_the_grounding_prompt():
    short = DigTask(DigTaskConfig(coords="rel1000", grounding_template="Box the {expression}. {coords}"))
    assert grounding_prompt(short, "red cube", 192, 128).startswith("Box the red cube. Coordinates are relative")
    assert "grounding_template" in DigTask.validate_config(DigTaskConfig(grounding_template="Box {thing}"))[0]
