"""The language of the labels: chosen, or read once from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from segment_tui import i18n


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    yield
    i18n.set_language(None)


def test_the_environment_is_read_when_the_language_is_left_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LANG", "nl_NL")
    i18n.set_language(None)

    assert i18n.language() == "nl"
    assert i18n._("Apply") == i18n._CATALOGS["nl"]["Apply"]


def test_a_chosen_language_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENT_TUI_LANG", "nl")
    i18n.set_language("EN_gb")

    assert i18n.language() == "en"
    assert i18n._("Apply") == "Apply"


def test_the_environment_is_read_once_until_the_language_is_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every label asks for the language; reading os.environ each time cost more
    # than the rest of the translation.
    monkeypatch.setenv("SEGMENT_TUI_LANG", "en")
    i18n.set_language(None)
    assert i18n.language() == "en"

    monkeypatch.setenv("SEGMENT_TUI_LANG", "nl")
    assert i18n.language() == "en"
    i18n.set_language(None)
    assert i18n.language() == "nl"
