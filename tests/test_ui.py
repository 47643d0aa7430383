"""`sweep ui`: one lean server that answers before the URL is printed and dies with its parent."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _start_ui(workdir: Path, port: int) -> subprocess.Popen[str]:
    """`sweep ui` as a user starts it, its output (both streams) read line by line."""
    return subprocess.Popen(
        ["sweep", "ui", "--port", str(port)],
        cwd=workdir,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_ui_answers_then_stops_with_its_parent_on_sigterm(workdir: Path) -> None:
    from sweeps.track.tracking import Tracker

    Tracker(f"sqlite:///{workdir / 'mlflow.db'}", "tiny")  # a sweep's experiment, tagged
    port = free_port()
    proc = _start_ui(workdir, port)
    try:
        assert proc.stdout is not None
        line = ""
        while "(Ctrl-C stops it)" not in line and proc.poll() is None:
            line += proc.stdout.readline()  # the URL is printed only once the server answers
        # The address is the first line: no server banner, no warning before it.
        assert line.startswith(f"MLflow UI for sqlite:///mlflow.db at 127.0.0.1:{port} "), line
        # Then a link per sweep that opens its runs, not MLflow's GenAI overview.
        link = proc.stdout.readline()
        assert f"runs of 'tiny': http://127.0.0.1:{port}/#/experiments/" in link, line + link
        assert "workflowType=machine_learning" in link, link
        for _ in range(3):  # page loads log no access line
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                assert response.status == 200
        found = subprocess.run(["pgrep", "-f", f"port {port}"], capture_output=True, text=True)
        servers = [int(pid) for pid in found.stdout.split() if int(pid) != proc.pid]
        assert servers, "no server process found"
        groups = {os.getpgid(pid) for pid in servers}
        assert os.getpgid(proc.pid) not in groups  # the server runs in a group of its own
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, line + rest
        assert rest == "", rest  # nothing after the links: no access log, no warning
        deadline = time.monotonic() + 15
        while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_group_alive(g) for g in groups), "the server outlived sweep ui"
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "the port is still served"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ui_without_a_store_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sweeps.cli.app import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ui", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no sweep here: mlflow.db does not exist" in lines[0], result.output
    assert "--empty" in lines[0], result.output
    assert not (tmp_path / "mlflow.db").exists()


def test_ui_help_offers_only_its_own_options() -> None:
    from typer.testing import CliRunner

    from sweeps.cli.app import app

    result = CliRunner().invoke(app, ["ui", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in ("--tracking-uri", "--port", "--empty"):
        assert option in result.output, result.output
    assert "--study" not in result.output, result.output


def _fill_store(workdir: Path) -> tuple[str, dict[str, str]]:
    """A study's runs as a sweep writes them: complete, pruned and failed trials, a `sweep
    train` run that ties with the best; returns the parent run id and each state's run id."""
    import optuna
    from conftest import tiny_raw

    from sweeps.config.schema import validate
    from sweeps.track.leaderboard import Leaderboard
    from sweeps.track.tracking import Tracker

    config = validate(tiny_raw())
    tracker = Tracker(f"sqlite:///{workdir / 'mlflow.db'}", "tiny")
    study = optuna.create_study(study_name="tiny", direction="minimize")
    parent = tracker.open_parent(study, config, "memory")
    board = Leaderboard(tracker.client, tracker.experiment_id, parent, "val_loss")
    runs = {}
    # (state, reports): the pruned trial's best report (0.05) ranks it between the completes.
    for name, reports in [("good", [0.2, 0.01]), ("pruned", [0.3, 0.05, 0.4]),
                          ("fair", [0.2, 0.1]), ("failed", [0.3])]:  # fmt: skip
        trial = study.ask()
        params = {"optimizer.lr": trial.suggest_float("optimizer.lr", 1e-3, 1e-1, log=True)}
        run = tracker.start_trial(parent, trial, params, config)
        for step, value in enumerate(reports):
            trial.report(value, step)
        runs[name] = run.run_id
        if name == "pruned":
            run.finish(state="PRUNED", status="FINISHED")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif name == "failed":
            run.finish(state="FAIL", status="FAILED", reason="RuntimeError: boom")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            run.log_summary({"val_loss": min(reports)}, {})
            run.finish(state="COMPLETE", status="FINISHED")
            study.tell(trial, min(reports))
        board(study, study.trials[-1])
    single = tracker.start_single(config)
    single.log_summary({"val_loss": 0.01}, {})  # ties with the best trial: must not show
    single.finish(state="COMPLETE", status="FINISHED")
    return parent, runs


def _api(url: str, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def _route(link: str) -> tuple[str, str, dict[str, str]]:
    """A printed link's server, UI route path and route query (the routes follow '#')."""
    server, _, route = link.partition("/#")
    path, _, query = route.partition("?")
    return server, path, dict(urllib.parse.parse_qsl(query))


@pytest.mark.slow
def test_every_printed_link_names_a_view_that_exists(workdir: Path) -> None:
    parent, runs = _fill_store(workdir)
    port = free_port()
    proc = _start_ui(workdir, port)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline()
        # The address has no scheme: the first link is the answer, not MLflow's home page.
        assert f"at 127.0.0.1:{port} (Ctrl-C stops it)" in address, address
        assert "http" not in address, address
        ranked, board = proc.stdout.readline(), proc.stdout.readline()
        # The first link: the study's trials ranked by its metric, through a shared view.
        assert ranked.startswith("  trials of 'tiny' ranked by val_loss: http"), ranked
        url, path, query = _route(ranked.split(": ", 1)[1].strip())
        experiment_id = path.split("/")[2]
        assert path == f"/experiments/{experiment_id}/runs", path
        assert query["workflowType"] == "machine_learning"
        experiment = _api(url, f"experiments/get?experiment_id={experiment_id}")["experiment"]
        tags = {t["key"]: t["value"] for t in experiment["tags"]}
        view = json.loads(tags[f"mlflow.sharedViewState.{query['viewStateShareKey']}"])
        assert view["orderByKey"] == "metrics.`val_loss`" and view["orderByAsc"] is True
        order = f"{view['orderByKey']} {'ASC' if view['orderByAsc'] else 'DESC'}"
        found = _api(
            url,
            "runs/search",
            {
                "experiment_ids": [experiment_id],
                "filter": view["searchFilter"],
                "order_by": [order],
            },  # fmt: skip
        )["runs"]
        # Trials only, ranked as the study ranks them: the pruned one by its best report,
        # the failed one (no value) last; no parent, no train run.
        ids = [r["info"]["run_id"] for r in found]
        assert ids == [runs["good"], runs["pruned"], runs["fair"], runs["failed"]], found
        state = {r["info"]["run_id"]: _tags(r)["optuna.state"] for r in found}
        status = {r["info"]["run_id"]: r["info"]["status"] for r in found}
        assert (state[runs["pruned"]], status[runs["pruned"]]) == ("PRUNED", "FINISHED")
        assert (state[runs["failed"]], status[runs["failed"]]) == ("FAIL", "FAILED")
        # Each column the view selects is a metric, param or tag those runs have.
        best = found[0]["data"]
        have = {f"metrics.`{m['key']}`" for m in best["metrics"]}
        have |= {f"params.`{p['key']}`" for p in best["params"]}
        have |= {f"tags.`{t['key']}`" for t in best["tags"]}
        chosen = [c for c in view["selectedColumns"] if not c.startswith("attributes.")]
        assert chosen[0] == "metrics.`val_loss`" and "tags.`optuna.state`" in chosen, chosen
        assert "params.`optimizer.lr`" in chosen and set(chosen) <= have, (chosen, have)
        # The second link: the parent run, whose description leads with the best trial.
        assert board.startswith("  leaderboard of 'tiny': http"), board
        url, path, query = _route(board.split(": ", 1)[1].strip())
        assert path == f"/experiments/{experiment_id}/runs/{parent}", path
        assert query["workflowType"] == "machine_learning"
        note = _tags(_api(url, f"runs/get?run_id={parent}")["run"])["mlflow.note.content"]
        assert note.startswith("**Best val_loss = 0.01**"), note
        # The links the descriptions hold open in model-training mode too.
        described = re.findall(r"\]\((#/[^)]*)\)", tags["mlflow.note.content"] + note)
        assert described and all("workflowType=machine_learning" in d for d in described)
        assert any("viewStateShareKey=ranked-tiny" in d for d in described), described
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert rest == "", rest  # the address and the two links were all it printed
    finally:
        if proc.poll() is None:
            proc.kill()


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}
