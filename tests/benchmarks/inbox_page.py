"""The inbox page of a busy duty supervisor: `N` complaints offered to them, `/inbox`
rendered by the Flask app (its test client, no network), timed after a warm-up.

"one page" shows every task at once, as the inbox did before it was paged (`PAGE` set past
the number of tasks); "paged" is the shipped page of `web.views.inbox.PAGE`; "search" looks
for one case's phone digits among them.

    .venv/bin/python -m tests.benchmarks.inbox_page [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from engine.clock import FixedClock
from engine.people import signin
from engine.persistence.models import Person
from tests.benchmarks.common import fresh_database, machine, open_kefu, people, start
from tests.served.conftest import START
from web import create_app
from web.views import inbox

REPEATS = 15


def main(count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        db = fresh_database(f"sqlite:///{Path(folder) / 'inbox.sqlite3'}")
        kefu = open_kefu(db, FixedClock(START))
        agent = people(kefu)["agent01"]
        for n in range(count):
            start(kefu, agent, complainant_phone=f"139{n:08d}")
        app = create_app({"TESTING": True, "SECRET_KEY": "bench"}, kefu=kefu)
        client = app.test_client()
        with kefu.session() as s:
            person = s.scalars(select(Person).where(Person.username == "duty01")).one()
            sid = signin.open_session(s, person, "127.0.0.1", kefu.clock.now())
        with client.session_transaction() as session:
            session["sid"], session["csrf"], session.permanent = sid, "bench", True
        shipped = inbox.PAGE
        result: dict[str, object] = {"tasks": count, "machine": machine()}
        for name, page, url in [("one page", 10 ** 6, "/inbox"), ("paged", shipped, "/inbox"),
                                ("search", shipped, f"/inbox?q={count // 2:08d}")]:
            inbox.PAGE = page
            times, size = [], 0
            for round_ in range(REPEATS + 3):
                started = time.perf_counter()
                response = client.get(url)
                took = time.perf_counter() - started
                assert response.status_code == 200, response.status_code
                size = len(response.data)
                if round_ >= 3:  # warm-up: caches, compiled templates
                    times.append(took * 1000)
            result[name] = {"median_ms": round(statistics.median(times), 1),
                            "max_ms": round(max(times), 1), "page_kb": round(size / 1024)}
        inbox.PAGE = shipped
        db.dispose()
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300), indent=2,
                     ensure_ascii=False))
