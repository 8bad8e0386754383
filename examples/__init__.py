"""The operator's three example sites, signed in with idp: selfcare, wallet and paygate (see examples/README.md)."""
