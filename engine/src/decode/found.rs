//! A field's value in one event as the decoder found it, and what it reads as: a key, an
//! event time, a number, a flag.

use std::borrow::Cow;

use serde_json::Value;

use super::scan;
use crate::config::TimeFormat;

/// A field's value in one event: the raw JSON of a top-level field, or a nested value.
pub(super) enum Found<'a> {
    Raw(&'a str),
    Nested(Value),
}

impl<'a> Found<'a> {
    pub(super) fn key(self) -> Option<Cow<'a, str>> {
        match self {
            Found::Raw(text) => match text.as_bytes().first()? {
                b'"' => Found::string(text),
                b't' | b'f' | b'-' | b'0'..=b'9' => Some(Cow::Borrowed(text)),
                _ => None,
            },
            Found::Nested(Value::String(s)) => Some(Cow::Owned(s)),
            Found::Nested(v @ (Value::Number(_) | Value::Bool(_))) => {
                Some(Cow::Owned(v.to_string()))
            }
            Found::Nested(_) => None,
        }
    }

    /// A string value's content, unescaped.
    pub(super) fn string(text: &'a str) -> Option<Cow<'a, str>> {
        match scan::plain_string(text) {
            Some(plain) => Some(Cow::Borrowed(plain)),
            None => serde_json::from_str(text).ok().map(Cow::Owned),
        }
    }

    pub(super) fn integer(&self) -> Option<i64> {
        match self {
            // The scanner checked the grammar: an integer's text is what `i64` parses.
            Found::Raw(text) => text.parse().ok(),
            Found::Nested(v) => v.as_i64(),
        }
    }

    pub(super) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Found::Raw(text) if text.starts_with('"') => Found::string(text),
            Found::Raw(_) => None,
            Found::Nested(Value::String(s)) => Some(Cow::Borrowed(s)),
            Found::Nested(_) => None,
        }
    }

    /// The event time in epoch ms, read in `format`.
    pub(super) fn time(&self, format: TimeFormat) -> Option<i64> {
        match format {
            TimeFormat::EpochMs => self.integer(),
            TimeFormat::EpochS => {
                let ms = (self.number()? * 1000.0).round();
                (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64)
            }
            TimeFormat::Rfc3339 => chrono::DateTime::parse_from_rfc3339(self.text()?.as_ref())
                .ok()
                .map(|t| t.timestamp_millis()),
            TimeFormat::RecordTimestamp => None,
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, Found::Raw("null") | Found::Nested(Value::Null))
    }

    pub(super) fn boolean(&self) -> Option<bool> {
        match self {
            Found::Raw("true") | Found::Nested(Value::Bool(true)) => Some(true),
            Found::Raw("false") | Found::Nested(Value::Bool(false)) => Some(false),
            _ => None,
        }
    }

    /// The value's JSON text.
    pub(super) fn json(self) -> String {
        match self {
            Found::Raw(text) => text.to_string(),
            Found::Nested(value) => value.to_string(),
        }
    }

    /// The value as JSON text, shortened for an error message.
    pub(super) fn shown(&self) -> String {
        let text = match self {
            Found::Raw(text) => (*text).to_string(),
            Found::Nested(value) => value.to_string(),
        };
        match text.char_indices().nth(40) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text,
        }
    }

    pub(super) fn number(&self) -> Option<f64> {
        match self {
            // A JSON number's text is what `f64` parses (correctly rounded); a string or a
            // literal is not, and a number too large for an `f64` is refused as serde_json does.
            Found::Raw(text) => text.parse::<f64>().ok().filter(|v| v.is_finite()),
            Found::Nested(v) => v.as_f64(),
        }
    }
}
