"""Nobody gives a role, or a permission, they do not hold (accounts.permissions.can_grant / can_manage)."""

from __future__ import annotations

import itertools

import pytest

from piaowu.accounts.permissions import Role, can_grant, can_manage, grantable_roles, permissions_for


@pytest.mark.parametrize(("giver", "role"), list(itertools.product(Role, Role)))
def test_a_role_is_given_only_by_someone_holding_all_its_permissions(giver: Role, role: Role) -> None:
    mine = permissions_for(giver)
    assert can_grant(mine, role) == (permissions_for(role) <= mine)
    assert can_manage(mine, role) == can_grant(mine, role)


def test_only_owners_give_or_manage_the_owner_role() -> None:
    assert [r for r in Role if can_grant(permissions_for(r), Role.OWNER)] == [Role.OWNER]
    assert [r for r in Role if can_manage(permissions_for(r), Role.OWNER)] == [Role.OWNER]


def test_an_admin_gives_admin_and_below_never_owner() -> None:
    assert grantable_roles(permissions_for(Role.ADMIN)) == [r for r in Role if r != Role.OWNER]
    assert grantable_roles(permissions_for(Role.OWNER)) == list(Role)
    # A gate member holds catalog.read and checkin.scan: only a role within that (gate itself).
    assert grantable_roles(permissions_for(Role.GATE)) == [Role.GATE]


def test_unknown_roles_and_empty_holders_give_nothing() -> None:
    assert not can_grant(permissions_for(Role.OWNER), "superuser")
    assert not can_grant(frozenset(), Role.GATE)
    assert can_grant(frozenset({"*"}), Role.OWNER)  # the system (CLI, set-up)
    assert not can_grant(frozenset({"*"}), "superuser")


def test_the_role_table_in_docs_api_md_matches_the_code() -> None:
    from pathlib import Path

    from piaowu.accounts.permissions import ROLE_PERMISSIONS, Permission

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    for p in Permission:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{p.value}` |"))
        marks = [cell.strip() == "✓" for cell in row.strip("|").split("|")[1:]]
        assert marks == [p in ROLE_PERMISSIONS[r] for r in Role], p
