"""Reading a request body whatever its framing: bounded, chunked or not, and failing as an HTTP error."""

import logging

from flask import request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024


def read_body(limit: int) -> bytes:
    """The body, at most `limit` bytes: 413 above it (chunked too), 400 for broken framing, 408 when too slow."""
    try:
        if request.content_length is not None:
            # Werkzeug refuses a declared length over MAX_CONTENT_LENGTH with a 413.
            return request.get_data(cache=False)
        # Chunked: werkzeug would cut the stream at the limit silently, so read it ourselves.
        stream, chunks, size = request.environ["wsgi.input"], [], 0
        while chunk := stream.read(READ_SIZE):
            size += len(chunk)
            if size > limit:
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
