//! `GET /openapi.json`: every API route, for client generators and
//! schemathesis-style testing. Kept beside the route table; a test checks
//! that the two agree.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::openapi_schemas;
use crate::state::AppState;

/// (method, path, summary, security, success status)
const ROUTES: &[(&str, &str, &str, &str, u16)] = &[
    ("get", "/healthz", "The process is up.", "none", 200),
    ("get", "/readyz", "The database answers.", "none", 200),
    ("get", "/.well-known/jwks.json", "Public keys of Latchkey-issued JWTs.", "none", 200),
    ("get", "/.well-known/oauth-authorization-server", "RFC 8414 metadata.", "none", 200),
    (
        "get",
        "/.well-known/oauth-authorization-server/{path}",
        "RFC 8414 metadata, path-inserted, for an issuer with a path.",
        "none",
        200,
    ),
    ("get", "/openapi.json", "This document.", "none", 200),
    ("get", "/metrics", "Prometheus metrics.", "host, service", 200),
    ("get", "/v1/auth/whoami", "Who the credential is.", "any credential", 200),
    ("post", "/v1/auth/exchange", "Trade a PAT for a 15-minute EdDSA JWT.", "a PAT (body token or bearer)", 200),
    ("get", "/v1/agents", "List agents.", "host", 200),
    ("post", "/v1/agents", "Create an agent; returns a one-time bootstrap secret.", "host", 201),
    ("get", "/v1/agents/{id}", "Read an agent.", "host", 200),
    ("post", "/v1/agents/{id}/disable", "Disable an agent; its credentials stop at once.", "host", 200),
    ("post", "/v1/agents/{id}/enable", "Enable an agent.", "host", 200),
    ("post", "/v1/agents/{id}/bootstrap-secret", "A new one-time bootstrap secret.", "host", 201),
    ("post", "/v1/agents/bootstrap", "Register an agent's P-256 key with a bootstrap secret.", "bootstrap secret", 200),
    (
        "post",
        "/v1/agents/token",
        "RFC 7523 private_key_jwt: an ES256 assertion for an access token.",
        "client assertion",
        200,
    ),
    ("get", "/v1/pats", "List PATs (never the secret).", "host", 200),
    ("post", "/v1/pats", "Mint a PAT; the token is in this answer only.", "host acting as a user", 201),
    ("get", "/v1/pats/{id}", "Read a PAT's metadata.", "host", 200),
    ("patch", "/v1/pats/{id}", "Rename a PAT or change its daily cap.", "host", 200),
    ("post", "/v1/pats/{id}/revoke", "Revoke a PAT and everything derived from it.", "host", 200),
    ("get", "/v1/certificates", "List certificates.", "host, management", 200),
    (
        "post",
        "/v1/certificates",
        "Create an RS256 certificate, optionally named ({\"name\": …}); the private key is returned once.",
        "owner, management",
        201,
    ),
    ("get", "/v1/certificates/active", "The newest active certificate.", "host, management", 200),
    ("get", "/v1/certificates/public/{kid}", "A certificate's public key (PEM and JWK).", "none", 200),
    ("post", "/v1/certificates/{id}/revoke", "Revoke a certificate.", "owner, management", 200),
    ("delete", "/v1/certificates/{id}", "Delete a certificate.", "owner, management", 204),
    ("post", "/api/agent/auth/pat", "Start a key-bound runtime session with an agent PAT.", "agent PAT", 200),
    ("post", "/api/agent/checkout/create", "A checkout under the PAT's daily cap.", "signed session", 201),
    ("get", "/v1/checkouts", "List checkouts.", "host, service", 200),
    (
        "post",
        "/api/agent/checkout/preview",
        "What a checkout would meet (limits, windows), changing nothing.",
        "signed session",
        200,
    ),
    ("get", "/api/agent/budget", "The PAT's limits, spend and what is left per window.", "agent credential", 200),
    (
        "get",
        "/api/agent/approvals/{id}",
        "Poll a checkout waiting for a person (?wait= up to 30 s).",
        "signed session",
        201,
    ),
    ("get", "/v1/approvals", "Checkouts that waited for a person (?status=).", "host", 200),
    ("get", "/v1/members", "The workspace's members.", "owner", 200),
    ("post", "/v1/members", "Invite by email: a one-time link (7 days), shown once.", "owner", 201),
    ("patch", "/v1/members/{id}", "Change a member's role (the last owner stays).", "owner", 200),
    ("delete", "/v1/members/{id}", "Remove a member; their PATs stop at once.", "owner", 204),
    (
        "post",
        "/v1/approvals/{id}/approve",
        "Approve: the checkout is created now, counted in every window.",
        "host",
        200,
    ),
    ("post", "/v1/approvals/{id}/deny", "Deny a waiting checkout.", "host", 200),
    ("get", "/v1/audit", "The audit trail, filterable by kind and agent.", "host, management", 200),
    ("post", "/v1/introspect", "RFC 7662 token introspection.", "service", 200),
    ("post", "/v1/revoke", "RFC 7009 token revocation.", "the token itself, or an owner", 200),
    (
        "post",
        "/oauth/token",
        "OAuth 2.1 token endpoint: authorization_code (PKCE), refresh_token, client assertion.",
        "none (client_id, PKCE) or client assertion",
        200,
    ),
    (
        "post",
        "/oauth/register",
        "RFC 7591 dynamic client registration (LATCHKEY_DCR).",
        "none, or a host credential when LATCHKEY_DCR=token",
        201,
    ),
    ("post", "/oauth/revoke", "RFC 7009 revocation for OAuth clients (token, client_id).", "none", 200),
    ("get", "/v1/oauth/grants", "List the OAuth grants hosts approved in this workspace.", "host", 200),
    ("post", "/v1/oauth/grants/{id}/revoke", "Revoke an OAuth grant: its tokens stop at once.", "host", 200),
    ("get", "/v1/resources", "List the services this workspace guards.", "host, management", 200),
    ("post", "/v1/resources", "Register a service to guard, with its rules.", "owner, management", 201),
    ("get", "/v1/resources/{id}", "Read a resource.", "host, management", 200),
    ("patch", "/v1/resources/{id}", "Change a resource's name, identifier, scopes or rules.", "owner, management", 200),
    ("delete", "/v1/resources/{id}", "Delete a resource.", "owner, management", 204),
    ("get", "/v1/resources/{id}/metadata", "RFC 9728 protected-resource metadata.", "none", 200),
    (
        "get",
        "/v1/forward-auth",
        "For nginx auth_request, Caddy forward_auth, Traefik ForwardAuth (any method): may this request pass?",
        "the original request's credential",
        200,
    ),
];

