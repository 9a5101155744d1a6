//! Where the built-in plugins (`count.wasm`, `sum.wasm`, …) are found when `plugins.dir` is
//! not set: beside the working directory in a checkout, beside the binary, or where a package
//! or the container image installs them.

use std::path::{Path, PathBuf};

/// System folders searched after the ones beside the working directory and the binary.
const SYSTEM_DIRS: [&str; 2] = ["/usr/local/share/eddy/plugins", "/usr/share/eddy/plugins"];

/// The folders searched, in order, when `plugins.dir` is not set: `./dist/plugins` (a
/// checkout), `plugins/` beside the executable (scripts/build-plugins.sh copies the built-ins
/// there), `/usr/local/share/eddy/plugins`, `/usr/share/eddy/plugins` (the container image).
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("dist/plugins")];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("plugins"));
    }
    dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
    dirs
}

/// The folder of the built-in plugins: `configured` when set (not empty), otherwise the first
/// folder of [`search_path`] that exists (the first one when none does, for messages).
pub fn builtin_dir(configured: &Path) -> PathBuf {
    if !configured.as_os_str().is_empty() {
        return configured.to_path_buf();
    }
    let dirs = search_path();
    dirs.iter()
        .find(|dir| dir.is_dir())
        .or(dirs.first())
        .cloned()
        .unwrap_or_default()
}
