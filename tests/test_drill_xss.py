"""The stored-XSS drill's short version in the normal suite: payloads in every user-set text (files, accounts,
reports, notes, Open311, calendar), then a handful of pages (the map with its popups and tooltips, case pages, the
desk, the queue, the officer's list, the inbox, the sign-in page with a reflected payload) in headless Chromium:
no dialog, no injected element, no CSP violation, no request off the machine, every planted text that a view shows
shown as text. The full run (every page of access_matrix.PAGES for every role): python -m tests.drills.xss."""
import pytest

from tests.drills.xss import TARGETS, run
from tests.drills.common import met


@pytest.mark.browser
def test_stored_payloads_stay_text_on_every_page_and_popup():
    outcome = run(quick=True)
    found = outcome["figures"]
    assert {name: found[name] for name in TARGETS if name in found and not met(found[name], TARGETS[name])} == {}, \
        outcome["wrong"]
    assert found["pages opened"] >= 10 and found["popups opened"] >= 20 and found["tooltips opened"] >= 150
    assert found["planted texts shown as text"] >= 300 and found["fields with payloads"] >= 25
