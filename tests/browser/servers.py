"""Real JupyterLab, Notebook 7 and Voila servers on free ports, for the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat

from ..redis_server import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


class Server:
    """A Jupyter-family server in its own process, killed on ``stop()``."""

    def __init__(self, kind: str, root: Path, notebook: str | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
            "JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-workspaces"),
            "PYTHONUNBUFFERED": "1",
        }
        news = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}'
        )
        common = [f"--port={self.port}", "--no-browser"]
        if kind == "voila":
            args = [
                sys.executable,
                "-m",
                "voila",
                notebook,
                *common,
                "--Voila.ip=127.0.0.1",
                "--show_tracebacks=True",
            ]
        else:
            app = "jupyterlab" if kind == "lab" else "notebook"
            args = [
                sys.executable,
                "-m",
                app,
                *common,
                "--ip=127.0.0.1",
                "--allow-root",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                f"--ServerApp.root_dir={root}",
                "--expose-app-in-browser",
            ]
        self.log = open(root / f"{kind}-server.log", "wb")
        self.proc = subprocess.Popen(args, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        path = "/" if self.kind == "voila" else "/api/status"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=60) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"{self.kind} server did not start within {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
