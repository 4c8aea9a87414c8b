from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.auth.scopes import ALL_SCOPES
from marketplace.auth.services import MAX_TOKEN_DAYS
from marketplace.enums import InstitutionType, Role, SizeClass
from marketplace.schemas import CreditCodeField, StrictSchema, ZonedDateTime


class _OrganisationIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    credit_code = CreditCodeField(required=True)
    contact_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    contact_phone = fields.String(required=True, validate=validate.Length(min=5, max=40))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=12, max=200)
    )


class _LegalRepIn(Schema):
    legal_rep_name = fields.String(load_default=None, validate=validate.Length(max=100))
    legal_rep_id_number = fields.String(
        load_default=None,
        validate=validate.Length(max=30),
        metadata={"description": "GB 11643 identity number; stored only as a keyed hash"},
    )


class EnterpriseRegistrationIn(_OrganisationIn, _LegalRepIn):
    size_class = fields.Enum(SizeClass, by_value=True, required=True)
    industry = fields.String(load_default=None, validate=validate.Length(max=100))
    registered_address = fields.String(load_default=None, validate=validate.Length(max=300))
    bank_account_number = fields.String(load_default=None, validate=validate.Length(max=60))


class ProviderRegistrationIn(_OrganisationIn, _LegalRepIn):
    institution_type = fields.Enum(InstitutionType, by_value=True, required=True)


class OrganisationOut(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    region_code = fields.String()


class UserOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.Enum(Role, by_value=True, required=True)
    is_active = fields.Boolean(required=True)
    enterprise_id = fields.Integer(allow_none=True)
    provider_id = fields.Integer(allow_none=True)
    organisation_status = fields.Method("get_organisation_status", allow_none=True)
    created_at = ZonedDateTime()

    def get_organisation_status(self, user: object) -> str | None:
        enterprise = getattr(user, "enterprise", None)
        if enterprise is not None:
            return str(enterprise.verification_status.value)
        provider = getattr(user, "provider", None)
        if provider is not None:
            return str(provider.status.value)
        return None


class RegistrationReceivedOut(Schema):
    """The one answer to every accepted registration, new address or taken (no enumeration)."""

    status = fields.Constant("received", required=True)
    email = fields.String(required=True)
    detail = fields.String(required=True)


class TokenCreateIn(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True)
    code = fields.String(
        load_default=None,
        load_only=True,
        validate=validate.Length(min=6, max=20),
        metadata={
            "description": "the current code of the account's authenticator (or a recovery "
            "code); required for accounts with two-step verification, which every "
            "administrator has"
        },
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    days = fields.Integer(
        load_default=90, strict=True, validate=validate.Range(min=1, max=MAX_TOKEN_DAYS)
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(ALL_SCOPES)),
        load_default=None,
        validate=validate.Length(min=1, max=len(ALL_SCOPES)),
        metadata={
            "description": "what the token may do (each operation names the scope it needs in "
            "`x-required-scope`; write includes read of the same area); omitted: every scope"
        },
    )


class TokenOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    created_at = ZonedDateTime(required=True)
    expires_at = ZonedDateTime(required=True)
    revoked_at = ZonedDateTime(allow_none=True)
    last_used_at = ZonedDateTime(allow_none=True)
    scopes = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "null: made before scopes existed, full scope until rotated"},
    )


class TokenCreatedOut(TokenOut):
    token = fields.String(required=True, metadata={"description": "shown once; store it safely"})
    role = fields.String(required=True)
