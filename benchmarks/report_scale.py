"""Does the HTML report scale? A synthetic 1,000-trial study: file size and time to draw.

The study is built through Optuna's API, with no training: 1,000 trials over five parameters,
most pruned on the 0.167 plateau of the adding problem, every trial reporting one value per
epoch (up to `EPOCHS`). `sweep report` writes its page (`write_report`, no MLflow), and a real
headless Chromium opens it:

- Time to drawn: Chromium is driven over the DevTools protocol (`--remote-debugging-pipe`).
  The clock starts when it is told to navigate to the file and stops when the page answers the
  question "has a frame been produced since your script finished drawing?": a
  `requestAnimationFrame` callback, then a task after it, which runs once that frame is painted.
  The page's own `performance.now()` at that moment (its clock starts at navigation) is kept
  too. Browser launch is left out: it is the same for any page; the empty page, timed the same
  way in the same rounds, shows what a page costs that draws nothing.
- File size: the bytes of report.html.

Both are judged against absolute budgets (2 s, 5 MB), as `cli_latency.py` judges its commands:
each row's ratio is the share of its budget used.

    python -m benchmarks.report_scale [--quick]
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState, create_trial

from benchmarks.measure import Row
from sweeps.track.report import write_report

TRIALS = 1000
EPOCHS = 100  # reports per complete trial; pruned ones stop earlier
BUDGET_SECONDS = 2.0
BUDGET_BYTES = 5_000_000
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

DISTRIBUTIONS = {
    "model.cell": CategoricalDistribution(["rnn", "lstm", "gru"]),
    "model.hidden_size": CategoricalDistribution([16, 32, 64, 128]),
    "model.num_layers": IntDistribution(1, 3),
    "optimizer.lr": FloatDistribution(1e-4, 1e-1, log=True),
    "model.dropout": FloatDistribution(0.0, 0.5),
}


def synthetic_study(n_trials: int = TRIALS, epochs: int = EPOCHS, seed: int = 0) -> optuna.Study:
    """A finished study shaped like an adding-problem sweep: plateau, drop, pruned late bloomers."""
    rng = random.Random(seed)
    study = optuna.create_study(study_name=f"synthetic-{n_trials}", direction="minimize")
    trials = []
    for number in range(n_trials):
        params = {
            "model.cell": rng.choice(["rnn", "lstm", "gru"]),
            "model.hidden_size": rng.choice([16, 32, 64, 128]),
            "model.num_layers": rng.randint(1, 3),
            "optimizer.lr": 10 ** rng.uniform(-4, -1),
            "model.dropout": rng.uniform(0.0, 0.5),
        }
        gated = params["model.cell"] != "rnn"
        drop_at = rng.randint(3, epochs) if gated and rng.random() < 0.6 else None
        floor = 10 ** rng.uniform(-4, -2)
        curve = []
        for epoch in range(epochs):
            value = 0.167 + rng.gauss(0, 0.002)
            if drop_at is not None and epoch >= drop_at:
                value = floor + (0.167 - floor) * math.exp(-(epoch - drop_at) / 4)
            curve.append(value * (1 + rng.gauss(0, 0.02)))
        pruned = drop_at is None or drop_at > epochs * 0.6
        if pruned:
            curve = curve[: rng.randint(epochs // 10, epochs // 2)]
        trials.append(
            create_trial(
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                value=None if pruned else min(curve),
                params=params,
                distributions=DISTRIBUTIONS,
                intermediate_values=dict(enumerate(curve)),
                user_attrs={"mlflow_run_id": f"{number:032x}"},
            )
        )
    study.add_trials(trials)
    return study


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        if CHROMIUM is None:
            raise SystemExit("the report case needs Debian's chromium (apt-get install chromium)")
        to_child, self._to_browser = os.pipe()
        self._from_browser, from_child = os.pipe()

        def fds() -> None:  # the protocol's fixed places: commands on 3, replies on 4
            # Copies first: a pipe may itself sit on 3 or 4. dup2 leaves 3 and 4 inheritable;
            # every other descriptor of the pipes closes on exec.
            commands, replies = os.dup(to_child), os.dup(from_child)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe"]
        self._proc = subprocess.Popen(
            [CHROMIUM, *flags, f"--user-data-dir={profile}", "--window-size=1200,1600"],
            preexec_fn=fds,
            close_fds=False,  # closing runs after preexec_fn, and would close 3 and 4
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]

    def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        """Send one command and wait for its reply; events in between are dropped."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method: str, **params: Any) -> Any:
        return self.call(method, session=self._session, **params)

    def time_to_drawn(self, url: str) -> tuple[float, float]:
        """Seconds from the navigate command to the first frame after the page's script ran;
        and the page's own clock at that moment (from navigation start)."""
        self.page("Page.navigate", url="about:blank")
        started = time.perf_counter()
        self.page("Page.navigate", url=url)
        # Waits until the load event has passed (the inline script runs before it), then for
        # one frame to be produced and painted after it. Asked of the old page, the question
        # is answered with its address, or fails as its context goes: then ask again.
        script = """new Promise(done => {
          const answer = () => done([location.href, performance.now()]);
          const ready = () => document.readyState === "complete"
            ? requestAnimationFrame(() => setTimeout(answer)) : setTimeout(ready, 5);
          ready();
        })"""
        while True:
            reply = self.page(
                "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
            )
            value = reply.get("result", {}).get("value")
            if isinstance(value, list) and value[0] == url:
                return time.perf_counter() - started, float(value[1]) / 1000
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{url} did not load within 120 s: {reply}")

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def measure(n_trials: int, rounds: int) -> dict[str, float]:
    """Median seconds to drawn, the report's bytes, and the seconds to write it.

    Each round starts a fresh browser with a fresh profile (no cache), opens an empty page (the
    renderer starts), then the report, then the empty page again (a page that draws nothing).
    """
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        folder = Path(tmp)
        study = synthetic_study(n_trials)
        started = time.perf_counter()
        page = write_report(study, folder / "report.html")
        written = time.perf_counter() - started
        empty = folder / "empty.html"
        empty.write_text("<!doctype html><title>empty</title><p>empty</p>")
        times: dict[str, list[float]] = {k: [] for k in ("start", "report", "clock", "empty")}
        for round_ in range(rounds):
            browser = Browser(folder / f"profile-{round_}")
            try:
                times["start"].append(browser.time_to_drawn(empty.as_uri())[0])
                wall, clock = browser.time_to_drawn(page.as_uri())
                times["report"].append(wall)
                times["clock"].append(clock)
                times["empty"].append(browser.time_to_drawn(empty.as_uri())[0])
            finally:
                browser.close()
        out = {name: statistics.median(values) for name, values in times.items()}
        out["bytes"] = float(page.stat().st_size)
        out["written"] = written
        started = time.perf_counter()
        write_report(study, folder / "plain.html", importance=False)
        out["written without importances"] = time.perf_counter() - started
    return out


def run(quick: bool = False) -> list[Row]:
    """The report's time to drawn and its size, as shares of budgets; and its writing time."""
    n_trials, rounds = (100, 1) if quick else (TRIALS, 5)
    got = measure(n_trials, rounds)
    note = (
        f"share of budget; page clock {got['clock']:.2f} s; empty page {got['empty']:.2f} s, "
        f"first page of a fresh browser {got['start']:.2f} s"
    )
    return [
        Row(f"report of {n_trials} trials: navigate to drawn in headless Chromium, median of "
            f"{rounds}", "budget", BUDGET_SECONDS, "report", got["report"], "s", goal=1.0,
            note=note),
        Row(f"report of {n_trials} trials: file size", "budget", BUDGET_BYTES / 1e6, "report",
            got["bytes"] / 1e6, "MB", goal=1.0, note="share of budget"),
        Row(f"report of {n_trials} trials: written (`sweep report`, no MLflow)",
            "without importances", got["written without importances"],
            "fANOVA and PED-ANOVA", got["written"], "s"),
    ]  # fmt: skip


if __name__ == "__main__":
    from benchmarks.table import main

    sys.exit(main(["report", *sys.argv[1:]]))
