"""Shared logic of the attribute edits (``shape``, ``color``, ``size``, ``material``): set one
attribute of one object to a different value of the vocabulary, keeping it on the ground."""

from __future__ import annotations

import random
from typing import ClassVar

from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.spec import ObjectSpec, SceneSpec


class AttributeChange(Perturbation):
    """Changes ``ATTRIBUTE`` of an object to another value from the vocabulary.

    The object's z is recomputed from its (possibly new) shape and size, so it keeps resting on the
    ground plane. Returns None when the result is not physically valid (e.g. a larger footprint that
    now overlaps a neighbour).
    """

    ATTRIBUTE: ClassVar[str] = ""

    def values(self, ctx: EditContext) -> list[str]:
        """Every value the attribute can take, in vocabulary order (shapes, colors, sizes: dict keys)."""
        return list(getattr(ctx.vocab, self.ATTRIBUTE + "s"))

    def candidates(self, obj: ObjectSpec, ctx: EditContext) -> list[str]:
        """The values ``obj``'s attribute may change to (every other value of the vocabulary)."""
        return [v for v in self.values(ctx) if v != getattr(obj, self.ATTRIBUTE)]

    def applies_to(self, scene: SceneSpec, obj: ObjectSpec, ctx: EditContext) -> bool:
        return bool(self.candidates(obj, ctx))

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        assert obj is not None, f"{self.PLUGIN_NAME} edits an existing object"
        others = self.candidates(obj, ctx)
        if not others:
            return None
        new_obj = obj.replace(**{self.ATTRIBUTE: rng.choice(others)})
        z = ctx.vocab.rest_height(new_obj.shape, new_obj.size)
        new_obj = new_obj.replace(position=[obj.position[0], obj.position[1], z])
        diff = Difference(self.PLUGIN_NAME, obj.id, obj.attributes(), new_obj.attributes())
        return self.checked(scene.with_object(new_obj), diff, ctx)
