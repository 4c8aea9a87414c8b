"""Property-based fuzzing of the whole JSON API from its own OpenAPI document.

schemathesis generates requests for every documented operation — valid and invalid — and
checks that no response is a server error and every response matches the document (status
codes, content types, bodies). It runs once anonymously and once with a token for each role,
on both databases, against demo data.
"""

import uuid

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance

from marketplace.auth.models import User
from marketplace.auth.services import create_api_token
from marketplace.demo import DEMO_ACCOUNTS, seed

EXAMPLES = 5
ROLES = ["anonymous", *sorted({role.value for _email, role, _name, _org in DEMO_ACCOUNTS})]


#: Fields whose rules a JSON schema cannot express: check characters (GB 32100 credit codes),
#: opaque cursors, password strength, a file's content (a CSV, an uploaded file, an invoice file
#: that must be a readable 数电发票), and "the invoice's files or, for a paper invoice, its
#: details" (one of two). A schema-valid request may be refused (422) only for these.
SEMANTIC_FIELDS = {
    "credit_code",
    "cursor",
    "password",
    "csv",
    # Date bounds (2000–2100): OpenAPI has no minimum or maximum for a string of format date.
    "date_from",
    "date_to",
    "file",
    "invoice_file",
    "invoice_files",
    # A funder's division must exist in the GB/T 2260 table (3,219 codes) and never changes.
    "region_code",
    # "the token or the serial" (one of two, as for the invoice's files or details).
    "token",
    "serial",
}


def _assert_rejection_is_semantic(response):
    """Schemathesis' own positive-data check, narrowed to what a schema can describe."""
    if response.status_code != 422:
        return
    fields = set(response.json().get("errors", {}))
    assert fields and fields <= SEMANTIC_FIELDS, f"schema-valid request refused: {response.text}"


#: Replaced by our own, stricter versions below: the generic ones cannot know that checksums
#: exist, and they judge authentication from generated headers while we pass real tokens.
EXCLUDED_CHECKS = [positive_data_acceptance, ignored_auth]


@pytest.fixture
def role_users(session):
    """One demo user per role (``None`` for anonymous callers)."""
    seed(session)
    users = {"anonymous": None}
    for role in ROLES[1:]:
        users[role] = session.scalar(
            sa.select(User).where(User.role == role).order_by(User.id).limit(1)
        )
    return users


def _headers(session, user, *, idempotent: bool):
    # A fresh Idempotency-Key per call: generated keys repeat across generated bodies, and a
    # reused key with a different body is rightly refused (422 idempotency_key_reused).
    headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else {}
    if user is not None:
        # A fresh token per call: the fuzzer may well revoke earlier ones (DELETE /auth/tokens/{id}).
        _token, plain = create_api_token(session, user, name="fuzz")
        headers["Authorization"] = f"Bearer {plain}"
    return headers


def _takes_idempotency_key(operation) -> bool:
    parameters = operation.definition.raw.get("parameters", [])
    return any(p.get("name") == "Idempotency-Key" for p in parameters)


def test_api_conforms_to_its_document(app, session, role_users):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operations"
    for operation in operations:
        _fuzz(operation, session, role_users)


def _fuzz(operation, session, role_users) -> None:
    public = operation.definition.raw.get("security") == []
    idempotent = _takes_idempotency_key(operation)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case):
        for role, user in role_users.items():
            headers = _headers(session, user, idempotent=idempotent)
            response = case.call(headers=headers)
            try:
                case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)
                _assert_rejection_is_semantic(response)
                if user is None and not public:
                    assert response.status_code == 401, "answered without a token"
            except Exception as failure:
                # Name the operation and role: hypothesis alone reports only the case.
                raise AssertionError(f"{operation.label} as {role}: {failure}") from failure

    check()
