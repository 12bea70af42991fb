//! Configuration: defaults, then environment (`LATCHKEY_*` and the
//! seed-given names), then flags. Every value is validated once at startup;
//! a bad one stops the process with a line naming the flag or variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::model::money::AmountCents;

/// Values from the command line (each flag has an environment twin that
/// clap already folded in).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
}

/// A `postgres://` URL; its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                write!(f, "{u}")
            }
            Err(_) => f.write_str("postgres://…"),
        }
    }
}

pub use crate::crypto::password::PasswordCost;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded SQLite file (`--database-url`).
    pub database_url: Option<DatabaseUrl>,
    /// The server signing keys (`LATCHKEY_KEYS_DIR`; `keys/` in the data
    /// dir): every replica reads the same ones.
    pub keys_dir: PathBuf,
    /// Issuer and default audience; no trailing slash.
    pub public_url: String,
    /// True when nobody set the public URL: it then follows the bound port.
    pub public_url_is_default: bool,
    pub trust_proxy: bool,
    /// Proxies whose `X-Forwarded-For` hops are believed
    /// (`LATCHKEY_TRUSTED_PROXIES`, CIDRs; loopback by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub rate_login_per_min: u32,
    pub rate_bootstrap_per_min: u32,
    pub rate_token_per_min: u32,
    pub default_daily_cap: AmountCents,
    pub agent_token_ttl_seconds: i64,
    pub agent_token_audience: Option<String>,
    pub bootstrap_secret_ttl_hours: i64,
    pub session_ttl_seconds: i64,
    pub signature_skew_seconds: i64,
    pub cert_jwt_max_ttl_seconds: i64,
    pub superadmin_domain: Option<String>,
    pub metrics_public: bool,
    /// Lifetime of a dashboard login.
    pub dashboard_session_hours: i64,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    pub password_cost: PasswordCost,
    /// Refusals that may wait for the audit writer before requests write
    /// their own (`LATCHKEY_AUDIT_QUEUE_CAPACITY`).
    pub audit_queue_capacity: usize,
    /// How long a request body may take to arrive
    /// (`LATCHKEY_BODY_TIMEOUT_SECONDS`, 10).
    pub body_deadline: std::time::Duration,
    /// Open connections one client address may hold, 0 for no limit
    /// (`LATCHKEY_MAX_CONNECTIONS_PER_CLIENT`, 128; trusted proxies are
    /// not counted).
    pub max_connections_per_client: usize,
    /// Lifetime of OAuth access JWTs (`LATCHKEY_OAUTH_ACCESS_TOKEN_TTL_SECONDS`, 600).
    pub oauth_access_token_ttl_seconds: i64,
    /// How long a checkout waits for a person (`LATCHKEY_APPROVAL_TTL_SECONDS`, 900).
    pub approval_ttl_seconds: i64,
    /// `LATCHKEY_WEBHOOK_URL` and the key of `LATCHKEY_WEBHOOK_SECRET`.
    pub webhook_url: Option<String>,
    pub webhook_key: Option<Vec<u8>>,
    /// `LATCHKEY_DCR`: who may register OAuth clients at `/oauth/register`.
    pub dcr: DcrMode,
    /// `LATCHKEY_CIMD_ALLOW_PRIVATE`: fetch client metadata documents from
    /// special-use addresses (development and tests only).
    pub cimd_allow_private: bool,
    /// `LATCHKEY_CIMD_ALLOWED_HOSTS`: when set, the only hosts whose client
    /// metadata documents are fetched.
    pub cimd_allowed_hosts: Vec<String>,
}

/// Dynamic client registration (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcrMode {
    /// Anyone (rate-limited per address); what stock MCP clients do.
    Open,
    /// Only with a host credential as the initial access token.
    Token,
    Off,
}

/// A configuration mistake, already phrased for the operator.
#[derive(Debug, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn load(overrides: Overrides) -> Result<Config, ConfigError> {
        Config::from_lookup(overrides, |name| std::env::var(name).ok())
    }

    /// Builds a configuration from flags and an environment lookup.
    pub fn from_lookup(overrides: Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let bind_raw = overrides.bind.or_else(|| env("LATCHKEY_BIND")).unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind: SocketAddr = bind_raw.trim().parse().map_err(|_| {
            ConfigError(format!("--bind / LATCHKEY_BIND: {bind_raw:?} is not an address and port like 127.0.0.1:8080"))
        })?;

        let data_dir = overrides
            .data_dir
            .or_else(|| env("LATCHKEY_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./latchkey-data"));
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError("--data-dir / LATCHKEY_DATA_DIR: must not be empty".into()));
        }

        let database_url = match overrides.database_url.or_else(|| env("LATCHKEY_DATABASE_URL")) {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => {
                let raw = raw.trim().to_string();
                if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
                    return Err(ConfigError(
                        "--database-url / LATCHKEY_DATABASE_URL: must be a postgres:// URL (unset it to keep the embedded SQLite file)"
                            .into(),
                    ));
                }
                crate::db::pg::Target::parse(&raw)
                    .map_err(|e| ConfigError(format!("--database-url / LATCHKEY_DATABASE_URL: {e}")))?;
                Some(DatabaseUrl(raw))
            }
        };

        let (public_url, public_url_is_default) = match overrides.public_url.or_else(|| env("LATCHKEY_PUBLIC_URL")) {
            Some(raw) => (parse_public_url(&raw)?, false),
            None => (default_public_url(bind), true),
        };

        let int = |name: &str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
            match env(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<i64>() {
                    Ok(v) if (min..=max).contains(&v) => Ok(v),
                    _ => Err(ConfigError(format!("{name}: {raw:?} is not a whole number from {min} to {max}"))),
                },
            }
        };
        let rate = |name: &str, default: i64| int(name, default, 0, 100_000).map(|v| v as u32);

        let default_daily_cap = match env("LATCHKEY_DEFAULT_DAILY_CAP_USD") {
            None => AmountCents::from_cents(1000).unwrap_or(AmountCents::ZERO),
            Some(raw) => AmountCents::parse(raw.trim()).ok_or_else(|| {
                ConfigError(format!(
                    "LATCHKEY_DEFAULT_DAILY_CAP_USD: {raw:?} is not an amount like 10.00 (0.00 to 1000000.00)"
                ))
            })?,
        };

        let agent_token_audience = match env("AGENT_TOKEN_AUDIENCE") {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => Some(raw.trim().trim_end_matches('/').to_string()),
        };

        let superadmin_domain = match env("LATCHKEY_SUPERADMIN_DOMAIN") {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => {
                let d = raw.trim().trim_start_matches('@').to_ascii_lowercase();
                if !d.contains('.') || d.contains(char::is_whitespace) || d.contains('@') {
                    return Err(ConfigError(format!(
                        "LATCHKEY_SUPERADMIN_DOMAIN: {raw:?} is not an email domain like example.com"
                    )));
                }
                Some(d)
            }
        };

        let workers = match env("LATCHKEY_WORKERS") {
            None => None,
            Some(_) => Some(int("LATCHKEY_WORKERS", 1, 1, 256)? as usize),
        };

        let keys_dir = match env("LATCHKEY_KEYS_DIR") {
            Some(dir) if dir.trim().is_empty() => {
                return Err(ConfigError("LATCHKEY_KEYS_DIR: must not be empty (unset it for the data dir)".into()));
            }
            Some(dir) => PathBuf::from(dir),
            None => crate::crypto::keys::default_dir(&data_dir),
        };

        Ok(Config {
            bind,
            keys_dir,
            data_dir,
            database_url,
            public_url,
            public_url_is_default,
            trust_proxy: boolean(&env, "LATCHKEY_TRUST_PROXY", false)?,
            trusted_proxies: trusted_proxies(env("LATCHKEY_TRUSTED_PROXIES"))?,
            rate_login_per_min: rate("LATCHKEY_RATE_LOGIN_PER_MIN", 10)?,
            rate_bootstrap_per_min: rate("LATCHKEY_RATE_BOOTSTRAP_PER_MIN", 5)?,
            rate_token_per_min: rate("LATCHKEY_RATE_TOKEN_PER_MIN", 30)?,
            default_daily_cap,
            agent_token_ttl_seconds: int("AGENT_TOKEN_TTL_SECONDS", 7200, 60, 86_400)?,
            agent_token_audience,
            bootstrap_secret_ttl_hours: int("BOOTSTRAP_SECRET_TTL_HOURS", 1, 1, 24 * 30)?,
            session_ttl_seconds: int("LATCHKEY_SESSION_TTL_SECONDS", 900, 60, 86_400)?,
            signature_skew_seconds: int("LATCHKEY_SIGNATURE_SKEW_SECONDS", 300, 1, 3600)?,
            cert_jwt_max_ttl_seconds: int("LATCHKEY_CERT_JWT_MAX_TTL_SECONDS", 3600, 60, 86_400)?,
            superadmin_domain,
            metrics_public: boolean(&env, "LATCHKEY_METRICS_PUBLIC", false)?,
            dashboard_session_hours: int("LATCHKEY_DASHBOARD_SESSION_HOURS", 12, 1, 24 * 30)?,
            workers,
            password_cost: PasswordCost::default(),
            audit_queue_capacity: int("LATCHKEY_AUDIT_QUEUE_CAPACITY", 4096, 1, 1_000_000)? as usize,
            body_deadline: std::time::Duration::from_secs(int("LATCHKEY_BODY_TIMEOUT_SECONDS", 10, 1, 300)? as u64),
            max_connections_per_client: int("LATCHKEY_MAX_CONNECTIONS_PER_CLIENT", 128, 0, 1_000_000)? as usize,
            oauth_access_token_ttl_seconds: int("LATCHKEY_OAUTH_ACCESS_TOKEN_TTL_SECONDS", 600, 60, 86_400)?,
            approval_ttl_seconds: int("LATCHKEY_APPROVAL_TTL_SECONDS", 900, 30, 7 * 86_400)?,
            webhook_url: match env("LATCHKEY_WEBHOOK_URL").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                None => None,
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => Some(u),
                Some(u) => return Err(ConfigError(format!("LATCHKEY_WEBHOOK_URL: {u:?} is not an http(s) URL"))),
            },
            webhook_key: match (
                env("LATCHKEY_WEBHOOK_URL").filter(|v| !v.trim().is_empty()),
                env("LATCHKEY_WEBHOOK_SECRET"),
            ) {
                (None, _) => None,
                (Some(_), Some(raw)) => Some(crate::webhooks::parse_secret(&raw).ok_or_else(|| {
                    ConfigError(
                        "LATCHKEY_WEBHOOK_SECRET: expected whsec_ followed by base64 (Standard Webhooks)".into(),
                    )
                })?),
                (Some(_), None) => {
                    return Err(ConfigError(
                        "LATCHKEY_WEBHOOK_SECRET: required with LATCHKEY_WEBHOOK_URL (whsec_ + base64 of a random key)"
                            .into(),
                    ));
                }
            },
            dcr: match env("LATCHKEY_DCR").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
                None | Some("open") => DcrMode::Open,
                Some("token") => DcrMode::Token,
                Some("off") => DcrMode::Off,
                Some(other) => return Err(ConfigError(format!("LATCHKEY_DCR: {other:?} is not open, token or off"))),
            },
            cimd_allow_private: boolean(&env, "LATCHKEY_CIMD_ALLOW_PRIVATE", false)?,
            cimd_allowed_hosts: env("LATCHKEY_CIMD_ALLOWED_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or_default(),
        })
    }

    /// A configuration for tests: port 0 on loopback, the given data dir,
    /// one worker and cheap password hashing.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        let overrides = Overrides {
            bind: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir),
            public_url: None,
            database_url: None,
        };
        let mut config = Config::from_lookup(overrides, |_| None).unwrap_or_else(|e| panic!("{e}"));
        config.workers = Some(1);
        // Enrollment tests make many calls from one address; the limit
        // tests turn these back on.
        config.rate_bootstrap_per_min = 0;
        config.rate_token_per_min = 0;
        config.password_cost = PasswordCost { memory_kib: 64, iterations: 1 };
        config
    }

    /// Whether `ip` is one of the proxies whose forwarding headers count.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Whether browser cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// An absolute URL on this instance for a path starting with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url, path)
    }
}

