"""humanparse.tryon sits above inference: inference (and the layers below) never import it."""

from test_import_cycles import _graph


def test_inference_and_below_never_import_tryon():
    graph = _graph()
    for module, imports in graph.items():
        if not module.startswith(("humanparse.tryon", "humanparse.cli")):
            assert not any(target.startswith("humanparse.tryon") for target in imports), module


def test_tryon_imports_no_command_or_server():
    graph = _graph()
    for module, imports in graph.items():
        if module.startswith("humanparse.tryon"):
            assert not any(t.startswith(("humanparse.cli", "humanparse.serve")) for t in imports), module
