//! What a plugin says about itself.

/// The kind of a plugin, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A windowed aggregate ([`crate::Aggregator`]).
    Aggregator,
    /// One event in, one event out ([`crate::Map`]).
    Map,
    /// Some events pass unchanged ([`crate::Filter`]).
    Filter,
    /// One event in, zero or more out ([`crate::FlatMap`]).
    FlatMap,
}

/// Everything `describe()` reports, gathered from a plugin type's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Short name.
    pub name: &'static str,
    /// Semantic version.
    pub version: &'static str,
    /// Kind.
    pub kind: Kind,
    /// State format version (0 for stateless plugins).
    pub state_format: u32,
    /// One line for people.
    pub description: &'static str,
    /// JSON Schema of the accepted configuration.
    pub config_schema: &'static str,
}

macro_rules! into_wit_info {
    ($($types:ident)::+) => {
        impl From<Info> for $($types)::+::PluginInfo {
            fn from(info: Info) -> Self {
                use $($types)::+::PluginKind as K;
                Self {
                    name: info.name.into(),
                    version: info.version.into(),
                    kind: match info.kind {
                        Kind::Aggregator => K::Aggregator,
                        Kind::Map => K::Map,
                        Kind::Filter => K::Filter,
                        Kind::FlatMap => K::FlatMap,
                    },
                    state_format: info.state_format,
                    description: info.description.into(),
                    config_schema: info.config_schema.into(),
                }
            }
        }
    };
}

into_wit_info!(crate::bindings::aggregator::eddy::plugin::types);
into_wit_info!(crate::bindings::transform::eddy::plugin::types);
into_wit_info!(crate::bindings::columns::eddy::plugin::types);
