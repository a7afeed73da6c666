"""A proposal run computes only the metrics its setup compares: for a setup on any
one metric, the run's proposals are those of the reference evaluation.

On SQLite (where the run leaves the other metrics out) and PostgreSQL, in this
process and read by other processes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert, update

from segment_tui import jsonout, services
from segment_tui.rules.metrics import METRIC_NAMES
from segment_tui.rules.setup import parse_setup
from segment_tui.store.engine import write_transaction
from segment_tui.store.models import LedgerEntry, Reminder

if TYPE_CHECKING:
    from tests.services.conftest import CycleStore

SETUP = """
[settings]
lookback_months = 12
late_tolerance_days = 3

[[dunning_condition]]
code = "SOFT"
description = "soft"

[[dunning_condition]]
code = "INTENSIVE"
description = "intensive"

[[segment]]
code = "HIT"
dunning_condition = "INTENSIVE"
conditions = ["{metric} > {threshold}"]

[[segment]]
code = "REST"
dunning_condition = "SOFT"
"""


def _expected(cycle: CycleStore, setup: Any) -> list[tuple[Any, ...]]:
    with cycle.engine.connect() as connection:
        evaluations = list(
            services.iter_evaluations(connection, setup, cycle.reference)
        )
    return [
        (
            e.customer.customer_no,
            e.choice.segment.code,
            json.loads(jsonout.dumps(list(e.choice.reason)), parse_float=Decimal),
        )
        for e in evaluations
        if e.choice.segment is not None
        and e.choice.segment.dunning_condition != e.customer.dunning_condition
    ]


@pytest.mark.parametrize("read_ahead", [False, True], ids=["here", "ahead"])
@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_a_setup_on_one_metric_proposes_what_the_reference_does(
    cycle: CycleStore,
    metric: str,
    read_ahead: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = cycle.reference - timedelta(days=10)
    with write_transaction(cycle.engine) as connection:
        connection.execute(
            insert(Reminder),
            [
                {"customer_no": "C002", "issued_on": day, "level": 2},
                {"customer_no": "C002", "issued_on": day, "level": 1},
                {"customer_no": "C003", "issued_on": day, "level": 1},
            ],
        )
        connection.execute(
            update(LedgerEntry)
            .where(LedgerEntry.customer_no == "C003", LedgerEntry.entry_key == "S4")
            .values(disputed=True)
        )
    if read_ahead:
        monkeypatch.setattr(services, "READ_AHEAD_FROM", 0)
    # The lowest threshold that some customer passes and another does not.
    for threshold in ("0", "0.3", "1", "2", "40"):
        setup = parse_setup(SETUP.format(metric=metric, threshold=threshold), "t")
        expected = _expected(cycle, setup)
        if {segment for _, segment, _ in expected} == {"HIT", "REST"}:
            break
    else:
        pytest.fail(f"no threshold splits the customers on {metric}")

    cycle.propose(setup=setup)

    got = [
        (p.customer_no, p.segment, p.reason)
        for p in services.list_proposals(cycle.engine)
    ]
    assert sorted(got) == sorted(expected)
