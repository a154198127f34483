"""The schemathesis drill's short version (tests/drills/schema.py): the whole OpenAPI document against `citygrid
serve`, as an administrator and an officer, a few examples per operation. Counts only, never times."""
import json

from tests.drills import schema


def test_the_served_app_keeps_to_its_openapi_document(chancheng_url):
    outcome = schema.drill(chancheng_url, quick=True)
    figures, details = outcome["figures"], json.dumps(outcome["details"], indent=1, ensure_ascii=False)
    assert figures["requests sent"] >= 1000
    assert figures["server errors"] == 0, details
    assert figures["schema violations"] == 0, details
    assert figures["undocumented status codes"] == 0, details
    assert figures["other check failures"] == 0, details
    assert figures["schema-valid requests refused"] == 0, details
    assert figures["engine errors"] == 0, details
    assert outcome["ok"]
