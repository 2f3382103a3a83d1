"""A notebook table's header menu and toolbar in a real JupyterLab: a filter becomes a view
in the kernel that the table shows, a reload of the page keeps it (the ``controls`` trait),
a bad spec is shown naming its part while the kernel runs on, and the CSV export of a view
too large to send whole holds every row, read from the kernel."""

from __future__ import annotations

import json

import pytest

from .servers import Server, write_notebook
from .test_view_controls_browser import (
    EU_ONLY,
    REGIONS,
    column_texts,
    download_csv,
    group_by_region,
    open_menu,
    wait_cell,
    wait_error,
    wait_first_row,
    wait_items,
)
from .test_widgets_browser import Notebook

BIG = 15_300
CELLS = [
    f"""
import json, iii_live
engine = iii_live.start(port=0)
orders = engine.stream("o")
regions = {REGIONS!r}
for i in range(30):
    orders.set("all", f"{{i:05d}}", {{"region": regions[i % 3], "qty": i, "sku": f"s{{i % 7}}"}})
table = orders.table("all", height=300)
table
""",
    """
def page_state(t):
    views = engine.core.views.views()
    specs = [{k: v for k, v in view.spec.to_dict().items() if k != "name"} for view in views]
    view = t.page_view
    print(json.dumps({"specs": specs, "page_view": view and view.spec["where"], "controls": t.controls}))
page_state(table)
""",
    'orders.set("all", "00099", {"region": "eu", "qty": 99, "sku": "new"})',
    f"""
for i in range({BIG}):
    orders.set("big", f"{{i:05d}}", {{"region": regions[i % 3], "qty": i}})
big = orders.table("big", height=200)
big
""",
]
SMALL = ".jp-Cell:nth-child(1) .iii-table"
LARGE = ".jp-Cell:nth-child(4) .iii-table"


@pytest.fixture
def lab(tmp_path, page):
    write_notebook(tmp_path / "views.ipynb", CELLS)
    server = Server("lab", tmp_path)
    page.goto(f"{server.base}/lab/tree/views.ipynb")
    yield Notebook(page)
    server.stop()


def kernel_state(nb: Notebook) -> dict:
    nb.run(1)
    return json.loads(nb.output_text(1).strip().splitlines()[-1])


@pytest.mark.timeout(420)
def test_the_header_menu_of_a_notebook_table_opens_a_view_in_the_kernel_that_survives_a_reload(lab, page):
    nb = lab
    nb.run(0)
    wait_items(page, 30, SMALL)

    open_menu(page, "region", SMALL)
    page.locator(".iii-column-menu input[data-value='\"eu\"']").check()
    page.locator(".iii-column-menu [data-action='filter']").click()
    wait_items(page, 10, SMALL)
    assert set(column_texts(page, "region", SMALL)) == {"eu"}
    state = kernel_state(nb)
    assert state["specs"] == [EU_ONLY] and state["page_view"] == EU_ONLY["where"]
    assert state["controls"]["spec"] == {"where": EU_ONLY["where"]}
    nb.run(2)  # a write in the kernel reaches the filtered table
    wait_items(page, 11, SMALL)
    wait_cell(page, "00099", "sku", "new", SMALL)

    group_by_region(page, [("sum", "sku")], SMALL)  # sum of text: refused, shown, nothing lost
    assert "sku" in wait_error(page, "agg.sku_sum", SMALL)
    assert kernel_state(nb)["specs"] == [EU_ONLY]
    assert len(column_texts(page, "region", SMALL)) == 11

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.reload()
    nb = Notebook(page)
    page.wait_for_selector(f"{SMALL} .iii-chip[data-kind='filter']")
    wait_items(page, 11, SMALL)
    assert set(column_texts(page, "region", SMALL)) == {"eu"}
    assert kernel_state(nb)["specs"] == [EU_ONLY]

    expression = page.locator(f"{SMALL} [data-role='expression']")
    expression.press_sequentially("qty >= 24")
    assert expression.input_value() == "qty >= 24"  # typed as is: the notebook's shortcuts keep off
    expression.press("Enter")
    wait_items(page, 3, SMALL)  # eu items of qty 24, 27 and 99
    assert kernel_state(nb)["specs"] == [{**EU_ONLY, "where": [*EU_ONLY["where"], "qty >= 24"]}]

    nb.run(3)  # a group too large to send whole: the export reads every row from the kernel
    wait_items(page, BIG, LARGE)
    open_menu(page, "region", LARGE)
    page.locator(".iii-column-menu input[data-value='\"eu\"']").check()
    page.locator(".iii-column-menu input[data-value='\"us\"']").check()
    page.locator(".iii-column-menu [data-action='filter']").click()
    kept = [i for i in range(BIG) if REGIONS[i % 3] != "asia"]
    wait_items(page, len(kept), LARGE)
    open_menu(page, "qty", LARGE)
    page.locator(".iii-column-menu [data-action='sort-desc']").click()
    wait_first_row(page, f"{kept[-1]:05d}", LARGE)
    assert page.locator(f"{LARGE} .iii-row").count() < 100  # only a window is in the page
    rows = download_csv(page, LARGE)
    assert rows[0] == ["id", "region", "qty"]
    assert rows[1:] == [[f"{i:05d}", REGIONS[i % 3], str(i)] for i in reversed(kept)]
