//! Resources: the host's own services Latchkey guards (docs/API.md §5.7).
//! A resource has an identifier (the URL clients reach it at: the RFC 8707
//! resource indicator, the RFC 9728 `resource`) and rules that say, per
//! method and path prefix, which credentials may pass.

use crate::db::Connection;

use crate::db;
use crate::domain::agents::By;
use crate::domain::audit::{self, Event};
use crate::domain::ids::{ResourceId, WorkspaceId};
use crate::domain::pats::Scope;
use crate::domain::principal::{CredentialKind, Principal};
use crate::error::AppError;

pub mod snippets;

pub use crate::model::resource::{Resource, Rule};

/// Resources as last read, by id, with their version: forward-auth reads
/// only the version (one integer) and parses the row again only when it
/// changed, so an update applies from the next request on every replica.
#[derive(Debug, Default)]
pub struct ResourceCache(std::sync::Mutex<std::collections::HashMap<ResourceId, std::sync::Arc<Resource>>>);

impl ResourceCache {
    const CAPACITY: usize = 1024;

    /// The resource `id` as of the database now, read whole only when the
    /// cached copy is missing or older.
    pub fn current(&self, conn: &Connection, id: &ResourceId) -> Result<Option<std::sync::Arc<Resource>>, AppError> {
        let Some(version) = db::resources::version_of(conn, id)? else { return Ok(None) };
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        if let Some(r) = cached.filter(|r| r.version == version) {
            return Ok(Some(r));
        }
        let Some(fresh) = db::resources::find_any(conn, id)? else { return Ok(None) };
        let fresh = std::sync::Arc::new(fresh);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(id.clone(), fresh.clone());
        Ok(Some(fresh))
    }
}

pub use crate::model::resource::RuleInput;

const MAX_RULES: usize = 50;
const MAX_SCOPES: usize = 50;

fn invalid(msg: impl Into<String>) -> AppError {
    AppError::Validation(msg.into())
}

/// A resource name: 1 to 100 characters after trimming, no control characters.
pub fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 100 characters, without control characters."));
    }
    Ok(name.to_string())
}

/// The identifier, normalised (lower-case scheme and host, no default port,
/// no fragment, dot segments resolved), and its authority. `https://`, or
/// `http://` on a loopback host only; no user info.
pub fn parse_identifier(raw: &str) -> Result<(String, String), AppError> {
    let bad = |why: &str| invalid(format!("identifier: {why}"));
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(bad("at most 2048 characters."));
    }
    let mut url = url::Url::parse(raw).map_err(|_| bad("an absolute URL such as https://files.example.com/."))?;
    let host = url.host().ok_or_else(|| bad("a URL with a host."))?;
    let loopback = match &host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("https:// (http:// only on a loopback host such as 127.0.0.1).")),
        _ => return Err(bad("an https:// URL.")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user name or password in the URL."));
    }
    url.set_fragment(None);
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Ok((url.to_string(), authority))
}

