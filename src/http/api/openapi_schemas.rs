//! The bodies `/openapi.json` describes: what each route takes and what it
//! answers on success, as JSON Schema (OpenAPI 3.1). Kept beside the route
//! list in `openapi.rs`; a schemathesis run in `.ci/run` checks the server
//! against them.

use serde_json::{Value, json};

/// A string of `min` to `max` characters without control characters.
fn text(min: u32, max: u32) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max, "pattern": "^[^\\u0000-\\u001f\\u007f]*$"})
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// An object with these properties, of which `required` must be present.
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn items(of: Value) -> Value {
    object(&["items"], json!({"items": {"type": "array", "items": of}}))
}

/// A decimal amount in US dollars, as a string: "10.00".
fn usd() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,7}(\\.[0-9]{1,2})?$"})
}

/// An absolute http(s) URL.
fn url() -> Value {
    json!({"type": "string", "format": "uri", "pattern": "^https?://[^/?#\\s]+"})
}

fn time() -> Value {
    json!({"type": "string"})
}

fn agent() -> Value {
    object(
        &["id", "workspace_id", "name", "status", "created_at"],
        json!({
            "id": {"type": "string"}, "workspace_id": {"type": "string"}, "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "status": {"enum": ["created", "active", "disabled"]},
            "enrolled_at": {"type": ["string", "null"]}, "key_thumbprint": {"type": ["string", "null"]},
            "created_at": time(), "updated_at": time(),
        }),
    )
}

fn pat() -> Value {
    object(
        &["id", "name", "scope_type", "audience", "token_hint", "status", "created_at", "expires_at"],
        json!({
            "id": {"type": "string"}, "name": {"type": "string"},
            "scope_type": {"enum": ["host", "agent", "service"]},
            "audience": {"enum": ["api", "exchange", "both"]},
            "agent_id": {"type": ["string", "null"]}, "agent_name": {"type": ["string", "null"]},
            "token_hint": {"type": "string"},
            "daily_cap_usd": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "created_at": time(), "expires_at": time(),
            "last_used_at": {"type": ["string", "null"]}, "revoked_at": {"type": ["string", "null"]},
        }),
    )
}

fn certificate() -> Value {
    object(
        &["id", "kid", "algorithm"],
        json!({"id": {"type": "string"}, "kid": {"type": "string"}, "algorithm": {"const": "RS256"}}),
    )
}

fn resource() -> Value {
    object(
        &["id", "name", "identifier", "scopes", "rules"],
        json!({"id": {"type": "string"}, "name": {"type": "string"}, "identifier": {"type": "string"},
               "scopes": {"type": "array", "items": {"type": "string"}}, "rules": {"type": "array"}}),
    )
}

fn rule() -> Value {
    object(
        &["methods", "path_prefix"],
        json!({
            "methods": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "path_prefix": {"type": "string"},
            "credential_kinds": {"type": "array", "items": {"type": "string"}},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "require_signature": {"type": "boolean"},
        }),
    )
}

/// The money limits a PAT may carry, each optional.
fn budget_properties(mut properties: Value) -> Value {
    for limit in ["daily_cap_usd", "weekly_cap_usd", "monthly_cap_usd", "max_checkout_usd", "approval_above_usd"] {
        properties[limit] = nullable(usd());
    }
    properties["over_limit"] = json!({"enum": ["refuse", "ask"]});
    properties
}

/// A JSON body, or a form body with the same fields where the route takes
/// both (`form`).
fn body(schema: Value, required: bool, form: bool) -> Value {
    let mut content = json!({"application/json": {"schema": schema}});
    if form {
        content["application/x-www-form-urlencoded"] = json!({"schema": schema});
    }
    json!({"required": required, "content": content})
}

