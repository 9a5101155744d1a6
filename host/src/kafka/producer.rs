//! The producer of results and side outputs: idempotent, batched, compressed, and every
//! delivery report checked. A record librdkafka could not deliver within
//! `kafka.delivery_timeout` (retries with backoff included) is a failure that stops the
//! pipeline; it is never dropped quietly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};

use super::KafkaError;
use super::client::{Role, client_config};
use eddy_engine::config::KafkaConfig;

/// What the delivery reports said so far.
#[derive(Debug, Default)]
pub struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    latency: Mutex<Option<Histogram<u64>>>,
    exported: std::sync::OnceLock<prometheus_client::metrics::histogram::Histogram>,
    outage: Mutex<Option<String>>,
}

impl Deliveries {
    /// Records acknowledged by the brokers.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Records that could not be delivered.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The first delivery error, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes the latencies (µs) from result emitted to result acknowledged recorded so far.
    pub fn take_latency(&self) -> Option<Histogram<u64>> {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Why the brokers cannot be reached, while they cannot (from librdkafka's error
    /// events; cleared by the next acknowledged record). Records wait and are retried until
    /// `kafka.delivery_timeout`. [`Producer::outage`] also forgets it once nothing waits.
    pub fn outage(&self) -> Option<String> {
        self.outage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Also observe each latency (seconds) in `histogram` (Prometheus).
    pub fn export_latency(&self, histogram: prometheus_client::metrics::histogram::Histogram) {
        let _ = self.exported.set(histogram);
    }

    fn record_latency(&self, micros: u64) {
        if let Some(exported) = self.exported.get() {
            exported.observe(micros as f64 / 1e6);
        }
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        if latency.is_none() {
            // Three significant digits from 1 µs to one hour.
            *latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).ok();
        }
        if let Some(histogram) = latency.as_mut() {
            let _ = histogram.record(micros.clamp(1, 3_600_000_000));
        }
    }
}

/// Checks every delivery report.
pub struct DeliveryContext {
    deliveries: Arc<Deliveries>,
    epoch: Instant,
}

impl ClientContext for DeliveryContext {
    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(%error, reason, "producer");
        let transport = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::Resolve
            )
        );
        if transport {
            *self
                .deliveries
                .outage
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for DeliveryContext {
    /// Microseconds from the producer's creation to when the record was emitted, plus one;
    /// 0 for records whose latency is not measured.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, emitted: usize) {
        match result {
            Ok(_) => {
                self.deliveries.delivered.fetch_add(1, Ordering::Relaxed);
                let mut outage = self
                    .deliveries
                    .outage
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if outage.is_some() {
                    tracing::info!("results are acknowledged again");
                    *outage = None;
                }
                drop(outage);
                if emitted > 0 {
                    let now = self.epoch.elapsed().as_micros() as u64;
                    self.deliveries
                        .record_latency(now.saturating_sub(emitted as u64 - 1));
                }
            }
            Err((
                RdError::MessageProduction(
                    RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight,
                ),
                _,
            )) => {
                // An aborted transaction's records: discarded on purpose.
            }
            Err((error, _)) => {
                self.deliveries.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self
                    .deliveries
                    .first_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if first.is_none() {
                    tracing::error!(%error, "a record could not be delivered");
                    *first = Some(error.to_string());
                }
            }
        }
    }
}

fn transaction(what: &str, error: &RdError) -> KafkaError {
    match error {
        RdError::Transaction(e) if e.txn_requires_abort() || e.is_retriable() => {
            KafkaError::TransactionAborted(format!("{what}: {error}"))
        }
        _ => KafkaError::Transaction(format!("{what}: {error}")),
    }
}

/// A record to produce.
pub struct Record<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition, or `None` for the partitioner to choose by key.
    pub partition: Option<i32>,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The payload.
    pub payload: &'a [u8],
    /// Headers, name and value.
    pub headers: &'a [(&'a str, String)],
    /// Whether to measure its latency from now to its acknowledgement.
    pub measure: bool,
}

/// The shared producer.
pub struct Producer {
    inner: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    epoch: Instant,
    flush_timeout: Duration,
    /// Whether the open transaction holds anything (a record or offsets): aborting one that
    /// holds nothing is skipped (nothing to undo; a rebalance right after a failed commit
    /// would otherwise abort twice in a row, and one such second abort was answered
    /// `INVALID_TXN_STATE`, fatal).
    written: AtomicBool,
}

impl Producer {
    /// A producer for `kafka` on `brokers`.
    pub fn new(kafka: &KafkaConfig, brokers: &str) -> Result<Self, KafkaError> {
        Self::with_config(kafka, client_config(kafka, brokers, Role::Producer))
    }

