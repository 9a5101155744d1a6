//! Every YAML block of the README and the guides in `docs/` is a configuration `eddy` accepts:
//! a guide that shows a key the config types do not have, or a value they refuse, fails here.

use std::path::{Path, PathBuf};

use eddy_engine::config::Config;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the engine crate is in the workspace")
        .to_path_buf()
}

/// The README and every Markdown file in `docs/`.
fn guides() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let docs = std::fs::read_dir(repo().join("docs")).expect("docs/");
    files.extend(
        docs.filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    files.sort();
    files
}

/// The fenced blocks of `language` in `markdown`, with the line each starts on.
fn blocks(markdown: &str, language: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == format!("```{language}") => {
                open = Some((number + 1, String::new()));
            }
            Some(_) if line.trim_start() == "```" => found.extend(open.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    found
}

#[test]
fn every_yaml_block_of_the_guides_is_a_valid_config() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in guides() {
        let markdown = std::fs::read_to_string(&file).expect("guide");
        for (line, yaml) in blocks(&markdown, "yaml") {
            checked += 1;
            if let Err(error) = Config::from_yaml(&yaml) {
                failures.push(format!("{}:{line}: {error}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 5, "only {checked} YAML blocks found");
}

#[test]
fn blocks_are_found_with_their_line() {
    let markdown = "text\n```yaml\nbatch_size: 10\n```\n```sh\nls\n```\n";
    assert_eq!(
        blocks(markdown, "yaml"),
        vec![(2, "batch_size: 10\n".to_string())]
    );
}
