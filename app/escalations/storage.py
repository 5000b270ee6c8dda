"""Where escalation photos live, behind a small interface an object store could implement.

Photos arrive here already re-encoded without metadata (see `app.escalations.photos`). Keys are made by
the service (`<operation id>/<attachment id>.<ext>`), never from a client-supplied name.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from app.core.config import Settings

_KEY = re.compile(r"^[0-9a-f-]{36}/[0-9a-f-]{36}\.(jpg|png|webp)$")


class PhotoStorage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class FilesystemStorage:
    """Files under `<data dir>/attachments`, written atomically (temp file + rename) with 0600."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # defence in depth: a key can never climb out of the root
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def get_storage(settings: Settings) -> PhotoStorage:
    return FilesystemStorage(settings.data_dir / "attachments")
