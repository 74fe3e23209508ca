"""Bad input files: each one named with its reason, then skipped and summarised, or fatal.

Readers raise :class:`BadFile` for a file they cannot use; loaders hand each
one to a :class:`BadInputs` collector. In strict mode the first one raises
:class:`~vaegan.foundation.errors.DataError`; otherwise it is logged as skipped and the
loader ends with one summary of everything it left out. Nothing is dropped
silently and no traceback reaches the user.

Example:
    >>> bad = BadInputs(strict=False, what="data.mri")
    >>> bad.add("sub-02/anat/sub-02_T1w.nii.gz", "is 4-D (shape (8, 8, 8, 3)); expected a 3-D volume")
    >>> print(bad.summary(kept=9))
    skipped 1 input, kept 9:
      sub-02/anat/sub-02_T1w.nii.gz: is 4-D (shape (8, 8, 8, 3)); expected a 3-D volume
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from vaegan.foundation.errors import DataError

logger = logging.getLogger(__name__)


class BadFile(Exception):
    """A file that cannot be used; the message is the reason (e.g. "is truncated")."""


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its type's name when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def causes(error: BaseException) -> list[BaseException]:
    """``error``, then what it was raised from (``__cause__``, else an unsuppressed ``__context__``), and so on."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        suppressed = current.__suppress_context__ and current.__cause__ is None
        current = current.__cause__ if current.__cause__ is not None else (None if suppressed else current.__context__)
    return chain


def reason_of(error: BaseException, doing: str = "failed") -> str:
    """Why a file failed: the :class:`BadFile` in ``error``'s cause chain, else the root error.

    Libraries wrap what they call: MONAI's ``Compose`` re-raises a transform's
    error as ``RuntimeError("applying transform ...")`` from it. The reason
    recorded is the innermost one, on one line.

    Example:
        >>> try:
        ...     raise RuntimeError("applying transform") from BadFile("is blank")
        ... except RuntimeError as error:
        ...     reason_of(error)
        'is blank'
    """
    chain = causes(error)
    for item in chain:
        if isinstance(item, BadFile):
            return first_line(item)
    root = chain[-1]
    return f"{doing} ({type(root).__name__}: {first_line(root)})"


@dataclass(frozen=True)
class BadInput:
    """One skipped input: the file (or subject) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class BadInputs:
    """Collects bad inputs; raises on the first one when ``strict``.

    Args:
        strict: raise :class:`DataError` at the first bad input.
        what: the config section whose ``strict`` key switches this (named in messages).
    """

    strict: bool
    what: str = "data.mri"
    items: list[BadInput] = field(default_factory=list)

    def add(self, path: str | Path, reason: str) -> None:
        """Record ``path`` as unusable for ``reason``; in strict mode, raise instead."""
        item = BadInput(str(path), reason)
        if self.strict:
            raise DataError(f"{item} ({self.what}.strict is true; set it false to skip bad files and go on)")
        logger.info("skipping %s", item)
        self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def summary(self, kept: int, note: str = "") -> str:
        """One line of counts (and ``note``, e.g. the time per input), then one line per skipped input."""
        noun = "input" if len(self.items) == 1 else "inputs"
        lines = [f"skipped {len(self.items)} {noun}, kept {kept}{f' ({note})' if note else ''}:"]
        return "\n".join(lines + [f"  {item}" for item in self.items])

    def report(self, kept: int, source: str | Path, note: str = "") -> None:
        """Log the summary as a warning (nothing when all inputs were good)."""
        if self.items:
            logger.warning("%s: %s", source, self.summary(kept, note))
