//! The rostering MIP, built with good_lp and solved by HiGHS.
//!
//! Variables: `x[e,d,s,u] ∈ {0,1}` (nurse `e` works shift `s` on day `d` on unit `u`), created
//! only where the nurse is eligible; one unit of flow per nurse through the time-expanded run
//! automaton of [`crate::runs`] (continuous arcs); weekend indicators; cover slacks; integer
//! agency bookings; weekly overtime minutes; fairness maxima. Constraints follow the Curtois &
//! Qu integer programme (one shift a day, rotation, maximum shifts per type, total minutes,
//! maximum weekends), plus hard ratio covers that only agency staff may top up. Maximum and
//! minimum consecutive shifts and minimum consecutive days off are the flow's paths: the flow
//! into working states on day `d` equals the shifts worked on `d` (small weekend limits are
//! counted in the flow too). Its relaxation only mixes legal work/off sequences, which is much
//! tighter than window inequalities (docs/staffing.md has the measured effect). The rotation
//! rule is aggregated per successor, `Σ_{s: t ∉ next(s)} x[d,s] + x[d+1,t] ≤ 1`, which is
//! tighter than one row per pair.
//!
//! Every solve reports HiGHS's incumbent, dual bound and gap, also when the time limit hits.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use good_lp::solvers::highs::highs;
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, constraint, variable};
use serde::Serialize;

use crate::patterns::Pattern;
use crate::problem::{AgencyBooking, Assignment, Problem, Roster};
use crate::runs::{RunAutomaton, starts_weekend, weekend_cap};
use crate::{Error, Result};

/// Solver settings.
#[derive(Clone, Debug)]
pub struct SolveOptions {
    /// Wall-clock limit in seconds; HiGHS keeps its best incumbent when it hits.
    pub time_limit: f64,
    /// Relative gap at which to stop (0 proves optimality).
    pub relative_gap: f64,
    /// HiGHS threads.
    pub threads: u32,
    /// Write HiGHS's log here (the CLI tails it for progress); `None` keeps HiGHS quiet.
    pub log_file: Option<PathBuf>,
    /// Start from this roster (warm start); assignments the model cannot hold are dropped.
    pub warm_start: Option<Roster>,
    /// Further HiGHS options as `(name, value)` text, set after the ones above, e.g.
    /// `("mip_heuristic_effort", "0.3")`; see HiGHS's option list. A bool, integer, double
    /// or string value is tried in that order.
    pub highs_options: Vec<(String, String)>,
    /// How to use the time: one MIP solve, or MIP → neighbourhood search → MIP
    /// ([`crate::lns::solve_with_search`]).
    pub search: Search,
    /// Which MIP to build.
    pub formulation: Formulation,
}

/// Which MIP [`solve`] builds. Both hold the same rosters at the same costs; they differ in
/// the strength of their linear relaxation and in size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formulation {
    /// Patterns when the nurses have at most [`PATTERN_LIMIT`] legal schedules in all,
    /// otherwise compact.
    #[default]
    Auto,
    /// One binary per nurse, day, shift and unit, with the run automaton's flow: grows
    /// linearly with the instance.
    Compact,
    /// One binary per nurse and legal schedule ([`crate::patterns`]): a much tighter
    /// relaxation, for horizons short enough to list every schedule.
    Patterns,
    /// The pattern model's relaxation by column generation, then a MIP over the generated
    /// schedules ([`crate::colgen`]): the pattern model's bound for any staff, and rosters
    /// that are optimal only when they meet it.
    PriceAndBranch,
    /// Price-and-branch, then branch-and-price on what time is left: branching on whether a
    /// nurse makes a given choice (off, or a shift in a unit) on a given day, with column
    /// generation at every node ([`crate::colgen`]); proves optimality where the pattern
    /// bound alone falls short, given time.
    BranchAndPrice,
}

/// How [`crate::optimise`] spends the time limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Search {
    /// One MIP solve: proves optimality when there is time.
    #[default]
    Mip,
    /// MIP, then large-neighbourhood search from its roster, then MIP from the search's best:
    /// better rosters on large instances, at the cost of some proof time.
    Lns,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            time_limit: 600.0,
            relative_gap: 0.0,
            threads: 1,
            log_file: None,
            warm_start: None,
            highs_options: Vec::new(),
            search: Search::Mip,
            formulation: Formulation::Auto,
        }
    }
}

/// How a solve ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The roster is optimal (within the requested gap).
    Optimal,
    /// A limit was hit; the roster is the best incumbent found.
    TimeLimit,
    /// A limit was hit before any feasible roster was found.
    NoSolution,
    /// No roster satisfies the hard constraints.
    Infeasible,
}

/// The result of a solve: the roster (if any), with HiGHS's incumbent, bound and gap.
#[derive(Clone, Debug, Serialize)]
pub struct Solution {
    /// How the solve ended.
    pub status: Status,
    /// The best roster found.
    pub roster: Option<Roster>,
    /// HiGHS's incumbent objective. At optimality it equals the roster's score
    /// ([`crate::evaluate`]); under a limit it bounds that score from above, since slack
    /// columns of a non-optimal incumbent need not be tight.
    pub objective: Option<f64>,
    /// Best proven lower bound on the objective.
    pub bound: Option<f64>,
    /// Relative gap `(objective − bound) / objective`, as HiGHS reports it.
    pub gap: Option<f64>,
    /// Wall-clock seconds, model building included.
    pub seconds: f64,
    /// Of which building the model and handing it to HiGHS.
    pub build_seconds: f64,
    /// Model size: columns.
    pub variables: usize,
    /// Model size: rows.
    pub constraints: usize,
    /// The formulation solved (never [`Formulation::Auto`]).
    pub formulation: Formulation,
    /// What column generation did, for [`Formulation::PriceAndBranch`] and
    /// [`Formulation::BranchAndPrice`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<crate::colgen::PricingReport>,
}

/// What a column stands for, to read the roster back and to build warm starts.
#[derive(Clone, Copy, Debug)]
enum Role {
    Work(Assignment),
    Agency(usize, usize, usize),
    /// Employee `e` starts day 0 in run state `s` with `u` weekends worked.
    RunStart(usize, usize, u32),
    /// Employee `e` goes from run state and weekends worked `(s, u)` on day `d` to `(t, u2)`
    /// on day `d + 1`.
    Run(usize, usize, (usize, u32), (usize, u32)),
    /// Weekend `k` worked by employee `e`.
    Weekend(usize, usize),
    /// Nurses short on cover `c`.
    Under(usize),
    /// Nurses above the preferred level on cover `c`.
    Over(usize),
    /// Overtime minutes of employee `e` in week `w`.
    Overtime(usize, usize),
    FairNights,
    FairWeekends,
    /// Employee `e` works pattern `p` of [`crate::patterns::enumerate`]'s list.
    Pattern(usize, usize),
    /// Nurses missing on hard cover `c` in column generation's relaxed master.
    Artificial(usize),
}

