"""YAML as DiG reads it (config files and ``key=value`` overrides): PyYAML's safe loader, except
that a key given twice in one mapping is an error naming both lines (instead of the last value
silently winning) and a document whose aliases expand to more than :data:`MAX_YAML_NODES` values
(a "billion laughs" file) is refused before it is built."""

from __future__ import annotations

from typing import Any

import yaml

#: the number of values a YAML document may expand to through aliases
MAX_YAML_NODES = 100_000


class YamlRefused(ValueError):
    """A YAML document DiG refuses (duplicate key, expands too far); the message has its lines."""


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping that names a key twice is an error (instead of
    the last value silently winning) and a document whose aliases expand to more than
    :data:`MAX_YAML_NODES` values is refused before it is built."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise YamlRefused(f"line {line}: duplicate key {key!r} (first on line {seen[key]}); "
                                       "each key may appear once")
                seen[key] = line
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
        return super().construct_mapping(node, deep=deep)

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            sizes: dict[int, int] = {}

            def size(n: Any) -> int:  # values the node expands to (aliases counted each time)
                if id(n) not in sizes:
                    sizes[id(n)] = 1  # a recursive alias counts once
                    if isinstance(n, yaml.SequenceNode):
                        sizes[id(n)] = 1 + sum(size(c) for c in n.value)
                    elif isinstance(n, yaml.MappingNode):
                        sizes[id(n)] = 1 + sum(size(k) + size(v) for k, v in n.value)
                    sizes[id(n)] = min(sizes[id(n)], MAX_YAML_NODES + 1)
                return sizes[id(n)]

            if size(node) > MAX_YAML_NODES:
                raise YamlRefused(f"expands to more than {MAX_YAML_NODES} values through aliases (&anchor / "
                                   "*alias); write the values out")
        return node


def load(text: str) -> Any:
    """``text`` as YAML. :class:`YamlRefused` for a duplicate key or an alias bomb, PyYAML's
    ``YAMLError`` for text that is not YAML, RecursionError for nesting Python cannot follow."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
