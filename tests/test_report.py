"""`sweep report`: a self-contained page, drawn by a real browser, from a study built in memory."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial
from test_leaderboard import fake_study

from sweeps.track.report import importance_view, importances, render, report_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def wide_study(n: int = 30) -> optuna.Study:
    """Every rnn pruned on the plateau, gated cells complete far below it: cell matters."""
    rng = random.Random(0)
    study = optuna.create_study(study_name="wide", direction="minimize")
    dists = {
        "model.cell": CategoricalDistribution(["rnn", "lstm", "gru"]),
        "optimizer.lr": FloatDistribution(1e-3, 1e-1, log=True),
    }
    for i in range(n):
        cell = ["rnn", "lstm", "gru"][i % 3]
        lr = 10 ** rng.uniform(-3, -1)  # drawn apart from the values: it does not matter
        if cell == "rnn":
            curve = [0.17, 0.16, 0.15 + 0.001 * (i % 5)]
            state, value = TrialState.PRUNED, None
        else:
            curve = [0.17, 0.1, rng.uniform(0.001, 0.01)]
            state, value = TrialState.COMPLETE, curve[-1]
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params={"model.cell": cell, "optimizer.lr": lr},
                distributions=dists,
                intermediate_values=dict(enumerate(curve)),
            )
        )
    return study


def test_importance_counts_pruned_trials_so_the_cell_shows() -> None:
    study = wide_study()
    found = importances(importance_view(study))
    assert isinstance(found, dict)
    assert found["model.cell"] > 0.9, found
    # The same evaluator on COMPLETE trials only (the gated cells) misses the cell.
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    plain = optuna.importance.get_param_importances(study, evaluator=evaluator)
    assert plain["model.cell"] < 0.5, plain


def test_both_importances_read_the_view_with_pruned_trials_at_their_best_report() -> None:
    study = wide_study()
    view = importance_view(study)
    assert len(view.trials) == len(study.trials)  # 10 pruned rnn trials, now complete
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert [t.value for t in view.trials if t.params["model.cell"] == "rnn"] == [
        min(t.intermediate_values.values()) for t in pruned
    ]
    shown = report_data(study)["importance"]
    assert list(shown) == ["fanova", "ped_anova"]
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    expected = optuna.importance.get_param_importances(view, evaluator=evaluator)
    assert shown["ped_anova"] == pytest.approx(expected)
    assert shown["fanova"]["model.cell"] > 0.9


def test_importances_say_why_they_are_missing() -> None:
    study = optuna.create_study(study_name="one")
    study.add_trial(create_trial(value=1.0, params={}, distributions={}))
    assert report_data(study)["importance"] == {
        "fanova": "not computed: fewer than two finished trials (pruned ones included)",
        "ped_anova": "not computed: fewer than two finished trials (pruned ones included)",
    }
    with pytest.raises(ValueError, match="unknown importance 'shap'"):
        importances(importance_view(study), "shap")


def test_report_is_one_file_with_no_network() -> None:
    html = render(report_data(fake_study()))
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "url(" not in html  # no fonts or images fetched from CSS


def test_report_data_escapes_the_script_end() -> None:
    study = optuna.create_study(study_name="x</script><b>")
    study.add_trial(create_trial(value=1.0, params={}, distributions={}))
    html = render(report_data(study))
    assert "</script><b>" not in html
    assert html.count("</script>") == 1


def _chromium(args: list[str], tmp: Path) -> str:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}"]
    done = subprocess.run(cmd + args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by .ci/run")
def test_chromium_draws_every_plot_offline(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(report_data(wide_study())))
    url = page.as_uri()
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path / "profile")
    plots = re.findall(r'<svg class="plot" data-plot="([a-z]+)"', dom)
    for name in ("history", "importance", "parallel", "intermediate", "cells"):
        assert name in plots, plots
    assert dom.count("<circle") >= 24 and dom.count("<path") >= 24  # one mark per trial
    methods = re.findall(r'data-plot="importance"[^>]*data-method="([a-z_]+)"', dom)
    assert methods == ["fanova", "ped_anova"], methods
    assert ">a section failed to draw" not in dom and ">nothing to draw<" not in dom
    shot = tmp_path / "shot.png"
    _chromium(["--window-size=1200,1600", f"--screenshot={shot}", url], tmp_path / "profile")
    assert shot.stat().st_size > 30_000  # a drawn page; a blank one compresses to ~5 KB


@pytest.mark.slow
def test_report_command_reads_without_torch(workdir: Path) -> None:
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    copy = optuna.create_study(study_name="wide", storage=storage)
    copy.add_trials(wide_study().trials)
    code = (
        "import sys; from typer.testing import CliRunner; from sweeps.cli.app import app;"
        f"r = CliRunner().invoke(app, ['report', '--study', 'wide', '--storage', '{storage}',"
        " '--out', 'r.html']); print(r.output);"
        "assert r.exit_code == 0, r.output;"
        "heavy = [m for m in ('torch', 'pytorch_lightning') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert f"wrote {(workdir / 'r.html').resolve()} (" in done.stdout  # where, in full
    assert '"study": "wide"' in (workdir / "r.html").read_text()


def test_best_run_curves_read_metrics_and_the_gradient_over_time(workdir: Path) -> None:
    import json

    from sweeps.track.report import best_run_curves
    from sweeps.track.tracking import Tracker, TrialRun

    tracker = Tracker(f"sqlite:///{workdir / 'mlflow.db'}", "curves")
    run = TrialRun(tracker.client, tracker.client.create_run(tracker.experiment_id).info.run_id)
    for epoch in range(3):
        run.log_epoch({"train_loss": 1.0 / (epoch + 1), "diag.l0.f.mean": 0.5}, epoch=epoch)
    run.log_summary({"n_parameters": 10.0}, {})
    over = {"quantity": "norm", "curves": {"l0": [[1.0, 0.5], [1.0, 0.8]]}}
    (workdir / "diagnostics").mkdir()
    (workdir / "diagnostics" / "grad_over_time.json").write_text(json.dumps(over))
    tracker.client.log_artifact(run.run_id, str(workdir / "diagnostics"))
    found = best_run_curves(tracker.client, run.run_id)
    assert found["curves"] == {"train_loss": [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]}
    assert list(found["diag"]) == ["diag.l0.f.mean"]  # diagnostics apart; summaries left out
    assert found["over_time"] == over
