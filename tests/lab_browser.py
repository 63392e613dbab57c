"""JupyterLab in headless Chromium, for the explorer's browser test and benchmark (benchmarks/explore.py).

JupyterLab runs on a free loopback port with a random token, this interpreter as its kernel and the checkout first
on the kernel's path; settings, workspaces and runtime files live in a temporary folder, and nothing is fetched
(no news, no update check). Chromium is Debian's (``/usr/bin/chromium``) driven by Selenium through Debian's
``chromium-driver``; ``.ci/browser/install.sh`` installs both. Timings are taken inside the page
(``performance.now()``): from the key press or the cell's run command to the last change of the tree's DOM.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TOOLKIT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TOOLKIT_CHROMEDRIVER", "/usr/bin/chromedriver")
TREE = ".toolkit-explore-tree"
# the comment nodes: the second trace of the tree (the first holds the edges)
POINTS_JS = f"""
const traces = document.querySelectorAll('{TREE} .scatterlayer .trace');
return traces.length > 1 ? Array.from(traces[1].querySelectorAll('path.point')) : [];
"""


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} not found: install Debian's {package} (bash .ci/browser/install.sh, as root)"
    for module in ("selenium", "jupyterlab", "plotly", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            return f"python package {module} not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_settings(settings: Path) -> None:
    """No news or update prompts (they would cover the page), and every cell rendered (no windowing)."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                              "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, value in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@contextlib.contextmanager
