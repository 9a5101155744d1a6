//! The plugin registry: uploaded components stored on disk, content-addressed by the SHA-256 of
//! their bytes, each with a metadata file (name, version, kind, state format, size, upload
//! time). Opening the folder again gives the same registry, so it survives restarts. An upload
//! is validated before anything is written: size limit, a component, one of the known worlds,
//! and `describe()` answering.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PluginError, PluginKind, Runtime, describe};

/// A stored plugin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// SHA-256 of the component, hex: its identity.
    pub digest: String,
    /// Name from `describe()`.
    pub name: String,
    /// Version from `describe()`.
    pub version: String,
    /// `aggregator`, `map`, `filter` or `flat-map`.
    pub kind: String,
    /// State format from `describe()`.
    pub state_format: u32,
    /// Size of the component, bytes.
    pub size: u64,
    /// Upload time, epoch ms.
    pub uploaded_ms: i64,
}

/// Why the registry refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The upload is larger than the limit.
    #[error("the component is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Bytes uploaded.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The upload is not a usable plugin.
    #[error(transparent)]
    Invalid(#[from] PluginError),
    /// No such version.
    #[error("no plugin version {0}")]
    NotFound(String),
    /// The registry folder could not be read or written.
    #[error("plugin registry {path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Plugins stored in a folder.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    entries: BTreeMap<String, Entry>,
}

fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Aggregator => "aggregator",
        PluginKind::Map => "map",
        PluginKind::Filter => "filter",
        PluginKind::FlatMap => "flat-map",
    }
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir`. Metadata files whose component is
    /// missing or unreadable are skipped with a warning.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut entries = BTreeMap::new();
        for item in std::fs::read_dir(dir).map_err(io_error(dir))? {
            let path = item.map_err(io_error(dir))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let entry: Option<Entry> = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            match entry {
                Some(entry) if dir.join(format!("{}.wasm", entry.digest)).is_file() => {
                    entries.insert(entry.digest.clone(), entry);
                }
                _ => {
                    tracing::warn!(path = %path.display(), "skipping an unreadable registry entry")
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    /// Every stored version, by digest.
    pub fn list(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// One version.
    pub fn get(&self, digest: &str) -> Option<&Entry> {
        self.entries.get(digest)
    }

    /// Where a version's component is stored.
    pub fn path(&self, digest: &str) -> Result<PathBuf, RegistryError> {
        if self.entries.contains_key(digest) {
            Ok(self.dir.join(format!("{digest}.wasm")))
        } else {
            Err(RegistryError::NotFound(digest.to_string()))
        }
    }

    /// Validates and stores a component. Storing the same bytes again returns the existing
    /// entry. Nothing is written unless the component is valid.
    pub fn add(
        &mut self,
        runtime: &Runtime,
        bytes: &[u8],
        limit: usize,
        now_ms: i64,
    ) -> Result<Entry, RegistryError> {
        if bytes.len() > limit {
            return Err(RegistryError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(entry) = self.entries.get(&digest) {
            return Ok(entry.clone());
        }
        let loaded = runtime.load_bytes(&format!("upload {}", &digest[..12]), bytes)?;
        let info = describe(runtime, &loaded)?;
        let entry = Entry {
            digest: digest.clone(),
            name: info.name,
            version: info.version,
            kind: kind_name(info.kind).to_string(),
            state_format: info.state_format,
            size: bytes.len() as u64,
            uploaded_ms: now_ms,
        };
        let wasm = self.dir.join(format!("{digest}.wasm"));
        let meta = self.dir.join(format!("{digest}.json"));
        write_atomically(&wasm, bytes)?;
        let json = serde_json::to_vec_pretty(&entry).map_err(|e| RegistryError::Io {
            path: meta.clone(),
            source: io::Error::other(e),
        })?;
        write_atomically(&meta, &json)?;
        self.entries.insert(digest, entry.clone());
        Ok(entry)
    }

    /// Deletes a stored version (the caller refuses versions that are active).
    pub fn remove(&mut self, digest: &str) -> Result<Entry, RegistryError> {
        let entry = self
            .entries
            .remove(digest)
            .ok_or_else(|| RegistryError::NotFound(digest.to_string()))?;
        for ext in ["json", "wasm"] {
            let path = self.dir.join(format!("{digest}.{ext}"));
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
        Ok(entry)
    }
}

/// Writes through a temporary file and a rename, so that a crash leaves the old file or the new
/// one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}
