//! The `kiln` command: parse arguments, run, print, exit.

use std::process::ExitCode;

/// Analysis allocates many small AST nodes on several threads; mimalloc does that faster than
/// the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 alike); libmimalloc-sys does
/// not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use kiln::cli::{
    AppArgs, BuildCmd, CheckCmd, Cli, Command, GraphCmd, GraphFormat, HooksCmd, WhyCmd,
};
use kiln::config::{self, BuildArgs};
use kiln::pipeline::{self, Progress};
use kiln::resolve::ResolveProgress;

fn main() -> ExitCode {
    // Like other Unix filters, stop quietly when the reader of our output goes away
    // (`kiln graph | head`) instead of failing to print.
    // SAFETY: setting a signal disposition to SIG_DFL at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A run frees the syntax trees of thousands of files: mimalloc's default of giving freed
    // memory back to the system after 10 ms had the kernel zero the same pages again and again
    // (a fifth of a cold analysis' CPU). kiln lives for seconds; it keeps what it frees.
    // SAFETY: setting an allocator option; mimalloc allows it at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    let cli = Cli::parse();
    // Python's syntax trees nest as deep as the source does (a 10,000-term `1+1+...` is 10,000
    // levels), and parsing, walking and dropping them recurses: every thread that may touch one
    // gets a stack far larger than the default. It is reserved, not used, until needed.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(kiln::analyse::STACK_SIZE)
        .build_global();
    let worker = std::thread::Builder::new()
        .stack_size(kiln::analyse::STACK_SIZE)
        .spawn(move || run(cli));
    let result = match worker {
        Ok(handle) => handle
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("kiln stopped on an internal error"))),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start a thread")),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(cmd) => build(cmd),
        Command::Why(cmd) => why(cmd),
        Command::Check(cmd) => check(cmd),
        Command::Graph(cmd) => graph(cmd),
        Command::Cache(cmd) => cache(cmd),
        Command::Hooks(cmd) => hooks(cmd),
        Command::Report(cmd) => report(cmd),
        Command::Trace(cmd) => trace(cmd),
        Command::Test(cmd) => test(cmd),
        Command::ImportSpec(cmd) => import_spec(cmd),
    }
}

