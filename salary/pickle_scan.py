"""Walking a pickle's opcodes without building anything: the allow-list and every bound, checked over the whole pickle.

`scan` reads each opcode and its argument itself (never the C unpickler) and follows what each does to the
shapes on the stack and in the memo, refusing: opcodes off the allow-list, more than MAX_BYTES bytes or
MAX_OPCODES opcodes, a memo index past MAX_MEMO, more than MAX_ITEMS values in a container, nesting deeper than
MAX_DEPTH, and a value that holds more than MAX_VALUES values counting shared ones each time (so a DAG of memo
references cannot expand into a huge value). A dict may only be an object's state, never inside a container, so
nothing built from a scanned pickle is cyclic. Refusals quote values through `short`, which is bounded.
"""

import pickletools
import reprlib
import struct
from typing import Any

from salary.errors import PickleRefused

# Bounds for one pickle; a fitted one-feature LinearRegression needs about 150 opcodes, 50 memo entries,
# 11 dict items, nesting 3 deep and 600 bytes at any protocol from 2 to 5.
MAX_BYTES = 64 * 1024
MAX_OPCODES = 1024
MAX_MEMO = 256
MAX_ITEMS = 64
MAX_DEPTH = 8
MAX_VALUES = 1024
MAX_NAME = 128
MAX_LONG_BYTES = 16
# The longest text of a value a refusal quotes.
QUOTE_CHARS = 80


class _Shape:
    """What the scan knows of a value: how deep it nests and how many values it holds, counting shared ones again."""

    __slots__ = ("depth", "values", "items", "is_dict")

    def __init__(self, depth: int = 0, values: int = 1, is_dict: bool = False):
        self.depth, self.values, self.items, self.is_dict = depth, values, 0, is_dict


_LEAF = _Shape()
_FORMATS = {"<B": 1, "<H": 2, "<i": 4, "<I": 4, "<Q": 8, ">d": 8}
# Opcode → (name, argument): a struct format, ("bytes", length format), "long" (LONG1), "line2" (GLOBAL) or None.
OPCODES = {
    b"\x80": ("PROTO", "<B"),
    b"\x95": ("FRAME", "<Q"),
    b".": ("STOP", None),
    b"(": ("MARK", None),
    b"}": ("EMPTY_DICT", None),
    b")": ("EMPTY_TUPLE", None),
    b"t": ("TUPLE", None),
    b"\x85": ("TUPLE1", None),
    b"\x86": ("TUPLE2", None),
    b"\x87": ("TUPLE3", None),
    b"s": ("SETITEM", None),
    b"u": ("SETITEMS", None),
    b"X": ("BINUNICODE", ("str", "<I")),
    b"\x8c": ("SHORT_BINUNICODE", ("str", "<B")),
    b"B": ("BINBYTES", ("bytes", "<I")),
    b"C": ("SHORT_BINBYTES", ("bytes", "<B")),
    b"\x96": ("BYTEARRAY8", ("bytearray", "<Q")),
    b"J": ("BININT", "<i"),
    b"K": ("BININT1", "<B"),
    b"M": ("BININT2", "<H"),
    b"\x8a": ("LONG1", "long"),
    b"G": ("BINFLOAT", ">d"),
    b"N": ("NONE", None),
    b"\x88": ("NEWTRUE", None),
    b"\x89": ("NEWFALSE", None),
    b"c": ("GLOBAL", "line2"),
    b"\x93": ("STACK_GLOBAL", None),
    b"R": ("REDUCE", None),
    b"b": ("BUILD", None),
    b"\x81": ("NEWOBJ", None),
    b"q": ("BINPUT", "<B"),
    b"r": ("LONG_BINPUT", "<I"),
    b"\x94": ("MEMOIZE", None),
    b"h": ("BINGET", "<B"),
    b"j": ("LONG_BINGET", "<I"),
}
TUPLE_SIZES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
# Opcodes that take this many values off the stack and push one.
_POPS = {"STACK_GLOBAL": 2, "REDUCE": 2, "NEWOBJ": 2, "BUILD": 2}


