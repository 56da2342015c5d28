"""YAML read strictly: PyYAML's safe loader keeps the last of two equal keys without a word; here a repeated
key is an error (a mapping written twice by mistake must not silently lose a line)."""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice; the message names the key and its line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the constructor below reports it
                continue
            if repeated:
                raise DuplicateKeyError(
                    f"line {key_node.start_mark.line + 1}: the key {key!r} is given twice"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_unique(text: str) -> Any:
    """`yaml.safe_load(text)`, refusing a repeated key in any mapping (DuplicateKeyError)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  a SafeLoader subclass
