"""The built front-end shipped in the package: widget and page bundles, CSS, HTML (no CDN)."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def page(name: str) -> bytes:
    """The bytes of a built page or asset."""
    return (STATIC / name).read_bytes()
