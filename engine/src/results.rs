//! Results, late events and dead letters encoded as JSON lines (the writers are the host's).

use serde_json::{Map, Number, Value};

use crate::aggregate::Finished;
use crate::groups::Group;

/// Why a window's result was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Emit {
    /// Before the window's end, by a count or processing-time trigger: a partial result.
    Early,
    /// The watermark passed the window's end.
    OnTime,
    /// Events within the allowed lateness changed a window whose end the watermark had passed.
    LateUpdate,
}

impl Emit {
    /// The name in results: `early`, `on_time` or `late_update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Emit::Early => "early",
            Emit::OnTime => "on_time",
            Emit::LateUpdate => "late_update",
        }
    }
}

/// A JSON number for `v`: an integer when `v` is whole and exact, `null` when not finite.
pub fn number(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(v as i64))
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Writes `v` as [`number`] would make it, without building a [`Value`].
fn write_number(out: &mut Vec<u8>, v: f64) {
    // Serialising a number into a Vec cannot fail.
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        let _ = serde_json::to_writer(&mut *out, &(v as i64));
    } else if v.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Writes the results of `groups` as JSON lines onto `out`, fields in this order: `key`,
/// `window_start`, `window_end`, `emit`, then one field per aggregate (a number, or an object
/// when it has several named outputs). Returns the number of results written.
pub fn write_results(
    groups: &[Group],
    finished: &Finished,
    emit: Emit,
    out: &mut Vec<u8>,
) -> usize {
    let string = |out: &mut Vec<u8>, s: &str| {
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    let num = write_number;
    let int = |out: &mut Vec<u8>, v: i64| {
        let _ = serde_json::to_writer(&mut *out, &v);
    };
    for (i, group) in groups.iter().enumerate() {
        out.extend_from_slice(b"{\"key\":");
        string(out, &group.key);
        out.extend_from_slice(b",\"window_start\":");
        int(out, group.window.start);
        out.extend_from_slice(b",\"window_end\":");
        int(out, group.window.end);
        out.extend_from_slice(b",\"emit\":\"");
        out.extend_from_slice(emit.as_str().as_bytes());
        out.push(b'"');
        for (name, outputs, values) in &finished.columns {
            let row = &values[i * outputs.len()..(i + 1) * outputs.len()];
            out.push(b',');
            string(out, name);
            out.push(b':');
            if outputs.len() == 1 && outputs[0].is_empty() {
                num(out, row[0]);
            } else {
                out.push(b'{');
                for (j, (output, &v)) in outputs.iter().zip(row).enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    string(out, output);
                    out.push(b':');
                    num(out, v);
                }
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"}\n");
    }
    groups.len()
}

/// The side-output record of an event: the reason, extra fields, and the event itself (as JSON
/// when it parses, else as text).
pub fn side_record(reason: &str, extra: &[(&str, Value)], payload: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert("reason".into(), Value::from(reason));
    for (key, value) in extra {
        object.insert((*key).into(), value.clone());
    }
    // The record as it was: its JSON, else its text, else (not UTF-8) its bytes in base64.
    match serde_json::from_slice(payload) {
        Ok(event) => {
            object.insert("event".into(), event);
        }
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) => {
                object.insert("event".into(), Value::from(text));
            }
            Err(_) => {
                object.insert("event_base64".into(), Value::from(base64(payload)));
            }
        },
    }
    Value::Object(object)
}

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Window;

    #[test]
    fn results_have_fixed_fields_then_aggregates() {
        let groups = vec![Group {
            window: Window { start: 0, end: 10 },
            key: "k".into(),
            fired: true,
            pending: 0,
            first_offset: i64::MAX,
        }];
        let finished = Finished {
            columns: vec![
                ("n".into(), vec![String::new()], vec![2.0]),
                (
                    "lat".into(),
                    vec!["p50".into(), "p99".into()],
                    vec![1.5, f64::NAN],
                ),
            ],
        };
        let mut out = Vec::new();
        assert_eq!(write_results(&groups, &finished, Emit::OnTime, &mut out), 1);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"key\":\"k\",\"window_start\":0,\"window_end\":10,\"emit\":\"on_time\",\"n\":2,\"lat\":{\"p50\":1.5,\"p99\":null}}\n"
        );
    }

    #[test]
    fn numbers_are_written_as_number_makes_them() {
        for v in [
            0.0,
            -0.0,
            2.0,
            -17.0,
            0.1,
            1e300,
            -2.5e-8,
            9.007_199_254_740_992e15,
            4.5e15,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let mut out = Vec::new();
            write_number(&mut out, v);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                number(v).to_string(),
                "{v}"
            );
        }
    }

    #[test]
    fn side_records_keep_the_event() {
        let r = side_record("late", &[("watermark", Value::from(5))], br#"{"a":1}"#);
        assert_eq!(
            r.to_string(),
            r#"{"event":{"a":1},"reason":"late","watermark":5}"#
        );
        let r = side_record("bad", &[], b"not json");
        assert_eq!(r["event"], Value::from("not json"));
        // Not UTF-8: the original bytes, in base64.
        let r = side_record("bad", &[], b"\xffx");
        assert_eq!(r["event_base64"], Value::from("/3g="));
        assert!(r.get("event").is_none());
        for (bytes, encoded) in [
            (&b"f"[..], "Zg=="),
            (b"fo", "Zm8="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(bytes), encoded);
        }
    }
}
