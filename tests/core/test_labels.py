"""The label every trainer attaches to a sample (dig_core.training.labels): round trip and clear errors."""

from __future__ import annotations

import json

import pytest
from dig_core.training.labels import Label, parse_label

LABEL = Label("dig-1-00001", "dig-1", 2, ((1.0, 2.0, 10.0, 12.0), (20.0, 20.0, 30.0, 31.5)), 96.0, 64.0,
              "rel1000", (1.5, 2.0))


def test_round_trip_through_json_and_dict():
    assert parse_label(LABEL.to_json()) == LABEL
    assert parse_label(json.loads(LABEL.to_json())) == LABEL
    assert parse_label(LABEL.to_json().encode()) == LABEL


def test_defaults_and_a_single_scale():
    data = {"id": "p", "boxes": [[0, 0, 1, 1]], "width": 4, "height": 3, "coords": "pixels", "scale": 2}
    label = parse_label(data)
    assert (label.stage, label.k, label.scale) == ("", 1, (2.0, 2.0))
    assert parse_label({**data, "boxes": [], "scale": None}).k == 0  # a no-difference control pair


@pytest.mark.parametrize("change, problem", [
    ({"id": 3}, "id must be a string"),
    ({"coords": "percent"}, "coords 'percent' not one of"),
    ({"width": 0}, "width/height must be positive"),
    ({"width": float("nan")}, "width/height must be positive"),
    ({"boxes": [[5, 0, 1, 1]]}, "x0 < x1"),
    ({"boxes": [[0, 0, 1]]}, "boxes must be a list"),
    ({"scale": [1, -1]}, "scale must be null"),
    ({"k": 1.5}, "k must be an integer"),
    ({"stage": 7}, "stage must be a string"),
])
def test_bad_labels_name_the_problem(change, problem):
    data = {"id": "p", "stage": "s", "boxes": [[0, 0, 1, 1]], "width": 4, "height": 3, "coords": "pixels", **change}
    with pytest.raises(ValueError, match=problem):
        parse_label(data)


def test_not_a_label_at_all():
    with pytest.raises(ValueError, match="not JSON"):
        parse_label("{oops")
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_label("[1, 2]")
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['coords'\]"):
        parse_label({"id": "p", "boxes": [], "width": 1, "height": 1})
