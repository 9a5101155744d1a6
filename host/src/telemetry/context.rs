//! W3C trace context (`traceparent`) in and out of Kafka records.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::Headers;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C trace context header.
const TRACEPARENT: &str = "traceparent";

/// A record's `traceparent` header, when it has one that reads as text.
pub fn traceparent_of(message: &impl rdkafka::Message) -> Option<&str> {
    if !super::enabled() {
        return None;
    }
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key.eq_ignore_ascii_case(TRACEPARENT))
        .and_then(|header| std::str::from_utf8(header.value?).ok())
}

/// The trace context a `traceparent` value names, if it is a valid one.
fn parse(traceparent: &str) -> Option<SpanContext> {
    // The propagator takes ids shorter than the W3C format's: check the lengths first.
    let mut parts = traceparent.split('-');
    let lengths = [2, 32, 16, 2].map(|n| parts.next().is_some_and(|p| p.len() == n));
    if lengths.contains(&false) {
        return None;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// Links `span` to each valid trace context of `traceparents` (the batch's records').
pub fn link_to(span: &tracing::Span, traceparents: &[String]) {
    for traceparent in traceparents {
        if let Some(context) = parse(traceparent) {
            span.add_link(context);
        }
    }
}

/// The `traceparent` of the current span, when spans are exported and it is sampled or
/// recorded: what a record written now carries.
pub fn current_traceparent() -> Option<String> {
    if !super::enabled() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span().span_context().clone();
    span.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span.trace_id(),
            span.span_id(),
            span.trace_flags().to_u8()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_only_when_valid() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse(good).expect("valid");
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_remote());
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
