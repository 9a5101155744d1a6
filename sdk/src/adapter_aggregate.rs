//! The aggregate world's exports, implemented once for every [`Aggregator`]: groups live in a
//! vector indexed by the slot numbers the host assigns.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::aggregator::{self, Aggregator};
use crate::bindings::aggregator::eddy::plugin::types::{ByteColumn, PluginError, PluginInfo};
use crate::bindings::aggregator::exports::eddy::plugin::aggregate::Guest;
use crate::log::{Level, log};

/// Exports `A` as the `aggregate` interface. Used by [`crate::export_aggregator!`].
pub struct AggregatorExport<A>(PhantomData<A>);

struct Groups<A: Aggregator> {
    config: A::Config,
    outputs: usize,
    slots: Vec<Option<A>>,
    scratch: Vec<f64>,
}

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn with_groups<A: Aggregator, R>(f: impl FnOnce(&mut Groups<A>) -> R) -> R {
    STATE.with(|cell| {
        let mut state = cell.borrow_mut();
        let groups = state
            .as_mut()
            .and_then(|any| any.downcast_mut::<Groups<A>>())
            .expect("eddy: the host called the aggregate before configure");
        f(groups)
    })
}

impl<A: Aggregator> Groups<A> {
    fn group(&mut self, slot: u32) -> &mut A {
        let index = slot as usize;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        let config = &self.config;
        self.slots[index].get_or_insert_with(|| A::new(config))
    }

    fn take(&mut self, slot: u32) -> Option<A> {
        self.slots.get_mut(slot as usize).and_then(Option::take)
    }
}

impl<A: Aggregator> Guest for AggregatorExport<A> {
    fn describe() -> PluginInfo {
        aggregator::info::<A>().into()
    }

    fn configure(config: String) -> Result<Vec<String>, PluginError> {
        let config: A::Config = aggregator::parse_config(&config)
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        A::validate(&config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        let outputs = A::outputs(&config);
        let groups = Groups::<A> {
            config,
            outputs: outputs.len(),
            slots: Vec::new(),
            scratch: Vec::new(),
        };
        STATE.with(|cell| *cell.borrow_mut() = Some(Box::new(groups)));
        Ok(outputs)
    }

    fn accumulate(slots: Vec<u32>, values: Vec<f64>) {
        with_groups::<A, _>(|groups| {
            for (&slot, &value) in slots.iter().zip(&values) {
                groups.group(slot).add(value);
            }
        })
    }

    fn merge(targets: Vec<u32>, sources: Vec<u32>) {
        with_groups::<A, _>(|groups| {
            for (&target, &source) in targets.iter().zip(&sources) {
                if target == source {
                    continue;
                }
                if let Some(other) = groups.take(source) {
                    groups.group(target).merge(other);
                }
            }
        })
    }

    fn finish(slots: Vec<u32>) -> Vec<f64> {
        with_groups::<A, _>(|groups| {
            let width = groups.outputs;
            let mut out = Vec::with_capacity(slots.len() * width);
            for &slot in &slots {
                let mut scratch = std::mem::take(&mut groups.scratch);
                scratch.clear();
                let config = &groups.config;
                match groups.slots.get(slot as usize).and_then(Option::as_ref) {
                    Some(group) => group.finish(config, &mut scratch),
                    None => A::new(config).finish(config, &mut scratch),
                }
                if scratch.len() != width {
                    log(
                        Level::Error,
                        &format!(
                            "{}: finish produced {} values, outputs declares {width}",
                            A::NAME,
                            scratch.len()
                        ),
                    );
                    scratch.resize(width, f64::NAN);
                }
                out.extend_from_slice(&scratch);
                groups.scratch = scratch;
            }
            out
        })
    }

    fn release(slots: Vec<u32>) {
        with_groups::<A, _>(|groups| {
            for slot in slots {
                groups.take(slot);
            }
        })
    }

    fn save(slots: Vec<u32>) -> ByteColumn {
        with_groups::<A, _>(|groups| {
            let mut data = Vec::with_capacity(slots.len() * 16);
            let mut offsets = Vec::with_capacity(slots.len() + 1);
            offsets.push(0);
            for &slot in &slots {
                let config = &groups.config;
                let result = match groups.slots.get(slot as usize).and_then(Option::as_ref) {
                    Some(group) => aggregator::save(group, &mut data),
                    None => aggregator::save(&A::new(config), &mut data),
                };
                if let Err(e) = result {
                    panic!("{}: cannot serialise state: {e}", A::NAME);
                }
                offsets.push(data.len() as u32);
            }
            ByteColumn { data, offsets }
        })
    }

    fn restore(slots: Vec<u32>, states: ByteColumn) -> Result<(), PluginError> {
        if states.offsets.len() != slots.len() + 1 {
            return Err(PluginError::InvalidState(format!(
                "{} slots but {} offsets",
                slots.len(),
                states.offsets.len()
            )));
        }
        let mut restored = Vec::with_capacity(slots.len());
        for pair in states.offsets.windows(2) {
            let (start, end) = (pair[0] as usize, pair[1] as usize);
            let bytes = states.data.get(start..end).ok_or_else(|| {
                PluginError::InvalidState(format!("offsets {start}..{end} out of range"))
            })?;
            restored.push(
                aggregator::restore::<A>(bytes)
                    .map_err(|e| PluginError::InvalidState(e.to_string()))?,
            );
        }
        with_groups::<A, _>(|groups| {
            for (slot, group) in slots.into_iter().zip(restored) {
                *groups.group(slot) = group;
            }
        });
        Ok(())
    }
}