def jupyter_lab(root: Path, scratch: Path, startup_s: float = 90) -> Iterator[str]:
    """JupyterLab serving ``root`` on 127.0.0.1; yields its base URL with the token query (``?token=...``)."""
    import httpx

    port, token = _free_port(), secrets.token_hex(16)
    settings = scratch / "lab-settings"
    _write_settings(settings)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "JUPYTER_PATH")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
               JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
               IPYTHONDIR=str(scratch / "ipython"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    log = (scratch / "lab.log").open("w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
           "--ServerApp.allow_root=True"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}: {(scratch / 'lab.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter lab did not answer within {startup_s} s")
            time.sleep(0.3)
        yield f"{base}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def chromium(width: int = 1600, height: int = 1500) -> Any:
    """Headless Chromium under Selenium, with Debian's binaries (never a downloaded browser or driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


class LabPage:
    """One notebook open in JupyterLab in the browser, with the steps the tests and the benchmark take."""

    def __init__(self, driver: Any, base_url: str, notebook: str, timeout_s: float = 240) -> None:
        self.driver, self.timeout_s = driver, timeout_s
        base, token = base_url.split("?", 1)
        driver.set_script_timeout(timeout_s)
        driver.get(f"{base}/lab/tree/{notebook}?{token}")
        self.wait_for("return !!(window.jupyterapp && window.jupyterapp.shell.currentWidget"
                      " && window.jupyterapp.shell.currentWidget.sessionContext"
                      " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                      " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                      " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.connectionStatus"
                      " === 'connected')", what="the notebook and its kernel")
        self.wait_for("return window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                      what="an idle kernel")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_for(self, script: str, *args: Any, what: str, timeout_s: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout_s or self.timeout_s} s for {what}")
            time.sleep(0.1)

    _NB = "const nb = window.jupyterapp.shell.currentWidget;"

    def cell_index(self, needle: str) -> int:
        """The first code cell whose source contains ``needle``."""
        index = self.js(self._NB + "return nb.content.widgets.findIndex(c => c.model.type === 'code'"
                        " && c.model.sharedModel.getSource().includes(arguments[0]));", needle)
        if index < 0:
            raise KeyError(f"no cell with {needle!r}")
        return int(index)

    def errors(self) -> list[str]:
        return self.js(self._NB + """
            const out = [];
            for (const c of nb.content.widgets) {
              if (c.model.type !== 'code') continue;
              for (let i = 0; i < c.model.outputs.length; i++) {
                const o = c.model.outputs.get(i).toJSON();
                if (o.output_type === 'error') out.push(o.ename + ': ' + o.evalue);
              }
            }
            return out;""")

    def wait_idle(self, upto: int | None = None, what: str = "the cells to finish") -> None:
        """Until every code cell (up to ``upto``, excluded) has run and the kernel is idle; raises on an error."""
        script = self._NB + """
            const cells = nb.content.widgets.slice(0, arguments[0] === null ? undefined : arguments[0]);
            const done = cells.every(c => c.model.type !== 'code' || c.model.executionCount !== null);
            return done && nb.sessionContext.session.kernel.status === 'idle';"""
        self.wait_for(script, upto, what=what)
        time.sleep(0.3)
        self.wait_for(script, upto, what=what)
        errors = self.errors()
        if errors:
            raise AssertionError(f"notebook cell failed: {errors}")

    def run_all(self) -> None:
        self.js("window.jupyterapp.commands.execute('notebook:run-all-cells');")
        self.wait_idle()

    def restart_and_run_until(self, index: int) -> None:
        """A fresh kernel (cold imports), then the cells before ``index``."""
        self.js(self._NB + "return nb.sessionContext.session.kernel.restart();")
        self.wait_for(self._NB + "return nb.sessionContext.session.kernel.status === 'idle';", what="the restart")
        self.js(self._NB + """
            nb.content.widgets.forEach(c => { if (c.model.type === 'code') c.model.executionCount = null; });
            nb.content.activeCellIndex = 0;
            nb.content.deselectAll();
            nb.content.extendContiguousSelectionTo(arguments[0] - 1);
            window.jupyterapp.commands.execute('notebook:run-cell');""", index)
        self.wait_idle(index, what=f"the cells before cell {index}")

    def run_cell_until_tree(self, index: int, n_points: int) -> float:
        """Run cell ``index`` (which shows an explorer) and return the ms until its tree shows ``n_points`` nodes."""
        self.js(self._NB + f"""
            const index = arguments[0], want = arguments[1];
            window.__open = null;
            nb.content.deselectAll();
            nb.content.activeCellIndex = index;
            const cell = nb.content.widgets[index];
            cell.model.outputs.clear();  // a rerun: the old tree must not count
            const t0 = performance.now();
            window.jupyterapp.commands.execute('notebook:run-cell');
            const tick = () => {{
              const traces = cell.node.querySelectorAll('{TREE} .scatterlayer .trace');
              const n = traces.length > 1 ? traces[1].querySelectorAll('path.point').length : 0;
              if (n >= want) window.__open = performance.now() - t0; else requestAnimationFrame(tick);
            }};
            requestAnimationFrame(tick);""", index, n_points)
        return float(self.wait_for("return window.__open;", what=f"the tree of cell {index}"))

    def points(self) -> list[Any]:
        return self.js(POINTS_JS)

    def styles(self) -> list[str]:
        """Each node's drawn fill colour and opacity."""
        return self.js(f"const pts = (() => {{ {POINTS_JS} }})(); return pts.map(p => p.style.fill + ' '"
                       " + p.style.opacity);")

    def text(self, css: str) -> str:
        return str(self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css))

    def click_point(self, index: int) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        point = self.points()[index]
        self.js("arguments[0].scrollIntoView({block: 'center'});", point)
        ActionChains(self.driver).move_to_element(point).pause(0.3).click().perform()

    def slider_key(self, key: str, quiet_ms: int = 800) -> dict[str, float]:
        """Press ``key`` on the threshold slider's handle; returns ms from the key press to the tree's first change
        (recoloured in the browser), to the counts' change and to the last change (the kernel's restyle), measured
        in the page."""
        return self.timed_keys(".toolkit-explore-threshold .noUi-handle", key, key, quiet_ms)

    def search(self, text: str, quiet_ms: int = 800) -> dict[str, float]:
        """Type ``text`` and Enter in the search box; the same timings from the Enter key."""
        from selenium.webdriver.common.keys import Keys

        keys = Keys.CONTROL + "a" + Keys.NULL + Keys.BACKSPACE + text + Keys.ENTER  # typed: the input changes
        return self.timed_keys(".toolkit-explore-search input", keys, Keys.ENTER, quiet_ms)

    def timed_keys(self, css: str, keys: str, timed_key: str, quiet_ms: int = 800) -> dict[str, float]:
        """Send ``keys`` to the element ``css``; ms from the keydown of ``timed_key`` to the counts' change and to
        the tree's last change after it."""
        from selenium.webdriver.common.keys import Keys

        names = {Keys.HOME: "Home", Keys.END: "End", Keys.ENTER: "Enter"}
        element = self.js("return document.querySelector(arguments[0]);", css)
        self.js(f"""
            const tk = window.__tk = {{t0: null, counts: null, tree: null, first: null}};
            const key = arguments[0];
            const down = e => {{ if (e.key === key) {{ tk.t0 = performance.now();
                                                     document.removeEventListener('keydown', down, true); }} }};
            document.addEventListener('keydown', down, true);
            const counts = document.querySelector('.toolkit-explore-counts');
            const before = counts.innerText;
            new MutationObserver(() => {{
              if (tk.t0 !== null && tk.counts === null && counts.innerText !== before) tk.counts = performance.now();
            }}).observe(counts, {{subtree: true, childList: true, characterData: true}});
            new MutationObserver(() => {{
              if (tk.t0 === null) return;
              tk.tree = performance.now();
              if (tk.first === null) tk.first = tk.tree;
            }})
              .observe(document.querySelector('{TREE}'), {{subtree: true, childList: true, attributes: true}});""",
                names.get(timed_key, timed_key))
        element.send_keys(keys)
        self.wait_for("const tk = window.__tk; return tk.counts !== null && tk.tree !== null"
                      " && performance.now() - Math.max(tk.counts, tk.tree) > arguments[0];", quiet_ms,
                      what="the counts and the tree to change", timeout_s=30)
        tk = self.js("return window.__tk;")
        return {"recolour_ms": tk["first"] - tk["t0"], "counts_ms": tk["counts"] - tk["t0"],
                "settled_ms": max(tk["counts"], tk["tree"]) - tk["t0"]}

    def screenshot(self, path: Path, css: str = ".toolkit-explore") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        element = self.js("const e = document.querySelector(arguments[0]); e.scrollIntoView(); return e;", css)
        element.screenshot(str(path))
        return path


def copy_notebook(source: Path, dest_dir: Path, parameters: dict[str, object] | None = None) -> Path:
    """``source`` copied into ``dest_dir``, with a cell setting ``parameters`` after its ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    if parameters:
        index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
        cell.id = "injected-parameters"
        nb.cells.insert(index + 1, cell)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / source.name
    nbformat.write(nb, dest)
    return dest


def artifacts_dir() -> Path:
    """Where browser tests leave screenshots and timings: ``$TOOLKIT_TEST_ARTIFACTS``, else ``test-artifacts/``."""
    path = Path(os.environ.get("TOOLKIT_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
