"""Reading a request body whatever its framing: bounded, chunked or not, and failing as an HTTP error."""

import logging

from flask import Request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024
# A body over the limit is still read (and dropped) up to this many times the limit, so the client,
# still sending, reads the 413 instead of a reset connection; beyond it the connection just closes.
DRAIN_FACTOR = 4


def plain_length(environ: dict, limit: int) -> int | None:
    """The body's length when it is framed by a plain Content-Length within `limit`; None for anything else."""
    plain = environ.get("CONTENT_LENGTH", "")
    if plain.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ and int(plain) <= limit:
        return int(plain)
    return None


def read_body(current: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes: 413 above it (chunked too), 400 for broken framing, 408 when too slow."""
    try:
        environ = current.environ
        stream = environ["wsgi.input"]
        # The common case, a plain length within the limit, straight from the server's stream, which ends there:
        # werkzeug's wrapping costs more than the read (docs/benchmarks.md).
        if (length := plain_length(environ, limit)) is not None:
            body = stream.read(length)
            if len(body) != length:
                raise BadRequest("malformed request body framing")
            return body
        if current.content_length is not None:
            if current.content_length > limit:
                _drain(stream, limit * DRAIN_FACTOR)
                raise RequestEntityTooLarge()
            return current.get_data(cache=False)
        # Chunked: werkzeug would cut the stream at the limit silently, so read it ourselves.
        chunks, size = [], 0
        while chunk := stream.read(READ_SIZE):
            size += len(chunk)
            if size > limit:
                _drain(stream, limit * DRAIN_FACTOR - size)
                raise RequestEntityTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)
    except HTTPException:
        raise
    except TimeoutError:
        log.info("request body not received in time")
        raise RequestTimeout("the request body was not received in time") from None
    except Exception as exc:  # the server's parser raises its own types for broken chunked framing
        log.info("malformed request body: %s", type(exc).__name__)
        raise BadRequest("malformed request body framing") from None


def _drain(stream, most: int) -> None:
    """Read and drop what the client is still sending, up to `most` bytes."""
    while most > 0 and (chunk := stream.read(min(READ_SIZE, most))):
        most -= len(chunk)
