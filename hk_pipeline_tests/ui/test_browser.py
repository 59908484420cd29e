"""The Dagster UI in a real browser on the team setup: the asset graph, then a one-snapshot
backfill while a CLI run writes another partition.

One test, so the whole suite still runs in parallel (``-n 2``): it starts ``hk-pipeline ui``
(webserver + daemon) on a free loopback port against a temporary home, opens the global asset
lineage in headless Chromium, checks the ref -> raw -> mart lineage it draws and saves a
screenshot (``test-artifacts/asset-graph.png``), then launches a backfill of a date range for
the mid-day snapshot through the UI's own GraphQL API (the request its *Materialize all…*
dialog sends), runs ``hk-pipeline run`` for another partition meanwhile, waits for the daemon
to finish the backfill, and checks the lake holds exactly those partitions, each whole and
written by its own run. The UI runs on the team setup (PostgreSQL catalog, S3 data, Dagster
on PostgreSQL: see conftest.py). What the UI did (how many runs) is printed and recorded
in docs/ui-test.md.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hk_pipeline import calendar
from hk_pipeline.config import load_settings
from hk_pipeline.paths import PROJECT_DIR
from hk_pipeline.warehouse.readers import open_reader
from hk_pipeline_tests.backfill_graphql import LAUNCH_BACKFILL, backfill_params

START, END, SNAPSHOT = date(2025, 11, 20), date(2025, 11, 21), "midday"
CLI_DAY = date(2025, 11, 19)  # a CLI run writes its close while the UI's backfill runs
BACKFILL_TIMEOUT_S = 240.0
LAYERS = {"ref": 0, "raw": 1, "mart": 2}
DOWNSTREAM = len(LAYERS)  # any other group would read the marts
# The chain the README describes, which the graph must draw edge by edge.
CHAIN = ["ref/securities", "raw/quotes", "mart/index_moves", "mart/market_report"]

ASSET_NODES_QUERY = """
{ assetNodes { assetKey { path } groupName isPartitioned dependencyKeys { path } } }
"""
BACKFILL_QUERY = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions partitionNames
      error { message }
      runs { id status jobName tags { key value } }
    }
    ... on PythonError { message }
  }
}
"""
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

# Collects what the global asset lineage page draws: group boxes, asset nodes (both SVG
# foreignObjects, with their screen rectangles) and the edges (paths drawn on the graph's SVG).
GRAPH_SCRIPT = """
const svg = [...document.querySelectorAll('svg')].find(
  s => s.querySelector(':scope > foreignObject.group'));
if (!svg) return null;
const rect = el => { const r = el.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom]; };
const label = el => { const div = el.querySelector('div');
  return ((div && div.innerText) || '').trim().split('\\n')[0]; };
const groups = {}, nodes = {};
let top = Infinity, bottom = -Infinity;
for (const fo of svg.querySelectorAll(':scope > foreignObject')) {
  const name = label(fo);
  if (!name) continue;
  const r = rect(fo);
  top = Math.min(top, r[1]); bottom = Math.max(bottom, r[3]);
  if (fo.classList.contains('group')) groups[name] = r; else nodes[name] = r;
}
// How far the drawing runs past the graph's viewport (below the floating search bar).
const view = svg.parentElement.parentElement.getBoundingClientRect();
const overflow = Math.max(0, view.top + 60 - top) + Math.max(0, bottom - view.bottom);
return {groups, nodes, edges: svg.querySelectorAll(':scope > path').length, overflow};
"""


def _key(path: list[str]) -> str:
    return "/".join(path)


def _layer(group: str) -> int:
    return LAYERS.get(group, DOWNSTREAM)


