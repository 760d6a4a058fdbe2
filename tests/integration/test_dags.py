"""DAG integrity (DagBag) and an end-to-end `dag.test()` of the ingest DAG."""

import ast
from pathlib import Path

import pytest

from brandpulse.dev.sample_data import write_sample

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
HEAVY = {
    "elasticsearch",
    "torch",
    "transformers",
    "tweepy",
    "praw",
    "listeners",
    "indexing",
    "nlp",
    "alerts",
    "brandpulse",
}


@pytest.fixture
def airflow_env(env, airflow_home):
    for key, value in airflow_home.items():  # the session's Airflow home (conftest)
        env.setenv(key, value)


@pytest.fixture
def dagbag(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.mark.airflow
def test_dags_import_without_errors_and_have_retries_and_tags(dagbag):
    assert not dagbag.import_errors
    assert "brandpulse_ingest" in dagbag.dags
    for dag in dagbag.dags.values():
        assert "brandpulse" in dag.tags
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_dag_files_do_not_import_heavy_modules_at_parse_time():
    for path in DAGS.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {(n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)}
        names |= {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
        assert not names & HEAVY, f"{path.name} imports {names & HEAVY} at parse time"


@pytest.mark.airflow
@pytest.mark.integration
def test_ingest_dag_end_to_end(dagbag, es, settings, env, tmp_path):
    sample, _ = write_sample(tmp_path / "sample", scale=0.05)
    config = tmp_path / "brands.yaml"
    config.write_text(
        "brands:\n"
        # the sample's own brand queries: the file source re-applies the brand query to every row
        "  - name: northwind-coffee\n"
        "    query: '\"northwind coffee\" OR #northwindcoffee OR @northwindcoffee'\n"
        f"    sources:\n      file: {{path: {sample}}}\n"
        "  - name: acme-bikes\n    query: '\"acme bikes\" OR #acmebikes OR @acmebikes'\n"
        f"    sources:\n      file: {{path: {sample}}}\n"
    )
    env.setenv("BRANDPULSE_CONFIG", str(config))
    expected = sum(1 for _ in sample.open())
    run = dagbag.dags["brandpulse_ingest"].test()
    assert str(getattr(run.state, "value", run.state)) == "success"
    es.indices.refresh(index=settings.indices.mentions)
    assert es.count(index=settings.indices.mentions)["count"] == expected
    enriched = es.count(index=settings.indices.mentions, query={"exists": {"field": "sentiment.label"}})
    assert enriched["count"] == expected  # the enrich task scored every new mention
    run = dagbag.dags["brandpulse_ingest"].test()  # cursors: nothing new, nothing duplicated
    es.indices.refresh(index=settings.indices.mentions)
    assert es.count(index=settings.indices.mentions)["count"] == expected


@pytest.mark.airflow
def test_logged_dag_runner_reports_failure(env, tmp_path):
    from brandpulse.dev.demo import run_dag_logged

    with pytest.raises(RuntimeError, match="no_such_dag failed"):
        run_dag_logged("no_such_dag", tmp_path / "dag.log")


@pytest.mark.airflow
def test_enrich_concurrency_and_pool_follow_the_environment(airflow_env, env):
    from airflow.dag_processing.dagbag import DagBag

    env.setenv("BRANDPULSE_ENRICH_TASKS", "2")
    env.setenv("BRANDPULSE_ENRICH_POOL", "enrich_cpus")
    enrich = DagBag(dag_folder=str(DAGS)).dags["brandpulse_ingest"].get_task("enrich")
    assert enrich.max_active_tis_per_dagrun == 2 and enrich.pool == "enrich_cpus"
