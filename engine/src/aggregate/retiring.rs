//! A plugin version finishing the groups it had open when a version with another state format
//! took over its aggregate: events, merges, results and frees of those groups go to it until
//! the last of them is freed; new groups go to the new version.

use std::collections::HashSet;

use super::{AggregatorInstance, AggregatorPlugin, PluginError};

/// The previous version of an aggregate and the groups it still owns.
pub struct Retiring {
    /// The previous version's instance.
    pub plugin: AggregatorPlugin,
    /// Where it was loaded from (name, path or registry file), to load it again on restore.
    pub source: String,
    slots: HashSet<u32>,
}

impl Retiring {
    /// `plugin` keeps the groups in `slots`.
    pub fn new(plugin: AggregatorPlugin, source: String, slots: &[u32]) -> Self {
        Self {
            plugin,
            source,
            slots: slots.iter().copied().collect(),
        }
    }

    /// Whether group `slot` belongs to the previous version.
    pub fn owns(&self, slot: u32) -> bool {
        self.slots.contains(&slot)
    }

    /// Whether it owns no group any more.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Frees the groups among `slots` that it owns.
    pub fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        let owned: Vec<u32> = slots.iter().copied().filter(|s| self.owns(*s)).collect();
        if owned.is_empty() {
            return Ok(());
        }
        self.plugin.release(&owned)?;
        for slot in owned {
            self.slots.remove(&slot);
        }
        Ok(())
    }

    /// Results of `slots` (some owned by the previous version, some by `current`), in the
    /// order of `slots`, `outputs` values each.
    pub fn finish(
        &mut self,
        current: &mut dyn AggregatorInstance,
        slots: &[u32],
        outputs: usize,
    ) -> Result<Vec<f64>, PluginError> {
        let (old, new): (Vec<u32>, Vec<u32>) = slots.iter().partition(|s| self.owns(**s));
        let old_values = if old.is_empty() {
            Vec::new()
        } else {
            self.plugin.finish(&old)?
        };
        let new_values = if new.is_empty() {
            Vec::new()
        } else {
            current.finish(&new)?
        };
        let (mut o, mut n) = (0, 0);
        let mut values = Vec::with_capacity(slots.len() * outputs);
        for slot in slots {
            if self.owns(*slot) {
                values.extend_from_slice(&old_values[o * outputs..(o + 1) * outputs]);
                o += 1;
            } else {
                values.extend_from_slice(&new_values[n * outputs..(n + 1) * outputs]);
                n += 1;
            }
        }
        Ok(values)
    }
}
