"""dig_core.grounding: which differences give an exact single-object box, in which image, with which
description; the prompt and the answer in each coordinate convention."""

from __future__ import annotations

from dig_core.grounding import GROUNDING_PROMPT, describe, grounding_answer, grounding_prompt, grounding_samples
from dig_core.task import DigTask, DigTaskConfig


def _obj(i, color="red", shape="cube", size="large", material="rubber"):
    return {"id": i, "color": color, "shape": shape, "size": size, "material": material, "position": [0, 0, 0]}


def _rec(pid, diffs, a, b):
    return {"id": pid, "stage": "s", "width": 100, "height": 50, "differences": diffs,
            "scene_a": {"objects": a}, "scene_b": {"objects": b}}


def test_samples_from_exact_single_object_boxes():
    blue = _obj(0, color="blue")
    recs = [
        # color edit: the object before (I_a) and after (I_b), same box
        _rec("c", [{"type": "color", "object_id": 0, "box": [1, 2, 3, 4]}], [blue, _obj(1)], [_obj(0, "green"), _obj(1)]),
        # remove: I_a only; add: I_b only
        _rec("r", [{"type": "remove", "object_id": 1, "box": [5, 5, 9, 9]}], [blue, _obj(1)], [blue]),
        _rec("a", [{"type": "add", "object_id": 2, "box": [6, 6, 8, 8]}], [blue], [blue, _obj(2, shape="sphere")]),
        # shape / size edits cover both versions: no sample; two differences: no sample
        _rec("s", [{"type": "shape", "object_id": 0, "box": [1, 1, 5, 5]}], [blue], [_obj(0, "blue", "sphere")]),
        _rec("k2", [{"type": "color", "object_id": 0, "box": [1, 1, 2, 2]},
                    {"type": "remove", "object_id": 1, "box": [3, 3, 4, 4]}], [blue, _obj(1)], [_obj(0, "gray")]),
        # an object described like another one of the same image is ambiguous: skipped there only
        _rec("amb", [{"type": "color", "object_id": 0, "box": [1, 1, 2, 2]}], [_obj(0), _obj(1)], [_obj(0, "cyan"), _obj(1)]),
    ]
    got = [(s.id, s.image_key, s.description, s.box) for s in grounding_samples(recs)]
    assert got == [
        ("c/a", "image_a", "large blue rubber cube", (1.0, 2.0, 3.0, 4.0)),
        ("c/b", "image_b", "large green rubber cube", (1.0, 2.0, 3.0, 4.0)),
        ("r/a", "image_a", "large red rubber cube", (5.0, 5.0, 9.0, 9.0)),
        ("a/b", "image_b", "large red rubber sphere", (6.0, 6.0, 8.0, 8.0)),
        ("amb/b", "image_b", "large cyan rubber cube", (1.0, 1.0, 2.0, 2.0)),
    ]
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
