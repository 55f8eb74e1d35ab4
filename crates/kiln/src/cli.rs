//! Command-line types (clap derive only; no logic).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Freeze a Python application into standalone executables.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Freeze an application into a bundle.
    Build(BuildCmd),
    /// Show the shortest import chain from the entry to MODULE.
    Why(WhyCmd),
    /// Check config, interpreter and imports without building; exit 1 on errors.
    Check(CheckCmd),
    /// Print the module graph for tools.
    Graph(GraphCmd),
    /// List or remove the copies that onefile executables unpacked on this machine.
    Cache(CacheCmd),
    /// List the hooks that apply to the app, and what each added.
    Hooks(HooksCmd),
    /// Show a build's largest packages and write its HTML report.
    Report(ReportCmd),
    /// Run the app under the target interpreter and record what it imports and opens
    /// (kiln-trace.json beside the entry), as evidence for later builds.
    Trace(TraceCmd),
    /// Run a built bundle as a user's machine will (relocated, empty cwd, host Pythons
    /// hidden) and check it: exit status, output, a server's health and SIGTERM, imports.
    Test(TestCmd),
    /// Read a PyInstaller .spec file and print the same settings as kiln configuration, with
    /// what kiln finds by itself marked as not needed.
    ImportSpec(ImportSpecCmd),
}

#[derive(Debug, Args)]
pub struct ImportSpecCmd {
    /// The PyInstaller spec file.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// The app's interpreter, to tell which hidden imports kiln finds by itself
    /// [default: python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Print what was read as JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

/// Packages `kiln build --format` writes beside the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackageFormat {
    /// A Debian package (.deb) installing the bundle under /opt.
    Deb,
}

