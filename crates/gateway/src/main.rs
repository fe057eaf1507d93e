//! `latchkey`: the server, the delivery worker and the operator's command line.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("latchkey: error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, so that scripts and people see the whole reason at once.
            let message = format!("{error:#}").replace(['\n', '\r'], " ");
            eprintln!("latchkey: error: {message}");
            ExitCode::FAILURE
        }
    }
}
