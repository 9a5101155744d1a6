//! JSON pointers (RFC 6901) parsed once and followed into `serde_json` values.

use serde_json::Value;

/// A JSON pointer split into its unescaped tokens once (RFC 6901: `~1` is `/`, `~0` is `~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    pub(super) tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer such as `/user/id`.
    pub fn new(pointer: &str) -> Self {
        let tokens = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Self {
            text: pointer.to_string(),
            tokens,
        }
    }

    /// The value the pointer names in `value`, if any.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        follow(&self.tokens, value)
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

pub(super) fn follow<'v>(tokens: &[String], value: &'v Value) -> Option<&'v Value> {
    tokens.iter().try_fold(value, |v, token| match v {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}