#[derive(Debug, Args)]
pub struct TestCmd {
    /// The bundle (directory or onefile executable) or its NAME.build-report.json
    /// [default: the one report in ./dist].
    #[arg(value_name = "BUNDLE")]
    pub target: Option<PathBuf>,
    /// Start this file of the bundle directory instead (a suite's NAME-COMPONENT).
    #[arg(long, value_name = "FILE")]
    pub program: Option<String>,
    /// The exit status the app must end with.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub expect_exit: i32,
    /// A file holding exactly what the app must print on standard output.
    #[arg(long, value_name = "FILE")]
    pub expect_stdout: Option<PathBuf>,
    /// A server: start it with PORT set, poll this path on http://127.0.0.1:PORT until it
    /// answers 2xx, then stop it with SIGTERM and expect a clean exit within 10 s.
    #[arg(long, value_name = "PATH")]
    pub health: Option<String>,
    /// Seconds the app (or its health path) gets.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
    /// Also import every bundled module in the bundled interpreter; a module that imports in
    /// the build's interpreter and not in the bundle fails, with its import chain.
    #[arg(long)]
    pub import_all: bool,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Arguments for the app, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct TraceCmd {
    #[command(flatten)]
    pub app: AppArgs,
    /// A server: stop it with SIGTERM once this URL answers 2xx (http://HOST:PORT/PATH).
    #[arg(long, value_name = "URL")]
    pub health: Option<String>,
    /// Seconds to wait for the health URL.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Replace the recorded trace instead of adding this run to it.
    #[arg(long)]
    pub fresh: bool,
    /// Arguments for the app, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReportCmd {
    /// The bundle (directory or onefile executable) or its NAME.build-report.json
    /// [default: the one report in ./dist].
    #[arg(value_name = "BUNDLE_OR_REPORT")]
    pub target: Option<PathBuf>,
    /// Where to write the HTML page [default: NAME.report.html beside the report].
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// How many packages to list.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct HooksCmd {
    #[command(flatten)]
    pub app: AppArgs,
    /// Print as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CacheCmd {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List the unpacked onefile apps: hash, size, last use, app.
    List {
        /// Print the list as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Remove unpacked onefile apps (all of them unless --older-than is given).
    Clean {
        /// Remove every entry (the default).
        #[arg(long, conflicts_with = "older_than")]
        all: bool,
        /// Remove only entries not used for this many days.
        #[arg(long, value_name = "DAYS", allow_hyphen_values = true)]
        older_than: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct CheckCmd {
    #[command(flatten)]
    pub app: AppArgs,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// List third-party findings too.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct GraphCmd {
    #[command(flatten)]
    pub app: AppArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Json,
    Dot,
}

#[derive(Debug, Args)]
pub struct WhyCmd {
    /// The module to explain (dotted name).
    pub target: String,
    #[command(flatten)]
    pub app: AppArgs,
    /// Print the chain as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What to analyse: shared by every command that reads an app.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The entry script (or set `entry` in kiln.toml).
    pub entry: Option<PathBuf>,
    /// Run a module as the entry, like `python -m MODULE`; `MODULE:FUNCTION` calls a function
    /// as a console-script entry point does.
    #[arg(short = 'm', long = "module", value_name = "MODULE")]
    pub module: Option<String>,
    /// Target interpreter [default: the active venv, else python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Read this config file instead of ./kiln.toml or ./pyproject.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Include this module as if the entry imported it (repeatable; adds to `hidden-imports`).
    #[arg(long = "hidden-import", value_name = "MODULE")]
    pub hidden_imports: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildCmd {
    #[command(flatten)]
    pub app: AppArgs,
    /// Bundle and executable name [default: the entry's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Output directory [default: dist].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Bytecode optimisation level, as python -O (1) and -OO (2).
    #[arg(long, value_name = "LEVEL")]
    pub optimize: Option<u8>,
    /// Keep symbol tables and debug sections in bundled native libraries.
    #[arg(long)]
    pub no_strip: bool,
    /// For machines without an NVIDIA GPU: leave out triton and the CUDA libraries nothing
    /// links (torch still imports and computes on the CPU; its CUDA wheels' linked libraries
    /// stay, as torch cannot load without them).
    #[arg(long)]
    pub cpu_only: bool,
    /// Write one executable, DIR/NAME, that unpacks itself into a per-user cache on first run
    /// (a suite: DIR/NAME/ holding that executable and a small launcher per component).
    #[arg(long)]
    pub onefile: bool,
    /// zstd level of the onefile payload, 1 (fastest) to 19 (smallest) [default: 12 up to
    /// 64 MiB of payload, 10 up to 1 GiB, 3 beyond].
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
    /// Compress bundled extension modules and shared libraries with UPX (needs `upx` on PATH;
    /// see the README for the trade-offs).
    #[arg(long)]
    pub upx: bool,
    /// Fail when anything bundled needs a newer glibc than this, e.g. 2.28 (see the README's
    /// portability section).
    #[arg(long, value_name = "VERSION")]
    pub min_glibc: Option<String>,
    /// Also write a package of the onedir bundle: `deb` writes DIR/PACKAGE_VERSION_ARCH.deb
    /// (metadata from `[tool.kiln.deb]` and `[project]`).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<PackageFormat>,
    /// Build only this component of the suite, on its own: a bundle named after the component,
    /// with the suite's settings and the component's own rules.
    #[arg(long, value_name = "NAME")]
    pub component: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show detail: stage timings, every warning and missing import.
    #[arg(short, long)]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The defaults `--help` states are the ones the code uses.
    #[test]
    fn help_states_the_defaults_in_use() {
        let mut cmd = super::Cli::command();
        let build = cmd.find_subcommand_mut("build").unwrap();
        let help = build.render_long_help().to_string();
        let level = crate::config::DEFAULT_COMPRESSION_LEVEL;
        let limit = crate::config::STRONGEST_LEVEL_UP_TO >> 20;
        assert!(
            help.contains(&format!("[default: {level} up to"))
                && help.contains(&format!("{limit} MiB")),
            "--help does not state compression level {level} up to {limit} MiB:\n{help}"
        );
    }
}
