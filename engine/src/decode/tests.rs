//! The JSON decoder: keys, times, numbers, pointers, errors.

use super::*;

fn decoder(key: &str, time: &str, field: &str) -> Decoder {
    let aggregates: Vec<AggregateConfig> = serde_json::from_str(&format!(
        r#"[{{"name":"n","plugin":"count"}},{{"name":"s","plugin":"sum","field":"{field}"}}]"#
    ))
    .expect("valid");
    let decode = DecodeConfig {
        key: key.into(),
        time: time.into(),
        time_format: TimeFormat::EpochMs,
        ..DecodeConfig::default()
    };
    Decoder::new(&decode, &aggregates)
}

fn batch(rows: &[&[u8]]) -> RawBatch {
    let mut batch = RawBatch::default();
    for row in rows {
        batch.push(row, 0);
    }
    batch
}

#[test]
fn decodes_good_rows_and_reports_bad_ones() {
    let out = decoder("/key", "/ts", "/v").decode(&batch(&[
        br#"{"key":"a","ts":5,"v":2.5,"other":{"deep":[1,2]}}"#,
        b"nope",
        br#"{"key":7,"ts":6}"#,
        br#"{"key":"b","ts":"x"}"#,
        br#"{"ts":1}"#,
        br#"{"key":"c","ts":1} trailing"#,
        br#"[1,2]"#,
        br#"{"key":null,"ts":1}"#,
        br#"{"k\u0065y":"esc\"aped","ts":-3,"v":null}"#,
    ]));
    assert_eq!(out.keys, ["a", "7", "esc\"aped"]);
    assert_eq!(out.times, [5, 6, -3]);
    assert_eq!(out.rows, [0, 2, 8]);
    assert_eq!(out.values[0], [1.0, 1.0, 1.0]);
    assert_eq!(out.values[1][0], 2.5);
    assert!(out.values[1][1].is_nan() && out.values[1][2].is_nan());
    let reasons: Vec<_> = out
        .errors
        .iter()
        .map(|(row, e)| (*row, e.clone()))
        .collect();
    assert!(matches!(reasons[0], (1, DecodeError::NotJson(_))));
    assert_eq!(
        reasons[1],
        (3, DecodeError::Time("/ts".into(), "an integer (epoch ms)"))
    );
    assert_eq!(reasons[2], (4, DecodeError::Key("/key".into())));
    assert!(matches!(reasons[3], (5, DecodeError::NotJson(_))));
    assert!(matches!(reasons[4], (6, DecodeError::NotJson(_))));
    assert_eq!(reasons[5], (7, DecodeError::Key("/key".into())));
}

#[test]
fn a_value_of_the_wrong_type_is_refused_and_a_byte_order_mark_skipped() {
    let out = decoder("/key", "/ts", "/amount").decode(&batch(&[
        b"\xEF\xBB\xBF{\"key\":\"a\",\"ts\":1,\"amount\":2}",
        br#"{"key":"a","ts":2,"amount":"12"}"#,
        br#"{"key":"a","ts":3,"amount":[1]}"#,
        br#"{"key":"a","ts":4,"amount":null}"#,
        br#"{"key":"a","ts":5}"#,
    ]));
    assert_eq!(out.rows, [0, 3, 4]);
    assert_eq!(out.values[1][0], 2.0);
    assert!(out.values[1][1].is_nan() && out.values[1][2].is_nan());
    assert_eq!(
        out.errors,
        [
            (
                1,
                DecodeError::NotANumber("/amount".into(), "\"12\"".into())
            ),
            (2, DecodeError::NotANumber("/amount".into(), "[1]".into())),
        ]
    );
    assert_eq!(
        out.errors[0].1.to_string(),
        "field /amount is \"12\", not a number"
    );
}

#[test]
fn numbers_a_column_map_wrote_are_taken_without_parsing() {
    let mut input = batch(&[
        br#"{"key":"a","ts":1,"v":"not parsed"}"#,
        br#"{"key":"b","ts":2,"v":7}"#,
        br#"{"key":"c","ts":3,"v":null}"#,
    ]);
    input.written.push(crate::event::WrittenNumbers {
        pointer: "/v".into(),
        values: vec![Some(1.5), None, Some(f64::NAN)],
    });
    // An entry of another length (rows changed since it was written) is ignored.
    input.written.push(crate::event::WrittenNumbers {
        pointer: "/ts".into(),
        values: vec![Some(9.0)],
    });
    let out = decoder("/key", "/ts", "/v").decode(&input);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.times, [1, 2, 3]);
    assert_eq!(out.values[1][..2], [1.5, 7.0]);
    assert!(out.values[1][2].is_nan());
}

#[test]
fn nested_pointers_and_shared_top_level_fields() {
    let out = decoder("/user/id", "/meta/at", "/meta/amounts/1").decode(&batch(&[
        br#"{"user":{"id":"u1"},"meta":{"at":10,"amounts":[1,2.5]}}"#,
        br#"{"user":{"id":true},"meta":{"at":11}}"#,
    ]));
    assert_eq!(out.keys, ["u1", "true"]);
    assert_eq!(out.times, [10, 11]);
    assert_eq!(out.values[1][0], 2.5);
    assert!(out.values[1][1].is_nan());
}

#[test]
fn time_formats() {
    let rows: [&[u8]; 4] = [
        br#"{"key":"a","t":1700000000.25}"#,
        br#"{"key":"a","t":"2026-11-26T10:00:00.250+01:00"}"#,
        br#"{"key":"a","t":1700000000250}"#,
        br#"{"key":"a"}"#,
    ];
    let mut input = batch(&rows);
    input.timestamps = vec![7, 8, 9, 10];
    let times = |format| {
        let mut d = decoder("/key", "/t", "/v");
        d.time_format = format;
        let out = d.decode(&input);
        (out.times, out.rows)
    };
    assert_eq!(
        times(TimeFormat::EpochS),
        (vec![1_700_000_000_250, 1_700_000_000_250_000], vec![0, 2])
    );
    assert_eq!(
        times(TimeFormat::Rfc3339),
        (vec![1_795_683_600_250], vec![1])
    );
    assert_eq!(
        times(TimeFormat::EpochMs),
        (vec![1_700_000_000_250], vec![2])
    );
    assert_eq!(
        times(TimeFormat::RecordTimestamp),
        (vec![7, 8, 9, 10], vec![0, 1, 2, 3])
    );
}

#[test]
fn pointers_unescape_and_index_arrays() {
    let v: Value = serde_json::from_str(r#"{"a/b":{"c~d":[10,20]}}"#).expect("json");
    assert_eq!(Pointer::new("/a~1b/c~0d/1").get(&v), Some(&Value::from(20)));
    assert_eq!(Pointer::new("/a~1b/x").get(&v), None);
    assert_eq!(Pointer::new("").get(&v), Some(&v));
}
