"""The installation's own directory and the secrets kept in it, outside the database.

An installation is its database: the directory that holds the SQLite file the user chose
(or `KEFU_INSTANCE_DIR`, e.g. for PostgreSQL) keeps the session secret and the history
key, so two installations run from one code checkout share neither. A database that lives
only in memory gets secrets that live only as long as the process, like its data.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from engine.config import Settings

SESSION_SECRET = "secret_key"
HISTORY_KEY = "history_key"


def instance_dir(settings: Settings) -> Path | None:
    """Where this installation's files live, or None for an in-memory database."""
    if settings.instance_dir is not None:
        return settings.instance_dir
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if not path or path.startswith(":memory:"):
            return None
        return Path(path).resolve().parent
    # A server database: a folder of its own under ./instance, so that two installations
    # run from one checkout (two databases) share no secrets.
    url_ = make_url(url)
    name = "-".join(str(part) for part in (url_.get_backend_name(), url_.host or "local",
                                            url_.port or "", url_.database or "") if part)
    return (Path("instance") / re.sub(r"[^A-Za-z0-9._-]", "_", name)).resolve()


def secret(settings: Settings, name: str, *, create: bool = True) -> str:
    """The secret `name` of this installation, made (mode 0600) the first time it is asked."""
    folder = instance_dir(settings)
    if folder is None:
        return secrets.token_hex(32)
    path = folder / name
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    if not create:
        raise FileNotFoundError(path)
    folder.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temporary file, then linked into place: two processes
    # starting at once both end up with the one that won, never with a half-written key.
    key = secrets.token_hex(32)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    finally:
        os.unlink(temporary)
    return key

def history_key(settings: Settings) -> bytes:
    """`KEFU_HISTORY_KEY`, else the key file in the instance directory."""
    return (settings.history_key or secret(settings, HISTORY_KEY)).encode("utf-8")


def session_secret(settings: Settings) -> str:
    """`KEFU_SECRET_KEY`, else the secret file in the instance directory."""
    return settings.secret_key or secret(settings, SESSION_SECRET)
