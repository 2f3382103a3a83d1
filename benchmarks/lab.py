"""JupyterLab in Chromium for the widget benchmarks: cells run and timed from the page, and
every kernel WebSocket frame counted by widget (through the DevTools protocol, which stamps
each frame when the browser received it).
"""

from __future__ import annotations

import base64
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


def frame_message(payload: bytes) -> tuple[str, str | None]:
    """``(msg_type, comm_id)`` of a kernel WebSocket frame in Jupyter's v1 binary protocol
    (offsets, channel, header, parent header, metadata, content, buffers)."""
    count = int.from_bytes(payload[:8], "little")
    offsets = [int.from_bytes(payload[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    header = json.loads(payload[offsets[1] : offsets[2]])
    msg_type = header.get("msg_type", "")
    if msg_type != "comm_msg":
        return msg_type, None
    content = json.loads(payload[offsets[4] : offsets[5]])
    return msg_type, content.get("comm_id")


class KernelFrames:
    """Arrival times (seconds, the browser's clock) and sizes of comm messages, by comm id."""

    def __init__(self, page: Page, enabled: bool = True) -> None:
        self.by_comm: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.total_bytes = 0
        if enabled:
            cdp = page.context.new_cdp_session(page)
            cdp.on("Network.webSocketFrameReceived", self._received)
            cdp.send("Network.enable")

    def _received(self, params: dict[str, Any]) -> None:
        response = params["response"]
        data = response["payloadData"]
        payload = base64.b64decode(data) if response["opcode"] == 2 else data.encode()
        self.total_bytes += len(payload)
        if response["opcode"] != 2:
            return
        msg_type, comm_id = frame_message(payload)
        if comm_id is not None:
            self.by_comm[comm_id].append((params["timestamp"], len(payload)))

    def mark(self) -> dict[str, int]:
        """Where each widget's messages stand now (to count those of a phase from here)."""
        return {comm_id: len(frames) for comm_id, frames in self.by_comm.items()}

    def since(
        self, mark: dict[str, int], comm_id: str, until: dict[str, int] | None = None
    ) -> list[tuple[float, int]]:
        """A widget's frames from ``mark`` (to ``until``, another mark, if given)."""
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
    """JupyterLab with ``cells`` open in Chromium; ``count_frames=False`` leaves the DevTools
    protocol out (it copies every WebSocket frame to this process, base64-encoded)."""
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
            browser.close()
    finally:
        server.stop()
