"""The ``color`` perturbation: change an object's color to another color of the vocabulary."""

from __future__ import annotations

from dig_core.perturbations.attribute import AttributeChange


class ColorChange(AttributeChange):
    PLUGIN_NAME = "color"
    ATTRIBUTE = "color"
