"""Entry point ``dig: kubric``: registers :class:`~dig_render_kubric.renderer.KubricRenderer`.

Importing this module imports neither ``bpy`` nor Kubric (that happens on the first render), so
listing plugins stays fast and works where Kubric is not installed.
"""

from dig_core import hookimpl

from dig_render_kubric.renderer import KubricConfig, KubricRenderer


@hookimpl
def register_renderers() -> list[type]:
    return [KubricRenderer]


__all__ = ["KubricConfig", "KubricRenderer", "register_renderers"]
