//! `eddy plugin new NAME --kind K` makes a crate that passes its own tests and builds to a
//! component as generated, and the component runs in `eddy plugin test`.

use std::path::Path;
use std::process::Command;

use eddy_tests::process::eddy_binary;

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

/// A target folder of their own, kept between runs (beside the workspace's).
fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("scaffolded");
    std::fs::create_dir_all(&target).expect("target dir");
    target
}

fn scaffold(kind: &str, input: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let name = format!("my-{kind}");
    let root = run(
        Command::new(eddy_binary())
            .args(["plugin", "new", &name, "--kind", kind, "--dir"])
            .arg(dir.path()),
        "eddy plugin new",
    );
    let root = Path::new(root.trim());
    assert!(root.join("src/lib.rs").is_file());
    let cargo = |args: &[&str]| {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
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
    let wasm = target_dir()
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
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

const EVENTS: &str = "{\"key\":\"a\",\"ts\":1000,\"v\":1.5}\n{\"key\":\"a\",\"ts\":2000,\"v\":2}\n{\"key\":\"b\",\"ts\":3000,\"v\":4}\n";

#[test]
fn a_generated_aggregator_builds_tests_and_runs() {
    let out = scaffold("aggregator", EVENTS, &["--field", "/v"]);
    assert!(out.contains("3.5") && out.contains('4'), "{out}");
}

#[test]
fn a_generated_map_builds_tests_and_runs() {
    let out = scaffold("map", EVENTS, &[]);
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn a_generated_filter_builds_tests_and_runs() {
    let out = scaffold("filter", EVENTS, &[]);
    assert_eq!(out.lines().count(), 3, "{out}");
}
