"""How long a process script may run and how large a value it may make.

A script that loops forever holds a request thread and, on SQLite, the write lock every
other request waits for; one that asks for `'a' * 10**10` takes the worker's memory. Both
are stopped here, from inside the script, without another thread or a signal (request
threads are not the main thread, so `signal.alarm` is not theirs to use):

- the sandbox's compiler (engine.scripting.sandbox) puts a call to `_tick_()` at the top of every
  loop body, function and lambda, and every `for` and comprehension draws its items through
  `_getiter_`, which ticks too; a tick past the deadline raises `OutOfTime`;
- `*`, `**`, `<<`, `+`, `%` (and their augmented forms), `range`, and the few str/list
  methods that can multiply a value's size in one C call go through guards that refuse a
  result larger than `max_size` items (characters, elements, or bits of an int) before
  it is made, since no tick can interrupt a single C call.

What no tick can reach (one long C call: `str` of a self-sharing list) and what no size
guard sees (`list(x)` in a loop) is stopped from outside: every run happens in a worker
process that is killed at the limit and whose memory and CPU are capped by rlimits
(engine.scripting.workers). The ticks stay: they stop most runs with the worker kept warm.

This was chosen over `sys.settrace`: a tracer costs every line of every script and of every
helper it calls, replaces a debugger's or coverage's tracer, and, like the ticks, cannot
interrupt one long C call either; the ticks cost a clock read per iteration only where the
script loops. `OutOfTime` derives from BaseException so that a script's own `except
Exception:` cannot swallow it (bare `except:` is refused at compile time).
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.errors import ScriptError

#: Largest width or precision in a `%` format or an f-string format spec.
MAX_FORMAT_WIDTH = 1000
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SEQUENCES = (str, bytes, list, tuple)
#: A run may make this many times `max_size` items in all, counting each value of at least
#: `_COUNTED` items it makes: one list of a million is fine, a loop appending a hundred is not.
TOTAL_FACTOR = 10
_COUNTED = 1000


class OutOfTime(BaseException):
    """Raised inside a script past its deadline; turned into a ScriptError outside it."""


class Refusal(ScriptError):
    """The sandbox stopped a run: a limit, or a source it does not allow. Chinese first,
    the English beside it (`中文 / English`, which the web shows one half of)."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.zh, self.en))


class TooLarge(Refusal):
    """A guarded operation would have made a value over the size limit."""


def out_of_time(timeout: float) -> Refusal:
    return Refusal(f"它运行超过了 {timeout:g} 秒的时限",
                   f"it ran longer than the limit of {timeout:g} s")


@dataclass(frozen=True)
class Limits:
    """Per installation: see Settings.script_timeout_seconds, script_max_size,
    call_activity_max_depth, script_memory_mb."""

    timeout_seconds: float = 1.0
    max_size: int = 1_000_000
    max_call_depth: int = 10
    memory_mb: int = 256


