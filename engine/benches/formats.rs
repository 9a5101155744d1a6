//! Decoding the same events as JSON and as Avro in the schema registry wire format: events/s
//! of each, in one run. The events are the generator's (`key`, `ts`, `amount`,
//! `latency_ms`), without and with 200 bytes of padding (`pad`, a field no aggregate reads:
//! JSON scans over it, Avro skips it by its length); one decoder each, reading the key, the
//! time and `/amount` for a `sum`. Before measuring, both decoders' output is checked equal.
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
use eddy_engine::decode::protobuf::ProtoSchema;
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};

const EVENTS: usize = 100_000;
const BATCH: usize = 1024;

const SCHEMA: &str = r#"{"type": "record", "name": "Event", "fields": [
  {"name": "key", "type": "string"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": "double"},
  {"name": "latency_ms", "type": "double"},
  {"name": "pad", "type": ["null", "string"], "default": null}
]}"#;

#[derive(Debug)]
struct OneSchema(Arc<Plan>);

impl SchemaSource for OneSchema {
    fn avro(&self, id: u32) -> Result<Arc<Plan>, SchemaError> {
        match id {
            1 => Ok(Arc::clone(&self.0)),
            _ => Err(SchemaError::Unknown(id, "not found".into())),
        }
    }

    fn protobuf(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError> {
        Err(SchemaError::Unknown(id, "not Protobuf".into()))
    }
}

/// The same events as JSON batches and as Avro batches (framed with schema id 1).
fn events(padding: usize) -> (Vec<RawBatch>, Vec<RawBatch>) {
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
    let (mut json, mut avro) = (Vec::new(), Vec::new());
    let mut line = Vec::new();
    let (mut j, mut a) = (RawBatch::default(), RawBatch::default());
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
        j.push(&line, 0);
        a.push(&framed, 0);
        if j.len() == BATCH {
            json.push(std::mem::take(&mut j));
            avro.push(std::mem::take(&mut a));
        }
    }
    json.push(j);
    avro.push(a);
    (json, avro)
}

fn decoders() -> (Decoder, Decoder) {
    let aggregates: Vec<AggregateConfig> =
        serde_json::from_str(r#"[{"name":"s","plugin":"sum","field":"/amount"}]"#)
            .expect("aggregates");
    let decode = DecodeConfig {
        key: "/key".into(),
        time: "/ts".into(),
        ..DecodeConfig::default()
    };
    let plan = Arc::new(Plan::parse(SCHEMA).expect("plan"));
    (
        Decoder::new(&decode, &aggregates),
        Decoder::avro(
            &decode,
            &aggregates,
            AvroSchemas::Registry(Arc::new(OneSchema(plan))),
        ),
    )
}

fn decode_all(decoder: &Decoder, batches: &[RawBatch]) -> usize {
    batches
        .iter()
        .map(|batch| black_box(decoder.decode(batch)).times.len())
        .sum()
}

fn formats(c: &mut Criterion) {
    let (json_decoder, avro_decoder) = decoders();
    for padding in [0, 200] {
        let (json, avro) = events(padding);
        for (j, a) in json.iter().zip(&avro) {
            let (dj, da) = (json_decoder.decode(j), avro_decoder.decode(a));
            assert!(dj.errors.is_empty() && da.errors.is_empty());
            assert_eq!((dj.keys, dj.times), (da.keys, da.times));
            assert_eq!(dj.values, da.values);
        }
        let mut group = c.benchmark_group(format!("decode, padding {padding} B"));
        group.throughput(Throughput::Elements(EVENTS as u64));
        group.sample_size(20);
        group.bench_function("json", |b| b.iter(|| decode_all(&json_decoder, &json)));
        group.bench_function("avro (registry framed)", |b| {
            b.iter(|| decode_all(&avro_decoder, &avro))
        });
        group.finish();
    }
}

criterion_group!(benches, formats);
criterion_main!(benches);
