use clap::Parser;

fn main() {
    let cli = latchkey::cli::Cli::parse();
    latchkey::telemetry::init();
    if let Err(e) = latchkey::cli::run(cli) {
        eprintln!("latchkey: {}", e.message());
        std::process::exit(e.exit_code());
    }
}
