//! Modules and files an app loads at run time, found without any configuration.

use crate::support::{assert_same_run, freeze, run_hidden, run_plain};

/// Services by f-string, connectors by `pkgutil.iter_modules`, plugins by `walk_packages`,
/// a template read through `Path(__file__)`, handlers named in a JSON file the app ships, a
/// directory the app puts on `sys.path`, and a logging formatter named by dotted path.
#[test]
fn dynamic_loading_is_found_without_configuration() {
    let build = freeze("dynamicapp", &["main.py"]);
    let plain = run_plain("dynamicapp", &["main.py"]);
    plain.assert_success("plain dynamicapp");
    let frozen = run_hidden(&build, &[]);
    assert_same_run("dynamicapp", &plain, &frozen.run);
}
