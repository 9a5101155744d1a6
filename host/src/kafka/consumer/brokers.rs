//! What the consumer's librdkafka statistics say about the brokers: whether one answers, and
//! whether the client still knows any. A Metadata answer that lists no broker (every broker
//! fenced at once, e.g. a single KRaft broker for a moment after a long pause) makes
//! librdkafka (2.12 to 2.15, confluentinc/librdkafka#5301) forget every broker, the
//! bootstrap ones included, and it never asks again: the consumer would wait forever. Eddy
//! reports that as the reason it is not ready and, once it has lasted longer than
//! `kafka.delivery_timeout`, stops with an error saying so, so that a supervisor restarts it
//! (the restart resumes from the last checkpoint).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::statistics::Broker;

use crate::kafka::KafkaError;

/// A connected broker silent this long (µs) hangs: readiness goes false until it answers.
const SILENT_BROKER_US: i64 = 10_000_000;

/// The brokers as the latest statistics showed them.
#[derive(Debug)]
pub(super) struct BrokerView {
    reachable: AtomicBool,
    /// Since when the client has known no broker, while it knows none.
    forgotten: Mutex<Option<Instant>>,
    /// How long knowing none is waited out (`kafka.delivery_timeout`).
    limit: Duration,
}

/// Whether any broker answers: a connected broker that has sent nothing for
/// [`SILENT_BROKER_US`] (fetches answer within `fetch.wait.max.ms`, heartbeats every few
/// seconds) hangs, as does a client with no broker connected.
fn answering(brokers: &HashMap<String, Broker>) -> bool {
    brokers
        .values()
        .any(|b| b.nodeid >= 0 && b.state == "UP" && b.rxidle >= 0 && b.rxidle < SILENT_BROKER_US)
}

/// Whether the client knows a broker it can ask for metadata: one learned from metadata or
/// one of `bootstrap.servers` (not only the coordinators' logical handles).
fn knows_a_broker(brokers: &HashMap<String, Broker>) -> bool {
    brokers
        .values()
        .any(|b| b.source == "learned" || b.source == "configured")
}

impl BrokerView {
    /// A view that waits out a client knowing no broker for `limit`.
    pub(super) fn new(limit: Duration) -> Self {
        Self {
            reachable: AtomicBool::new(true),
            forgotten: Mutex::new(None),
            limit,
        }
    }

    /// Takes in one round of statistics.
    pub(super) fn observe(&self, brokers: &HashMap<String, Broker>) {
        self.reachable.store(answering(brokers), Ordering::SeqCst);
        let mut forgotten = self.forgotten.lock().unwrap_or_else(|e| e.into_inner());
        match (knows_a_broker(brokers), *forgotten) {
            (true, _) => *forgotten = None,
            (false, None) => {
                tracing::error!(
                    "the Kafka consumer knows no broker any more (a metadata answer listed none); librdkafka does not recover from this"
                );
                *forgotten = Some(Instant::now());
            }
            (false, Some(_)) => {}
        }
    }

    /// Why the brokers cannot be used, while they cannot; an error once the client has known
    /// no broker for longer than the limit.
    pub(super) fn outage(&self) -> Result<Option<String>, KafkaError> {
        match self.forgotten() {
            Some(since) if since > self.limit => Err(KafkaError::Client(format!(
                "the consumer has known no broker for {} s (a metadata answer listed none; librdkafka does not recover from it, confluentinc/librdkafka#5301): stopping so that a restart connects again from bootstrap.servers",
                since.as_secs()
            ))),
            Some(_) => Ok(Some(
                "the Kafka consumer knows no broker any more (a metadata answer listed none, e.g. every broker fenced at once); the run stops after kafka.delivery_timeout so that it is restarted".into(),
            )),
            None => Ok((!self.reachable.load(Ordering::SeqCst))
                .then(|| "Kafka brokers unreachable".into())),
        }
    }

    fn forgotten(&self) -> Option<Duration> {
        self.forgotten
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|since| since.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librdkafka's statistics of `brokers` (name, nodeid, source, state, rxidle µs).
    fn brokers(list: &[(&str, i32, &str, &str, i64)]) -> HashMap<String, Broker> {
        let entries: Vec<String> = list
            .iter()
            .map(|(name, nodeid, source, state, rxidle)| {
                format!(
                    r#""{name}": {{"name": "{name}", "nodeid": {nodeid}, "nodename": "{name}", "source": "{source}", "state": "{state}", "stateage": 0, "outbuf_cnt": 0, "outbuf_msg_cnt": 0, "waitresp_cnt": 0, "waitresp_msg_cnt": 0, "tx": 0, "txbytes": 0, "txerrs": 0, "txretries": 0, "txidle": 0, "req_timeouts": 0, "rx": 0, "rxbytes": 0, "rxerrs": 0, "rxcorriderrs": 0, "rxpartial": 0, "rxidle": {rxidle}, "zbuf_grow": 0, "buf_grow": 0, "wakeups": 0, "connects": 0, "disconnects": 0, "req": {{}}, "toppars": {{}}}}"#
                )
            })
            .collect();
        serde_json::from_str(&format!("{{{}}}", entries.join(","))).expect("statistics")
    }

    #[test]
    fn a_client_that_knows_no_broker_is_reported_and_stops_after_the_limit() {
        let view = BrokerView::new(Duration::from_millis(50));
        view.observe(&brokers(&[
            ("127.0.0.1:9092/1", 1, "learned", "UP", 1_000),
            ("GroupCoordinator", 1, "logical", "UP", 1_000),
        ]));
        assert_eq!(view.outage().expect("no error"), None);
        // Only the coordinators' logical handles and the internal one are left.
        let forgotten = brokers(&[
            ("GroupCoordinator", -1, "logical", "TRY_CONNECT", -1),
            (":0/internal", -1, "internal", "UP", -1),
        ]);
        view.observe(&forgotten);
        let reason = view.outage().expect("waited out until the limit");
        assert!(reason.is_some_and(|r| r.contains("knows no broker")));
        std::thread::sleep(Duration::from_millis(80));
        view.observe(&forgotten);
        let error = view
            .outage()
            .expect_err("stops after the limit")
            .to_string();
        assert!(error.contains("librdkafka#5301"), "{error}");
        // Knowing a bootstrap broker again (a re-bootstrap) ends it.
        view.observe(&brokers(&[(
            "127.0.0.1:9092/bootstrap",
            -1,
            "configured",
            "UP",
            1_000,
        )]));
        assert_eq!(
            view.outage().expect("known again").as_deref(),
            Some("Kafka brokers unreachable")
        );
    }

    #[test]
    fn a_silent_broker_is_unreachable() {
        let view = BrokerView::new(Duration::from_secs(30));
        view.observe(&brokers(&[(
            "127.0.0.1:9092/1",
            1,
            "learned",
            "UP",
            SILENT_BROKER_US + 1,
        )]));
        assert_eq!(
            view.outage().expect("no error").as_deref(),
            Some("Kafka brokers unreachable")
        );
    }
}
