"""Every script and expression runs in a worker process of its own, killed at the limit.

The sandbox's ticks and size guards (engine.scripting.script_limits) stop a script between
operations, but not inside one: `x = [x, x]` forty times makes a value of a few hundred
bytes whose `str`, `==`, `hash` or `sorted` walks 2**40 items in a single C call, and a
request thread cannot be interrupted there (issue 13). So the request thread hands the
source and the data it names to a worker process and waits on the pipe with the time limit;
past it the worker is killed (SIGKILL needs no cooperation from the C call) and the step
refused. In the worker, `resource.setrlimit` caps the address space (`script_memory_mb`
above what the worker needed to start) and the CPU time, so a bomb that the size guards
miss ends in a MemoryError, or in the kernel's SIGXCPU, not in the server's memory.

- Workers are forked by multiprocessing's *forkserver*, a clean single-threaded process
  started once with the sandbox imported: the multi-threaded server never forks itself, and
  a new worker costs a fork, not an interpreter start. A few stay warm (`warm_up` at
  start-up); a request that finds none idle starts its own, so one stuck script never
  holds up another request (each waits only on its own worker).
- The worker compiles a source once (check_source's cache) and is sent only the task data
  the code names and the names of the helpers it calls. A helper (`now()`, `working_time`,
  `setting`, …) runs back in the request thread on the worker's request, with the case's
  session and the installation's clock (a test's FixedClock included): the worker never
  sees the database.
- What comes back is bounded: the worker refuses results (and helper arguments) that
  would unfold to more than the run's total allowance or nest too deep, so that nothing a
  script leaves in the case data can make the server's own `json.dumps` or `==` explode.
  The request thread checks helper arguments again before a helper sees them.

No pool library fits: concurrent.futures and multiprocessing.Pool cannot kill one running
task without breaking the pool, and Pebble and loky (which can) run a function to its end
with no way for it to call back into the request thread for a helper mid-run; a pipe per
worker and `Connection.poll(timeout)` do exactly what is needed. The worker is a resource
boundary, not a privilege boundary: it runs as the same user, which is why RestrictedPython
stays in front of it.
"""

from __future__ import annotations

import builtins
import math
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from engine.errors import ScriptError
from engine.scripting.script_limits import TOTAL_FACTOR, Limits, Refusal, out_of_time

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["engine.scripting.sandbox"])
#: How long a new worker may take to be ready (it imports the server's main module, as
#: multiprocessing does for every child); this does not count against a script's limit.
START_SECONDS = 60.0
#: Kill a worker this long after its own deadline: the worker's ticks report the usual
#: "ran longer" first when they can; the kill is for the C call they cannot reach.
_GRACE = 0.1
#: Nesting deeper than this in a result cannot be written as JSON, nor read back.
MAX_DEPTH = 100
#: Helper arguments are a few dates, durations and names.
_HELPER_ALLOWANCE = 100_000


@dataclass(frozen=True)
class Job:
    """One run, as sent to a worker: the source, the data it names (its own and the
    engine's external context, such as a DMN cell's input), and the helpers it calls."""

    mode: str  # "exec" or "eval"
    source: str
    data: dict[str, Any]
    external: dict[str, Any]
    helpers: tuple[str, ...]
    limits: Limits


@dataclass(frozen=True)
class Executed:
    """A script's effect on the names it was sent: new or changed values, deleted names."""

    values: dict[str, Any]
    deleted: tuple[str, ...]


def run(job: Job, helpers: Mapping[str, Callable[..., Any]]) -> Any:
    """The job's value (an expression's, or a script's Executed), computed in a worker;
    raises what the code raised, or a Refusal when a limit stopped it."""
    worker = _sent(job)
    failures: list[BaseException] = []
    try:
        give_up = time.monotonic() + job.limits.timeout_seconds + _GRACE
        while True:
            remaining = give_up - time.monotonic()
            if remaining <= 0 or not worker.conn.poll(remaining):
                raise out_of_time(job.limits.timeout_seconds)
            message = worker.conn.recv()
            if message[0] == "call":
                worker.conn.send(_call(helpers, message, failures))
                continue
            break
    except (EOFError, OSError):
        worker.discard()
        raise _died(worker, job.limits) from None
    except BaseException:
        worker.discard()
        raise
    kind, *rest = message
    if kind == "retire":
        worker.discard()
        kind, *rest = rest
    else:
        _POOL.give_back(worker)
    if kind == "done":
        return rest[0]
    if kind == "refused":
        raise Refusal(*rest)
    type_name, text, helper_failure = rest
    if helper_failure is not None:
        raise failures[helper_failure]
    raise rebuilt(type_name, text)


