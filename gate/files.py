"""The file edge: how the gate reads an input file and writes an output file.

Writes never leave a truncated file behind (a temporary file beside the target, then one atomic
rename), and a command's output never replaces an existing file unless it was told to
(`write_output(..., overwrite=True)`, behind each command's `--overwrite`). Reads turn every way
a path can be wrong (missing, a folder, unreadable, not UTF-8, not JSON, a key written twice) into
one ConfigError line that names the file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate.errors import ConfigError, InfraError

# errno values that mean "this path cannot be written as asked" (a usage problem, exit 2); any
# other OSError while writing (a full disk, an I/O error) is the machine's problem (exit 3).
_USAGE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}


def atomic_write(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write `text` to a temporary file beside `path`, then move it to `path` in one atomic step.

    The file gets the ordinary permissions of a new file (mkstemp alone would make it 0600), and the
    temporary file is removed when anything fails, so a reader sees the old file or the new one.
    With overwrite=False the final step is a hard link, which fails if `path` appeared meanwhile
    (FileExistsError): a file created by someone else between a check and the write is never replaced.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if overwrite:
            os.replace(tmp, p)
        else:
            _link_new(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _link_new(tmp: str, p: Path) -> None:
    try:
        os.link(tmp, p)  # atomic, and refuses an existing target
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # A filesystem without hard links: the check-then-rename below has a window, but only there.
        if p.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(p)) from None
        os.replace(tmp, p)
        return
    Path(tmp).unlink(missing_ok=True)


def check_output(path: str | Path, *, overwrite: bool = False, option: str = "--output") -> Path:
    """Refuse an output path that cannot be written as asked, before any work is done for it.

    Refused: an existing file without `overwrite`, a folder, a path under a file (`a.json/b.json`),
    and a folder the gate may not write in. ConfigError names the path and the option.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{option} {p}: is a folder; give a file path, e.g. {p / 'out.json'}")
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise ConfigError(f"{option} {p}: already exists; choose another path or pass --overwrite to replace it")
    parent = p.parent
    while not parent.exists():
        if parent.is_symlink():  # a dangling link where a folder should be
            raise ConfigError(f"{option} {p}: {parent} is a broken symbolic link; fix it or choose another path")
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {p}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {p}: folder {parent} is not writable; choose another path")
    return p


def write_output(path: str | Path, text: str, *, overwrite: bool = False, option: str = "--output") -> Path:
    """The one way a command writes its output file: checked (`check_output`), atomic, never clobbering.

    Every command that writes a file (`gate run`'s record, `gate diff -o`, `gate baseline show -o`)
    writes through here, so none of them replaces an existing file unless its `--overwrite` was given.
    """
    p = check_output(path, overwrite=overwrite, option=option)
    try:
        return atomic_write(p, text, overwrite=overwrite)
    except FileExistsError:
        raise ConfigError(
            f"{option} {p}: appeared while the gate was writing it; choose another path or pass --overwrite"
        ) from None
    except OSError as e:
        reason = e.strerror or type(e).__name__
        if e.errno in _USAGE_ERRNOS:
            raise ConfigError(f"{option} {p}: cannot be written ({reason}); choose another path") from None
        raise InfraError(f"{option} {p}: writing failed ({reason}); check the disk and re-run") from e


def read_text(path: str | Path, what: str, hint: str = "") -> str:
    """A UTF-8 text file, or one ConfigError line saying why it cannot be read (and `hint`: what to do)."""
    p = Path(path)
    tail = f"; {hint}" if hint else ""
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: {what} file not found{tail}") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a {what} file{tail}") from None
    except NotADirectoryError:
        raise ConfigError(f"{p}: a part of this path is a file, not a folder{tail}") from None
    except PermissionError:
        raise ConfigError(f"{p}: {what} file is not readable (permission denied)") from None
    except OSError as e:
        raise ConfigError(f"{p}: {what} file cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{p}: {what} file is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}){tail}"
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_json(text: str, source: str, what: str, hook: Callable[[list[tuple[str, Any]]], Any] = _unique_keys) -> Any:
    """JSON text as data; a key written twice in one object is refused (Python would keep the last silently).

    NaN and Infinity parse (Python writes them), and the schemas then refuse them with the field's path.
    """
    try:
        return json.loads(text, object_pairs_hook=hook)
    except _DuplicateKey as e:
        raise ConfigError(
            f"{source}: key {e.key!r} appears twice in one object; a {what} holds each key once"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}); is this a {what}?") from None
    except RecursionError:
        raise ConfigError(f"{source}: JSON nested too deeply to be a {what}") from None


def read_json(path: str | Path, what: str, hint: str = "") -> Any:
    """A JSON file (`read_text`, then `parse_json`), every failure one ConfigError line naming the file."""
    return parse_json(read_text(path, what, hint), str(path), what)
