use apache_avro::types::{Record, Value as Avro};
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Decimal, Schema};

use super::*;
use crate::config::{AggregateConfig, DecodeConfig, TimeFormat};
use crate::decode::Decoder;
use crate::event::RawBatch;

const ORDER: &str = r#"{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "user", "type": {"type": "record", "name": "User", "fields": [
      {"name": "name", "type": "string"},
      {"name": "referrer", "type": ["null", "User"]}
    ]}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "amount", "type": ["null", "double"]},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "attrs", "type": {"type": "map", "values": "int"}}
  ]
}"#;

fn order(id: &str, at_us: i64, amount: Option<f64>) -> Vec<u8> {
    let schema = Schema::parse_str(ORDER).expect("schema");
    let user_schema = match &schema {
        Schema::Record(r) => r.fields[2].schema.clone(),
        _ => unreachable!(),
    };
    let mut user = Record::new(&user_schema).expect("record");
    user.put("name", "ann");
    user.put("referrer", Avro::Union(0, Box::new(Avro::Null)));
    let mut record = Record::new(&schema).expect("record");
    record.put("id", id);
    record.put(
        "tags",
        Avro::Array(vec![Avro::String("x".into()), Avro::String("y\"".into())]),
    );
    record.put("user", Avro::from(user));
    record.put("at", Avro::TimestampMicros(at_us));
    record.put(
        "amount",
        match amount {
            Some(v) => Avro::Union(1, Box::new(Avro::Double(v))),
            None => Avro::Union(0, Box::new(Avro::Null)),
        },
    );
    record.put("price", Avro::Decimal(Decimal::from(vec![0xff, 0x85])));
    record.put("kind", Avro::Enum(1, "B".into()));
    record.put(
        "attrs",
        Avro::Map([("n".to_string(), Avro::Int(3))].into_iter().collect()),
    );
    GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer")
        .write_value_to_vec(record)
        .expect("datum")
}

fn decoder(key: &str, field: &str, schemas: AvroSchemas) -> Decoder {
    let aggregates: Vec<AggregateConfig> = serde_json::from_str(&format!(
        r#"[{{"name":"n","plugin":"count"}},{{"name":"s","plugin":"sum","field":"{field}"}}]"#
    ))
    .expect("valid");
    let decode = DecodeConfig {
        key: key.into(),
        time: "/at".into(),
        time_format: TimeFormat::EpochMs,
        ..DecodeConfig::default()
    };
    Decoder::avro(&decode, &aggregates, schemas)
}

fn fixed() -> AvroSchemas {
    AvroSchemas::Fixed(Arc::new(Plan::parse(ORDER).expect("plan")))
}

fn batch(rows: &[Vec<u8>]) -> RawBatch {
    let mut batch = RawBatch::default();
    for row in rows {
        batch.push(row, 0);
    }
    batch
}

#[test]
fn wanted_fields_are_read_and_micros_become_milliseconds() {
    let out = decoder("/id", "/amount", fixed()).decode(&batch(&[
        order("o1", 1_700_000_000_123_999, Some(2.5)),
        order("o2", -1, None),
    ]));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.keys, ["o1", "o2"]);
    assert_eq!(out.times, [1_700_000_000_123, -1]);
    assert_eq!(out.values[1][0], 2.5);
    assert!(out.values[1][1].is_nan());
}

#[test]
fn nested_named_and_logical_values_are_reached_by_pointers() {
    for (key, field, expected_key, value) in [
        ("/user/name", "/price", "ann", -1.23),
        ("/kind", "/attrs/n", "B", 3.0),
        ("/tags/1", "/amount", "y\"", 4.0),
    ] {
        let mut blocks = order("o", 5_000, Some(4.0));
        // The tags again, in two blocks of one item each, with their sizes (negative counts).
        let tags: Vec<u8> = blocks
            .splice(2..9, [1, 4, 2, 120, 1, 6, 4, 121, 34, 0])
            .collect();
        assert_eq!(tags, [4, 2, 120, 4, 121, 34, 0], "one block of two");
        let rows = [order("o", 5_000, Some(4.0)), blocks];
        let out = decoder(key, field, fixed()).decode(&batch(&rows));
        assert!(out.errors.is_empty(), "{key}: {:?}", out.errors);
        assert_eq!(out.keys, [expected_key, expected_key]);
        assert_eq!(out.values[1], [value, value], "{field}");
    }
}