def check_lineage_api(nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every asset is in the group its key names; edges run ref -> raw -> mart (-> any other
    group), never back."""
    assert nodes, "the UI lists no assets"
    assert set(LAYERS) <= {n["groupName"] for n in nodes}
    edges = []
    for node in nodes:
        key = _key(node["assetKey"]["path"])
        assert node["assetKey"]["path"][0] == node["groupName"], key
        assert node["isPartitioned"], f"{key} is not partitioned"
        for dep in node["dependencyKeys"]:
            edges.append((_key(dep["path"]), key))
    for upstream, downstream in edges:
        up, down = upstream.split("/")[0], downstream.split("/")[0]
        assert _layer(up) <= _layer(down), f"{upstream} -> {downstream} goes against the layers"
    for upstream, downstream in itertools.pairwise(CHAIN):
        assert (upstream, downstream) in edges, f"no edge {upstream} -> {downstream}"
    return edges


def _inside(inner: list[float], outer: list[float], slack: float = 1.0) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def show_asset_graph(
    driver: Any, base_url: str, names: set[str], groups: set[str], edges: int, artifacts: Path
) -> dict[str, Any]:
    """Open the global asset lineage, expand every group as a user would, and wait for the
    graph to draw every asset, group and edge; returns what GRAPH_SCRIPT collected."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/asset-groups")
    wait = WebDriverWait(driver, 60, poll_frequency=0.25)
    # The graph first shows the groups collapsed.
    wait.until(
        lambda d: all(d.find_elements(By.CSS_SELECTOR, f"[data-tooltip='{g}']") for g in groups)
    )
    # The graph's options menu (the gear on its toolbar) has "Expand all groups". Click it until
    # the graph draws asset nodes: under load a click on the opening menu can be lost.
    expand = "//button[contains(., 'Expand all groups')]"
    gears = "//button[.//*[@aria-label='settings']]"
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(5):
        for gear in reversed(driver.find_elements(By.XPATH, gears)):
            gear.click()
            try:
                item = WebDriverWait(driver, 5).until(
                    lambda d: next((e for e in d.find_elements(By.XPATH, expand)), None)
                )
            except TimeoutException:  # not the graph's gear
                body.send_keys(Keys.ESCAPE)
                continue
            time.sleep(0.3)  # the menu's opening transition
            item.click()
            body.send_keys(Keys.ESCAPE)
            break
        try:
            WebDriverWait(driver, 10, poll_frequency=0.25).until(
                lambda d: (d.execute_script(GRAPH_SCRIPT) or {}).get("nodes")
            )
            break
        except TimeoutException:
            continue
    else:
        driver.save_screenshot(str(artifacts / "asset-graph-failed.png"))
        pytest.fail("'Expand all groups' in the asset graph's options menu expanded nothing")
    seen: dict[str, Any] = {}

    def drawn(d: Any) -> bool:
        seen.update(d.execute_script(GRAPH_SCRIPT) or {})
        # Edges off screen are not drawn: while the graph overflows the window, wait for the
        # nodes only; the window is then made taller and every edge must be drawn.
        return (
            names <= {expand_label(label, names) for label in seen.get("nodes", {})}
            and groups <= set(seen.get("groups", {}))
            and (seen.get("edges") == edges or seen.get("overflow", 0) > 0)
        )

    for _ in range(3):
        # Reload: the expanded groups are remembered and the graph is fitted to the window's
        # width anew (the graph scales by width only).
        driver.refresh()
        try:
            wait.until(drawn)
        except TimeoutException:
            driver.save_screenshot(str(artifacts / "asset-graph-failed.png"))
            pytest.fail(
                f"the asset graph did not draw {len(names)} assets in {len(groups)} groups and"
                f" {edges} edges (one per dependency) in 60 s; it drew {seen}"
            )
        time.sleep(0.5)  # let the edges' transitions settle before the screenshot
        graph = driver.execute_script(GRAPH_SCRIPT)
        if graph["overflow"] <= 0:
            if graph["edges"] != edges:
                driver.save_screenshot(str(artifacts / "asset-graph-failed.png"))
                pytest.fail(f"the asset graph drew {graph['edges']} edges, expected {edges}")
            break
        # Taller than the window: make the window taller so the screenshot shows all of it.
        size = driver.get_window_size()
        driver.set_window_size(size["width"], size["height"] + int(graph["overflow"]) + 80)
    return graph


def expand_label(label: str, names: set[str]) -> str:
    """The asset name a node label shows: the UI shortens long names to ``ind…_contributions``."""
    if "…" not in label:
        return label
    head, tail = label.split("…", 1)
    matches = [n for n in names if n.startswith(head) and n.endswith(tail)]
    return matches[0] if len(matches) == 1 else label


