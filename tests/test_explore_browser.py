"""The explorer in a real browser: JupyterLab on a loopback port, notebook 04 opened in headless Chromium (Debian's
``chromium`` and ``chromium-driver`` through Selenium) and run; a click on a node shows that comment's text, a move
of the threshold slider changes the counts and the node colours; the explorer cell is run again and its opening
timed. A screenshot and the timings are left in
``test-artifacts/`` (``$TOOLKIT_TEST_ARTIFACTS``). Skips, saying why, where Chromium is not installed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from lab_browser import LabPage, artifacts_dir, browser_missing, chromium, copy_notebook, jupyter_lab

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "04_explore_interactively.ipynb"
MISSING = browser_missing()

pytestmark = [pytest.mark.browser, pytest.mark.skipif(MISSING is not None, reason=f"browser test: {MISSING}")]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def expected_nodes() -> pl.DataFrame:
    """The shown thread's nodes in the tree's order, as the widget lays them out (scores do not move nodes)."""
    import toolkit
    from toolkit import notebook as nb
    from toolkit.explore import tree_nodes

    frame = toolkit.load(nb.data_path("reddit_sample_57dw9a.json"), format="reddit_page")
    return tree_nodes(frame.with_columns(toxicity=pl.lit(0.0)), "57dw9a", ["toxicity"])


def test_explorer_in_jupyterlab(tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    nodes = expected_nodes()
    path = copy_notebook(NOTEBOOK, tmp_path / "root", {"SCORER": "profanity"})
    # the node to click: a reply with a few replies of its own and a long first line (its text is checked)
    from toolkit.explore import subthread

    texts = nodes["text"].to_list()
    target = next(i for i in range(nodes.height) if nodes["depth"][i] >= 3 and texts[i]
                  and len(texts[i].split("\n")[0]) > 60 and 2 <= len(subthread(nodes, i)) <= 6)
    snippet = _flat(texts[target])[:60]
    artifacts = artifacts_dir()
    with jupyter_lab(path.parent, tmp_path / "lab") as url:
        driver = chromium()
        try:
            page = LabPage(driver, url, path.name)
            page.run_all()
            assert len(page.points()) == nodes.height == 146
            assert "toxicity ≥ 0.20" in page.text(".toolkit-explore-counts")  # the notebook's last threshold

            assert snippet not in _flat(page.text(".toolkit-explore-detail"))
            page.click_point(target)
            page.wait_for("return arguments[0].some(s => document.querySelector('.toolkit-explore-detail')"
                          ".innerText.replace(/\\s+/g, ' ').includes(s));", [snippet],
                          what="the clicked comment's text", timeout_s=30)
            assert nodes["author"][target] in page.text(".toolkit-explore-detail")
            table = page.text(".toolkit-explore-table")
            assert nodes["author"][target][:14] in table  # its sub-thread fills the table

            counts, styles = page.text(".toolkit-explore-counts"), page.styles()
            timing = page.slider_key(Keys.HOME)  # the slider to 0: every scored comment is at or above it
            after = page.text(".toolkit-explore-counts")
            assert after != counts and "toxicity ≥ 0.00" in after
            after_styles = page.styles()
            assert sum(a != b for a, b in zip(styles, after_styles, strict=True)) > 0  # recoloured
            assert all(style.endswith(" 1") for style in after_styles)  # threshold 0: no node faded
            shot = page.screenshot(artifacts / "explore_browser.png")
            # the explorer cell again: the page has plotly.js already, so it opens without the 5 MB bundle
            timing["open_ms"] = page.run_cell_until_tree(page.cell_index("nb.explore("), nodes.height)
            assert len(page.points()) == nodes.height
        finally:
            driver.quit()
    assert shot.stat().st_size > 10_000
    (artifacts / "explore_browser_timings.json").write_text(json.dumps(timing, indent=2) + "\n")
