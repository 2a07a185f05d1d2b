"""One error hierarchy, one exit-code table (docs/commands.md#exit-codes)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done; the stage passes
    FAILED = 1  # a guard failed, or a rollback was needed
    USAGE = 2  # usage error or invalid plan / bad input data
    INCONCLUSIVE = 3  # hold, nothing changed
    ROUTER = 4  # the router or a rollback step failed, or could not be verified
    NOT_ALLOWED = 5  # the actor lacks the authority
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it); no transition was cut short


class RolloutError(Exception):
    """An error a user can act on. The handler prints `message` and exits with `exit_code`."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(RolloutError):
    exit_code = ExitCode.USAGE


class PlanError(RolloutError):
    """The plan cannot be loaded or is invalid; `problems` lists every located problem."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, problems: list | None = None) -> None:  # list[Problem]
        super().__init__(message)
        self.problems = problems or []


class DataError(RolloutError):
    """The logs are missing, unreadable or do not match the data contract (docs/data.md)."""

    exit_code = ExitCode.USAGE


class RouterError(RolloutError):
    """The router did not answer, refused the change, or could not be verified."""

    exit_code = ExitCode.ROUTER


class NotAllowed(RolloutError):
    """The actor lacks the authority for this action."""

    exit_code = ExitCode.NOT_ALLOWED
