//! Resources: `capacity` identical servers (beds, bays, nurses' patients) and a queue of
//! waiting entities served by priority, then first come first served.
//!
//! A resource only keeps counts and the queue; the model decides what a grant means. It
//! never preempts: lowering the capacity below the number in use closes servers as they are
//! released.
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What [`Resource::request`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A server was free and is now held by the entity.
    Granted,
    /// All servers are busy; the entity waits in the queue.
    Queued,
}

/// `capacity` servers and a priority queue of waiting entity ids (lower priority value is
/// served first; FIFO within a priority).
#[derive(Clone, Debug)]
pub struct Resource {
    capacity: u32,
    in_use: u32,
    seq: u64,
    queue: BinaryHeap<Reverse<(u8, u64, u32)>>,
}

impl Resource {
    /// A resource with `capacity` servers, none in use.
    pub fn new(capacity: u32) -> Resource {
        Resource {
            capacity,
            in_use: 0,
            seq: 0,
            queue: BinaryHeap::with_capacity(64),
        }
    }

    /// Servers in use.
    #[inline]
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Servers (open).
    #[inline]
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Entities waiting (including any the model has since cancelled but not yet skipped).
    #[inline]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Takes a server for `entity` if one is free and nobody with the same or higher
    /// priority waits; otherwise queues it.
    #[inline]
    pub fn request(&mut self, entity: u32, priority: u8) -> Request {
        if self.in_use < self.capacity && self.queue.is_empty() {
            self.in_use += 1;
            Request::Granted
        } else {
            self.seq += 1;
            self.queue.push(Reverse((priority, self.seq, entity)));
            Request::Queued
        }
    }

    /// Gives a server back. Returns nothing: call [`Resource::next_waiting`] to hand free
    /// servers to waiting entities.
    #[inline]
    pub fn release(&mut self) {
        debug_assert!(self.in_use > 0, "release without a grant");
        self.in_use = self.in_use.saturating_sub(1);
    }

    /// If a server is free and someone waits, takes the server for the first waiting entity
    /// and returns it. The model calls this in a loop after a release or a capacity rise,
    /// skipping (and calling again for) entities that have left the queue meanwhile —
    /// see [`Resource::unreserve`].
    #[inline]
    pub fn next_waiting(&mut self) -> Option<u32> {
        if self.in_use >= self.capacity {
            return None;
        }
        let Reverse((_, _, entity)) = self.queue.pop()?;
        self.in_use += 1;
        Some(entity)
    }

    /// Undoes the grant `next_waiting` made for an entity that had already left (lazy
    /// removal from the queue, O(1) instead of a search).
    #[inline]
    pub fn unreserve(&mut self) {
        self.release();
    }

    /// Takes a server even if none is free (over capacity: an overflow placement). The
    /// entity's queue entry, if any, stays and must be skipped with [`Resource::unreserve`].
    #[inline]
    pub fn force_grant(&mut self) {
        self.in_use += 1;
    }

    /// Sets the number of open servers (staffing changes); holders are never evicted.
    pub fn set_capacity(&mut self, capacity: u32) {
        self.capacity = capacity;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_until_full_then_queues_by_priority_then_fifo() {
        let mut r = Resource::new(1);
        assert_eq!(r.request(1, 3), Request::Granted);
        assert_eq!(r.request(2, 3), Request::Queued);
        assert_eq!(r.request(3, 1), Request::Queued);
        assert_eq!(r.request(4, 3), Request::Queued);
        assert_eq!(r.next_waiting(), None, "no free server yet");
        r.release();
        assert_eq!(r.next_waiting(), Some(3), "most urgent first");
        r.release();
        assert_eq!(r.next_waiting(), Some(2), "then first come");
        r.release();
        assert_eq!(r.next_waiting(), Some(4));
        assert_eq!(r.in_use(), 1);
    }

    #[test]
    fn lowering_capacity_closes_servers_as_they_free() {
        let mut r = Resource::new(2);
        assert_eq!(r.request(1, 0), Request::Granted);
        assert_eq!(r.request(2, 0), Request::Granted);
        assert_eq!(r.request(3, 0), Request::Queued);
        r.set_capacity(1);
        r.release();
        assert_eq!(r.next_waiting(), None, "1 in use = capacity 1");
        r.set_capacity(3);
        assert_eq!(r.next_waiting(), Some(3));
        assert_eq!(r.in_use(), 2);
    }
}