/// Whether a route needs a bearer credential in `Authorization`; the
/// others take theirs in the body (a bootstrap secret, a client assertion,
/// an agent PAT, a token to revoke), from the original request
/// (forward-auth), or need none.
fn credential_in_header(who: &str) -> bool {
    !matches!(
        who,
        "none"
            | "bootstrap secret"
            | "client assertion"
            | "agent PAT"
            | "a PAT (body token or bearer)"
            | "the token itself, or an owner"
            | "none (client_id, PKCE) or client assertion"
            | "none, or a host credential when LATCHKEY_DCR=token"
            | "the original request's credential"
    )
}

/// The methods an API path pattern answers (for `Allow` on a 405), HEAD
/// with every GET; empty for paths this document does not describe. A
/// segment's pattern (`{path:.*}`) is read as its name.
pub fn allowed_methods(pattern: &str) -> Vec<&'static str> {
    let pattern: String = pattern
        .split('/')
        .map(|seg| match (seg.strip_prefix('{'), seg.find(':')) {
            (Some(_), Some(colon)) => format!("{}}}", &seg[..colon]),
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let pattern = pattern.as_str();
    let mut methods: Vec<&'static str> = Vec::new();
    for (method, path, ..) in ROUTES {
        if *path == pattern {
            methods.push(match *method {
                "get" => "GET",
                "post" => "POST",
                "patch" => "PATCH",
                "delete" => "DELETE",
                "put" => "PUT",
                _ => continue,
            });
            if *method == "get" {
                methods.push("HEAD");
            }
        }
    }
    methods
}

/// The whole document.
pub fn document(server: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, who, ok) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let params: Vec<Value> = params.into_iter().chain(openapi_schemas::headers(method, path)).collect();
        let mut responses = serde_json::Map::new();
        let success = match openapi_schemas::response(method, path) {
            Some(schema) => json!({"description": "Success.", "content": {"application/json": {"schema": schema}}}),
            None => json!({"description": "Success."}),
        };
        responses.insert(ok.to_string(), success);
        responses.insert("default".into(), json!({"$ref": "#/components/responses/Error"}));
        let mut op = json!({
            "summary": summary,
            "description": format!("Who may call: {who}."),
            "responses": responses,
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(body) = openapi_schemas::request(method, path) {
            op["requestBody"] = body;
        }
        op["security"] = if credential_in_header(who) { json!([{"bearer": []}]) } else { json!([{}, {"bearer": []}]) };
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if *path == "/v1/forward-auth" {
            // A proxy may send any method along; each is judged as a GET.
            for other in ["post", "put", "patch", "delete", "options", "trace"] {
                entry[other] = op.clone();
            }
        }
        entry[method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Latchkey", "version": env!("CARGO_PKG_VERSION"),
                 "description": "A safe, explicit way in for AI agents. Errors carry error_code, user_message and recovery. \
    Recovery kinds: reauthenticate, raise_pat_cap (with window day|week|month, spent_in_window_usd, resets_at), \
    enable_agent_security_mode, enroll_agent, use_agent_pat, start_session, retry_later, sign_request, and \
    await_approval (approval_id, poll_url, expires_at) on a checkout's 202 pending_approval answer."},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error_code", "user_message", "recovery"],
                "properties": {
                    "error_code": {"type": "string"},
                    "user_message": {"type": "string"},
                    "recovery": {"type": ["object", "null"], "properties": {"kind": {"type": "string", "enum": [
                        "reauthenticate", "raise_pat_cap", "enable_agent_security_mode", "enroll_agent",
                        "use_agent_pat", "start_session", "retry_later", "await_approval", "sign_request"]}}},
                },
            }},
            "responses": {"Error": {"description": "docs/API.md section 4's error body.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    })
}

/// Anyone.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(document(&state.config.public_url))
}
