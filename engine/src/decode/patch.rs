//! Setting top-level fields of a JSON object record in place: what a column map's output
//! becomes. Only the values of the fields set change; the rest of the record is copied byte for
//! byte (no tree is built, field order and formatting stay).

use super::scan;

/// Why a record's fields could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The record is not a JSON object.
    #[error("the record is not a JSON object: {0}")]
    NotAnObject(String),
}

/// Appends `payload` to `out` with the top-level field `names[i]` set to the JSON text
/// `values[i]` wherever that is `Some` (replacing the field's value, or adding the field at the
/// end of the object). `values` must be valid JSON texts.
pub fn set_fields(
    payload: &[u8],
    names: &[String],
    values: &[Option<&str>],
    out: &mut Vec<u8>,
) -> Result<(), PatchError> {
    let bom = if payload.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let body = &payload[bom..];
    let mut found: Vec<Option<&str>> = vec![None; names.len()];
    scan::fields(body, names, &mut found).map_err(|e| PatchError::NotAnObject(e.to_string()))?;
    // The scanner checked the grammar: `body` is UTF-8 and `found` holds slices of it.
    let start_of = |raw: &str| raw.as_ptr() as usize - body.as_ptr() as usize;
    let mut replaced: Vec<(usize, usize, &str)> = Vec::new();
    let mut added: Vec<(&String, &str)> = Vec::new();
    for ((name, value), raw) in names.iter().zip(values).zip(&found) {
        let Some(value) = value else { continue };
        match raw {
            Some(raw) => {
                let start = start_of(raw);
                replaced.push((start, start + raw.len(), value));
            }
            None => added.push((name, value)),
        }
    }
    replaced.sort_unstable_by_key(|(start, _, _)| *start);
    out.extend_from_slice(&payload[..bom]);
    let mut copied = 0;
    for (start, end, value) in replaced {
        out.extend_from_slice(&body[copied..start]);
        out.extend_from_slice(value.as_bytes());
        copied = end;
    }
    if added.is_empty() {
        out.extend_from_slice(&body[copied..]);
        return Ok(());
    }
    // The object's closing brace is its last non-whitespace byte.
    let close = body
        .iter()
        .rposition(|&b| b == b'}')
        .ok_or_else(|| PatchError::NotAnObject("no closing brace".into()))?;
    let empty = body[..close]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    out.extend_from_slice(&body[copied..close]);
    for (i, (name, value)) in added.into_iter().enumerate() {
        if i > 0 || !empty {
            out.push(b',');
        }
        let quoted = serde_json::to_string(name).unwrap_or_else(|_| format!("\"{name}\""));
        out.extend_from_slice(quoted.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(&body[close..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(payload: &str, fields: &[(&str, Option<&str>)]) -> Result<String, PatchError> {
        let names: Vec<String> = fields.iter().map(|(n, _)| n.to_string()).collect();
        let values: Vec<Option<&str>> = fields.iter().map(|(_, v)| *v).collect();
        let mut out = Vec::new();
        set_fields(payload.as_bytes(), &names, &values, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn replaces_adds_and_keeps_the_rest() {
        assert_eq!(
            set(
                r#"{ "a" : 1, "b":{"x":[1]} ,"c":"s" }"#,
                &[("b", Some("2")), ("d", Some("\"new\"")), ("c", None)]
            ),
            Ok(r#"{ "a" : 1, "b":2 ,"c":"s" ,"d":"new"}"#.to_string())
        );
        assert_eq!(
            set("{ }", &[("a", Some("true")), ("q\"", Some("null"))]),
            Ok(r#"{ "a":true,"q\"":null}"#.to_string())
        );
        assert_eq!(
            set(r#"{"a":1,"a":2}"#, &[("a", Some("3"))]),
            Ok(r#"{"a":1,"a":3}"#.to_string()),
            "the last of a repeated name is the value readers see"
        );
        assert_eq!(set(r#"{"a":1}"#, &[]), Ok(r#"{"a":1}"#.to_string()));
        let bom = "\u{FEFF}{\"a\":1}\n";
        assert_eq!(
            set(bom, &[("b", Some("2"))]),
            Ok("\u{FEFF}{\"a\":1,\"b\":2}\n".into())
        );
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        for payload in ["[1]", "nope", r#"{"a":1"#, ""] {
            assert!(matches!(
                set(payload, &[("a", Some("1"))]),
                Err(PatchError::NotAnObject(_))
            ));
        }
    }
}
