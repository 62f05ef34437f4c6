"""How much a reader of :mod:`mibounds.estimation.data` may hold (private to its readers).

A hostile or broken file must not take the machine's memory: a sparse file of gigabytes of NUL
bytes (one endless CSV line), a small ``.npz`` whose members inflate to gigabytes, a Parquet file
whose metadata promises a billion rows. Every reader therefore checks what it is about to hold
against one :class:`MemoryBudget` before it holds it, from what the file says of itself where it
can (a NumPy header, Parquet metadata, a CSV file's size and first rows), and refuses in one line.

Example:
    >>> budget = MemoryBudget.resolve(1024)
    >>> budget.check(512, "a small read", "read less")  # fits: nothing happens
    >>> try:
    ...     budget.check(4096, "reading f.npz", "pass fewer rows")
    ... except ValueError as error:
    ...     print(error)
    reading f.npz needs 4.0 KiB, more than the 1.0 KiB a read may use (max_bytes); pass fewer rows
"""

from __future__ import annotations

from dataclasses import dataclass

from mibounds.validation.values import physical_memory

__all__ = ["MAX_RECORD_CHARS", "MemoryBudget", "size"]

#: The longest CSV record (one row, with any line breaks inside quoted fields) a reader holds, in
#: characters; a longer one is refused as soon as it is longer (a field whose closing quote is
#: missing swallows the rest of the file; a sparse file is one endless line of NUL bytes).
MAX_RECORD_CHARS = 1 << 24


@dataclass(frozen=True)
class MemoryBudget:
    """The bytes a read may hold, and how to name that limit in a message.

    Attributes:
        limit: Bytes; None where the machine does not say how much memory it has (no check).
        source: The limit in words, e.g. "half of this machine's 23.0 GiB of memory".
    """

    limit: int | None
    source: str

    @classmethod
    def resolve(cls, max_bytes: int | None = None) -> MemoryBudget:
        """``max_bytes`` when given, else half of this machine's memory (the other half is for the
        arrays made from what was read, and for training)."""
        if max_bytes is not None:
            return cls(int(max_bytes), "max_bytes")
        memory = physical_memory()
        if memory is None:
            return cls(None, "")
        return cls(memory // 2, f"half of this machine's {size(memory)} of memory")

    def check(self, nbytes: float, what: str, fix: str) -> None:
        """Refuse ``nbytes`` over the limit before they are held.

        Raises:
            ValueError: "<what> needs 3.0 GiB, more than the 1.0 GiB a read may use (...); <fix>".
        """
        if self.limit is not None and nbytes > self.limit:
            raise ValueError(
                f"{what} needs {size(nbytes)}, more than the {size(self.limit)} a read may use ({self.source}); {fix}"
            )


def size(count: float) -> str:
    """``"512 bytes"``, ``"1.5 MiB"``, ``"16.0 TiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{int(count)} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
