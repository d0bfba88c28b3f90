"""Output paths checked before any work, and write failures (no space, no permission, read-only filesystem) as
one line that names the path and what to do."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from ssl_bench.core.errors import UserError

_ADVICE = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is exhausted; free some space",
    errno.EROFS: "the filesystem is read-only; choose a writable place",
    errno.EACCES: "permission denied; choose a writable place",
    errno.EPERM: "permission denied; choose a writable place",
}


def _why(err: OSError) -> str:
    """What went wrong, in words a user can act on (the errno's advice, else its message)."""
    return _ADVICE.get(err.errno, err.strerror or type(err).__name__)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_dir(path: Path, flag: str = "--out") -> None:
    """``path`` is a writable folder or can be made with its missing parents (the rule for every output: a
    missing folder is created when the output is written); else one :class:`UserError` line. Checked by making the
    missing folders and removing them again, so nothing is left behind when a later step fails."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file; give a folder")
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {existing} is not a writable folder; choose a writable place")
    if existing == path.absolute():
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # os.access says yes to root on /proc, /sys and read-only mounts
        raise UserError(f"{flag} {path}: cannot make the folder ({_why(err)}); choose a writable place") from None
    made = path.absolute()
    with contextlib.suppress(OSError):  # another process (a DDP rank) may be checking or writing the same place
        while made != existing:
            made.rmdir()
            made = made.parent


def check_output_file(path: Path, flag: str = "--out") -> None:
    """``path`` is a file that can be written (its folder exists or can be made); else one :class:`UserError`."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name, e.g. {path / 'runs.csv'}")
    check_output_dir(path.parent, flag=f"{flag} {path}: its folder")


@contextlib.contextmanager
def reported_write(path: Path, what: str, advice: str = "") -> Iterator[None]:
    """Turns an OSError while writing ``path`` into one line: what failed, why, and what to do."""
    try:
        yield
    except OSError as err:
        raise UserError(f"could not write {what} {path}: {_why(err)}{'; ' + advice if advice else ''}") from err
