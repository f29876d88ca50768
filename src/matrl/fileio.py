"""Atomic file writes: readers see either the old file or the complete new one, never a partial write."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path in ``path``'s directory, then rename it onto ``path``.

    The temporary file lives in the same directory so that ``os.replace`` is an atomic rename on the same
    file system; it is created by ``write`` itself, so it gets the usual permissions (umask), and it is
    removed if writing fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (no newline translation)."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")))
