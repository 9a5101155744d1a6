//! Workers (`workers`): rounds of batches from several partitions, computed by two workers,
//! write exactly what one worker writes (results, late events, dead letters, byte for byte,
//! in the same order) for tumbling, sliding and session windows; a checkpoint taken between
//! rounds restores into a one-worker pipeline that goes on as if never stopped; and a round
//! that stops with computed batches not written leaves a pipeline that refuses to save.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy::pipeline::{Outputs, Pipeline, PipelineError};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::config::{Config, PluginsConfig, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_tests::plugin_dir;

const PARTITIONS: u32 = 4;

fn config(window: WindowConfig, workers: usize) -> Config {
    let mut config = Config::from_yaml(
        "source: { type: kafka, topic: events }\n\
         aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /amount }\n\
         - { name: sd, plugin: stddev, field: /amount }\n\
         - { name: p, plugin: percentile, field: /latency_ms, config: { quantiles: [0.5] } }\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(300);
    config.allowed_lateness = Duration::from_millis(500);
    config.workers = workers;
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    };
    config
}

/// A pipeline and its results, late and dead-letter buffers.
fn pipeline(config: &Config) -> (Pipeline, [MemoryBuffer; 3]) {
    let (results, results_buffer) = JsonLines::memory();
    let (late, late_buffer) = JsonLines::memory();
    let (dead_letter, dead_buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: late.into(),
        dead_letter: dead_letter.into(),
    };
    let pipeline = Pipeline::new(config, outputs).expect("pipeline");
    (pipeline, [results_buffer, late_buffer, dead_buffer])
}

/// Rounds of up to 300 records from each of 4 partitions (uneven: partition 3 starts late and
/// ends early), with late events and a malformed record now and then.
fn rounds() -> Vec<BTreeMap<u32, RawBatch>> {
    let mut generators: Vec<Generator> = (0..PARTITIONS)
        .map(|partition| {
            Generator::new(GeneratorConfig {
                events: 6_000 + 1_000 * u64::from(partition),
                keys: 40,
                events_per_step: 1,
                max_disorder_ms: 200,
                late_every: 97,
                late_by_ms: 5_000,
                seed: 11 + u64::from(partition),
                ..GeneratorConfig::default()
            })
        })
        .collect();
    let mut offsets = [0_i64; PARTITIONS as usize];
    let mut rounds = Vec::new();
    for round_number in 0.. {
        let mut round = BTreeMap::new();
        for (partition, generator) in (0..PARTITIONS).zip(&mut generators) {
            if partition == 3 && !(3..20).contains(&round_number) {
                continue;
            }
            let Some(generated) = generator.next_batch(300) else {
                continue;
            };
            let offset = &mut offsets[partition as usize];
            let mut batch = RawBatch::with_capacity(generated.len() + 1, 0);
            batch.partition = partition;
            for row in 0..generated.len() {
                batch.push_at(generated.payload(row), generated.timestamps[row], *offset);
                *offset += 1;
                if row == 7 && round_number % 5 == u64::from(partition) {
                    batch.push_at(b"{not json", generated.timestamps[row], *offset);
                    *offset += 1;
                }
            }
            round.insert(partition, batch);
        }
        if round.is_empty() {
            break;
        }
        rounds.push(round);
    }
    rounds
}

/// Runs `rounds` through `pipeline` as the Kafka loop does: the workers compute a round's
/// batches, then each is written in partition order.
fn run_rounds(pipeline: &mut Pipeline, rounds: &[BTreeMap<u32, RawBatch>], now: i64) {
    let spans = BTreeMap::new();
    for round in rounds {
        pipeline.prepare_round(round, &spans, now).expect("round");
        for batch in round.values() {
            pipeline.process_at(batch.clone(), now).expect("batch");
        }
        pipeline.end_round();
    }
}

/// Everything a run wrote: results, late events and dead letters.
fn written(buffers: &[MemoryBuffer; 3]) -> [String; 3] {
    buffers
        .each_ref()
        .map(|buffer| String::from_utf8_lossy(&buffer.take_bytes()).into_owned())
}

