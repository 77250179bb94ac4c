"""core.inputs and piaowu.fields: names, times, searches and URLs from clients (issue 5). Pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from piaowu.catalog.schemas import EventPatch, SessionIn, SessionPatch, TicketTypePatch
from piaowu.core import inputs
from piaowu.core.errors import ValidationFailed
from piaowu.fields import NULL_MESSAGE, lenient
from piaowu.headers import page_csp
from piaowu.i18n import _catalog
from piaowu.orders.schemas import OrderItemIn
from piaowu.payments.service import RETURN_URL_MESSAGE


@pytest.mark.parametrize(
    "name",
    [
        "a\u202eb",
        "a\u202ab",
        "a\u2066b",
        "a\u2069",
        "\u061c",
        "a\x00b",
        "a\x07",
        "a\x1b[31m",
        "a\x7f",
        "a\x85",
        "a\x9b",
        "line\nbreak",
        "tab\there",
    ],  # fmt: skip
)
def test_names_with_control_or_direction_characters_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        inputs.clean_name(name)


@pytest.mark.parametrize("name", ["张三", "  Zhang San ", "O'Brien-Smith", "🎫 VIP", "عربي", "a\u200db"])
def test_ordinary_names_pass_trimmed(name: str) -> None:
    assert inputs.clean_name(name) == name.strip()


def test_multi_line_text_keeps_line_breaks_and_tabs_but_not_other_controls() -> None:
    assert inputs.clean_text("line 1\nline 2\r\n\tend") == "line 1\nline 2\r\n\tend"
    for bad in ("a\u202eb", "a\x08b", "a\x00"):
        with pytest.raises(ValueError):
            inputs.clean_text(bad)


def test_checked_name_raises_a_field_error() -> None:
    assert inputs.checked_name("name", " Box office ") == "Box office"
    for bad in ("x\u202e", "", "   ", "x" * 201):
        with pytest.raises(ValidationFailed) as exc:
            inputs.checked_name("name", bad)
        assert exc.value.errors[0]["field"] == "name"


@pytest.mark.parametrize(
    ("term", "escaped"), [("%", "\\%"), ("_", "\\_"), ("\\", "\\\\"), ("a%b_c\\", "a\\%b\\_c\\\\"), ("张三", "张三")]
)
def test_like_terms_are_escaped(term: str, escaped: str) -> None:
    assert inputs.escape_like(term) == escaped


def test_fit_cuts_to_the_length() -> None:
    assert inputs.fit("x" * 10, 10) == "x" * 10
    assert len(inputs.fit("名" * 401, 200)) == 200


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2200, 1, 1, tzinfo=UTC),
    ],
)
def test_moments_outside_the_range_are_refused_without_overflow(value: datetime) -> None:
    with pytest.raises(ValueError, match="1970 and 2199"):
        inputs.in_time_range(value)


def test_moments_at_the_ends_of_the_range_pass() -> None:
    assert inputs.in_time_range(inputs.EARLIEST) == inputs.EARLIEST
    assert inputs.in_time_range(inputs.LATEST) == inputs.LATEST
    # The same instants written with an offset (converting them to any zone stays far from year 1 / 9999).
    east = inputs.EARLIEST.astimezone(timezone(timedelta(hours=14)))
    assert inputs.in_time_range(east) == east


ALLOWED = ["https://shop.example.com", "http://127.0.0.1:8000"]


@pytest.mark.parametrize(
    "url",
    ["https://shop.example.com/orders/1?x=1", "https://SHOP.example.com:443/back", "http://127.0.0.1:8000/s/a"],
)
def test_return_urls_on_allowed_origins_pass(url: str) -> None:
    assert inputs.is_allowed_url(url, ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "https://evil.example/",
        "https://shop.example.com.evil.example/",
        "https://shop.example.com@evil.example/",
        "https://user:pw@shop.example.com/",
        "http://shop.example.com/",  # http is another origin than https
        "https://shop.example.com:8443/",
        "//shop.example.com/x",
        "/relative/path",
        "https://shop.example.com\\@evil.example/",
        "https://shop.example.com/\tx",
        "https://shop.example.com:99999/",
        "",
    ],
)
def test_other_return_urls_are_refused(url: str) -> None:
    assert not inputs.is_allowed_url(url, ALLOWED)


@pytest.mark.parametrize("target", ["/manage", "/manage/orders?status=paid&q=%25", "/gate"])
def test_local_paths(target: str) -> None:
    assert inputs.is_local_path(target)


@pytest.mark.parametrize(
    "target",
    [
        "",
        "manage",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "https://evil/",
        "javascript:alert(1)",
        "/\x00",
    ],  # fmt: skip
)
def test_paths_that_could_leave_the_site(target: str) -> None:
    assert not inputs.is_local_path(target)


def test_api_bodies_are_strict_and_page_forms_lenient() -> None:
    for bad in (True, "2", 2.0):
        with pytest.raises(ValidationError):
            OrderItemIn.model_validate({"ticket_type_id": "x", "quantity": bad})
    # Times (ISO strings) and enum values still parse from JSON-shaped input.
    s = SessionIn.model_validate(
        {
            "starts_at": "2026-07-01T19:30:00+08:00",
            "ends_at": "2026-07-01T22:00:00+08:00",
            "capacity": 1,
            "status": "on_sale",
        }  # fmt: skip
    )
    assert s.status == "on_sale" and s.starts_at.utcoffset() == timedelta(hours=8)
    form = lenient(SessionPatch, {"capacity": "10", "admission_opens_minutes": "60"})
    assert form.capacity == 10 and form.admission_opens_minutes == 60


def test_patches_refuse_null_except_where_it_clears_a_value() -> None:
    for model, field in ((EventPatch, "name"), (SessionPatch, "capacity"), (TicketTypePatch, "price_minor")):
        with pytest.raises(ValidationError) as exc:
            model.model_validate({field: None})
        assert exc.value.errors()[0]["loc"] == (field,)
        assert NULL_MESSAGE in exc.value.errors()[0]["msg"]
    assert SessionPatch.model_validate({"sales_start": None}).model_fields_set == {"sales_start"}
    assert TicketTypePatch.model_validate({"quota": None}).model_fields_set == {"quota"}


def test_page_policy_allows_only_own_code_and_the_configured_return_origins() -> None:
    csp = page_csp(["https://shop.example.com/path", "not a url"])
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
    assert "form-action 'self' https://shop.example.com;" in csp


def test_the_new_sentences_are_translated() -> None:
    catalog = _catalog("zh_CN")
    for message in (inputs.NAME_MESSAGE, inputs.BLANK_MESSAGE, inputs.TIME_RANGE_MESSAGE, NULL_MESSAGE,
                    RETURN_URL_MESSAGE, "Enter a name of 1 to 200 characters."):  # fmt: skip
        assert message in catalog, message
