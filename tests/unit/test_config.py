from pathlib import Path

import pytest

from brandpulse.core.config import ConfigError, load_config, parse_config
from brandpulse.pipeline.config import load_checked_config
from listeners.registry import registry

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
version: 1
brands:
  - name: acme
    query: acme
    sources:
      file: {path: data.jsonl}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="b.yaml", sources=registry)
    return info.value.problems


def test_example_config_is_valid_and_has_two_brands():
    config = load_config(REPO / "brands.yaml")
    assert len(config.brands) == 2
    assert all(b.sources for b in config.brands)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "b.yaml").write_text(GOOD)
    config = load_config(tmp_path / "b.yaml")
    assert config.brands[0].sources["file"]["path"] == str(tmp_path / "data.jsonl")


def test_unknown_field_names_line_brand_and_field():
    text = GOOD.replace("    query: acme\n", "    query: acme\n    qeury: typo\n")
    [problem] = problems(text)
    assert problem.startswith("b.yaml:5: brand 'acme': qeury: unknown field")


def test_wrong_type_names_the_field_and_value():
    text = GOOD + "    alerts:\n      min_negative: lots\n"
    [problem] = problems(text)
    assert "brand 'acme'" in problem and "alerts.min_negative" in problem and "'lots'" in problem
    assert problem.startswith("b.yaml:8:")


def test_bad_enum_and_bad_email():
    text = GOOD + "    alerts:\n      sensitivity: loud\n      recipients: [nobody]\n"
    found = problems(text)
    assert any("alerts.sensitivity" in p and "'loud'" in p for p in found)
    assert any("alerts.recipients" in p and "nobody" in p for p in found)


def test_unknown_source_and_bad_source_options():
    assert "sources.tiktok: unknown source" in problems(GOOD.replace("file:", "tiktok:"))[0]
    bad = GOOD.replace("{path: data.jsonl}", "{path: data.jsonl, fromat: csv}")
    assert "sources.file.fromat" in problems(bad)[0]


def test_the_foundation_checks_structure_and_the_registry_checks_source_options():
    config = parse_config(GOOD.replace("file:", "tiktok:"), source="b.yaml")  # no catalogue given
    assert list(config.brands[0].sources) == ["tiktok"]
    assert load_checked_config(REPO / "brands.yaml").brands  # the pipeline passes the registry


def test_duplicate_brand_names_and_empty_config():
    twice = GOOD + "  - name: acme\n    query: again\n"
    assert any("used twice" in p for p in problems(twice))
    assert problems("brands: []")
    assert problems("just a string")
    assert "not valid YAML" in problems("brands: [")[0]


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "none.yaml")
