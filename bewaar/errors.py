"""One error type with an exit status, so every command fails with one clear line.

Exit statuses (documented in the README):
  0  everything worked
  1  the work ran but something failed (a page could not be captured, a check failed)
  2  the input could not be used (bad seed list, unreadable file, bad arguments)
  3  the environment is not ready (Chromium or pywb missing, port in use)
  130 interrupted by the user
"""

from __future__ import annotations

OK = 0
FAILED = 1
BAD_INPUT = 2
ENVIRONMENT = 3
INTERRUPTED = 130


class BewaarError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class InputError(BewaarError):
    def __init__(self, message: str) -> None:
        super().__init__(message, BAD_INPUT)


class EnvironmentProblem(BewaarError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ENVIRONMENT)