fn trace(cmd: kiln::cli::TraceCmd) -> anyhow::Result<ExitCode> {
    use kiln::trace;
    let settings = settings(cmd.app, |_| {})?;
    let (interpreter, _) = pipeline::interpreter(&settings, &())?;
    let traced = trace::run(&trace::TraceRun {
        settings: &settings,
        interpreter: &interpreter,
        args: &cmd.args,
        health: cmd.health.as_deref(),
        timeout: std::time::Duration::from_secs(cmd.timeout),
    })?;
    let mut recorded = traced.trace.clone();
    if !cmd.fresh {
        // Runs of several scenarios add up: a CLI command, a server's requests.
        if let Some(earlier) = trace::load(&settings)?.filter(|t| t.entry == recorded.entry) {
            recorded.merge(earlier);
        }
    }
    let path = trace::save(&settings, &recorded)?;
    eprintln!(
        "traced {} modules and {} data files -> {}",
        recorded.modules.len(),
        recorded.files.len(),
        path.display()
    );
    eprintln!("  later builds of this entry ship them (`kiln why MODULE` says `traced`)");
    match traced.status {
        Some(0) => Ok(ExitCode::SUCCESS),
        _ if traced.stopped => Ok(ExitCode::SUCCESS),
        Some(code) => {
            eprintln!("warning: the app exited with status {code}; the trace holds what it did until then");
            Ok(ExitCode::from(code.clamp(1, 255) as u8))
        }
        None => {
            eprintln!(
                "warning: the app was stopped by a signal; the trace holds what it did until then"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn import_spec(cmd: kiln::cli::ImportSpecCmd) -> anyhow::Result<ExitCode> {
    let spec = kiln::spec::read(&cmd.spec)?;
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&spec)?);
        return Ok(ExitCode::SUCCESS);
    }
    // What kiln reaches by itself from the spec's entry, with no hidden imports.
    let spec_dir = cmd.spec.parent().unwrap_or(std::path::Path::new("."));
    let graph = spec.scripts.first().map(|script| {
        let args = BuildArgs {
            entry: Some(spec_dir.join(script)),
            python: cmd.python.clone(),
            ..Default::default()
        };
        let cwd = std::env::current_dir()?;
        let settings = config::resolve_settings(&args, &config::LoadedConfig::default(), &cwd)?;
        anyhow::Ok(pipeline::analyse(&settings, &())?.graph)
    });
    let mut text = String::new();
    let found = match graph {
        Some(Ok(graph)) => {
            let reached: std::collections::HashSet<String> =
                graph.included().map(|(_, m)| m.name.clone()).collect();
            Some(move |m: &str| reached.contains(m))
        }
        Some(Err(err)) => {
            text.push_str(&format!(
                "# every hidden import is kept: the app could not be analysed ({err})\n"
            ));
            None
        }
        None => None,
    };
    let name = cmd.spec.display().to_string();
    let found_fn = found.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
    text.insert_str(0, &kiln::spec::render(&spec, &name, found_fn));
    print!("{text}");
    eprintln!(
        "save this as kiln.toml beside {} (paths in it are relative to that directory)",
        cmd.spec.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn test(cmd: kiln::cli::TestCmd) -> anyhow::Result<ExitCode> {
    use kiln::report::{build_report, view};
    use kiln::verify;
    let path = view::locate(cmd.target.as_deref())?;
    let report = build_report::BuildReport::read(&path)?;
    let cwd = std::env::current_dir()?;
    let loaded = config::discover(&cwd, None)?;
    let flags_given = cmd.program.is_some()
        || cmd.expect_exit != 0
        || cmd.expect_stdout.is_some()
        || cmd.health.is_some()
        || cmd.import_all
        || !cmd.args.is_empty();
    let configured = loaded.raw.test.clone().unwrap_or_default();
    let cases: Vec<(String, verify::TestRequest)> = if flags_given || configured.is_empty() {
        let expect_stdout = read_expected(cmd.expect_stdout.as_deref(), "--expect-stdout")?;
        check_health_path(cmd.health.as_deref(), "--health")?;
        vec![(
            "command line".to_string(),
            verify::TestRequest {
                program: cmd.program,
                args: cmd.args,
                expect_exit: cmd.expect_exit,
                expect_stdout,
                health: cmd.health,
                timeout: std::time::Duration::from_secs(cmd.timeout.max(1)),
                import_all: cmd.import_all,
            },
        )]
    } else {
        let base = loaded.base_dir(&cwd);
        let mut cases = Vec::new();
        for (name, case) in configured {
            let key = format!("{}test.{name}", loaded.key_prefix);
            let expected = case.expect_stdout.as_ref().map(|f| base.join(f));
            let expect_stdout =
                read_expected(expected.as_deref(), &format!("`{key}.expect-stdout`"))?;
            check_health_path(case.health.as_deref(), &format!("`{key}.health`"))?;
            let request = verify::TestRequest {
                program: case.program,
                args: case
                    .args
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                expect_exit: case.expect_exit.unwrap_or(0),
                expect_stdout,
                health: case.health,
                timeout: std::time::Duration::from_secs(case.timeout.unwrap_or(cmd.timeout).max(1)),
                import_all: case.import_all.unwrap_or(false),
            };
            cases.push((name, request));
        }
        cases
    };
    let mut outcomes = Vec::new();
    for (name, request) in &cases {
        if !cmd.json {
            eprintln!("testing {} ({name}) ...", report.bundle.display());
        }
        let outcome = verify::run(&report, request)?;
        if !cmd.json {
            print!("{}", render_test(&outcome));
        }
        outcomes.push(serde_json::json!({ "name": name, "outcome": outcome }));
    }
    let passed = outcomes.iter().all(|o| o["outcome"]["passed"] == true);
    if cmd.json {
        let all = serde_json::json!({ "passed": passed, "cases": outcomes });
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else if cases.len() > 1 {
        let failed = outcomes
            .iter()
            .filter(|o| o["outcome"]["passed"] != true)
            .count();
        println!("{} of {} cases passed", cases.len() - failed, cases.len());
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The expected output file of a test case, read whole; `what` names the flag or key.
fn read_expected(file: Option<&std::path::Path>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
    file.map(|file| {
        std::fs::read(file).map_err(|e| anyhow::anyhow!("{what} {}: {e}", file.display()))
    })
    .transpose()
}

fn check_health_path(path: Option<&str>, what: &str) -> anyhow::Result<()> {
    if let Some(path) = path {
        anyhow::ensure!(
            path.starts_with('/'),
            "{what} {path:?}: give the path the server answers on, such as /api/health"
        );
    }
    Ok(())
}

/// The outcome of `kiln test` on one screen.
fn render_test(outcome: &kiln::verify::TestOutcome) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "ran      {}", outcome.command.join(" "));
    match &outcome.isolation.not_hidden {
        None => {
            let _ = writeln!(
                out,
                "as       a relocated copy, empty working directory, {} host Python paths hidden",
                outcome.isolation.hidden.len()
            );
        }
        Some(why) => {
            let _ = writeln!(
                out,
                "as       a relocated copy, empty working directory; {why}"
            );
        }
    }
    for check in &outcome.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark}     {}: {}", check.name, check.detail);
    }
    for failure in &outcome.import_failures {
        let _ = writeln!(out, "         {}: {}", failure.module, failure.error);
        if !failure.chain.is_empty() {
            let _ = writeln!(out, "           imported by {}", failure.chain.join(" -> "));
        }
    }
    if !outcome.passed {
        for (name, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{name} (last lines):");
            for line in &lines[lines.len().saturating_sub(15)..] {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let verdict = if outcome.passed { "passed" } else { "FAILED" };
    let _ = writeln!(out, "{verdict} in {:.1} s", outcome.seconds);
    out
}

fn report(cmd: kiln::cli::ReportCmd) -> anyhow::Result<ExitCode> {
    use kiln::report::{build_report, html, view};
    let path = view::locate(cmd.target.as_deref())?;
    let report = build_report::BuildReport::read(&path)?;
    let page = match cmd.html {
        Some(page) => page,
        None => {
            // The default page is replaced only when kiln wrote it.
            let page = view::default_html_path(&path, &report.name);
            kiln::write::guard::check_report(&page)?;
            page
        }
    };
    build_report::write_atomic(&page, html::render(&report).as_bytes())?;
    let shown = view::ReportView::new(&report, &path, &page, cmd.top);
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        print!("{}", shown.render());
    }
    Ok(ExitCode::SUCCESS)
}

fn hooks(cmd: HooksCmd) -> anyhow::Result<ExitCode> {
    let settings = settings(cmd.app, |_| {})?;
    let analysis = pipeline::analyse(&settings, &())?;
    let applied = &analysis.graph.applied_hooks;
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(applied)?);
        return Ok(ExitCode::SUCCESS);
    }
    let real: Vec<_> = applied
        .iter()
        .filter(|a| {
            a.source != kiln::hooks::HookSource::Config
                || !a.added.is_empty()
                || !a.hook.exclude.is_empty()
        })
        .collect();
    if real.is_empty() {
        println!("no hooks apply to this app");
    }
    for a in real {
        println!("{} ({})", a.module, a.source);
        if !a.added.is_empty() {
            println!("  added     {}", a.added.join(", "));
        }
        if !a.not_found.is_empty() {
            println!("  not found {}", a.not_found.join(", "));
        }
        if !a.hook.exclude.is_empty() {
            println!("  excludes  {}", a.hook.exclude.join(", "));
        }
        if !a.hook.data.is_empty() {
            println!("  data      {}", a.hook.data.join(", "));
        }
        for (module, globs) in &a.hook.data_for {
            if analysis.graph.included_named(module) {
                println!("  data      {} (for {module})", globs.join(", "));
            }
        }
        if !a.hook.exclude_data.is_empty() {
            println!("  unread    {}", a.hook.exclude_data.join(", "));
        }
        for (k, v) in &a.hook.env {
            println!("  env       {k}={v}");
        }
        if a.hook.docstrings {
            println!("  bytecode  keeps docstrings (-O at most)");
        }
        if a.hook.keep_source {
            println!("  sources   ship beside the bytecode");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(cmd: CheckCmd) -> anyhow::Result<ExitCode> {
    let settings = settings(cmd.app, |_| {})?;
    let analysis = pipeline::analyse(&settings, &())?;
    let report = kiln::report::check_report(&settings, &analysis);
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render(cmd.verbose));
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn graph(cmd: GraphCmd) -> anyhow::Result<ExitCode> {
    let settings = settings(cmd.app, |_| {})?;
    let analysis = pipeline::analyse(&settings, &())?;
    match cmd.format {
        GraphFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&kiln::report::graph_json(&analysis.graph))?
        ),
        GraphFormat::Dot => print!("{}", kiln::report::graph_dot(&analysis.graph)),
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(
    app: AppArgs,
    extra: impl FnOnce(&mut BuildArgs),
) -> anyhow::Result<config::BuildSettings> {
    let cwd = std::env::current_dir()?;
    let loaded = config::discover(&cwd, app.config.as_deref())?;
    let mut args = BuildArgs {
        entry: app.entry,
        module: app.module,
        python: app.python,
        hidden_imports: app.hidden_imports,
        ..Default::default()
    };
    extra(&mut args);
    Ok(config::resolve_settings(&args, &loaded, &cwd)?)
}

fn why(cmd: WhyCmd) -> anyhow::Result<ExitCode> {
    let settings = settings(cmd.app, |_| {})?;
    let analysis = pipeline::analyse(&settings, &())?;
    let explanation = kiln::report::explain_why(&analysis.graph, &analysis.optional, &cmd.target);
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        print!("{}", explanation.render());
    }
    Ok(if explanation.found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cache(cmd: kiln::cli::CacheCmd) -> anyhow::Result<ExitCode> {
    use kiln::cache::{self, CleanFilter};
    use kiln::cli::CacheAction;
    let dir = cache::dir()?;
    let now = std::time::SystemTime::now();
    match cmd.action {
        CacheAction::List { json } => {
            let listing = cache::list(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&listing)?);
            } else {
                print!("{}", listing.render(now));
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheAction::Clean { older_than, .. } => {
            let filter = match older_than {
                Some(days) => CleanFilter::OlderThan(std::time::Duration::from_secs(
                    days.saturating_mul(86_400),
                )),
                None => CleanFilter::All,
            };
            let cleaned = cache::clean(&dir, filter, now)?;
            print!("{}", cleaned.render());
            Ok(if cleaned.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn build(cmd: BuildCmd) -> anyhow::Result<ExitCode> {
    let settings = settings(cmd.app, |a| {
        a.name = cmd.name;
        a.out = cmd.out;
        a.optimize = cmd.optimize;
        a.no_strip = cmd.no_strip;
        a.cpu_only = cmd.cpu_only;
        a.onefile = cmd.onefile.then_some(true);
        a.compression_level = cmd.compression_level;
        a.upx = cmd.upx;
        a.min_glibc = cmd.min_glibc;
        a.deb = cmd.format == Some(kiln::cli::PackageFormat::Deb);
    })?;
    let settings = match &cmd.component {
        Some(component) => config::only_component(settings, component)?,
        None => settings,
    };
    let bar = Bar::new(!cmd.json);
    let outcome = pipeline::build(&settings, &bar);
    bar.finish();
    match outcome? {
        pipeline::Outcome::App(summary) if cmd.json => {
            println!("{}", serde_json::to_string_pretty(&summary)?)
        }
        pipeline::Outcome::App(summary) => print!("{}", summary.render(cmd.verbose)),
        pipeline::Outcome::Suite(summary) if cmd.json => {
            println!("{}", serde_json::to_string_pretty(&summary)?)
        }
        pipeline::Outcome::Suite(summary) => print!("{}", summary.render()),
    }
    Ok(ExitCode::SUCCESS)
}

/// A spinner on stderr while the build runs (hidden when stderr is not a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new(visible: bool) -> Self {
        let bar = if visible {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Bar(bar)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ResolveProgress for Bar {
    fn analysed(&self, done: usize, known: usize) {
        self.0.set_message(format!(
            "analysing imports: {done} files read, {known} modules found"
        ));
    }
}

impl Progress for Bar {
    fn stage(&self, stage: pipeline::Stage) {
        self.0.set_message(stage.doing());
    }
}
