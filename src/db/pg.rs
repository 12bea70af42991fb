//! PostgreSQL, selected by `--database-url postgres://…`. Several
//! `latchkey serve` replicas share one database.
//!
//! The SQL is the same as on SQLite: `?N` parameters become `$N` here, and
//! values travel as the same four kinds (integers, text, bytes, null).
//! Every write transaction first takes one transaction-scoped advisory lock,
//! so writes from all replicas run one at a time, exactly as SQLite's single
//! writer runs them: a check-then-write inside a transaction (a cap, a
//! one-time secret) means the same thing on both backends. Reads take no
//! lock; a multi-statement read runs in one `REPEATABLE READ` snapshot.

use std::collections::HashMap;
use std::str::FromStr;

use postgres::types::ToSql;

use super::conn::{Error, Result, Value};

/// The advisory lock every write transaction holds ("latchkey" in ASCII).
const WRITE_LOCK: i64 = 0x6c61_7463_686b_6579;
/// Held while migrations run, so two replicas starting together migrate once.
const MIGRATE_LOCK: i64 = WRITE_LOCK + 1;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Target {
    /// Parses a `postgres://` or `postgresql://` URL. TLS (rustls, the
    /// server's certificate checked against the web's root authorities and
    /// `PGSSLROOTCERT` when set) when it says `sslmode=require`.
    pub fn parse(url: &str) -> std::result::Result<Target, String> {
        let mut config = postgres::Config::from_str(url).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("latchkey");
        }
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(rustls_connector()?),
            _ => None,
        };
        Ok(Target { config, tls })
    }

    /// A new session, or why not (without the password).
    pub fn connect(&self) -> std::result::Result<Session, postgres::Error> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(postgres::NoTls)?,
        };
        Ok(Session { client: Client(Some(client)), statements: HashMap::new(), in_tx: false })
    }

    /// The server, port and database, for messages (never the password).
    pub fn describe(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}/{}", self.config.get_dbname().unwrap_or("postgres"))
    }
}

fn rustls_connector() -> std::result::Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Ok(path) = std::env::var("PGSSLROOTCERT") {
        let pem = std::fs::read(&path).map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        for cert in rustls_pki_certs(&pem) {
            roots.add(cert).map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The certificates of a PEM file.
fn rustls_pki_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).filter_map(|c| c.ok()).collect()
}

/// `postgres::Client`, closed off the async runtime: its `Drop` blocks on
/// the connection's own runtime, which panics inside another one (a pool
/// dropped on an HTTP worker).
struct Client(Option<postgres::Client>);

impl std::ops::Deref for Client {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("client present until drop")
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("client present until drop")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(client));
        }
    }
}

/// One connection with its compiled statements.
pub struct Session {
    client: Client,
    statements: HashMap<String, postgres::Statement>,
    in_tx: bool,
}

/// Dynamic SQL (list filters) makes a bounded but open set of statements;
/// past this many, the cache starts over.
const MAX_STATEMENTS: usize = 512;

impl Session {
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    /// The driver itself, for bulk work (`db copy`).
    pub fn client_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    /// Statements without parameters. Transaction control is spelled as on
    /// SQLite and translated here.
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        let trimmed = sql.trim().trim_end_matches(';').trim();
        let upper = trimmed.to_ascii_uppercase();
        let translated = match upper.as_str() {
            "BEGIN IMMEDIATE" => {
                format!("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            }
            "BEGIN" | "BEGIN DEFERRED" => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string(),
            _ => sql.to_string(),
        };
        let starts = upper.starts_with("BEGIN");
        let ends = upper == "COMMIT" || upper == "ROLLBACK" || upper == "END";
        let result = self.client.batch_execute(&translated);
        if ends {
            self.in_tx = false;
        } else if starts && result.is_ok() {
            self.in_tx = true;
        }
        Ok(result?)
    }

    pub fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<usize> {
        if is_control(sql) {
            self.batch(sql)?;
            return Ok(0);
        }
        let stmt = self.prepare(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(usize::try_from(self.client.execute(&stmt, &params)?).unwrap_or(usize::MAX))
    }

    pub fn query(&mut self, sql: &str, values: &[Value<'_>]) -> Result<Vec<postgres::Row>> {
        let stmt = self.prepare(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(self.client.query(&stmt, &params)?)
    }

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(&translate(sql)).inspect_err(|e| {
            if let Some(db) = e.as_db_error() {
                tracing::error!(error = db.message(), sql, "PostgreSQL refused a statement");
            }
        })?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Applies the embedded PostgreSQL migrations, one replica at a time.
    pub fn migrate(&mut self) -> std::result::Result<(), String> {
        let fail = |e: postgres::Error| format!("database migration failed: {}", Error::Postgres(e));
        self.client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK]).map_err(fail)?;
        let ran = embedded::migrations::runner()
            .run(&mut *self.client)
            .map(|_| ())
            .map_err(|e| format!("database migration failed: {e}"));
        let _ = self.client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
        ran
    }
}

/// Transaction control goes through the simple protocol, not `PREPARE`.
fn is_control(sql: &str) -> bool {
    let head = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    matches!(head.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END")
}

/// `?N` → `$N`, and `+?N` (SQLite's "no index on this side" hint) → `$N`;
/// a bare `?` takes the next number. Quoted text and identifiers are left
/// alone.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next = 0u32;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '+' if chars.peek() == Some(&'?') => {}
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                } else if let Ok(n) = digits.parse::<u32>() {
                    next = next.max(n);
                }
                out.push('$');
                out.push_str(&digits);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A session the connection owns (the writer's), or one borrowed from the
/// reader pool (back to the pool when dropped).
pub enum Handle {
    Owned(Session),
    Pooled(r2d2::PooledConnection<Manager>),
}

impl std::ops::Deref for Handle {
    type Target = Session;
    fn deref(&self) -> &Session {
        match self {
            Handle::Owned(s) => s,
            Handle::Pooled(s) => s,
        }
    }
}

impl std::ops::DerefMut for Handle {
    fn deref_mut(&mut self) -> &mut Session {
        match self {
            Handle::Owned(s) => s,
            Handle::Pooled(s) => s,
        }
    }
}

/// The reader pool's connections.
pub struct Manager {
    pub target: Target,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Session;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Session, postgres::Error> {
        self.target.connect()
    }

    fn is_valid(&self, conn: &mut Session) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Session) -> bool {
        conn.client.is_closed() || conn.in_tx
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn parameters_are_numbered_for_postgres() {
        assert_eq!(translate("SELECT a FROM t WHERE h = +?1 AND b = ?2"), "SELECT a FROM t WHERE h = $1 AND b = $2");
        assert_eq!(translate("INSERT INTO t VALUES (?, ?)"), "INSERT INTO t VALUES ($1, $2)");
        assert_eq!(translate("SELECT '?1', \"a?\" FROM t WHERE x = ?10"), "SELECT '?1', \"a?\" FROM t WHERE x = $10");
        assert_eq!(translate("SELECT a + b FROM t"), "SELECT a + b FROM t");
    }
}
