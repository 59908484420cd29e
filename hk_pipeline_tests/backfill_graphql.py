"""The Dagster UI's backfill launch, as the tests send it through its GraphQL API.

The mutation of the UI's launch dialog (LaunchPartitionBackfill), with the parameters it sends
for an asset selection whose only common job is the implicit asset job: assetSelection +
partitionNames, no partition set selector. Written once for the test that drives a daemon
(defs/test_ui_backfill_runs.py) and the one that drives a browser (ui/test_browser.py).
"""

from __future__ import annotations

from typing import Any

LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def backfill_params(nodes: list[dict[str, Any]], partitions: list[str]) -> dict[str, Any]:
    """LAUNCH_BACKFILL's ``backfillParams`` for the asset ``nodes`` (as ``assetNodes`` lists
    them) over ``partitions``."""
    return {
        "assetSelection": [{"path": node["assetKey"]["path"]} for node in nodes],
        "partitionNames": partitions,
        "fromFailure": False,
        "tags": [],
    }
