"""Serving Kefu: waitress in `kefu serve`, and an access log (its phone and ID numbers are
masked by web.server.logmask, C12).

Waitress is a production WSGI server in pure Python with a pool of threads: it needs no
fork, runs the same on every machine, and lets one process share its in-process timer
worker and its live workflows (engine.cases.live) with every request, which is what a SQLite
installation needs. Several processes on PostgreSQL are gunicorn's job (`web.wsgi`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("kefu.access")
#: Open connections waitress serves at once. Its default, 100, is fewer than a centre's
#: browsers at peak: beyond it waitress stops accepting, so a browser that had to connect
#: anew (an inbox poll every few seconds) waited in the listen backlog, unanswered for 10 s
#: and more, while those on kept-alive connections (people doing steps) went on being
#: served. With poll() instead of select() the limit is not the 1,024 of FD_SETSIZE.
CONNECTION_LIMIT = 1000
#: How long a thread holding the GIL runs before another may take it (CPython's default is
#: 5 ms). A request makes a dozen database round trips, each releasing the GIL; under load
#: each had to wait for another thread's page to hand it back, up to 5 ms a round trip.
SWITCH_INTERVAL_S = 0.0005
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def tune_threads() -> None:
    """Set for a process that serves requests from a pool of threads (waitress, gthread)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class AccessLog:
    """One line per request: method, path with numbers masked, status, milliseconds."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        started = time.perf_counter()
        status: list[str] = []

        def recording(code: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, *exc)

        try:
            return self.app(environ, recording)
        finally:
            query = environ.get("QUERY_STRING", "")
            target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            log.info("%s %s %s %.0f ms", environ.get("REQUEST_METHOD", "-"), target,
                     status[0] if status else "-", (time.perf_counter() - started) * 1000)


def serve(app: WsgiApp, host: str, port: int, threads: int,
          ready: Callable[[str], None]) -> None:
    """Serve until interrupted (Ctrl-C, or SIGTERM turned into SystemExit by the caller);
    `ready` is told the address once the socket listens (port 0 picks a free one)."""
    from waitress.server import create_server

    tune_threads()
    server = create_server(AccessLog(app), host=host, port=port, threads=threads,
                           ident="Kefu", clear_untrusted_proxy_headers=True,
                           connection_limit=CONNECTION_LIMIT, asyncore_use_poll=True)
    try:
        ready(f"http://{host}:{getattr(server, 'effective_port', port)}")
        server.run()
    finally:
        server.close()
