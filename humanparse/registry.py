"""Name -> builder registries for networks, recipes and losses (a leaf module: it imports nothing of humanparse
but its errors).

A network module registers its builder with ``@register_arch("name", converter=convert_checkpoint)``, a recipe
module its configs with ``@register_recipe("config_name")``, a loss module its class with ``@register_loss``.
Each registry imports every module of its package the first time it is read, so adding a network means adding
its module (``humanparse/models/<arch>.py``) and its recipes (``humanparse/configs/recipes/<family>.py``), with
no other file to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, TypeVar

from humanparse.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries registered by name; the modules of `package` are imported on first read so they can register."""

    def __init__(self, kind: str, package: str, hint: str = "") -> None:
        self.kind = kind
        self.package = package
        self.hint = hint
        self._entries: Dict[str, T] = {}
        self._discovered = False

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a name registered twice is a programming error."""
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")

    def get(self, name: str) -> T:
        """The entry of `name`; a ConfigError lists the known names (and close matches) when there is none."""
        self._discover()
        if name not in self._entries:
            from humanparse.suggest import did_you_mean

            suggestion = did_you_mean(name, self._entries) or f"; known: {', '.join(sorted(self._entries))}"
            raise ConfigError(f"unknown {self.kind} {name!r}{suggestion}{self.hint}")
        return self._entries[name]

    def names(self) -> List[str]:
        """Every registered name, in registration order."""
        self._discover()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


@dataclass(frozen=True)
class Architecture:
    """A network family: `build(config) -> nn.Module`, the converter of its reference checkpoints and, for
    checkpoints that describe their network (a Hugging Face folder's config.json), `configure(config, described,
    path) -> config`, which sizes the recipe's network as the file says. `imagenet(backbone, path) -> report`
    loads the family's ImageNet encoder files (`model.pretrained`); None: the ResNet layouts of `conversions`."""

    name: str
    build: Callable[[Any], Any]
    converter: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None
    configure: Optional[Callable[[Any, Dict[str, Any], str], Any]] = None
    imagenet: Optional[Callable[[Any, Any], Any]] = None


ARCHITECTURES: Registry[Architecture] = Registry("architecture", "humanparse.models")
RECIPES: Registry[Callable[[], Any]] = Registry(
    "config", "humanparse.configs.recipes", " (`humanparse configs` lists them)"
)
LOSSES: Registry[Callable[[Any], Any]] = Registry("loss", "humanparse.losses")


def register_arch(
    name: str,
    *,
    converter: Optional[Callable] = None,
    configure: Optional[Callable] = None,
    imagenet: Optional[Callable] = None,
) -> Callable:
    """Decorator of a network module's `build(config)`: `ModelConfig.arch == name` builds with it."""

    def decorate(build: Callable) -> Callable:
        ARCHITECTURES.add(name, Architecture(name, build, converter, configure, imagenet))
        return build

    return decorate


def register_recipe(name: str) -> Callable:
    """Decorator of a function returning a fresh `Config`: the named config `name`."""

    def decorate(factory: Callable) -> Callable:
        return RECIPES.add(name, factory)

    return decorate


def register_loss(name: str) -> Callable:
    """Decorator of a loss class (constructed as `cls(config)`): `TrainConfig.loss == name` uses it."""

    def decorate(loss_class: Callable) -> Callable:
        return LOSSES.add(name, loss_class)

    return decorate
