//! Decoding the same events as JSON, as Avro and as Protobuf (both in the schema registry wire
//! format): events/s of each, in one run. The events are the generator's (`key`, `ts`, `amount`,
//! `latency_ms`), without and with 200 bytes of padding (`pad`, a field no aggregate reads:
//! JSON scans over it, Avro and Protobuf skip it by its length); one decoder each, reading the
//! key, the time and `/amount` for a `sum`. Before measuring, the decoders' outputs are checked
//! equal.
//!
//! Run with `cargo bench -p eddy-engine --bench formats`.

use std::hint::black_box;
use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eddy_engine::config::{AggregateConfig, DecodeConfig};
use eddy_engine::decode::Decoder;
use eddy_engine::decode::avro::{AvroSchemas, Plan, SchemaError, SchemaSource};
use eddy_engine::decode::protobuf::{ProtoSchema, ProtoSchemas};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use prost::Message;
use prost_reflect::{DynamicMessage, Value as Proto};

const EVENTS: usize = 100_000;
const BATCH: usize = 1024;

const SCHEMA: &str = r#"{"type": "record", "name": "Event", "fields": [
  {"name": "key", "type": "string"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": "double"},
  {"name": "latency_ms", "type": "double"},
  {"name": "pad", "type": ["null", "string"], "default": null}
]}"#;

const PROTO: &str = r#"syntax = "proto3";
message Event {
  string key = 1;
  int64 ts = 2;
  double amount = 3;
  double latency_ms = 4;
  optional string pad = 5;
}"#;

#[derive(Debug)]
struct OneSchema(Arc<Plan>, Arc<ProtoSchema>);

impl SchemaSource for OneSchema {
    fn avro(&self, id: u32) -> Result<Arc<Plan>, SchemaError> {
        match id {
            1 => Ok(Arc::clone(&self.0)),
            _ => Err(SchemaError::Unknown(id, "not found".into())),
        }
    }

    fn protobuf(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError> {
        match id {
            2 => Ok(Arc::clone(&self.1)),
            _ => Err(SchemaError::Unknown(id, "not found".into())),
        }
    }
}

/// The same events as JSON batches, Avro batches (framed with schema id 1) and Protobuf
/// batches (schema id 2).
fn events(padding: usize) -> [Vec<RawBatch>; 3] {
    let schema = Schema::parse_str(SCHEMA).expect("schema");
    let writer = GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer");
    let mut generator = Generator::new(GeneratorConfig {
        events: EVENTS as u64,
        keys: 10_000,
        payload_bytes: padding,
        ..GeneratorConfig::default()
    });
    let message = ProtoSchema::compile(PROTO)
        .and_then(|schema| schema.message(None))
        .expect("message");
    let (mut json, mut avro, mut proto) = (Vec::new(), Vec::new(), Vec::new());
    let mut line = Vec::new();
    let (mut j, mut a, mut p) = (
        RawBatch::default(),
        RawBatch::default(),
        RawBatch::default(),
    );
    while generator.next_event(&mut line) {
        let event: serde_json::Value = serde_json::from_slice(&line).expect("json");
        let pad = match event["pad"].as_str() {
            Some(pad) => Avro::Union(1, Box::new(Avro::String(pad.into()))),
            None => Avro::Union(0, Box::new(Avro::Null)),
        };
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
                Avro::Double(event["amount"].as_f64().expect("amount")),
            ),
            (
                "latency_ms".into(),
                Avro::Double(event["latency_ms"].as_f64().expect("latency")),
            ),
            ("pad".into(), pad),
        ]);
        let mut framed = vec![0, 0, 0, 0, 1];
        framed.extend(writer.write_value_to_vec(record).expect("datum"));
        let mut m = DynamicMessage::new(message.clone());
        m.set_field_by_name(
            "key",
            Proto::String(event["key"].as_str().expect("key").into()),
        );
        m.set_field_by_name("ts", Proto::I64(event["ts"].as_i64().expect("ts")));
        m.set_field_by_name(
            "amount",
            Proto::F64(event["amount"].as_f64().expect("amount")),
        );
        m.set_field_by_name(
            "latency_ms",
            Proto::F64(event["latency_ms"].as_f64().expect("latency")),
        );
        if let Some(pad) = event["pad"].as_str() {
            m.set_field_by_name("pad", Proto::String(pad.into()));
        }
        let mut message_framed = vec![0, 0, 0, 0, 2, 0];
        message_framed.extend(m.encode_to_vec());
        j.push(&line, 0);
        a.push(&framed, 0);
        p.push(&message_framed, 0);
        if j.len() == BATCH {
            json.push(std::mem::take(&mut j));
            avro.push(std::mem::take(&mut a));
            proto.push(std::mem::take(&mut p));
        }
    }
    json.push(j);
    avro.push(a);
    proto.push(p);
    [json, avro, proto]
}

fn decoders() -> [Decoder; 3] {
    let aggregates: Vec<AggregateConfig> =
        serde_json::from_str(r#"[{"name":"s","plugin":"sum","field":"/amount"}]"#)
            .expect("aggregates");
    let decode = DecodeConfig {
        key: "/key".into(),
        time: "/ts".into(),
        ..DecodeConfig::default()
    };
    let plan = Arc::new(Plan::parse(SCHEMA).expect("plan"));
    let proto = Arc::new(ProtoSchema::compile(PROTO).expect("proto"));
    let source = Arc::new(OneSchema(plan, proto));
    [
        Decoder::new(&decode, &aggregates),
        Decoder::avro(&decode, &aggregates, AvroSchemas::Registry(source.clone())),
        Decoder::protobuf(&decode, &aggregates, ProtoSchemas::Registry(source)),
    ]
}

fn decode_all(decoder: &Decoder, batches: &[RawBatch]) -> usize {
    batches
        .iter()
        .map(|batch| black_box(decoder.decode(batch)).times.len())
        .sum()
}

fn formats(c: &mut Criterion) {
    let decoders = decoders();
    let names = [
        "json",
        "avro (registry framed)",
        "protobuf (registry framed)",
    ];
    for padding in [0, 200] {
        let batches = events(padding);
        for i in 0..batches[0].len() {
            let json = decoders[0].decode(&batches[0][i]);
            assert!(json.errors.is_empty());
            for (decoder, format) in decoders.iter().zip(&batches).skip(1) {
                let other = decoder.decode(&format[i]);
                assert!(other.errors.is_empty(), "{:?}", other.errors.first());
                assert_eq!((&json.keys, &json.times), (&other.keys, &other.times));
                assert_eq!(json.values, other.values);
            }
        }
        let mut group = c.benchmark_group(format!("decode, padding {padding} B"));
        group.throughput(Throughput::Elements(EVENTS as u64));
        group.sample_size(20);
        for ((decoder, format), name) in decoders.iter().zip(&batches).zip(names) {
            group.bench_function(name, |b| b.iter(|| decode_all(decoder, format)));
        }
        group.finish();
    }
}

criterion_group!(benches, formats);
criterion_main!(benches);
