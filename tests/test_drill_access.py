"""The access drill's scope part, small: scoped readers on cases of five departments in two streets, through the
live stream, the case API and pages, /api/media and Open311's media URLs (tests/drills/access.py)."""
from tests.drills.access import QUICK_WATCHERS, exercise


def test_no_reader_gets_a_case_photo_or_event_outside_their_scope(chancheng_url, tmp_path):
    tally, figures = exercise(chancheng_url, str(tmp_path), watchers=QUICK_WATCHERS, matrix=False)
    assert tally.wrong == [] and tally.cross_scope == []
    assert tally.checks > 500
    assert figures["stream events out of scope"] == 0 and figures["stream events missed"] == 0
    assert figures["stream events"] > 0
