//! Packages with built-in hooks (and a mypyc-compiled one): each is frozen in a small app and
//! run with the host's Python hidden, and must print what plain python prints.

use crate::support::{assert_same_run, freeze, run_hidden, run_plain};

fn runs_like_plain_python(app: &str) {
    let build = freeze(app, &["main.py"]);
    let plain = run_plain(app, &["main.py"]);
    plain.assert_success(app);
    let frozen = run_hidden(&build, &[]);
    assert_same_run(app, &plain, &frozen.run);
}

#[test]
fn certifi_ships_its_ca_bundle() {
    runs_like_plain_python("pkg_certifi");
}

#[test]
fn jinja2_templates_and_named_extensions() {
    runs_like_plain_python("pkg_jinja2");
}

#[test]
fn pygments_lexers_formatters_and_styles_by_name() {
    runs_like_plain_python("pkg_pygments");
}

#[test]
fn passlib_handlers_by_scheme_name() {
    runs_like_plain_python("pkg_passlib");
}

#[test]
fn zoneinfo_from_the_tzdata_package() {
    runs_like_plain_python("pkg_tzdata");
}

#[test]
fn sqlalchemy_dialect_from_the_url() {
    runs_like_plain_python("pkg_sqlalchemy");
}

/// pandas' Cython 3.2+ modules keep their strings compressed, so what they import from C
/// cannot be read from the binaries as plain C strings: kiln decompresses the module's string
/// table and splits it by the table of their lengths; `pandas._libs.tslibs.offsets` imports
/// `dateutil.easter`. Where the lengths are not in read-only data (the compiler built them in
/// code), the strings are read end to end: `pandas._libs.tslibs.timezones` imports
/// `zoneinfo._zoneinfo`.
#[test]
fn pandas_with_its_compiled_extensions() {
    runs_like_plain_python("pkg_pandas");
    let graph = std::process::Command::new(crate::support::KILN)
        .args(["graph", "main.py", "--python"])
        .arg(&crate::support::test_venv().python)
        .current_dir(crate::support::app_dir("pkg_pandas"))
        .output()
        .unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&graph.stdout).unwrap();
    let rules: Vec<&str> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == "pandas._libs.tslibs.offsets" && e["to"] == "dateutil.easter")
        .filter(|e| e["condition"] == "always")
        .filter_map(|e| e["kind"]["rule"].as_str())
        .collect();
    assert!(
        rules.iter().any(|r| r.contains("compiled code")),
        "{rules:?}"
    );
    let joined = targets_by_rule(&graph, "pandas._libs.tslibs.timezones", "read end to end");
    assert!(
        joined.contains(&"zoneinfo._zoneinfo") && joined.contains(&"dateutil.tz"),
        "{joined:?}"
    );
}

/// scipy's `__getattr__` imports its subpackages lazily: an attribute read of scipy that names
/// a subpackage (`scipy.fft`) is followed like an import, without asking the interpreter.
#[test]
fn scipy_with_vendored_libraries() {
    runs_like_plain_python("pkg_scipy");
    let graph = std::process::Command::new(crate::support::KILN)
        .args(["graph", "main.py", "--python"])
        .arg(&crate::support::test_venv().python)
        .current_dir(crate::support::app_dir("pkg_scipy"))
        .output()
        .unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&graph.stdout).unwrap();
    let lazy = targets_by_rule(&graph, "scipy", "is its submodule");
    assert!(lazy.contains(&"scipy.fft"), "{lazy:?}");
}

/// The modules `from` has edges to whose rule says `rule`, in `kiln graph`'s output.
fn targets_by_rule<'g>(graph: &'g serde_json::Value, from: &str, rule: &str) -> Vec<&'g str> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == from)
        .filter(|e| e["kind"]["rule"].as_str().is_some_and(|r| r.contains(rule)))
        .filter_map(|e| e["to"].as_str())
        .collect()
}

#[test]
fn matplotlib_agg_backend_and_mpl_data() {
    runs_like_plain_python("pkg_matplotlib");
}

#[test]
fn mypyc_compiled_black() {
    runs_like_plain_python("pkg_black");
}
