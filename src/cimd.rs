//! Client ID Metadata Documents (docs/API.md §5.8): an OAuth `client_id`
//! that is an https URL names a JSON document describing the client. It is
//! fetched with no redirects, at most 5 KB, a short timeout, and never from
//! a special-use address (RFC 6890) unless `LATCHKEY_CIMD_ALLOW_PRIVATE`:
//! the resolver hands the HTTP client only addresses that passed, so the
//! address connected to is one that was checked.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::db::oauth::Client;
use crate::domain::oauth::valid_redirect_uri;

const MAX_BYTES: u64 = 5 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a document is kept, whatever its headers say.
const MAX_CACHE: Duration = Duration::from_secs(24 * 3600);

/// Documents fetched lately, per their `Cache-Control: max-age`.
#[derive(Debug, Default)]
pub struct CimdCache(Mutex<HashMap<String, (Instant, Client)>>);

/// Whether `client_id` is a metadata document URL rather than a
/// registered id.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Special-use addresses (RFC 6890 and friends), IPv4-mapped included.
pub fn is_special_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_special_use(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b // NAT64
                || first == 0x2002 // 6to4
        }
    }
}

/// The client a metadata document describes, checked; `Err` says why, for
/// the consent error page.
pub fn fetch(
    cache: &CimdCache,
    url: &str,
    allow_private: bool,
    allowed_hosts: &[String],
    now: crate::clock::Timestamp,
) -> Result<Client, String> {
    if let Some((until, client)) = cache.0.lock().unwrap_or_else(|p| p.into_inner()).get(url)
        && *until > Instant::now()
    {
        return Ok(client.clone());
    }
    let parsed = url::Url::parse(url).map_err(|_| "The client_id is not a URL.".to_string())?;
    let scheme_ok = parsed.scheme() == "https" || (allow_private && parsed.scheme() == "http");
    if !scheme_ok || parsed.path() == "/" || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err("A client_id URL must be https:// with a path, without a fragment or user info.".into());
    }
    if parsed.as_str() != url || url.contains("/./") || url.contains("/../") {
        return Err("The client_id URL is not in its normal form (no dot segments).".into());
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !allowed_hosts.is_empty() && !allowed_hosts.contains(&host) {
        return Err(format!("This server accepts client metadata documents only from: {}.", allowed_hosts.join(", ")));
    }
    let resolver = move |netloc: &str| -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> =
            netloc.to_socket_addrs()?.filter(|a| allow_private || !is_special_use(a.ip())).collect();
        if addrs.is_empty() {
            return Err(std::io::Error::other("the client_id's host resolves only to special-use addresses"));
        }
        Ok(addrs)
    };
    let agent = ureq::AgentBuilder::new().redirects(0).timeout(TIMEOUT).resolver(resolver).build();
    let response = agent.get(url).set("Accept", "application/json").call().map_err(|e| match e {
        ureq::Error::Status(code, _) => format!("Fetching the client's metadata document answered HTTP {code}."),
        ureq::Error::Transport(t) => format!("The client's metadata document could not be fetched ({t})."),
    })?;
    if response.status() != 200 {
        return Err(format!(
            "Fetching the client's metadata document answered HTTP {} (no redirects are followed).",
            response.status()
        ));
    }
    let max_age = response
        .header("cache-control")
        .and_then(|cc| {
            let cc = cc.to_ascii_lowercase();
            if cc.contains("no-store") || cc.contains("no-cache") {
                return Some(0);
            }
            cc.split(',').find_map(|d| d.trim().strip_prefix("max-age=").and_then(|v| v.parse::<u64>().ok()))
        })
        .unwrap_or(0);
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|_| "The metadata document could not be read.".to_string())?;
    if body.len() as u64 > MAX_BYTES {
        return Err("The client's metadata document is larger than 5 KB.".into());
    }
    let doc: Value =
        serde_json::from_slice(&body).map_err(|_| "The client's metadata document is not JSON.".to_string())?;
    let client = client_of(url, &doc, now)?;
    if max_age > 0 {
        let until = Instant::now() + Duration::from_secs(max_age).min(MAX_CACHE);
        let mut map = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 1024 {
            map.clear();
        }
        map.insert(url.to_string(), (until, client.clone()));
    }
    Ok(client)
}

/// The document's client, if it describes itself correctly.
fn client_of(url: &str, doc: &Value, now: crate::clock::Timestamp) -> Result<Client, String> {
    if doc.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err("The metadata document's client_id is not the URL it was fetched from.".into());
    }
    let name = doc
        .get("client_name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 100 && !n.chars().any(char::is_control))
        .ok_or("The metadata document needs a client_name (at most 100 characters).")?;
    let redirect_uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if redirect_uris.is_empty() || redirect_uris.iter().any(|u| !valid_redirect_uri(u)) {
        return Err("The metadata document's redirect_uris must be https:// or localhost URIs.".into());
    }
    let method = match doc.get("token_endpoint_auth_method").and_then(Value::as_str) {
        None | Some("none") => "none",
        Some("private_key_jwt") => "private_key_jwt",
        Some(_) => return Err("A metadata document client may not use a shared secret (client_secret_*).".into()),
    };
    Ok(Client {
        id: url.to_string(),
        source: "metadata_document".into(),
        client_name: name.to_string(),
        redirect_uris,
        token_endpoint_auth_method: method.into(),
        metadata: doc.clone(),
        created_at: now,
        approved_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_special_use(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(!is_special_use(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn documents_must_name_themselves() {
        let url = "https://app.example.com/oauth/client.json";
        let good =
            serde_json::json!({"client_id": url, "client_name": "App", "redirect_uris": ["http://127.0.0.1:3000/cb"]});
        assert_eq!(client_of(url, &good, crate::clock::Timestamp(0)).unwrap().client_name, "App");
        let mut other = good.clone();
        other["client_id"] = "https://evil.example/x".into();
        assert!(client_of(url, &other, crate::clock::Timestamp(0)).is_err());
        let mut secret = good.clone();
        secret["token_endpoint_auth_method"] = "client_secret_basic".into();
        assert!(client_of(url, &secret, crate::clock::Timestamp(0)).is_err());
    }

    #[test]
    fn private_addresses_are_refused_before_connecting() {
        let cache = CimdCache::default();
        let err = fetch(&cache, "https://127.0.0.1/client.json", false, &[], crate::clock::Timestamp(0)).unwrap_err();
        assert!(err.contains("special-use") || err.contains("could not be fetched"), "{err}");
    }
}
