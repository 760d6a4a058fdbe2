import stat

from brandpulse.airflow_env import SECRET_NAMES, airflow_env, secrets_file
from brandpulse.core.settings import get_settings


def test_secrets_are_generated_once_and_shared(env, state_dir):
    first = airflow_env()
    second = airflow_env()
    for name in SECRET_NAMES:
        assert first[name] and first[name] == second[name]
    path = secrets_file(get_settings())
    assert path.is_relative_to(state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["AIRFLOW_HOME"].startswith(str(state_dir))
    assert first["AIRFLOW__CORE__DAGS_FOLDER"].endswith("dags")


def test_environment_secrets_win(env):
    env.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "from-the-deployment")
    assert airflow_env()["AIRFLOW__API_AUTH__JWT_SECRET"] == "from-the-deployment"


def test_cli_reports_an_unreachable_cluster_in_one_line(env):
    import subprocess
    import sys

    env.setenv("ES_URL", "http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-c", "from brandpulse.cli.app import main; main()", "counts"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "cannot reach Elasticsearch at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