def check_backfill_page(
    driver: Any, base_url: str, backfill_id: str, runs: list[dict[str, Any]], artifacts: Path
) -> None:
    """The UI's page of the backfill lists its runs and says it succeeded; screenshot kept."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    wanted = ["Succeeded", *(run["id"][:8] for run in runs)]
    driver.get(f"{base_url}/runs/b/{backfill_id}?tab=runs")
    text = ""

    def listed(d: Any) -> bool:
        nonlocal text
        text = d.execute_script("return document.body.innerText")
        return all(w in text for w in wanted)

    try:
        WebDriverWait(driver, 30, poll_frequency=0.25).until(listed)
    except TimeoutException:
        pytest.fail(f"the backfill page does not show {wanted}:\n{text[:2000]}")
    finally:
        driver.save_screenshot(str(artifacts / "backfill.png"))


def wait_for_backfill(ui: Any, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    backfill: dict[str, Any] = {}
    while time.monotonic() < deadline:
        backfill = ui.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in TERMINAL:
            return backfill
        time.sleep(1.0)
    runs = [(r["id"][:8], r["status"]) for r in backfill.get("runs", [])]
    pytest.fail(
        f"backfill {backfill_id} still {backfill.get('status')} after {BACKFILL_TIMEOUT_S:.0f}s"
        f" (runs {runs}):\n{ui.log_tail()}"
    )


@pytest.mark.browser
def test_asset_graph_and_one_snapshot_backfill(
    browser: Any, dagster_ui: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    ui = dagster_ui
    nodes = ui.graphql(ASSET_NODES_QUERY)["assetNodes"]
    edges = check_lineage_api(nodes)
    names = {node["assetKey"]["path"][-1] for node in nodes}
    assert len(names) == len(nodes), "the graph labels nodes by name: names must be unique"
    assert {"securities", "quotes", "index_moves", "market_report"} <= names

    # --- a backfill of a date range for one snapshot, through the UI's GraphQL API. Launched
    # first: the daemon picks backfills up every 30 s, so the browser checks run meanwhile.
    partitions = [f"{d.isoformat()}|{SNAPSHOT}" for d in calendar.trading_days(START, END)]
    assert partitions == ["2025-11-20|midday", "2025-11-21|midday"]
    params = backfill_params(nodes, partitions)
    launched = ui.graphql(LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    launched_at = time.monotonic()
    # ... and a CLI run of another partition while the backfill's runs write the same tables
    cli_run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hk_pipeline.cli",
            "run",
            "--date",
            str(CLI_DAY),
            "--snapshot",
            "close",
        ],
        cwd=PROJECT_DIR,
        env=ui.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    # --- the asset graph, in the browser
    ui.graphql("mutation { setNuxSeen }")  # the first-visit newsletter dialog would cover it
    groups = {node["groupName"] for node in nodes}
    graph = show_asset_graph(browser, ui.base_url, names, groups, len(edges), artifacts)
    graph["nodes"] = {expand_label(k, names): v for k, v in graph["nodes"].items()}
    for node in nodes:
        group, name = node["groupName"], node["assetKey"]["path"][-1]
        assert _inside(graph["nodes"][name], graph["groups"][group]), (
            f"{name} is not drawn inside the {group} group: {graph}"
        )
    screenshot = artifacts / "asset-graph.png"
    browser.save_screenshot(str(screenshot))
    print(f"\nasset graph screenshot: {screenshot}")

    # --- the backfill's outcome, as the API and the UI's backfill page report it
    cli_out, cli_err = cli_run.communicate(timeout=BACKFILL_TIMEOUT_S)
    assert cli_run.returncode == 0, f"{cli_out}\n{cli_err}"
    cli_run_id = re.search(r"run ([0-9a-f-]{36}) succeeded", cli_out).group(1)
    backfill = wait_for_backfill(ui, backfill_id)
    runs = backfill["runs"]
    run_partitions = sorted(
        tag["value"] for run in runs for tag in run["tags"] if tag["key"] == "dagster/partition"
    )
    print(
        f"backfill {backfill_id}: {backfill['status']} {time.monotonic() - launched_at:.0f}s"
        f" after launch, {len(runs)} run(s) for {len(partitions)} partitions: "
        + ", ".join(f"{r['jobName']} {r['status']}" for r in runs)
        + f"; run partitions {run_partitions}"
    )
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, (
        f"backfill {backfill_id} ended {backfill['status']}: {backfill['error']}\n{ui.log_tail()}"
    )
    assert sorted(backfill["partitionNames"]) == partitions
    assert runs and all(run["status"] == "SUCCESS" for run in runs), runs
    check_backfill_page(browser, ui.base_url, backfill_id, runs, artifacts)

    # --- the lake holds exactly the backfilled partitions and the CLI's, each from its run
    expected = {(d, SNAPSHOT) for d in calendar.trading_days(START, END)} | {(CLI_DAY, "close")}
    for key, value in ui.env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    con = open_reader(load_settings(ui.env))
    try:
        for table in ("raw.quotes", "raw.index_levels", "mart.index_moves", "mart.market_breadth"):
            got = set(con.execute(f"SELECT DISTINCT trade_date, snapshot FROM {table}").fetchall())
            assert got == expected, f"{table} holds {sorted(got)}, expected {sorted(expected)}"
        writers = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM raw.quotes").fetchall()}
        assert writers == {run["id"] for run in runs} | {cli_run_id}
        quotes = con.execute(
            "SELECT min(n) FROM (SELECT count(*) AS n FROM raw.quotes GROUP BY ALL)"
        ).fetchall()[0][0]
        assert quotes > 2000  # every partition whole
        (hsi,) = con.execute(
            "SELECT level FROM mart.index_moves WHERE trade_date = ? AND snapshot = ?"
            " AND index_code = 'HSI'",
            [END, SNAPSHOT],
        ).fetchone()
        assert round(hsi, 2) == 25300.28  # the 2025-11-21 mid-day review's HSI level
    finally:
        con.close()
    print(f"browser test took {time.monotonic() - started:.0f}s after the UI came up")
