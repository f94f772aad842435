//! The branch-and-price tree below column generation's root (see [`super`]): nodes are
//! rules on the nurses' schedules and bounds on agency bookings; each node's bound comes
//! from column generation under its rules.

use std::time::Instant;

use super::{
    Choice, EPSILON, Generated, Pool, PricingReport, Rules, generate, master_columns, pool_mip,
};
use crate::Result;
use crate::mip::{AgencyLimits, SolveOptions, Status};
use crate::patterns::Pattern;
use crate::problem::Problem;

/// A node of the branch-and-price tree: the rules its schedules keep, a lower bound on any
/// roster under them (its parent's until its own column generation) and its depth.
struct Node {
    rules: Vec<Rules>,
    agency: AgencyLimits,
    bound: f64,
    depth: usize,
}

/// The most fractional `x[e,d,c] = Σ λ` over nurse `e`'s schedules making choice `c` on day
/// `d`, from the master's positive `values` over `columns`; `None` when every nurse has
/// one schedule at value 1 (the master is integral). Two schedules of one nurse at
/// fractional values differ on some day, so a fractional master always has one.
fn branching(
    values: &[(usize, usize, f64)],
    columns: &[Vec<Pattern>],
) -> Option<(usize, usize, Choice)> {
    let mut x: std::collections::BTreeMap<(usize, usize, Choice), f64> = Default::default();
    for &(e, p, v) in values {
        for (d, &choice) in columns[e][p].iter().enumerate() {
            *x.entry((e, d, choice)).or_default() += v;
        }
    }
    x.into_iter()
        .filter(|&(_, v)| v > 1e-6 && v < 1.0 - 1e-6)
        .min_by(|a, b| (a.1 - 0.5).abs().total_cmp(&(b.1 - 0.5).abs()))
        .map(|(k, _)| k)
}

