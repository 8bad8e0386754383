"""The OpenID Connect provider: Authlib server, grants, endpoints, keys, claims, clients."""
