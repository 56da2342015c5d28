"""The one place where every command checks where it will write, before any work starts.

The rule: no command writes over a file it reads, nor over a file of another kind that happens to have the
output's name. So each output is checked

- against every input, by resolved path and by inode (`os.path.samefile`: hard links, bind mounts), the
  inputs' sidecars included (an OpenVINO `.xml`'s `.bin`, an ONNX file's external data);
- with its own sidecars (an OpenVINO `.xml` output also writes the `.bin` beside it);
- for its suffix (`--onnx` ends in `.onnx`, an OpenVINO output in `.xml`);
- for what already holds its name: an existing folder is refused as a file output, and an existing file is
  replaced only when it is of the output's own kind (an earlier export is replaced, a photo named `x.onnx` is not).

Folders (`synth --out`, `predict --out`, `train --work-dir`) are checked with `check_output_folder`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

from humanparse.errors import ConfigError
from humanparse.file_kinds import describe
from humanparse.outputs import check_writable

PathLike = Union[str, Path]

# what an existing file must be for an output of this suffix to replace it
KINDS_BY_SUFFIX = {
    ".onnx": ("an ONNX model",),
    ".xml": ("an XML file",),
    ".json": ("a JSON or other text file", "an empty file"),
    ".pth": ("a PyTorch checkpoint (zip)",),
    ".pt": ("a PyTorch checkpoint (zip)",),
    ".png": ("a PNG image",),
}
_MAX_EXTERNAL_FILES = 10000


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file: equal once resolved (symbolic links, `..`), or the same inode."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop resolves nowhere
        pass
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def output_sidecars(path: PathLike) -> List[Path]:
    """The files a format writes beside `path`: an OpenVINO IR `.xml` has its weights in `.bin`."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return [path.with_suffix(".bin")]
    return []


def input_files(paths: Iterable[Optional[PathLike]]) -> List[Path]:
    """`paths` (the existing files among them) with the files they bring along: an OpenVINO `.xml`'s `.bin`,
    an ONNX file's external data. Missing paths and names that are not files (zoo names) are left out."""
    found: List[Path] = []
    for item in paths:
        if item is None:
            continue
        path = Path(item)
        if not path.is_file():
            continue
        found.append(path)
        if path.suffix.lower() == ".xml":
            found.append(path.with_suffix(".bin"))
        elif path.suffix.lower() == ".onnx":
            found += onnx_external_files(path)
    return found


