"""A table's header menu and toolbar in Chromium, on the stream browser: a filter or a
group-by becomes a view in the engine, the rows follow it, a reload keeps it, a bad spec is
shown naming its part, and the CSV export holds every row of the view."""

from __future__ import annotations

import csv
import json
import urllib.parse
from typing import Any

import iii_live

from ..conftest import wait_for
from ..proxy import CuttingProxy
from .conftest import save_screenshot
from .test_pages_browser import http_base, open_group

REGIONS = ("eu", "us", "asia")
TABLE = ".iii-table"
ROW_IDS = "(t) => [...document.querySelectorAll(`${t} .iii-row`)].map((r) => r.dataset.id)"
COLUMN = (
    "([t, c]) => [...document.querySelectorAll(`${t} .iii-row [data-column='${c}']`)]"
    ".map((e) => e.textContent)"
)
HEADERS = "(t) => [...document.querySelectorAll(`${t} .iii-th`)].map((h) => h.dataset.column)"
CELL = (
    "([t, key, c]) => document.querySelector(`${t} .iii-row[data-id='${key}'] [data-column='${c}']`)"
    "?.textContent"
)
EU_ONLY = {"stream_name": "o", "group_id": "all", "where": [["region", "in", ["eu"]]]}


def fill(engine: iii_live.Engine, items: int = 30) -> Any:
    orders = engine.stream("o")
    for i in range(items):
        orders.set("all", f"{i:05d}", {"region": REGIONS[i % 3], "qty": i, "sku": f"s{i % 7}"})
    return orders


def page_specs(engine: iii_live.Engine) -> list[dict[str, Any]]:
    """The specs of the views open in the engine (their names left out)."""
    return [
        {k: v for k, v in view.spec.to_dict().items() if k != "name"} for view in engine.core.views.views()
    ]


def wait_items(page, count: int, table: str = TABLE) -> None:
    page.wait_for_function(
        "([t, n]) => document.querySelector(t)?.dataset.items === n", arg=[table, str(count)]
    )


def row_ids(page, table: str = TABLE) -> list[str]:
    return page.evaluate(ROW_IDS, table)


def column_texts(page, column: str, table: str = TABLE) -> list[str]:
    return page.evaluate(COLUMN, [table, column])


def headers(page, table: str = TABLE) -> list[str]:
    return page.evaluate(HEADERS, table)


def cell(page, key: str, column: str, table: str = TABLE) -> str | None:
    return page.evaluate(CELL, [table, key, column])


def wait_cell(page, key: str, column: str, text: str, table: str = TABLE) -> None:
    page.wait_for_function(
        f"([t, key, c, text]) => ({CELL})([t, key, c]) === text", arg=[table, key, column, text]
    )


def wait_first_row(page, item: str, table: str = TABLE) -> None:
    page.wait_for_function(f"([t, id]) => ({ROW_IDS})(t)[0] === id", arg=[table, item])


def open_menu(page, column: str, table: str = TABLE) -> None:
    page.locator(f"{table} .iii-th[data-column='{column}'] [data-action='menu']").click()
    page.wait_for_selector(f".iii-column-menu[data-column='{column}']")


def wait_error(page, part: str, table: str = TABLE) -> str:
    page.wait_for_function(
        "([t, part]) => { const e = document.querySelector(`${t} [data-role='error']`);"
        " return e && !e.hidden && e.dataset.part === part; }",
        arg=[table, part],
    )
    return page.locator(f"{table} [data-role='error']").inner_text()


