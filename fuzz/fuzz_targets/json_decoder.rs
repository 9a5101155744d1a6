//! The JSON decoder against serde_json on any bytes: it never panics; what it accepts,
//! serde_json reads as an object with the same key and time; and a plain object serde_json
//! reads (no escapes in its names, no repeated names) it accepts with the same values.
#![no_main]

use eddy_engine::config::{AggregateConfig, DecodeConfig};
use eddy_engine::decode::Decoder;
use eddy_engine::event::RawBatch;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn decoder() -> Decoder {
    let aggregate: AggregateConfig =
        serde_json::from_str(r#"{"name":"s","plugin":"sum","field":"/v"}"#).expect("aggregate");
    Decoder::new(&DecodeConfig::default(), &[aggregate])
}

/// The key as the decoder keys events: strings as they are, numbers and booleans as JSON text.
fn key_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The time as the decoder reads epoch milliseconds: an integer (`-0` is 0).
fn time_of(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| *f == 0.0).map(|_| 0))
}

fuzz_target!(|data: &[u8]| {
    let mut batch = RawBatch::default();
    batch.push(data, 0);
    let decoded = decoder().decode(&batch);
    // A UTF-8 byte-order mark is skipped by the decoder (editors write one), not by serde_json.
    let json = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(json).ok();
    if let (Some(key), Some(&time)) = (decoded.keys.get(0), decoded.times.first()) {
        let object = parsed
            .as_ref()
            .expect("accepted, so serde_json reads an object");
        let theirs = object.get("key").and_then(key_of);
        assert_eq!(theirs.as_deref(), Some(key), "the key");
        assert_eq!(object.get("ts").and_then(time_of), Some(time), "the time");
        return;
    }
    let Some(object) = parsed else {
        return;
    };
    let text = String::from_utf8_lossy(json);
    let plain = !text.contains('\\')
        && ["\"key\"", "\"ts\"", "\"v\""]
            .iter()
            .all(|name| text.matches(name).count() <= 1);
    let key = object.get("key").and_then(key_of);
    // An integer literal (the decoder refuses exponents and fractions for times).
    let time = object.get("ts").and_then(Value::as_i64);
    let value_ok = object.get("v").is_none_or(|v| v.is_null() || v.is_number());
    if plain && key.is_some_and(|k| k.len() <= 64 << 10) && time.is_some() && value_ok {
        panic!(
            "serde_json reads {object:?}, the decoder refuses: {:?}",
            decoded.errors
        );
    }
});