def _sent(job: Job) -> _Worker:
    """A ready worker that took the job: one that died idle (killed from outside) or at
    its start is replaced once, not blamed on the script; the script's clock starts
    only once the job is sent."""
    try:
        return _handed(_POOL.take(), job)
    except (EOFError, OSError):
        pass
    try:
        return _handed(_Worker(), job)
    except (EOFError, OSError):
        raise Refusal("沙箱进程无法启动", "its worker process could not start") from None


def _handed(worker: _Worker, job: Job) -> _Worker:
    try:
        worker.wait_ready()
        worker.conn.send(job)
    except BaseException:  # also a value pickle cannot carry, a worker slow to start
        worker.discard()
        raise
    return worker


def _call(helpers: Mapping[str, Callable[..., Any]], message: tuple[Any, ...],
          failures: list[BaseException]) -> tuple[Any, ...]:
    """Run a helper the worker asked for here, in the request thread; a failure is kept so
    that, if the script does not catch it, the step fails with the helper's own error."""
    _, name, args, kwargs = message
    try:
        bounded((args, kwargs), _HELPER_ALLOWANCE)
        return ("ok", helpers[name](*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the script may catch it; see run()
        failures.append(exc)
        return ("raise", len(failures) - 1, type(exc).__name__, message_of(exc))


def rebuilt(type_name: str, text: str) -> Exception:
    """An exception a worker reported, as the built-in type it was (a script may catch it
    and callers match on it), else a RuntimeError naming the type."""
    if type_name == "ScriptError":
        return ScriptError(text)
    cls = getattr(builtins, type_name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(text)
        except TypeError:  # a built-in that wants other arguments
            pass
    return RuntimeError(f"{type_name}: {text}")


def message_of(exc: BaseException) -> str:
    """An exception's message, shortened: the text crosses the pipe and may reach a page."""
    args = getattr(exc, "args", ())
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else str(exc)
    return text if len(text) <= 2000 else text[:2000] + "…"


def _died(worker: _Worker, limits: Limits) -> Refusal:
    """A worker that ended without answering: the kernel stopped it at a limit."""
    code = worker.process.exitcode
    if code == -signal.SIGXCPU:
        return out_of_time(limits.timeout_seconds)
    return Refusal(f"沙箱进程意外终止（超出了 {limits.memory_mb} MB 内存或其他限制）",
                   f"its worker process ended without an answer (exit {code}): it went "
                   f"past the memory limit of {limits.memory_mb} MB or another limit")


def bounded(value: Any, allowance: int) -> None:
    """Refuse a value that would unfold to more than `allowance` items (a string counts
    its characters), nest deeper than MAX_DEPTH or contain itself. Shared parts count
    every time they are met, as json.dumps or == would meet them, but are measured once:
    `x = [x, x]` forty times is refused after forty steps, not 2**40."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (unfolded size, height)

    def deep() -> Refusal:
        return Refusal(f"它留下的数据嵌套超过 {MAX_DEPTH} 层",
                       f"the data it left is nested more than {MAX_DEPTH} deep")

    def measure(item: Any, depth: int) -> tuple[int, int]:
        if isinstance(item, str | bytes):
            return 1 + len(item), 0
        if isinstance(item, dict):
            parts: Any = (part for pair in item.items() for part in pair)
        elif isinstance(item, list | tuple | set | frozenset):
            parts = item
        elif isinstance(item, Executed):
            parts = (item.values,)
        else:
            return 1, 0
        known = measured.get(id(item))
        if known is not None:
            if known[0] < 0:
                raise Refusal("它留下的数据包含自身", "the data it left contains itself")
            if depth + known[1] > MAX_DEPTH:
                raise deep()
            return known
        if depth > MAX_DEPTH:
            raise deep()
        measured[id(item)] = (-1, 0)
        size, height = 1, 0
        for part in parts:
            part_size, part_height = measure(part, depth + 1)
            size, height = size + part_size, max(height, part_height + 1)
            if size > allowance:
                raise Refusal(f"它留下的数据展开后超过 {allowance:,} 项",
                              f"the data it left would unfold to more than {allowance:,} "
                              f"items")
        measured[id(item)] = (size, height)
        return size, height

    if measure(value, 0)[0] > allowance:  # one string alone
        raise Refusal(f"它留下的数据展开后超过 {allowance:,} 项",
                      f"the data it left would unfold to more than {allowance:,} items")


# --- the pool -----------------------------------------------------------------------------

class _Worker:
    def __init__(self) -> None:
        self.conn, theirs = _CONTEXT.Pipe(duplex=True)
        self.process = _CONTEXT.Process(target=_serve, args=(theirs,), daemon=True,
                                        name="kefu-sandbox")
        self.process.start()
        theirs.close()
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker's first message, sent once it has imported the sandbox."""
        if self.ready:
            return
        if not self.conn.poll(START_SECONDS):
            raise Refusal(f"沙箱进程未能在 {START_SECONDS:g} 秒内启动",
                          f"its worker process did not start within {START_SECONDS:g} s")
        self.conn.recv()
        self.ready = True

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def discard(self) -> None:
        """Kill a worker a run gave up on, and start a warm one in its place."""
        self.kill()
        _POOL.refill()


class _Pool:
    """Idle workers; a worker is taken by one run at a time and given back after it."""

    def __init__(self) -> None:
        self.size = 2
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()  # one that died idle fails to take the job: _sent
        return _Worker()

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(worker)
                return
        worker.conn.close()  # the worker reads the end of its pipe and exits
        worker.process.join()

    def refill(self) -> None:
        """Start replacements in the background, so that the next run finds one warm."""
        with self._lock:
            missing = self.size - len(self._idle)
        if missing > 0:
            threading.Thread(target=self._add, args=(missing,), daemon=True,
                             name="kefu-sandbox-refill").start()

    def _add(self, count: int) -> None:
        for _ in range(count):
            worker = _Worker()
            try:
                worker.wait_ready()
            except (EOFError, OSError, Refusal):
                worker.kill()  # a run that needs one starts its own
                return
            self.give_back(worker)


_POOL = _Pool()


def warm_up(size: int) -> None:
    """Keep `size` workers started and idle; called at start-up (the web app, the timer
    worker), before the first request needs one."""
    _POOL.size = size
    _POOL.refill()


# --- in the worker --------------------------------------------------------------------------

def _serve(conn: Connection) -> None:
    """A worker's life: run one job after another until the pipe closes or a job leaves
    the process in doubt (out of memory), each under the rlimits of its own limits."""
    from engine.scripting.sandbox import run_here

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server
    started_with = _address_space()
    conn.send(("ready",))
    while True:
        try:
            job: Job = conn.recv()
        except (EOFError, OSError):
            return
        _limit_resources(job.limits, started_with)
        stubs = {name: _remote(conn, name) for name in job.helpers}
        try:
            value = run_here(job, stubs)
            bounded(value, job.limits.max_size * TOTAL_FACTOR)
            answer: tuple[Any, ...] = ("done", value)
        except MemoryError:
            conn.send(("retire", "refused", *_out_of_memory(job.limits)))
            return
        except Refusal as exc:
            answer = ("refused", exc.zh, exc.en)
        except Exception as exc:  # noqa: BLE001 - reported to the request thread
            answer = ("failed", type(exc).__name__, message_of(exc),
                      getattr(exc, "_kefu_helper", None))
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("retire", "refused", *_out_of_memory(job.limits)))
            return
        except Exception as exc:  # noqa: BLE001 - a value pickle cannot carry
            conn.send(("failed", "TypeError", f"a value it left cannot be kept: {exc}", None))


def _remote(conn: Connection, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        bounded((args, kwargs), _HELPER_ALLOWANCE)
        conn.send(("call", name, args, kwargs))
        reply = conn.recv()
        if reply[0] == "ok":
            return reply[1]
        _, index, type_name, text = reply
        exc = rebuilt(type_name, text)
        exc._kefu_helper = index  # type: ignore[attr-defined]
        raise exc
    call.__name__ = call.__qualname__ = name
    return call


def _out_of_memory(limits: Limits) -> tuple[str, str]:
    return (f"它需要的内存超过了 {limits.memory_mb} MB 的限制",
            f"it needed more memory than the limit of {limits.memory_mb} MB")


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _limit_resources(limits: Limits, started_with: int) -> None:
    """This job's caps: address space above what the worker had at its start, and CPU
    seconds beyond what it has used so far (the kernel counts a process's CPU in total)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = math.ceil(usage.ru_utime + usage.ru_stime + limits.timeout_seconds) + 1
    _cap(resource.RLIMIT_AS, started_with + limits.memory_mb * 1024 * 1024)
    _cap(resource.RLIMIT_CPU, seconds)


def _cap(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    resource.setrlimit(which, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
