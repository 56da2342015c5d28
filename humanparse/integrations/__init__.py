"""Adapters to outside data engines (extra per engine): `humanparse.integrations.ray` for Ray Data."""
