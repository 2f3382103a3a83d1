"""BENCHMARKS.md is written by several benchmarks, each owning its ``## `` sections: a
benchmark replaces its own sections and keeps everyone else's."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text before the first ``## `` heading, and each ``(title, section text)`` in order."""
    head, *parts = text.split("\n## ")
    sections = []
    for part in parts:
        title = part.split("\n", 1)[0].strip()
        sections.append((title, "## " + part.rstrip("\n")))
    return head.rstrip("\n"), sections


def replace_section(title: str, lines: list[str], path: Path = BENCHMARKS_MD) -> None:
    """Put ``## title`` followed by ``lines`` in place of that section, or at the end."""
    head, sections = split(path.read_text() if path.exists() else "# Benchmarks\n")
    text = "\n".join([f"## {title}", "", *lines]).rstrip("\n")
    titles = [t for t, _ in sections]
    if title in titles:
        sections[titles.index(title)] = (title, text)
    else:
        sections.append((title, text))
    path.write_text("\n\n".join([head, *(s for _, s in sections)]) + "\n")


def others(generated: str, path: Path = BENCHMARKS_MD) -> list[str]:
    """The sections of ``path`` whose titles ``generated`` does not have, in order."""
    if not path.exists():
        return []
    _, mine = split(generated)
    ours = {title for title, _ in mine}
    return [text for title, text in split(path.read_text())[1] if title not in ours]
