"""Imports go down the layers that docs/architecture.md's "Layers" table lists, and only down.

A module may import its own package and the packages of lower layers; the foundation's modules may also import
each other. Every import counts, at module level or inside a function (only `if TYPE_CHECKING:` blocks, which
never run, are left out). The table is read from the document, so the document and the test cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

from test_import_cycles import PACKAGE, _graph

DOCUMENT = PACKAGE.parent / "docs" / "architecture.md"


def layers_of_the_document(text: str) -> Dict[str, int]:
    """package -> layer number, from the rows `| N name | `pkg`, `pkg` | ... |` of the "## Layers" table."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers: Dict[str, int] = {}
    for line in section.splitlines():
        row = re.match(r"^\|\s*(\d+)[^|]*\|([^|]*)\|", line)
        if row:
            for package in re.findall(r"`([\w.]+)`", row.group(2)):
                layers[package] = int(row.group(1))
    return layers


def package_of(module: str) -> str:
    """`humanparse.inference.tta` -> `inference`; the root package is `humanparse`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "humanparse"


def upward_imports(graph: Dict[str, set], layers: Dict[str, int]) -> List[Tuple[str, str]]:
    """(importer, imported) for every import that leaves the importer's package for one not below it."""
    found = []
    for module, targets in graph.items():
        source = package_of(module)
        for target in targets:
            destination = package_of(target)
            if destination == source:
                continue
            if layers[destination] > layers[source] or (layers[destination] == layers[source] != 0):
                found.append((module, target))
    return sorted(found)


def test_the_checker_finds_an_upward_and_a_sideways_import():
    layers = {"humanparse": 0, "errors": 0, "models": 3, "losses": 3, "inference": 4}
    graph = {
        "humanparse.models.x": {"humanparse.inference.y", "humanparse.errors"},
        "humanparse.losses.z": {"humanparse.models.x"},
        "humanparse.errors": {"humanparse"},
        "humanparse.inference.y": {"humanparse.models.x"},
    }
    assert upward_imports(graph, layers) == [
        ("humanparse.losses.z", "humanparse.models.x"),
        ("humanparse.models.x", "humanparse.inference.y"),
    ]


def test_the_table_reads_the_documents_rows():
    text = "## Layers\n\n| layer | packages |\n|---|---|\n| 0 base | `errors`, `registry` |\n| 4 run | `inference` |\n"
    assert layers_of_the_document(text) == {"errors": 0, "registry": 0, "inference": 4}


def test_every_package_has_a_layer_in_the_document():
    layers = layers_of_the_document(DOCUMENT.read_text())
    packages = {package_of(module) for module in _graph()}
    assert sorted(packages - set(layers)) == []  # a new package or top-level module needs its row
    assert sorted(set(layers) - packages) == []  # the table names nothing that is gone


def test_no_import_goes_up_the_layers():
    layers = layers_of_the_document(DOCUMENT.read_text())
    assert layers["inference"] < layers["engine"] and layers["inference"] < layers["deploy"]
    assert layers["models"] < layers["inference"]
    assert upward_imports(_graph(), layers) == []


def test_a_function_level_import_counts(tmp_path):
    """The graph sees imports inside functions (how the old engine <-> deploy cycle hid)."""
    graph = _graph()
    assert "humanparse.engine.evaluator" in graph["humanparse.deploy.quantize"]  # imported inside a function
    assert (
        Path(PACKAGE / "deploy" / "quantize.py").read_text().count("    from humanparse.engine.evaluator")
        == 1
    )
