"""Errors that carry a message meant for the user; the CLI prints them without a traceback."""


class HumanParseError(Exception):
    """Base class of every error the user can fix (bad input, missing file, mismatched checkpoint)."""


class DataError(HumanParseError):
    """A dataset, image or label is missing or malformed; the message names the file."""


class CheckpointError(HumanParseError):
    """A weight file is missing, unreadable or does not fit the model."""


class ConfigError(HumanParseError):
    """A config name, file or override is wrong."""


def unwrap_worker_error(error: HumanParseError) -> HumanParseError:
    """Our error as a DataLoader worker raised it, without torch's wrapper text ("Caught DataError in DataLoader
    worker process 0", then the worker's traceback); any other error is returned as it is."""
    text = str(error)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return error
    marker = f"{type(error).__module__}.{type(error).__qualname__}: "
    at = text.rfind(marker)
    if at < 0:
        return error
    return type(error)(text[at + len(marker) :].rstrip())
