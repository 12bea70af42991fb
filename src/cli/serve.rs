//! `latchkey serve`.

use crate::app::App;
use crate::cli::CliError;
use crate::clock::Clock;
use crate::config::{Config, Overrides};

pub fn run(overrides: Overrides) -> Result<(), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    let public_url = config.public_url.clone();
    let data_dir = config.data_dir.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = App::build(config, Clock::system()).map_err(CliError::Failed)?;
        if let Some(code) = app.setup_code() {
            // Printed, never logged through tracing: it is a one-time secret for
            // whoever reads this terminal.
            eprintln!();
            eprintln!("  First run: open this link to create the owner account (it works once):");
            eprintln!("  {public_url}/setup?code={code}");
            eprintln!();
        }
        tracing::info!(
            "latchkey {} listening on http://{}:{} (public URL {public_url}, data dir {})",
            env!("CARGO_PKG_VERSION"),
            app.state().config.bind.ip(),
            app.port(),
            data_dir.display()
        );
        app.run().await.map_err(|e| CliError::Failed(format!("server stopped: {e}")))?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}
