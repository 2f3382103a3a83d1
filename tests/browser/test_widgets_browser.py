"""Widgets in real JupyterLab 4, Notebook 7 and Voila, driven through Debian's Chromium."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from .conftest import save_screenshot
from .servers import Server, write_notebook

SETUP = """
import time, iii_live
engine = iii_live.start(port=0)
s = engine.stream("metrics")
for i in range(5):
    s.set("hosts", f"h{i}", {"cpu": i * 10, "mem": {"used": i}, "seen": f"2024-03-05T10:0{i}:00"})
table = s.table("hosts", sort_by="id", height=200)
table
"""
CHART = """
for i in range(30):
    s.set("series", f"{i:04d}", {"t": i, "v": (i * i) % 17, "w": i % 5})
chart = s.chart("series", x="t", y=["v", "w"], window=20, height=220)
chart
"""
LIVE_WRITE = 's.set("hosts", "h0", {"cpu": 99, "mem": {"used": 7}, "seen": "2024-03-05T11:00:00"})'
BLOCKING = """
for i in range(80):
    s.set("hosts", "h1", {"cpu": 1000 + i, "mem": {"used": i}})
    time.sleep(0.05)
"""
BURST_TABLE = 'burst = s.table("burst", height=200)\nburst'
BURST = """
for i in range(20000):
    s.set("burst", str(i % 10000), {"i": i, "k": i % 10000})
