//! What the admin API and the pipeline loop share: the plugin registry, the activations asked
//! for and not yet applied, which version each stage runs, and the activation history kept
//! beside the registry so a restart runs the same versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use eddy_engine::config::{Config, StageId};

use super::activations::{Activations, Kept, StagePlugin, Target};
use super::registry::{Registry, RegistryError};
use super::shadows::{ShadowView, Shadows};

/// A change asked for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Run version `digest` in `stage`.
    Activate {
        /// The stage.
        stage: StageId,
        /// The registry version.
        digest: String,
        /// Its configuration (`None`: the stage's current one).
        config: Option<Value>,
    },
    /// Go back to the version `stage` ran before its last activation.
    Rollback {
        /// The stage.
        stage: StageId,
    },
    /// Run version `digest` beside `stage`'s live version and compare their results (a
    /// shadow run), replacing the stage's shadow run if it has one.
    Shadow {
        /// The stage (an aggregate).
        stage: StageId,
        /// The registry version.
        digest: String,
        /// Its configuration (`None`: the stage's).
        config: Option<Value>,
    },
    /// Activate the version `stage`'s shadow run runs (as [`Change::Activate`] does) and end
    /// the shadow run.
    Promote {
        /// The stage.
        stage: StageId,
    },
    /// End `stage`'s shadow run.
    StopShadow {
        /// The stage.
        stage: StageId,
    },
}

impl Change {
    /// The stage the change is for.
    pub fn stage(&self) -> &StageId {
        match self {
            Change::Activate { stage, .. }
            | Change::Rollback { stage }
            | Change::Shadow { stage, .. }
            | Change::Promote { stage }
            | Change::StopShadow { stage } => stage,
        }
    }
}

/// One stage as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    /// `aggregates.<name>` or `transforms.<index>`.
    pub stage: String,
    /// What it runs: the configured plugin (a built-in name or a path), or for a registry
    /// version its `name@version`.
    pub plugin: String,
    /// The registry version it runs, if it runs one.
    pub digest: Option<String>,
    /// The configuration its plugin runs with.
    #[serde(default)]
    pub config: Value,
    /// What ran before, oldest first — the configured plugin, then the registry versions
    /// activated before this one (what rollbacks return to); empty when nothing was
    /// activated.
    pub history: Vec<String>,
    /// A change asked for and not applied yet.
    pub pending: bool,
    /// Why the last change failed, if it did.
    pub error: Option<String>,
    /// What happened the last time its plugin trapped twice on a batch (`plugins.on_trap`:
    /// dead-lettered, rolled back, stopped), if it did.
    #[serde(default)]
    pub last_trap: Option<String>,
    /// Why the stage last went back to its previous version on its own (it trapped), if it
    /// did.
    #[serde(default)]
    pub last_rollback: Option<String>,
    /// The stage's shadow run, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowView>,
}

