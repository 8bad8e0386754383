"""Sign-in and registration forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField, TelField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class SignInForm(FlaskForm):
    identifier = StringField(
        _l("Username, e-mail or phone"),
        validators=[DataRequired(_l("Enter your username, e-mail or phone.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me signed in on this device"))


class RegistrationForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(_l("Choose a username.")), Length(max=32)],
        description=_l("3 to 32 characters: letters, digits, dot, dash or underscore; starts with a letter."),
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    name = StringField(
        _l("Full name"), validators=[Optional(), Length(max=128)], render_kw={"autocomplete": "name"}
    )
    phone = TelField(
        _l("Mobile phone"),
        validators=[DataRequired(_l("Enter your mobile phone number.")), Length(max=24)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    email = EmailField(
        _l("E-mail (optional)"),
        validators=[Optional(), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Choose a password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    marketing_consent = BooleanField(_l("Send me news and offers from the operator"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "none"},
    )


class SecondStepForm(CodeForm):
    method = RadioField(_l("How do you confirm?"), validators=[DataRequired()], default="totp")

    def offer(self, methods: list[str]) -> None:
        """Only the second factors this person can use."""
        labels = {
            "totp": _l("Code from the authenticator app"),
            "sms": _l("Code sent by SMS"),
            "recovery": _l("Recovery code"),
        }
        self.method.choices = [SelectChoice(m, labels[m]) for m in methods]
        if not self.is_submitted() and methods and self.method.data not in methods:
            self.method.data = methods[0]


class ForgotPasswordForm(FlaskForm):
    identifier = StringField(
        _l("Username, e-mail or phone"),
        validators=[DataRequired(_l("Enter your username, e-mail or phone.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )


class ResetPasswordForm(CodeForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Choose a password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[Optional(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Choose a password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )


class PhoneForm(FlaskForm):
    phone = TelField(
        _l("Mobile phone"),
        validators=[DataRequired(_l("Enter your mobile phone number.")), Length(max=24)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


class PasswordConfirmForm(FlaskForm):
    # Optional here: accounts without a password prove themselves by a fresh sign-in instead.
    password = PasswordField(
        _l("Current password"), validators=[Optional(), Length(max=256)], render_kw={"autocomplete": "current-password"}
    )


class PhoneChangeForm(PhoneForm, PasswordConfirmForm):
    pass


class ProfileForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[Optional(), Length(max=128)], render_kw={"autocomplete": "name"})
    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Length(max=254)], render_kw={"autocomplete": "email"})
