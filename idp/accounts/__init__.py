"""People: accounts, passwords, SSO sessions, sign-in and registration pages."""