def short(value: Any) -> str:
    """A value's text for a refusal, bounded however large or deep the value is."""
    quote = reprlib.Repr()
    # Each level, item count and text cut short: the text is small whatever the value.
    quote.maxlevel, quote.maxtuple, quote.maxlist, quote.maxdict = 3, 4, 4, 4
    quote.maxstring = quote.maxother = quote.maxlong = 40
    return cut(quote.repr(value))


def cut(text: str, limit: int = QUOTE_CHARS) -> str:
    """Text cut to `limit` characters, marked when it was cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """Text from a pickle for a refusal: control characters escaped, cut to `limit` characters."""
    return cut(text[: limit + 1].encode("unicode_escape").decode("ascii"), limit)


def scan(content: bytes) -> list[tuple[str, Any, int]]:
    """The opcodes of a pickle as (name, argument, offset), every bound checked; nothing is built."""
    if type(content) is not bytes or len(content) > MAX_BYTES:
        raise PickleRefused(f"is not a pickle of at most {MAX_BYTES} bytes")
    ops: list[tuple[str, Any, int]] = []
    stack: list[_Shape] = []
    marks: list[list[_Shape]] = []
    memo: dict[int, _Shape] = {}
    at = 0
    while True:
        if len(ops) >= MAX_OPCODES:
            raise PickleRefused(f"has more than {MAX_OPCODES} opcodes")
        if at >= len(content):
            raise PickleRefused(f"ends at byte {at} without a STOP opcode")
        code, start = content[at : at + 1], at
        if code not in OPCODES:
            known = pickletools.code2op.get(code.decode("latin-1"))
            raise PickleRefused(
                f"opcode {known.name if known else 'unknown'} ({code!r}) at byte {start} is not allowed"
            )
        name, kind = OPCODES[code]
        arg, at = _argument(content, at + 1, kind, name)
        ops.append((name, arg, start))
        if name == "PROTO" and (start != 0 or not 2 <= arg <= 5):
            raise PickleRefused(f"has PROTO {arg} at byte {start}; only protocols 2 to 5, first")
        if start == 0 and name != "PROTO":
            raise PickleRefused("does not start with a PROTO opcode (protocol 2 to 5)")
        if name == "FRAME" and arg > len(content) - at:
            raise PickleRefused(f"has a frame of {arg} bytes at byte {start}, past the end")
        if name == "STOP":
            if marks or len(stack) != 1 or at != len(content):
                raise PickleRefused(f"has a STOP at byte {start} that does not end it with one value")
            return ops
        _track(name, arg, start, stack, marks, memo)


def _argument(content: bytes, at: int, kind: Any, name: str) -> tuple[Any, int]:
    """An opcode's argument read at `at`, and the offset after it; PickleRefused when it runs past the end."""
    if kind is None:
        return None, at
    if kind == "line2":
        parts = []
        for _ in range(2):
            end = content.find(b"\n", at, at + MAX_NAME + 1)
            if end < 0:
                raise PickleRefused(f"has a {name} at byte {at - 1} without a short name line")
            parts.append(_text(content[at:end], name, at))
            at = end + 1
        return tuple(parts), at
    if kind == "long":
        (size,), at = _unpack(content, at, "<B", name)
        if size > MAX_LONG_BYTES:
            raise PickleRefused(f"has an integer of {size} bytes at byte {at}, over {MAX_LONG_BYTES}")
        return int.from_bytes(_take(content, at, size, name), "little", signed=True), at + size
    if isinstance(kind, tuple):
        made, length_format = kind
        (size,), at = _unpack(content, at, length_format, name)
        data = _take(content, at, size, name)
        value = _text(data, name, at) if made == "str" else bytearray(data) if made == "bytearray" else data
        return value, at + size
    (value,), at = _unpack(content, at, kind, name)
    return value, at


def _unpack(content: bytes, at: int, form: str, name: str) -> tuple[tuple, int]:
    size = _FORMATS[form]
    return struct.unpack(form, _take(content, at, size, name)), at + size


