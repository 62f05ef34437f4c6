"""Writing output files: each to a new temporary file in its folder, then moved into place.

Opening a report's path for writing would follow a symbolic link already there
(``report/report.md`` pointing at a file elsewhere) and overwrite what it points to, and a crash
midway would leave half a file. :func:`replacing` does neither: it writes to a new file beside the
path, created exclusively (``O_EXCL``, which follows no link and opens no existing file), and
renames it over the path (``os.replace``, which replaces a link itself, never its target). The
path then holds the whole new output as a regular file, or is left as it was. Every table, figure,
report and checkpoint of the experiments is written this way.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_text(folder / "notes.md", "# Notes\\n").read_text()
    '# Notes\\n'
    >>> with replacing(folder / "data.bin", binary=True) as handle:
    ...     _ = handle.write(b"\\x00\\x01")
    >>> (folder / "data.bin").read_bytes(), sorted(p.name for p in folder.iterdir())
    (b'\\x00\\x01', ['data.bin', 'notes.md'])
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["replacing", "write_text"]


@contextlib.contextmanager
def replacing(path: str | Path, *, binary: bool = False, newline: str | None = None) -> Iterator[IO[Any]]:
    """An open file that becomes ``path`` when the block ends without an error.

    Args:
        path: The file to write; its folder must exist. A symbolic link there is replaced by the
            file, its target left alone.
        binary: Open in binary mode (else text, UTF-8).
        newline: As for :func:`open` in text mode (``""`` for the csv module).

    Yields:
        The temporary file, open for writing; on an error it is removed and ``path`` left as it was.

    Raises:
        OSError: If the folder cannot be written.
    """
    path = Path(path)
    temporary, descriptor = _new_file(path)
    try:
        mode = "wb" if binary else "w"
        with open(descriptor, mode, encoding=None if binary else "utf-8", newline=newline) as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`; returns the path."""
    with replacing(path) as handle:
        handle.write(text)
    return Path(path)


def _new_file(path: Path) -> tuple[Path, int]:
    """A new, empty file beside ``path`` (hidden, random name) and its descriptor, open for writing."""
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot make a temporary file beside {str(path)!r}")
