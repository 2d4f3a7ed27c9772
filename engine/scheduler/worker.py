"""The timer worker: sleeps until the earliest pending deadline, fires it, sleeps again.

One APScheduler 3 `BackgroundScheduler` per worker holds a single date job, re-armed to the
earliest due time (`engine.timing.deadlines.next_due`, one index lookup) after every firing and
whenever a transaction changes deadlines: in this process through `deadlines.on_change`,
in other processes through PostgreSQL's LISTEN/NOTIFY. No polling interval stands between
a due time and its firing; a slow re-check (`Settings.timer_recheck_seconds`) only covers
a wake-up that could not reach this process (another process on SQLite).

Several workers may run against one PostgreSQL: all of them are active, and the row locks
taken in `engine.scheduler.firing` decide which one fires each case (exactly once). When
one dies, the others already run, so nothing waits for a takeover.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from engine.kefu import Kefu
from engine.messages import notifications
from engine.people import signin
from engine.scheduler.firing import Fired, fire_due
from engine.scripting import workers
from engine.timing import deadlines

log = logging.getLogger(__name__)

#: Running workers by name, so that scheduled jobs carry only a plain string argument.
_WORKERS: dict[str, TimerWorker] = {}
#: When due rows are held by another transaction (a person completing a task, another
#: worker, a dead connection PostgreSQL has not noticed yet), look again this soon.
BUSY_RETRY = timedelta(seconds=0.25)
#: The daily housekeeping's first run, after start-up's own work.
HOUSEKEEPING_AFTER = timedelta(minutes=1)


def fire_job(name: str) -> None:
    """APScheduler job: fire what is due, then re-arm."""
    worker = _WORKERS.get(name)
    if worker is not None:
        worker.run()


def deliver_job(name: str) -> None:
    """APScheduler job: send the notifications that are due (engine.messages.notifications), with
    no transaction open while a channel is talked to."""
    worker = _WORKERS.get(name)
    if worker is not None:
        try:
            notifications.deliver_due(worker.kefu)
        except Exception:  # the database is away: the next run tries again
            log.exception("%s could not send notifications", name)


def housekeeping_job(name: str) -> None:
    """APScheduler job, daily: prune old sign-in attempts, each batch its own short
    transaction, outside any request."""
    worker = _WORKERS.get(name)
    if worker is not None:
        try:
            housekeeping(worker.kefu)
        except Exception:  # the database is away: tomorrow's run tries again
            log.exception("%s could not do its housekeeping", name)


def housekeeping(kefu: Kefu) -> int:
    """What the daily job does, at the installation's clock; the number of rows deleted."""
    deleted = 0
    while True:
        with kefu.session() as session:
            count = signin.prune_attempts(session, kefu.settings, kefu.clock.now())
        deleted += count
        if count < signin.PRUNE_BATCH:
            return deleted


def recheck_job(name: str) -> None:
    """APScheduler job: re-read the next due time (a cheap safety net, not the trigger)."""
    worker = _WORKERS.get(name)
    if worker is not None:
        worker.arm()


