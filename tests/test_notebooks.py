"""Every example notebook runs top to bottom in a real kernel and checks its own outcome.

Some promises are about what the user sees after "Run All", so they are checked here, in the
same kernel, once the notebook has run: the output of one cell, or a feed still running.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# Code run in the notebook's kernel after "Run All": it raises if a promise does not hold.
AFTER_RUN_ALL = {
    "02-live-dashboard": textwrap.dedent(
        """
        import asyncio
        after_run_all = market.get("stats", "feed")["ticks"]
        for _ in range(500):                                  # the feed still runs: a new tick comes
            if market.get("stats", "feed")["ticks"] > after_run_all:
                break
            await asyncio.sleep(0.02)
        assert market.get("stats", "feed")["ticks"] > after_run_all, "the feed stopped during Run All"
        stop_button.click()                                   # the notebook's stop step
        assert stop_button.disabled and stop_button.description.startswith("stopped after")
        assert market.get("stats", "feed")["ticks"] == feed.ticks
        assert len(market.list("index")) == min(feed.ticks, 600)
        """
    ),
}


def run_notebook(path: Path, tmp_path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode | None]:
    """Execute the notebook, then its after-Run-All check in the same kernel; return both."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    after = None
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        if path.stem in AFTER_RUN_ALL:
            after = nbformat.v4.new_code_cell(AFTER_RUN_ALL[path.stem])
            notebook.cells.append(after)
            client.execute_cell(after, len(notebook.cells) - 1)
            notebook.cells.pop()
    return notebook, after


def text_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


def tagged(notebook: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Runs each notebook once per module, however many tests read its outputs."""
    runs: dict[str, tuple[nbformat.NotebookNode, nbformat.NotebookNode | None]] = {}

    def run(stem: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode | None]:
        if stem not in runs:
            path = next(p for p in NOTEBOOKS if p.stem == stem)
            runs[stem] = run_notebook(path, tmp_path_factory.mktemp(stem))
        return runs[stem]

    with pytest.MonkeyPatch.context() as env:
        env.setenv("III_LIVE_APP_SECONDS", "5")
        env.delenv("REDIS_URL", raising=False)
        yield run


@pytest.mark.parametrize(
    "stem",
    [pytest.param(p.stem, marks=[pytest.mark.redis] if "redis" in p.stem else []) for p in NOTEBOOKS],
)
def test_notebook_runs(stem, executed):
    notebook, after = executed(stem)
    outputs = "".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert "Traceback" not in outputs
    if after is not None:
        assert after.outputs == [], text_of(after)


def test_quickstart_websocket_cell_shows_the_event_it_promises(executed):
    notebook, _ = executed("01-quickstart")
    shown = text_of(tagged(notebook, "websocket-client")).splitlines()
    assert shown[0].startswith("{'type': 'sync', 'data': [")
    assert shown[1] == "{'type': 'event', 'event': {'type': 'typing', 'data': {'user': 'ada'}}}"
    assert len(shown) == 2


def test_dashboard_stop_is_a_separate_step_after_run_all(executed):
    notebook, after = executed("02-live-dashboard")
    stop = tagged(notebook, "stop-feed")
    assert notebook.cells[-1] is stop
    assert "Stop the feed" in notebook.cells[-2].source
    assert stop.outputs[0]["data"]["text/plain"].startswith("Button(")
    assert after is not None and after.outputs == [], "live after Run All, stopped by the button"
