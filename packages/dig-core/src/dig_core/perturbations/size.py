"""The ``size`` perturbation: change an object's size (large <-> small); its z follows, and a larger footprint must not overlap."""

from __future__ import annotations

from dig_core.perturbations.attribute import AttributeChange


class SizeChange(AttributeChange):
    PLUGIN_NAME = "size"
    ATTRIBUTE = "size"
