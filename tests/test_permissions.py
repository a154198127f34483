"""The permission table (dispatch/permissions.py): who may use each capability, said once and asked by every
entry point. What each role may do through the API is asserted end to end by tests/test_role_matrix.py."""
from __future__ import annotations

import pytest

from core.errors import Forbidden
from dispatch.actor import Actor, evaluation_street
from dispatch.permissions import PERMISSIONS, may, require, roles_for
from dispatch.roles import ROLES, SYSTEM_ROLE


def test_every_permission_names_known_roles():
    for name, (roles, doing) in PERMISSIONS.items():
        assert roles and roles <= set(ROLES) | {SYSTEM_ROLE}, name
        assert doing, name


def test_require_names_the_roles_that_would_do():
    leader, officer = Actor("ann", frozenset({"leader"})), Actor("bo", frozenset({"grid_officer"}))
    assert require(leader, "read_statistics") is leader and may(leader, "read_officer_statistics")
    with pytest.raises(Forbidden, match="bo may not read the statistics: it needs the role admin, dept_head, "
                                        "dispatcher, leader, shift_leader"):
        require(officer, "read_statistics")
    assert not may(officer, "export_cases") and may(officer, "file_reports") and may(officer, "upload_photos")


def test_the_system_role_is_never_offered_in_a_message():
    with pytest.raises(Forbidden) as refused:
        require(Actor("hw", frozenset({"handler"})), "file_reports")
    assert SYSTEM_ROLE not in str(refused.value).split("role ")[1]


def test_an_unknown_permission_fails_loudly():
    with pytest.raises(KeyError):
        roles_for("fly")


def test_the_statistics_rules_ask_the_table():
    head = Actor("h", frozenset({"dept_head"}), department_code="S-012-HWS")
    assert evaluation_street(head, by="department") is None
    with pytest.raises(Forbidden, match="per grid officer: it needs the role leader"):
        evaluation_street(head, by="officer")
