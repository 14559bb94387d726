"""A SECRET_KEY generated once per DATA_DIR for local runs."""

import os
import secrets
from pathlib import Path


def local_secret_key(data_dir: Path) -> str:
    """Read DATA_DIR/secret_key, creating it first if needed.

    Processes starting together agree on one key: each writes a complete
    candidate to a private file and hard-links it into place; ``link`` fails if
    the name exists, so the first one wins and nobody reads a half-written key.
    """
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    candidate = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        candidate.unlink()
    return path.read_text().strip()
