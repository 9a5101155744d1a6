//! Getting finished spans to the collector without ever holding up the pipeline: a bounded
//! queue that drops (and counts) what does not fit, drained by a thread of its own that sends
//! batches over OTLP/HTTP with a blocking client and a time limit per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use prometheus_client::metrics::counter::Counter;

/// Spans sent in one request at most.
const MAX_BATCH: usize = 512;
/// Spans wait at most this long before they are sent.
const SEND_EVERY: Duration = Duration::from_secs(1);

/// OTLP over HTTP with `ureq` (blocking: the export thread drives the exporter's future).
#[derive(Debug, Clone)]
pub(super) struct UreqClient {
    agent: ureq::Agent,
}

impl UreqClient {
    /// A client whose requests take at most `timeout`, connection included.
    pub(super) fn new(timeout: Duration) -> Self {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // The exporter reads the status itself.
            .http_status_as_error(false)
            // `https://` endpoints: the system's TLS and its trusted roots.
            .tls_config(
                TlsConfig::builder()
                    .provider(TlsProvider::NativeTls)
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self.agent.run(Request::from_parts(parts, body.as_ref()))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body.with_config().limit(1 << 20).read_to_vec()?;
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }
}

enum Message {
    Span(Box<SpanData>),
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>),
    Resource(Resource),
}

/// A span processor with a bounded queue: a span that does not fit is dropped and counted,
/// so a slow or unreachable collector costs the pipeline nothing but lost spans.
#[derive(Debug)]
pub(super) struct BoundedProcessor {
    queue: SyncSender<Message>,
    dropped: Counter,
    thread: Mutex<Option<JoinHandle<()>>>,
    shut: AtomicBool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("span export message")
    }
}

/// Sends what `batch` holds, if anything.
fn send<E: SpanExporter>(exporter: &E, batch: &mut Vec<SpanData>) -> OTelSdkResult {
    if batch.is_empty() {
        return Ok(());
    }
    let result = futures_executor::block_on(exporter.export(std::mem::take(batch)));
    if let Err(error) = &result {
        tracing::debug!(%error, "spans not exported");
    }
    result
}

impl BoundedProcessor {
    /// Exports through `exporter` with room for `capacity` finished spans; drops counted in
    /// `dropped`.
    pub(super) fn start<E: SpanExporter + 'static>(
        mut exporter: E,
        capacity: usize,
        dropped: Counter,
    ) -> std::io::Result<Self> {
        let (queue, spans) = sync_channel::<Message>(capacity);
        let thread = std::thread::Builder::new()
            .name("eddy-trace-export".into())
            .spawn(move || {
                // The export's own work makes no spans.
                let _quiet = Context::enter_telemetry_suppressed_scope();
                let mut batch = Vec::with_capacity(MAX_BATCH);
                let mut sent = Instant::now();
                loop {
                    match spans.recv_timeout(SEND_EVERY.saturating_sub(sent.elapsed())) {
                        Ok(Message::Span(span)) => {
                            batch.push(*span);
                            if batch.len() >= MAX_BATCH {
                                let _ = send(&exporter, &mut batch);
                                sent = Instant::now();
                            }
                        }
                        Ok(Message::Resource(resource)) => exporter.set_resource(&resource),
                        Ok(Message::Flush(done)) => {
                            let _ = done.send(send(&exporter, &mut batch));
                            sent = Instant::now();
                        }
                        Ok(Message::Shutdown(done)) => {
                            let result = send(&exporter, &mut batch);
                            let _ = exporter.shutdown();
                            let _ = done.send(result);
                            return;
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            let _ = send(&exporter, &mut batch);
                            sent = Instant::now();
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            let _ = send(&exporter, &mut batch);
                            let _ = exporter.shutdown();
                            return;
                        }
                    }
                }
            })?;
        Ok(Self {
            queue,
            dropped,
            thread: Mutex::new(Some(thread)),
            shut: AtomicBool::new(false),
        })
    }

    /// Asks the export thread for `message` and waits for its answer at most `timeout`.
    fn ask(
        &self,
        message: impl FnOnce(SyncSender<OTelSdkResult>) -> Message,
        timeout: Duration,
    ) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        let (done, answer) = sync_channel(1);
        // A flush or shutdown must not be dropped: it waits for a free place in the queue,
        // at most until the deadline (the export thread may be waiting on a collector).
        let mut message = message(done);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return Err(OTelSdkError::AlreadyShutdown),
                Err(TrySendError::Full(again)) if Instant::now() < deadline => {
                    message = again;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TrySendError::Full(_)) => return Err(OTelSdkError::Timeout(timeout)),
            }
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(error) => Err(OTelSdkError::InternalFailure(error.to_string())),
        }
    }
}

impl SpanProcessor for BoundedProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        match self.queue.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Message::Flush, Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.ask(Message::Shutdown, timeout);
        if result.is_ok() {
            let thread = self
                .thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.queue.try_send(Message::Resource(resource.clone()));
    }
}
