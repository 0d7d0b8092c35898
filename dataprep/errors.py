"""Errors a user can act on. The CLI prints them as one line and exits with their code."""

from __future__ import annotations


class DataprepError(Exception):
    """An error with a one-line message for the user; ``exit_code`` follows the CLI contract."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return f"{where}{self.message}"


class InputError(DataprepError):
    """Unreadable input: a missing file, an unknown format, a file with no readable line."""


class OutputError(DataprepError):
    """An output that cannot be written: a full disk, a size limit, a folder without permission."""


class RecipeError(DataprepError):
    """A recipe that does not validate; the message names the key and what is allowed."""


class UsageError(DataprepError):
    """Bad flags or arguments."""


class AccountingError(DataprepError):
    """The run's destination counts do not add up to its input: a bug, never ignored."""

    exit_code = 3
