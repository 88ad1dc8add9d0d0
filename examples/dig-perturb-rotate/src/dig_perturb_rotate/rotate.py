"""``rotate``: turn a cube about its vertical axis by an angle that is visible.

Which shapes qualify: a sphere is symmetric under any rotation and a cylinder under any rotation
about its axis (z), so rotating them changes nothing in the image. A cube is symmetric under
rotations by multiples of 90°, so a turn is only visible if its angle modulo 90° is far from 0 and
from 90. This perturbation therefore edits cubes only, and draws the angle so that it lies in
``[min_degrees, 180 - min_degrees]`` with ``angle mod 90`` in ``[min_degrees, 90 - min_degrees]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dig_core.perturbations import Difference, EditContext, Perturbation
from dig_core.spec import ObjectSpec, SceneSpec

#: shapes whose appearance changes under a suitable rotation about z (see the module docstring)
ROTATABLE_SHAPES = ("cube",)


@dataclass
class RotateConfig:
    min_degrees: float = 20.0  # smallest visible turn; must be in (0, 45]


class RotateCube(Perturbation):
    PLUGIN_NAME = "rotate"
    Config = RotateConfig

    @classmethod
    def validate_config(cls, cfg: RotateConfig) -> list[str]:
        if not 0 < cfg.min_degrees <= 45:
            return [
                f"min_degrees must be in (0, 45], got {cfg.min_degrees}: a cube looks the same after 90°, "
                f"so a visible turn is at least min_degrees away from both 0° and 90°"
            ]
        return []

    def applies_to(self, scene: SceneSpec, obj: ObjectSpec, ctx: EditContext) -> bool:
        return obj.shape in ROTATABLE_SHAPES

    def angle(self, rng: random.Random) -> float:
        """A signed turn in degrees: |angle| in [min, 180 - min], |angle| mod 90 in [min, 90 - min]."""
        lo = self.config.min_degrees
        turn = rng.uniform(lo, 90.0 - lo) + rng.choice((0.0, 90.0))
        return turn * rng.choice((-1.0, 1.0))

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        if obj is None or not self.applies_to(scene, obj, ctx):
            return None
        new_obj = obj.replace(rotation=round((obj.rotation + self.angle(rng)) % 360.0, 4) % 360.0)
        diff = Difference(self.PLUGIN_NAME, obj.id, obj.attributes(), new_obj.attributes())
        return self.checked(scene.with_object(new_obj), diff, ctx)
