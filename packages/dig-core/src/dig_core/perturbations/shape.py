"""The ``shape`` perturbation: change an object's shape (cube, sphere, cylinder, ...); its z follows the new shape."""

from __future__ import annotations

from dig_core.perturbations.attribute import AttributeChange


class ShapeChange(AttributeChange):
    PLUGIN_NAME = "shape"
    ATTRIBUTE = "shape"
