"""Scripted scenarios: cases walked through every state and loop, checking history, deadlines and counters."""
from datetime import timedelta

import pytest

from core.errors import Conflict, Forbidden, InvalidInput
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.casework.deadlines import due, load_calendar
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from events.service import get_case
from tests.people import actor

ZUMIAO_PT = (113.12, 23.02)


class Flow:
    """Drives cases through the service layer as the people of tests/people.py, one transaction per step."""

    def __init__(self, conn, policy=None):
        self.conn, self.policy = conn, policy or Policy()

    def report(self, who="officer", category="0102", at=ZUMIAO_PT, **kw):
        done = submit_report(self.conn, actor=actor(who), policy=self.policy, category_code=category,
                             lon=at[0], lat=at[1], **kw)
        self.conn.commit()
        return done

    def photo(self, who):
        photo_id = case_repo.insert_attachment(self.conn, storage_key="ab/" + "a" * 64 + ".jpg",
                                               content_type="image/jpeg", size_bytes=10, width=4, height=3,
                                               sha256="a" * 64, uploaded_by=who)
        self.conn.commit()
        return photo_id

    def do(self, case_id, action, who, **request):
        try:
            done = act(self.conn, case_id=case_id, action=action, actor=actor(who), policy=self.policy,
                       request=Request(**request))
        except Exception:
            self.conn.rollback()
            raise
        self.conn.commit()
        return done

    def case(self, case_id):
        return get_case(self.conn, case_id=case_id)

    def steps(self, case_id):
        return [(h.action, h.actor, h.to_status) for h in self.case(case_id).history]

    def expected_due(self, case, start, *, limit=None):
        return due(load_calendar(self.conn), start=start, limit=limit or case.time_limit, policy=self.policy).due


@pytest.fixture
def flow(conn):
    return Flow(conn)


def test_the_main_path_from_report_to_close(flow):
    new = flow.report(description="垃圾满溢")
    assert (new.status, new.department_code) == ("dispatched", "S-012-HWS")
    case = flow.case(new.case_id)
    assert case.time_limit == "4wh" and case.dispatch_count == 1 and case.light == "green"
    assert case.deadline == flow.expected_due(case, case.dispatched_at)
    flow.do(new.case_id, "accept", "hws")
    flow.do(new.case_id, "handle", "hws", note="已清运", attachments=[flow.photo("hws")])
    handled = flow.case(new.case_id)
    assert handled.status == "handled" and handled.check_deadline is not None
    assert handled.history[-1].attachments and handled.history[-1].department_code == "S-012-HWS"
    flow.do(new.case_id, "check_ok", "officer")
    flow.do(new.case_id, "close", "shift")
    closed = flow.case(new.case_id)
    assert closed.status == "closed" and closed.closed_at is not None and closed.light is None
    assert flow.steps(new.case_id) == [
        ("report", "officer", "reported"), ("register", "officer", "registered"),
        ("dispatch", "system", "dispatched"), ("accept", "hws", "accepted"), ("handle", "hws", "handled"),
        ("check_ok", "officer", "checked"), ("close", "shift", "closed")]
    assert [h.actor_role for h in closed.history][-4:] == ["handler", "handler", "grid_officer", "shift_leader"]


def test_return_goes_to_the_dispatcher_and_a_new_dispatch_starts_a_new_deadline(flow):
    new = flow.report(category="0110")  # 道路破损 → district 市政 by the sample rules
    assert new.department_code == "D-SZGL"
    with pytest.raises(InvalidInput, match="needs a reason"):
        flow.do(new.case_id, "return", "szgl")
    flow.do(new.case_id, "return", "szgl", note="人行道属街道管养，非市政道路")
    returned = flow.case(new.case_id)
    assert (returned.status, returned.department_code, returned.deadline) == ("returned", None, None)
    assert returned.return_count == 1 and returned.history[-1].department_code == "D-SZGL"
    decisions = flow.conn.execute("SELECT count(*) FROM routing_decision WHERE case_id = %s",
                                  (new.case_id,)).fetchone()[0]
    with pytest.raises(InvalidInput, match="the rules send case .* to D-SZGL, which returned it"):
        flow.do(new.case_id, "dispatch", "dispatcher")
    assert flow.conn.execute("SELECT count(*) FROM routing_decision WHERE case_id = %s",
                             (new.case_id,)).fetchone()[0] == decisions  # the refusal wrote nothing
    with pytest.raises(InvalidInput, match="unknown department 'NOPE'"):
        flow.do(new.case_id, "dispatch", "dispatcher", department_code="NOPE")
    flow.do(new.case_id, "dispatch", "dispatcher", department_code="S-012-CGZD")
    again = flow.case(new.case_id)
    assert (again.status, again.department_code, again.dispatch_count) == ("dispatched", "S-012-CGZD", 2)
    redispatch = again.history[-1]
    assert (redispatch.action, redispatch.actor, redispatch.department_code) == ("dispatch", "dispatcher", "S-012-CGZD")
    assert again.dispatched_at == redispatch.at > returned.history[-1].at  # a new clock, from the new dispatch
    assert again.deadline == redispatch.deadline == flow.expected_due(again, again.dispatched_at)
    with pytest.raises(Forbidden, match="outside their scope"):
        flow.do(new.case_id, "accept", "szgl")  # the old department no longer holds it
    flow.do(new.case_id, "accept", "cgzd")


