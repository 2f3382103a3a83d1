"""JupyterLab in Chromium for the widget benchmarks: cells run and timed from the page, and
every kernel WebSocket frame counted by widget, in the page (a wrapper around its WebSocket
keeps each frame's arrival time and a reference to it; they are read between phases, so
counting costs the measured phases nothing, where the DevTools protocol would copy each
frame to this process while they run).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.browser.servers import CHROMIUM, CHROMIUM_ARGS, Server, write_notebook  # noqa: E402
from tests.browser.test_widgets_browser import Notebook  # noqa: E402

KEEP_FRAMES = """(() => {
  const Native = WebSocket;
  const frames = (globalThis.__kernelFrames = []);
  globalThis.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (String(args[0]).includes("/api/kernels/"))
        this.addEventListener("message", (e) => {
          if (e.data instanceof ArrayBuffer) frames.push([performance.now(), e.data]);
        });
    }
  };
})();"""

READ_FRAMES = """(from) => {
  // Jupyter's v1 binary protocol: offsets, then channel, header, parent header, metadata,
  // content, buffers. Frames read are let go of.
  const frames = globalThis.__kernelFrames, text = new TextDecoder(), out = [];
  for (let k = from; k < frames.length; k++) {
    const [at, data] = frames[k];
    const view = new DataView(data);
    const offset = (i) => Number(view.getBigUint64(8 * (i + 1), true));
    const part = (i) => JSON.parse(text.decode(new Uint8Array(data, offset(i), offset(i + 1) - offset(i))));
    const comm = part(1).msg_type === "comm_msg" ? part(4).comm_id : null;
    out.push([at / 1000, data.byteLength, comm]);
    frames[k] = null;
  }
  return out;
}"""


class KernelFrames:
    """Arrival times (seconds, the page's clock) and sizes of comm messages, by comm id."""

    def __init__(self, page: Page, enabled: bool = True) -> None:
        self.by_comm: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self._page = page
        self._enabled = enabled
        self._read = 0
        if enabled:
            page.add_init_script(KEEP_FRAMES)

    def pull(self) -> None:
        """Read the frames received since the last pull (between phases, not during one)."""
        if not self._enabled:
            return
        frames = self._page.evaluate(READ_FRAMES, self._read)
        self._read += len(frames)
        for at, size, comm_id in frames:
            if comm_id is not None:
                self.by_comm[comm_id].append((at, size))

    def close(self) -> None:
        """Read what came last, before the page goes (counts stay readable afterwards)."""
        self.pull()
        self._enabled = False

    def mark(self) -> dict[str, int]:
        """Where each widget's messages stand now (to count those of a phase from here)."""
        self.pull()
        return {comm_id: len(frames) for comm_id, frames in self.by_comm.items()}

    def since(
        self, mark: dict[str, int], comm_id: str, until: dict[str, int] | None = None
    ) -> list[tuple[float, int]]:
        """A widget's frames from ``mark`` (to ``until``, another mark, if given)."""
        self.pull()
        end = None if until is None else until.get(comm_id, 0)
        return self.by_comm.get(comm_id, [])[mark.get(comm_id, 0) : end]

    def rate(self, mark: dict[str, int], comm_id: str, until: dict[str, int] | None = None) -> dict[str, int]:
        """A widget's messages and bytes from ``mark`` (to ``until``), and the most within any
        one second."""
        frames = self.since(mark, comm_id, until)
        times = [t for t, _ in frames]
        most, first = 0, 0
        for last, t in enumerate(times):
            while t - times[first] >= 1.0:
                first += 1
            most = max(most, last - first + 1)
        return {"messages": len(frames), "bytes": sum(n for _, n in frames), "busiest_second": most}


RUN_AND_WAIT = """async ([cell, pollMs, timeoutMs]) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget;
  const done = CONDITION;
  nb.content.activeCellIndex = cell;
  const started = performance.now();
  globalThis.__benchStarted = started;
  app.commands.execute('notebook:run-cell');
  for (;;) {
    if (await done()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`cell ${cell}: not done in ${timeoutMs} ms`);
    await new Promise((r) => (pollMs ? setTimeout(r, pollMs) : requestAnimationFrame(r)));
  }
}"""


class Lab:
    def __init__(self, page: Page, notebook: Notebook, frames: KernelFrames, root: Path) -> None:
        self.page = page
        self.notebook = notebook
        self.frames = frames
        self.root = root

    def run(self, cell: int) -> None:
        self.notebook.run(cell)

    def run_until(self, cell: int, condition: str, poll_ms: int = 0, timeout_s: float = 240) -> float:
        """Run a cell and wait, in the page, for ``condition`` (a JS function, maybe async)
        to hold; returns the seconds from running it, measured by the page."""
        ms = self.page.evaluate(
            RUN_AND_WAIT.replace("CONDITION", condition), [cell, poll_ms, timeout_s * 1000]
        )
        self.notebook.wait_idle()
        return ms / 1000

    def json_file(self, name: str) -> Any:
        return json.loads((self.root / name).read_text())


@contextmanager
def lab(cells: list[str], width: int = 1280, height: int = 900, count_frames: bool = True) -> Iterator[Lab]:
    """JupyterLab with ``cells`` open in Chromium; ``count_frames=False`` counts no frames
    (the page keeps none)."""
    root = Path(tempfile.mkdtemp())
    write_notebook(root / "bench.ipynb", cells)
    server = Server("lab", root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.add_init_script("globalThis.__iiiLiveTestHooks = true")  # exposes the widgets' stores
            page.set_default_timeout(300_000)
            frames = KernelFrames(page, count_frames)
            page.goto(f"{server.base}/lab/tree/bench.ipynb")
            yield Lab(page, Notebook(page), frames, root)
            frames.close()
            browser.close()
    finally:
        server.stop()
