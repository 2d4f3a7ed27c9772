"""The Kefu object: one installation's settings, clock, database and caches, in one place.

Everything that runs a case receives it, so tests and benchmarks swap the clock, the
database or the SMS gateway without patching modules.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from sqlalchemy.orm import Session

from engine import instance
from engine.cases.live import LiveWorkflows
from engine.cases.serializer import load_spec
from engine.clock import Clock, clock_for
from engine.config import Settings
from engine.definitions.operators import REGISTRY, Operator
from engine.errors import NotFound
from engine.messages.replies import ReplyWriter, SmsSender, load_sender
from engine.persistence.db import Database
from engine.persistence.models import ProcessVersion
from engine.records import history

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    from engine.persistence.models import Case

#: Called after a case is saved, inside its transaction (deadlines hook in here).
SaveHook = Callable[["Kefu", Session, "Case", "BpmnWorkflow"], None]


@dataclass(frozen=True)
class LoadedVersion:
    id: int
    process_id: str
    version: int
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    forms: dict[str, dict[str, Any]]


class Kefu:
    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None,
                 sender: SmsSender | None = None, database: Database | None = None) -> None:
        self.settings = settings or Settings()
        self.clock: Clock = clock or clock_for(self.settings.clock_file)
        self.db = database or Database(self.settings.database_url)
        self.replies = ReplyWriter(self.settings.processes_dir / "replies",
                                   sender or load_sender(self.settings.sms_sender),
                                   ZoneInfo(self.settings.timezone))
        # Messages and signals one case throws reach the others (engine.cases.events imports
        # engine.cases.runtime, which imports this module: imported here, not at the top).
        from engine.cases.events import forward_thrown

        self.save_hooks: list[SaveHook] = [forward_thrown]
        self.operators: dict[str, Operator] = dict(REGISTRY)
        self.live = LiveWorkflows(self.settings.live_workflows)
        self._versions: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()
        #: The history's HMAC key, from outside the database (engine.instance).
        self.history_key: bytes = instance.history_key(self.settings)
        self.db.session_info[history.KEY_INFO] = self.history_key

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        with self.db.session(read_only=read_only) as session:
            yield session

    def version(self, session: Session, version_id: int) -> LoadedVersion:
        """A process version's spec, restored once per worker and then shared."""
        loaded = self._versions.get(version_id)
        if loaded is not None:
            return loaded
        row = session.get(ProcessVersion, version_id)
        if row is None:
            raise NotFound(f"process version {version_id} does not exist")
        spec, subs = load_spec(row.spec_json)
        forms = {n: json.loads(t) for n, t in row.sources.items() if n.endswith(".json")}
        loaded = LoadedVersion(row.id, row.process_id, row.version, spec, subs, forms)
        with self._lock:
            self._versions[version_id] = loaded
        return loaded
