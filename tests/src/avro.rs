//! The known dataset as Avro records in the schema registry wire format (a zero byte, the
//! schema's 4-byte id, the datum), and Avro read back.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use serde_json::Value;

use crate::dataset::Dataset;
use crate::registry::Registry;

/// The writer schema of the dataset's events.
pub const EVENT_SCHEMA: &str = r#"{
  "type": "record", "name": "Event", "namespace": "eddy.test",
  "fields": [
    {"name": "key", "type": "string"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "amount", "type": "long"}
  ]
}"#;

/// A schema id no registry of the tests knows.
pub const UNKNOWN_ID: u32 = 999_999;

/// `datum` framed with schema `id`.
pub fn framed(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut record = vec![0];
    record.extend_from_slice(&id.to_be_bytes());
    record.extend_from_slice(datum);
    record
}

/// The Avro datum of one of the dataset's JSON events.
pub fn datum(event: &Value) -> Vec<u8> {
    let schema = Schema::parse_str(EVENT_SCHEMA).expect("schema");
    let record = Avro::Record(vec![
        (
            "key".into(),
            Avro::String(event["key"].as_str().expect("key").into()),
        ),
        (
            "ts".into(),
            Avro::TimestampMillis(event["ts"].as_i64().expect("ts")),
        ),
        (
            "amount".into(),
            Avro::Long(event["amount"].as_i64().expect("amount")),
        ),
    ]);
    GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer")
        .write_value_to_vec(record)
        .expect("an event of the schema")
}

/// `data` with every event an Avro record framed with schema `id` (`tail` appended to each
/// datum: the values of fields a later schema version adds); its undecodable records become,
/// alternately, a record naming a schema id the registry does not know and a record cut short.
pub fn avro_dataset(data: &Dataset, id: u32, tail: &[u8]) -> Dataset {
    data.encoded(
        &|event| framed(id, &[datum(event), tail.to_vec()].concat()),
        &|event| framed(UNKNOWN_ID, &datum(event)),
    )
}

/// A result written as Avro (registry wire format), read with its schema from `registry` as a
/// registry client reads it, as the JSON result Eddy writes otherwise (whole numbers as
/// integers).
pub fn result_as_json(payload: &[u8], registry: &Registry) -> Value {
    let (magic, id, mut datum) = (payload[0], &payload[1..5], &payload[5..]);
    assert_eq!(magic, 0, "the wire format's magic byte");
    let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let text = registry
        .schema(id)
        .unwrap_or_else(|| panic!("schema {id} in the registry"));
    let schema = Schema::parse_str(&text).expect("an Avro schema");
    let value = GenericDatumReader::builder(&schema)
        .build()
        .expect("reader")
        .read_value(&mut datum)
        .expect("a result of its schema");
    assert!(datum.is_empty(), "the whole datum read");
    json(value)
}

fn json(value: Avro) -> Value {
    match value {
        Avro::Record(fields) => {
            Value::Object(fields.into_iter().map(|(n, v)| (n, json(v))).collect())
        }
        Avro::Union(_, value) => json(*value),
        Avro::Null => Value::Null,
        Avro::String(s) => Value::String(s),
        Avro::Long(v) | Avro::TimestampMillis(v) => Value::from(v),
        Avro::Double(v) if v.fract() == 0.0 && v.abs() < 9e15 => Value::from(v as i64),
        Avro::Double(v) => Value::from(v),
        other => panic!("not in a result: {other:?}"),
    }
}
