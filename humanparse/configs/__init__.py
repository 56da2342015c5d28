"""Named recipes and the config schema."""

from __future__ import annotations

from pathlib import Path

import yaml

from humanparse.configs.recipes import get_config, list_configs
from humanparse.configs.schema import Config, DataConfig, EvalConfig, ModelConfig, TrainConfig
from humanparse.errors import ConfigError

__all__ = [
    "Config", "DataConfig", "EvalConfig", "ModelConfig", "TrainConfig",
    "get_config", "list_configs", "load_config",
]  # fmt: skip


def load_config(name_or_path: str) -> Config:
    """A named recipe, or a YAML file written by `humanparse configs show NAME > file.yaml`."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            with path.open() as handle:
                data = yaml.safe_load(handle)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise ConfigError(f"{where}: malformed YAML: {error.problem or error.context}") from None
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read it as YAML: {error}") from None
        if not isinstance(data, dict) or "model" not in data:
            raise ConfigError(f"{path} is not a humanparse config (no 'model' section)")
        try:
            return Config.from_dict(data)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    return get_config(name_or_path)
