"""Issue 12, item 4: every configuration error in one pass, each at its own line
and dotted field; language codes and alert settings checked at load."""

import pytest

from brandpulse.core.config import ConfigError, parse_config
from brandpulse.core.query import QuerySyntaxError, parse_query
from listeners.registry import registry

THREE_MISTAKES = """\
version: 1
brands:
  - name: acme
    query: acme
    languages: [en, english, xx]
    alerts:
      bucket_minutes: 7
    sources:
      file:
        path: data.jsonl
        fromat: csv
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="b.yaml", sources=registry)
    return info.value.problems


def test_three_mistakes_are_reported_in_one_pass_each_at_its_line_and_field():
    found = problems(THREE_MISTAKES)
    assert len(found) == 3, found
    languages, bucket, option = found
    assert languages.startswith("b.yaml:5: brand 'acme': languages: not an ISO 639-1 language code")
    assert "'english'" in languages and "'xx'" in languages
    assert bucket.startswith("b.yaml:7: brand 'acme': alerts.bucket_minutes: must divide a day")
    assert option == "b.yaml:11: brand 'acme': sources.file.fromat: unknown field"


def test_source_option_errors_use_the_same_words_as_the_others():
    found = problems(THREE_MISTAKES.replace("        fromat: csv\n", "        batch_size: 0\n"))
    assert "b.yaml:11: brand 'acme': sources.file.batch_size: Input should be greater than" in found[-1]


def test_errors_of_several_brands_and_duplicates_come_together_in_file_order():
    text = THREE_MISTAKES + "  - name: acme\n    query: ((acme\n    sources:\n      tiktok: {}\n"
    found = problems(text)
    assert len(found) == 6, found
    assert found[3].startswith("b.yaml:12: brand 'acme': name: brand name 'acme' is used twice")
    assert "(first at line 3)" in found[3]
    assert found[4].startswith("b.yaml:13: brand 'acme': query: query line 1")
    assert found[5].startswith("b.yaml:15: brand 'acme': sources.tiktok: unknown source")


@pytest.mark.parametrize("codes", [["en"], ["de", "pt-br", "PT_BR"], None])
def test_iso_language_codes_are_accepted(codes):
    text = "brands:\n  - name: acme\n    query: acme\n"
    if codes is not None:
        text += f"    languages: {codes}\n"
    assert parse_config(text).brands[0].languages == codes


def test_a_brand_name_with_a_space_gets_a_readable_message_without_a_regex():
    [problem] = problems("brands:\n  - name: Northwind Coffee\n    query: northwind\n")
    assert "must be a slug" in problem and "display_name" in problem and "[" not in problem


def test_a_query_nested_500_levels_is_one_error_not_a_traceback():
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query("NOT " * 500 + "acme")
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query("acme AND " + "(NOT " * 100 + "x" + ")" * 100)
    assert parse_query("(" * 500 + "acme" + ")" * 500)  # plain grouping is flat
    [problem] = problems(f'brands:\n  - name: acme\n    query: "{"NOT " * 500}acme"\n')
    assert problem.startswith("b.yaml:3: brand 'acme': query:") and "nested too deeply" in problem
