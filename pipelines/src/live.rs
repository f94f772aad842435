//! Events that arrive while the engine runs, from inside the process: the API's outbox relay
//! hands each committed domain event (a booking, an invoice) to a [`LiveInput`], and every
//! timely worker takes the events it owns on its next turn, next to its source's records.
//!
//! Routing follows the sources' rule ([`owner`] of the `event_id`), so every version of an
//! event meets the same worker's dedup state: handing an event in twice (the relay is
//! at-least-once) counts as a duplicate, never twice. Live events are not paced; they get
//! the epoch of the moment they are taken.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wardstream_operators::ingest::owner;
use wardstream_schemas::Event;

/// A queue of events per worker, filled from any thread.
#[derive(Debug, Default)]
pub struct LiveInput {
    queues: Mutex<Vec<VecDeque<Event>>>,
    accepted: AtomicU64,
    closed: AtomicBool,
}

impl LiveInput {
    /// An empty input for one worker (the engine sets its worker count when it starts).
    pub fn new() -> Self {
        LiveInput {
            queues: Mutex::new(vec![VecDeque::new()]),
            accepted: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<VecDeque<Event>>> {
        // A panic while holding the lock leaves plain queues behind: keep using them.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spreads the queues over `peers` workers (events already queued move to their owner).
    pub fn set_shares(&self, peers: usize) {
        let mut queues = self.lock();
        if queues.len() == peers.max(1) {
            return;
        }
        let pending: Vec<Event> = queues.drain(..).flatten().collect();
        *queues = vec![VecDeque::new(); peers.max(1)];
        let n = queues.len();
        for e in pending {
            queues[owner(e.event_id(), n)].push_back(e);
        }
    }

    /// Queues `events` for the workers that own them.
    pub fn push(&self, events: impl IntoIterator<Item = Event>) {
        let mut queues = self.lock();
        let n = queues.len();
        for e in events {
            queues[owner(e.event_id(), n)].push_back(e);
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Up to `max` queued events of worker `index`, oldest first.
    pub fn take(&self, index: usize, max: usize) -> Vec<Event> {
        let mut queues = self.lock();
        match queues.get_mut(index) {
            Some(q) => {
                let k = q.len().min(max);
                q.drain(..k).collect()
            }
            None => Vec::new(),
        }
    }

    /// Events queued for worker `index` and not yet taken.
    pub fn pending(&self, index: usize) -> usize {
        self.lock().get(index).map_or(0, VecDeque::len)
    }

    /// Events handed in so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// No more events will come: once its source is exhausted too, the engine may finish.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}
