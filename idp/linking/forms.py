"""Forms of contract linking."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class FindContractForm(FlaskForm):
    kind = SelectField(
        _l("Find my contract by"),
        choices=[
            SelectChoice("number", _l("Contract number")),
            SelectChoice("smartcard", _l("Smartcard number")),
            SelectChoice("device", _l("Device code")),
            SelectChoice("phone", _l("Phone number on the contract")),
        ],
        validators=[DataRequired()],
    )
    value = StringField(
        _l("Number or code"),
        validators=[DataRequired(_l("Enter the number or code.")), Length(max=64)],
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )
