"""Where a running `porgate dev` can be found: a small state file, there while it runs.

`porgate dev` writes the settings a client needs (the broker, the database, the webhook it
receives on) and removes the file when it stops; the CLI reads it when no server is
configured, so `porgate explain ...` in a second terminal just works.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

# Both must be unset for the CLI to use a running dev instance: set, they name the servers.
SERVER_SETTINGS = ("PORGATE_KAFKA_BOOTSTRAP_SERVERS", "PORGATE_DATABASE_URL")


def state_path(environ: Mapping[str, str] = os.environ) -> Path:
    """$XDG_RUNTIME_DIR/porgate/dev.json (private, gone at logout), else ~/.cache/porgate/."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path(environ.get("HOME", "~")).expanduser() / ".cache"
    return base / "porgate" / "dev.json"


def export_line(settings: Mapping[str, str]) -> str:
    """The shell line that points another terminal at this instance."""
    return "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in settings.items())


def write_state(settings: Mapping[str, str], path: Path | None = None) -> Path:
    path = path or state_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = path.with_suffix(f".{os.getpid()}.tmp")
    # The database URL may carry a password: only the owner reads it.
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "settings": dict(settings)}, out, indent=2)
    staged.replace(path)
    return path


def remove_state(path: Path | None = None) -> None:
    """Remove the file if it is still this process's (a second instance may have replaced it)."""
    path = path or state_path()
    found = read_state(path)
    if found is not None and found[0] == os.getpid():
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, but not ours to use
        return False
    return True


def read_state(path: Path | None = None) -> tuple[int, dict[str, str]] | None:
    """(pid, settings) of the instance that wrote the file, or None: no file, an unreadable
    one, or one left by an instance that is gone (killed before it could remove it)."""
    path = path or state_path()
    try:
        state = json.loads(path.read_text())
        pid, settings = int(state["pid"]), state["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not isinstance(settings, dict):
        return None
    return pid, {str(k): str(v) for k, v in settings.items() if str(k).startswith("PORGATE_")}


def running_dev(environ: Mapping[str, str] = os.environ) -> tuple[int, dict[str, str]] | None:
    """A running dev instance to use, if nothing names the servers already."""
    if any(environ.get(name) for name in SERVER_SETTINGS):
        return None
    return read_state(state_path(environ))
