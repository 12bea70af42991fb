//! Building and running the HTTP server. `App::build` binds first, so a
//! caller asking for port 0 learns the real port before anything runs.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App as ActixApp, HttpServer, web};

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::keys::SigningKeys;
use crate::crypto::password::PasswordHasher;
use crate::db::Db;
use crate::domain;
use crate::http;
use crate::rate_limit::IpRateLimiter;
use crate::state::AppState;

pub struct App {
    server: Server,
    port: u16,
    state: AppState,
    setup_code: Option<String>,
}

impl App {
    /// Opens and migrates the database, binds the listener and prepares the
    /// server. Must be called inside an actix system.
    pub fn build(mut config: Config, clock: Clock) -> Result<App, String> {
        // Off the async runtime: the PostgreSQL client blocks.
        let (db, setup_code) = std::thread::scope(|s| {
            s.spawn(|| {
                let db = Db::open_url(&config.data_dir, config.database_url.as_ref().map(|u| u.0.as_str()))?;
                let code = db
                    .write_blocking(domain::setup::issue_code_if_needed)
                    .map_err(|e| format!("cannot prepare first-run setup: {e}"))?;
                Ok::<_, String>((db, code))
            })
            .join()
            .map_err(|_| "opening the database panicked".to_string())?
        })?;
        let hasher = PasswordHasher::new(config.password_cost)?;
        let max_jwt_ttl = config.session_ttl_seconds.max(crate::http::api::identity::EXCHANGE_TTL_SECONDS);
        let keys = Arc::new(
            SigningKeys::load_or_create(&config.keys_dir, max_jwt_ttl, clock.now())
                .map_err(|e| format!("LATCHKEY_KEYS_DIR: {e}"))?,
        );
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("--bind / LATCHKEY_BIND: cannot listen on {}: {e}", config.bind))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let port = local.port();
        if config.public_url_is_default {
            config.public_url = crate::config::default_public_url(local);
        }

