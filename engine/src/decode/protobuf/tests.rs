use prost::Message;
use prost_reflect::{DynamicMessage, Value as Proto};

use super::*;
use crate::config::{AggregateConfig, DecodeConfig, TimeFormat};
use crate::decode::Decoder;
use crate::event::RawBatch;

const ORDER: &str = r#"
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

message Order {
  message User { string name = 1; }
  enum Kind { A = 0; B = 1; }
  string id = 1;
  int64 at = 2;
  double amount = 3;
  optional double discount = 4;
  User user = 5;
  repeated string tags = 6;
  Kind kind = 7;
  bytes blob = 8;
  sint64 delta = 9;
  map<string, int32> attrs = 10;
  google.protobuf.Timestamp created = 11;
}
message Other { string id = 1; }
"#;

fn schema() -> ProtoSchema {
    ProtoSchema::compile(ORDER).expect("schema")
}

fn order(id: &str, at: i64, amount: Option<f64>) -> Vec<u8> {
    let message = schema().message(Some("shop.Order")).expect("message");
    let mut order = DynamicMessage::new(message.clone());
    order.set_field_by_name("id", Proto::String(id.into()));
    order.set_field_by_name("at", Proto::I64(at));
    if let Some(amount) = amount {
        order.set_field_by_name("amount", Proto::F64(amount));
    }
    let mut user = DynamicMessage::new(
        message
            .get_field_by_name("user")
            .map(|f| match f.kind() {
                Kind::Message(m) => m,
                _ => unreachable!(),
            })
            .expect("user"),
    );
    user.set_field_by_name("name", Proto::String("ann".into()));
    order.set_field_by_name("user", Proto::Message(user));
    order.set_field_by_name(
        "tags",
        Proto::List(vec![Proto::String("x".into()), Proto::String("y".into())]),
    );
    order.set_field_by_name("kind", Proto::EnumNumber(1));
    order.set_field_by_name("blob", Proto::Bytes(vec![1, 2, 3].into()));
    order.set_field_by_name("delta", Proto::I64(-5));
    order.encode_to_vec()
}

fn decoder(key: &str, field: &str, schemas: ProtoSchemas) -> Decoder {
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
    Decoder::protobuf(&decode, &aggregates, schemas)
}

fn fixed() -> ProtoSchemas {
    ProtoSchemas::Fixed(schema().message(Some("Order")).expect("message"))
}

fn batch(rows: &[Vec<u8>]) -> RawBatch {
    let mut batch = RawBatch::default();
    for row in rows {
        batch.push(row, 0);
    }
    batch
}

#[test]
fn scalars_come_from_the_wire_and_missing_ones_are_their_defaults() {
    let out = decoder("/id", "/amount", fixed()).decode(&batch(&[
        order("o1", 1_700_000_000_123, Some(2.5)),
        order("o2", 7, None),
    ]));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.keys, ["o1", "o2"]);
    assert_eq!(out.times, [1_700_000_000_123, 7]);
    // proto3: an amount of 0 is not written, and reads as 0.
    assert_eq!(out.values[1], [2.5, 0.0]);
}

#[test]
fn messages_lists_enums_bytes_and_zigzag_are_reached_by_pointers() {
    for (key, field, expected_key, value) in [
        ("/user/name", "/delta", "ann", -5.0),
        ("/kind", "/amount", "B", 4.0),
        ("/tags/1", "/amount", "y", 4.0),
        ("/blob", "/amount", "AQID", 4.0),
    ] {
        let out = decoder(key, field, fixed()).decode(&batch(&[order("o", 5, Some(4.0))]));
        assert!(out.errors.is_empty(), "{key}: {:?}", out.errors);
        assert_eq!(out.keys, [expected_key], "{key}");
        assert_eq!(out.values[1], [value], "{field}");
    }
    // An optional field not on the wire is missing: no value, not 0.
    let out = decoder("/id", "/discount", fixed()).decode(&batch(&[order("o", 5, Some(4.0))]));
    assert!(out.values[1][0].is_nan());
}

