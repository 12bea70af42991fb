//! `GET /openapi.json`: every API operation, generated from the route table
//! in `routes.rs` (which also registers them) and the wire types' schemas
//! (utoipa). Nothing here lists a route.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::routes;
use crate::state::AppState;

/// The named schemas a document refers to (`#/components/schemas/…`).
pub type Components = Vec<(String, RefOr<Schema>)>;
/// A wire type's schema, inline, with the types it refers to added to
/// the components.
pub type SchemaFn = fn(&mut Components) -> Value;

/// `T`'s schema (a `wire` type).
pub fn schema<T: utoipa::ToSchema>(components: &mut Components) -> Value {
    T::schemas(components);
    serde_json::to_value(T::schema()).unwrap_or_default()
}

/// A page of `T`s (`wire::Items`), with `T` among the components.
pub fn items<T: utoipa::ToSchema>(components: &mut Components) -> Value {
    components.push((T::name().into_owned(), T::schema()));
    schema::<crate::wire::Items<T>>(components)
}

/// The HTTP method of an operation; `Any` is forward-auth, which judges
/// whatever method the proxy passes along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
    Any,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::Any => "any",
        }
    }
}

/// Where an operation's credential travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …` is required.
    Bearer,
    /// None is needed, or it travels in the body (a bootstrap secret, a
    /// client assertion, a token to revoke) or in the proxied request.
    Elsewhere,
}

/// Who may call an operation: the words the document shows, and where the
/// credential travels.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub text: &'static str,
    pub credential: Credential,
}

/// How a request body may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    JsonOrForm,
    Form,
}

#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub schema: SchemaFn,
    pub media: Media,
    pub required: bool,
}

/// One row of the route table, less its handler.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub verb: Verb,
    /// As registered (`{path:.*}` included).
    pub path: &'static str,
    pub ok: u16,
    pub summary: &'static str,
    pub who: Who,
    pub request: Option<Body>,
    pub response: Option<SchemaFn>,
    /// A second success: 202 with a checkout that waits for a person.
    pub also: Option<(u16, SchemaFn)>,
}

/// A row: answers `ok`, described by `summary`, callable by `who`.
pub fn op(ok: u16, summary: &'static str, who: Who) -> Operation {
    Operation { verb: Verb::Any, path: "", ok, summary, who, request: None, response: None, also: None }
}

impl Operation {
    pub fn takes(self, schema: SchemaFn, media: Media) -> Operation {
        Operation { request: Some(Body { schema, media, required: true }), ..self }
    }

    /// The body may be left out.
    pub fn takes_optional(self, schema: SchemaFn, media: Media) -> Operation {
        Operation { request: Some(Body { schema, media, required: false }), ..self }
    }

    pub fn answers(self, schema: SchemaFn) -> Operation {
        Operation { response: Some(schema), ..self }
    }

    pub fn or_answers(self, status: u16, schema: SchemaFn) -> Operation {
        Operation { also: Some((status, schema)), ..self }
    }

    /// The path as the document writes it: `{path:.*}` is `{path}`.
    pub fn template(&self) -> String {
        template(self.path)
    }
}

