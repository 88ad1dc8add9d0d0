"""Entry point ``dig: blender``: registers :class:`~dig_render_blender.renderer.BlenderRenderer`.

Importing this module does not import ``bpy`` (that happens on the first render), so listing
plugins stays fast.
"""

from dig_core import hookimpl

from dig_render_blender.renderer import BlenderConfig, BlenderRenderer


@hookimpl
def register_renderers() -> list[type]:
    return [BlenderRenderer]


__all__ = ["BlenderConfig", "BlenderRenderer", "register_renderers"]
