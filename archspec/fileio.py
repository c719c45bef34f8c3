"""Safe file writes: a regular file is replaced atomically (a temp file in its folder, then
os.replace), so readers see the old file or the new one, never a partial one; anything else
(a device, a pipe, a symlink to one) is written through, never replaced."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path

from archspec.errors import UsageError

TMP_SUFFIX = ".tmp"
STEM_CHARS = 40
"""Characters of the target's name kept in its temp file's name: `.NAME.XXXXXXXX.tmp` stays far
below the 255-byte limit on a name, whatever the length of NAME."""
STALE_SECONDS = 600
"""A temp file of ours older than this was left by a killed write: the next write removes it."""


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8, ``\\n`` line ends).

    A regular file (or a new one) is replaced atomically, with the permissions of the file it
    replaces or, for a new file, those the umask gives; on any failure, a full disk or the
    file-size limit included, the old file is kept and no temp file is left. A symlink is
    followed; a device or a pipe is written through.

    Raises:
        UsageError: ``path`` is a folder, or cannot be written (naming the file and why).
    """
    path = Path(path)
    try:
        try:
            info = path.stat()  # follows symlinks
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a folder; give a file name")
        _no_size_signal()
        data = text.encode("utf-8")
        if info is not None and not stat.S_ISREG(info.st_mode):
            with open(path, "wb") as handle:  # a device or a pipe: write through
                handle.write(data)
            return
        # A symlink to a regular file (or to none yet) keeps being a symlink: replace its target.
        target = Path(os.path.realpath(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
        _replace(target, data, mode)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None


def _replace(target: Path, data: bytes, mode: int) -> None:
    prefix = f".{target.name[:STEM_CHARS]}."
    _remove_stale(target.parent, prefix)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale(folder: Path, prefix: str) -> None:
    """Remove temp files that a killed write of this target left behind."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(TMP_SUFFIX)):
            continue
        if len(name) != len(prefix) + 8 + len(TMP_SUFFIX):  # mkstemp's 8 random characters
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _no_size_signal() -> None:
    """Past the file-size limit (RLIMIT_FSIZE), a write raises EFBIG instead of SIGXFSZ killing
    the process with the temp file in place."""
    sigxfsz = getattr(signal, "SIGXFSZ", None)
    if sigxfsz is not None and threading.current_thread() is threading.main_thread():
        signal.signal(sigxfsz, signal.SIG_IGN)