/// Branch-and-price below the converged `root` (Barnhart et al. 1998; the branching rule of
/// Vanderbeck 2000 for set partitioning with one convexity row per nurse): a node fractional
/// on `x[e,d,c]` has a child where nurse `e` makes choice `c` on day `d` and one where it
/// does not, both honoured by pricing ([`Rules`]), so every node's column generation bound
/// is valid for it. Best-first on the bounds, the deepest node first among equals (plunging
/// toward rosters). `incumbent` (value, roster) is improved by integral masters.
///
/// Returns a lower bound on every roster: the incumbent's value when the tree is exhausted,
/// else the least bound of the nodes left open.
#[allow(clippy::too_many_arguments)]
pub(super) fn branch_and_price(
    problem: &Problem,
    pool: &mut Pool,
    root: &Generated,
    root_bound: f64,
    incumbent: &mut Option<(f64, crate::problem::Roster)>,
    options: &SolveOptions,
    covers_at: &[Vec<usize>],
    until: Instant,
    report: &mut PricingReport,
) -> Result<f64> {
    let n = problem.employees.len();
    let beats = |bound: f64, incumbent: &Option<(f64, crate::problem::Roster)>| {
        incumbent
            .as_ref()
            .is_some_and(|(z, _)| bound >= z - EPSILON * z.abs().max(1.0))
    };
    // Lower bound of nodes closed without settling them (an integral master whose roster
    // costs more than its relaxation, which integral schedules and bookings rule out).
    let mut unsettled = f64::INFINITY;
    let mut open: Vec<Node> = Vec::new();
    let branch = |rules: &[Rules],
                  agency: &AgencyLimits,
                  g: &Generated,
                  bound: f64,
                  depth: usize,
                  pool: &Pool,
                  open: &mut Vec<Node>,
                  incumbent: &mut Option<(f64, crate::problem::Roster)>,
                  unsettled: &mut f64|
     -> Result<()> {
        let columns = master_columns(pool, rules);
        let max = problem.agency.as_ref().map_or(0, |a| a.max_per_shift);
        // The most fractional agency booking, when the schedules are integral.
        let booking = || {
            g.agency
                .iter()
                .filter(|(_, v)| (v - v.round()).abs() > 1e-6)
                .min_by(|a, b| {
                    (a.1.fract() - 0.5)
                        .abs()
                        .total_cmp(&(b.1.fract() - 0.5).abs())
                })
                .copied()
        };
        match branching(&g.values, &columns) {
            Some((e, d, c)) => {
                let mut without = rules.to_vec();
                without[e].forbidden.push((d, c));
                let mut with = rules.to_vec();
                with[e].required.push((d, c));
                for rules in [without, with] {
                    open.push(Node {
                        rules,
                        agency: agency.clone(),
                        bound,
                        depth: depth + 1,
                    });
                }
            }
            None if let Some((slot, v)) = booking() => {
                // Agency bookings are integers: at most ⌊v⌋, or at least ⌈v⌉. A safeguard:
                // with integral schedules and integer covers a vertex books whole nurses, and
                // no test has reached this branch.
                let (lo, hi) = agency.get(&slot).copied().unwrap_or((0, max));
                let down = v.floor() as u32;
                for limits in [(lo, down), (down + 1, hi)] {
                    let mut agency = agency.clone();
                    agency.insert(slot, limits);
                    open.push(Node {
                        rules: rules.to_vec(),
                        agency,
                        bound,
                        depth: depth + 1,
                    });
                }
            }
            None => {
                // Integral: these schedules, with agency and slacks by a MIP.
                let mut one: Vec<Vec<Pattern>> = vec![Vec::new(); n];
                for &(e, p, _) in &g.values {
                    one[e] = vec![columns[e][p].clone()];
                }
                let s = pool_mip(problem, &one, options, until, None)?;
                let z = s.objective.filter(|_| s.status == Status::Optimal);
                match (z, s.roster) {
                    (Some(z), Some(roster)) => {
                        if !beats(z, incumbent) {
                            *incumbent = Some((z, roster));
                        }
                        if g.master_value
                            .is_none_or(|m| z > m + EPSILON * m.abs().max(1.0))
                        {
                            *unsettled = unsettled.min(bound);
                        }
                    }
                    _ => *unsettled = unsettled.min(bound),
                }
            }
        }
        Ok(())
    };
    let none = vec![Rules::default(); n];
    branch(
        &none,
        &AgencyLimits::new(),
        root,
        root_bound,
        0,
        pool,
        &mut open,
        incumbent,
        &mut unsettled,
    )?;
    while !open.is_empty() && Instant::now() < until {
        // Best bound first; among equals the deepest, and the last pushed (the child that
        // makes the choice).
        let i = (0..open.len())
            .rev()
            .min_by(|&a, &b| {
                open[a]
                    .bound
                    .total_cmp(&open[b].bound)
                    .then(open[b].depth.cmp(&open[a].depth))
            })
            .unwrap_or(0);
        let node = open.swap_remove(i);
        if beats(node.bound, incumbent) {
            continue;
        }
        report.nodes += 1;
        let g = generate(
            problem,
            pool,
            &node.rules,
            &node.agency,
            options,
            covers_at,
            until,
            true,
            incumbent.as_ref().map(|i| i.0),
            report,
        )?;
        // A nurse without a schedule under these rules: nothing below this node.
        if g.no_schedule.is_some() {
            continue;
        }
        let bound = g.bound.map_or(node.bound, |b| b.max(node.bound));
        tracing::debug!(
            node = report.nodes,
            depth = node.depth,
            bound,
            converged = g.converged,
            open = open.len(),
            incumbent = ?incumbent.as_ref().map(|i| i.0),
            "branch-and-price node"
        );
        if beats(bound, incumbent) {
            continue;
        }
        if !g.converged {
            // Out of time: the node stays open at what it proved.
            open.push(Node { bound, ..node });
            break;
        }
        // Converged on the artificial slack: the rules leave a hard cover short.
        if g.artificial > 1e-6 {
            continue;
        }
        branch(
            &node.rules,
            &node.agency,
            &g,
            bound,
            node.depth,
            pool,
            &mut open,
            incumbent,
            &mut unsettled,
        )?;
    }
    report.open_nodes = open.len();
    tracing::info!(
        nodes = report.nodes,
        open = report.open_nodes,
        incumbent = ?incumbent.as_ref().map(|i| i.0),
        "branch-and-price tree"
    );
    let least_open = open.iter().map(|n| n.bound).fold(unsettled, f64::min);
    Ok(incumbent
        .as_ref()
        .map_or(least_open, |(z, _)| least_open.min(*z)))
}
