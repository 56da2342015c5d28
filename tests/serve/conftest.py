"""Fixtures shared by the serve tests."""

import pytest
from serve_fixtures import save_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """`ce2p_tiny_synthetic` random weights (BatchNorm set on synthetic people), made once per session."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("weights") / "tiny.pth")