/// `LATCHKEY_TRUSTED_PROXIES`: comma-separated CIDRs or addresses.
fn trusted_proxies(raw: Option<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let raw = raw.unwrap_or_else(|| "127.0.0.0/8,::1/128".into());
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| {
                ConfigError(format!(
                    "LATCHKEY_TRUSTED_PROXIES: {s:?} is not an address or CIDR (expected e.g. 10.0.0.0/8,::1)"
                ))
            })
        })
        .collect()
}

fn boolean(env: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool, ConfigError> {
    match env(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err(ConfigError(format!("{name}: {raw:?} is not true or false"))),
        },
    }
}

fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "--public-url / LATCHKEY_PUBLIC_URL: {raw:?} is not an http(s) URL like https://latchkey.example.com"
        ))
    };
    let trimmed = raw.trim();
    if trimmed.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let url = url::Url::parse(trimmed).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
    {
        return Err(bad());
    }
    // The issuer, byte for byte everywhere (docs/API.md §5.8): lower-case
    // scheme and host, no default port, no trailing slash.
    Ok(format!("{}{}", url.origin().ascii_serialization(), url.path().trim_end_matches('/')))
}

pub fn default_public_url(bind: SocketAddr) -> String {
    let host = if bind.ip().is_unspecified() {
        "localhost".to_string()
    } else if bind.is_ipv6() {
        format!("[{}]", bind.ip())
    } else {
        bind.ip().to_string()
    };
    format!("http://{host}:{}", bind.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(Overrides::default(), |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_product_contract() {
        let c = load(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./latchkey-data"));
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.default_daily_cap.to_string(), "10.00");
        assert_eq!((c.rate_login_per_min, c.rate_bootstrap_per_min, c.rate_token_per_min), (10, 5, 30));
        assert_eq!(c.agent_token_ttl_seconds, 7200);
        assert_eq!(c.session_ttl_seconds, 900);
        assert!(!c.trust_proxy);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = load(&[("LATCHKEY_BIND", "nope")]).unwrap_err();
        assert!(e.0.contains("LATCHKEY_BIND"), "{e}");
        let e = load(&[("LATCHKEY_TRUST_PROXY", "maybe")]).unwrap_err();
        assert!(e.0.contains("LATCHKEY_TRUST_PROXY"), "{e}");
        let e = load(&[("LATCHKEY_DEFAULT_DAILY_CAP_USD", "ten")]).unwrap_err();
        assert!(e.0.contains("LATCHKEY_DEFAULT_DAILY_CAP_USD"), "{e}");
        let e = load(&[("LATCHKEY_PUBLIC_URL", "ftp://x")]).unwrap_err();
        assert!(e.0.contains("LATCHKEY_PUBLIC_URL"), "{e}");
        let e = load(&[("AGENT_TOKEN_TTL_SECONDS", "-5")]).unwrap_err();
        assert!(e.0.contains("AGENT_TOKEN_TTL_SECONDS"), "{e}");
    }

    #[test]
    fn flags_win_over_environment() {
        let overrides = Overrides { bind: Some("127.0.0.1:9999".into()), ..Default::default() };
        let c = Config::from_lookup(overrides, |k| (k == "LATCHKEY_BIND").then(|| "127.0.0.1:1".to_string())).unwrap();
        assert_eq!(c.bind.port(), 9999);
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let c = load(&[("LATCHKEY_PUBLIC_URL", "https://auth.example.com/")]).unwrap();
        assert_eq!(c.public_url, "https://auth.example.com");
        assert!(c.is_https());
    }

    #[test]
    fn the_issuer_is_one_normalised_string() {
        for (raw, want) in [
            ("HTTPS://Auth.Example.COM:443/", "https://auth.example.com"),
            ("http://127.0.0.1:80", "http://127.0.0.1"),
            ("https://example.com/Latchkey/", "https://example.com/Latchkey"),
            ("https://example.com:8443", "https://example.com:8443"),
        ] {
            assert_eq!(load(&[("LATCHKEY_PUBLIC_URL", raw)]).unwrap().public_url, want, "{raw}");
        }
        for bad in ["ftp://x.example", "https://u@x.example", "https://x.example/?q", "not a url"] {
            assert!(load(&[("LATCHKEY_PUBLIC_URL", bad)]).is_err(), "{bad}");
        }
    }
}
