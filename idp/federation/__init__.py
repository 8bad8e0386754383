"""Sign-in with upstream providers: Google, Facebook, Zalo, and any OIDC or OAuth 2 provider in config."""
