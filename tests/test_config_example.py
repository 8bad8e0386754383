"""config.example.toml documents every key, and is itself a valid configuration."""

import dataclasses
import tomllib
from pathlib import Path

from idp.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_names_every_key_of_every_section():
    documented = tomllib.loads(EXAMPLE.read_text())
    for section in dataclasses.fields(Settings):
        keys = {f.name for f in dataclasses.fields(section.default_factory)}
        assert set(documented.get(section.name, {})) == keys, section.name


def test_example_documents_every_provider_key():
    from idp.config import ProviderSettings

    documented = tomllib.loads(EXAMPLE.read_text())["federation"]["providers"]
    generic = next(p for p in documented if p["kind"] == "oidc")
    assert set(generic) == {f.name for f in dataclasses.fields(ProviderSettings)}


def test_example_loads():
    assert load_settings(EXAMPLE, env={}).server.issuer.startswith("https://")


def test_branding_appears_on_customer_pages(backend):
    from idp import create_app

    app = create_app(backend.fresh_settings(branding={
        "operator_name": "Cáp Quảng Ninh", "primary_colour": "#aa0011", "logo_url": "/static/logo.svg",
        "support_phone": "1900 1234", "support_email": "help@example.vn"}), testing=True)
    client = app.test_client()
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert "Cáp Quảng Ninh" in html and 'src="/static/logo.svg"' in html
    assert 'href="tel:19001234"' in html and "help@example.vn" in html
    assert client.get("/branding.css").get_data(as_text=True) == ":root { --primary: #aa0011; }\n"


def test_bad_branding_colour_is_refused():
    import pytest

    from idp.config import ConfigError

    from .conftest import make_settings

    with pytest.raises(ConfigError, match="branding.primary_colour"):
        make_settings("sqlite://", branding={"primary_colour": "red; background: url(x)"})