#[test]
fn truncated_trailing_and_unframed_records_are_refused_with_reasons() {
    let good = order("o1", 1_000, Some(1.0));
    let mut long = good.clone();
    long.push(0);
    let out = decoder("/id", "/amount", fixed()).decode(&batch(&[
        good[..good.len() - 3].to_vec(),
        long,
        vec![0x80; 12],
    ]));
    let reasons: Vec<String> = out.errors.iter().map(|(_, e)| e.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "not an Avro record of its schema: the payload ends early (truncated)",
            "not an Avro record of its schema: 1 bytes are left after the record",
            "not an Avro record of its schema: invalid varint at byte 0",
        ]
    );
}

#[derive(Debug)]
struct Known;

impl SchemaSource for Known {
    fn avro(&self, id: u32) -> Result<Arc<Plan>, SchemaError> {
        match id {
            7 => Ok(Arc::new(Plan::parse(ORDER).expect("plan"))),
            8 => Err(SchemaError::Unavailable(id, "connection refused".into())),
            _ => Err(SchemaError::Unknown(id, "not found".into())),
        }
    }

    fn protobuf(&self, id: u32) -> Result<Arc<crate::decode::protobuf::ProtoSchema>, SchemaError> {
        Err(SchemaError::Unknown(id, "not Protobuf".into()))
    }
}

#[test]
fn registry_framed_records_are_read_by_their_schema_id() {
    let frame = |id: u32, datum: &[u8]| {
        let mut framed = vec![0];
        framed.extend_from_slice(&id.to_be_bytes());
        framed.extend_from_slice(datum);
        framed
    };
    let datum = order("o1", 2_000, Some(1.5));
    let out = decoder("/id", "/amount", AvroSchemas::Registry(Arc::new(Known))).decode(&batch(&[
        frame(7, &datum),
        frame(9, &datum),
        datum.clone(),
        frame(8, &datum),
        frame(7, &datum),
    ]));
    assert_eq!(out.keys, ["o1", "o1"]);
    assert_eq!(out.rows, [0, 4]);
    let reasons: Vec<(u32, String)> = out
        .errors
        .iter()
        .map(|(row, e)| (*row, e.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "schema 9: not found".to_string()),
            (
                2,
                "not in the schema registry wire format (a zero byte, then a 4-byte schema id)"
                    .to_string()
            ),
            (
                3,
                "schema 8: the registry is unreachable: connection refused".to_string()
            ),
        ]
    );
}

#[test]
fn schemas_that_cannot_be_read_are_refused() {
    assert!(matches!(
        Plan::parse(r#""string""#),
        Err(PlanError::NotARecord(_))
    ));
    assert!(matches!(Plan::parse("{"), Err(PlanError::Parse(_))));
}

#[test]
fn whole_records_become_json_objects_for_plugins() {
    let good = order("o1", 1_500, Some(2.5));
    let mut input = batch(&[good.clone(), good[..4].to_vec(), good]);
    input.source_offsets = vec![10, 11, 12];
    let (json, errors) = decoder("/id", "/amount", fixed()).to_json(&input);
    assert_eq!(json.len(), 2);
    assert_eq!(json.source_offsets, [10, 12]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 1);
    let value: serde_json::Value = serde_json::from_slice(json.payload(0)).expect("JSON");
    assert_eq!(value["id"], "o1");
    assert_eq!(value["at"], 1_500);
    assert_eq!(value["amount"], 2.5);
    assert_eq!(value["user"]["referrer"], serde_json::Value::Null);
    assert_eq!(value["price"], -1.23);
    assert_eq!(value["attrs"]["n"], 3);
}

#[test]
fn a_field_of_the_wrong_type_for_an_aggregate_is_refused_with_its_value() {
    // `/id` is a string: an aggregate cannot sum it.
    let out = decoder("/id", "/id", fixed()).decode(&batch(&[order("o1", 1_000, Some(1.0))]));
    assert!(out.keys.is_empty());
    assert_eq!(
        out.errors[0].1.to_string(),
        "field /id is \"o1\", not a number"
    );
}
