//! `eddy plugin new NAME --kind K --lang L` makes a project, in a folder outside this
//! repository, that passes its own tests and builds to a component as generated (it carries
//! its own copy of the SDK and of `wit/`), and the component runs in `eddy plugin test`.
//!
//! Python projects use the venv of `scripts/build-polyglot.sh` (`EDDY_PY_VENV`, default
//! `/var/tmp/eddy-poly-venv`: componentize-py and pytest); JavaScript projects need node and
//! npm (`npm install --prefer-offline`). With `EDDY_BUILD_LOCK=FILE` set, every build step runs
//! under `flock FILE` (machines whose cores are shared between builds).

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_tests::process::eddy_binary;
use eddy_tests::repo_root;

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `program`, run under `flock $EDDY_BUILD_LOCK` when that is set (a build step).
fn build_step(program: &str) -> Command {
    match std::env::var_os("EDDY_BUILD_LOCK") {
        Some(lock) => {
            let mut command = Command::new("flock");
            command.arg(lock).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A target folder of their own, kept between runs (beside the workspace's).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("scaffolded");
    std::fs::create_dir_all(&target).expect("target dir");
    target
}

/// Python of the venv with componentize-py and pytest.
fn python() -> PathBuf {
    let venv = std::env::var_os("EDDY_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/eddy-poly-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/build-polyglot.sh (or set EDDY_PY_VENV)",
        python.display()
    );
    python
}

/// Makes `my-<kind>` in a fresh temp dir, runs its tests, builds its component and runs that
/// with `eddy plugin test` over `input` (and `extra` arguments): what that prints.
fn scaffold(lang: &str, kind: &str, input: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    assert!(
        !dir.path().starts_with(repo_root()),
        "the project must be made outside the repository"
    );
    let name = format!("my-{kind}");
    let root = run(
        Command::new(eddy_binary())
            .args([
                "plugin", "new", &name, "--kind", kind, "--lang", lang, "--dir",
            ])
            .arg(dir.path()),
        "eddy plugin new",
    );
    let root = PathBuf::from(root.trim());
    assert_self_contained(&root);
    let wasm = match lang {
        "rust" => build_rust(&root, &name),
        "python" => build_python(&root, &name),
        "js" => build_js(&root, &name),
        other => panic!("no language {other}"),
    };
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, input).expect("events");
    run(
        Command::new(eddy_binary())
            .args(["plugin", "test"])
            .arg(&wasm)
            .arg("--input")
            .arg(&events)
            .args(extra),
        "eddy plugin test",
    )
}

/// No file of the project names this checkout.
fn assert_self_contained(root: &Path) {
    let checkout = repo_root().display().to_string();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    !text.contains(&checkout),
                    "{} names the checkout {checkout}",
                    path.display()
                );
            }
        }
    }
}

