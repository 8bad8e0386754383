"""The OpenAPI 3.1 description of the admin API (served at /api/admin/v1/openapi.json, checked by the tests)."""

from __future__ import annotations

STRING_OR_NULL = {"type": ["string", "null"]}

SCHEMAS = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "required": ["line", "detail"], "properties": {
                "line": {"type": "integer"}, "detail": {"type": "string"}}}},
        },
    },
    "AccountSummary": {
        "type": "object",
        "required": ["sub", "username", "locked", "created_at"],
        "properties": {
            "sub": {"type": "string"}, "username": {"type": "string"}, "name": STRING_OR_NULL,
            "email": STRING_OR_NULL, "phone": STRING_OR_NULL, "locked": {"type": "boolean"},
            "role": {"enum": ["admin", "support", None]}, "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Account": {
        "allOf": [{"$ref": "#/components/schemas/AccountSummary"}, {
            "type": "object",
            "required": ["email_verified", "phone_verified", "two_step", "identities", "contracts", "sessions"],
            "properties": {
                "email_verified": {"type": "boolean"}, "phone_verified": {"type": "boolean"},
                "must_change_password": {"type": "boolean"}, "two_step": {"type": "boolean"},
                "identities": {"type": "array", "items": {"type": "object", "required": ["provider"], "properties": {
                    "provider": {"type": "string"}, "email": STRING_OR_NULL}}},
                "contracts": {"type": "array", "items": {"type": "string"}},
                "sessions": {"type": "integer", "minimum": 0},
            },
        }],
    },
    "Client": {
        "type": "object",
        "required": ["client_id", "name", "public", "first_party", "redirect_uris", "scopes", "grant_types", "disabled"],
        "properties": {
            "client_id": {"type": "string"}, "name": {"type": "string"}, "public": {"type": "boolean"},
            "first_party": {"type": "boolean"},
            "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "post_logout_redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "grant_types": {"type": "array", "items": {"type": "string"}},
            "id_token_alg": {"enum": ["RS256", "ES256", "EdDSA", None]},
            "backchannel_logout_uri": STRING_OR_NULL, "frontchannel_logout_uri": STRING_OR_NULL,
            "disabled": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "ClientWithSecret": {
        "allOf": [{"$ref": "#/components/schemas/Client"},
                  {"type": "object", "required": ["client_secret"], "properties": {"client_secret": STRING_OR_NULL}}],
    },
    "ClientInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 128},
            "redirect_uris": {"type": "array", "items": {"type": "string"}},
            "post_logout_redirect_uris": {"type": "array", "items": {"type": "string"}},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "first_party": {"type": "boolean"}, "client_credentials": {"type": "boolean"}, "public": {"type": "boolean"},
            "id_token_alg": {"enum": ["RS256", "ES256", "EdDSA", None]},
            "backchannel_logout_uri": STRING_OR_NULL, "frontchannel_logout_uri": STRING_OR_NULL,
        },
    },
    "Secret": {
        "type": "object", "required": ["client_id", "client_secret"],
        "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}},
    },
    "Service": {
        "type": "object", "required": ["code", "name", "status"],
        "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                       "status": {"enum": ["active", "suspended", "expired", "cancelled"]},
                       "expires_at": {"type": ["string", "null"], "format": "date"}},
    },
    "Contract": {
        "type": "object",
        "required": ["number", "holder_name", "phone", "smartcards", "device_codes", "services", "linked"],
        "properties": {
            "number": {"type": "string"}, "holder_name": {"type": "string"}, "phone": {"type": "string"},
            "branch": STRING_OR_NULL, "smartcards": {"type": "array", "items": {"type": "string"}},
            "device_codes": {"type": "array", "items": {"type": "string"}},
            "services": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}, "linked": {"type": "boolean"},
        },
    },
    "ContractInput": {
        "type": "object", "required": ["holder_name", "phone"],
        "properties": {
            "holder_name": {"type": "string"}, "phone": {"type": "string"}, "branch": STRING_OR_NULL,
            "smartcards": {"type": "array", "items": {"type": "string"}},
            "device_codes": {"type": "array", "items": {"type": "string"}},
            "services": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}},
        },
    },
    "ImportResult": {
        "type": "object", "required": ["imported", "created", "updated"],
        "properties": {"imported": {"const": True}, "created": {"type": "integer"}, "updated": {"type": "integer"}},
    },
    "Key": {
        "type": "object", "required": ["kid", "alg", "activates_at", "retired_at"],
        "properties": {"kid": {"type": "string"}, "alg": {"type": "string"},
                       "activates_at": {"type": "string", "format": "date-time"}, "retired_at": STRING_OR_NULL},
    },
    "AuditEvent": {
        "type": "object", "required": ["at", "event", "details"],
        "properties": {"at": {"type": "string", "format": "date-time"}, "event": {"type": "string"},
                       "account": STRING_OR_NULL, "ip": STRING_OR_NULL, "user_agent": STRING_OR_NULL,
                       "client_id": STRING_OR_NULL, "details": {"type": "object"}},
    },
}


