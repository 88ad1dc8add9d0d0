"""The ``remove`` perturbation: an object of scene A is missing from scene B (never the last one)."""

from __future__ import annotations

import random

from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.spec import ObjectSpec, SceneSpec


class RemoveObject(Perturbation):
    PLUGIN_NAME = "remove"

    def applies_to(self, scene: SceneSpec, obj: ObjectSpec, ctx: EditContext) -> bool:
        return len(scene.objects) > 1

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        assert obj is not None, "remove edits an existing object"
        if not self.applies_to(scene, obj, ctx):
            return None
        diff = Difference(self.PLUGIN_NAME, obj.id, obj.attributes(), {})
        return self.checked(scene.without_object(obj.id), diff, ctx)
