//! Ready-to-paste proxy configuration for a resource: the text the
//! resource's dashboard page shows, the README documents and the proxy
//! tests run with real nginx and Caddy.

use super::{Resource, identifier_path};

/// What a snippet names of a resource.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub identifier: &'a str,
}

impl<'a> From<&'a Resource> for Subject<'a> {
    fn from(r: &'a Resource) -> Subject<'a> {
        Subject { id: r.id.as_str(), name: &r.name, identifier: &r.identifier }
    }
}

/// The identity headers forward-auth answers with; every snippet copies
/// them to the upstream and drops any the client sent.
pub const IDENTITY_HEADERS: [&str; 7] = [
    "X-Latchkey-Workspace-Id",
    "X-Latchkey-Credential-Kind",
    "X-Latchkey-Scope-Type",
    "X-Latchkey-Agent-Id",
    "X-Latchkey-Agent-Name",
    "X-Latchkey-User-Email",
    "X-Latchkey-Content-Digest",
];

/// Where the proxy reaches Latchkey and the service.
pub struct Targets<'a> {
    /// Latchkey's base URL as the proxy reaches it, e.g. `http://127.0.0.1:8080`.
    pub latchkey: &'a str,
    /// The guarded service, e.g. `http://127.0.0.1:3000`.
    pub upstream: &'a str,
}

fn metadata_path(r: &Subject<'_>) -> String {
    let path = identifier_path(r.identifier);
    let path = if path == "/" { String::new() } else { path };
    format!("/.well-known/oauth-protected-resource{path}")
}

fn nginx_var(header: &str) -> String {
    header.to_ascii_lowercase().replace('-', "_")
}

