//! The `juru` command: parses arguments and calls into the library crates. Glue only.
//!
//! Exit codes: 0 success, 1 error, 2 bad usage (a suite with problems included), 3 the audit
//! chain does not verify, 4 an eval suite ran and failed its threshold, or a bias audit failed a
//! check.

mod cli;
mod commands;
mod prompts;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    commands::init_logging(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