class TimerWorker:
    def __init__(self, kefu: Kefu, *, name: str | None = None, listen: bool = True) -> None:
        self.kefu = kefu
        self.name = name or f"timers-{uuid4().hex[:8]}"
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 2})
        #: The due time the date job is armed for (None: nothing pending).
        self.armed_for: datetime | None = None
        self.fired_total = 0
        self._listen = listen and kefu.db.is_postgres
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        self._waker: threading.Thread | None = None
        #: Wake-ups asked for and served (`wake`, `settle`).
        self._wakes = threading.Condition()
        self._wanted = self._served = 0
        self._lock = threading.Lock()

    @property
    def job_id(self) -> str:
        return f"kefu-fire-{self.name}"

    def start(self) -> Fired:
        """Fire everything already overdue (in due order), then keep firing on time."""
        _WORKERS[self.name] = self
        workers.warm_up(self.kefu.settings.script_workers)  # firings run scripts too
        deadlines.on_change(self.kefu.db, self.wake)
        self._waker = threading.Thread(target=self._wake_loop, daemon=True,
                                       name=f"{self.name}-wake")
        self._waker.start()
        notifications.on_enqueued(self.kefu.db, self.deliver_soon)
        result = self.run(arm=False)
        self.scheduler.add_job(recheck_job, "interval", id=f"kefu-recheck-{self.name}",
                               seconds=self.kefu.settings.timer_recheck_seconds,
                               args=[self.name], replace_existing=True)
        # Retries fall due by the clock, and another process's messages are not announced
        # here: a slow periodic run sends those.
        self.scheduler.add_job(deliver_job, "interval", id=f"kefu-deliver-{self.name}",
                               seconds=self.kefu.settings.timer_recheck_seconds,
                               args=[self.name], replace_existing=True)
        self.scheduler.add_job(housekeeping_job, "interval", id=f"kefu-housekeeping-{self.name}",
                               hours=24, next_run_time=datetime.now(UTC) + HOUSEKEEPING_AFTER,
                               args=[self.name], replace_existing=True)
        self.scheduler.start()
        if self._listen:
            self._listener = threading.Thread(target=self._listen_loop, daemon=True,
                                              name=f"{self.name}-listen")
            self._listener.start()
        self.arm(retry=result.busy)
        return result

    def stop(self) -> None:
        self._stopping.set()
        deadlines.remove_listener(self.kefu.db, self.wake)
        with self._wakes:
            self._wakes.notify_all()
        notifications.remove_listener(self.kefu.db, self.deliver_soon)
        # A firing that is re-arming right now finishes first: APScheduler's shutdown holds
        # its job-store lock while it waits for running jobs, and re-arming needs that lock.
        with self._lock:
            pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for thread in (self._listener, self._waker):
            if thread is not None:
                thread.join(timeout=5)
        _WORKERS.pop(self.name, None)

    def wake(self) -> None:
        """Re-arm soon, from the worker's own thread: called right after a commit that
        changed deadlines, by the thread that committed, which must not wait for the
        database on the worker's behalf (on SQLite that waited out a writer's lock)."""
        with self._wakes:
            self._wanted += 1
            self._wakes.notify_all()

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every wake-up asked for so far has re-armed the worker."""
        with self._wakes:
            return self._wakes.wait_for(lambda: self._served >= self._wanted, timeout)

    def _wake_loop(self) -> None:
        while True:
            with self._wakes:
                self._wakes.wait_for(lambda: self._wanted > self._served
                                     or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                asked = self._wanted  # a burst of commits needs one re-arm
            self.arm()
            with self._wakes:
                self._served = asked
                self._wakes.notify_all()

    def run(self, *, arm: bool = True) -> Fired:
        """Fire what is due now; the job calls this at the armed time."""
        try:
            result = fire_due(self.kefu)
        except Exception:  # the database is away: try again soon, keep the worker alive
            log.exception("%s could not fire deadlines", self.name)
            if arm:
                self.arm(retry=True)
            return Fired(busy=True)
        self.fired_total += result.fired
        if result.fired:
            log.info("%s fired %d deadline(s) of %d case(s)", self.name, result.fired,
                     result.cases)
        if arm:
            self.arm(retry=result.busy)
        return result

    def deliver_soon(self) -> None:
        """After a commit that wrote notifications: send them now, in the scheduler's
        thread, so the request or firing that wrote them does not wait for a channel."""
        if self._stopping.is_set() or not self.scheduler.running:
            return
        self.scheduler.add_job(deliver_job, "date", id=f"kefu-deliver-now-{self.name}",
                               args=[self.name], run_date=datetime.now(UTC),
                               replace_existing=True)

    def arm(self, *, retry: bool = False) -> datetime | None:
        """Point the date job at the earliest pending due time; safe to call from any thread."""
        if self._stopping.is_set():
            return None
        # Read and re-arm under one lock: a stale read must not overwrite a fresher one.
        with self._lock:
            if self._stopping.is_set():  # stop() began while this waited for the lock
                return None
            try:
                with self.kefu.session(read_only=True) as session:
                    due = deadlines.next_due(session)
            except Exception:  # the database is away: the re-check job tries again
                log.exception("%s could not read the next due time", self.name)
                return None
            self.armed_for = due
            if due is None:
                if self.scheduler.get_job(self.job_id) is not None:
                    self.scheduler.remove_job(self.job_id)
                return None
            # The injected clock says how long until due; APScheduler counts real time.
            wait = max(due - self.kefu.clock.now(), timedelta(0))
            if retry:
                wait = max(wait, BUSY_RETRY)
            self.scheduler.add_job(fire_job, "date", id=self.job_id, args=[self.name],
                                   run_date=datetime.now(UTC) + wait, replace_existing=True)
        return due

    def _listen_loop(self) -> None:
        """LISTEN for other processes' deadline changes; reconnect if the link drops."""
        import psycopg

        url = make_url(self.kefu.db.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {deadlines.NOTIFY_CHANNEL}")
                    self.arm()  # whatever changed while we were not listening
                    while not self._stopping.is_set():
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            for _ in conn.notifies(timeout=0.0):
                                pass  # a burst of commits needs one re-arm
                            self.arm()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("%s lost its LISTEN connection; reconnecting", self.name)
                self._stopping.wait(2.0)
