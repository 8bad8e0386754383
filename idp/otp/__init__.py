"""One-time codes by SMS and authenticator apps (see the SMS-codes issue)."""
