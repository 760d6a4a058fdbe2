"""The task boundary: error classes become Airflow outcomes, in one place."""

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from brandpulse.core.config import Brand
from brandpulse.core.errors import FatalSourceError, NothingToRead, RetriableSourceError
from brandpulse.tasks import airflow_outcomes
from listeners.file_source import FileConnector


def test_fatal_fails_without_retries_nothing_to_read_skips_retriable_raises():
    fatal = pytest.raises(AirflowFailException, match="ingest acme/x: bad token")
    with fatal, airflow_outcomes("ingest acme/x"):
        raise FatalSourceError("bad token")
    with pytest.raises(AirflowSkipException, match="not there yet"), airflow_outcomes("ingest acme/file"):
        raise NothingToRead("not there yet")
    with pytest.raises(RetriableSourceError), airflow_outcomes("ingest acme/x"):
        raise RetriableSourceError("429")


def test_a_file_not_there_yet_is_nothing_to_read_a_wrong_folder_is_fatal(tmp_path):
    brand = Brand(name="acme", query="acme")
    waiting = FileConnector(brand, {"path": str(tmp_path / "export.jsonl")})
    with pytest.raises(NothingToRead):
        list(waiting.fetch(None))
    wrong = FileConnector(brand, {"path": str(tmp_path / "no-such-folder" / "export.jsonl")})
    with pytest.raises(FatalSourceError, match="no such file"):
        list(wrong.fetch(None))