struct Columns {
    vars: ProblemVariables,
    roles: Vec<Role>,
}

impl Columns {
    fn add(&mut self, def: good_lp::variable::VariableDefinition, role: Role) -> Variable {
        self.roles.push(role);
        self.vars.add(def)
    }
}

/// The MIP under construction: columns, objective (plus a constant HiGHS does not see) and
/// rows.
pub(crate) struct Model {
    cols: Columns,
    pub(crate) objective: Expression,
    constant: f64,
    rows: Vec<good_lp::Constraint>,
    /// What the pattern and cover rows stand for, by row index (for column generation).
    pub(crate) tags: Vec<(usize, RowTag)>,
    /// Bounds on agency bookings per `(day, shift, unit)` narrower than `0..=max_per_shift`
    /// (branching in branch-and-price); read by [`Model::add_covers`].
    pub(crate) agency_limits: AgencyLimits,
}

/// Agency bookings `(lower, upper)` per `(day, shift, unit)` slot.
pub(crate) type AgencyLimits = std::collections::BTreeMap<(usize, usize, usize), (u32, u32)>;

/// Price of a nurse short on a hard cover in column generation's relaxed master, per nurse
/// and shift. Meant to exceed any roster's total cost, so a relaxation that can do without
/// it does; whether it did is read from the artificial columns themselves.
pub(crate) const ARTIFICIAL: f64 = 1e9;

/// A row of the pattern model, as column generation prices it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowTag {
    /// `Σ_p λ[e,p] = 1`.
    Convexity(usize),
    /// A row of cover `c` counting its nurses (the minimum or the preferred maximum).
    Cover(usize),
    /// Nights of employee `e` ≤ the fairness maximum.
    FairNights(usize),
    /// Weekends of employee `e` ≤ the fairness maximum.
    FairWeekends(usize),
}

/// Work columns per `(day, shift, unit)` slot: `(employee, column)`, each counting one nurse.
pub(crate) type BySlot = Vec<Vec<(usize, Variable)>>;

/// Auto picks patterns when all nurses together have at most this many legal schedules.
/// Measured (debug build, one thread): Curtois & Qu Instance1 has 785 and solves in 0.17 s
/// as patterns against 1.7 s compact; Instance2 has 37,088 (15 s against 6 s compact), and a
/// three-nurse sub-problem of Instance3 has 4,989 (0.74 s against 0.02 s compact). Where the
/// compact relaxation is already tight, more columns only cost time, so the limit is low.
pub const PATTERN_LIMIT: usize = 2_000;

/// [`Formulation::Patterns`] gives up beyond this many schedules (listing them costs memory
/// in proportion: about 0.7 KB each on a 28-day horizon).
pub const MAX_PATTERNS: usize = 500_000;

/// Builds the MIP for `problem` and solves it.
///
/// # Errors
/// [`Error::Invalid`] when the problem fails [`Problem::validate`], or when
/// [`Formulation::Patterns`] is asked for and the nurses have more than [`MAX_PATTERNS`]
/// legal schedules; [`Error::Solver`] when HiGHS reports an error status (not for
/// infeasibility or limits, which are [`Status`]es).
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<Solution> {
    problem.validate()?;
    if matches!(
        options.formulation,
        Formulation::PriceAndBranch | Formulation::BranchAndPrice
    ) {
        return crate::colgen::solve(problem, options).map(|(s, _)| s);
    }
    let started = Instant::now();
    let patterns = match options.formulation {
        Formulation::Compact | Formulation::PriceAndBranch | Formulation::BranchAndPrice => None,
        Formulation::Auto => crate::patterns::enumerate(problem, PATTERN_LIMIT),
        Formulation::Patterns => Some(
            crate::patterns::enumerate(problem, MAX_PATTERNS).ok_or_else(|| {
                Error::Invalid(format!(
                    "the nurses have more than {MAX_PATTERNS} legal schedules in all: \
                     use the compact formulation"
                ))
            })?,
        ),
    };
    let mut model = Model::new(problem);
    let by_slot = match &patterns {
        Some(patterns) => model.add_patterns(problem, patterns),
        None => model.add_compact(problem),
    };
    model.add_covers(problem, &by_slot);
    let formulation = if patterns.is_some() {
        Formulation::Patterns
    } else {
        Formulation::Compact
    };
    run(
        problem,
        model,
        patterns.as_deref(),
        options,
        started,
        formulation,
    )
    .map(|(s, _)| s)
}

