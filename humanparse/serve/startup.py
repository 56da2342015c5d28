"""Checks of `humanparse serve`'s options that run before anything is loaded (no FastAPI, no model)."""

from __future__ import annotations

from typing import Mapping, Optional

from humanparse.errors import ConfigError

API_KEY_VARIABLE = "HUMANPARSE_API_KEY"


def check_port(port: int) -> int:
    """ConfigError unless 1 <= port <= 65535 (uvicorn would wrap 99999 to another port silently)."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: a TCP port is a number from 1 to 65535")
    return port


def resolve_api_key(given: Optional[str], environment: Mapping[str, str]) -> Optional[str]:
    """The API key from --api-key, else from $HUMANPARSE_API_KEY; None when neither is set.

    An empty key (which would turn authentication off without a word) and one that is not printable ASCII
    (which no HTTP client sends the same way) are ConfigErrors."""
    source = "--api-key"
    if given is None:
        given, source = environment.get(API_KEY_VARIABLE), API_KEY_VARIABLE
    if given is None:
        return None
    if given.strip() == "":
        raise ConfigError(
            f"{source} is empty: give a key (clients send 'Authorization: Bearer KEY'), or leave it unset to "
            "serve without one"
        )
    if not all(0x21 <= ord(character) <= 0x7E for character in given):
        raise ConfigError(
            f"{source}: the key must be printable ASCII without spaces (letters, digits, -._~+/=)"
        )
    return given
