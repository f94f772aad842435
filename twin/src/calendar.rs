//! The event calendar: a simulated clock and a priority queue of future events.
//!
//! Events are small `Copy` values of the model's own enum, so dispatch is a `match` (no
//! trait objects) and the heap stores them inline: once the heap has grown to the model's
//! largest number of pending events, scheduling allocates nothing. Ties in time are broken
//! by scheduling order (FIFO), which makes runs reproducible.
//!
//! A process (a patient, a customer) is a state machine in the model: each event advances
//! one entity from one state to the next and schedules its next event, the way SimPy's
//! generator processes `yield` a timeout.
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time: f64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)`.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The future-event list and the clock. Time is in hours, starting at 0.
#[derive(Debug)]
pub struct Calendar<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: f64,
    handled: u64,
}

impl<E: Copy> Calendar<E> {
    /// An empty calendar at time 0 with room for `capacity` pending events.
    pub fn with_capacity(capacity: usize) -> Self {
        Calendar {
            heap: BinaryHeap::with_capacity(capacity),
            seq: 0,
            now: 0.0,
            handled: 0,
        }
    }

    /// The simulated time, h.
    #[inline]
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Events popped so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// Pending events.
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Schedules `event` `delay` hours from now (a negative or NaN delay counts as 0).
    #[inline]
    pub fn schedule(&mut self, delay: f64, event: E) {
        let delay = if delay > 0.0 { delay } else { 0.0 };
        self.schedule_at(self.now + delay, event);
    }

    /// Schedules `event` at absolute time `time` (not before now).
    #[inline]
    pub fn schedule_at(&mut self, time: f64, event: E) {
        let time = if time > self.now { time } else { self.now };
        self.seq += 1;
        self.heap.push(Entry {
            time,
            seq: self.seq,
            event,
        });
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.time)
    }

    /// Removes the next event and advances the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, E)> {
        let e = self.heap.pop()?;
        self.now = e.time;
        self.handled += 1;
        Some((e.time, e.event))
    }

    /// Advances the clock to `time` without handling an event (used at the horizon).
    pub fn advance_to(&mut self, time: f64) {
        if time > self.now {
            self.now = time;
        }
    }
}

/// A simulation model: its state plus how it reacts to each of its events.
pub trait Model {
    /// The model's events (usually an enum carrying entity indices).
    type Event: Copy;

    /// Handles one event at `cal.now()`, scheduling follow-up events on `cal`.
    fn handle(&mut self, cal: &mut Calendar<Self::Event>, event: Self::Event);

    /// Whether to stop before the horizon (e.g. after N customers). Default: never.
    fn done(&self) -> bool {
        false
    }
}

/// Runs `model` until the calendar is empty, the next event is after `horizon` (h), or
/// `model.done()`. The clock ends at `horizon` unless the model stopped early.
pub fn run<M: Model>(model: &mut M, cal: &mut Calendar<M::Event>, horizon: f64) {
    while let Some(t) = cal.peek_time() {
        if t > horizon || model.done() {
            break;
        }
        let Some((_, ev)) = cal.pop() else { break };
        model.handle(cal, ev);
    }
    if !model.done() {
        cal.advance_to(horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_fifo_order() {
        let mut cal = Calendar::with_capacity(4);
        cal.schedule(2.0, 'c');
        cal.schedule(1.0, 'a');
        cal.schedule(1.0, 'b');
        cal.schedule(-5.0, 'z');
        let order: Vec<char> = std::iter::from_fn(|| cal.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['z', 'a', 'b', 'c']);
        assert_eq!(cal.now(), 2.0);
        assert_eq!(cal.handled(), 4);
    }

    struct Ticker {
        ticks: u32,
        stop_at: u32,
    }
    impl Model for Ticker {
        type Event = ();
        fn handle(&mut self, cal: &mut Calendar<()>, _: ()) {
            self.ticks += 1;
            cal.schedule(1.0, ());
        }
        fn done(&self) -> bool {
            self.ticks >= self.stop_at
        }
    }

    #[test]
    fn run_stops_at_horizon_or_when_done() {
        let mut m = Ticker {
            ticks: 0,
            stop_at: u32::MAX,
        };
        let mut cal = Calendar::with_capacity(1);
        cal.schedule_at(0.0, ());
        run(&mut m, &mut cal, 9.5);
        assert_eq!(m.ticks, 10); // t = 0..=9
        assert_eq!(cal.now(), 9.5);
        let mut m = Ticker {
            ticks: 0,
            stop_at: 3,
        };
        let mut cal = Calendar::with_capacity(1);
        cal.schedule_at(0.0, ());
        run(&mut m, &mut cal, 100.0);
        assert_eq!(m.ticks, 3);
        assert_eq!(cal.now(), 2.0);
    }
}