def _take(content: bytes, at: int, size: int, name: str) -> bytes:
    """`size` bytes at `at`; a length that runs past the end is refused before anything is sliced."""
    if size > len(content) - at:
        raise PickleRefused(f"has a {name} at byte {at} that claims {size} bytes past the end")
    return content[at : at + size]


def _text(data: bytes, name: str, at: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PickleRefused(f"has a {name} at byte {at} that is not UTF-8") from None


def _track(
    name: str, arg: Any, at: int, stack: list[_Shape], marks: list[list[_Shape]], memo: dict[int, _Shape]
) -> None:
    """Follow one opcode's effect on the shapes of the stack and memo, refusing what would exceed a bound."""
    if name == "MARK":
        if len(marks) >= MAX_DEPTH:
            raise PickleRefused(f"nests marks more than {MAX_DEPTH} deep at byte {at}")
        marks.append(stack[:])
        stack.clear()
    elif name in ("TUPLE", "SETITEMS"):
        if not marks:
            raise PickleRefused(f"has a {name} at byte {at} without a MARK")
        items = stack[:]
        stack[:] = marks.pop()
        if name == "TUPLE":
            stack.append(_container(items, at))
        else:
            _add_items(stack, items, at)
    elif name in TUPLE_SIZES:
        size = TUPLE_SIZES[name]
        _need(stack, size, name, at)
        items = stack[-size:]
        del stack[-size:]
        stack.append(_container(items, at))
    elif name == "SETITEM":
        _need(stack, 3, name, at)
        items = stack[-2:]
        del stack[-2:]
        _add_items(stack, items, at)
    elif name in _POPS:
        _need(stack, _POPS[name], name, at)
        if name != "BUILD" and any(shape.is_dict for shape in stack[-2:]):
            raise PickleRefused(f"has a {name} at byte {at} that takes a dict")
        del stack[-_POPS[name] :]
        stack.append(_LEAF)
    elif name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
        index = len(memo) if name == "MEMOIZE" else arg
        if index >= MAX_MEMO:
            raise PickleRefused(f"has memo index {index} at byte {at}, over the limit of {MAX_MEMO - 1}")
        _need(stack, 1, name, at)
        memo[index] = stack[-1]
    elif name in ("BINGET", "LONG_BINGET"):
        if arg not in memo:
            raise PickleRefused(f"gets memo index {short(arg)} at byte {at}, which was never put")
        stack.append(memo[arg])
    elif name not in ("PROTO", "FRAME"):
        stack.append(_Shape(is_dict=True) if name == "EMPTY_DICT" else _LEAF)
    if len(stack) > MAX_ITEMS:
        raise PickleRefused(f"has more than {MAX_ITEMS} values in one container at byte {at}")


def _need(stack: list[_Shape], count: int, name: str, at: int) -> None:
    if len(stack) < count:
        raise PickleRefused(f"has a {name} at byte {at} with too few values before it")


def _container(items: list[_Shape], at: int) -> _Shape:
    """The shape of a tuple of these items; a dict may not be inside one, and the bounds hold."""
    if any(item.is_dict for item in items):
        raise PickleRefused(f"puts a dict inside a container at byte {at}")
    shape = _Shape(1 + max((item.depth for item in items), default=0), 1 + sum(item.values for item in items))
    if shape.depth > MAX_DEPTH:
        raise PickleRefused(f"nests values more than {MAX_DEPTH} deep at byte {at}")
    if shape.values > MAX_VALUES:
        raise PickleRefused(f"builds a value of more than {MAX_VALUES} values at byte {at}")
    return shape


def _add_items(stack: list[_Shape], items: list[_Shape], at: int) -> None:
    """Key-value pairs into the dict below them."""
    if not stack or not stack[-1].is_dict or len(items) % 2:
        raise PickleRefused(f"sets items at byte {at} on something that is not a dict, or without a value per key")
    _container(items, at)
    target = stack[-1]
    target.items += len(items) // 2
    if target.items > MAX_ITEMS:
        raise PickleRefused(f"has a dict of more than {MAX_ITEMS} items at byte {at}")
