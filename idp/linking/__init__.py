"""Subscriber contracts and social identities linked to accounts (see the federation issue)."""
