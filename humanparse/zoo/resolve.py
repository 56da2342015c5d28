"""From a weights argument to a local file: the one resolution every command and `Predictor` goes through.

An existing file is used as it is. A zoo name (`humanparse models`) resolves to its verified copy in the cache;
a missing copy is an error naming `humanparse download NAME` (or the manual steps for Baidu / Drive-folder
weights), never a silent download. A file that changed since it was verified is refused. The licence of weights
that are not free for commercial use is printed the first time they are used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from humanparse.errors import CheckpointError
from humanparse.suggest import did_you_mean
from humanparse.zoo import cache
from humanparse.zoo.download import human_size, manual_steps
from humanparse.zoo.licences import notify_licence
from humanparse.zoo.table import ZooEntry, ZooFile, entry_of_file, get_entry, zoo_names


def _looks_like_name(text: str) -> bool:
    return bool(text) and "/" not in text and os.sep not in text and not Path(text).suffix


def resolve_weights(source: Union[str, Path]) -> Path:
    """The local path of a weights argument: an existing file, else a zoo name's verified cached copy.

    A missing path whose file name is a published file's (`exp-schp-201908261155-lip.pth`) gets a CheckpointError
    naming its zoo entry and `humanparse download`; any other missing path is returned for the reader to refuse.
    """
    path = Path(source).expanduser()
    if path.is_file():
        return path
    text = str(source)
    if isinstance(source, str) and _looks_like_name(text):
        if get_entry(text) is not None:
            return resolve(text)
        if not path.exists():
            raise CheckpointError(
                f"{text!r} is neither an existing file nor a model-zoo name (`humanparse models` lists them)"
                f"{did_you_mean(text, zoo_names())}"
            )
    if not path.exists():
        entry = entry_of_file(path.name)
        if entry is not None:
            raise CheckpointError(
                f"no such file {path}: it is the published weights of {entry.name}; run "
                f"`humanparse download {entry.name}` and give `{entry.name}` as the weights"
            )
    return path


def resolve(name: str) -> Path:
    """The verified local copy of a zoo entry (its file, or its folder for a bundle)."""
    entry = get_entry(name)
    if entry is None:
        raise CheckpointError(
            f"{name!r} is not a model-zoo name (`humanparse models` lists them){did_you_mean(name, zoo_names())}"
        )
    folder = cache.models_dir()
    for file in entry.files:
        _check_cached(entry, file, folder)
    notify_licence(entry.name)
    return folder / entry.path_name


def _check_cached(entry: ZooEntry, file: ZooFile, folder: Path) -> None:
    path = folder / file.name
    state = cache.check(folder, file, origin="found in the cache")
    if state in (cache.VERIFIED, cache.RECORDED):
        return
    command = f"humanparse download {entry.name}"
    if state == cache.CHANGED:
        record = cache.read_record(folder, file)
        expected = record["size"] if record else file.size
        size = path.stat().st_size
        what = (
            f"{size} bytes, verified at {expected}" if expected not in (None, size) else "its SHA-256 differs"
        )
        again = f"run `{command}`" if file.automatic_sources else f"fetch it again (`{command}` prints how)"
        raise CheckpointError(
            f"{path} is not the verified {entry.name} file ({what}): it is not trusted; delete it and {again}"
        )
    if not file.automatic_sources:
        raise CheckpointError(
            f"the weights of {entry.name} are not in the cache.\n{manual_steps(file, path)}"
        )
    resume = " (it resumes the partial download)" if state == cache.PARTIAL else ""
    raise CheckpointError(
        f"the weights of {entry.name} are not downloaded yet: run `{command}`{resume} "
        f"({human_size(entry.size)}; `humanparse models` lists sources and licences)"
    )


def default_weights(config_name: str) -> str:
    """The zoo name of a recipe's published weights (the recipe's own name); CheckpointError when it has none."""
    if get_entry(config_name) is None:
        raise CheckpointError(
            f"{config_name!r} has no published weights in the model zoo: give a checkpoint "
            "(`humanparse models` lists the names that need none)"
        )
    return config_name