/// Locations to paste inside the nginx `server { }` block that serves the
/// resource (needs the `auth_request` module, in Debian's nginx packages).
pub fn nginx(r: &Subject<'_>, t: &Targets<'_>) -> String {
    let lk = t.latchkey.trim_end_matches('/');
    let id = r.id;
    let path = identifier_path(r.identifier);
    let mut set_vars = String::new();
    let mut set_headers = String::new();
    for h in IDENTITY_HEADERS {
        let var = nginx_var(h);
        set_vars.push_str(&format!("        auth_request_set ${var} $upstream_http_{var};\n"));
        // Always set: replaces what a client sent; an empty value sends nothing.
        set_headers.push_str(&format!("        proxy_set_header {h} ${var};\n"));
    }
    format!(
        r#"    # Latchkey guards "{name}" ({identifier}).
    # RFC 9728 metadata, answered by Latchkey.
    location = {metadata} {{
        proxy_pass {lk}/v1/resources/{id}/metadata;
    }}
    # The check: no body is sent; the signature covers Content-Digest.
    location = /_latchkey_auth {{
        internal;
        proxy_pass {lk}/v1/forward-auth?resource={id};
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Original-URI $request_uri;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}
    # Refusals: Latchkey's JSON body (nginx passes headers only) and, on
    # 403 too, its WWW-Authenticate challenge.
    location @latchkey_401 {{
        default_type application/json;
        return 401 $x_latchkey_error;
    }}
    location @latchkey_403 {{
        default_type application/json;
        add_header WWW-Authenticate $latchkey_challenge always;
        return 403 $x_latchkey_error;
    }}
    # The service, now behind the check (this replaces its own location).
    location {path} {{
        auth_request /_latchkey_auth;
        auth_request_set $x_latchkey_error $upstream_http_x_latchkey_error;
        auth_request_set $latchkey_challenge $upstream_http_www_authenticate;
{set_vars}        error_page 401 = @latchkey_401;
        error_page 403 = @latchkey_403;
{set_headers}        proxy_pass {upstream};
    }}
"#,
        name = r.name.replace(['"', '\n'], ""),
        identifier = r.identifier,
        metadata = metadata_path(r),
        upstream = t.upstream,
    )
}

/// Directives to paste inside the Caddy site block that serves the
/// resource. `route` keeps them in this order: client-sent identity
/// headers are dropped before the check copies Latchkey's in.
pub fn caddy(r: &Subject<'_>, t: &Targets<'_>) -> String {
    let lk = t.latchkey.trim_end_matches('/');
    let lk_host = lk.strip_prefix("http://").unwrap_or(lk);
    // An https upstream is reached by its own name, not the client's Host.
    let host_up = if lk.starts_with("https://") { "\n            header_up Host {upstream_hostport}" } else { "" };
    let id = r.id;
    let path = identifier_path(r.identifier);
    let matcher = if path == "/" { String::new() } else { format!("{path}* ") };
    let strip: String = IDENTITY_HEADERS.iter().map(|h| format!("        request_header -{h}\n")).collect();
    format!(
        r#"    # Latchkey guards "{name}" ({identifier}).
    handle {metadata} {{
        rewrite * /v1/resources/{id}/metadata
        reverse_proxy {lk_host}{host_up_short}
    }}
    route {matcher}{{
{strip}        forward_auth {lk_host} {{
            uri /v1/forward-auth?resource={id}
            copy_headers {headers}{host_up}
        }}
        reverse_proxy {upstream}
    }}
"#,
        name = r.name.replace(['"', '\n'], ""),
        identifier = r.identifier,
        metadata = metadata_path(r),
        headers = IDENTITY_HEADERS.join(" "),
        host_up_short = if host_up.is_empty() {
            String::new()
        } else {
            " {\n            header_up Host {upstream_hostport}\n        }".to_string()
        },
        upstream = t.upstream.strip_prefix("http://").unwrap_or(t.upstream),
    )
}

/// Traefik dynamic configuration (file provider, YAML): the middleware,
/// and a router for the metadata document. Attach the middleware to the
/// service's router.
pub fn traefik(r: &Subject<'_>, t: &Targets<'_>) -> String {
    let lk = t.latchkey.trim_end_matches('/');
    let id = r.id;
    let host = url::Url::parse(r.identifier).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let headers: String = IDENTITY_HEADERS.iter().map(|h| format!("          - {h}\n")).collect();
    let slug: String = r
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let slug = if slug.is_empty() { "resource".to_string() } else { slug };
    format!(
        r#"# Latchkey guards "{name}" ({identifier}).
# Add "latchkey-{slug}" to the middlewares of the router that serves it.
http:
  middlewares:
    latchkey-{slug}:
      forwardAuth:
        address: "{lk}/v1/forward-auth?resource={id}"
        # Replaces any of these the client sent.
        authResponseHeaders:
{headers}    latchkey-{slug}-metadata:
      replacePath:
        path: "/v1/resources/{id}/metadata"
  routers:
    latchkey-{slug}-metadata:
      rule: "Host(`{host}`) && Path(`{metadata}`)"
      middlewares: [latchkey-{slug}-metadata]
      service: latchkey
  services:
    latchkey:
      loadBalancer:
        servers:
          - url: "{lk}"
"#,
        name = r.name.replace(['"', '\n'], ""),
        identifier = r.identifier,
        metadata = metadata_path(r),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: Subject<'static> = Subject { id: "ID", name: "MCP", identifier: "https://tools.example.com/mcp" };

    #[test]
    fn snippets_route_the_metadata_of_a_path_identifier_and_guard_only_that_path() {
        let t = Targets { latchkey: "https://auth.example.com", upstream: "http://127.0.0.1:3000" };
        let nginx = nginx(&SUBJECT, &t);
        assert!(nginx.contains("location = /.well-known/oauth-protected-resource/mcp {"));
        assert!(nginx.contains("location /mcp {"));
        let caddy = caddy(&SUBJECT, &t);
        assert!(caddy.contains("handle /.well-known/oauth-protected-resource/mcp {"));
        assert!(caddy.contains("route /mcp* {"));
        assert!(caddy.contains("header_up Host {upstream_hostport}"), "an https Latchkey is reached by name");
        let traefik = traefik(&SUBJECT, &t);
        assert!(traefik.contains("Host(`tools.example.com`) && Path(`/.well-known/oauth-protected-resource/mcp`)"));
        for h in IDENTITY_HEADERS {
            assert!(nginx.contains(h) && caddy.contains(h) && traefik.contains(h), "{h}");
        }
    }
}
