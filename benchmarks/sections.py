"""BENCHMARKS.md is written by several benchmarks and by hand. What a benchmark writes
sits between two markers (``<!-- generated: NAME -->`` ... ``<!-- end generated: NAME -->``)
and a benchmark replaces only its own marked blocks: everything outside them (other
benchmarks' sections, text written by hand, even inside a benchmark's section) stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def begin(name: str) -> str:
    return f"<!-- generated: {name} -->"


def end(name: str) -> str:
    return f"<!-- end generated: {name} -->"


def marked(name: str, text: str) -> str:
    return "\n".join([begin(name), text.strip("\n"), end(name)])


def split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text before the first ``## `` heading, and each ``(title, section text)`` in order."""
    head, *parts = text.split("\n## ")
    sections = []
    for part in parts:
        title = part.split("\n", 1)[0].strip()
        sections.append((title, "## " + part.rstrip("\n")))
    return head.rstrip("\n"), sections


def replace_block(name: str, text: str, title: str | None, path: Path = BENCHMARKS_MD) -> None:
    """Put ``text`` between the markers of block ``name``, leaving the rest of ``path`` alone.

    A block not marked yet takes the place of the section ``## title`` (a section written
    whole by its benchmark before blocks were marked) or, with ``title`` None, of the text
    between the document's first line and its first section; without either it becomes a
    new section at the end.
    """
    document = path.read_text() if path.exists() else "# Benchmarks\n"
    block = marked(name, text)
    start, stop = document.find(begin(name)), document.find(end(name))
    if start >= 0 and stop > start:
        path.write_text(document[:start] + block + document[stop + len(end(name)) :])
        return
    head, sections = split(document)
    if title is None:
        first_line = head.split("\n", 1)[0]
        head = "\n\n".join([first_line, block])
    else:
        section = "\n".join([f"## {title}", "", block])
        titles = [t for t, _ in sections]
        if title in titles:
            sections[titles.index(title)] = (title, section)
        else:
            sections.append((title, section))
    path.write_text("\n\n".join([head, *(s for _, s in sections)]) + "\n")


def replace_section(title: str, lines: list[str], path: Path = BENCHMARKS_MD) -> None:
    """The block named ``title`` in the section ``## title`` (made at the end if missing)."""
    replace_block(title, "\n".join(lines), title, path)


def publish(data: dict[str, Any], out: str | Path, title: str, lines: list[str], report: bool = True) -> None:
    """A run's end: its data to ``out`` as JSON, its summary ``lines`` printed and, with
    ``report``, put in BENCHMARKS.md as the section ``title``."""
    Path(out).write_text(json.dumps(data, indent=1))
    print("\n".join(lines))
    if report:
        replace_section(title, lines)
