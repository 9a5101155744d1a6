//! Asking a component what it is, without configuring it.

use eddy_engine::aggregate::{PluginError, PluginInfo, PluginKind};

use super::bindings::aggregator::AggregatorPre;
use super::bindings::columns::ColumnTransformPre;
use super::bindings::transform::TransformPre;
use super::error::{link_error, trap_error};
use super::runtime::{Loaded, Runtime};

/// Instantiates `loaded` once and calls `describe()` through whichever world it implements
/// (aggregator, transform or column-transform). Refuses components that implement none, or whose `describe()` traps or reports a
/// kind that does not match its world.
pub fn describe(runtime: &Runtime, loaded: &Loaded) -> Result<PluginInfo, PluginError> {
    let mut store = runtime.store(&loaded.source);
    let trap = |call| trap_error(&loaded.source, call, false);
    let (info, aggregator) = if let Ok(pre) = AggregatorPre::new(loaded.pre.clone()) {
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let info = bindings
            .eddy_plugin_aggregate()
            .call_describe(&mut store)
            .map_err(trap("describe"))?;
        (PluginInfo::from(info), true)
    } else if let Ok(pre) = TransformPre::new(loaded.pre.clone()) {
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let info = bindings
            .eddy_plugin_transformer()
            .call_describe(&mut store)
            .map_err(trap("describe"))?;
        (PluginInfo::from(info), false)
    } else {
        let pre =
            ColumnTransformPre::new(loaded.pre.clone()).map_err(|e| PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "aggregator, transform or column-transform",
                message: format!("{e:#}"),
            })?;
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let info = bindings
            .eddy_plugin_columns()
            .call_describe(&mut store)
            .map_err(trap("describe"))?;
        if info.kind == super::bindings::PluginKind::FlatMap {
            return Err(PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "column-transform",
                message: "describe() reports kind FlatMap; column transforms are maps or filters"
                    .into(),
            });
        }
        (PluginInfo::from(info), false)
    };
    let is_aggregator = info.kind == PluginKind::Aggregator;
    if is_aggregator != aggregator {
        return Err(PluginError::WrongWorld {
            plugin: loaded.source.clone(),
            world: if aggregator {
                "aggregator"
            } else {
                "transform"
            },
            message: format!("describe() reports kind {:?}", info.kind),
        });
    }
    if info.name.is_empty() || info.version.is_empty() {
        return Err(PluginError::Failed {
            plugin: loaded.source.clone(),
            call: "describe",
            message: "name and version must not be empty".into(),
        });
    }
    Ok(info)
}