def onnx_external_files(path: PathLike) -> List[Path]:
    """The external data files an ONNX model refers to (resolved against its folder); [] when it has none or
    cannot be read (the loader reports that later)."""
    try:
        import onnx
    except ImportError:
        return []
    path = Path(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:
        return []
    files = set()
    for tensor in onnx.external_data_helper._get_all_tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        for entry in tensor.external_data:
            if entry.key == "location":
                files.add(path.parent / entry.value)
        if len(files) > _MAX_EXTERNAL_FILES:
            break
    return sorted(files)


def check_output_file(
    path: PathLike,
    *,
    option: str,
    inputs: Iterable[Optional[PathLike]] = (),
    suffixes: Sequence[str] = (),
    extra: Sequence[PathLike] = (),
    kinds: Sequence[str] = (),
    example_name: str = "out",
) -> Path:
    """Check a file output before the work: its suffix (one of `suffixes` when given), no folder in its place, a
    writable folder, and neither it nor its sidecars nor `extra` (other files written beside it) an input or an
    existing file of another kind (`kinds`, `file_kinds.describe`'s words, default: those of the suffix).
    Returns the path; ConfigError (one line, naming `option`) otherwise."""
    path = Path(path)
    if path.is_dir():  # said first: a folder's name has no suffix to check
        raise ConfigError(
            f"cannot write {path}: it is a folder; give a file name such as {path / example_name}"
        )
    if suffixes and path.suffix.lower() not in {suffix.lower() for suffix in suffixes}:
        wanted = " or ".join(suffixes)
        raise ConfigError(f"{option} {path}: the file name must end in {wanted}")
    targets = [path, *output_sidecars(path), *(Path(p) for p in extra)]
    for target in targets:
        if target.is_dir():
            raise ConfigError(
                f"cannot write {target}: it is a folder; give a file name such as {target / example_name}"
            )
    check_writable(path, example_name)
    sources = input_files(inputs)
    for target in targets:
        for source in sources:
            if same_file(target, source):
                what = "" if target == path else f" (its {target.name})"
                raise ConfigError(
                    f"{option} {path}{what} would overwrite the input {source}; choose another output name"
                )
    for target in targets:
        _check_replaceable(target, path, option, targets, tuple(kinds) if target == path else ())
    return path


def _check_replaceable(
    target: Path, path: Path, option: str, targets: Sequence[Path], kinds: Sequence[str] = ()
) -> None:
    """Refuse to replace an existing file that is not of the output's kind."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink():
        raise ConfigError(
            f"{option} {path}: {target} is a symbolic link; give the name of a new or regular file"
        )
    suffix = target.suffix.lower()
    if suffix == ".bin" and target != path:
        # an OpenVINO weights file is replaced only together with the .xml it belongs to
        xml = target.with_suffix(".xml")
        if xml in targets and xml.is_file() and describe(xml) == "an XML file":
            return
        raise ConfigError(
            f"{option} {path}: {target} exists and does not belong to an OpenVINO model of that name; "
            "remove it or choose another output name"
        )
    kinds = tuple(kinds) or KINDS_BY_SUFFIX.get(suffix)
    if not kinds:
        return
    found = describe(target)
    if found not in kinds:
        raise ConfigError(
            f"{option} {path}: {target} exists and is {found}, not {kinds[0]}; remove it or choose another "
            "output name"
        )


def check_output_folder(
    folder: PathLike,
    *,
    option: str,
    inputs: Iterable[Optional[PathLike]] = (),
    input_folders: Iterable[Optional[PathLike]] = (),
    empty: bool = False,
    overwrite_option: str = "--overwrite",
) -> Path:
    """Check a folder output before the work: not a file, not one of the input files nor one of the
    `input_folders` (a dataset root), and with `empty` (a command that would replace what it finds there)
    holding nothing yet. Returns the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder}: is an existing file, not a folder")
    for source in input_files(inputs):
        if same_file(folder, source):
            raise ConfigError(f"{option} {folder} is the input {source}; choose another folder")
    for source in input_folders:
        if source is not None and Path(source).is_dir() and same_file(folder, source):
            raise ConfigError(f"{option} {folder} is the input folder {source}; choose another folder")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {folder}: {parent} is a file, not a folder")
            break
    if empty and folder.is_dir():
        try:
            entries = sorted(entry.name for entry in os.scandir(folder))
        except OSError as error:
            raise ConfigError(f"{option} {folder}: cannot list it ({error.strerror or error})") from error
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ConfigError(
                f"{option} {folder} is not empty ({shown}); choose an empty or new folder, or pass "
                f"{overwrite_option} to write over the files of the same names"
            )
    return folder


def first_overwritten_input(
    targets: Iterable[PathLike], sources: Iterable[PathLike], within: Optional[PathLike] = None
) -> Optional[tuple]:
    """The first (target, source) where an output `target` is an input `source`, by real path or by inode;
    None when none is. Fast for many files: each path is resolved and stat-ed once."""
    by_path = {}
    by_inode = {}
    for source in sources:
        by_path.setdefault(os.path.realpath(source), source)
        try:
            stat = os.stat(source)
        except OSError:
            continue
        by_inode.setdefault((stat.st_dev, stat.st_ino), source)
    for target in targets:
        real = os.path.realpath(target)
        if real in by_path:
            return Path(target), by_path[real]
        try:
            stat = os.stat(target)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in by_inode:
            return Path(target), by_inode[(stat.st_dev, stat.st_ino)]
    return None
