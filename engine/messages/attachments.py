"""Files uploaded in a step's form (complaint evidence C1, medical certificates L5, a
department's supporting documents): stored outside the database, named by their SHA-256,
checked by their content, and recorded with the case so they are shown and purged with it.

A form schema marks a field `"format": "attachment"` (one file) or an array whose `items`
are (several files), declaring `x-kefu-accept` (media types) and `x-kefu-max-bytes`; see
docs/process-conventions.md. The field's value is `{"sha256", "name", "media_type",
"size"}`, so the step's history record holds each file's SHA-256 (A1).

The type is read from the file's first bytes (puremagic: a maintained, pure-Python magic
number library, no libmagic to install), never trusted from its name or the browser.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import puremagic
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.errors import FormValidationError
from engine.instance import instance_dir
from engine.persistence.db import after_commit
from engine.persistence.models import Case
from engine.persistence.notice_models import Attachment

if TYPE_CHECKING:
    from engine.kefu import Kefu

FORMAT = "attachment"
ACCEPT, MAX_BYTES = "x-kefu-accept", "x-kefu-max-bytes"
DEFAULT_ACCEPT = ("application/pdf", "image/jpeg", "image/png")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SNIFF_BYTES = 8192
_TABLE = Attachment.__table__


def is_attachment(prop: Mapping[str, Any]) -> bool:
    return prop.get("format") == FORMAT


def attachment_fields(schema: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], bool]]:
    """field -> (the file's schema, whether the field holds several files)."""
    out = {}
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict):
            continue
        if is_attachment(prop):
            out[name] = (prop, False)
        elif prop.get("type") == "array" and is_attachment(prop.get("items") or {}):
            out[name] = (prop["items"], True)
    return out


def declaration_problems(schema: Mapping[str, Any]) -> list[str]:
    """What is wrong with a form's attachment fields, for the deployment's error list."""
    problems = []
    for field, (prop, _many) in attachment_fields(schema).items():
        accept = prop.get(ACCEPT, list(DEFAULT_ACCEPT))
        if not isinstance(accept, list) or not accept or not all(
                isinstance(a, str) and "/" in a for a in accept):
            problems.append(f"field {field!r}: {ACCEPT} must be a list of media types "
                            f"such as \"image/png\"")
        size = prop.get(MAX_BYTES, 1)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            problems.append(f"field {field!r}: {MAX_BYTES} must be a positive whole number "
                            f"of bytes")
    return problems


def limits(kefu: Kefu, prop: Mapping[str, Any]) -> tuple[tuple[str, ...], int]:
    """The media types a field accepts and its size limit (never above the installation's)."""
    accept = tuple(prop.get(ACCEPT) or DEFAULT_ACCEPT)
    cap = kefu.settings.attachment_max_bytes
    return accept, min(int(prop.get(MAX_BYTES) or cap), cap)


def sniff(head: bytes) -> str | None:
    """The media type the content's magic bytes say, or None if they say nothing known."""
    try:
        return puremagic.from_string(head, mime=True) or None
    except puremagic.PureError:
        return None


def _too_big(limit: int) -> str:
    size = f"{limit / 1024 / 1024:.1f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return f"文件过大，最大 {size} / file too large: at most {size}"


def _check(kefu: Kefu, field: str, prop: Mapping[str, Any], head: bytes, size: int) -> str:
    accept, limit = limits(kefu, prop)
    if size > limit:
        raise FormValidationError({field: [_too_big(limit)]})
    if size == 0:
        raise FormValidationError({field: ["文件为空 / the file is empty"]})
    media_type = sniff(head)
    if media_type not in accept:
        kinds = [a.split("/")[-1].upper() for a in accept]
        raise FormValidationError({field: [f"文件类型不允许，只接受 {'、'.join(kinds)} / file "
                                           f"type not allowed (by its content): only "
                                           f"{', '.join(kinds)}"]})
    return media_type or ""


def folder(settings: Settings) -> Path:
    """Where this installation keeps its files: `attachments_dir`, else `attachments/` in
    the installation's directory (beside its SQLite file), like its secrets."""
    if settings.attachments_dir is not None:
        return settings.attachments_dir
    home = instance_dir(settings)
    return (home if home is not None else Path(tempfile.gettempdir()) / "kefu") / "attachments"


def path_of(kefu: Kefu, sha256: str) -> Path:
    return file_path(folder(kefu.settings), sha256)


