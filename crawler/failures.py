"""What an errback's (or a signal's) Twisted ``Failure`` holds. Twisted types ``value`` and ``type`` Optional;
a failure made from a raised exception, as Scrapy's always are, holds both."""
from __future__ import annotations

from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure


def error_name(failure: Failure) -> str:
    """The exception's class name (``TimeoutError``), for one-line messages."""
    assert failure.type is not None  # a Failure of a raised exception
    return failure.type.__name__


def http_error_response(failure: Failure) -> Response:
    """The error page of a failure that ``failure.check(HttpError)`` matched."""
    assert isinstance(failure.value, HttpError)
    return failure.value.response


def failed_request(failure: Failure) -> Request:
    """The request an errback's failure is about."""
    return failure.request  # type: ignore[attr-defined]  # Scrapy sets it; Twisted's class lacks it
