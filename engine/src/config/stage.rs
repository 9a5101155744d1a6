//! Naming a pipeline stage that runs a plugin, as the admin API and the registry do.

/// A stage of a pipeline that runs a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageId {
    /// The aggregate with this result name.
    Aggregate(String),
    /// The transform at this position.
    Transform(usize),
}

impl StageId {
    /// Parses `aggregates.<name>` or `transforms.<index>`.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(name) = text.strip_prefix("aggregates.") {
            return (!name.is_empty()).then(|| StageId::Aggregate(name.to_string()));
        }
        text.strip_prefix("transforms.")?
            .parse()
            .ok()
            .map(StageId::Transform)
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StageId::Aggregate(name) => write!(f, "aggregates.{name}"),
            StageId::Transform(index) => write!(f, "transforms.{index}"),
        }
    }
}