fn windows() -> [WindowConfig; 3] {
    [
        WindowConfig::Tumbling {
            size: Duration::from_secs(1),
            offset: Duration::ZERO,
        },
        WindowConfig::Sliding {
            size: Duration::from_secs(2),
            slide: Duration::from_millis(500),
            offset: Duration::ZERO,
        },
        WindowConfig::Session {
            gap: Duration::from_millis(30),
        },
    ]
}

#[test]
fn two_workers_write_what_one_writes() {
    let rounds = rounds();
    for window in windows() {
        let mut outputs = Vec::new();
        for workers in [1, 2] {
            let (mut pipeline, buffers) = pipeline(&config(window.clone(), workers));
            run_rounds(&mut pipeline, &rounds, 1_000);
            // With two workers every round of two or more partitions was computed ahead.
            let ahead = rounds.iter().filter(|round| round.len() > 1);
            let want = if workers == 1 {
                0
            } else {
                ahead.map(|round| round.len() as u64).sum()
            };
            assert_eq!(pipeline.batches_computed(), want, "{window:?}");
            let stats = pipeline.finish().expect("finish");
            outputs.push((written(&buffers), stats));
        }
        let (one, two) = (&outputs[0], &outputs[1]);
        assert!(one.1.results > 1_000, "{window:?}: {:?}", one.1);
        assert!(one.1.late > 10, "{window:?}: {:?}", one.1);
        assert!(one.1.dead_letters > 5, "{window:?}: {:?}", one.1);
        assert_eq!(one.1, two.1, "{window:?}: stats differ");
        for (kind, (a, b)) in ["results", "late", "dead letters"]
            .iter()
            .zip(one.0.iter().zip(&two.0))
        {
            assert!(a == b, "{window:?}: {kind} differ with two workers");
        }
    }
}

#[test]
fn a_checkpoint_between_computed_rounds_restores_into_one_worker() {
    let rounds = rounds();
    let (half, rest) = rounds.split_at(rounds.len() / 2);
    for window in windows() {
        let (mut whole, whole_buffers) = pipeline(&config(window.clone(), 1));
        run_rounds(&mut whole, &rounds, 1_000);
        whole.finish().expect("finish");
        let [want, ..] = written(&whole_buffers);

        let (mut first, first_buffers) = pipeline(&config(window.clone(), 2));
        run_rounds(&mut first, half, 1_000);
        let states = first.checkpoint_states().expect("checkpoint");
        assert_eq!(states.len(), PARTITIONS as usize, "{window:?}");
        let (mut second, second_buffers) = pipeline(&config(window.clone(), 1));
        for state in &states {
            second.restore_partition(state, 1_000).expect("restore");
        }
        run_rounds(&mut second, rest, 1_000);
        second.finish().expect("finish");
        let [before, ..] = written(&first_buffers);
        let [after, ..] = written(&second_buffers);
        assert!(
            before.clone() + &after == want,
            "{window:?}: a restored run wrote other results"
        );
    }
}

#[test]
fn a_round_stopped_before_its_batches_are_written_refuses_to_save() {
    let rounds = rounds();
    let window = windows()[0].clone();
    let (mut pipeline, _buffers) = pipeline(&config(window, 2));
    run_rounds(&mut pipeline, &rounds[..3], 1_000);
    assert!(pipeline.checkpoint_states().is_ok());
    let round = &rounds[3];
    pipeline
        .prepare_round(round, &BTreeMap::new(), 1_000)
        .expect("round");
    // Only the first partition's batch is written, as when writing the second fails.
    let first = round.values().next().expect("a batch").clone();
    pipeline.process_at(first, 1_000).expect("batch");
    pipeline.end_round();
    assert!(matches!(
        pipeline.checkpoint_states(),
        Err(PipelineError::Interrupted)
    ));
    assert!(matches!(
        pipeline.check_whole(),
        Err(PipelineError::Interrupted)
    ));
}
