//! A validating scanner that finds the values of named top-level fields in one JSON object.
//!
//! The engine reads a few fields of every event. Building a tree (or driving serde's visitors)
//! for each event cost about as much as all the windows and aggregates behind it, so the decoder
//! walks the bytes once instead: it checks the whole payload against the JSON grammar (RFC 8259:
//! UTF-8, strings with their escapes, numbers, literals, nesting up to 128 levels, nothing after
//! the object), and keeps only the byte ranges of the values whose field names it was asked for.
//! Values are interpreted by the caller; escapes inside strings are decoded there, with
//! `serde_json`, only when a wanted string has one.

use std::fmt;

/// How deep arrays and objects may nest (serde_json's default recursion limit for values it
/// builds; it skips unwanted values of any depth, the scanner refuses deeper ones).
const MAX_DEPTH: usize = 128;

/// Why a payload is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    what: &'static str,
    at: usize,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// Scans `payload`, a JSON object, and sets `found[i]` to the raw JSON text of the value of
/// the top-level field `names[i]` (the last one when a name repeats).
pub fn fields<'a>(
    payload: &'a [u8],
    names: &[String],
    found: &mut [Option<&'a str>],
) -> Result<(), ScanError> {
    let text = std::str::from_utf8(payload).map_err(|e| error("invalid UTF-8", e.valid_up_to()))?;
    let b = payload;
    let mut i = whitespace(b, 0);
    i = expect(b, i, b'{', "expected `{`")?;
    i = whitespace(b, i);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            let name_start = i;
            i = expect(b, i, b'"', "expected a field name")?;
            let escaped;
            (i, escaped) = string(b, i)?;
            let name = &text[name_start..i];
            i = whitespace(b, i);
            i = expect(b, i, b':', "expected `:`")?;
            i = whitespace(b, i);
            let start = i;
            i = value(b, i, 1)?;
            if let Some(k) = position(names, name, escaped)
                .ok_or_else(|| error("invalid escape in a field name", name_start))?
            {
                found[k] = Some(&text[start..i]);
            }
            i = whitespace(b, i);
            match b.get(i) {
                Some(b',') => i = whitespace(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(error("expected `,` or `}`", i)),
            }
        }
    }
    if whitespace(b, i) != b.len() {
        return Err(error("trailing characters", i));
    }
    Ok(())
}

/// Which of `names` the quoted field name `quoted` is (`Some(None)`: none of them); `None`
/// when its escapes do not decode (an unpaired surrogate), which serde_json refuses too.
fn position(names: &[String], quoted: &str, escaped: bool) -> Option<Option<usize>> {
    if escaped {
        let name: String = serde_json::from_str(quoted).ok()?;
        Some(names.iter().position(|n| *n == name))
    } else {
        let name = &quoted.as_bytes()[1..quoted.len() - 1];
        Some(names.iter().position(|n| n.as_bytes() == name))
    }
}

/// A string value's content when it has no escapes (the common case), without its quotes.
pub fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

// The scanning functions take the bytes and a position and return the position after what
// they read, so that the position stays in a register.

fn error(what: &'static str, at: usize) -> ScanError {
    ScanError { what, at }
}

fn expect(b: &[u8], i: usize, byte: u8, what: &'static str) -> Result<usize, ScanError> {
    if b.get(i) == Some(&byte) {
        Ok(i + 1)
    } else {
        Err(error(what, i))
    }
}

fn whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// One value, starting at its first byte.
fn value(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        Some(b'"') => string(b, i + 1).map(|(i, _)| i),
        Some(b'-' | b'0'..=b'9') => number(b, i),
        Some(b'{') => object(b, i, depth + 1),
        Some(b'[') => array(b, i, depth + 1),
        Some(b't') => literal(b, i, b"true"),
        Some(b'f') => literal(b, i, b"false"),
        Some(b'n') => literal(b, i, b"null"),
        _ => Err(error("expected a value", i)),
    }
}

/// The rest of a string after its opening quote: the position after its closing quote, and
/// whether it had escapes.
fn string(b: &[u8], mut i: usize) -> Result<(usize, bool), ScanError> {
    let mut escaped = false;
    loop {
        // The plain characters in one tight loop.
        let rest = b.get(i..).unwrap_or_default();
        i += rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .unwrap_or(rest.len());
        match b.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                i = escape(b, i + 1)?;
            }
            Some(_) => return Err(error("control character in a string", i)),
            None => return Err(error("unterminated string", i)),
        }
    }
}

fn escape(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => match b.get(i + 1..i + 5) {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(i + 5),
            _ => Err(error("invalid \\u escape", i)),
        },
        _ => Err(error("invalid escape", i)),
    }
}

fn object(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    if depth > MAX_DEPTH {
        return Err(error("nested too deeply", i));
    }
    let mut i = whitespace(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        i = expect(b, i, b'"', "expected a field name")?;
        (i, _) = string(b, i)?;
        i = whitespace(b, i);
        i = expect(b, i, b':', "expected `:`")?;
        i = value(b, whitespace(b, i), depth)?;
        i = whitespace(b, i);
        match b.get(i) {
            Some(b',') => i = whitespace(b, i + 1),
            Some(b'}') => return Ok(i + 1),
            _ => return Err(error("expected `,` or `}`", i)),
        }
    }
}

