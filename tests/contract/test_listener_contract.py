"""The listener contract, checked for every registered connector."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from brandpulse.mention import Mention
from listeners.base import Batch, Connector, ConnectorOptions
from listeners.registry import registry
from tests.contract.harnesses import HARNESSES

NAMES = registry.names()


def drain(connector: Connector, cursor=None) -> list[Batch]:
    return list(connector.fetch(cursor))


def test_every_registered_connector_has_a_contract_harness():
    assert set(NAMES) <= set(HARNESSES), f"no harness for {set(NAMES) - set(HARNESSES)}"


@pytest.mark.parametrize("name", NAMES)
def test_class_shape(name):
    cls = registry.get(name)
    assert issubclass(cls, Connector) and cls.name == name
    assert issubclass(cls.Options, ConnectorOptions)
    assert cls.Options.model_config.get("extra") == "forbid"
    assert isinstance(cls.credentials, tuple)


@pytest.mark.parametrize("name", NAMES)
def test_full_fetch_yields_valid_mentions_and_json_cursors(name, tmp_path):
    with HARNESSES[name](tmp_path) as h:
        batches = drain(h.connector)
        assert batches, "a first fetch yields at least one batch (with its cursor)"
        seen = []
        for batch in batches:
            assert isinstance(batch, Batch)
            assert json.loads(json.dumps(batch.cursor)) == batch.cursor
            for m in batch.mentions:
                assert isinstance(m, Mention)
                assert m.id == f"{m.platform}:{m.native_id}"
                assert h.connector.brand.name in m.brands
                assert m.created_at.tzinfo is not None
                seen.append(m.native_id)
        assert set(seen) == h.expected_native_ids
        assert isinstance(h.connector.missing_credentials(), list)


@pytest.mark.parametrize("name", NAMES)
def test_resume_from_last_cursor_returns_nothing_already_seen(name, tmp_path):
    with HARNESSES[name](tmp_path) as h:
        first = drain(h.connector)
        seen = {m.native_id for b in first for m in b.mentions}
        again = drain(h.connector, first[-1].cursor)
        repeated = {m.native_id for b in again for m in b.mentions} & seen
        assert not repeated, f"resume re-yielded {sorted(repeated)[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_options_reject_unknown_fields(name):
    cls = registry.get(name)
    with pytest.raises(ValidationError) as info:
        cls.Options.model_validate({"no_such_option": 1})
    assert "extra_forbidden" in {e["type"] for e in info.value.errors()}
