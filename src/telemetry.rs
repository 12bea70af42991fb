//! Logging through `tracing`: one line per request (see
//! `http::middleware`), never a header, cookie or body. Lines go to stderr
//! through a background writer, so a slow terminal or journal never stalls
//! a request; the returned guard flushes what is buffered when dropped.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub use tracing_appender::non_blocking::WorkerGuard as LogGuard;

/// Installs the global subscriber (stderr). `RUST_LOG` overrides the level.
/// Keep the guard until the process exits.
pub fn init() -> Option<LogGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    // Lossless: when the buffer is full the logging thread waits rather than
    // dropping lines.
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .try_init()
        .ok()
        .map(|_| guard)
}
