"""The one durable write of the service, for saved states, the gateway's id and model files: a file replaces
another so that, once the call returns, a crash or a power loss leaves the new one whole, never a torn one."""
from __future__ import annotations

import os
from pathlib import Path


def make_directory(directory: Path) -> Path:
    """A directory for the service's files, created 0700 if it is missing (the state is the operator's alone);
    one that exists is left as it is (systemd's StateDirectory=, or one the operator made)."""
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def replace_durably(temporary: Path, target: Path) -> None:
    """Blocking: make `temporary` (written, in the target's folder) the `target`: fsync it, rename it, and fsync
    the folder, since the rename itself must reach the disk too."""
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_durably(target: Path, content: bytes) -> None:
    """Blocking: replace `target` with `content`, 0600 (the state is the operator's alone)."""
    temporary = target.with_name(target.name + ".tmp")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(content)
        replace_durably(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)       # a full disk leaves no torn temporary behind
        raise
