"""A pickle reader that never hands bytes to the C unpickler: `scan` checks every bound, then `build` runs the opcodes.

`build` calls only the stand-ins a caller allows for globals (through REDUCE, NEWOBJ and BUILD), and dict keys
can only be strings; with the scan's bounds, nothing it builds is large, deep or cyclic, so comparing, hashing
or quoting the result is bounded too, and so is the time: at most MAX_OPCODES opcodes of small work each.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from salary.errors import PickleRefused
from salary.pickle_scan import TUPLE_SIZES, clip, scan

_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False, "EMPTY_TUPLE": ()}


@dataclass(frozen=True)
class Global:
    """An allow-listed global: `call` builds it from REDUCE or NEWOBJ arguments; None when it may only be an argument."""

    name: str
    call: Callable[..., Any] | None


def read_pickle(content: bytes, globals_: Mapping[tuple[str, str], Global]) -> Any:
    """What a pickle holds, built from allow-listed globals only; PickleRefused, with where and why, for anything else."""
    return build(scan(content), globals_)


def build(ops: list[tuple[str, Any, int]], globals_: Mapping[tuple[str, str], Global]) -> Any:
    """Run scanned opcodes; globals are the caller's stand-ins, called only through REDUCE, NEWOBJ and BUILD."""
    stack: list[Any] = []
    marks: list[list[Any]] = []
    memo: dict[int, Any] = {}
    for name, arg, at in ops:
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack.pop()
        if name == "MARK":
            marks.append(stack)
            stack = []
        elif name in ("TUPLE", "SETITEMS"):
            items, stack = stack, marks.pop()
            if name == "TUPLE":
                stack.append(tuple(items))
            else:
                _set_items(stack[-1], items, at)
        elif name in TUPLE_SIZES:
            size = TUPLE_SIZES[name]
            stack[-size:] = [tuple(stack[-size:])]
        elif name == "SETITEM":
            _set_items(stack[-3], stack[-2:], at)
            del stack[-2:]
        elif name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "STACK_GLOBAL":
                arg = (stack.pop(-2), stack.pop())
            stack.append(_global(arg, globals_, at))
        elif name in ("REDUCE", "NEWOBJ"):
            function, arguments = stack.pop(-2), stack.pop()
            stack.append(_call(function, arguments, name, at))
        elif name == "BUILD":
            state = stack.pop()
            setstate = getattr(stack[-1], "setstate", None)
            if not callable(setstate):
                raise PickleRefused(f"has a BUILD at byte {at} on {type(stack[-1]).__name__}, which takes no state")
            setstate(state)
        else:
            stack.append(_CONSTANTS[name] if name in _CONSTANTS else {} if name == "EMPTY_DICT" else arg)
    raise PickleRefused("ends without a STOP opcode")


def _set_items(target: Any, items: list[Any], at: int) -> None:
    """Key-value pairs into a dict; keys are strings only, so no key's hash or comparison costs more than its length."""
    if type(target) is not dict:
        raise PickleRefused(f"sets items at byte {at} on {type(target).__name__}, not a dict")
    for key, value in zip(items[::2], items[1::2], strict=True):
        if type(key) is not str:
            raise PickleRefused(f"has a dict key of type {type(key).__name__} at byte {at} (only strings)")
        target[key] = value


def _global(name: Any, globals_: Mapping[tuple[str, str], Global], at: int) -> Global:
    if type(name) is not tuple or not all(type(part) is str for part in name):
        raise PickleRefused(f"names a global at byte {at} by something other than two strings")
    found = globals_.get(name)
    if found is None:
        raise PickleRefused(f"global {clip('.'.join(name))} is not allowed")
    return found


def _call(function: Any, arguments: Any, name: str, at: int) -> Any:
    """An allow-listed global called with a tuple of arguments; its stand-in checks them before anything is allocated."""
    if type(function) is not Global:
        raise PickleRefused(f"has a {name} at byte {at} that calls {type(function).__name__}, not an allowed global")
    if function.call is None:
        raise PickleRefused(f"has a {name} at byte {at} that calls {function.name}, which is only an argument")
    if type(arguments) is not tuple:
        raise PickleRefused(f"has a {name} at byte {at} whose arguments are not a tuple")
    try:
        return function.call(*arguments)
    except TypeError:  # the wrong number of arguments for the stand-in
        raise PickleRefused(f"calls {function.name} with {len(arguments)} arguments it does not take") from None
