"""The ``add`` perturbation: a new random object at a free spot (it exists only in scene B)."""

from __future__ import annotations

import random

from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.sampling.placement import POSITION_DECIMALS, find_free_spot
from dig_core.spec import ObjectSpec, SceneSpec


def placement_obstacles(scene: SceneSpec, ctx: EditContext, ignore_id: int | None = None) -> list[ObjectSpec]:
    """Objects a newly placed footprint must keep clear of: those of ``scene`` (but ``ignore_id``)
    and those of the reference scene A, so a spot just vacated in B is not reused."""
    obstacles = [o for o in scene.objects if o.id != ignore_id]
    if ctx.reference is not None:
        obstacles += ctx.reference.objects
    return obstacles


class AddObject(Perturbation):
    """Adds an object with random attributes where CLEVR's placement rules allow (``min_dist``,
    ``margin`` along the camera's ground directions); its id is one more than any id in A or B."""

    PLUGIN_NAME = "add"
    CREATES = True

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        vocab = ctx.vocab
        size = rng.choice(list(vocab.sizes))
        spot = find_free_spot(
            vocab.sizes[size], placement_obstacles(scene, ctx), scene.bounds, scene.camera, vocab, rng,
            ctx.min_dist, ctx.margin, ctx.max_attempts,
        )
        if spot is None:
            return None
        shape = rng.choice(list(vocab.shapes))
        new_obj = ObjectSpec(
            id=ctx.next_object_id(scene),
            shape=shape,
            material=rng.choice(vocab.materials),
            color=rng.choice(list(vocab.colors)),
            size=size,
            position=[spot[0], spot[1], vocab.rest_height(shape, size)],
            rotation=round(rng.uniform(0.0, 360.0), POSITION_DECIMALS),
        )
        diff = Difference(self.PLUGIN_NAME, new_obj.id, {}, new_obj.attributes())
        return self.checked(scene.with_object(new_obj), diff, ctx)
