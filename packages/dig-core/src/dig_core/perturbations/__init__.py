"""Perturbations: one edit of one object, recorded as a :class:`Difference`.

Where each built-in lives: ``shape.py``, ``color.py``, ``size.py``, ``material.py`` (attribute
changes, sharing ``attribute.py``), ``add.py``, ``remove.py``, ``move.py``; ``builtin.py`` registers
them through the ``dig`` entry point ``core-perturbations``. The interface is in ``base.py``.
"""

from dig_core.perturbations.add import AddObject
from dig_core.perturbations.attribute import AttributeChange
from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.perturbations.color import ColorChange
from dig_core.perturbations.material import MaterialChange
from dig_core.perturbations.move import MoveObject
from dig_core.perturbations.remove import RemoveObject
from dig_core.perturbations.shape import ShapeChange
from dig_core.perturbations.size import SizeChange

__all__ = [
    "AddObject",
    "AttributeChange",
    "ColorChange",
    "Difference",
    "EditContext",
    "MaterialChange",
    "MoveObject",
    "Perturbation",
    "RemoveObject",
    "ShapeChange",
    "SizeChange",
]
