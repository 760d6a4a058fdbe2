"""The demo's enrich tasks run one at a time under dag.test(), so they get every usable core."""

import pytest

from brandpulse.dev import demo


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_threads_become_the_usable_cores(monkeypatch, value):
    monkeypatch.setattr(demo, "usable_cores", lambda: 6)
    monkeypatch.setenv("BRANDPULSE_TORCH_THREADS", value or "")  # restored after the test
    if value is None:
        monkeypatch.delenv("BRANDPULSE_TORCH_THREADS")
    assert demo.demo_torch_threads() == 6
    assert demo.os.environ["BRANDPULSE_TORCH_THREADS"] == "6"


def test_a_chosen_thread_count_wins(monkeypatch):
    monkeypatch.setattr(demo, "usable_cores", lambda: 6)
    monkeypatch.setenv("BRANDPULSE_TORCH_THREADS", "1")
    assert demo.demo_torch_threads() == 1


def test_usable_cores_is_at_least_one():
    assert demo.usable_cores() >= 1


def test_a_bad_thread_count_is_refused_by_name(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("BRANDPULSE_TORCH_THREADS", "many")
    with pytest.raises(ValidationError, match="BRANDPULSE_TORCH_THREADS"):
        demo.demo_torch_threads()