/// Hands `model` to HiGHS under `options` and reads the answer: the solution (its roster
/// read through `patterns` when the model has pattern columns) and the [`Extra`] column
/// generation needs.
pub(crate) fn run(
    problem: &Problem,
    model: Model,
    patterns: Option<&[Vec<Pattern>]>,
    options: &SolveOptions,
    started: Instant,
    formulation: Formulation,
) -> Result<(Solution, Extra)> {
    let Model {
        cols,
        objective,
        constant,
        rows,
        ..
    } = model;
    let roles = cols.roles;
    let n_cols = roles.len();
    let n_rows = rows.len();
    let mut inner = into_highs(cols.vars, objective, rows)?;
    // The limit is wall-clock from the call: listing schedules and building count.
    let left = options.time_limit - started.elapsed().as_secs_f64();
    configure(&mut inner, options, left)?;
    if let Some(start) = &options.warm_start {
        let values = warm_start_columns(problem, &roles, patterns, start);
        inner
            .try_set_solution(Some(&values), None, None, None)
            .map_err(|e| Error::Solver(format!("warm start: {e:?}")))?;
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let solved = inner
        .try_solve()
        .map_err(|e| Error::Solver(format!("{e:?}")))?;
    let feasible = solved.primal_solution_status() == highs::HighsSolutionStatus::Feasible;
    use highs::HighsModelStatus as M;
    let status = match solved.status() {
        M::Optimal | M::ObjectiveBound | M::ObjectiveTarget => Status::Optimal,
        M::Infeasible | M::UnboundedOrInfeasible => Status::Infeasible,
        M::ReachedTimeLimit
        | M::ReachedSolutionLimit
        | M::ReachedInterrupt
        | M::ReachedIterationLimit
        | M::ReachedMemoryLimit => {
            if feasible {
                Status::TimeLimit
            } else {
                Status::NoSolution
            }
        }
        other => return Err(Error::Solver(format!("model status {other:?}"))),
    };
    let (roster, objective) = if feasible && status != Status::Infeasible {
        let columns = solved.get_solution();
        let roster = read_roster(&roles, patterns, columns.columns());
        (Some(roster), Some(solved.objective_value() + constant))
    } else {
        (None, None)
    };
    let extra = Extra::read(&roles, &solved.get_solution(), n_rows);
    let bound = solved
        .double_info_value(c"mip_dual_bound")
        .ok()
        .filter(|b| b.is_finite())
        .map(|b| b + constant);
    let gap = relative_gap(objective, bound);
    Ok((
        Solution {
            status,
            roster,
            objective,
            bound,
            gap,
            seconds: started.elapsed().as_secs_f64(),
            build_seconds,
            variables: n_cols,
            constraints: n_rows,
            formulation,
            pricing: None,
        },
        extra,
    ))
}

/// The rows and objective as a HiGHS model.
fn into_highs(
    vars: ProblemVariables,
    objective: Expression,
    rows: Vec<good_lp::Constraint>,
) -> Result<highs::Model> {
    let mut model = vars.minimise(objective).using(highs);
    for row in rows {
        model.add_constraint(row);
    }
    model
        .try_into_inner()
        .map_err(|e| Error::Solver(e.to_string()))
}

/// Sets HiGHS's options from `options`, with `seconds` as its time limit.
fn configure(model: &mut highs::Model, options: &SolveOptions, seconds: f64) -> Result<()> {
    set_option(model, "time_limit", seconds.max(0.001))?;
    set_option(model, "mip_rel_gap", options.relative_gap.max(0.0))?;
    set_option(model, "threads", options.threads.max(1) as i32)?;
    set_option(model, "random_seed", 0)?;
    if let Some(log) = &options.log_file {
        set_option(model, "log_file", log.display().to_string().as_str())?;
        set_option(model, "output_flag", true)?;
        set_option(model, "log_to_console", false)?;
    }
    for (key, value) in &options.highs_options {
        set_text_option(model, key, value)?;
    }
    Ok(())
}

impl Extra {
    /// Reads the duals and column values column generation needs from HiGHS's answer to a
    /// model of `n_rows` rows whose columns stand for `roles`.
    fn read(roles: &[Role], answer: &highs::Solution, n_rows: usize) -> Extra {
        let duals = if answer.dual_rows().len() == n_rows {
            answer.dual_rows().to_vec()
        } else {
            Vec::new()
        };
        let mut extra = Extra {
            duals,
            artificial: 0.0,
            values: Vec::new(),
            agency: Vec::new(),
        };
        for (r, &v) in roles.iter().zip(answer.columns()) {
            match *r {
                Role::Pattern(e, p) if v > 1e-9 => extra.values.push((e, p, v)),
                Role::Agency(d, s, u) => extra.agency.push(((d, s, u), v)),
                Role::Artificial(_) => extra.artificial += v,
                _ => {}
            }
        }
        extra
    }
}

/// A column's coefficients, by row.
type Factors = Vec<(highs::Row, f64)>;

/// Column generation's master: the pattern model's linear relaxation kept in HiGHS between
/// rounds. New schedules join as columns and each solve hot-starts the simplex from the last
/// basis, instead of building and solving a new model every round.
///
/// Its rows are those of [`Model::add_patterns`] and [`Model::add_covers`] — convexity, the
/// fairness maxima, each cover's minimum and preferred maximum — except that a hard cover's
/// minimum has an artificial slack at [`ARTIFICIAL`] per nurse, so the first masters are
/// feasible before any schedule staffs it.
pub(crate) struct Master {
    /// `None` only after HiGHS failed mid-solve.
    inner: Option<highs::Model>,
    roles: Vec<Role>,
    n_rows: usize,
    constant: f64,
    /// What the rows stand for ([`Model::tags`]).
    pub(crate) tags: Vec<(usize, RowTag)>,
    /// Per nurse: the convexity row, the fairness rows.
    convexity: Vec<highs::Row>,
    nights: Vec<Option<highs::Row>>,
    weekends: Vec<Option<highs::Row>>,
    /// The rows of each cover (its minimum, its preferred maximum).
    cover_rows: Vec<Vec<highs::Row>>,
    /// Schedules in the master, per nurse.
    count: Vec<usize>,
    /// Seconds HiGHS has run on this model: its time limit counts every run of the model.
    ran: f64,
}

impl Master {
    /// The relaxed pattern model without schedules yet ([`Master::add`] adds them), with
    /// agency bookings within `agency_limits`; `covers_at` lists the covers counting each
    /// slot.
    ///
    /// # Errors
    /// [`Error::Solver`] when HiGHS rejects the model or an option.
    pub(crate) fn new(
        problem: &Problem,
        covers_at: &[Vec<usize>],
        agency_limits: &AgencyLimits,
        options: &SolveOptions,
    ) -> Result<Master> {
        let n = problem.employees.len();
        let mut rows = highs::ColProblem::default();
        let mut tags = Vec::new();
        let mut row = |tag: RowTag, lower: f64, upper: f64| {
            tags.push((rows.num_rows(), tag));
            rows.add_row(lower..=upper)
        };
        let weights = &problem.weights;
        let mut convexity = Vec::with_capacity(n);
        let (mut nights, mut weekends) = (vec![None; n], vec![None; n]);
        for e in 0..n {
            convexity.push(row(RowTag::Convexity(e), 1.0, 1.0));
            if weights.fairness_nights > 0.0 {
                nights[e] = Some(row(RowTag::FairNights(e), f64::NEG_INFINITY, 0.0));
            }
            if weights.fairness_weekends > 0.0 {
                weekends[e] = Some(row(RowTag::FairWeekends(e), f64::NEG_INFINITY, 0.0));
            }
        }
        // Cover rows and their own columns: a hard minimum's artificial slack, a soft
        // minimum's shortfall, the excess over the preferred maximum.
        let mut cover_rows = vec![Vec::new(); problem.covers.len()];
        let mut own: Vec<(Role, f64, f64, highs::Row, f64)> = Vec::new();
        for (c, cover) in problem.covers.iter().enumerate() {
            let min = f64::from(cover.min);
            if cover.hard || (cover.min > 0 && cover.under_weight > 0.0) {
                let r = row(RowTag::Cover(c), min, f64::INFINITY);
                cover_rows[c].push(r);
                own.push(if cover.hard {
                    (Role::Artificial(c), ARTIFICIAL, f64::INFINITY, r, 1.0)
                } else {
                    (Role::Under(c), cover.under_weight, min, r, 1.0)
                });
            }
            if cover.over_weight > 0.0 {
                let max = f64::from(cover.preferred_max);
                let r = row(RowTag::Cover(c), f64::NEG_INFINITY, max);
                cover_rows[c].push(r);
                own.push((Role::Over(c), cover.over_weight, f64::INFINITY, r, -1.0));
            }
        }
        let n_rows = rows.num_rows();
        let inner = rows
            .try_optimise(highs::Sense::Minimise)
            .map_err(|e| Error::Solver(format!("master: {e:?}")))?;
        let mut master = Master {
            inner: Some(inner),
            roles: Vec::new(),
            n_rows,
            constant: gone_penalty(problem, n),
            tags,
            convexity,
            nights,
            weekends,
            cover_rows,
            count: vec![0; n],
            ran: 0.0,
        };
        for (role, cost, upper, r, v) in own {
            master.column(role, cost, upper, vec![(r, v)])?;
        }
        // The fairness maxima z: nights (weekends) of each nurse − z ≤ 0.
        let fairness = [
            (
                Role::FairNights,
                weights.fairness_nights,
                master.nights.clone(),
            ),
            (
                Role::FairWeekends,
                weights.fairness_weekends,
                master.weekends.clone(),
            ),
        ];
        for (role, w, rows) in fairness {
            if w > 0.0 {
                let factors = rows.iter().flatten().map(|&r| (r, -1.0)).collect();
                master.column(role, w, f64::INFINITY, factors)?;
            }
        }
        // Agency bookings: one column per (day, shift, unit) named by a hard cover, counted
        // by every cover of that slot that agency nurses can staff.
        if let Some(ag) = problem.agency.as_ref().filter(|ag| ag.max_per_shift > 0) {
            let mut booked = vec![false; problem.slot_count()];
            let hourly = |s: usize| ag.hourly * f64::from(problem.shifts[s].minutes) / 60.0;
            for cover in problem
                .covers
                .iter()
                .filter(|c| c.hard && ag.skills.has_any(c.skills))
            {
                for &(d, s) in &cover.slots {
                    let slot = problem.slot(d, s, cover.unit);
                    if std::mem::replace(&mut booked[slot], true) {
                        continue;
                    }
                    let (lo, hi) = agency_limits
                        .get(&(d, s, cover.unit))
                        .copied()
                        .unwrap_or((0, ag.max_per_shift));
                    let factors: Factors = covers_at[slot]
                        .iter()
                        .filter(|&&c| ag.skills.has_any(problem.covers[c].skills))
                        .flat_map(|&c| master.cover_rows[c].iter().map(|&r| (r, 1.0)))
                        .collect();
                    master.column_within(
                        Role::Agency(d, s, cover.unit),
                        hourly(s),
                        f64::from(lo),
                        f64::from(hi),
                        factors,
                    )?;
                }
            }
        }
        let options = SolveOptions {
            log_file: None,
            ..options.clone()
        };
        if let Some(inner) = master.inner.as_mut() {
            configure(inner, &options, options.time_limit)?;
        }
        Ok(master)
    }

    /// Adds a column `0 ≤ x ≤ upper` of objective coefficient `cost`.
    fn column(&mut self, role: Role, cost: f64, upper: f64, factors: Factors) -> Result<()> {
        self.column_within(role, cost, 0.0, upper, factors)
    }

    /// Adds a column `lower ≤ x ≤ upper` of objective coefficient `cost`.
    fn column_within(
        &mut self,
        role: Role,
        cost: f64,
        lower: f64,
        upper: f64,
        factors: Factors,
    ) -> Result<()> {
        let inner = self
            .inner
            .as_mut()
            .ok_or_else(|| Error::Solver("the master was lost in a failed solve".into()))?;
        inner
            .try_add_column(cost, lower..=upper, factors)
            .map_err(|err| Error::Solver(format!("master column {role:?}: {err:?}")))?;
        self.roles.push(role);
        Ok(())
    }

    /// Adds `pattern` as nurse `e`'s next schedule (numbered from 0 per nurse, in the order added),
    /// with its coefficients in the convexity, cover and fairness rows; `covers_at` lists the
    /// covers counting each slot.
    ///
    /// # Errors
    /// [`Error::Solver`] when HiGHS rejects the column.
    pub(crate) fn add(
        &mut self,
        problem: &Problem,
        covers_at: &[Vec<usize>],
        e: usize,
        pattern: &Pattern,
    ) -> Result<()> {
        let mut factors: Factors = vec![(self.convexity[e], 1.0)];
        let skills = problem.employees[e].skills;
        for (d, work) in pattern.iter().enumerate() {
            if let Some((s, u)) = *work {
                for &c in &covers_at[problem.slot(d, s, u)] {
                    if skills.has_any(problem.covers[c].skills) {
                        for &r in &self.cover_rows[c] {
                            match factors.iter_mut().find(|(x, _)| *x == r) {
                                Some((_, v)) => *v += 1.0,
                                None => factors.push((r, 1.0)),
                            }
                        }
                    }
                }
            }
        }
        let counts = [
            (self.nights[e], nights_worked(problem, pattern)),
            (self.weekends[e], weekends_worked(problem, pattern)),
        ];
        for (r, k) in counts {
            if let Some(r) = r
                && k > 0
            {
                factors.push((r, k as f64));
            }
        }
        let p = self.count[e];
        // No upper bound: the convexity row implies it, and a column resting at a bound
        // could keep a negative reduced cost.
        self.column(
            Role::Pattern(e, p),
            pattern_cost(problem, e, pattern),
            f64::INFINITY,
            factors,
        )?;
        self.count[e] += 1;
        Ok(())
    }

    /// Solves the relaxation within `seconds`, from the last basis: its value and what
    /// [`Extra`] reads, or `None` when HiGHS stops short of an optimal basis.
    ///
    /// # Errors
    /// [`Error::Solver`] when HiGHS reports an error.
    pub(crate) fn solve(&mut self, seconds: f64) -> Result<Option<(f64, Extra)>> {
        let mut inner = self
            .inner
            .take()
            .ok_or_else(|| Error::Solver("the master was lost in a failed solve".into()))?;
        set_option(&mut inner, "time_limit", self.ran + seconds.max(0.001))?;
        let started = Instant::now();
        let solved = inner
            .try_solve()
            .map_err(|e| Error::Solver(format!("{e:?}")))?;
        self.ran += started.elapsed().as_secs_f64();
        let answer = (solved.status() == highs::HighsModelStatus::Optimal).then(|| {
            (
                solved.objective_value() + self.constant,
                Extra::read(&self.roles, &solved.get_solution(), self.n_rows),
            )
        });
        self.inner = Some(solved.into());
        Ok(answer.filter(|(_, extra)| !extra.duals.is_empty()))
    }
}

/// What [`run`] reads beyond the [`Solution`], for column generation.
pub(crate) struct Extra {
    /// HiGHS's row duals in the order the rows were added (empty when it has none).
    pub(crate) duals: Vec<f64>,
    /// Nurses missing on hard covers in all: the artificial columns' sum.
    pub(crate) artificial: f64,
    /// Pattern columns `(nurse, schedule index, value)` with a positive value.
    pub(crate) values: Vec<(usize, usize, f64)>,
    /// Agency columns `((day, shift, unit), value)`.
    pub(crate) agency: Vec<((usize, usize, usize), f64)>,
}

impl Model {
    pub(crate) fn new(problem: &Problem) -> Model {
        Model {
            cols: Columns {
                vars: ProblemVariables::new(),
                roles: Vec::new(),
            },
            objective: Expression::with_capacity(problem.employees.len() * problem.days * 2),
            constant: 0.0,
            rows: Vec::new(),
            tags: Vec::new(),
            agency_limits: AgencyLimits::new(),
        }
    }

    /// Adds an untagged row (branching decisions in a pricing MIP).
    pub(crate) fn add_row(&mut self, row: good_lp::Constraint) {
        self.rows.push(row);
    }

    fn push_tagged(&mut self, tag: RowTag, row: good_lp::Constraint) {
        self.tags.push((self.rows.len(), tag));
        self.rows.push(row);
    }

    /// Fairness maxima: the most nights and the most weekends of any nurse, when weighted.
    fn fairness(&mut self, problem: &Problem) -> (Option<Variable>, Option<Variable>) {
        let mut column = |weight: f64, role: Role| {
            (weight > 0.0).then(|| {
                let z = self.cols.add(variable().min(0.0), role);
                self.objective.add_mul(weight, z);
                z
            })
        };
        (
            column(problem.weights.fairness_nights, Role::FairNights),
            column(problem.weights.fairness_weekends, Role::FairWeekends),
        )
    }

    /// The compact formulation: one binary per nurse, day, shift and unit, and one unit of
    /// flow per nurse through the run automaton.
    pub(crate) fn add_compact(&mut self, problem: &Problem) -> BySlot {
        let (days, n_shifts, n_units) = (problem.days, problem.shifts.len(), problem.units.len());
        // x[e][d] = [(shift, unit, var)]
        let mut x: Vec<Vec<Vec<(usize, usize, Variable)>>> =
            Vec::with_capacity(problem.employees.len());
        for (ei, e) in problem.employees.iter().enumerate() {
            let mut per_day = Vec::with_capacity(days);
            for d in 0..days {
                let mut here = Vec::new();
                for &u in &e.units {
                    if !problem.eligible(ei, d, u) {
                        continue;
                    }
                    for s in 0..n_shifts {
                        if e.contract.max_shifts[s] == 0 {
                            continue;
                        }
                        let a = Assignment {
                            employee: ei,
                            day: d,
                            shift: s,
                            unit: u,
                        };
                        let v = self.cols.add(variable().binary(), Role::Work(a));
                        let pay = e.pay.hourly * f64::from(problem.shifts[s].minutes) / 60.0;
                        if pay != 0.0 {
                            self.objective.add_mul(pay, v);
                        }
                        here.push((s, u, v));
                    }
                }
                per_day.push(here);
            }
            x.push(per_day);
        }
        let shift_expr = |e: usize, d: usize, s: usize| -> Expression {
            let mut ex = Expression::with_capacity(n_units);
            for &(s2, _, v) in &x[e][d] {
                if s2 == s {
                    ex.add_mul(1.0, v);
                }
            }
            ex
        };
        let day_expr = |e: usize, d: usize| -> Expression {
            let mut ex = Expression::with_capacity(x[e][d].len());
            for &(_, _, v) in &x[e][d] {
                ex.add_mul(1.0, v);
            }
            ex
        };

        let weekend_count = problem.weekend_count();
        let (fair_nights, fair_weekends) = self.fairness(problem);

        for (ei, e) in problem.employees.iter().enumerate() {
            let c = &e.contract;
            let w: Vec<Expression> = (0..days).map(|d| day_expr(ei, d)).collect();
            for d in 0..days {
                if x[ei][d].len() > 1 {
                    self.rows.push(constraint!(w[d].clone() <= 1));
                }
            }
            // Rotation, aggregated per successor shift t.
            for d in 0..days.saturating_sub(1) {
                for t in 0..n_shifts {
                    if !x[ei][d + 1].iter().any(|&(s2, _, _)| s2 == t) {
                        continue;
                    }
                    let mut ex = shift_expr(ei, d + 1, t);
                    let mut any = false;
                    for s in 0..n_shifts {
                        if problem.shifts[s].forbidden_next.contains(&t) {
                            for &(s2, _, v) in &x[ei][d] {
                                if s2 == s {
                                    ex.add_mul(1.0, v);
                                    any = true;
                                }
                            }
                        }
                    }
                    if any {
                        self.rows.push(constraint!(ex <= 1));
                    }
                }
            }
            // Shifts per type and total minutes.
            let mut minutes = Expression::with_capacity(days * n_shifts);
            for s in 0..n_shifts {
                let mut count = Expression::with_capacity(days);
                for here in &x[ei] {
                    for &(s2, _, v) in here {
                        if s2 == s {
                            count.add_mul(1.0, v);
                            minutes.add_mul(f64::from(problem.shifts[s].minutes), v);
                        }
                    }
                }
                if (c.max_shifts[s] as usize) < days {
                    self.rows
                        .push(constraint!(count <= f64::from(c.max_shifts[s])));
                }
            }
            if c.max_minutes != u32::MAX {
                self.rows
                    .push(constraint!(minutes.clone() <= f64::from(c.max_minutes)));
            }
            if c.min_minutes > 0 {
                self.rows
                    .push(constraint!(minutes >= f64::from(c.min_minutes)));
            }
            // Consecutive-days rules as one unit of flow through the run automaton (see
            // [`crate::runs`]): the flow into working states on day d is the shifts worked on d.
            // When the contract limits weekends to a few, the graph's nodes also count the
            // weekends worked so far, so paths that work too many weekends do not exist.
            let automaton = RunAutomaton::new(c, days);
            let cap = weekend_cap(c, weekend_count);
            let counts = |d: usize, prev_working: bool, working: bool| -> u32 {
                u32::from(cap.is_some() && working && starts_weekend(problem, d, prev_working))
            };
            // Nodes of day d: (state, weekends worked) → flow through it.
            let mut layer: BTreeMap<(usize, u32), Expression> = BTreeMap::new();
            let mut starts = Expression::with_capacity(2);
            for &s in &automaton.initial {
                let on = automaton.states[s].working();
                let u = counts(0, false, on);
                if (on && x[ei][0].is_empty()) || cap.is_some_and(|cap| u > cap) {
                    continue;
                }
                let v = self
                    .cols
                    .add(variable().min(0.0).max(1.0), Role::RunStart(ei, s, u));
                layer.entry((s, u)).or_default().add_mul(1.0, v);
                starts.add_mul(1.0, v);
            }
            self.rows.push(constraint!(starts == 1));
            for d in 0..days {
                let mut working = Expression::with_capacity(layer.len());
                let mut next_layer: BTreeMap<(usize, u32), Expression> = BTreeMap::new();
                for (&(s, u), occupancy) in &layer {
                    let on = automaton.states[s].working();
                    if on {
                        working += occupancy.clone();
                    }
                    if d + 1 == days {
                        continue;
                    }
                    let mut out = Expression::with_capacity(2);
                    for &t in &automaton.next[s] {
                        let t_on = automaton.states[t].working();
                        let u2 = u + counts(d + 1, on, t_on);
                        if (t_on && x[ei][d + 1].is_empty()) || cap.is_some_and(|cap| u2 > cap) {
                            continue;
                        }
                        let v = self.cols.add(
                            variable().min(0.0).max(1.0),
                            Role::Run(ei, d, (s, u), (t, u2)),
                        );
                        out.add_mul(1.0, v);
                        next_layer.entry((t, u2)).or_default().add_mul(1.0, v);
                    }
                    self.rows.push(constraint!(occupancy.clone() == out));
                }
                self.rows.push(constraint!(working == w[d].clone()));
                layer = next_layer;
            }
            // Weekends.
            let limit_weekends = (c.max_weekends as usize) < weekend_count;
            if limit_weekends || fair_weekends.is_some() {
                let mut total = Expression::with_capacity(weekend_count);
                for k in 0..weekend_count {
                    let y = self.cols.add(variable().binary(), Role::Weekend(ei, k));
                    for d in (0..days).filter(|&d| problem.weekend_of(d) == Some(k)) {
                        self.rows.push(constraint!(w[d].clone() <= y));
                    }
                    total.add_mul(1.0, y);
                }
                if limit_weekends {
                    self.rows
                        .push(constraint!(total.clone() <= f64::from(c.max_weekends)));
                }
                if let Some(z) = fair_weekends {
                    self.rows.push(constraint!(total <= z));
                }
            }
            if let Some(z) = fair_nights {
                let mut nights = Expression::with_capacity(days);
                for here in &x[ei] {
                    for &(s, _, v) in here {
                        if problem.shifts[s].night {
                            nights.add_mul(1.0, v);
                        }
                    }
                }
                self.rows.push(constraint!(nights <= z));
            }
            // Requests.
            for r in &e.on_requests {
                self.constant += r.weight;
                for &(s, _, v) in &x[ei][r.day] {
                    if s == r.shift {
                        self.objective.add_mul(-r.weight, v);
                    }
                }
            }
            for r in &e.off_requests {
                for &(s, _, v) in &x[ei][r.day] {
                    if s == r.shift {
                        self.objective.add_mul(r.weight, v);
                    }
                }
            }
            // Weekly overtime.
            if e.pay.hourly > 0.0 && e.pay.regular_week_minutes != u32::MAX {
                let premium = e.pay.hourly * (e.pay.overtime_multiplier - 1.0) / 60.0;
                for (wi, week) in (0..days).collect::<Vec<_>>().chunks(7).enumerate() {
                    let ot = self.cols.add(variable().min(0.0), Role::Overtime(ei, wi));
                    self.objective.add_mul(premium, ot);
                    let mut worked = Expression::with_capacity(7 * n_shifts);
                    for &d in week {
                        for &(s, _, v) in &x[ei][d] {
                            worked.add_mul(f64::from(problem.shifts[s].minutes), v);
                        }
                    }
                    self.rows.push(constraint!(
                        worked - ot <= f64::from(e.pay.regular_week_minutes)
                    ));
                }
            }
        }

        // Changes to the published roster.
        if let Some(published) = &problem.published
            && problem.weights.change > 0.0
        {
            let before: HashSet<Assignment> = published.assignments.iter().copied().collect();
            for (employee, per_day) in x.iter().enumerate() {
                for (day, here) in per_day.iter().enumerate() {
                    for &(shift, unit, v) in here {
                        let a = Assignment {
                            employee,
                            day,
                            shift,
                            unit,
                        };
                        if before.contains(&a) {
                            self.constant += problem.weights.change;
                            self.objective.add_mul(-problem.weights.change, v);
                        } else {
                            self.objective.add_mul(problem.weights.change, v);
                        }
                    }
                }
            }
            // Published assignments the model cannot hold any more are changes too.
            for a in &before {
                let held = a.employee < x.len()
                    && a.day < days
                    && x[a.employee][a.day]
                        .iter()
                        .any(|&(s, u, _)| s == a.shift && u == a.unit);
                if !held {
                    self.constant += problem.weights.change;
                }
            }
        }

        let mut by_slot: BySlot = vec![Vec::new(); problem.slot_count()];
        for (ei, per_day) in x.iter().enumerate() {
            for (d, here) in per_day.iter().enumerate() {
                for &(s, u, v) in here {
                    by_slot[problem.slot(d, s, u)].push((ei, v));
                }
            }
        }
        by_slot
    }

    /// The pattern formulation ([`crate::patterns`]): one binary per nurse and legal
    /// schedule, exactly one per nurse; each schedule's own costs (pay, overtime, requests,
    /// changes to the published roster) are its objective coefficient.
    pub(crate) fn add_patterns(&mut self, problem: &Problem, patterns: &[Vec<Pattern>]) -> BySlot {
        let (fair_nights, fair_weekends) = self.fairness(problem);
        let mut by_slot: BySlot = vec![Vec::new(); problem.slot_count()];
        self.constant += gone_penalty(problem, patterns.len());
        for (e, list) in patterns.iter().enumerate() {
            let mut one = Expression::with_capacity(list.len());
            let mut nights = Expression::with_capacity(list.len());
            let mut weekends = Expression::with_capacity(list.len());
            for (p, pattern) in list.iter().enumerate() {
                let v = self.cols.add(variable().binary(), Role::Pattern(e, p));
                one.add_mul(1.0, v);
                let cost = pattern_cost(problem, e, pattern);
                if cost != 0.0 {
                    self.objective.add_mul(cost, v);
                }
                for (d, work) in pattern.iter().enumerate() {
                    if let Some((s, u)) = *work {
                        by_slot[problem.slot(d, s, u)].push((e, v));
                    }
                }
                nights.add_mul(nights_worked(problem, pattern) as f64, v);
                weekends.add_mul(weekends_worked(problem, pattern) as f64, v);
            }
            self.push_tagged(RowTag::Convexity(e), constraint!(one == 1));
            if let Some(z) = fair_nights {
                self.push_tagged(RowTag::FairNights(e), constraint!(nights <= z));
            }
            if let Some(z) = fair_weekends {
                self.push_tagged(RowTag::FairWeekends(e), constraint!(weekends <= z));
            }
        }
        by_slot
    }

    /// Agency columns and the cover rows (hard, or soft with under and over slacks) over the
    /// work columns of each slot.
    pub(crate) fn add_covers(&mut self, problem: &Problem, by_slot: &BySlot) {
        // Agency bookings: one integer per (day, shift, unit) named by a hard cover.
        let mut agency: Vec<Option<Variable>> = vec![None; problem.slot_count()];
        if let Some(ag) = &problem.agency {
            for cover in problem
                .covers
                .iter()
                .filter(|c| c.hard && ag.skills.has_any(c.skills))
            {
                for &(d, s) in &cover.slots {
                    let slot = &mut agency[problem.slot(d, s, cover.unit)];
                    if slot.is_none() && ag.max_per_shift > 0 {
                        let (lo, hi) = self
                            .agency_limits
                            .get(&(d, s, cover.unit))
                            .copied()
                            .unwrap_or((0, ag.max_per_shift));
                        let def = variable().min(f64::from(lo)).max(f64::from(hi)).integer();
                        let v = self.cols.add(def, Role::Agency(d, s, cover.unit));
                        self.objective
                            .add_mul(ag.hourly * f64::from(problem.shifts[s].minutes) / 60.0, v);
                        *slot = Some(v);
                    }
                }
            }
        }

        for (ci, cover) in problem.covers.iter().enumerate() {
            let mut count = Expression::with_capacity(problem.employees.len());
            for &(d, s) in &cover.slots {
                for &(ei, v) in &by_slot[problem.slot(d, s, cover.unit)] {
                    if problem.employees[ei].skills.has_any(cover.skills) {
                        count.add_mul(1.0, v);
                    }
                }
                if problem
                    .agency
                    .as_ref()
                    .is_some_and(|ag| ag.skills.has_any(cover.skills))
                    && let Some(v) = agency[problem.slot(d, s, cover.unit)]
                {
                    count.add_mul(1.0, v);
                }
            }
            if cover.hard {
                self.push_tagged(
                    RowTag::Cover(ci),
                    constraint!(count.clone() >= f64::from(cover.min)),
                );
            } else if cover.min > 0 && cover.under_weight > 0.0 {
                let under = self.cols.add(
                    variable().min(0.0).max(f64::from(cover.min)),
                    Role::Under(ci),
                );
                self.objective.add_mul(cover.under_weight, under);
                self.push_tagged(
                    RowTag::Cover(ci),
                    constraint!(count.clone() + under >= f64::from(cover.min)),
                );
            }
            if cover.over_weight > 0.0 {
                let over = self.cols.add(variable().min(0.0), Role::Over(ci));
                self.objective.add_mul(cover.over_weight, over);
                self.push_tagged(
                    RowTag::Cover(ci),
                    constraint!(count - over <= f64::from(cover.preferred_max)),
                );
            }
        }
    }
}

/// Published assignments of nurses the problem no longer has (all from `n` on) are changes
/// whatever the roster (as in the compact model and the checker): their penalty.
fn gone_penalty(problem: &Problem, n: usize) -> f64 {
    problem.published.as_ref().map_or(0.0, |published| {
        let gone = published
            .assignments
            .iter()
            .filter(|a| a.employee >= n)
            .count();
        problem.weights.change * gone as f64
    })
}

/// The costs `pattern` carries by itself for nurse `e`: regular pay, the weekly overtime
/// premium, requests not granted and changes to the published roster — the checker's
/// per-nurse terms ([`crate::evaluate`]).
pub(crate) fn pattern_cost(problem: &Problem, e: usize, pattern: &Pattern) -> f64 {
    let nurse = &problem.employees[e];
    let minutes = |d: usize| pattern[d].map_or(0, |(s, _)| problem.shifts[s].minutes);
    let mut cost = nurse.pay.hourly * f64::from((0..problem.days).map(minutes).sum::<u32>()) / 60.0;
    if nurse.pay.hourly > 0.0 && nurse.pay.regular_week_minutes != u32::MAX {
        let premium = nurse.pay.hourly * (nurse.pay.overtime_multiplier - 1.0) / 60.0;
        for week in (0..problem.days).collect::<Vec<_>>().chunks(7) {
            let worked: u32 = week.iter().map(|&d| minutes(d)).sum();
            cost += premium * f64::from(worked.saturating_sub(nurse.pay.regular_week_minutes));
        }
    }
    let works = |d: usize, s: usize| pattern[d].is_some_and(|(t, _)| t == s);
    for r in &nurse.on_requests {
        if !works(r.day, r.shift) {
            cost += r.weight;
        }
    }
    for r in &nurse.off_requests {
        if works(r.day, r.shift) {
            cost += r.weight;
        }
    }
    if let Some(published) = &problem.published
        && problem.weights.change > 0.0
    {
        let before: HashSet<(usize, usize, usize)> = published
            .assignments
            .iter()
            .filter(|a| a.employee == e)
            .map(|a| (a.day, a.shift, a.unit))
            .collect();
        let after: HashSet<(usize, usize, usize)> = pattern
            .iter()
            .enumerate()
            .filter_map(|(d, w)| w.map(|(s, u)| (d, s, u)))
            .collect();
        cost += problem.weights.change * before.symmetric_difference(&after).count() as f64;
    }
    cost
}

/// Night shifts `pattern` works.
pub(crate) fn nights_worked(problem: &Problem, pattern: &Pattern) -> usize {
    pattern
        .iter()
        .flatten()
        .filter(|&&(s, _)| problem.shifts[s].night)
        .count()
}

/// Weekends in which `pattern` works at least one day.
pub(crate) fn weekends_worked(problem: &Problem, pattern: &Pattern) -> usize {
    (0..problem.days)
        .filter(|&d| pattern[d].is_some())
        .filter_map(|d| problem.weekend_of(d))
        .collect::<HashSet<_>>()
        .len()
}

/// `|objective − bound| / |objective|` (0 when they agree to 1e-6), as HiGHS reports it.
pub(crate) fn relative_gap(objective: Option<f64>, bound: Option<f64>) -> Option<f64> {
    let (o, b) = (objective?, bound?);
    Some(if (o - b).abs() < 1e-6 {
        0.0
    } else {
        (o - b).abs() / o.abs().max(1e-9)
    })
}

fn read_roster(roles: &[Role], patterns: Option<&[Vec<Pattern>]>, values: &[f64]) -> Roster {
    let mut roster = Roster::default();
    for (role, &value) in roles.iter().zip(values) {
        match *role {
            Role::Work(a) if value > 0.5 => roster.assignments.push(a),
            Role::Pattern(employee, p) if value > 0.5 => {
                let pattern = patterns.map_or(&[][..], |all| &all[employee][p][..]);
                roster
                    .assignments
                    .extend(pattern.iter().enumerate().filter_map(|(day, work)| {
                        work.map(|(shift, unit)| Assignment {
                            employee,
                            day,
                            shift,
                            unit,
                        })
                    }));
            }
            Role::Agency(day, shift, unit) if value > 0.5 => roster.agency.push(AgencyBooking {
                day,
                shift,
                unit,
                nurses: value.round() as u32,
            }),
            _ => {}
        }
    }
    roster.assignments.sort();
    roster
}

fn set_option<V: highs::HighsOptionValue>(
    model: &mut highs::Model,
    key: &str,
    value: V,
) -> Result<()> {
    model
        .try_set_option(key, value)
        .map_err(|e| Error::Solver(format!("option {key}: {e:?}")))
}

/// Sets a HiGHS option from text: as a bool, an integer, a double, then a string, keeping
/// the first type HiGHS accepts for `key`.
fn set_text_option(model: &mut highs::Model, key: &str, value: &str) -> Result<()> {
    let ok = match value {
        "true" | "false" => model.try_set_option(key, value == "true").is_ok(),
        _ => {
            value
                .parse::<i32>()
                .is_ok_and(|v| model.try_set_option(key, v).is_ok())
                || value
                    .parse::<f64>()
                    .is_ok_and(|v| model.try_set_option(key, v).is_ok())
                || model.try_set_option(key, value).is_ok()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "HiGHS option {key} = {value}: unknown option or a value of the wrong type"
        )))
    }
}

