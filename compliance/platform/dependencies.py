"""Errors of a dependency that is away: the request may succeed when retried.

Redis (as cache or broker), the broker through Kombu, and the database's connection
(a restart, a failover, a network cut). Every such error that escapes a request is
answered 503 with ``Retry-After``, never 500: by the API's exception handler for errors
in API views, and by the 500 handler for errors anywhere else (a page, or the session
and authentication middleware while the database is away).
"""

from __future__ import annotations

import kombu.exceptions
import redis
from django.db import InterfaceError, OperationalError

DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,  # also BusyLoadingError
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica during failover
    kombu.exceptions.OperationalError,
    OperationalError,  # the database refused or dropped the connection
    InterfaceError,  # a connection that was already closed
)
DEPENDENCY_RETRY_AFTER_SECONDS = 5
