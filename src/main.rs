fn main() {
    let cli = latchkey::cli::Cli::parse_args();
    let log_guard = latchkey::telemetry::init();
    if let Err(e) = latchkey::cli::run(cli) {
        drop(log_guard);
        eprintln!("latchkey: {}", e.message());
        std::process::exit(e.exit_code());
    }
}
