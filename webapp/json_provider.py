"""Flask's JSON through orjson: the same documents as the standard library's, written several times faster."""

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

# Keys sorted as Flask sorts them; dates handed to Flask's default so they keep its HTTP-date format.
OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonProvider(DefaultJSONProvider):
    """jsonify, request.get_json and app.json through orjson; whatever orjson refuses goes to the standard library."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """JSON text; standard-library keyword arguments (indent, cls, …) get the standard library."""
        if kwargs:
            return super().dumps(obj, **kwargs)
        return self.dump_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text; NaN and Infinity are refused, as JSON refuses them."""
        if kwargs:
            return super().loads(s, **kwargs)
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response, compact unless the app is in debug mode (then Flask's indented form)."""
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        body = self.dump_bytes(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)

    def dump_bytes(self, obj: Any) -> bytes:
        """UTF-8 JSON as jsonify writes it (without its newline); integers beyond 64 bits and the like fall back to the standard library."""
        option = OPTIONS if self.sort_keys else OPTIONS & ~orjson.OPT_SORT_KEYS
        try:
            return orjson.dumps(obj, default=self.default, option=option)
        except orjson.JSONEncodeError:
            return super().dumps(obj, separators=(",", ":")).encode()
