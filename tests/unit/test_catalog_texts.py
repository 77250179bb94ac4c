"""Which language's text a reader sees, and how an edit changes the stored texts (catalog.texts)."""

from __future__ import annotations

import pytest

from piaowu.catalog.texts import content_locale, edited, merged, pick

BOTH = {"zh-CN": "新年音乐会", "en": "New Year Concert"}


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("en", "New Year Concert"), ("en-US", "New Year Concert"), ("zh_CN", "新年音乐会"), ("zh-CN", "新年音乐会")],
)
def test_the_reader_gets_their_language(wanted: str, expected: str) -> None:
    assert pick(BOTH, wanted, "新年音乐会") == expected


def test_a_missing_language_falls_back_to_the_default_then_the_plain_text_then_any() -> None:
    assert pick({"zh-CN": "音乐会"}, "en", "音乐会") == "音乐会"
    assert pick({"zh-CN": "音乐会", "en": "Concert"}, "fr", "", default="en") == "Concert"  # organizer's default
    assert pick({}, "en", "plain") == "plain"  # a row written before languages: its plain column
    assert pick({"en": "Concert"}, "zh-CN", "") == "Concert"  # whatever exists
    assert pick({"en": "", "zh-CN": ""}, "en", "") == ""
    assert pick(None, None, "x") == "x"


def test_an_empty_text_counts_as_missing() -> None:
    assert pick({"en": "", "zh-CN": "音乐会"}, "en", "音乐会") == "音乐会"


def test_content_locales_are_normalized_and_unknown_ones_are_none() -> None:
    assert [content_locale(x) for x in ("zh", "ZH-cn", "en_GB", "fr", "", None)] == [
        "zh-CN",
        "zh-CN",
        "en",
        None,
        None,
        None,
    ]


def test_merging_replaces_named_languages_and_an_empty_text_removes_one() -> None:
    assert merged(BOTH, {"en": "Gala", "zh-CN": ""}) == {"en": "Gala"}


def test_an_edit_of_the_plain_field_is_the_default_languages_text() -> None:
    assert edited("新年音乐会", BOTH, "元旦音乐会", None, "zh-CN") == ("元旦音乐会", {**BOTH, "zh-CN": "元旦音乐会"})
    # the map wins for the languages it names
    assert edited("", {}, "x", {"zh-CN": "甲", "en": "A"}, "zh-CN") == ("甲", {"zh-CN": "甲", "en": "A"})
    # an English-first organizer
    assert edited("", {}, "Gala", None, "en") == ("Gala", {"en": "Gala"})


def test_without_the_default_language_the_plain_column_holds_the_best_there_is() -> None:
    assert edited("", {}, None, {"en": "Gala"}, "zh-CN") == ("Gala", {"en": "Gala"})
    assert edited("新年音乐会", BOTH, None, {"zh-CN": ""}, "zh-CN") == ("New Year Concert", {"en": "New Year Concert"})


def test_a_row_written_with_only_its_plain_column_keeps_that_text_when_a_language_is_added() -> None:
    assert edited("大剧院", {}, None, {"en": "Grand Theatre"}, "zh-CN") == (
        "大剧院",
        {"zh-CN": "大剧院", "en": "Grand Theatre"},
    )
