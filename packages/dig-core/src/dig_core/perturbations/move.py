"""The ``move`` perturbation: an object moves to a new free spot (off by default in config weights)."""

from __future__ import annotations

import random

from dig_core.perturbations.add import placement_obstacles
from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.sampling.placement import find_free_spot
from dig_core.spec import ObjectSpec, SceneSpec


class MoveObject(Perturbation):
    """Moves an object to a spot that is free in B and clear of every object of A, its own old
    footprint included (so the move is always visible as two separate places)."""

    PLUGIN_NAME = "move"

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        assert obj is not None, "move edits an existing object"
        obstacles = placement_obstacles(scene, ctx, ignore_id=obj.id) + [obj]
        spot = find_free_spot(
            ctx.vocab.sizes[obj.size], obstacles, scene.bounds, scene.camera, ctx.vocab, rng,
            ctx.min_dist, ctx.margin, ctx.max_attempts,
        )
        if spot is None:
            return None
        new_obj = obj.replace(position=[spot[0], spot[1], obj.position[2]])
        diff = Difference(self.PLUGIN_NAME, obj.id, obj.attributes(), new_obj.attributes())
        return self.checked(scene.with_object(new_obj), diff, ctx)