def _page(item: str) -> dict:
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "next_cursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page; null at the end. "
                        "A search (`q`) finds at most 50 matches."},
    }}


def _json(schema: dict | str, description: str = "OK") -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": ref}}}


PROBLEM = {"description": "Problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
ERRORS = {"401": PROBLEM, "403": PROBLEM}
PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _op(summary: str, responses: dict, parameters: list | None = None, body: str | None = None, **extra) -> dict:
    operation = {"summary": summary, "responses": {**responses, **ERRORS}, **extra}
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return operation


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def document(issuer: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "idp admin API", "version": "1",
                 "description": "For the operator's scripts. Bearer access tokens from the client_credentials grant "
                                "with the `admin` scope; errors are RFC 9457 problem details."},
        "servers": [{"url": issuer + "/api/admin/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": f"client_credentials with scope admin at {issuer}/token"}},
            "schemas": {**SCHEMAS, **{f"{name}Page": _page(name) for name in ("AccountSummary", "Client", "Contract", "Key", "AuditEvent")}},
        },
        "paths": {
            "/accounts": {"get": _op("Search or list accounts", {"200": _json("AccountSummaryPage")},
                                     [{"name": "q", "in": "query", "schema": {"type": "string"}}, *PAGING])},
            "/accounts/{sub}": {"get": _op("An account", {"200": _json("Account"), "404": PROBLEM}, [_path_param("sub")])},
            "/accounts/{sub}/{action}": {"post": _op(
                "Act on an account", {"200": _json("Account"), "404": PROBLEM},
                [_path_param("sub"), {"name": "action", "in": "path", "required": True, "schema": {
                    "enum": ["lock", "unlock", "end-sessions", "require-password-change", "remove-authenticator"]}}])},
            "/clients": {
                "get": _op("All clients", {"200": _json("ClientPage")}),
                "post": _op("Register a client (the secret is in this answer only)",
                            {"201": _json("ClientWithSecret", "Created"), "400": PROBLEM, "422": PROBLEM}, body="ClientInput"),
            },
            "/clients/{client_id}": {
                "get": _op("A client", {"200": _json("Client"), "404": PROBLEM}, [_path_param("client_id")]),
                "put": _op("Change a client", {"200": _json("Client"), "400": PROBLEM, "404": PROBLEM, "422": PROBLEM},
                           [_path_param("client_id")], body="ClientInput"),
                "delete": _op("Delete a client and revoke its tokens", {"204": {"description": "Deleted"}, "404": PROBLEM},
                              [_path_param("client_id")]),
            },
            "/clients/{client_id}/secret": {"post": _op("Rotate the secret", {"200": _json("Secret"), "404": PROBLEM, "409": PROBLEM},
                                                        [_path_param("client_id")])},
            "/contracts": {"get": _op("Search or list contracts", {"200": _json("ContractPage")},
                                      [{"name": "q", "in": "query", "schema": {"type": "string"}}, *PAGING])},
            "/contracts/{number}": {
                "get": _op("A contract", {"200": _json("Contract"), "404": PROBLEM}, [_path_param("number")]),
                "put": _op("Create or replace a contract", {"200": _json("Contract"), "400": PROBLEM, "409": PROBLEM, "422": PROBLEM},
                           [_path_param("number")], body="ContractInput"),
                "delete": _op("Delete a contract", {"204": {"description": "Deleted"}, "404": PROBLEM}, [_path_param("number")]),
            },
            "/contracts/import": {"post": {
                "summary": "Import contracts from CSV: all rows or none",
                "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
                "responses": {"200": _json("ImportResult"), "400": PROBLEM, "413": PROBLEM, "422": PROBLEM, **ERRORS},
            }},
            "/keys": {"get": _op("Signing keys", {"200": _json("KeyPage")})},
            "/keys/rotate": {"post": _op("Rotate the signing keys", {"200": _json("KeyPage")})},
            "/audit": {"get": _op("Audit events, newest first", {"200": _json("AuditEventPage"), "400": PROBLEM}, [
                *({"name": name, "in": "query", "schema": {"type": "string"}} for name in ("account", "event", "client_id", "ip")),
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                *PAGING,
            ])},
        },
    }