def file_path(directory: Path, sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return directory / sha256[:2] / sha256


def store(kefu: Kefu, field: str, prop: Mapping[str, Any], name: str, content: bytes
          ) -> dict[str, Any]:
    """Check an upload against its field and keep it; returns the field's value. The same
    content is kept once, whoever uploads it."""
    media_type = _check(kefu, field, prop, content[:_SNIFF_BYTES], len(content))
    sha256 = hashlib.sha256(content).hexdigest()
    target = path_of(kefu, sha256)
    if target.exists():
        os.utime(target)  # uploaded again: not an old orphan for `sweep_unreferenced`
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(content)
        os.replace(tmp.name, target)  # readers never see half a file
    clean = os.path.basename(name.replace("\\", "/")).strip()[:200] or "file"
    return {"sha256": sha256, "name": clean, "media_type": media_type, "size": len(content)}


def _values(value: Any, many: bool) -> Iterator[tuple[int | None, Any]]:
    if value is None:
        return
    if many and isinstance(value, list):
        yield from enumerate(value)
    else:
        yield None, value


def record(kefu: Kefu, session: Session, case: Case, schema: Mapping[str, Any],
           submitted: Mapping[str, Any], task_spec: str, actor: str, now: datetime) -> None:
    """Bind the submitted files to the case, in the step's transaction. Each must already
    be stored and must still pass its field's checks (an API client sends the value)."""
    rows = []
    for field, (prop, many) in attachment_fields(schema).items():
        for index, value in _values(submitted.get(field), many):
            where = field if index is None else f"{field}/{index}"
            if not isinstance(value, dict) or not _SHA256.match(str(value.get("sha256", ""))):
                raise FormValidationError({where: ["请上传文件 / upload a file"]})
            path = path_of(kefu, value["sha256"])
            if not path.is_file():
                raise FormValidationError({where: ["文件未上传或已失效，请重新选择 / the file "
                                                   "was not uploaded; choose it again"]})
            with path.open("rb") as handle:
                head = handle.read(_SNIFF_BYTES)
            media_type = _check(kefu, where, prop, head, path.stat().st_size)
            rows.append({"case_id": case.id, "sha256": value["sha256"], "field": field,
                         "name": str(value.get("name") or "file")[:255],
                         "media_type": media_type, "size": path.stat().st_size,
                         "task_spec": task_spec, "uploaded_by": actor, "uploaded_at": now})
    if rows:
        session.connection().execute(insert(_TABLE), rows)


def of_case(session: Session, case: Case) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                .order_by(Attachment.uploaded_at, Attachment.id)))


def find(session: Session, case: Case, sha256: str) -> Attachment | None:
    """The case's record of a file: a file is reachable only through a case that has it."""
    return session.scalars(select(Attachment).where(Attachment.case_id == case.id,
                                                    Attachment.sha256 == sha256)
                           .limit(1)).first()


def sweep_unreferenced(directory: Path, session: Session, now: datetime,
                       older_than: timedelta = timedelta(days=1)) -> int:
    """Delete stored files no case holds that are older than `older_than`: uploads whose
    form was never sent successfully. Younger ones may belong to a step still being
    completed (a file is stored before its step's transaction begins)."""
    if not directory.is_dir():
        return 0
    old = [p for p in directory.glob("??/*") if _SHA256.match(p.name)
           and datetime.fromtimestamp(p.stat().st_mtime, UTC) < now - older_than]
    held: set[str] = set()
    for start in range(0, len(old), 500):
        names = [p.name for p in old[start:start + 500]]
        held |= set(session.scalars(select(Attachment.sha256)
                                    .where(Attachment.sha256.in_(names))))
    gone = [p for p in old if p.name not in held]
    for path in gone:
        path.unlink(missing_ok=True)
    return len(gone)


def remove_after_commit(directory: Path, session: Session, sha256s: set[str]) -> None:
    """Purge (C10/A3): delete the files no remaining case refers to, once the purge has
    committed (a rolled-back purge keeps its files)."""
    if not sha256s:
        return
    still = set(session.scalars(select(Attachment.sha256)
                                .where(Attachment.sha256.in_(sorted(sha256s)))))
    orphans = sha256s - still
    if not orphans:
        return

    def remove() -> None:
        for sha256 in orphans:
            file_path(directory, sha256).unlink(missing_ok=True)
    after_commit(session, remove)
