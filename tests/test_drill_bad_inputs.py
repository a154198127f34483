"""The bad-input drill's whole catalogue (tests/drills/bad_requests.py and bad_files.py) in the normal suite, through
FastAPI's TestClient on a copy of the Chancheng template: every bad input is refused with a message that says what
was wrong (a 4xx, a skipped row naming its line, a one-line refusal of the command), never a 5xx or a traceback,
and the database is unchanged (an events file adds exactly its good rows)."""
import psycopg

from tests.drills.bad_inputs import CAST, TARGETS, client, exercise, faults, figures
from tests.drills.common import met
from tests.people import add_cast


def test_every_bad_input_is_refused_clearly_and_changes_nothing(databases, chancheng_template, tmp_path):
    from tests.conftest import url_for
    url = url_for(databases.create(template=chancheng_template))
    with psycopg.connect(url) as conn:
        tokens = add_cast(conn, list(CAST))
    media = str(tmp_path / "media")
    with client(url, media, served=False) as http:
        outcomes = exercise(url, tokens, media, http)
    assert faults(outcomes) == []
    found = figures(outcomes)
    assert {name: found[name] for name in TARGETS if not met(found[name], TARGETS[name])} == {}
    # reports, photos, workflow, Open311, filters, CSV rows, CSV files, grids, zones
    assert len({o.area for o in outcomes}) == 9