"""
STATS = "print(json.dumps({'burst': burst.messages_sent, 'table': table.messages_sent}))"

LAB_CELLS = [
    SETUP,
    CHART,
    LIVE_WRITE,
    BLOCKING,
    BURST_TABLE,
    BURST,
    "import json\n" + STATS,
    LIVE_WRITE.replace("99", "123"),
]


HOOK_GROUPS = "() => (globalThis.__iiiLive || []).map(e => e.group)"


def cell_text(page, model: str, item: str, column: str) -> str:
    return page.evaluate(
        """([model, item, column]) => {
            const entry = (globalThis.__iiiLive || []).filter(e => e.group === model).pop();
            if (!entry) return null;
            const row = entry.view.root.querySelector(`.iii-row[data-id="${item}"]`);
            const cell = row && row.querySelector(`[data-column="${column}"]`);
            return cell ? cell.textContent : null;
        }""",
        [model, item, column],
    )


def store_items(page, model: str) -> dict:
    return page.evaluate(
        """(model) => {
            const entry = (globalThis.__iiiLive || []).filter(e => e.group === model).pop();
            return entry ? Object.fromEntries(entry.store.items) : null;
        }""",
        model,
    )


def wait_cell(page, model, item, column, expected, timeout=30):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = cell_text(page, model, item, column)
        if value == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{model}/{item}.{column} is {value!r}, expected {expected!r}")


class Notebook:
    """Runs cells of the open notebook through the JupyterLab application object."""

    def __init__(self, page):
        self.page = page
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
            timeout=120_000,
        )

    def run(self, index: int, wait: bool = True) -> None:
        self.page.evaluate(
            """([i, wait]) => {
                const app = window.jupyterapp, nb = app.shell.currentWidget;
                nb.content.activeCellIndex = i;
                const done = app.commands.execute('notebook:run-cell');
                return wait ? done.then(() => true) : true;
            }""",
            [index, wait],
        )
        if wait:
            self.wait_idle()

    def set_source(self, index: int, source: str) -> None:
        """Edit a cell as a person would (it keeps its id)."""
        self.page.evaluate(
            "([i, text]) => window.jupyterapp.shell.currentWidget.content.widgets[i]"
            ".model.sharedModel.setSource(text)",
            [index, source],
        )

    def wait_idle(self) -> None:
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
        )

    def output_text(self, index: int) -> str:
        return self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].outputArea.node.innerText", index
        )


@pytest.fixture
def lab(tmp_path, page):
    write_notebook(tmp_path / "live.ipynb", LAB_CELLS)
    server = Server("lab", tmp_path)
    page.goto(f"{server.base}/lab/tree/live.ipynb")
    yield Notebook(page)
    server.stop()


def test_jupyterlab_table_chart_live_burst_blocking_reload(lab, page):
    nb = lab
    nb.run(0)
    page.wait_for_selector(".iii-table .iii-row[data-id='h4']")
    wait_cell(page, "metrics/hosts", "h3", "cpu", "30")
    wait_cell(page, "metrics/hosts", "h2", "mem.used", "2")  # nested fields flattened
    wait_cell(page, "metrics/hosts", "h2", "seen", "2024-03-05 10:02:00")  # another day: date and time

    nb.run(1)
    chart = page.wait_for_selector(".iii-chart canvas")
    assert chart is not None
    page.wait_for_function("() => document.querySelector('.iii-chart').dataset.points === '20'")  # window=20
    last = json.loads(page.evaluate("() => document.querySelector('.iii-chart').dataset.last"))
    assert last == [29, (29 * 29) % 17, 29 % 5]

    nb.run(2)  # a write from the kernel reaches the rendered table
    wait_cell(page, "metrics/hosts", "h0", "cpu", "99")
    save_screenshot(
        page, [page.locator(".jp-Cell").nth(0), page.locator(".jp-Cell").nth(1)], "jupyterlab.png"
    )

    # live while a cell blocks the kernel: values change before the cell ends
    nb.run(3, wait=False)
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(seen) < 5:
        value = cell_text(page, "metrics/hosts", "h1", "cpu")
        if value:
            seen.add(value)
        time.sleep(0.1)
    busy = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status")
    assert busy == "busy", "the blocking cell ended before the table was seen changing"
    assert len(seen) >= 5, f"table did not update while the cell ran: {sorted(seen)}"
    nb.wait_idle()
    wait_cell(page, "metrics/hosts", "h1", "cpu", "1079")

    # a burst of 20,000 writes to 10,000 items ends in exactly the engine's final state
    nb.run(4)
    page.wait_for_function("() => (globalThis.__iiiLive || []).some(e => e.group === 'metrics/burst')")
    nb.run(5)
    deadline = time.monotonic() + 30
    expected = {str(k): {"i": 10000 + k, "k": k} for k in range(10000)}
    while time.monotonic() < deadline and store_items(page, "metrics/burst") != expected:
        time.sleep(0.2)
    assert store_items(page, "metrics/burst") == expected
    # 10,000 rows, but only the visible ones are in the DOM; scrolling renders the others
    burst_view = "(globalThis.__iiiLive || []).filter(e => e.group === 'metrics/burst').pop().view"
    assert page.evaluate(f"() => {burst_view}.body.children.length") < 60
    page.evaluate(f"() => {{ const v = {burst_view}.viewport; v.scrollTop = v.scrollHeight; }}")
    wait_cell(page, "metrics/burst", "9999", "i", "19999")
    nb.run(6)
    stats = json.loads(nb.output_text(6).strip().splitlines()[-1])
    assert stats["burst"] < 200, "the burst was not coalesced"
    outputs = page.evaluate("() => document.querySelector('.jp-Notebook').innerText")
    assert "IOPub message rate exceeded" not in outputs
    assert "Error" not in nb.output_text(5)

    # a reload (of the saved notebook) re-binds the views to the live models and resyncs
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.reload()
    nb = type(nb)(page)
    page.wait_for_selector(".iii-table .iii-row[data-id='h4']")
    wait_cell(page, "metrics/hosts", "h1", "cpu", "1079")
    nb.run(7)
    wait_cell(page, "metrics/hosts", "h0", "cpu", "123")


def test_sorting_by_a_header_then_clearing_the_output_destroys_the_view(lab, page):
    nb = lab
    nb.run(0)
    page.wait_for_selector(".iii-table .iii-row[data-id='h4']")
    header = page.locator(".iii-table .iii-th[data-column='cpu']").first
    header.click()  # ascending
    header.click()  # descending
    page.wait_for_function(
        "() => document.querySelector('.iii-table .iii-row').dataset.id === 'h4'"
        " && document.querySelector('.iii-th[data-column=\"cpu\"]').textContent.includes('\u25bc')"
    )
    assert page.evaluate(HOOK_GROUPS) == ["metrics/hosts"]

    # the view's test entry goes with the view
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-cell-output')")
    page.wait_for_selector(".iii-table", state="detached")
    page.wait_for_function(f"() => ({HOOK_GROUPS})().length === 0")


NOTEBOOK7_CELLS = [SETUP, LIVE_WRITE]


def test_notebook7_renders_and_updates_without_test_hooks(tmp_path, page_without_hooks):
    """As users get it: no test flag, so the views leave no ``__iiiLive`` behind."""
    page = page_without_hooks
    write_notebook(tmp_path / "nb7.ipynb", NOTEBOOK7_CELLS)
    server = Server("notebook", tmp_path)
    try:
        page.goto(f"{server.base}/notebooks/nb7.ipynb")
        nb = Notebook(page)
        nb.run(0)
        cpu = ".iii-table .iii-row[data-id='{}'] [data-column='cpu']"
        page.wait_for_function("(s) => document.querySelector(s)?.textContent === '30'", arg=cpu.format("h3"))
        nb.run(1)
        page.wait_for_function("(s) => document.querySelector(s)?.textContent === '99'", arg=cpu.format("h0"))
        assert page.evaluate("() => [typeof globalThis.__iiiLive, typeof globalThis.__iiiLiveTestHooks]") == [
            "undefined",
            "undefined",
        ]
    finally:
        server.stop()


def test_voila_app_updates_live(tmp_path, page):
    """The example app, notebooks/07-voila-app.ipynb, served by Voila."""
    shutil.copy(
        Path(__file__).resolve().parents[2] / "notebooks" / "07-voila-app.ipynb", tmp_path / "app.ipynb"
    )
    server = Server("voila", tmp_path, notebook="app.ipynb")
    try:
        page.goto(server.base + "/")
        page.wait_for_selector(".iii-table .iii-row[data-id='sym2']", timeout=120_000)
        page.wait_for_selector(".iii-chart canvas")
        first = int(cell_text(page, "app/prices", "sym0", "price") or 0)
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and int(cell_text(page, "app/prices", "sym0", "price") or 0) < first + 20
        ):
            time.sleep(0.1)
        assert int(cell_text(page, "app/prices", "sym0", "price")) >= first + 20
        points = int(page.evaluate("() => document.querySelector('.iii-chart').dataset.points"))
        assert 0 < points <= 50
        save_screenshot(page, [page.locator(".iii-table"), page.locator(".iii-chart")], "voila.png")
    finally:
        server.stop()


PRODUCER_SCRIPT = """
import sys
from iii import InitOptions, register_worker
iii = register_worker(sys.argv[1], InitOptions(worker_name="producer", otel={"enabled": False}))
for i in range(40):
    payload = {"stream_name": "metrics", "group_id": "external", "item_id": f"p{i % 20}", "data": {"n": i}}
    iii.trigger({"function_id": "stream::set", "payload": payload})
iii.shutdown()
"""
EXTERNAL_PRODUCER = f"""
import subprocess, sys
producer = subprocess.Popen([sys.executable, "-c", {PRODUCER_SCRIPT!r}, engine.engine_url])
external = s.table("external", height=150)
external
"""


def test_official_sdk_producer_in_another_process_feeds_a_widget(tmp_path, page):
    """A script that imports only the official iii SDK writes; the widget in the browser shows it."""
    write_notebook(tmp_path / "producer.ipynb", [SETUP, EXTERNAL_PRODUCER])
    server = Server("lab", tmp_path)
    try:
        page.goto(f"{server.base}/lab/tree/producer.ipynb")
        nb = Notebook(page)
        nb.run(0)
        nb.run(1)
        expected = {f"p{k}": {"n": 20 + k} for k in range(20)}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store_items(page, "metrics/external") != expected:
            time.sleep(0.1)
        assert store_items(page, "metrics/external") == expected
        wait_cell(page, "metrics/external", "p0", "n", "20")  # only visible rows are in the DOM
    finally:
        server.stop()