def test_a_failed_check_is_rework_for_the_same_department_with_a_new_deadline(flow):
    new = flow.report()
    flow.do(new.case_id, "accept", "hws")
    flow.do(new.case_id, "handle", "hws", note="已清理", attachments=[flow.photo("hws")])
    first = flow.case(new.case_id)
    with pytest.raises(InvalidInput, match="needs a reason"):
        flow.do(new.case_id, "check_fail", "officer")
    flow.do(new.case_id, "check_fail", "officer", note="现场仍有垃圾")
    rework = flow.case(new.case_id)
    assert (rework.status, rework.department_code, rework.rework_count) == ("accepted", "S-012-HWS", 1)
    assert rework.handled_at is None and rework.deadline >= first.deadline
    assert rework.deadline == flow.expected_due(rework, rework.history[-1].at)
    assert rework.history[-1].detail == {"rework": True}
    flow.do(new.case_id, "handle", "hws", note="二次清理", attachments=[flow.photo("hws")])
    flow.do(new.case_id, "check_ok", "officer")
    assert flow.case(new.case_id).rework_count == 1


def test_extension_approved_moves_the_deadline_and_refused_keeps_it(flow):
    new = flow.report()
    flow.do(new.case_id, "accept", "hws")
    before = flow.case(new.case_id)
    flow.do(new.case_id, "request_extension", "hws", note="需调运大型设备")
    later = before.deadline + timedelta(days=2)
    with pytest.raises(Forbidden, match="needs the role shift_leader"):
        flow.do(new.case_id, "approve_extension", "dispatcher", new_deadline=later)
    with pytest.raises(InvalidInput, match="needs new_deadline"):
        flow.do(new.case_id, "approve_extension", "shift")
    with pytest.raises(InvalidInput, match="must be later"):
        flow.do(new.case_id, "approve_extension", "shift", new_deadline=before.deadline - timedelta(hours=1))
    requested = flow.case(new.case_id)
    assert requested.status == "extension_requested" and requested.history[-1].note == "需调运大型设备"
    assert requested.extension_count == 0 and requested.deadline == before.deadline  # nothing moves on a request
    flow.do(new.case_id, "approve_extension", "shift", new_deadline=later)
    extended = flow.case(new.case_id)
    assert (extended.status, extended.deadline, extended.extension_count) == ("accepted", later, 1)
    assert before.yellow_at < extended.yellow_at < later
    approval = extended.history[-1]
    assert (approval.action, approval.actor_role, approval.deadline) == ("approve_extension", "shift_leader", later)
    assert approval.detail["old_deadline"] == before.deadline.isoformat()
    flow.do(new.case_id, "request_extension", "hws", note="再延期")
    with pytest.raises(InvalidInput, match="needs a reason"):
        flow.do(new.case_id, "refuse_extension", "shift")
    flow.do(new.case_id, "refuse_extension", "shift", note="理由不充分")
    refused = flow.case(new.case_id)
    assert (refused.status, refused.deadline, refused.extension_count) == ("accepted", later, 1)
    assert [(h.action, h.to_status) for h in refused.history[-2:]] == [
        ("request_extension", "extension_requested"), ("refuse_extension", "accepted")]
    assert refused.history[-1].note == "理由不充分"


def test_public_report_waits_for_verification_by_the_grid_officer(flow):
    new = flow.report(who="intake", public=True, source="open311")
    assert new.status == "awaiting_verification"
    with pytest.raises(Forbidden, match="outside their scope"):
        flow.do(new.case_id, "register", "officer2")  # 石湾's officer, not this grid's
    verified = flow.do(new.case_id, "register", "officer", note="现场核实属实")
    assert (verified.to_status, verified.department_code) == ("dispatched", "S-012-HWS")  # routed at once
    case = flow.case(new.case_id)
    assert [(h.action, h.actor, h.to_status) for h in case.history] == [
        ("report", "intake", "reported"), ("await_verification", "system", "awaiting_verification"),
        ("register", "officer", "registered"), ("dispatch", "system", "dispatched")]
    assert case.deadline == flow.expected_due(case, case.dispatched_at) and case.dispatch_count == 1
    second = flow.report(who="intake", public=True, source="open311")
    flow.do(second.case_id, "reject", "officer", note="现场无此问题")
    assert flow.case(second.case_id).status == "rejected"
    with pytest.raises(InvalidInput, match="cannot be reported by the public"):
        flow.report(who="intake", category="0601", public=True)


