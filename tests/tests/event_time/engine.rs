//! The engine, driven the same way as the model: batches with partitions and processing time,
//! ticks, and the end of input, with results and late events read back per step.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::config::{
    AggregateConfig, Config, PluginsConfig, SideOutputConfig, SinkConfig, TriggerConfig,
    WatermarkConfig, WindowConfig,
};
use eddy_engine::event::RawBatch;
use eddy_tests::plugin_dir;

use crate::model::{Row, Spec, Win};

fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Arc::new(
                Runtime::new(&PluginsConfig {
                    dir: plugin_dir(),
                    ..PluginsConfig::default()
                })
                .expect("runtime"),
            )
        })
        .clone()
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v as u64)
}

fn config(spec: &Spec) -> Config {
    let aggregate = |name: &str, field: Option<&str>| AggregateConfig {
        name: name.into(),
        plugin: name.into(),
        field: field.map(String::from),
        config: serde_json::json!({}),
    };
    Config {
        window: match spec.window {
            Win::Tumbling { size, offset } => WindowConfig::Tumbling {
                size: ms(size),
                offset: ms(offset),
            },
            Win::Sliding {
                size,
                slide,
                offset,
            } => WindowConfig::Sliding {
                size: ms(size),
                slide: ms(slide),
                offset: ms(offset),
            },
            Win::Session { gap } => WindowConfig::Session { gap: ms(gap) },
        },
        watermark: WatermarkConfig {
            out_of_orderness: ms(spec.bound),
            interval: ms(spec.wm_interval),
            idle_timeout: spec.idle.map(ms),
        },
        allowed_lateness: ms(spec.lateness),
        trigger: match (spec.count, spec.every) {
            (None, None) => TriggerConfig::EventTime,
            (None, Some(e)) => TriggerConfig::ProcessingTime { interval: ms(e) },
            (Some(count), None) => TriggerConfig::Count { count },
            (Some(count), Some(e)) => TriggerConfig::CountOrTime {
                count,
                interval: ms(e),
            },
        },
        aggregates: vec![aggregate("count", None), aggregate("sum", Some("/v"))],
        sink: SinkConfig::Stdout,
        late: SideOutputConfig::Stderr,
        dead_letter: SideOutputConfig::Stderr,
        ..Config::default()
    }
}

pub struct Engine {
    pipeline: Pipeline,
    results: MemoryBuffer,
    late: MemoryBuffer,
}

impl Engine {
    pub fn new(spec: &Spec) -> Self {
        let config = config(spec);
        config.validate().expect("generated config is valid");
        let (results_out, results) = JsonLines::memory();
        let (late_out, late) = JsonLines::memory();
        let (dead_out, _) = JsonLines::memory();
        let outputs = Outputs {
            results: results_out.into(),
            late: late_out.into(),
            dead_letter: dead_out.into(),
        };
        let pipeline = Pipeline::with_runtime(&config, runtime(), outputs).expect("pipeline");
        Self {
            pipeline,
            results,
            late,
        }
    }

    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .results
            .take()
            .iter()
            .map(|r| {
                (
                    r["emit"].as_str().expect("emit").to_string(),
                    r["key"].as_str().expect("key").to_string(),
                    r["window_start"].as_i64().expect("start"),
                    r["window_end"].as_i64().expect("end"),
                    r["count"].as_u64().expect("count"),
                    r["sum"].as_i64().expect("sum"),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    pub fn batch(
        &mut self,
        partition: u32,
        events: &[(String, i64, i64)],
        now: i64,
    ) -> (Vec<Row>, Vec<i64>) {
        let mut batch = RawBatch {
            partition,
            ..RawBatch::default()
        };
        for (key, t, v) in events {
            batch.push(
                format!(r#"{{"key":"{key}","ts":{t},"v":{v}}}"#).as_bytes(),
                0,
            );
        }
        self.pipeline.process_at(batch, now).expect("batch");
        let late = self
            .late
            .take()
            .iter()
            .map(|r| r["event_time"].as_i64().expect("time"))
            .collect();
        (self.rows(), late)
    }

    pub fn tick(&mut self, now: i64) -> Vec<Row> {
        self.pipeline.tick_at(now).expect("tick");
        self.rows()
    }

    pub fn finish(&mut self) -> Vec<Row> {
        self.pipeline.finish().expect("finish");
        self.rows()
    }
}