/// The request body of an operation, when it takes one.
pub fn request(method: &str, path: &str) -> Option<Value> {
    let token = || object(&["token"], json!({"token": {"type": "string", "minLength": 1}}));
    Some(match (method, path) {
        // No token (or null) in the body: the bearer is the PAT.
        ("post", "/v1/auth/exchange") => {
            body(json!({"type": "object", "properties": {"token": {"type": ["string", "null"]}}}), false, false)
        }
        ("post", "/v1/agents") => {
            let name = json!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"});
            body(object(&["name"], json!({"name": name, "description": nullable(text(0, 500))})), true, false)
        }
        ("post", "/v1/agents/bootstrap") => body(
            object(
                &["bootstrapSecret", "publicKey"],
                json!({"bootstrapSecret": {"type": "string"},
                       "publicKey": object(&["kty", "crv", "x", "y"], json!({"kty": {"const": "EC"}, "crv": {"const": "P-256"},
                           "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                           "y": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}}))}),
            ),
            true,
            false,
        ),
        ("post", "/v1/agents/token") => body(
            object(
                &["grant_type", "client_assertion_type", "client_assertion"],
                json!({"grant_type": {"enum": ["client_assertion", "client_credentials"]},
                       "client_assertion_type": {"const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                       "client_assertion": {"type": "string", "minLength": 1},
                       "resource": {"type": "string"}}),
            ),
            true,
            true,
        ),
        ("post", "/v1/pats") => body(
            object(
                &["name", "scope_type"],
                budget_properties(json!({
                    "name": text(1, 100), "scope_type": {"enum": ["host", "agent", "service"]},
                    "audience": {"enum": ["api", "exchange", "both"]},
                    "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 365},
                    "agent_id": {"type": "string"}, "agent_name": {"type": "string"}, "create_agent": {"type": "boolean"},
                })),
            ),
            true,
            false,
        ),
        ("patch", "/v1/pats/{id}") => {
            body(json!({"type": "object", "properties": budget_properties(json!({"name": text(1, 100)}))}), true, false)
        }
        ("post", "/v1/certificates") => {
            body(json!({"type": "object", "properties": {"name": nullable(text(0, 100))}}), false, false)
        }
        ("post", "/api/agent/auth/pat") => body(
            object(
                &["session_pubkey"],
                json!({"token": {"type": "string"}, "session_pubkey": {"type": ["string", "object"]}, "label": text(0, 100)}),
            ),
            true,
            false,
        ),
        ("post", "/api/agent/checkout/create" | "/api/agent/checkout/preview") => body(
            object(
                &["amount_usd", "description"],
                json!({"amount_usd": usd(), "description": text(1, 200), "reference": text(1, 200)}),
            ),
            true,
            false,
        ),
        ("post", "/v1/members") => {
            let email = json!({"type": "string", "format": "email", "maxLength": 254});
            let role = json!({"enum": ["owner", "member", null], "description": "member when left out"});
            body(object(&["email"], json!({"email": email, "role": role})), true, false)
        }
        ("patch", "/v1/members/{id}") => {
            body(object(&["role"], json!({"role": {"enum": ["owner", "member"]}})), true, false)
        }
        ("post", "/v1/introspect" | "/v1/revoke") => body(token(), true, true),
        ("post", "/oauth/revoke") => {
            let schema = object(
                &["token", "client_id"],
                json!({"token": {"type": "string", "minLength": 1}, "client_id": {"type": "string", "minLength": 1}}),
            );
            json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": schema}}})
        }
        ("post", "/oauth/token") => {
            let schema = object(
                &["grant_type"],
                json!({"grant_type": {"enum": ["authorization_code", "refresh_token", "client_credentials"]},
                       "code": {"type": "string"}, "code_verifier": {"type": "string"}, "redirect_uri": {"type": "string"},
                       "client_id": {"type": "string"}, "resource": {"type": "string"}, "refresh_token": {"type": "string"},
                       "client_assertion_type": {"type": "string"}, "client_assertion": {"type": "string"}}),
            );
            json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": schema}}})
        }
        ("post", "/oauth/register") => body(
            object(
                &["redirect_uris"],
                // RFC 7591: a member sent as null is a member left out.
                json!({"redirect_uris": {"type": "array", "minItems": 1, "items": url()},
                       "client_name": {"type": ["string", "null"]}, "token_endpoint_auth_method": {"description":
                           "private_key_jwt (with jwks); anything else registers a public client (none) with PKCE"},
                       "grant_types": {"type": ["array", "null"], "items": {"type": "string"}},
                       "response_types": {"type": ["array", "null"], "items": {"type": "string"}},
                       "client_uri": {"type": ["string", "null"]}, "logo_uri": {"type": ["string", "null"]},
                       "scope": {"type": ["string", "null"]}, "jwks": {"type": ["object", "null"]}}),
            ),
            true,
            false,
        ),
        ("post", "/v1/resources") => body(
            object(
                &["name", "identifier"],
                json!({"name": text(1, 100), "identifier": url(),
                       "scopes": {"type": "array", "items": {"type": "string"}}, "rules": {"type": "array", "items": rule()}}),
            ),
            true,
            false,
        ),
        ("patch", "/v1/resources/{id}") => body(
            json!({"type": "object", "properties": {"name": text(1, 100), "identifier": url(),
                   "scopes": {"type": "array", "items": {"type": "string"}}, "rules": {"type": "array", "items": rule()}}}),
            true,
            false,
        ),
        _ => return None,
    })
}

/// What a successful answer's JSON body looks like, where it has one.
pub fn response(method: &str, path: &str) -> Option<Value> {
    let whoami = object(
        &["user", "workspace", "credential", "bound_agent", "resolved_agent"],
        json!({
            "user": {"type": ["object", "null"]},
            "workspace": object(&["id", "name"], json!({"id": {"type": "string"}, "name": {"type": "string"}})),
            "credential": object(&["kind", "id"], json!({"kind": {"enum": ["pat", "jwt", "session", "access_token",
                "certificate_jwt", "oauth_access_token", "browser"]}, "id": {"type": "string"}})),
            "bound_agent": {"type": ["object", "null"]},
            "resolved_agent": {"type": ["object", "null"]},
        }),
    );
    let bearer = |required: &[&str]| {
        object(
            required,
            json!({"access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer"}}),
        )
    };
    Some(match (method, path) {
        ("get", "/healthz" | "/readyz") => object(&["status"], json!({"status": {"type": "string"}})),
        ("get", "/.well-known/jwks.json") => object(&["keys"], json!({"keys": {"type": "array"}})),
        ("get", "/.well-known/oauth-authorization-server" | "/.well-known/oauth-authorization-server/{path}") => {
            object(
                &["issuer", "token_endpoint"],
                json!({"issuer": {"type": "string"}, "token_endpoint": {"type": "string"}}),
            )
        }
        ("get", "/v1/auth/whoami") => whoami,
        ("post", "/v1/auth/exchange") => bearer(&["access_token", "token_type", "expires_in", "kind"]),
        ("get", "/v1/agents") => items(agent()),
        ("get", "/v1/agents/{id}") | ("post", "/v1/agents/{id}/disable" | "/v1/agents/{id}/enable") => agent(),
        ("post", "/v1/agents" | "/v1/agents/{id}/bootstrap-secret") => object(
            &["bootstrap_secret", "bootstrap_secret_expires_at"],
            json!({"bootstrap_secret": {"type": "string", "pattern": "^lk_bs_"}, "bootstrap_secret_expires_at": time()}),
        ),
        ("post", "/v1/agents/bootstrap") => object(
            &["agentId", "name", "status", "workspaceId"],
            json!({"agentId": {"type": "string"}, "name": {"type": "string"}, "status": {"const": "active"},
                   "workspaceId": {"type": "string"}}),
        ),
        ("post", "/v1/agents/token") => bearer(&["access_token", "token_type", "expires_in"]),
        ("get", "/v1/pats") => items(pat()),
        ("get", "/v1/pats/{id}") | ("patch", "/v1/pats/{id}") | ("post", "/v1/pats/{id}/revoke") => pat(),
        ("post", "/v1/pats") => {
            // The PAT's metadata and, this once, the token.
            let mut minted = pat();
            if let Some(required) = minted["required"].as_array_mut() {
                required.push(json!("token"));
            }
            minted["properties"]["token"] = json!({"type": "string", "pattern": "^lk_pat_"});
            minted
        }
        ("get", "/v1/certificates") => items(certificate()),
        ("get", "/v1/certificates/active") | ("post", "/v1/certificates" | "/v1/certificates/{id}/revoke") => {
            certificate()
        }
        ("get", "/v1/certificates/public/{kid}") => object(&["kid"], json!({"kid": {"type": "string"}})),
        ("post", "/api/agent/auth/pat") => object(
            &["jwt", "token_type", "expires_in", "session_id"],
            json!({"jwt": {"type": "string"}, "session_id": {"type": "string"}}),
        ),
        ("get", "/v1/checkouts" | "/v1/approvals" | "/v1/members" | "/v1/audit" | "/v1/oauth/grants") => {
            items(json!({"type": "object"}))
        }
        ("get", "/v1/resources") => items(resource()),
        ("get", "/v1/resources/{id}") | ("post", "/v1/resources") | ("patch", "/v1/resources/{id}") => resource(),
        ("get", "/v1/resources/{id}/metadata") => {
            object(&["resource", "authorization_servers"], json!({"resource": {"type": "string"}}))
        }
        ("post", "/v1/introspect") => object(&["active"], json!({"active": {"type": "boolean"}})),
        ("post", "/oauth/token") => bearer(&["access_token", "token_type", "expires_in"]),
        ("post", "/oauth/register") => object(&["client_id"], json!({"client_id": {"type": "string"}})),
        _ => return None,
    })
}

/// Headers an operation needs besides its credential.
pub fn headers(method: &str, path: &str) -> Vec<Value> {
    match (method, path) {
        (_, "/v1/forward-auth") => vec![
            json!({"name": "X-Forwarded-Uri", "in": "header", "required": true,
                "description": "The original request's path (nginx: X-Original-URI).", "schema": {"type": "string", "pattern": "^/"}}),
            json!({"name": "X-Forwarded-Host", "in": "header", "required": true,
                "description": "The original request's host, which names the resource (or ?resource=<id>).",
                "schema": {"type": "string", "minLength": 1}}),
        ],
        _ => Vec::new(),
    }
}