def download_csv(page, table: str = TABLE) -> list[list[str]]:
    with page.expect_download() as download:
        page.locator(f"{table} [data-action='export']").click()
    with open(download.value.path(), encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def test_a_value_set_filter_becomes_a_view_and_survives_a_reload(engine, page):
    orders = fill(engine)
    open_group(page, engine, "o", "all")
    wait_items(page, 30)

    open_menu(page, "region")
    page.locator(".iii-column-menu input[data-value='\"eu\"']").check()
    page.locator(".iii-column-menu [data-action='filter']").click()
    wait_items(page, 10)
    assert page_specs(engine) == [EU_ONLY]
    shown = column_texts(page, "region")
    assert shown and set(shown) == {"eu"}
    assert 'region in "eu"' in page.locator(".iii-chip[data-kind='filter']").inner_text()

    orders.set("all", "99999", {"region": "eu", "qty": 5, "sku": "new"})  # the view is live
    wait_items(page, 11)
    orders.set("all", "99998", {"region": "us", "qty": 5, "sku": "new"})
    orders.set("all", "99997", {"region": "eu", "qty": 6, "sku": "new"})  # a sentinel after the us write
    wait_items(page, 12)

    page.reload()
    page.wait_for_selector(".iii-chip[data-kind='filter']")
    wait_items(page, 12)
    assert "view=" in page.url
    wait_for(lambda: page_specs(engine) == [EU_ONLY])

    page.locator(".iii-chip[data-kind='filter'] [data-action='remove']").click()  # the group as it is
    wait_items(page, 33)
    wait_for(lambda: page_specs(engine) == [])


def test_text_and_number_range_filters_hide_and_sort(engine, page):
    fill(engine)
    open_group(page, engine, "o", "all")
    wait_items(page, 30)
    open_menu(page, "qty")
    page.locator(".iii-column-menu input[data-role='min']").fill("10")
    page.locator(".iii-column-menu input[data-role='max']").fill("19")
    page.locator(".iii-column-menu [data-action='filter']").click()
    wait_items(page, 10)
    open_menu(page, "sku")
    page.locator(".iii-column-menu input[data-role='contains']").fill("s1")
    page.locator(".iii-column-menu [data-action='filter']").click()
    wait_items(page, 1)  # qty 10 to 19, and a sku with "s1": only item 15 (s1)
    assert row_ids(page) == ["00015"]
    assert page_specs(engine) == [
        {
            "stream_name": "o",
            "group_id": "all",
            "where": [["qty", "between", [10, 19]], ["sku", "contains", "s1"]],
        }
    ]


def group_by_region(page, aggregates: list[tuple[str, str]], table: str = TABLE) -> None:
    """Group by region with ``aggregates`` (function, field) through the toolbar's picker."""
    page.locator(f"{table} [data-action='open-group']").click()
    picker = page.locator(".iii-group-picker")
    picker.locator("input[data-field='region']").check()
    while picker.locator(".iii-aggregate").count() < len(aggregates):
        picker.locator("[data-action='add-aggregate']").click()
    for line, (fn, field) in zip(picker.locator(".iii-aggregate").all(), aggregates, strict=True):
        line.locator("select[data-role='fn']").select_option(fn)
        line.locator("select[data-role='field']").select_option(field)
    picker.locator("[data-action='apply-group']").click()


def test_group_by_with_aggregates_and_errors_that_name_the_part(engine, page):
    orders = fill(engine)
    open_group(page, engine, "o", "all")
    wait_items(page, 30)
    group_by_region(page, [("sum", "qty"), ("count", "qty")])
    wait_items(page, 3)
    sums = {r: sum(i for i in range(30) if REGIONS[i % 3] == r) for r in REGIONS}
    wait_cell(page, "eu", "qty_sum", str(sums["eu"]))
    open_menu(page, "region")
    save_screenshot(page, [page.locator(TABLE), page.locator(".iii-column-menu")], "views-menu.png")
    page.keyboard.press("Escape")
    page.wait_for_selector(".iii-column-menu", state="detached")
    assert headers(page) == ["region", "qty_sum", "count"]  # a grouped row's id is its key: no id column
    expected = {"stream_name": "o", "group_id": "all", "group_by": ["region"]}
    expected["agg"] = {"qty_sum": ["qty", "sum"], "count": ["qty", "count"]}
    assert page_specs(engine) == [expected]

    group_by_region(page, [("sum", "qty"), ("sum", "sku")])  # sum of text
    message = wait_error(page, "agg.sku_sum")
    assert "sum" in message and "sku" in message
    page.locator(f"{TABLE} [data-role='expression']").fill("qty >")
    page.locator(f"{TABLE} [data-role='expression']").press("Enter")
    assert "qty >" in wait_error(page, "where[0]")
    assert page_specs(engine) == [expected]  # the view before stays, and works
    orders.set("all", "00000", {"region": "eu", "qty": 1000, "sku": "s0"})
    wait_cell(page, "eu", "qty_sum", str(sums["eu"] + 1000))

    page.locator(f"{TABLE} [data-role='expression']").fill("qty >= 1000")
    page.locator(f"{TABLE} [data-role='expression']").press("Enter")
    page.wait_for_function("() => document.querySelector(\"[data-role='error']\").hidden")
    wait_items(page, 1)
    assert cell(page, "eu", "count") == "1"


def test_the_csv_export_holds_every_row_of_a_windowed_view_sorted_and_without_hidden_columns(engine, page):
    items = 15_300
    fill(engine, items)
    open_group(page, engine, "o", "all")
    wait_items(page, items)
    open_menu(page, "region")
    page.locator(".iii-column-menu input[data-value='\"eu\"']").check()
    page.locator(".iii-column-menu input[data-value='\"us\"']").check()
    page.locator(".iii-column-menu [data-action='filter']").click()
    kept = [i for i in range(items) if REGIONS[i % 3] != "asia"]
    wait_items(page, len(kept))
    assert page.evaluate("() => (globalThis.__iiiLive || [])[0].store.windowed") is True
    assert page.locator(f"{TABLE} .iii-row").count() < 100  # only a window is in the page

    open_menu(page, "qty")
    page.locator(".iii-column-menu [data-action='sort-desc']").click()
    wait_first_row(page, f"{kept[-1]:05d}")
    open_menu(page, "sku")
    page.locator(".iii-column-menu [data-action='hide']").click()
    page.wait_for_selector(f"{TABLE} .iii-th[data-column='sku']", state="detached")

    rows = download_csv(page)
    assert rows[0] == ["id", "region", "qty"]
    assert rows[1:] == [[f"{i:05d}", REGIONS[i % 3], str(i)] for i in reversed(kept)]
    assert page.evaluate("() => document.querySelector('.iii-table').dataset.exported") == str(len(kept))

    page.reload()  # the sort and the hidden column are kept too
    wait_items(page, len(kept))
    wait_first_row(page, f"{kept[-1]:05d}")
    assert page.locator(f"{TABLE} .iii-th[data-column='sku']").count() == 0
    assert "\u25bc" in page.locator(f"{TABLE} .iii-th[data-column='qty']").inner_text()


def test_the_address_of_a_view_opens_it_in_another_browser(engine, page, new_page):
    fill(engine)
    open_group(page, engine, "o", "all")
    group_by_region(page, [("max", "qty")])
    wait_items(page, 3)
    other = new_page()
    other.goto(page.url)
    wait_items(other, 3)
    assert cell(other, "asia", "qty_max") == "29"
    assert len(engine.core.views.views()) == 1  # the same spec: one view, shared
    assert http_base(engine) in other.url


DASH_TABLE = ".iii-dash-view .iii-table"


def test_a_dashboard_viewer_sorts_hides_and_exports_in_its_own_page_and_opens_no_view(engine, page, new_page):
    fill(engine)
    table = engine.stream("o").table("all", sort_by="qty")
    try:
        url = engine.publish(iii_live.Dashboard("Orders", [[table]]), name="orders")
        other = new_page()
        for viewer in (page, other):
            viewer.goto(url)
            wait_items(viewer, 30, DASH_TABLE)
        assert page.locator(f"{DASH_TABLE} [data-action='open-group']").count() == 0
        open_menu(page, "region", DASH_TABLE)
        menu = page.locator(".iii-column-menu")
        assert menu.locator("[data-action='filter'], [data-action='group']").count() == 0
        menu.locator("[data-action='hide']").click()
        page.wait_for_selector(f"{DASH_TABLE} .iii-th[data-column='region']", state="detached")
        open_menu(page, "qty", DASH_TABLE)
        page.locator(".iii-column-menu [data-action='sort-desc']").click()
        wait_first_row(page, "00029", DASH_TABLE)
        rows = download_csv(page, DASH_TABLE)
        assert rows[0] == ["id", "qty", "sku"] and [row[0] for row in rows[1:]] == [
            f"{i:05d}" for i in reversed(range(30))
        ]
        engine.stream("o").set("all", "00030", {"region": "eu", "qty": 30, "sku": "s2"})  # a sentinel
        for viewer in (page, other):
            wait_items(viewer, 31, DASH_TABLE)
        assert headers(other, DASH_TABLE) == ["id", "region", "qty", "sku"]  # the other viewer's table
        assert row_ids(other, DASH_TABLE)[0] == "00000"
        assert engine.core.views.views() == [] and table.controls == {}
    finally:
        table.close()


def test_a_view_named_in_an_address_opens_and_is_asked_for_again_after_a_cut(engine, page):
    """The engine closes a page's views with its socket: after a drop the page asks again."""
    orders = fill(engine)
    proxy = CuttingProxy(engine.port)
    try:
        choice = {"spec": {"where": EU_ONLY["where"]}, "sort": {"by": "qty", "ascending": False}}
        query = urllib.parse.urlencode({"stream": "o", "group": "all", "view": json.dumps(choice)})
        page.goto(f"http://127.0.0.1:{proxy.port}/?{query}")
        wait_items(page, 10)
        wait_first_row(page, "00027")
        assert page_specs(engine) == [EU_ONLY]
        proxy.cut()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('reconnecting')")
        orders.set("all", "99999", {"region": "eu", "qty": 99, "sku": "new"})
        wait_items(page, 11)
        wait_first_row(page, "99999")
        assert page_specs(engine) == [EU_ONLY] and proxy.cuts == 1
    finally:
        proxy.close()
