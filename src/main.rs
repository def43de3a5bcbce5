//! The `csflowd` program: parses the command line, loads the configuration, sets up logging and
//! runs the agent.

use std::process::ExitCode;

use csflowd::agent::{self, Settings};
use csflowd::cli::{self, Command};
use csflowd::host::Roots;

/// Exit status for a bad command line (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit status for a bad configuration (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(o)) => *o,
        Ok(Command::Help) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("csflowd {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("csflowd: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let defaults = Roots::default();
    let settings = Settings {
        config_path: opts.config_path.clone(),
        overrides: opts.overrides.clone(),
        roots: Roots {
            proc: opts.proc_root.clone().unwrap_or(defaults.proc),
            sys: opts.sys_root.clone().unwrap_or(defaults.sys),
            etc: opts.etc_root.clone().unwrap_or(defaults.etc),
        },
        print: opts.print,
        output_file: opts.output_file.clone(),
    };
    // The configuration is checked before anything else happens, so a broken file is reported on the
    // terminal (even when about to become a daemon) and nothing is ever sent with it.
    let loaded = match agent::load_config(&settings) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("csflowd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if opts.check {
        for w in &loaded.warnings {
            eprintln!("csflowd: warning: {w}");
        }
        match &loaded.file {
            Some(f) => println!("{}: {}", f.display(), agent::summary(&loaded.config)),
            None => println!("built-in defaults: {}", agent::summary(&loaded.config)),
        }
        return ExitCode::SUCCESS;
    }
    let level = match opts.debug {
        0 | 1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    if opts.debug == 0 {
        for w in &loaded.warnings {
            eprintln!("csflowd: warning: {w}");
        }
        if let Err(e) = csflowd::sys::daemonize() {
            eprintln!("csflowd: cannot become a daemon: {e}");
            return ExitCode::FAILURE;
        }
        let _ = csflowd::syslog::SyslogLogger::new(level).install();
        // A daemon's stderr is /dev/null, where std's panic message would go: log it instead, so a
        // bug that stops the agent leaves its message and location in syslog before the abort.
        std::panic::set_hook(Box::new(|info| {
            log::error!("internal error, the agent stops: {info}");
        }));
    } else {
        let _ = simple_logger::SimpleLogger::new().with_level(level).init();
    }
    agent::log_loaded(&loaded);
    if let Some(p) = &opts.pid_file {
        if let Err(e) = agent::write_pid_file(p) {
            log::error!("cannot write pid file {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    let result = agent::run(settings, loaded.config);
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