#[test]
fn bad_records_are_refused_with_reasons() {
    let good = order("o1", 1_000, Some(1.0));
    let out = decoder("/id", "/amount", fixed()).decode(&batch(&[
        good[..good.len() - 3].to_vec(),
        vec![0x0f, 1],
        vec![0x11, 1, 2, 3, 4, 5, 6, 7, 8],
    ]));
    let reasons: Vec<String> = out.errors.iter().map(|(_, e)| e.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "not a Protobuf message of its schema: the payload ends early (truncated)",
            "not a Protobuf message of its schema: wire type 7 at byte 0 (groups are not supported)",
            "not a Protobuf message of its schema: field 2 has wire type 1, not that of its type int64",
        ]
    );
}

#[derive(Debug)]
struct Known;

impl SchemaSource for Known {
    fn avro(&self, id: u32) -> Result<Arc<crate::decode::avro::Plan>, SchemaError> {
        Err(SchemaError::Unknown(id, "not Avro".into()))
    }

    fn protobuf(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError> {
        match id {
            7 => Ok(Arc::new(schema())),
            _ => Err(SchemaError::Unknown(id, "not found".into())),
        }
    }
}

#[test]
fn registry_framed_messages_are_found_by_id_and_indexes() {
    let frame = |id: u32, indexes: &[u8], message: &[u8]| {
        let mut framed = vec![0];
        framed.extend_from_slice(&id.to_be_bytes());
        framed.extend_from_slice(indexes);
        framed.extend_from_slice(message);
        framed
    };
    let message = order("o1", 2_000, Some(1.5));
    // [0] written short (a count of 0) and long (a count of 1, then index 0), zig-zag.
    let out = decoder("/id", "/amount", ProtoSchemas::Registry(Arc::new(Known))).decode(&batch(&[
        frame(7, &[0], &message),
        frame(7, &[2, 0], &message),
        frame(7, &[2, 2], &message),
        frame(7, &[2, 4], &message),
        frame(8, &[0], &message),
    ]));
    assert_eq!(out.keys, ["o1", "o1"]);
    assert_eq!(out.values[1], [1.5, 1.5]);
    let reasons: Vec<(u32, String)> = out
        .errors
        .iter()
        .map(|(row, e)| (*row, e.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            // The second message, `Other`: the same bytes, and no time field.
            (
                2,
                "time field /at is missing or not an integer (epoch ms)".to_string()
            ),
            (3, "schema 7: no message at indexes [2]".to_string()),
            (4, "schema 8: not found".to_string()),
        ]
    );
}

#[test]
fn schemas_that_cannot_be_used_are_refused() {
    assert!(matches!(
        ProtoSchema::compile("message {"),
        Err(ProtoError::Compile(_))
    ));
    assert!(matches!(
        schema().message(Some("Nope")),
        Err(ProtoError::NoMessage(_))
    ));
    assert_eq!(
        schema().message(None).expect("first").full_name(),
        "shop.Order"
    );
}

#[test]
fn whole_messages_become_json_objects_for_plugins() {
    let good = order("o1", 1_500, Some(2.5));
    let mut input = batch(&[good.clone(), vec![0x0f]]);
    input.source_offsets = vec![3, 4];
    let (json, errors) = decoder("/id", "/amount", fixed()).to_json(&input);
    assert_eq!((json.len(), errors.len()), (1, 1));
    assert_eq!(json.source_offsets, [3]);
    let value: serde_json::Value = serde_json::from_slice(json.payload(0)).expect("JSON");
    assert_eq!(value["id"], "o1");
    assert_eq!(value["at"], 1_500);
    assert_eq!(value["amount"], 2.5);
    assert_eq!(value["user"]["name"], "ann");
    assert_eq!(value["kind"], "B");
    assert_eq!(value["delta"], -5);
}
