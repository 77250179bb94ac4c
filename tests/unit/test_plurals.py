"""Counted messages: ``Translator.ngettext`` picks English's form by the count and reads zh_CN's one form from the
catalog's plural entry (found by the singular msgid)."""

from __future__ import annotations

from pathlib import Path

import pytest

import piaowu.i18n as i18n
from piaowu.core.errors import RateLimited, TooManyAttempts
from piaowu.i18n import Translator
from piaowu.web.templating import error_message


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 seats selected"), (1, "1 seat selected"), (2, "2 seats selected"), (21, "21 seats selected")],
)
def test_english_takes_the_singular_for_exactly_one_and_the_plural_otherwise(n: int, expected: str):
    assert Translator("en").ngettext("{n} seat selected", "{n} seats selected", n, n=n) == expected


@pytest.mark.parametrize("n", [0, 1, 2, 21])
def test_chinese_reads_its_one_form_from_the_plural_entry(n: int):
    assert Translator("zh_CN").ngettext("{n} seat selected", "{n} seats selected", n, n=n) == f"已选 {n} 个座位"


def test_placeholders_other_than_the_count_are_filled_and_the_count_may_have_any_name():
    en, zh = Translator("en"), Translator("zh-CN")
    one = "Refunded: {amount} for {n} ticket."
    other = "Refunded: {amount} for {n} tickets."
    assert en.ngettext(one, other, 1, n=1, amount="¥80.00") == "Refunded: ¥80.00 for 1 ticket."
    assert en.ngettext(one, other, 3, n=3, amount="¥240.00") == "Refunded: ¥240.00 for 3 tickets."
    assert zh.ngettext(one, other, 3, n=3, amount="¥240.00") == "已退款：3 张票，共 ¥240.00。"
    minutes = ("Entry opens {minutes} minute before the start.", "Entry opens {minutes} minutes before the start.")
    assert en.ngettext(*minutes, 1, minutes=1) == "Entry opens 1 minute before the start."
    assert en.ngettext(*minutes, 30, minutes=30) == "Entry opens 30 minutes before the start."


def test_without_placeholders_the_chosen_form_comes_back_unfilled_for_a_script_to_fill():
    en = Translator("en")
    assert en.ngettext("{n} seat selected", "{n} seats selected", 1) == "{n} seat selected"
    assert en.ngettext("{n} seat selected", "{n} seats selected", 2) == "{n} seats selected"
    assert Translator("zh_CN").ngettext("{n} seat selected", "{n} seats selected", 1) == "已选 {n} 个座位"


def test_a_message_missing_from_the_catalog_falls_back_to_english_forms():
    zh = Translator("zh_CN")
    assert zh.ngettext("{n} unicorn", "{n} unicorns", 1, n=1) == "1 unicorn"
    assert zh.ngettext("{n} unicorn", "{n} unicorns", 5, n=5) == "5 unicorns"


def test_plain_gettext_still_reads_a_plural_entry_by_its_singular():
    # One table for both: ``_("{n} seat selected")`` and the plural call agree on the translation.
    assert Translator("zh_CN")("{n} seat selected", n=4) == "已选 4 个座位"


def test_an_untranslated_plural_entry_is_left_out_rather_than_shown_empty(tmp_path: Path, monkeypatch):
    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "t.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "{n} cat"\nmsgid_plural "{n} cats"\nmsgstr[0] ""\n\n'
        'msgid "{n} dog"\nmsgid_plural "{n} dogs"\nmsgstr[0] "{n} 只狗"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n._catalog.cache_clear()
    try:
        assert i18n.ngettext("xx", "{n} cat", "{n} cats", 2) == "{n} cats"
        assert i18n.ngettext("xx", "{n} dog", "{n} dogs", 2) == "{n} 只狗"
        assert i18n.ngettext("xx", "{n} dog", "{n} dogs", 1) == "{n} 只狗"
    finally:
        i18n._catalog.cache_clear()  # the real catalogs are read again by the next test


@pytest.mark.parametrize(
    ("minutes", "en", "zh"),
    [
        (1, "Too many failed attempts. Try again in 1 minute.", "失败次数过多，请 1 分钟后再试。"),
        (15, "Too many failed attempts. Try again in 15 minutes.", "失败次数过多，请 15 分钟后再试。"),
    ],
)
def test_a_counted_error_message_takes_its_form_from_its_data(minutes: int, en: str, zh: str):
    error = TooManyAttempts(minutes=minutes)
    assert str(error) == en  # the English message of the exception itself
    assert error_message(Translator("en"), error) == en
    assert error_message(Translator("zh_CN"), error) == zh
    assert str(RateLimited(retry_after=1)) == "Too many requests. Try again in 1 second."
    assert str(RateLimited(retry_after=30)) == "Too many requests. Try again in 30 seconds."
