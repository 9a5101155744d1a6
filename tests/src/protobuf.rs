//! The known dataset as Protobuf messages in the schema registry wire format (a zero byte,
//! the schema's 4-byte id, the message indexes — `0`, the first message — then the message).

use eddy_engine::decode::protobuf::ProtoSchema;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Proto};
use serde_json::Value;

use crate::avro::UNKNOWN_ID;
use crate::dataset::Dataset;

/// The `.proto` schema of the dataset's events.
pub const EVENT_PROTO: &str = r#"syntax = "proto3";
package eddy.test;

message Event {
  string key = 1;
  int64 ts = 2;
  int64 amount = 3;
}
"#;

fn descriptor() -> MessageDescriptor {
    ProtoSchema::compile(EVENT_PROTO)
        .and_then(|schema| schema.message(Some("Event")))
        .expect("the event schema")
}

/// One of the dataset's JSON events as a Protobuf message.
pub fn message(event: &Value) -> Vec<u8> {
    let mut message = DynamicMessage::new(descriptor());
    message.set_field_by_name(
        "key",
        Proto::String(event["key"].as_str().expect("key").into()),
    );
    message.set_field_by_name("ts", Proto::I64(event["ts"].as_i64().expect("ts")));
    message.set_field_by_name(
        "amount",
        Proto::I64(event["amount"].as_i64().expect("amount")),
    );
    message.encode_to_vec()
}

/// `message` framed with schema `id`, as the first message of its schema.
pub fn framed(id: u32, message: &[u8]) -> Vec<u8> {
    let mut record = vec![0];
    record.extend_from_slice(&id.to_be_bytes());
    record.push(0);
    record.extend_from_slice(message);
    record
}

/// `data` with every event a Protobuf message framed with schema `id`; its undecodable
/// records become a message naming an unknown schema id and a message cut short.
pub fn protobuf_dataset(data: &Dataset, id: u32) -> Dataset {
    data.encoded(&|event| framed(id, &message(event)), &|event| {
        framed(UNKNOWN_ID, &message(event))
    })
}
