"""Registers core's built-in perturbations through the ``dig`` entry point
``core-perturbations`` (the same way a third-party plugin does)."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_perturbations() -> list[type]:
    from dig_core.perturbations.add import AddObject
    from dig_core.perturbations.color import ColorChange
    from dig_core.perturbations.material import MaterialChange
    from dig_core.perturbations.move import MoveObject
    from dig_core.perturbations.remove import RemoveObject
    from dig_core.perturbations.shape import ShapeChange
    from dig_core.perturbations.size import SizeChange

    return [ShapeChange, ColorChange, SizeChange, MaterialChange, AddObject, RemoveObject, MoveObject]
