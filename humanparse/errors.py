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


# lines of native (C++) error texts that say where, not what (OpenVINO's "Exception from src/...cpp:84:")
_WHERE_PREFIXES = ("Exception from ", "Check '", "Converting input model", "[ GENERAL_ERROR ]")


def first_meaningful_line(error: BaseException) -> str:
    """The first line of an error's text that says what went wrong, without the source-file trail of native
    libraries (OpenVINO's "Exception from src/inference/src/cpp/core.cpp:84:" and "Check 'false' failed at ...")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if not line.startswith(_WHERE_PREFIXES) and not line.rstrip(":").endswith((".cpp", ".hpp", ".h")):
            return line
    return lines[0] if lines else type(error).__name__