/// Column values for a warm start: the roster's assignments and agency bookings, and every
/// auxiliary column (weekends, slacks, overtime, fairness maxima) at the value the roster
/// implies, so HiGHS receives a complete point.
fn warm_start_columns(
    problem: &Problem,
    roles: &[Role],
    patterns: Option<&[Vec<Pattern>]>,
    start: &Roster,
) -> Vec<f64> {
    let work: HashSet<&Assignment> = start.assignments.iter().collect();
    let schedules = crate::patterns::of_roster(problem, start);
    let days = problem.days;
    let mut worked = vec![vec![None; days]; problem.employees.len()];
    for a in &start.assignments {
        if a.employee < worked.len() && a.day < days && a.shift < problem.shifts.len() {
            worked[a.employee][a.day] = Some(a.shift);
        }
    }
    // Each nurse's path through the run automaton, with the weekends worked so far (`None`
    // when the start breaks a rule: HiGHS then finds it infeasible and ignores it). Nodes
    // that do not count weekends carry a count of 0.
    let weekend_count = problem.weekend_count();
    let paths: Vec<Option<Vec<(usize, u32)>>> = problem
        .employees
        .iter()
        .enumerate()
        .map(|(e, emp)| {
            let on: Vec<bool> = worked[e].iter().map(Option::is_some).collect();
            let counted = weekend_cap(&emp.contract, weekend_count).is_some();
            let states = RunAutomaton::new(&emp.contract, days).path(&on)?;
            let mut u = 0;
            Some(
                states
                    .into_iter()
                    .enumerate()
                    .map(|(d, s)| {
                        if counted && on[d] && starts_weekend(problem, d, d > 0 && on[d - 1]) {
                            u += 1;
                        }
                        (s, u)
                    })
                    .collect(),
            )
        })
        .collect();
    let weekends = |e: usize| -> HashSet<usize> {
        (0..days)
            .filter(|&d| worked[e][d].is_some())
            .filter_map(|d| problem.weekend_of(d))
            .collect()
    };
    roles
        .iter()
        .map(|role| match *role {
            Role::Work(a) => f64::from(u8::from(work.contains(&a))),
            Role::Pattern(e, p) => f64::from(u8::from(
                patterns.is_some_and(|all| all[e][p] == schedules[e]),
            )),
            Role::Agency(d, s, u) => start
                .agency
                .iter()
                .find(|b| (b.day, b.shift, b.unit) == (d, s, u))
                .map_or(0.0, |b| f64::from(b.nurses)),
            Role::RunStart(e, s, u) => f64::from(u8::from(
                paths[e].as_ref().and_then(|p| p.first()) == Some(&(s, u)),
            )),
            Role::Run(e, d, from, to) => {
                f64::from(u8::from(paths[e].as_ref().is_some_and(|p| {
                    p.get(d) == Some(&from) && p.get(d + 1) == Some(&to)
                })))
            }
            Role::Weekend(e, k) => f64::from(u8::from(weekends(e).contains(&k))),
            Role::Under(c) | Role::Artificial(c) => f64::from(
                problem.covers[c]
                    .min
                    .saturating_sub(crate::check::staffed(problem, start, c)),
            ),
            Role::Over(c) => f64::from(
                crate::check::staffed(problem, start, c)
                    .saturating_sub(problem.covers[c].preferred_max),
            ),
            Role::Overtime(e, w) => {
                let minutes: u32 = (w * 7..(w * 7 + 7).min(days))
                    .filter_map(|d| worked[e][d])
                    .map(|s| problem.shifts[s].minutes)
                    .sum();
                f64::from(minutes.saturating_sub(problem.employees[e].pay.regular_week_minutes))
            }
            Role::FairNights => worked
                .iter()
                .map(|w| {
                    w.iter()
                        .flatten()
                        .filter(|&&s| problem.shifts[s].night)
                        .count()
                })
                .max()
                .unwrap_or(0) as f64,
            Role::FairWeekends => (0..worked.len())
                .map(|e| weekends(e).len())
                .max()
                .unwrap_or(0) as f64,
        })
        .collect()
}
