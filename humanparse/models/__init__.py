"""Backbones, the networks, the builder and checkpoint conversion."""