fn array(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    if depth > MAX_DEPTH {
        return Err(error("nested too deeply", i));
    }
    let mut i = whitespace(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Ok(i + 1);
    }
    loop {
        i = whitespace(b, value(b, i, depth)?);
        match b.get(i) {
            Some(b',') => i = whitespace(b, i + 1),
            Some(b']') => return Ok(i + 1),
            _ => return Err(error("expected `,` or `]`", i)),
        }
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, ScanError> {
    match b.get(i..i + word.len()) {
        Some(found) if found == word => Ok(i + word.len()),
        _ => Err(error("expected a value", i)),
    }
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
fn number(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(b, i + 1),
        _ => return Err(error("invalid number", i)),
    };
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return Err(error("invalid number", end));
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return Err(error("invalid number", end));
        }
        i = end;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde::de::IgnoredAny;
    use serde_json::{Map, Value};

    use super::*;

    const SEEDS: [&str; 6] = [
        r#"{"key":"user-17","ts":1700000000123,"amount":512.34,"latency_ms":1.250}"#,
        r#" { "key" : "a\"b\\c\u00e9\n" , "ts" : -0, "v" : [1, -2.5e-3, {"x": [true, false, null]}] } "#,
        r#"{"k\u0065y":{"id":[0,1E+2,3e7]},"ts":"2026-11-26T10:00:00Z","amount":"12"}"#,
        r#"{"ts":1,"key":7,"key":8,"nested":{"a":{"b":{"c":[[[]]]}}},"e":{}}"#,
        r#"{"key":"ünïcödé ✓","amount":1.7976931348623157e308,"z":"\/\b\f\r\t"}"#,
        r#"{}"#,
    ];

    fn names() -> Vec<String> {
        ["key", "ts", "amount", "v", "nested"]
            .map(String::from)
            .to_vec()
    }

    /// What serde_json says of `payload`: an object (with its fields), or not.
    fn serde_object(payload: &[u8]) -> Option<Map<String, Value>> {
        let first = payload.iter().find(|b| !b.is_ascii_whitespace());
        serde_json::from_slice::<IgnoredAny>(payload).ok()?;
        (first == Some(&b'{'))
            .then(|| serde_json::from_slice(payload).ok())
            .flatten()
    }

    fn check(payload: &[u8]) {
        let names = names();
        let mut found = vec![None; names.len()];
        let scanned = fields(payload, &names, &mut found);
        let text = String::from_utf8_lossy(payload);
        // serde_json does not check UTF-8 inside strings it skips; RFC 8259 wants it checked.
        let accepted = serde_json::from_slice::<IgnoredAny>(payload).is_ok()
            && std::str::from_utf8(payload).is_ok()
            && payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        assert_eq!(scanned.is_ok(), accepted, "{text}: {scanned:?}");
        let Some(object) = serde_object(payload) else {
            return;
        };
        for (name, raw) in names.iter().zip(&found) {
            let value = raw.map(|raw| serde_json::from_str::<Value>(raw).expect("a value"));
            assert_eq!(value.as_ref(), object.get(name), "{text}: field {name}");
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_objects() {
        for seed in SEEDS {
            check(seed.as_bytes());
        }
        let mut found = [None, None];
        fields(SEEDS[3].as_bytes(), &names()[..2], &mut found).expect("valid");
        assert_eq!(
            found,
            [Some("8"), Some("1")],
            "the last of a repeated name wins"
        );
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        let bad: [&[u8]; 22] = [
            b"",
            b"nope",
            b"[1,2]",
            b"\"text\"",
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":-}",
            b"{\"a\":1e}",
            b"{\"a\":tru}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\u12g4\"}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":[1,]}",
            b"{\"a\":[1 2]}",
            b"{a:1}",
            b"{\"a\":1}}",
        ];
        // An unpaired surrogate in a top-level name (serde_json refuses it in a map's keys).
        assert!(fields(br#"{"\uD800":1,"key":"a"}"#, &names(), &mut [None; 5]).is_err());
        for payload in bad {
            check(payload);
            assert!(fields(payload, &names(), &mut [None; 5]).is_err());
        }
        // Stricter than serde_json, which skips unwanted values of any depth.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(fields(deep.as_bytes(), &names(), &mut [None; 5]).is_err());
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        check(fine.as_bytes());
    }

    /// Random edits of the seeds (bytes deleted, inserted, swapped for JSON's structural
    /// characters): the scanner accepts exactly what serde_json accepts, and finds the values
    /// serde_json finds.
    #[test]
    fn agrees_with_serde_json_on_mutations() {
        const ALPHABET: &[u8] = b"{}[]:,\"\\ -+.eE0123456789tfnulx\x01\xc3";
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..50_000 {
            let mut payload = SEEDS[rng.random_range(0..SEEDS.len())].as_bytes().to_vec();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..=payload.len());
                match rng.random_range(0..3) {
                    0 if at < payload.len() => {
                        payload.remove(at);
                    }
                    1 if at < payload.len() => {
                        payload[at] = ALPHABET[rng.random_range(0..ALPHABET.len())];
                    }
                    _ => payload.insert(at, ALPHABET[rng.random_range(0..ALPHABET.len())]),
                }
            }
            check(&payload);
        }
    }
}
