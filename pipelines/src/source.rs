//! What every source yields: decoded events, or rejected records with their raw bytes.

use wardstream_schemas::{Event, Millis, Reject, Stream};

/// One record read by a source.
///
/// Sources never drop input: a record that cannot become a valid event is returned as
/// [`SourceRecord::Rejected`] with its raw bytes (the CSV line, the NDJSON line) and reason,
/// and goes to the dead-letter output.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceRecord {
    /// A decoded, validated event.
    Event(Event),
    /// A record that failed to decode, map or validate.
    Rejected(Rejected),
}

/// A record that did not become an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The stream it was meant for.
    pub stream: Stream,
    /// Where it came from, e.g. `mimic-iv-demo/hosp/transfers.csv.gz:118` or `day.ndjson:7`.
    pub origin: String,
    /// The bytes as read (one CSV row or one JSON line).
    pub raw: Vec<u8>,
    /// Why it was rejected.
    pub reject: Reject,
    /// Where it falls in event-time order (its own time if it has a readable one, else the
    /// time of the record before it in the same file), so replay reports it in sequence.
    pub order_time: Millis,
}

impl SourceRecord {
    /// A rejection.
    pub fn rejected(
        stream: Stream,
        origin: String,
        raw: impl Into<Vec<u8>>,
        reject: Reject,
        order_time: Millis,
    ) -> Self {
        SourceRecord::Rejected(Rejected {
            stream,
            origin,
            raw: raw.into(),
            reject,
            order_time,
        })
    }

    /// The record's position in event-time order.
    pub fn order_time(&self) -> Millis {
        match self {
            SourceRecord::Event(e) => e.event_time(),
            SourceRecord::Rejected(r) => r.order_time,
        }
    }

    /// The record's stream.
    pub fn stream(&self) -> Stream {
        match self {
            SourceRecord::Event(e) => e.stream(),
            SourceRecord::Rejected(r) => r.stream,
        }
    }

    /// Validates an event a mapper built, turning a failure into a rejection of `raw`.
    pub fn checked(
        event: Event,
        origin: impl FnOnce() -> String,
        raw: &[u8],
        order_time: Millis,
    ) -> Self {
        match event.validate() {
            Ok(()) => SourceRecord::Event(event),
            Err(reject) => {
                SourceRecord::rejected(event.stream(), origin(), raw, reject, order_time)
            }
        }
    }
}

/// Sorts records into event-time order, keeping file order among equal times (stable).
pub fn sort_by_event_time(records: &mut [SourceRecord]) {
    records.sort_by_key(SourceRecord::order_time);
}
