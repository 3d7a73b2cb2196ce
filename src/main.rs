//! `routesim`: clap → `routesim::app` → exit code (0 ok, 1 invalid input, 2 failure).

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    // `routesim … | head`: a closed pipe ends the output quietly (exit 0).
    routesim::util::pipe::exit_quietly_on_broken_pipe();
    // A bad command line is invalid input (exit 1), like a bad file; help and
    // version print and exit 0.
    let args = match Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match args.command {
        Command::Run(a) => routesim::app::run(&a.into_options()),
        Command::Validate(a) => {
            routesim::app::validate(&a.policies, a.dataset.as_deref(), a.example)
        }
        Command::Synth(a) => routesim::app::synth(&a.into_options()),
        Command::Report(a) => routesim::app::report_dir(&a.dir, &a.by, a.baseline.as_deref()),
        Command::Compare(a) => routesim::app::compare(&a.a, &a.b, a.out.as_deref(), a.json),
        Command::Record(a) => routesim::app::record(&a.into_options()),
        Command::MockServer(a) => routesim::app::mock_server(a.port, a.latency_ms),
        Command::Merge(a) => routesim::app::merge(&a.shards, &a.out),
        Command::ImportConfig(a) => routesim::app::import_config(&a.into_options()),
        Command::Tune(a) => routesim::app::tune(&a.into_options()),
        Command::Diff(a) => routesim::app::diff_cmd(&a.into_options()),
        Command::Explain(a) => routesim::app::explain_cmd(&a.into_options()),
        Command::Completions(a) => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(&cli::completions(a.shell))
                .map_err(anyhow::Error::from)
        }
        Command::Prices(a) => routesim::app::prices(&a.into_options()),
        Command::Import(a) => routesim::app::import(&a.into_options()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if routesim::util::pipe::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(input) = e.downcast_ref::<routesim::error::InputError>() {
                eprintln!("error: invalid input\n{input}");
                ExitCode::from(1)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}
