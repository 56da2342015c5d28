"""Errors that carry a message meant for the user; the CLI prints them without a traceback."""


class HumanParseError(Exception):
    """Base class of every error the user can fix (bad input, missing file, mismatched checkpoint)."""


class DataError(HumanParseError):
    """A dataset, image or label is missing or malformed; the message names the file."""


class CheckpointError(HumanParseError):
    """A weight file is missing, unreadable or does not fit the model."""


class ConfigError(HumanParseError):
    """A config name, file or override is wrong."""
