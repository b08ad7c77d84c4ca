"""Content keys: canonical hashes of JSON-able objects and files, and fusionsim's model version (a key part).

Every cached job of the pipeline is named by such a key, so equal work is done once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import fusionsim


def model_version() -> str:
    """fusionsim's model version (a cache-key part): `fusionsim.MODEL_VERSION` when defined, else the package version."""
    return str(getattr(fusionsim, "MODEL_VERSION", fusionsim.__version__))


def content_hash(obj: Any, length: int = 16) -> str:
    """Short SHA-256 of a JSON-able object in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