/// Rust projects share one target folder (the SDK and its dependencies build once); one
/// project builds at a time. Every project's SDK has the same relative path, so two builds at
/// once replace each other's `libeddy_sdk-*.rlib` while the other's doctests link it (seen in
/// CI: "extern location for eddy_sdk does not exist").
static RUST_BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn build_rust(root: &Path, name: &str) -> PathBuf {
    let _one_at_a_time = RUST_BUILDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(root.join("src/lib.rs").is_file());
    assert!(root.join("eddy-sdk/Cargo.toml").is_file());
    let cargo = |args: &[&str]| {
        let mut command = build_step(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .args(args)
            .current_dir(root)
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("RUSTFLAGS");
        command
    };
    run(&mut cargo(&["test", "--offline", "--quiet"]), "cargo test");
    run(
        &mut cargo(&[
            "build",
            "--offline",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
        ]),
        "cargo build --target wasm32-wasip2",
    );
    target_dir()
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

fn build_python(root: &Path, name: &str) -> PathBuf {
    let python = python();
    let out = run(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(root),
        "pytest",
    );
    assert!(out.contains("passed"), "{out}");
    run(
        build_step("./build.sh")
            .current_dir(root)
            .env("PYTHON", &python),
        "build.sh",
    );
    root.join(format!("{name}.wasm"))
}

fn build_js(root: &Path, name: &str) -> PathBuf {
    let npm = |args: &[&str]| {
        let mut command = Command::new("npm");
        command.args(args).current_dir(root);
        command
    };
    run(
        &mut npm(&[
            "install",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        "npm install",
    );
    let out = run(&mut npm(&["test"]), "npm test");
    assert!(out.contains("# fail 0"), "{out}");
    run(
        build_step("npm").args(["run", "build"]).current_dir(root),
        "npm run build",
    );
    root.join(format!("{name}.wasm"))
}

const EVENTS: &str = "{\"key\":\"a\",\"ts\":1000,\"v\":1.5}\n{\"key\":\"a\",\"ts\":2000,\"v\":2}\n{\"key\":\"b\",\"ts\":3000,\"v\":4}\n";
/// Events with white space around them and a blank line. The line source trims each line and
/// skips blank ones before a plugin sees them, so the template map (trim) and filter (drop
/// blank events) pass these through: what is checked is that the component loads, runs on
/// every event and gives each back unchanged.
const PADDED: &str =
    "  {\"key\":\"a\",\"ts\":1000,\"v\":1.5}\t\n{\"key\":\"b\",\"ts\":3000,\"v\":4}  \n   \n";

/// The template aggregator sums `/v` per key: a 3.5, b 4.
fn assert_sums(out: &str) {
    let mut sums: Vec<(String, f64)> = out
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON result");
            let key = v["key"].as_str().expect("key").to_string();
            (key, v["result"].as_f64().expect("number result"))
        })
        .collect();
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(sums, vec![("a".into(), 3.5), ("b".into(), 4.0)], "{out}");
}

/// The template map or filter gave back both events, trimmed.
fn assert_passed_through(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "{\"key\":\"a\",\"ts\":1000,\"v\":1.5}",
            "{\"key\":\"b\",\"ts\":3000,\"v\":4}"
        ],
        "{out}"
    );
}

#[test]
fn a_generated_rust_aggregator_builds_tests_and_runs() {
    assert_sums(&scaffold("rust", "aggregator", EVENTS, &["--field", "/v"]));
}

#[test]
fn a_generated_rust_map_builds_tests_and_runs() {
    assert_passed_through(&scaffold("rust", "map", PADDED, &[]));
}

#[test]
fn a_generated_rust_filter_builds_tests_and_runs() {
    assert_passed_through(&scaffold("rust", "filter", PADDED, &[]));
}

#[test]
fn a_generated_python_aggregator_builds_tests_and_runs() {
    assert_sums(&scaffold(
        "python",
        "aggregator",
        EVENTS,
        &["--field", "/v"],
    ));
}

#[test]
fn a_generated_python_map_builds_tests_and_runs() {
    assert_passed_through(&scaffold("python", "map", PADDED, &[]));
}

#[test]
fn a_generated_python_filter_builds_tests_and_runs() {
    assert_passed_through(&scaffold("python", "filter", PADDED, &[]));
}

#[test]
fn a_generated_js_aggregator_builds_tests_and_runs() {
    assert_sums(&scaffold("js", "aggregator", EVENTS, &["--field", "/v"]));
}

#[test]
fn a_generated_js_map_builds_tests_and_runs() {
    assert_passed_through(&scaffold("js", "map", PADDED, &[]));
}

#[test]
fn a_generated_js_filter_builds_tests_and_runs() {
    assert_passed_through(&scaffold("js", "filter", PADDED, &[]));
}

#[test]
fn sdk_is_for_rust_only_and_names_are_checked() {
    let dir = tempfile::tempdir().expect("dir");
    let new = |args: &[&str]| {
        Command::new(eddy_binary())
            .args(["plugin", "new"])
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .expect("eddy plugin new")
    };
    let out = new(&["p", "--kind", "map", "--lang", "python", "--sdk", "/x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sdk"));
    let out = new(&["Bad_Name", "--kind", "map"]);
    assert!(!out.status.success());
    assert!(!dir.path().join("Bad_Name").exists());
}
