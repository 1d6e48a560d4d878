"""Every error IANS raises on purpose, each knowing its HTTP status.

IansError (500)
  BadRequest (400)        malformed JSON, a body that is not an object
    BrokenBody            a body that does not decode as its headers say
  Unauthorized (401)      no token, unknown token
  Forbidden (403)         a valid token that may not do this
  NotFound (404)          UnknownMessage, UnknownPointOfContact, UnknownExercise,
                          UnknownConsultation
  Conflict (409)          a state that forbids the request (closed consultation,
                          stopped exercise)
  RequestTimeout (408)    a body that did not all arrive in time
  PayloadTooLarge (413)   a body over the limit
  UnsupportedMediaType (415)  a body of a type the endpoint does not take
  InvalidInput (422)      a field that breaks a rule; `details` name the field paths
    FileError             a contacts or scenario file: every problem with file, line, field

One middleware renders them as {"error": {"code", "message", "details"}}; the CLI
prints `message` and each detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class IansError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __reduce__(self) -> tuple[Any, ...]:
        # subclasses take other arguments (UnknownMessage(message_id)): rebuild from the
        # state, so that errors cross the store's process boundary intact
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[IansError], args: tuple[Any, ...], state: dict[str, Any]) -> IansError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class BadRequest(IansError):
    status = 400
    code = "bad_request"


class BrokenBody(BadRequest):
    """The body is not what its headers say (Content-Encoding, length): the connection
    is closed after the answer, since what follows on it cannot be trusted."""


class Unauthorized(IansError):
    status = 401
    code = "unauthorized"


class Forbidden(IansError):
    status = 403
    code = "forbidden"


class NotFound(IansError, LookupError):
    status = 404
    code = "not_found"


class UnknownMessage(NotFound):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"no message {message_id!r}")


class UnknownPointOfContact(NotFound):
    def __init__(self, poc_id: str) -> None:
        super().__init__(f"no point of contact {poc_id!r}")


class UnknownExercise(NotFound):
    def __init__(self, exercise_id: str) -> None:
        super().__init__(f"no exercise {exercise_id!r}")


class UnknownConsultation(NotFound):
    def __init__(self, consultation_id: str) -> None:
        super().__init__(f"no consultation {consultation_id!r}")


class Conflict(IansError):
    status = 409
    code = "conflict"


class InjectSent(Conflict):
    """An exercise's inject is stored already: another node sent it (each is sent once)."""

    @classmethod
    def of(cls, exercise_id: str | None, inject: str | None) -> InjectSent:
        return cls(f"inject {inject!r} of {exercise_id} is sent already")


class RequestTimeout(IansError):
    status = 408
    code = "request_timeout"


class PayloadTooLarge(IansError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(IansError):
    status = 415
    code = "unsupported_media_type"


class InvalidInput(IansError, ValueError):
    status = 422
    code = "invalid"

    @classmethod
    def at(cls, field: str, message: str) -> InvalidInput:
        """One invalid field: `field` is a dotted path such as `to[2]` or `content.location.lat`."""
        return cls(f"{field}: {message}", [{"field": field, "message": message}])

    @classmethod
    def listing(cls, problems: list[tuple[str, str]]) -> InvalidInput:
        """Every invalid field at once, as (field, message) pairs; the message names the
        first and how many more."""
        first = f"{problems[0][0]}: {problems[0][1]}" if problems else "invalid input"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(first + more, [{"field": f, "message": m} for f, m in problems])


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class FileError(InvalidInput):
    """A contacts or scenario file (or several) with mistakes; nothing of them was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid file"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            first + more,
            [
                {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                for p in problems
            ],
        )


class NotDelivered(Forbidden):
    def __init__(self, message_id: str, poc: str) -> None:
        super().__init__(f"message {message_id!r} was not delivered to {poc!r}")
