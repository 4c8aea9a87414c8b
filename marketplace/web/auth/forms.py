from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from marketplace.auth.passwords import password_problems
from marketplace.auth.scopes import ALL_SCOPES, READ_SCOPES
from marketplace.credit_code import CreditCodeError, parse_credit_code
from marketplace.enums import InstitutionType, SizeClass
from marketplace.i18n import _l
from marketplace.web.forms import MultiCheckboxField, enum_choices


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Sign in"))


def _credit_code_valid(_form: FlaskForm, field: StringField) -> None:
    try:
        field.data = parse_credit_code(field.data or "").value
    except CreditCodeError as exc:
        raise ValidationError(exc.message) from None


def _password_strong(form: FlaskForm, field: PasswordField) -> None:
    """The policy of marketplace.auth.passwords, with whatever the form knows of the person."""
    email = getattr(form, "email", None)
    names = tuple(
        str(getattr(form, name).data or "")
        for name in ("contact_name", "name")
        if getattr(form, name, None) is not None
    )
    owner = getattr(form, "owner", None)
    problems = password_problems(
        field.data or "",
        email=str(email.data or "") if email is not None else (owner[0] if owner else ""),
        names=names or (owner[1:] if owner else ()),
    )
    if problems:
        raise ValidationError("; ".join(problems))


class _OrganisationForm(FlaskForm):
    name = StringField(_l("Organisation name"), validators=[DataRequired(), Length(2, 200)])
    credit_code = StringField(
        _l("Unified social credit code"), validators=[DataRequired(), _credit_code_valid]
    )
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(1, 100)])
    contact_phone = StringField(_l("Contact phone"), validators=[DataRequired(), Length(5, 40)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), _password_strong])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords do not match"))],
    )
    submit = SubmitField(_l("Register"))


class _LegalRepFields:
    legal_rep_name = StringField(_l("Legal representative"), validators=[Length(max=100)])
    legal_rep_id_number = StringField(
        _l("Legal representative's ID number"), validators=[Length(max=30)]
    )


class EnterpriseRegistrationForm(_OrganisationForm, _LegalRepFields):
    size_class = SelectField(
        _l("Size class"), choices=enum_choices(SizeClass), validators=[DataRequired()]
    )
    industry = StringField(_l("Industry"), validators=[Length(max=100)])
    registered_address = StringField(_l("Registered address"), validators=[Length(max=300)])
    bank_account_number = StringField(_l("Bank account number"), validators=[Length(max=60)])


class ProviderRegistrationForm(_OrganisationForm, _LegalRepFields):
    institution_type = SelectField(
        _l("Institution type"), choices=enum_choices(InstitutionType), validators=[DataRequired()]
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), _password_strong])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords do not match"))],
    )
    submit = SubmitField(_l("Change password"))

    def __init__(self, owner: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(**kwargs)
        #: (e-mail, name…) of the account, which the new password must not contain.
        self.owner = owner


class PasswordForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Send me a link"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), _password_strong])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords do not match"))],
    )
    submit = SubmitField(_l("Set new password"))

    def __init__(self, owner: tuple[str, ...], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.owner = owner


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app (or a recovery code)"),
        validators=[DataRequired(), Length(6, 20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )
    submit = SubmitField(_l("Verify"))


class EnrolmentForm(FlaskForm):
    code = StringField(
        _l("6-digit code shown by the app"),
        validators=[DataRequired(), Length(6, 8)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )
    submit = SubmitField(_l("Turn on two-step verification"))


#: How each token scope is named on the pages (the codes stay in the API).
SCOPE_LABELS = {
    "account:read": _l("My account and organisation file: read"),
    "account:write": _l("My account and organisation file: read and change"),
    "vouchers:read": _l("Vouchers and programmes: read"),
    "vouchers:write": _l("Vouchers and programmes: read and change"),
    "orders:read": _l("Orders, bookings and disputes: read"),
    "orders:write": _l("Orders, bookings and disputes: read and change"),
    "settlement:read": _l("Claims, payouts and payments: read"),
    "settlement:write": _l("Claims, payouts and payments: read and change"),
    "administration:read": _l("Reviews, risk and audit: read"),
    "administration:write": _l("Reviews, risk and audit: read and change"),
}


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(1, 100)])
    scopes = MultiCheckboxField(
        _l("What the token may do"),
        choices=[SelectChoice(code, SCOPE_LABELS[code]) for code in ALL_SCOPES],
        default=list(READ_SCOPES),
    )
    submit = SubmitField(_l("Create token"))

    def validate_scopes(self, field: MultiCheckboxField) -> None:
        # Not DataRequired: its HTML "required" on every box would demand all of them.
        if not field.data:
            raise ValidationError(_l("Choose at least one scope."))