/// Shared by the admin API and the pipeline loop.
pub struct Control {
    registry: Mutex<Registry>,
    changes: Mutex<Vec<Change>>,
    pending: AtomicBool,
    stages: Mutex<Vec<StageView>>,
    activations: Mutex<Activations>,
    /// Per stage, the configured plugin and its configuration.
    configured: Mutex<BTreeMap<String, (String, Value)>>,
    shadows: Shadows,
    file: PathBuf,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    /// Opens the registry in `dir` and the activations kept there.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let registry = Registry::open(dir)?;
        let file = dir.join("activations");
        let activations = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::Io {
                path: file.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Activations::new(),
            Err(source) => {
                return Err(RegistryError::Io {
                    path: file.clone(),
                    source,
                });
            }
        };
        Ok(Self {
            registry: Mutex::new(registry),
            changes: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            stages: Mutex::new(Vec::new()),
            activations: Mutex::new(activations),
            configured: Mutex::new(BTreeMap::new()),
            shadows: Shadows::default(),
            file,
        })
    }

    /// The registry.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Points each stage of `config` with a kept activation at its registry file, so a
    /// restarted pipeline runs what was activated.
    pub fn apply_kept(&self, config: &mut Config) -> Result<(), RegistryError> {
        let mut configured = lock(&self.configured);
        for a in &config.aggregates {
            configured.insert(
                format!("aggregates.{}", a.name),
                (a.plugin.clone(), a.config.clone()),
            );
        }
        for (i, t) in config.transforms.iter().enumerate() {
            configured.insert(
                format!("transforms.{i}"),
                (t.plugin.clone(), t.config.clone()),
            );
        }
        drop(configured);
        let activations = lock(&self.activations).clone();
        let registry = self.registry();
        for (stage, kept) in &activations {
            let Some(kept) = kept.last() else {
                continue;
            };
            let path = registry.path(&kept.digest)?.display().to_string();
            let (plugin, plugin_config) = match StageId::parse(stage) {
                Some(StageId::Aggregate(name)) => {
                    match config.aggregates.iter_mut().find(|a| a.name == name) {
                        Some(a) => (&mut a.plugin, &mut a.config),
                        None => continue,
                    }
                }
                Some(StageId::Transform(index)) => match config.transforms.get_mut(index) {
                    Some(t) => (&mut t.plugin, &mut t.config),
                    None => continue,
                },
                None => continue,
            };
            *plugin = path;
            if let Some(kept_config) = &kept.config {
                *plugin_config = kept_config.clone();
            }
        }
        Ok(())
    }

    /// Queues `change` for the pipeline loop (applied at its next checkpoint barrier).
    pub fn ask(&self, change: Change) {
        let stage = change.stage().to_string();
        match &change {
            Change::Shadow { digest, config, .. } => self
                .shadows
                .asked(&stage, Some(ShadowView::pending(digest, config.clone()))),
            Change::StopShadow { .. } => self.shadows.asked(&stage, None),
            Change::Activate { .. } | Change::Rollback { .. } | Change::Promote { .. } => {
                if let Some(view) = lock(&self.stages).iter_mut().find(|v| v.stage == stage) {
                    view.pending = true;
                }
            }
        }
        lock(&self.changes).push(change);
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Whether changes wait (cheap: checked every round).
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Takes the changes asked for.
    pub fn take(&self) -> Vec<Change> {
        self.pending.store(false, Ordering::SeqCst);
        std::mem::take(&mut *lock(&self.changes))
    }

    /// The stages as the API shows them.
    pub fn stages(&self) -> Vec<StageView> {
        let shadows = self.shadows.all();
        let mut views = lock(&self.stages).clone();
        for view in &mut views {
            view.shadow = shadows.get(&view.stage).cloned();
        }
        views
    }

    /// The shadow runs.
    pub fn shadows(&self) -> &Shadows {
        &self.shadows
    }

    /// Whether some stage runs `digest` (an active version cannot be deleted).
    pub fn is_active(&self, digest: &str) -> bool {
        lock(&self.activations)
            .values()
            .any(|d| d.last().is_some_and(|d| d.digest == digest))
    }

    /// A stage that would return to `digest` on a rollback (a version activated before the
    /// one it runs), if one would: such a version cannot be deleted either.
    pub fn rollback_target_of(&self, digest: &str) -> Option<String> {
        lock(&self.activations)
            .iter()
            .find(|(_, history)| {
                history
                    .split_last()
                    .is_some_and(|(_, before)| before.iter().any(|d| d.digest == digest))
            })
            .map(|(stage, _)| stage.clone())
    }

    /// Where `stage` returns to on a rollback: the version activated before its current
    /// one with the configuration it ran with, or the plugin and configuration the
    /// configuration file names. `None` when nothing was activated.
    pub fn rollback_source(&self, stage: &StageId) -> Option<Result<Target, RegistryError>> {
        let key = stage.to_string();
        let mut before = lock(&self.activations).get(&key)?.clone();
        before.pop()?;
        Some(match before.pop() {
            Some(kept) => self.registry().path(&kept.digest).map(|p| Target {
                source: p.display().to_string(),
                config: kept.config,
            }),
            None => {
                let configured = lock(&self.configured).get(&key).cloned();
                Ok(configured.map_or_else(
                    || Target {
                        source: String::new(),
                        config: None,
                    },
                    |(source, config)| Target {
                        source,
                        config: Some(config),
                    },
                ))
            }
        })
    }

    /// Records what the pipeline runs now: every stage with its plugin.
    pub fn set_stages(&self, stages: &[StagePlugin]) {
        {
            // The first plugins seen are the configured ones (unless `apply_kept` said).
            let mut configured = lock(&self.configured);
            for run in stages {
                configured
                    .entry(run.stage.to_string())
                    .or_insert_with(|| (run.plugin.clone(), run.config.clone()));
            }
        }
        let configured = lock(&self.configured).clone();
        let activations = lock(&self.activations);
        let registry = self.registry();
        let mut views = lock(&self.stages);
        let old = std::mem::take(&mut *views);
        for run in stages {
            let (key, plugin) = (run.stage.to_string(), &run.plugin);
            let activated: Vec<String> = activations
                .get(&key)
                .into_iter()
                .flatten()
                .map(|k| k.digest.clone())
                .collect();
            let previous = old.iter().find(|v| v.stage == key);
            let digest = activated.last().cloned();
            // A registry version by its name and version, not by the file it is kept in.
            let plugin = digest
                .as_deref()
                .and_then(|d| registry.get(d))
                .map_or_else(|| plugin.clone(), |e| format!("{}@{}", e.name, e.version));
            let mut history = Vec::new();
            if let Some((_, before)) = activated.split_last() {
                history.extend(configured.get(&key).map(|(plugin, _)| plugin.clone()));
                history.extend(before.iter().cloned());
            }
            views.push(StageView {
                stage: key,
                plugin,
                digest,
                config: run.config.clone(),
                history,
                pending: previous.is_some_and(|p| p.pending) && self.has_pending(),
                error: previous.and_then(|p| p.error.clone()),
                last_trap: previous.and_then(|p| p.last_trap.clone()),
                last_rollback: previous.and_then(|p| p.last_rollback.clone()),
                shadow: None,
            });
        }
    }

    /// Records the outcome of a change of `stage` (the activation made, if one was): on
    /// success the activation history is updated and written beside the registry.
    pub fn record(
        &self,
        stage: &StageId,
        outcome: Result<Option<Kept>, String>,
        rollback: bool,
    ) -> Result<(), RegistryError> {
        let key = stage.to_string();
        let mut result = Ok(());
        if let Ok(kept) = &outcome {
            let mut activations = lock(&self.activations);
            let history = activations.entry(key.clone()).or_default();
            if rollback {
                history.pop();
            } else if let Some(kept) = kept {
                history.push(kept.clone());
            }
            if history.is_empty() {
                activations.remove(&key);
            }
            result = self.save(&activations);
        }
        if let Some(view) = lock(&self.stages).iter_mut().find(|v| v.stage == key) {
            view.pending = false;
            view.error = outcome.err();
        }
        result
    }

    /// Records an automatic rollback of `stage` (it trapped) with its reason: the history is
    /// updated as for a rollback asked for, and the reason shown in `last_rollback`.
    pub fn record_automatic_rollback(
        &self,
        stage: &StageId,
        reason: String,
    ) -> Result<(), RegistryError> {
        let result = self.record(stage, Ok(None), true);
        let key = stage.to_string();
        if let Some(view) = lock(&self.stages).iter_mut().find(|v| v.stage == key) {
            view.last_rollback = Some(reason);
        }
        result
    }

    /// Records what became of a batch on which `stage`'s plugin trapped twice.
    pub fn record_trap(&self, stage: &StageId, outcome: String) {
        let key = stage.to_string();
        if let Some(view) = lock(&self.stages).iter_mut().find(|v| v.stage == key) {
            view.last_trap = Some(outcome);
        }
    }

    fn save(&self, activations: &Activations) -> Result<(), RegistryError> {
        let io = |source| RegistryError::Io {
            path: self.file.clone(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(activations)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let temporary = self.file.with_extension("tmp");
        std::fs::write(&temporary, bytes).map_err(io)?;
        std::fs::rename(&temporary, &self.file).map_err(io)
    }
}
