"""A propose while another propose runs, or while an apply runs: one after the other.

The processes start together while the write lock is held, so that both wait for it
and then run in whichever order the database grants it. Whatever the order, the
store ends as one run after the other leaves it, never as a mix: every open proposal
is of the newest run, agrees with its customer's current condition, and the run's
counts are those the process printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select
from store_data import REFERENCE, start_cli, wait_for_writers, write_lock_held

from segment_tui.store.engine import make_engine
from segment_tui.store.models import Customer, Proposal, ProposalRun, SegmentChange

SUMMARY = re.compile(
    r"Run (\d+) as of [\d-]+: (\d+) customers evaluated, (\d+) proposals "
    r"\((\d+) excluded, (\d+) in no segment, (\d+) earlier proposals replaced\)"
)
PROPOSE = ["propose", "--date", REFERENCE.isoformat()]


def run_together(
    url: str, env: dict[str, str], tmp_path: Path, *commands: list[str]
) -> list[tuple[int, str, str]]:
    start = tmp_path / "start"
    processes = [
        start_cli(["--db", url, "--operator", f"operator{i}", *command], env, start)
        for i, command in enumerate(commands)
    ]
    with write_lock_held(url):
        start.touch()
        wait_for_writers(url, len(commands))
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append((process.returncode, out, err))
    return results


def store_is_consistent(url: str) -> list[tuple[int, int, int, int, int]]:
    """Check that the open proposals are one run's; the runs, oldest first."""
    engine = make_engine(url)
    with engine.connect() as connection:
        runs = connection.execute(
            select(
                ProposalRun.id,
                ProposalRun.customer_count,
                ProposalRun.proposal_count,
                ProposalRun.excluded_count,
                ProposalRun.unmatched_count,
            ).order_by(ProposalRun.id)
        ).all()
        open_runs = connection.execute(
            select(Proposal.run_id, func.count()).group_by(Proposal.run_id)
        ).all()
        disagreeing = connection.execute(
            select(func.count())
            .select_from(Proposal)
            .join(Customer, Customer.customer_no == Proposal.customer_no)
            .where(
                func.coalesce(Proposal.current_condition, "")
                != func.coalesce(Customer.dunning_condition, "")
            )
        ).scalar_one()
    engine.dispose()
    newest = runs[-1]
    assert [tuple(r) for r in open_runs] in ([], [(newest.id, newest.proposal_count)])
    assert disagreeing == 0
    return [tuple(run) for run in runs]


def test_two_proposes_at_once_run_one_after_the_other(
    store_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    results = run_together(store_url, env, tmp_path, PROPOSE, PROPOSE)

    summaries = []
    for status, out, err in results:
        assert status == 0, err
        match = SUMMARY.search(out)
        assert match is not None, out
        summaries.append(tuple(int(g) for g in match.groups()))
    runs = store_is_consistent(store_url)
    first, second = sorted(summaries)
    assert [run[0] for run in runs] == [1, first[0], second[0]]
    assert first[0] < second[0]
    # The same customers and setup give the same counts; each printed its own run.
    for summary in summaries:
        assert summary[1:5] == runs[0][1:]
        assert runs[[r[0] for r in runs].index(summary[0])][1:] == summary[1:5]
    # The second replaced exactly the proposals the first made.
    assert second[5] == first[2]
    # Each listed its own run's proposals: all of them, or, for the first, none
    # when the second had replaced them already; never those of the other run.
    for (_, out, err), summary in zip(results, summaries, strict=True):
        rows = out.count("\n") - 4  # the summary, the run, the header and its rule
        if summary == second or not err:
            assert (rows, err) == (summary[2], "")
        else:
            assert "were applied, deleted or replaced by another operator" in err
            assert "No open proposals" in out


def test_a_propose_during_an_apply_runs_before_or_after_it(
    store_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    engine = make_engine(store_url)
    with engine.connect() as connection:
        proposed = connection.execute(select(func.count()).select_from(Proposal))
        proposal_count = proposed.scalar_one()
    engine.dispose()

    (apply_status, apply_out, apply_err), (propose_status, propose_out, err) = (
        run_together(
            store_url,
            env,
            tmp_path,
            ["apply", "--all", "--format", "json"],
            PROPOSE,
        )
    )

    assert propose_status == 0, err
    runs = store_is_consistent(store_url)
    assert len(runs) == 2
    engine = make_engine(store_url)
    with engine.connect() as connection:
        history = connection.execute(
            select(SegmentChange.run_id, func.count()).group_by(SegmentChange.run_id)
        ).all()
    engine.dispose()
    if apply_status == 0:
        # The apply went first: it applied the first run, and the propose found
        # nothing left to change for those customers.
        assert len(json.loads(apply_out)["applied"]) == proposal_count
        assert [tuple(h) for h in history] == [(1, proposal_count)]
        assert runs[1][2] == 0
    else:
        # The propose went first and replaced the proposals the apply had read.
        assert apply_status == 2
        assert apply_err == (
            "segment-tui: these proposals come from run 1; run 2 has replaced them "
            "since: reload the proposals\n"
        )
        assert history == []
        assert runs[1][2] == proposal_count