/// OAuth scope tokens (RFC 6749 §3.3): printable ASCII without space,
/// `"` or `\`; at most 50 of them, no duplicates.
pub fn parse_scopes(field: &str, raw: &[String]) -> Result<Vec<String>, AppError> {
    if raw.len() > MAX_SCOPES {
        return Err(invalid(format!("{field}: at most {MAX_SCOPES} scopes.")));
    }
    let mut out: Vec<String> = vec![];
    for s in raw {
        let ok =
            !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if !ok {
            return Err(invalid(format!(
                "{field}: {s:?} is not an OAuth scope (printable ASCII, no spaces or quotes)."
            )));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// Checks and fills in a rule; `i` names it in messages.
pub fn parse_rule(i: usize, input: &RuleInput) -> Result<Rule, AppError> {
    let field = |name: &str| format!("rules[{i}].{name}");
    let methods = match &input.methods {
        None => vec!["*".to_string()],
        Some(m) if m.is_empty() => {
            return Err(invalid(format!("{}: at least one method, or [\"*\"].", field("methods"))));
        }
        Some(m) => {
            let mut out = vec![];
            for method in m {
                let ok = method == "*"
                    || (!method.is_empty() && method.len() <= 20 && method.bytes().all(|b| b.is_ascii_alphabetic()));
                if !ok {
                    return Err(invalid(format!("{}: {method:?} is not an HTTP method.", field("methods"))));
                }
                out.push(method.to_ascii_uppercase());
            }
            out
        }
    };
    let path_prefix = input.path_prefix.clone().unwrap_or_else(|| "/".into());
    if !path_prefix.starts_with('/')
        || path_prefix.len() > 512
        || normalize_path(&path_prefix).as_deref() != Some(path_prefix.as_str())
        || path_prefix.contains(['%', '?', '#'])
    {
        return Err(invalid(format!(
            "{}: a decoded path starting with '/', without '..', '//', '%', '?' or '#'.",
            field("path_prefix")
        )));
    }
    let credential_kinds = match &input.credential_kinds {
        None => None,
        Some(k) if k.is_empty() => {
            return Err(invalid(format!("{}: leave it out to allow every kind.", field("credential_kinds"))));
        }
        Some(k) => Some(
            k.iter()
                .map(|k| {
                    CredentialKind::parse(k).ok_or_else(|| {
                        let all: Vec<_> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
                        invalid(format!("{}: {k:?} is not one of {}.", field("credential_kinds"), all.join(", ")))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let scope_types = match &input.scope_types {
        None => vec![Scope::Agent],
        Some(t) if t.is_empty() => {
            return Err(invalid(format!("{}: at least one of agent, service, host.", field("scope_types"))));
        }
        Some(t) => t
            .iter()
            .map(|t| {
                Scope::parse(t).ok_or_else(|| {
                    invalid(format!("{}: {t:?} is not one of agent, service, host.", field("scope_types")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let scopes = parse_scopes(&field("scopes"), input.scopes.as_deref().unwrap_or_default())?;
    Ok(Rule {
        methods,
        path_prefix,
        credential_kinds,
        scope_types,
        scopes,
        require_signature: input.require_signature.unwrap_or(false),
    })
}

pub fn parse_rules(raw: &[RuleInput]) -> Result<Vec<Rule>, AppError> {
    if raw.len() > MAX_RULES {
        return Err(invalid(format!("rules: at most {MAX_RULES} rules.")));
    }
    raw.iter().enumerate().map(|(i, r)| parse_rule(i, r)).collect()
}

/// Rules written one per line, as the dashboard takes them:
/// `METHODS PATH_PREFIX [signed] [kinds=a,b] [types=a,b] [scopes=a,b]`,
/// e.g. `GET,HEAD /api/` or `* /api/pay/ signed`. Blank lines and `#`
/// comments are skipped.
pub fn parse_rule_lines(text: &str) -> Result<Vec<Rule>, AppError> {
    let mut inputs = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| invalid(format!("rules, line {}: {why}", n + 1));
        let mut words = line.split_whitespace();
        let methods = words.next().unwrap_or_default().split(',').map(str::to_string).collect();
        let path = words.next().ok_or_else(|| bad("a method list and a path prefix, e.g. GET,HEAD /api/"))?;
        let mut input =
            RuleInput { methods: Some(methods), path_prefix: Some(path.to_string()), ..RuleInput::default() };
        for word in words {
            let list = |v: &str| Some(v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect());
            match word.split_once('=') {
                None if word == "signed" => input.require_signature = Some(true),
                Some(("kinds", v)) => input.credential_kinds = list(v),
                Some(("types", v)) => input.scope_types = list(v),
                Some(("scopes", v)) => input.scopes = list(v),
                _ => return Err(bad(&format!("{word:?}: expected signed, kinds=…, types=… or scopes=…"))),
            }
        }
        inputs.push(input);
    }
    let rules = parse_rules(&inputs)?;
    Ok(rules)
}

/// Rules back in the one-per-line form of [`parse_rule_lines`].
pub fn rule_lines(rules: &[Rule]) -> String {
    let mut out = String::new();
    for r in rules {
        out.push_str(&r.methods.join(","));
        out.push(' ');
        out.push_str(&r.path_prefix);
        if r.require_signature {
            out.push_str(" signed");
        }
        if let Some(kinds) = r.credential_kinds_text(",") {
            out.push_str(&format!(" kinds={kinds}"));
        }
        if r.scope_types != [Scope::Agent] {
            out.push_str(&format!(" types={}", r.scope_types_text(",")));
        }
        if !r.scopes.is_empty() {
            out.push_str(&format!(" scopes={}", r.scopes.join(",")));
        }
        out.push('\n');
    }
    out
}

/// The RFC 9728 §3.1 metadata URL of an identifier:
/// `/.well-known/oauth-protected-resource` between the host and the path (a
/// path of only `/` dropped), any query kept.
pub fn metadata_url(identifier: &str) -> String {
    match url::Url::parse(identifier) {
        Ok(url) => {
            let origin = url.origin().ascii_serialization();
            let path = if url.path() == "/" { "" } else { url.path() };
            let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{origin}/.well-known/oauth-protected-resource{path}{query}")
        }
        Err(_) => identifier.to_string(),
    }
}

/// The path of an identifier, for host matching and the proxy snippets.
pub fn identifier_path(identifier: &str) -> String {
    url::Url::parse(identifier).map(|u| u.path().to_string()).unwrap_or_else(|_| "/".into())
}

/// The path a rule is matched against: the request target's path without
/// its query, percent-decoded, dot segments resolved and repeated slashes
/// merged, so `/api/%2e%2e/pay/` and `//api/pay/` are judged as the
/// upstream will see them. `None` for what no server should accept (not
/// starting with `/`, bad escapes, NUL, backslash, not UTF-8).
pub fn normalize_path(raw: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return None;
    }
    if path.bytes().enumerate().any(|(i, b)| {
        b == b'%' && !path.as_bytes().get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    if decoded.contains(['\0', '\\']) {
        return None;
    }
    let mut segments: Vec<&str> = vec![];
    let mut trailing = false;
    for seg in decoded.split('/') {
        trailing = matches!(seg, "" | "." | "..");
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    Some(out)
}

/// Among the rules whose methods include `method` and whose prefix begins
/// `path`, the one with the longest prefix (the earlier one on a tie).
pub fn rule_for<'a>(rules: &'a [Rule], default: &'a Rule, method: &str, path: &str) -> Option<&'a Rule> {
    if rules.is_empty() {
        return Some(default);
    }
    let mut best: Option<&Rule> = None;
    for rule in rules {
        if rule.allows_method(method)
            && path.starts_with(&rule.path_prefix)
            && best.is_none_or(|b| rule.path_prefix.len() > b.path_prefix.len())
        {
            best = Some(rule);
        }
    }
    best
}

/// Why the rules refused a valid credential; `insufficient_scope` names the
/// scopes an OAuth access token lacked (asking the host again could help).
#[derive(Debug)]
pub struct RuleRefusal {
    pub error: AppError,
    pub insufficient_scope: Option<String>,
}

impl From<AppError> for RuleRefusal {
    fn from(error: AppError) -> RuleRefusal {
        RuleRefusal { error, insufficient_scope: None }
    }
}

/// The resource's rule for this request applied to a valid credential of
/// the resource's own workspace.
pub fn judge(resource: &Resource, p: &Principal, method: &str, path: &str) -> Result<(), RuleRefusal> {
    static DEFAULT: std::sync::LazyLock<Rule> = std::sync::LazyLock::new(Rule::default_rule);
    let Some(rule) = rule_for(&resource.rules, &DEFAULT, method, path) else {
        return Err(AppError::Scope(format!("No rule of this resource lets {method} {path} through.")).into());
    };
    let scope = p.credential.scope;
    if !rule.scope_types.contains(&scope) {
        return Err(AppError::Scope(format!(
            "A {scope} credential cannot reach {method} {path}; this rule admits {}.",
            rule.scope_types_text(", ")
        ))
        .into());
    }
    let kind = p.credential.kind;
    if let Some(kinds) = &rule.credential_kinds
        && !kinds.contains(&kind)
    {
        // A signed session is what the agent can still get.
        if kinds.contains(&CredentialKind::Session) && p.credential.scope == Scope::Agent {
            return Err(AppError::SessionRequired.into());
        }
        return Err(AppError::Scope(format!(
            "A credential of kind {kind} cannot reach {method} {path}; this rule admits {}.",
            rule.credential_kinds_text(", ").unwrap_or_default()
        ))
        .into());
    }
    if rule.require_signature && p.credential.kind != CredentialKind::Session {
        return Err(AppError::SessionRequired.into());
    }
    // OAuth access tokens must carry every scope the rule names.
    if let Some(oauth) = &p.credential.oauth
        && let Some(missing) = rule.scopes.iter().find(|s| !oauth.scopes.contains(s))
    {
        return Err(RuleRefusal {
            error: AppError::Scope(format!(
                "This access token lacks the scope {missing:?} that {method} {path} needs."
            )),
            insufficient_scope: Some(rule.scopes.join(" ")),
        });
    }
    Ok(())
}

/// The resource served at `authority` whose identifier's path begins
/// `path` (the longest such), if the scheme agrees when it is known.
pub fn select_by_host<'a>(candidates: &'a [Resource], proto: Option<&str>, path: &str) -> Option<&'a Resource> {
    candidates
        .iter()
        .filter(|r| proto.is_none_or(|p| r.identifier.starts_with(&format!("{}://", p.to_ascii_lowercase()))))
        .filter(|r| path.starts_with(&identifier_path(&r.identifier)))
        .max_by_key(|r| identifier_path(&r.identifier).len())
}

/// `X-Forwarded-Host` as an authority: lower-case, the default port of
/// `proto` dropped.
pub fn forwarded_authority(host: &str, proto: Option<&str>) -> String {
    let host = host.trim().to_ascii_lowercase();
    let default_port = match proto.map(str::to_ascii_lowercase).as_deref() {
        Some("http") => ":80",
        _ => ":443",
    };
    host.strip_suffix(default_port).map(str::to_string).unwrap_or(host)
}

/// What a create or an update sets.
pub struct Fields {
    pub name: String,
    pub identifier: String,
    pub authority: String,
    pub scopes: Vec<String>,
    pub rules: Vec<Rule>,
}

pub fn create(tx: &Connection, ws: &WorkspaceId, fields: Fields, by: &By<'_>) -> Result<Resource, AppError> {
    let resource = Resource {
        id: ResourceId(db::new_id()),
        workspace_id: ws.clone(),
        name: fields.name,
        identifier: fields.identifier,
        authority: fields.authority,
        scopes: fields.scopes,
        rules: fields.rules,
        created_at: by.now,
        updated_at: by.now,
        version: 1,
    };
    db::resources::insert(tx, &resource)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "resource.created", by.meta).target("resource", resource.id.clone()),
        by.now,
    )?;
    Ok(resource)
}

pub fn update(tx: &Connection, mut resource: Resource, fields: Fields, by: &By<'_>) -> Result<Resource, AppError> {
    resource.name = fields.name;
    resource.identifier = fields.identifier;
    resource.authority = fields.authority;
    resource.scopes = fields.scopes;
    resource.rules = fields.rules;
    resource.updated_at = by.now;
    resource.version += 1;
    db::resources::update(tx, &resource)?;
    audit::record(
        tx,
        Event::success(Some(&resource.workspace_id), by.actor, "resource.updated", by.meta)
            .target("resource", resource.id.clone()),
        by.now,
    )?;
    Ok(resource)
}

pub fn delete(tx: &Connection, ws: &WorkspaceId, id: &ResourceId, by: &By<'_>) -> Result<(), AppError> {
    if !db::resources::delete(tx, ws, id)? {
        return Err(AppError::NotFound);
    }
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "resource.deleted", by.meta).target("resource", id.as_str()),
        by.now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_normalised_and_https_except_on_loopback() {
        let (id, authority) = parse_identifier("HTTPS://Files.Example.COM:443/API/#frag").unwrap();
        assert_eq!(id, "https://files.example.com/API/");
        assert_eq!(authority, "files.example.com");
        assert_eq!(
            parse_identifier("http://127.0.0.1:8081").unwrap(),
            ("http://127.0.0.1:8081/".into(), "127.0.0.1:8081".into())
        );
        assert!(parse_identifier("http://localhost/mcp").is_ok());
        assert!(parse_identifier("http://[::1]:9/").is_ok());
        for bad in ["http://files.example.com/", "ftp://x/", "files.example.com", "https://u:p@x.example/", "/relative"]
        {
            assert!(parse_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_urls_follow_rfc_9728() {
        assert_eq!(metadata_url("https://f.example/"), "https://f.example/.well-known/oauth-protected-resource");
        assert_eq!(metadata_url("https://f.example/mcp"), "https://f.example/.well-known/oauth-protected-resource/mcp");
        assert_eq!(
            metadata_url("http://127.0.0.1:81/a/b?x=1"),
            "http://127.0.0.1:81/.well-known/oauth-protected-resource/a/b?x=1"
        );
    }

    #[test]
    fn paths_are_judged_as_the_upstream_sees_them() {
        assert_eq!(normalize_path("/api/pay/?x=1").as_deref(), Some("/api/pay/"));
        assert_eq!(normalize_path("/api/%2e%2e/pay/x").as_deref(), Some("/pay/x"));
        assert_eq!(normalize_path("//api///pay").as_deref(), Some("/api/pay"));
        assert_eq!(normalize_path("/api/x/..").as_deref(), Some("/api/"));
        assert_eq!(normalize_path("/../..").as_deref(), Some("/"));
        assert_eq!(normalize_path("/%70ay").as_deref(), Some("/pay"));
        for bad in ["api", "/a%zz", "/a%2", "/a%00b", "/a\\b", "/a%5cb", "/%ff"] {
            assert_eq!(normalize_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_longest_matching_prefix_decides_and_ties_go_to_the_first() {
        let rule = |m: &str, p: &str, sig| Rule {
            methods: vec![m.into()],
            path_prefix: p.into(),
            credential_kinds: None,
            scope_types: vec![Scope::Agent],
            scopes: vec![],
            require_signature: sig,
        };
        let rules = vec![rule("GET", "/api/", false), rule("POST", "/api/pay/", true), rule("*", "/api/pay/", false)];
        let d = Rule::default_rule();
        assert!(!rule_for(&rules, &d, "GET", "/api/x").unwrap().require_signature);
        assert!(rule_for(&rules, &d, "POST", "/api/pay/1").unwrap().require_signature);
        assert!(!rule_for(&rules, &d, "GET", "/api/pay/1").unwrap().require_signature);
        assert!(rule_for(&rules, &d, "POST", "/other").is_none());
        assert_eq!(rule_for(&[], &d, "DELETE", "/x"), Some(&d));
    }

    #[test]
    fn rules_get_their_defaults_and_bad_fields_are_named() {
        let r = parse_rule(0, &RuleInput::default()).unwrap();
        assert_eq!(r, Rule::default_rule());
        let e = parse_rule(2, &RuleInput { path_prefix: Some("/a/../b".into()), ..Default::default() }).unwrap_err();
        assert!(e.user_message().contains("rules[2].path_prefix"), "{}", e.user_message());
        let e = parse_rule(0, &RuleInput { credential_kinds: Some(vec!["cookie".into()]), ..Default::default() });
        assert!(e.unwrap_err().user_message().contains("credential_kinds"));
        let e = parse_rule(0, &RuleInput { scope_types: Some(vec!["root".into()]), ..Default::default() });
        assert!(e.unwrap_err().user_message().contains("scope_types"));
        let e = parse_rule(0, &RuleInput { methods: Some(vec!["GE T".into()]), ..Default::default() });
        assert!(e.unwrap_err().user_message().contains("methods"));
    }

    #[test]
    fn rule_lines_read_and_write_the_same_rules() {
        let text = "GET,HEAD /api/\n# payments\n* /api/pay/ signed kinds=session types=agent\nPOST /admin/ types=host,service scopes=a,b\n";
        let rules = parse_rule_lines(text).unwrap();
        assert_eq!(rules.len(), 3);
        assert!(rules[1].require_signature);
        assert_eq!(rules[2].scope_types, [Scope::Host, Scope::Service]);
        assert_eq!(parse_rule_lines(&rule_lines(&rules)).unwrap(), rules);
        let e = parse_rule_lines("GET /a/\nGET").unwrap_err();
        assert!(e.user_message().contains("line 2"), "{}", e.user_message());
        assert!(parse_rule_lines("GET /a/ sigend").unwrap_err().user_message().contains("sigend"));
        assert!(parse_rule_lines("").unwrap().is_empty());
    }

    #[test]
    fn forwarded_hosts_drop_the_default_port() {
        assert_eq!(forwarded_authority("Files.Example.com:443", Some("https")), "files.example.com");
        assert_eq!(forwarded_authority("127.0.0.1:80", Some("http")), "127.0.0.1");
        assert_eq!(forwarded_authority("127.0.0.1:8081", Some("http")), "127.0.0.1:8081");
    }
}
