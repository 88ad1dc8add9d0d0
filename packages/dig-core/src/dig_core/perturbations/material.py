"""The ``material`` perturbation: change an object's material (rubber <-> metal)."""

from __future__ import annotations

from dig_core.perturbations.attribute import AttributeChange


class MaterialChange(AttributeChange):
    PLUGIN_NAME = "material"
    ATTRIBUTE = "material"
