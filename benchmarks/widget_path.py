"""The widget path: items per second from ``stream::set`` in a kernel to the table in Chromium.

    python benchmarks/widget_path.py [ITEMS]

JupyterLab runs a notebook; a cell writes ITEMS items as fast as it can while a LiveTable
shows the group; the clock stops when the browser holds every item with its final value.
The peer is the naive way: an anywidget that sends one comm message per item, measured
the same way (and counted, since the Jupyter server drops what exceeds its rate limit).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.servers import CHROMIUM, CHROMIUM_ARGS, Server, write_notebook  # noqa: E402

CELLS = [
    """
import iii_live, anywidget
engine = iii_live.start(port=0)
s = engine.stream("bench")
table = s.table("w", height=300)
class Naive(anywidget.AnyWidget):
    _esm = "export default { render({ model, el }) { let n = 0; el.className = 'naive';"\\
           " model.on('msg:custom', () => { n += 1; el.dataset.n = String(n); }); } }"
naive = Naive()
display(table, naive)
""",
    "for i in range(ITEMS):\n    s.set('w', str(i), {'i': i, 'v': i * 0.5})",
    "for i in range(ITEMS):\n    naive.send({'i': i, 'v': i * 0.5})",
]


def run(items: int) -> dict:
    root = Path(tempfile.mkdtemp())
    write_notebook(root / "bench.ipynb", [c.replace("ITEMS", str(items)) for c in CELLS])
    server = Server("lab", root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script("globalThis.__iiiLiveTestHooks = true")  # exposes the widget's store
            page.set_default_timeout(120_000)
            page.goto(f"{server.base}/lab/tree/bench.ipynb")
            page.wait_for_function(
                "() => window.jupyterapp?.shell.currentWidget?.sessionContext"
                "?.session?.kernel?.status === 'idle'"
            )
            run_cell = """(i) => { const app = window.jupyterapp, nb = app.shell.currentWidget;
                nb.content.activeCellIndex = i; app.commands.execute('notebook:run-cell'); }"""
            page.evaluate(run_cell, 0)
            page.wait_for_selector(".iii-table")
            page.wait_for_selector(".naive", state="attached")
            time.sleep(1)
            started = time.monotonic()
            page.evaluate(run_cell, 1)
            page.wait_for_function(
                f"""() => {{ const e = (globalThis.__iiiLive || []).find(x => x.group === 'bench/w');
                    const v = e && e.store.items.get('{items - 1}'); return v && v.i === {items - 1}
                    && e.store.items.size === {items}; }}""",
                polling="raf",
            )
            live_s = time.monotonic() - started
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
            )
            time.sleep(1)
            started = time.monotonic()
            page.evaluate(run_cell, 2)
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'busy'"
            )
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
            )
            time.sleep(4)  # let whatever the server did not drop arrive
            naive_received = int(
                page.evaluate("() => Number(document.querySelector('.naive').dataset.n || 0)")
            )
            naive_s = time.monotonic() - started - 4
            browser.close()
    finally:
        server.stop()
    return {
        "items": items,
        "live_table_items_per_s": items / live_s,
        "live_table_complete": True,
        "naive_items_received": naive_received,
        "naive_items_per_s": naive_received / naive_s if naive_s > 0 else None,
        "naive_lost_fraction": 1 - naive_received / items,
    }


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
    print(json.dumps(result, indent=1))
    Path(__file__).with_name("widget_path.json").write_text(json.dumps(result, indent=1))
