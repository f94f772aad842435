//! The bounded queue between the engine's workers and the raw archive writer.
//!
//! Each worker numbers the records its source share yields (`seq` 1, 2, … per share) and
//! pushes every one here as it feeds it. The numbering is the archive's position: a
//! deterministic source (file replay, the seeded generator) yields the same `(share, seq)` for
//! the same record on every run with the same worker count, as a Kafka partition offset does,
//! so a restarted engine's archive writer skips what ClickHouse already holds.
//!
//! The queue is bounded: when it holds `capacity` records the engine stops feeding (the same
//! backpressure as a lagging dataflow) until the writer drains it, so a ClickHouse outage
//! holds the input back instead of growing memory or dropping records.

use crate::source::SourceRecord;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One record on its way to the archive.
#[derive(Clone, Debug)]
pub struct Archived {
    /// The worker share it came from.
    pub share: u16,
    /// Its position in that share, from 1.
    pub seq: u64,
    /// The record (a valid event for `raw_events`, a rejection for `dead_letters`).
    pub record: SourceRecord,
}

/// Records fed by the engine, waiting for the archive writer.
#[derive(Debug)]
pub struct ArchiveQueue {
    records: Mutex<Vec<Archived>>,
    len: AtomicUsize,
    capacity: usize,
    shares: AtomicUsize,
}

impl ArchiveQueue {
    /// A queue that applies backpressure at `capacity` records (at least 1).
    pub fn new(capacity: usize) -> Self {
        ArchiveQueue {
            records: Mutex::new(Vec::new()),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            shares: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Archived>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes how many worker shares the source is split into (called by the engine).
    pub fn set_shares(&self, shares: usize) {
        self.shares.store(shares, Ordering::Relaxed);
    }

    /// The worker shares, once the engine has started (0 before).
    pub fn shares(&self) -> usize {
        self.shares.load(Ordering::Relaxed)
    }

    /// Queues records (called by a worker as it feeds them).
    pub fn push(&self, records: impl IntoIterator<Item = Archived>) {
        let mut q = self.lock();
        q.extend(records);
        self.len.store(q.len(), Ordering::Relaxed);
    }

    /// Whether the engine should stop feeding.
    pub fn is_full(&self) -> bool {
        self.len.load(Ordering::Relaxed) >= self.capacity
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes every waiting record, in arrival order per share.
    pub fn take(&self) -> Vec<Archived> {
        let mut q = self.lock();
        self.len.store(0, Ordering::Relaxed);
        std::mem::take(&mut *q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardstream_schemas::{Reject, RejectReason, Stream};

    fn rejected(seq: u64) -> Archived {
        Archived {
            share: 0,
            seq,
            record: SourceRecord::rejected(
                Stream::Adt,
                format!("f:{seq}"),
                b"x".to_vec(),
                Reject::new(RejectReason::Malformed, "bad"),
                0,
            ),
        }
    }

    #[test]
    fn full_at_capacity_and_empty_after_take() {
        let q = ArchiveQueue::new(3);
        q.push((1..=2).map(rejected));
        assert!(!q.is_full());
        q.push([rejected(3)]);
        assert!(q.is_full());
        let taken = q.take();
        assert_eq!(taken.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(q.is_empty() && !q.is_full());
    }
}