class Deadline:
    """One run of one script or expression: its clock stops at `timeout` seconds, and its
    large values are counted against a total (`spend`)."""

    __slots__ = ("at", "made", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout
        self.made = 0

    def tick(self) -> None:
        if time.monotonic() > self.at:
            raise OutOfTime

    def getiter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        tick = self.tick
        for item in iterable:
            tick()
            yield item


#: The run the current thread is in, so that the shared guards can count its values.
current_run: ContextVar[Deadline | None] = ContextVar("kefu_script_run", default=None)


def width_problem(spec: str) -> str | None:
    """Why a format spec would make a value too wide, or None."""
    numbers = [int(n) for n in re.findall(r"\d+", spec)]
    if numbers and max(numbers) > MAX_FORMAT_WIDTH:
        return f"a format width or precision over {MAX_FORMAT_WIDTH} is not allowed"
    return None


@cache
def guards(max_size: int) -> dict[str, Callable[..., Any]]:
    """The size guards the compiled code calls, for one size limit (shared by engines)."""

    total = max_size * TOTAL_FACTOR

    def refuse(what: str, size: int) -> None:
        if size > max_size:
            raise TooLarge(f"{what!r} 会产生 {size:,} 项的值（上限 {max_size:,} 项）",
                           f"{what!r} would make a value of {size:,} items "
                           f"(the limit is {max_size:,})")
        if size >= _COUNTED:
            run = current_run.get()
            if run is not None:
                run.made += size
                if run.made > total:
                    raise TooLarge(f"它产生的值合计超过 {total:,} 项"
                                   f"（上限为 {TOTAL_FACTOR} × {max_size:,}）",
                                   f"the values it made came to more than {total:,} items "
                                   f"in all (the limit is {TOTAL_FACTOR} × {max_size:,})")

    def mul(a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            refuse("*", a.bit_length() + b.bit_length())
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            refuse("*", len(a) * b)
        elif isinstance(b, _SEQUENCES) and isinstance(a, int):
            refuse("*", len(b) * a)
        return a * b

    def pow_(a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
            refuse("**", a.bit_length() * b)
        return a ** b

    def lshift(a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int) and b > 0:
            refuse("<<", a.bit_length() + b)
        return a << b

    def add(a: Any, b: Any) -> Any:
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            refuse("+", len(a) + len(b))
        return a + b

    def mod(a: Any, b: Any) -> Any:
        if isinstance(a, str):
            for width, precision in _PERCENT_FIELD.findall(a):
                if "*" in (width, precision):
                    raise TooLarge("不允许用计算出的 % 宽度", "a computed % width is not allowed")
                problem = width_problem(width + " " + precision)
                if problem:
                    raise TooLarge(f"格式宽度或精度不得超过 {MAX_FORMAT_WIDTH}", problem)
        return a % b

    binary = {"+=": add, "*=": mul, "**=": pow_, "<<=": lshift, "%=": mod}
    plain = {"-=": operator.sub, "/=": operator.truediv, "//=": operator.floordiv,
             "&=": operator.and_, "|=": operator.or_, "^=": operator.xor,
             ">>=": operator.rshift, "@=": operator.matmul}

    def inplacevar(op: str, a: Any, b: Any) -> Any:
        return (binary.get(op) or plain[op])(a, b)

    def guarded_range(*args: int) -> range:
        made = range(*args)
        refuse("range", len(made))
        return made

    def sized(obj: Any, name: str) -> Callable[..., Any] | None:
        """A size-checking stand-in for the few methods that can multiply a value."""
        method = getattr(obj, name)
        if isinstance(obj, int) and name == "to_bytes":
            return lambda length=1, *rest, **kw: (refuse(name, length * 8),
                                                  method(length, *rest, **kw))[1]
        if isinstance(obj, str | bytes):
            if name in ("ljust", "rjust", "center", "zfill"):
                return lambda width, *rest: (refuse(name, width), method(width, *rest))[1]
            if name == "expandtabs":
                return lambda tabsize=8: (refuse(name, len(obj) * tabsize),
                                          method(tabsize))[1]
            if name == "replace":
                def replace(old: Any, new: Any, count: int = -1) -> Any:
                    hits = obj.count(old) if count < 0 else min(count, obj.count(old))
                    refuse(name, len(obj) + hits * max(len(new) - len(old), 0))
                    return method(old, new, count)
                return replace
            if name == "join":
                def join(items: Iterable[Any]) -> Any:
                    items = list(items)
                    refuse(name, sum(map(len, items)) + len(obj) * len(items))
                    return method(items)
                return join
        if isinstance(obj, list) and name == "extend":
            def extend(items: Iterable[Any]) -> None:
                items = list(items)
                refuse(name, len(obj) + len(items))
                method(items)
            return extend
        return None

    return {"_mul_": mul, "_pow_": pow_, "_lshift_": lshift, "_add_": add, "_mod_": mod,
            "_inplacevar_": inplacevar, "range": guarded_range, "sized": sized}
