"""Every error a client can see has a zh-CN translation (a new error without one fails the build).

Sources checked: the message templates of every DomainError class, the field messages services and schemas
attach to validation errors (found by reading the source, so a new one is picked up automatically), the
messages passed to error classes instead of their template, and the API's own sentences.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from babel.messages.pofile import read_po

import piaowu
from piaowu.api import errors as api_errors
from piaowu.api import guards
from piaowu.core import errors
from piaowu.i18n import LOCALES_DIR, _catalog

SRC = Path(piaowu.__file__).resolve().parent
ERRORS_PO = LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "errors.po"
# Pages translate their own strings in their catalogs; these raise programming errors, never shown to users.
SKIP = {"web", "cli.py", "demo.py", "core/money.py", "db/types.py", "migrations"}


def _all_error_classes(cls: type[errors.DomainError] = errors.DomainError) -> list[type[errors.DomainError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_error_classes(sub))
    return out


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _source_files() -> list[Path]:
    files = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if not any(rel == s or rel.startswith(s + "/") for s in SKIP):
            files.append(path)
    return files


def _messages_in_source() -> dict[str, str]:
    """message → where it was found: ``{"message": "…"}`` dicts, ``raise ValueError("…")`` in schemas,
    ``SomeError("…")`` with an explicit message, and ``reason="…"`` of RefundNotAllowed."""
    error_names = {c.__name__ for c in _all_error_classes()}
    found: dict[str, str] = {}
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(SRC).as_posix()
        # ``message = "…"`` then ``{"message": message}``: the sentence is the name's string (seathot's
        # seated_capacity message went out untranslated that way).
        named = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if not (isinstance(key, ast.Constant) and key.value == "message"):
                        continue
                    if isinstance(value, ast.Constant):
                        found[value.value] = where
                    elif isinstance(value, ast.Name) and value.id in named:
                        found[named[value.id]] = where
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                name = node.func.id
                first = node.args[0] if node.args else None
                if name in error_names and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found[first.value] = where
                if name == "ValueError" and where.endswith("schemas.py") and isinstance(first, ast.Constant):
                    found[first.value] = where
                for kw in node.keywords:
                    if kw.arg == "reason" and isinstance(kw.value, ast.Constant) and name == "RefundNotAllowed":
                        found[kw.value.value] = where
    return found


def _api_messages() -> list[str]:
    return [
        *api_errors.PYDANTIC_MESSAGES.values(),
        api_errors.INVALID_EMAIL,
        "Not found.",
        "Method not allowed.",
        "Something went wrong on our side; nothing was charged.",
        guards._NUL_MESSAGE,
    ]


def test_every_domain_error_message_has_a_zh_cn_translation_with_the_same_placeholders():
    catalog = _catalog("zh_CN")
    classes = _all_error_classes()
    assert len(classes) >= 25  # the walk really found the classes
    missing = [f"{c.__name__}: {c.message!r}" for c in classes if c.message not in catalog]
    assert not missing, "add these to i18n/locales/zh_CN/LC_MESSAGES/errors.po:\n" + "\n".join(missing)
    for c in classes:
        assert _placeholders(catalog[c.message]) == _placeholders(c.message), c.__name__


def _plural_entries() -> dict[str, tuple[str, str]]:
    """singular msgid → (msgid_plural, msgstr[0]) of every translated plural entry in the zh_CN catalogs."""
    entries: dict[str, tuple[str, str]] = {}
    for path in sorted(ERRORS_PO.parent.glob("*.po")):
        with path.open("rb") as fh:
            for m in read_po(fh, locale="zh_CN"):
                if isinstance(m.id, tuple) and m.string and m.string[0] and not m.fuzzy:
                    entries[m.id[0]] = (m.id[1], m.string[0])
    return entries


def test_the_api_counted_field_messages_are_zh_cn_plural_entries():
    entries = _plural_entries()
    assert "string_too_short" in api_errors.PYDANTIC_COUNTED
    for one, other, by in api_errors.PYDANTIC_COUNTED.values():
        assert by in _placeholders(one) and one in entries, one
        assert entries[one][0] == other and _placeholders(entries[one][1]) == _placeholders(other), one


def test_every_counted_error_message_is_a_zh_cn_plural_entry_with_both_english_forms():
    """A class with ``message_plural`` is translated through a plural entry found by its singular ``message``:
    without one (or with another ``msgid_plural``) Chinese readers would get English."""
    entries = _plural_entries()
    counted = [c for c in _all_error_classes() if c.message_plural is not None]
    assert {c.__name__ for c in counted} >= {"TooManyAttempts", "RateLimited"}  # the walk finds them
    for c in counted:
        assert c.counted_by in _placeholders(c.message), c.__name__
        assert c.message in entries, f"add a plural entry for {c.__name__}: {c.message!r} / {c.message_plural!r}"
        plural, zh = entries[c.message]
        assert plural == c.message_plural, c.__name__
        assert _placeholders(zh) == _placeholders(c.message) == _placeholders(c.message_plural), c.__name__


def test_every_field_message_of_services_and_schemas_is_translated():
    catalog = _catalog("zh_CN")
    found = _messages_in_source()
    assert "No such ticket type." in found and "Enter a valid mobile number." in found  # the scan works
    missing = [f"{where}: {msg!r}" for msg, where in sorted(found.items()) if msg not in catalog]
    assert not missing, "add these to errors.po:\n" + "\n".join(missing)


def test_the_api_own_sentences_are_translated_with_the_same_placeholders():
    catalog = _catalog("zh_CN")
    missing = [m for m in _api_messages() if m not in catalog]
    assert not missing, missing
    for m in _api_messages():
        assert _placeholders(catalog[m]) == _placeholders(m), m


def test_refund_reasons_for_every_non_refundable_order_state_are_translated():
    # refunds.py builds "the order is {status}"; each state it can name needs its sentence.
    from piaowu.orders.states import REFUNDABLE, OrderStatus

    catalog = _catalog("zh_CN")
    for status in set(OrderStatus) - set(REFUNDABLE):
        assert f"the order is {status}" in catalog, status


def test_errors_po_agrees_with_the_other_catalogs():
    """The same English sentence must not be translated two ways (the last catalog loaded would win)."""
    with ERRORS_PO.open("rb") as fh:
        ours = {m.id: m.string for m in read_po(fh) if m.id}
    assert all(ours.values()), [k for k, v in ours.items() if not v]
    for path in sorted(ERRORS_PO.parent.glob("*.po")):
        if path == ERRORS_PO:
            continue
        with path.open("rb") as fh:
            for m in read_po(fh):
                if m.id in ours and m.string and not m.fuzzy:
                    assert m.string == ours[m.id], f"{path.name}: {m.id!r} → {m.string!r} vs {ours[m.id]!r}"


def test_no_translation_leaks_latin_placeholders_or_english_sentences():
    with ERRORS_PO.open("rb") as fh:
        for m in read_po(fh):
            if not m.id:
                continue
            text = m.string if isinstance(m.string, str) else m.string[0]  # a plural entry: zh's one form
            assert re.search(r"[\u4e00-\u9fff]", text), f"not translated to Chinese: {m.id!r}"


def test_every_kind_a_not_found_names_is_translated():
    """``NotFound(kind=…)`` says "找不到该{kind}。": an untranslated kind showed English inside Chinese
    ("找不到该seat map。")."""
    catalog = _catalog("zh_CN")
    kinds = {
        kind
        for path in SRC.rglob("*.py")
        for kind in re.findall(r'NotFound\(kind="([^"]+)"\)', path.read_text(encoding="utf-8"))
    }
    assert {"venue", "seat map", "event"} <= kinds  # the scan works
    assert not sorted(k for k in kinds if k not in catalog)
