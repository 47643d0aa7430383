"""The deployment recipes: their YAML parses, and every `sweep` they run is a valid command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CONFIGS
from typer.main import get_command

from sweeps.cli.app import app
from sweeps.config.loader import load_config

DEPLOY = CONFIGS.parent / "deploy"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def _parse(argv: list[str]) -> Any:
    """Parse a `sweep ...` command line as the real CLI does; a bad option raises."""
    assert argv[0] == "sweep", argv
    group: Any = get_command(app)
    sub = group.get_command(group.make_context("sweep", [argv[1]]), argv[1])
    assert sub is not None, f"no command {argv[1]!r}"
    return sub.make_context(argv[1], argv[2:])


def _sample(text: str) -> str:
    """Fill $(VAR) and ${VAR} placeholders with sample values."""
    return re.sub(r"\$[({](\w+)[)}]", lambda m: f"sample-{m.group(1).lower()}", text)


def test_kubernetes_job_runs_n_sweep_coordinators_on_a_valid_config(tmp_path: Path) -> None:
    config_map, job = _docs("sweep-job.yaml")
    assert job["kind"] == "Job" and job["spec"]["parallelism"] >= 2
    (container,) = _containers(job)
    ctx = _parse(container["command"])
    assert ctx.params["storage"].startswith("grpc://optuna-proxy:")
    assert ctx.params["tracking_uri"] == "http://mlflow:5000"
    assert ctx.params["workers"] == "auto"
    env = {e["name"] for e in container["env"]}
    assert {"SWEEP_LOCK_URL", "PGPASSWORD"} <= env  # the budget lock; the password by secret
    path = tmp_path / "sweep.yaml"
    path.write_text(config_map["data"]["sweep.yaml"])
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert f"/config/{path.name}" == container["command"][2] and "/config" in mounted
    assert load_config(path).search.n_trials > 0


def test_proxy_and_mlflow_server_recipes_run_real_commands() -> None:
    proxy, proxy_service = _docs("optuna-proxy.yaml")
    ctx = _parse(_containers(proxy)[0]["command"])
    assert ctx.params["storage"].startswith("postgresql") and ctx.params["port"] == 13000
    assert proxy_service["spec"]["ports"][0]["port"] == 13000
    server, _ = _docs("mlflow-server.yaml")
    command = _containers(server)[0]["command"]
    assert command[:2] == ["mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1].startswith("postgresql")


def test_slurm_array_runs_a_valid_sweep_command() -> None:
    script = (DEPLOY / "slurm" / "sweep.sbatch").read_text()
    assert re.search(r"^#SBATCH --array=0-\d+$", script, re.M)
    (line,) = [x for x in script.splitlines() if x.startswith("srun ")]
    ctx = _parse(shlex.split(_sample(line))[1:])
    assert ctx.params["storage"] == "sample-sweep_db"
    assert ctx.params["workers"] == "sample-slurm_cpus_per_task"


@pytest.mark.parametrize("bad", [["sweep", "run", "c.yaml", "--wrokers", "2"]])
def test_the_check_itself_rejects_a_wrong_option(bad: list[str]) -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(bad)