fn template(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| match (seg.strip_prefix('{'), seg.find(':')) {
            (Some(_), Some(colon)) => format!("{}}}", &seg[..colon]),
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods an API path pattern answers (for `Allow` on a 405), HEAD
/// with every GET; empty for paths the route table does not hold.
pub fn allowed_methods(pattern: &str) -> Vec<&'static str> {
    let mut methods = Vec::new();
    for op in routes::operations().iter().filter(|op| op.path == pattern) {
        match op.verb {
            Verb::Get => methods.extend(["GET", "HEAD"]),
            Verb::Post => methods.push("POST"),
            Verb::Patch => methods.push("PATCH"),
            Verb::Delete => methods.push("DELETE"),
            Verb::Any => {}
        }
    }
    methods
}

/// Headers an operation needs besides its credential.
fn headers(path: &str) -> Vec<Value> {
    match path {
        "/v1/forward-auth" => vec![
            json!({"name": "X-Forwarded-Uri", "in": "header", "required": true,
                "description": "The original request's path (nginx: X-Original-URI).", "schema": {"type": "string", "pattern": "^/"}}),
            json!({"name": "X-Forwarded-Host", "in": "header", "required": true,
                "description": "The original request's host, which names the resource (or ?resource=<id>).",
                "schema": {"type": "string", "minLength": 1}}),
        ],
        _ => Vec::new(),
    }
}

fn request_body(body: &Body, components: &mut Components) -> Value {
    let schema = (body.schema)(components);
    let mut content = serde_json::Map::new();
    if body.media != Media::Form {
        content.insert("application/json".into(), json!({"schema": schema}));
    }
    if body.media != Media::Json {
        content.insert("application/x-www-form-urlencoded".into(), json!({"schema": schema}));
    }
    json!({"required": body.required, "content": content})
}

fn operation(op: &Operation, path: &str, components: &mut Components) -> Value {
    let params: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .chain(headers(path))
        .collect();
    let success = match op.response {
        Some(schema) => {
            json!({"description": "Success.", "content": {"application/json": {"schema": schema(components)}}})
        }
        None => json!({"description": "Success."}),
    };
    let mut doc = json!({
        "summary": op.summary,
        "description": format!("Who may call: {}.", op.who.text),
        "responses": {op.ok.to_string(): success, "default": {"$ref": "#/components/responses/Error"}},
        "security": match op.who.credential {
            Credential::Bearer => json!([{"bearer": []}]),
            Credential::Elsewhere => json!([{}, {"bearer": []}]),
        },
    });
    if let Some((status, schema)) = op.also {
        doc["responses"][status.to_string()] =
            json!({"description": "Success.", "content": {"application/json": {"schema": schema(components)}}});
    }
    if !params.is_empty() {
        doc["parameters"] = Value::Array(params);
    }
    if let Some(body) = &op.request {
        doc["requestBody"] = request_body(body, components);
    }
    doc
}

/// The whole document.
pub fn document(server: &str) -> Value {
    let mut components = Components::new();
    let mut paths = serde_json::Map::new();
    for op in routes::operations() {
        let path = op.template();
        let entry = paths.entry(path.clone()).or_insert_with(|| json!({}));
        let verbs: &[&str] = match op.verb {
            // A proxy may send any method along; each is judged as a GET.
            Verb::Any => &["get", "post", "put", "patch", "delete", "options", "trace"],
            verb => &[verb.as_str()],
        };
        let doc = operation(&op, &path, &mut components);
        for verb in verbs {
            entry[*verb] = doc.clone();
        }
    }
    let mut schemas = serde_json::Map::new();
    for (name, schema) in components {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or_default());
    }
    schemas.insert("Error".into(), schema::<crate::wire::ErrorBody>(&mut Components::new()));
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
            "schemas": schemas,
            "responses": {"Error": {"description": "docs/API.md section 4's error body.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    })
}

/// Anyone.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(document(&state.config.public_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_written_as_templates() {
        assert_eq!(
            template("/.well-known/oauth-authorization-server/{path:.*}"),
            "/.well-known/oauth-authorization-server/{path}"
        );
        assert_eq!(template("/v1/agents/{id}"), "/v1/agents/{id}");
    }

    #[test]
    fn every_request_and_answer_has_a_schema_that_resolves() {
        let doc = document("http://127.0.0.1");
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(doc["components"]["schemas"][name].is_object(), "{name} is referred to but not defined");
        }
        assert!(doc["paths"]["/v1/pats"]["post"]["requestBody"]["content"]["application/json"]["schema"].is_object());
        assert!(doc["paths"]["/v1/forward-auth"]["trace"].is_object());
    }
}
