"""problem+json bodies: extension members never replace the standard ones."""

import json

from marketplace.problems import problem


def test_extensions_are_added_and_clashes_go_under_context():
    response = problem(
        409,
        "illegal_transition",
        "Not now",
        "cannot",
        extensions={"status": "paid", "action": "pay"},
    )
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == 409 and body["code"] == "illegal_transition"
    assert body["action"] == "pay" and body["context"] == {"status": "paid"}
    assert response.mimetype == "application/problem+json"