def test_duplicate_is_offered_then_merged_with_links_both_ways(flow):
    first = flow.report()
    second = flow.report(at=(113.12005, 23.02005), description="同一处垃圾")
    assert [d["id"] for d in second.duplicates] == [first.case_id]
    assert second.status == "registered" and second.department_code is None  # held for a person to decide
    with pytest.raises(InvalidInput, match="merge needs into_case_id"):
        flow.do(second.case_id, "merge", "dispatcher")
    flow.do(second.case_id, "merge", "dispatcher", into_case_id=first.case_id, note="重复上报")
    merged, target = flow.case(second.case_id), flow.case(first.case_id)
    assert merged.status == "merged" and merged.merged_into == first.case_id
    assert target.merged_cases == [second.case_id] and second.report_id in target.report_ids
    assert target.history[-1].action == "merged_in" and target.status == "dispatched"
    far = flow.report(at=(113.1187, 23.0300))
    assert far.duplicates == [] and far.status == "dispatched"


def test_a_sensor_duplicate_merges_by_rule(flow):
    first = flow.report(category="0406", at=(113.1050, 23.0420))
    feed = flow.report(who="intake", category="0406", at=(113.1051, 23.0421), source="sensor")
    assert feed.status == "merged" and flow.case(feed.case_id).merged_into == first.case_id


def test_reject_needs_a_reason_and_reopen_is_audited(flow):
    new = flow.report(who="intake")  # not a grid officer: waits for intake
    assert new.status == "reported"
    with pytest.raises(InvalidInput, match="needs a reason"):
        flow.do(new.case_id, "reject", "intake")
    flow.do(new.case_id, "reject", "intake", note="不属于城市管理范围")
    with pytest.raises(Conflict, match="it is rejected"):
        flow.do(new.case_id, "register", "intake")
    with pytest.raises(InvalidInput, match="needs a reason"):
        flow.do(new.case_id, "reopen", "shift")
    flow.do(new.case_id, "reopen", "shift", note="复核后属于受理范围")
    reopened = flow.case(new.case_id)
    assert reopened.status == "registered"
    assert [h.action for h in reopened.history] == ["report", "reject", "reopen"]
    assert reopened.history[-1].note == "复核后属于受理范围" and reopened.history[-1].actor == "shift"


def test_close_on_check_merges_the_roles(conn):
    flow = Flow(conn, Policy(close_on_check=True))
    new = flow.report()
    flow.do(new.case_id, "accept", "hws")
    flow.do(new.case_id, "handle", "hws", note="ok", attachments=[flow.photo("hws")])
    done = flow.do(new.case_id, "check_ok", "officer")
    assert done.to_status == "closed" and flow.case(new.case_id).status == "closed"
    assert flow.steps(new.case_id)[-2:] == [("check_ok", "officer", "checked"), ("close", "system", "closed")]


def test_refusals_change_nothing(flow):
    new = flow.report()
    before = flow.case(new.case_id)
    refusals = [
        ("accept", "officer", {}, Forbidden, "needs the role dept_head, handler"),
        ("accept", "cgzd", {}, Forbidden, "outside their scope"),
        ("handle", "hws", {"note": "x"}, Conflict, "it is dispatched"),
        ("close", "shift", {}, Conflict, "close needs it to be checked"),
        ("fly", "hws", {}, InvalidInput, "unknown action 'fly'"),
    ]
    for action, who, req, error, message in refusals:
        with pytest.raises(error, match=message):
            flow.do(new.case_id, action, who, **req)
    flow.do(new.case_id, "accept", "hws")
    with pytest.raises(InvalidInput, match="needs at least one photo"):
        flow.do(new.case_id, "handle", "hws", note="done")
    with pytest.raises(InvalidInput, match=r"attachment\(s\) \[\d+\] are unknown, not yours"):
        flow.do(new.case_id, "handle", "hws", note="done", attachments=[flow.photo("cgzd")])
    with pytest.raises(Conflict, match="changed since you loaded it"):
        flow.do(new.case_id, "request_extension", "hws", note="x", expected_version=before.version)
    after = flow.case(new.case_id)
    assert after.status == "accepted" and len(after.history) == len(before.history) + 1
    with pytest.raises(Exception, match="no case 424242"):
        flow.do(424242, "accept", "hws")


def test_urgent_cases_use_the_urgent_limit(flow):
    new = flow.report(urgent=True)
    case = flow.case(new.case_id)
    assert case.urgent and case.time_limit == "1wh"


def test_a_reopened_case_waits_for_the_dispatcher_who_may_let_the_rules_choose(flow):
    new = flow.report(who="intake")  # waits in `reported`
    flow.do(new.case_id, "reject", "intake", note="误报")
    flow.do(new.case_id, "reopen", "shift", note="复核属实")
    assert flow.case(new.case_id).status == "registered"  # a reopen is not routed by itself
    done = flow.do(new.case_id, "dispatch", "dispatcher")
    assert done.department_code == "S-012-HWS"
    why = flow.conn.execute("SELECT explanation FROM routing_decision WHERE case_id = %s", (new.case_id,)).fetchone()
    assert "sent it to S-012-HWS" in why[0]
