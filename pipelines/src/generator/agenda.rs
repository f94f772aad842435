//! The agenda: what happens next in the simulated hospital, in time order.
//!
//! A binary min-heap keyed by `(time, sequence)`. The sequence number is assigned on insertion,
//! so happenings at the same millisecond come out in the order they were scheduled, and the
//! whole run is a pure function of the seed. Cost: O(log n) per insertion and removal; n is
//! bounded by the patients in beds, the appointments on the books and the pending charge
//! follow-ups (a few thousand with the defaults).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use wardstream_schemas::Millis;

/// A scheduled happening. Patient happenings name the patient slot and the encounter number
/// that occupied it when they were scheduled; a stale one (the encounter has ended) is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happening {
    /// The silent warm-up ends: the current census and bookings are announced.
    WarmUpEnds,
    /// The next hospital arrival.
    Arrival,
    /// The patient's stay in the current unit is over (transfer or discharge).
    LeaveUnit {
        /// Patient slot.
        slot: u32,
        /// Encounter number.
        encounter: u64,
    },
    /// The patient's next set of vital signs is due.
    Vitals {
        /// Patient slot.
        slot: u32,
        /// Encounter number.
        encounter: u64,
    },
    /// The patient has boarded too long waiting for a bed.
    BoardingTimeout {
        /// Patient slot.
        slot: u32,
        /// Encounter number.
        encounter: u64,
        /// Which wait this timeout belongs to.
        wait: u32,
    },
    /// The next appointment booking.
    Booking,
    /// An appointment's next lifecycle step (cancel, reschedule or outcome).
    Appointment {
        /// Appointment slot.
        slot: u32,
    },
    /// A void or adjustment of a posted charge.
    ChargeFollowUp {
        /// Follow-up slot.
        slot: u32,
    },
}

#[derive(Debug)]
struct Entry {
    time: Millis,
    seq: u64,
    what: Happening,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Happenings ordered by `(time, insertion sequence)`.
#[derive(Debug, Default)]
pub struct Agenda {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Agenda {
    /// Schedules `what` at `time`.
    pub fn schedule(&mut self, time: Millis, what: Happening) {
        self.seq += 1;
        self.heap.push(Entry {
            time,
            seq: self.seq,
            what,
        });
    }

    /// Removes and returns the earliest happening.
    pub fn pop(&mut self) -> Option<(Millis, Happening)> {
        self.heap.pop().map(|e| (e.time, e.what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut a = Agenda::default();
        a.schedule(5, Happening::Booking);
        a.schedule(3, Happening::Arrival);
        a.schedule(5, Happening::Arrival);
        a.schedule(1, Happening::WarmUpEnds);
        let order: Vec<_> = std::iter::from_fn(|| a.pop()).collect();
        assert_eq!(
            order,
            vec![
                (1, Happening::WarmUpEnds),
                (3, Happening::Arrival),
                (5, Happening::Booking),
                (5, Happening::Arrival)
            ]
        );
    }
}
