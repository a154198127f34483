"""Public reports wait for verification: the grid's officer first, else any officer of the street, else the
dispatchers; each in turn is told, and may act."""
import pytest

from core.errors import Forbidden
from dispatch.accounts import add_user
from dispatch.actor import Actor
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.casework.outbox import deliver, inbox
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from gis.locator import locate

P1, P2, NANZHUANG = (113.1187, 23.0300), (113.1220, 23.0120), (113.0300, 22.9850)


def grid(conn, point):
    return locate(conn, lon=point[0], lat=point[1], crs="EPSG:4326").grid.code


def officer(name, grid_code):
    return Actor(name, frozenset({"grid_officer"}), frozenset({grid_code}))


def public(conn, point):
    intake = Actor("gateway", frozenset({"intake"}))
    return submit_report(conn, actor=intake, policy=Policy(), category_code="0102", lon=point[0], lat=point[1],
                         public=True, source="open311").case_id


def told(conn, username, case_id):
    deliver(conn)
    return any(m["case_id"] == case_id for m in inbox(conn, username=username))


def test_the_street_stands_in_for_a_grid_without_an_officer_then_the_dispatchers(conn):
    g1, g2 = grid(conn, P1), grid(conn, P2)
    assert g1 != g2 and g1[:9] == g2[:9] == "440604012"
    add_user(conn, username="o1", roles=["grid_officer"], password="x" * 12, grid_codes=[g1])
    add_user(conn, username="disp", roles=["dispatcher"], password="x" * 12)
    case = public(conn, P2)  # nobody covers g2: o1, of the same street, is told and may verify
    assert told(conn, "o1", case) and not told(conn, "disp", case)
    assert [r["id"] for r in case_repo.uncovered_awaiting(conn, grids=[g1], limit=10)] == [case]  # o1's queue
    done = act(conn, case_id=case, action="register", actor=officer("o1", g1), policy=Policy(),
               request=Request(note="核实属实"))
    assert done.to_status == "dispatched"

    add_user(conn, username="o2", roles=["grid_officer"], password="x" * 12, grid_codes=[g2])
    covered = public(conn, P2)  # now g2 has its own officer: only o2 is told, and o1 may not act
    assert told(conn, "o2", covered) and not told(conn, "o1", covered)
    with pytest.raises(Forbidden, match="outside their scope"):
        act(conn, case_id=covered, action="reject", actor=officer("o1", g1), policy=Policy(),
            request=Request(note="x"))

    nobody = public(conn, NANZHUANG)  # no officer anywhere in 南庄: the dispatchers
    assert told(conn, "disp", nobody) and not told(conn, "o1", nobody)
    act(conn, case_id=nobody, action="register", actor=Actor("disp", frozenset({"dispatcher"})), policy=Policy())