    /// A transactional producer (`transactional_id`), its transactions initialised: a
    /// previous producer with the same id is fenced and its open transaction aborted.
    /// `timeout` bounds a transaction (`transaction.timeout.ms`).
    pub fn transactional(
        kafka: &KafkaConfig,
        brokers: &str,
        transactional_id: &str,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let mut config = client_config(kafka, brokers, Role::Producer);
        config
            .set("transactional.id", transactional_id)
            .set("transaction.timeout.ms", timeout.as_millis().to_string());
        let producer = Self::with_config(kafka, config)?;
        producer
            .inner
            .init_transactions(producer.flush_timeout)
            .map_err(|e| transaction("initialising transactions", &e))?;
        producer
            .inner
            .begin_transaction()
            .map_err(|e| transaction("beginning a transaction", &e))?;
        Ok(producer)
    }

    fn with_config(kafka: &KafkaConfig, config: ClientConfig) -> Result<Self, KafkaError> {
        let deliveries = Arc::new(Deliveries::default());
        let epoch = Instant::now();
        let context = DeliveryContext {
            deliveries: Arc::clone(&deliveries),
            epoch,
        };
        let inner = ThreadedProducer::from_config_and_context(&config, context)
            .map_err(|e| KafkaError::Client(format!("creating the producer: {e}")))?;
        Ok(Self {
            inner,
            deliveries,
            epoch,
            flush_timeout: kafka.delivery_timeout + Duration::from_secs(5),
            written: AtomicBool::new(false),
        })
    }

    /// What the delivery reports said so far.
    pub fn deliveries(&self) -> &Arc<Deliveries> {
        &self.deliveries
    }

    /// Why results cannot be delivered, while any wait: the last transport error since the
    /// last acknowledged record. An error with nothing waiting (a connection dropped after
    /// the last result) is forgotten: no result is held up by it.
    pub fn outage(&self) -> Option<String> {
        let outage = self.deliveries.outage()?;
        if self.inner.in_flight_count() > 0 {
            return Some(outage);
        }
        *self
            .deliveries
            .outage
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        None
    }

    /// Fails when any record could not be delivered.
    pub fn check(&self) -> Result<(), KafkaError> {
        match self.deliveries.first_error() {
            Some(error) => Err(KafkaError::Delivery {
                failed: self.deliveries.failed(),
                error,
            }),
            None => Ok(()),
        }
    }

    /// Queues a record; waits while librdkafka's queue is full (backpressure).
    pub fn send(&self, record: &Record<'_>) -> Result<(), KafkaError> {
        self.check()?;
        let opaque = if record.measure {
            self.epoch.elapsed().as_micros() as usize + 1
        } else {
            0
        };
        let mut base: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(record.topic, opaque).payload(record.payload);
        if !record.headers.is_empty() {
            // Results carry none: no header allocation on their path.
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (name, value) in record.headers {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value.as_bytes()),
                });
            }
            base = base.headers(headers);
        }
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        let started = Instant::now();
        loop {
            match self.inner.send(base) {
                Ok(()) => {
                    self.written.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if started.elapsed() > self.flush_timeout {
                        return Err(KafkaError::Delivery {
                            failed: 0,
                            error: "the producer queue stayed full".into(),
                        });
                    }
                    self.check()?;
                    std::thread::sleep(Duration::from_millis(1));
                    base = back;
                }
                Err((error, _)) => {
                    return Err(KafkaError::Delivery {
                        failed: 0,
                        error: error.to_string(),
                    });
                }
            }
        }
    }

    /// Waits until every queued record is acknowledged, then checks the delivery reports.
    pub fn flush(&self) -> Result<(), KafkaError> {
        self.inner
            .flush(self.flush_timeout)
            .map_err(|e| KafkaError::Delivery {
                failed: self.deliveries.failed(),
                error: format!("flush: {e}"),
            })?;
        self.check()
    }

    /// Commits the open transaction with `offsets` of the consumer `group` in it, and begins
    /// the next.
    pub fn commit_transaction(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), KafkaError> {
        self.written.store(true, Ordering::SeqCst);
        self.inner
            .send_offsets_to_transaction(offsets, group, self.flush_timeout)
            .map_err(|e| transaction("adding offsets to the transaction", &e))?;
        self.inner
            .commit_transaction(self.flush_timeout)
            .map_err(|e| transaction("committing the transaction", &e))?;
        self.check()?;
        self.written.store(false, Ordering::SeqCst);
        self.inner
            .begin_transaction()
            .map_err(|e| transaction("beginning a transaction", &e))
    }

    /// Aborts the open transaction (its records are discarded) and begins the next. One that
    /// holds nothing is left open as it is.
    pub fn abort_transaction(&self) -> Result<(), KafkaError> {
        if !self.written.load(Ordering::SeqCst) {
            tracing::debug!("nothing written in the open transaction: nothing to abort");
            return Ok(());
        }
        self.inner
            .abort_transaction(self.flush_timeout)
            .map_err(|e| transaction("aborting the transaction", &e))?;
        self.written.store(false, Ordering::SeqCst);
        self.inner
            .begin_transaction()
            .map_err(|e| transaction("beginning a transaction", &e))
    }

    /// Records queued and not yet acknowledged.
    pub fn in_flight(&self) -> i32 {
        self.inner.in_flight_count()
    }
}