        let authn = Arc::new(crate::domain::authn::Settings {
            issuer: config.public_url.clone(),
            settings_url: config.url("/settings"),
            signature_skew_seconds: config.signature_skew_seconds,
            cert_jwt_max_ttl_seconds: config.cert_jwt_max_ttl_seconds,
            superadmin_domain: config.superadmin_domain.clone(),
        });
        let audit = crate::audit_queue::AuditQueue::start(db.clone(), config.audit_queue_capacity)?;
        let state = AppState {
            verified_jwts: Arc::default(),
            resources: Arc::default(),
            cimd: Arc::default(),
            webhooks: crate::webhooks::Webhooks::start(config.webhook_url.clone(), config.webhook_key.clone()),
            recent_touches: Arc::default(),
            authn,
            audit,
            db,
            login_limiter: IpRateLimiter::per_minute(config.rate_login_per_min),
            setup_limiter: IpRateLimiter::per_minute(config.rate_login_per_min),
            certificate_limiter: crate::rate_limit::NamedRateLimiter::per_minute(10),
            password_limiter: crate::rate_limit::NamedRateLimiter::per_minute(config.rate_login_per_min),
            rsa_jobs: Arc::new(tokio::sync::Semaphore::new(2)),
            pat_limiter: crate::rate_limit::NamedRateLimiter::per_minute(60),
            bootstrap_limiter: IpRateLimiter::per_minute(config.rate_bootstrap_per_min),
            token_limiter: IpRateLimiter::per_minute(config.rate_token_per_min),
            // Twenty registrations a minute per address; off with the token limit.
            register_limiter: IpRateLimiter::per_minute(if config.rate_token_per_min == 0 { 0 } else { 20 }),
            config: Arc::new(config),
            clock,
            hasher,
            keys,
            metrics: crate::metrics::Metrics::new(),
        };
        let workers =
            state.config.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let app_state = state.clone();
        let connections = http::connections::ConnectionLimiter::new(state.config.max_connections_per_client);
        let counting = state.config.clone();
        let server = HttpServer::new(move || {
            ActixApp::new().app_data(web::Data::new(app_state.clone())).configure(http::configure)
        })
        // Each accepted connection takes a place under its client's address
        // (released when it closes); one past the cap is marked, and its
        // first request is refused (`middleware::harden`).
        .on_connect(move |conn, ext| {
            let peer = conn.downcast_ref::<actix_web::rt::net::TcpStream>().and_then(|s| s.peer_addr().ok());
            if let Some(peer) = peer.filter(|p| !counting.is_trusted_proxy(p.ip())) {
                match connections.open(peer.ip()) {
                    Ok(Some(place)) => {
                        ext.insert(place);
                    }
                    Ok(None) => {}
                    Err(over) => {
                        ext.insert(over);
                    }
                }
            }
        })
        .workers(workers)
        // Writes and argon2 queue on these; a small pool bounds memory and
        // keeps a burst from spawning hundreds of threads.
        .worker_max_blocking_threads(16)
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| format!("cannot start the HTTP server: {e}"))?
        .run();

        // OAuth and MCP clients refuse an authorization server on plain http
        // anywhere but loopback (OAuth 2.1): say so where the operator looks.
        let public = &state.config.public_url;
        let loopback = url::Url::parse(public).is_ok_and(|u| crate::domain::oauth::is_loopback(&u));
        if public.starts_with("http://") && !loopback {
            tracing::warn!(
                public_url = %public,
                "LATCHKEY_PUBLIC_URL is plain http on a non-loopback host: OAuth and MCP clients will refuse it; \
                 serve Latchkey over https (e.g. behind Caddy or nginx) and set LATCHKEY_PUBLIC_URL=https://…"
            );
        }
        Ok(App { server, port, state, setup_code })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The one-time first-run code, while no user exists.
    pub fn setup_code(&self) -> Option<&str> {
        self.setup_code.as_deref()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or `handle().stop()`), letting in-flight
    /// requests finish.
    pub async fn run(self) -> std::io::Result<()> {
        // `latchkey keys rotate` writes a new key; SIGHUP makes us read it.
        #[cfg(unix)]
        {
            use actix_web::rt::signal::unix::{SignalKind, signal};
            let keys = self.state.keys.clone();
            let verified = self.state.verified_jwts.clone();
            if let Ok(mut hangups) = signal(SignalKind::hangup()) {
                actix_web::rt::spawn(async move {
                    while hangups.recv().await.is_some() {
                        let reloaded = keys.reload();
                        // A key removed from the directory must stop
                        // vouching for tokens at once.
                        verified.clear();
                        match reloaded {
                            Ok(()) => {
                                tracing::info!(kid = %keys.active_kid(), "signing keys reloaded")
                            }
                            Err(e) => tracing::error!(error = %e, "signing keys not reloaded"),
                        }
                    }
                });
            }
        }
        // A rotation by `latchkey keys rotate` (perhaps on another replica's
        // host, in a shared key directory) is picked up within a minute.
        {
            let keys = self.state.keys.clone();
            let verified = self.state.verified_jwts.clone();
            actix_web::rt::spawn(async move {
                let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(30));
                loop {
                    every.tick().await;
                    let keys = keys.clone();
                    let changed = actix_web::web::block(move || keys.reload_if_changed().map(|c| (c, keys))).await;
                    match changed {
                        Ok(Ok((true, keys))) => {
                            verified.clear();
                            tracing::info!(kid = %keys.active_kid(), "signing keys changed on disk; reloaded");
                        }
                        Ok(Ok((false, _))) => {}
                        Ok(Err(e)) => tracing::error!(error = %e, "signing keys not reloaded"),
                        Err(e) => tracing::error!(error = %e, "signing key check failed"),
                    }
                }
            });
        }
        // Housekeeping: expired tokens, sessions and secrets, a batch a minute.
        {
            let (db, clock) = (self.state.db.clone(), self.state.clock.clone());
            actix_web::rt::spawn(async move {
                let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
                loop {
                    every.tick().await;
                    let now = clock.now();
                    match db.write(move |tx| domain::housekeeping::prune(tx, now)).await {
                        Ok(p) if p != domain::housekeeping::Pruned::default() => {
                            tracing::info!(?p, "pruned expired rows")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning expired rows failed"),
                    }
                }
            });
        }
        let served = self.server.await;
        // Refusals still queued reach the audit trail before we exit.
        self.state.audit.close();
        served
    }
}
