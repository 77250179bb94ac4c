"""A change of the organizer's catalog language (``catalog.texts.rebased``): what the plain column becomes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from piaowu.catalog.texts import CONTENT_LOCALES, rebased


def test_the_plain_text_moves_to_the_new_language_where_it_has_one() -> None:
    both = {"zh-CN": "新年音乐会", "en": "New Year Concert"}
    assert rebased("新年音乐会", both, "zh-CN", "en") == ("New Year Concert", both)
    assert rebased("New Year Concert", both, "en", "zh-CN") == ("新年音乐会", both)


def test_a_text_without_the_new_language_keeps_the_old_one() -> None:
    assert rebased("西湖游船", {"zh-CN": "西湖游船"}, "zh-CN", "en") == ("西湖游船", {"zh-CN": "西湖游船"})


def test_a_plain_text_missing_from_the_map_is_kept_as_the_old_languages() -> None:
    # Rows written by code that set only the plain column: nothing written may be lost by the move.
    assert rebased("Evening", {}, "en", "zh-CN") == ("Evening", {"en": "Evening"})
    assert rebased("晚场", {"en": "Evening"}, "zh-CN", "en") == ("Evening", {"zh-CN": "晚场", "en": "Evening"})


def test_empty_stays_empty() -> None:
    assert rebased("", {}, "zh-CN", "en") == ("", {})


texts = st.dictionaries(st.sampled_from(CONTENT_LOCALES), st.text(min_size=1, max_size=5), max_size=2)
pairs = st.permutations(CONTENT_LOCALES).map(lambda p: (p[0], p[1]))


@given(texts, pairs)
def test_moves_keep_every_text_and_come_back(stored: dict[str, str], langs: tuple[str, str]) -> None:
    old, new = langs
    plain = stored.get(old) or next(iter(stored.values()), "")  # what the plain column holds (catalog.texts)
    moved, kept = rebased(plain, stored, old, new)
    assert all(kept[k] == v for k, v in stored.items())  # nothing lost
    assert moved == (kept.get(new) or kept.get(old) or plain)
    back, _ = rebased(moved, kept, new, old)
    assert back == (kept.get(old) or moved)  # and back again: the old language's text where it has one
