//! An M/M/c queue built on the same calendar and resource as the hospital model: Poisson
//! arrivals at rate λ, exponential service at rate μ, `c` servers, FIFO. Its steady-state
//! mean wait is Erlang C's `Wq = C(c, λ/μ) / (cμ − λ)`, which validates the engine
//! ([`crate::stats::mmc_mean_wait`]), and it is the throughput benchmark (customers/s).
//!
//! Each customer's service time is drawn on arrival from its own stream (stream 1; arrivals
//! are stream 0), so two configurations run with the same seed serve the same customers with
//! the same work: common random numbers for paired comparisons.
use crate::calendar::{Calendar, Model, run};
use crate::random::{self, Stream};
use crate::resource::{Request, Resource};
use crate::stats::Welford;

/// An M/M/c experiment. Rates per hour (any time unit works if used consistently).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmcConfig {
    /// λ, arrivals per unit time.
    pub arrival_rate: f64,
    /// μ, services per unit time per server.
    pub service_rate: f64,
    /// c, servers.
    pub servers: u32,
    /// Customers to simulate (arrivals), including the warm-up.
    pub customers: u64,
    /// The first customers, whose waits are not counted (warm-up deletion).
    pub warmup_customers: u64,
}

/// One replication's output (customers after the warm-up only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmcRun {
    /// Mean wait in queue, Wq.
    pub mean_wait: f64,
    /// Share of customers who waited at all, P(wait > 0).
    pub p_wait: f64,
    /// Customers counted.
    pub counted: u64,
    /// Simulated time at the end.
    pub end_time: f64,
    /// Events handled.
    pub events: u64,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Arrival,
    Departure,
}

struct Mmc {
    cfg: MmcConfig,
    servers: Resource,
    arrivals: Stream,
    services: Stream,
    mean_interarrival: f64,
    mean_service: f64,
    /// Per customer id: (arrival time, service time, arrival index). Ids are reused.
    customers: Vec<(f64, f64, u64)>,
    free: Vec<u32>,
    arrived: u64,
    started: u64,
    wait: Welford,
    waited: u64,
}

impl Mmc {
    fn start_service(&mut self, cal: &mut Calendar<Event>, id: u32) {
        let (arrived_at, service, index) = self.customers[id as usize];
        let wait = cal.now() - arrived_at;
        if index >= self.cfg.warmup_customers {
            self.wait.push(wait);
            if wait > 0.0 {
                self.waited += 1;
            }
        }
        self.started += 1;
        self.free.push(id);
        cal.schedule(service, Event::Departure);
    }
}

impl Model for Mmc {
    type Event = Event;

    #[inline]
    fn handle(&mut self, cal: &mut Calendar<Event>, event: Event) {
        match event {
            Event::Arrival => {
                let service = random::exponential(&mut self.services, self.mean_service);
                let id = match self.free.pop() {
                    Some(id) => id,
                    None => {
                        self.customers.push((0.0, 0.0, 0));
                        (self.customers.len() - 1) as u32
                    }
                };
                self.customers[id as usize] = (cal.now(), service, self.arrived);
                self.arrived += 1;
                if self.arrived < self.cfg.customers {
                    let gap = random::exponential(&mut self.arrivals, self.mean_interarrival);
                    cal.schedule(gap, Event::Arrival);
                }
                if self.servers.request(id, 0) == Request::Granted {
                    self.start_service(cal, id);
                }
            }
            Event::Departure => {
                self.servers.release();
                if let Some(id) = self.servers.next_waiting() {
                    self.start_service(cal, id);
                }
            }
        }
    }

    fn done(&self) -> bool {
        self.started >= self.cfg.customers
    }
}

/// Simulates one replication of `cfg` with streams `(seed, replication)`.
///
/// The run ends when every customer has started service, so each counted customer's wait is
/// complete.
pub fn simulate(cfg: &MmcConfig, seed: u64, replication: u64) -> MmcRun {
    let mut model = Mmc {
        cfg: *cfg,
        servers: Resource::new(cfg.servers),
        arrivals: random::stream(seed, replication, 0),
        services: random::stream(seed, replication, 1),
        mean_interarrival: 1.0 / cfg.arrival_rate,
        mean_service: 1.0 / cfg.service_rate,
        customers: Vec::with_capacity(1024),
        free: Vec::with_capacity(1024),
        arrived: 0,
        started: 0,
        wait: Welford::default(),
        waited: 0,
    };
    let mut cal = Calendar::with_capacity(cfg.servers as usize + 2);
    if cfg.customers > 0 {
        let gap = random::exponential(&mut model.arrivals, model.mean_interarrival);
        cal.schedule(gap, Event::Arrival);
    }
    run(&mut model, &mut cal, f64::INFINITY);
    let counted = model.wait.count();
    MmcRun {
        mean_wait: model.wait.mean(),
        p_wait: if counted > 0 {
            model.waited as f64 / counted as f64
        } else {
            f64::NAN
        },
        counted,
        end_time: cal.now(),
        events: cal.handled(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_run_and_customers_counted() {
        let cfg = MmcConfig {
            arrival_rate: 0.8,
            service_rate: 1.0,
            servers: 1,
            customers: 5_000,
            warmup_customers: 500,
        };
        let a = simulate(&cfg, 3, 1);
        assert_eq!(a, simulate(&cfg, 3, 1));
        assert_ne!(a, simulate(&cfg, 3, 2));
        assert_eq!(a.counted, 4_500);
        assert!(a.p_wait > 0.0 && a.p_wait < 1.0);
    }

    #[test]
    fn no_waiting_with_more_servers_than_customers() {
        let cfg = MmcConfig {
            arrival_rate: 1.0,
            service_rate: 0.01,
            servers: 100,
            customers: 50,
            warmup_customers: 0,
        };
        let r = simulate(&cfg, 1, 0);
        assert_eq!(r.mean_wait, 0.0);
        assert_eq!(r.p_wait, 0.0);
    }
}
