//! The transform world's exports, implemented once for every [`Filter`], [`Map`] and
//! [`FlatMap`].

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::aggregator::parse_config;
use crate::bindings::transform::eddy::plugin::types::{ByteColumn, PluginError, PluginInfo};
use crate::bindings::transform::exports::eddy::plugin::transformer::{
    EventBatch, Guest, OutputRows, TransformOutput,
};
use crate::transform::{Event, Filter, FlatMap, Map, Record};
use crate::{Error, Info};

/// A transform the adapter can drive over a batch.
pub trait BatchTransform: Sized + 'static {
    /// What `describe()` reports.
    fn info() -> Info;
    /// Builds it from JSON configuration.
    fn configure(config: &str) -> Result<Self, Error>;
    /// Processes one batch.
    fn process(&mut self, batch: &EventBatch) -> Result<TransformOutput, Error>;
}

/// Exports a batch transform (a filter, map or flat-map adapter) as the `transformer` interface.
/// Used by the export macros.
pub struct TransformExport<T>(PhantomData<T>);

/// Adapts a [`Filter`].
pub struct FilterExport<T>(T);
/// Adapts a [`Map`].
pub struct MapExport<T>(T);
/// Adapts a [`FlatMap`].
pub struct FlatMapExport<T>(T);

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn events(batch: &EventBatch) -> impl Iterator<Item = Result<Event<'_>, Error>> {
    let column = &batch.payloads;
    column
        .offsets
        .windows(2)
        .zip(&batch.timestamps)
        .map(|(pair, &timestamp)| {
            let payload = column
                .data
                .get(pair[0] as usize..pair[1] as usize)
                .ok_or_else(|| Error::msg("payload offsets out of range"))?;
            Ok(Event { payload, timestamp })
        })
}

fn rows(records: Vec<Record>, origin: Vec<u32>) -> TransformOutput {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(records.len() + 1);
    let mut timestamps = Vec::with_capacity(records.len());
    offsets.push(0);
    for record in records {
        data.extend_from_slice(&record.payload);
        offsets.push(data.len() as u32);
        timestamps.push(record.timestamp);
    }
    TransformOutput::Rows(OutputRows {
        events: EventBatch {
            payloads: ByteColumn { data, offsets },
            timestamps,
        },
        origin,
    })
}

impl<T: Filter> BatchTransform for FilterExport<T> {
    fn info() -> Info {
        T::info()
    }
    fn configure(config: &str) -> Result<Self, Error> {
        Ok(Self(T::new(parse_config(config)?)?))
    }
    fn process(&mut self, batch: &EventBatch) -> Result<TransformOutput, Error> {
        let mut keep = Vec::new();
        for (index, event) in events(batch).enumerate() {
            if self.0.keep(&event?)? {
                keep.push(index as u32);
            }
        }
        Ok(TransformOutput::Keep(keep))
    }
}

impl<T: Map> BatchTransform for MapExport<T> {
    fn info() -> Info {
        T::info()
    }
    fn configure(config: &str) -> Result<Self, Error> {
        Ok(Self(T::new(parse_config(config)?)?))
    }
    fn process(&mut self, batch: &EventBatch) -> Result<TransformOutput, Error> {
        let mut records = Vec::with_capacity(batch.timestamps.len());
        for event in events(batch) {
            records.push(self.0.map(&event?)?);
        }
        let origin = (0..records.len() as u32).collect();
        Ok(rows(records, origin))
    }
}

impl<T: FlatMap> BatchTransform for FlatMapExport<T> {
    fn info() -> Info {
        T::info()
    }
    fn configure(config: &str) -> Result<Self, Error> {
        Ok(Self(T::new(parse_config(config)?)?))
    }
    fn process(&mut self, batch: &EventBatch) -> Result<TransformOutput, Error> {
        let mut records = Vec::new();
        let mut origin = Vec::new();
        for (index, event) in events(batch).enumerate() {
            let before = records.len();
            self.0.flat_map(&event?, &mut records)?;
            origin.resize(records.len(), index as u32);
            debug_assert!(origin.len() >= before);
        }
        Ok(rows(records, origin))
    }
}

impl<T: BatchTransform> Guest for TransformExport<T> {
    fn describe() -> PluginInfo {
        T::info().into()
    }

    fn configure(config: String) -> Result<(), PluginError> {
        let transform =
            T::configure(&config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        STATE.with(|cell| *cell.borrow_mut() = Some(Box::new(transform)));
        Ok(())
    }

    fn process(batch: EventBatch) -> Result<TransformOutput, PluginError> {
        STATE.with(|cell| {
            let mut state = cell.borrow_mut();
            let transform = state
                .as_mut()
                .and_then(|any| any.downcast_mut::<T>())
                .ok_or_else(|| PluginError::Failed("process called before configure".into()))?;
            transform
                .process(&batch)
                .map_err(|e| PluginError::InvalidInput(e.to_string()))
        })
    }
}
