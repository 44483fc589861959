//! The pure health policy: rise/fall counters, weights to a priority adjustment, Fault
//! gating.
//!
//! Owns what a stream of observations means: when a check counts as failing (after
//! `fall` consecutive failures) or passing again (after `rise` passes), and what the
//! checks a router tracks add up to (`Health`: a weight for its priority and whether it
//! must be in Fault). Must not do I/O, read the clock or log: the daemon feeds it
//! `Observation`s and turns `Health` into `fsm::Event::Health`.

use super::{CheckIndex, Observation};

/// What the policy needs to know of one configured check (the daemon takes it from
/// `config::CheckSpec`; the policy does not depend on the configuration's types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub weight: i32,
    pub rise: u32,
    pub fall: u32,
    pub initially_up: bool,
    /// A file check: its value times the weight, no rise/fall.
    pub valued: bool,
}

/// What the checks a router tracks amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    /// Added to the configured priority (the state machine clamps the sum to 1..=254).
    pub weight: i32,
    /// A weight-0 check fails (or a weight-0 file check reads non-zero): Fault.
    pub fault: bool,
}

/// A check's state changed as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A pass/fail check started failing; the reason of the last failure.
    Failing(String),
    /// A pass/fail check passes again.
    Passing,
    /// A file check's value changed.
    Value { from: i64, to: i64 },
}

#[derive(Debug, Clone)]
struct Check {
    weight: i32,
    rise: u32,
    fall: u32,
    /// A file check: a value times the weight, no rise/fall.
    valued: bool,
    up: bool,
    /// Consecutive results that disagree with `up`.
    streak: u32,
    value: i64,
    /// A result has arrived: before the first one the configured initial state holds,
    /// and the first one sets the state directly (rise and fall count from there).
    known: bool,
    /// Added by a reload to routers already running: ignored until its first result,
    /// so a new check does not put a healthy master in Fault while it starts.
    pending: bool,
}

impl Check {
    /// What this check adds to a router's health.
    fn contribution(&self) -> Health {
        if self.valued {
            return if self.weight == 0 {
                Health {
                    weight: 0,
                    fault: self.value != 0,
                }
            } else {
                Health {
                    weight: self
                        .value
                        .saturating_mul(i64::from(self.weight))
                        .clamp(i32::MIN.into(), i32::MAX.into()) as i32,
                    fault: false,
                }
            };
        }
        match (self.weight, self.up) {
            (0, up) => Health {
                weight: 0,
                fault: !up,
            },
            (w, true) if w > 0 => Health {
                weight: w,
                fault: false,
            },
            (w, false) if w < 0 => Health {
                weight: w,
                fault: false,
            },
            _ => Health::default(),
        }
    }
}

/// One check's state, opaque, as `Policy::save` returns it.
#[derive(Debug, Clone)]
pub struct Saved(Option<Check>);

/// The state of every configured check.
#[derive(Debug, Clone)]
pub struct Policy {
    checks: Vec<Check>,
}

impl Policy {
    /// Every check in its initial state (`initially_up`; a file check reads 0).
    pub fn new(rules: impl IntoIterator<Item = Rule>) -> Policy {
        Policy {
            checks: rules
                .into_iter()
                .map(|rule| Check {
                    weight: rule.weight,
                    rise: rule.rise.max(1),
                    fall: rule.fall.max(1),
                    valued: rule.valued,
                    up: rule.initially_up,
                    streak: 0,
                    value: 0,
                    known: false,
                    pending: false,
                })
                .collect(),
        }
    }

    /// Count one observation; says whether the check's state changed. An observation
    /// of an unknown check, or of the wrong sort (a value for a pass/fail check) is
    /// ignored.
    pub fn observe(&mut self, check: CheckIndex, observation: &Observation) -> Option<Change> {
        let c = self.checks.get_mut(check)?;
        let first = !c.known;
        let was_pending = c.pending;
        if c.valued {
            let to = match observation {
                Observation::Value(v) => *v,
                // Unreadable content counts as 0 (not draining), like a missing file;
                // the daemon logs the reason.
                Observation::Fail(_) => 0,
                Observation::Pass => return None,
            };
            c.known = true;
            c.pending = false;
            let from = std::mem::replace(&mut c.value, to);
            return (from != to || was_pending).then_some(Change::Value { from, to });
        }
        let passed = match observation {
            Observation::Pass => true,
            Observation::Fail(_) => false,
            Observation::Value(_) => return None,
        };
        if first {
            // The first result replaces the assumed initial state, and is always
            // reported: a check failing from the start says why.
            c.known = true;
            c.pending = false;
            c.up = passed;
            c.streak = 0;
            return Some(match observation {
                Observation::Fail(reason) => Change::Failing(reason.clone()),
                _ => Change::Passing,
            });
        }
        if passed == c.up {
            c.streak = 0;
            return None;
        }
        c.streak += 1;
        let needed = if passed { c.rise } else { c.fall };
        if c.streak < needed {
            return None;
        }
        c.streak = 0;
        c.up = passed;
        Some(match observation {
            Observation::Fail(reason) => Change::Failing(reason.clone()),
            _ => Change::Passing,
        })
    }

    /// A check's state, to carry it over a reload that keeps the check unchanged.
    pub fn save(&self, check: CheckIndex) -> Saved {
        Saved(self.checks.get(check).cloned())
    }

    /// Put back a state saved from an identical check.
    pub fn restore(&mut self, check: CheckIndex, saved: Saved) {
        if let (Some(slot), Some(state)) = (self.checks.get_mut(check), saved.0) {
            *slot = state;
        }
    }

    /// Take over only the verdict (passing or not, the file's value) saved from a
    /// check whose definition changed, keeping this one's weight, rise and fall: a
    /// reload that retunes a check must not make it start over as failing.
    pub fn restore_verdict(&mut self, check: CheckIndex, saved: Saved) {
        if let (Some(slot), Some(state)) = (self.checks.get_mut(check), saved.0)
            && slot.valued == state.valued
        {
            slot.up = state.up;
            slot.value = state.value;
            slot.known = state.known;
            slot.pending = state.pending;
            slot.streak = 0;
        }
    }

    /// A check added by a reload: routers already running ignore it until its first
    /// result.
    pub fn mark_pending(&mut self, check: CheckIndex) {
        if let Some(c) = self.checks.get_mut(check) {
            c.pending = true;
        }
    }

    /// Whether a check has given its first result, or does not count yet (`pending`):
    /// either way, its configured initial state no longer decides anything.
    pub fn has_result(&self, check: CheckIndex) -> bool {
        self.checks.get(check).is_none_or(|c| c.known || c.pending)
    }

    /// Whether a pass/fail check currently counts as passing (a file check: reads 0).
    /// Only the tests ask; the daemon goes by `health`.
    #[cfg(test)]
    fn is_up(&self, check: CheckIndex) -> bool {
        self.checks
            .get(check)
            .is_some_and(|c| if c.valued { c.value == 0 } else { c.up })
    }

    /// What a set of tracked checks adds up to. The weights are summed in `i64` and
    /// the total saturated to `i32` once, so the result does not depend on the order of
    /// the checks (a running `i32` saturating sum does: MAX + MAX + MIN would be -1).
    pub fn health(&self, tracked: &[CheckIndex]) -> Health {
        let mut weight = 0i64;
        let mut fault = false;
        for c in tracked
            .iter()
            .filter_map(|&i| self.checks.get(i))
            .filter(|c| !c.pending)
        {
            let part = c.contribution();
            weight = weight.saturating_add(part.weight.into());
            fault |= part.fault;
        }
        Health {
            weight: weight.clamp(i32::MIN.into(), i32::MAX.into()) as i32,
            fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(weight: i32, rise: u32, fall: u32, initially_up: bool) -> Rule {
        Rule {
            weight,
            rise,
            fall,
            initially_up,
            valued: false,
        }
    }

    fn file(weight: i32) -> Rule {
        Rule {
            valued: true,
            ..spec(weight, 1, 1, false)
        }
    }

    fn fail() -> Observation {
        Observation::Fail("down".into())
    }

    /// A policy of one check whose first result was a pass (`up`) or a failure.
    fn known(spec: Rule, up: bool) -> Policy {
        let mut p = Policy::new([spec]);
        let first = if up { Observation::Pass } else { fail() };
        assert!(
            p.observe(0, &first).is_some(),
            "the first result is reported"
        );
        assert_eq!(p.is_up(0), up);
        p
    }

    #[test]
    fn the_first_result_sets_the_state_whatever_rise_and_fall() {
        let mut p = Policy::new([spec(0, 3, 3, false)]);
        assert!(p.health(&[0]).fault, "initially down");
        assert_eq!(p.observe(0, &Observation::Pass), Some(Change::Passing));
        assert!(!p.health(&[0]).fault);
        let mut p = Policy::new([spec(0, 3, 3, true)]);
        assert_eq!(
            p.observe(0, &fail()),
            Some(Change::Failing("down".into())),
            "reported even though it was not counted as passing before: it was assumed"
        );
        assert!(p.health(&[0]).fault);
    }

    #[test]
    fn a_check_has_a_result_once_it_reported() {
        let mut p = Policy::new([spec(0, 1, 1, false), spec(0, 1, 1, true)]);
        assert!(
            !p.has_result(0) && !p.has_result(1),
            "the initial state is no result"
        );
        p.observe(0, &Observation::Fail("down".into()));
        assert!(p.has_result(0), "a failure is a result");
        p.mark_pending(1);
        assert!(
            p.has_result(1),
            "a pending check does not count: nothing to wait for"
        );
        assert!(p.has_result(7), "no such check: nothing to wait for");
    }

    #[test]
    fn a_pending_check_counts_only_once_it_has_a_result() {
        let mut p = Policy::new([spec(0, 1, 1, false), file(-100)]);
        p.mark_pending(0);
        p.mark_pending(1);
        assert_eq!(
            p.health(&[0, 1]),
            Health::default(),
            "ignored while pending"
        );
        assert_eq!(p.observe(0, &Observation::Pass), Some(Change::Passing));
        assert_eq!(
            p.observe(1, &Observation::Value(0)),
            Some(Change::Value { from: 0, to: 0 }),
            "the first value of a pending check is reported even when unchanged"
        );
        assert_eq!(p.observe(1, &Observation::Value(0)), None);
        let mut p = Policy::new([spec(0, 1, 1, false)]);
        p.mark_pending(0);
        p.observe(0, &fail());
        assert!(p.health(&[0]).fault, "counts from its first result on");
    }

    #[test]
    fn fall_counts_consecutive_failures() {
        let mut p = known(spec(0, 1, 3, true), true);
        assert_eq!(p.observe(0, &fail()), None);
        assert_eq!(p.observe(0, &fail()), None);
        assert_eq!(p.observe(0, &fail()), Some(Change::Failing("down".into())));
        assert!(!p.is_up(0));
        assert_eq!(p.observe(0, &fail()), None, "already failing");
    }

    #[test]
    fn a_pass_resets_the_fall_streak() {
        let mut p = known(spec(0, 1, 2, true), true);
        for _ in 0..10 {
            assert_eq!(p.observe(0, &fail()), None);
            assert_eq!(p.observe(0, &Observation::Pass), None);
        }
        assert!(p.is_up(0), "alternating results never reach fall = 2");
    }

    #[test]
    fn rise_counts_consecutive_passes() {
        let mut p = known(spec(0, 2, 1, false), false);
        assert_eq!(p.observe(0, &Observation::Pass), None);
        assert_eq!(p.observe(0, &fail()), None, "resets the rise streak");
        assert_eq!(p.observe(0, &Observation::Pass), None);
        assert_eq!(p.observe(0, &Observation::Pass), Some(Change::Passing));
        assert!(p.is_up(0));
    }

    #[test]
    fn flapping_is_damped_to_what_the_counters_allow() {
        // Results pass twice, fail twice, forever: with rise 3 / fall 3 the state never
        // changes; with rise 2 / fall 2 it changes on every pair.
        let pattern = [true, true, false, false];
        // The first pair of passes changes nothing (the check is known up): 39 changes.
        for (rise_fall, expected) in [(3, 0), (2, 39), (1, 39)] {
            let mut p = known(spec(0, rise_fall, rise_fall, true), true);
            let mut changes = 0;
            for i in 0..80 {
                let o = if pattern[i % 4] {
                    Observation::Pass
                } else {
                    fail()
                };
                changes += usize::from(p.observe(0, &o).is_some());
            }
            assert_eq!(changes, expected, "rise = fall = {rise_fall}");
        }
    }

    #[test]
    fn weight_zero_gates_fault() {
        let mut p = Policy::new([spec(0, 1, 1, true), spec(-20, 1, 1, true)]);
        assert_eq!(p.health(&[0, 1]), Health::default());
        p.observe(0, &fail());
        assert_eq!(
            p.health(&[0, 1]),
            Health {
                weight: 0,
                fault: true
            }
        );
        assert_eq!(p.health(&[1]), Health::default(), "not tracked, no effect");
    }

    #[test]
    fn negative_weights_apply_while_failing_positive_while_passing() {
        let mut p = Policy::new([spec(-20, 1, 1, true), spec(15, 1, 1, true)]);
        assert_eq!(p.health(&[0, 1]).weight, 15);
        p.observe(0, &fail());
        assert_eq!(p.health(&[0, 1]).weight, -5);
        p.observe(1, &fail());
        assert_eq!(p.health(&[0, 1]).weight, -20);
        assert!(!p.health(&[0, 1]).fault);
    }

    #[test]
    fn initial_state_is_the_configured_one() {
        let p = Policy::new([spec(0, 2, 2, false), spec(0, 2, 2, true)]);
        assert!(p.health(&[0]).fault, "initially down: Fault until it rises");
        assert!(!p.health(&[1]).fault);
    }

    #[test]
    fn file_value_times_weight() {
        let mut p = Policy::new([file(-100)]);
        assert_eq!(p.health(&[0]).weight, 0, "missing file reads 0");
        assert_eq!(
            p.observe(0, &Observation::Value(1)),
            Some(Change::Value { from: 0, to: 1 })
        );
        assert_eq!(p.health(&[0]).weight, -100);
        assert_eq!(p.observe(0, &Observation::Value(1)), None, "unchanged");
        p.observe(0, &Observation::Value(-2));
        assert_eq!(p.health(&[0]).weight, 200);
        assert_eq!(
            p.observe(0, &fail()),
            Some(Change::Value { from: -2, to: 0 }),
            "unreadable content counts as 0"
        );
    }

    #[test]
    fn file_with_weight_zero_faults_on_non_zero() {
        let mut p = Policy::new([file(0)]);
        assert!(!p.health(&[0]).fault);
        p.observe(0, &Observation::Value(3));
        assert!(p.health(&[0]).fault);
        assert!(!p.is_up(0));
    }

    #[test]
    fn huge_values_saturate() {
        let mut p = Policy::new([file(-254), file(254)]);
        p.observe(0, &Observation::Value(i64::MAX));
        assert_eq!(p.health(&[0]).weight, i32::MIN);
        p.observe(1, &Observation::Value(i64::MAX));
        assert_eq!(p.health(&[1]).weight, i32::MAX);
        assert_eq!(
            p.health(&[0, 1]).weight,
            -1,
            "sum saturates per part, not overall"
        );
    }

    #[test]
    fn file_values_at_the_boundaries_times_the_extreme_weights() {
        // (value, weight, expected part): the part saturates at the i32 bounds.
        let cases: [(i64, i32, i32); 14] = [
            (0, 254, 0),
            (0, -254, 0),
            (1, 254, 254),
            (1, -254, -254),
            (-1, 254, -254),
            (-1, -254, 254),
            (i32::MAX.into(), 254, i32::MAX),
            (i32::MAX.into(), -254, i32::MIN),
            (i32::MIN.into(), 254, i32::MIN),
            (i32::MIN.into(), -254, i32::MAX),
            (i64::MAX, 254, i32::MAX),
            (i64::MAX, -254, i32::MIN),
            (i64::MIN, 254, i32::MIN),
            (i64::MIN, -254, i32::MAX),
        ];
        for (value, weight, expected) in cases {
            let mut p = Policy::new([file(weight)]);
            p.observe(0, &Observation::Value(value));
            assert_eq!(
                p.health(&[0]),
                Health {
                    weight: expected,
                    fault: false
                },
                "value {value} x weight {weight}"
            );
        }
    }

    #[test]
    fn several_checks_summing_past_i32_saturate_whatever_their_order() {
        let mut p = Policy::new([file(254), file(254), file(-254), spec(100, 1, 1, true)]);
        for (check, value) in [(0, i64::MAX), (1, i64::MAX), (2, 1)] {
            p.observe(check, &Observation::Value(value));
        }
        p.observe(3, &Observation::Pass);
        // MAX + MAX - 254 + 100: saturates at MAX, in any order.
        for order in [[0, 1, 2, 3], [2, 0, 3, 1], [3, 2, 1, 0]] {
            assert_eq!(p.health(&order).weight, i32::MAX, "order {order:?}");
        }
        let mut p = Policy::new([file(-254), file(-254), file(254)]);
        for (check, value) in [(0, i64::MAX), (1, i64::MAX), (2, i64::MAX)] {
            p.observe(check, &Observation::Value(value));
        }
        // MIN + MIN + MAX = MIN - 1: saturates at MIN, in any order (a running
        // saturating i32 sum would give -1 for one order and MIN for another).
        for order in [[0, 1, 2], [0, 2, 1], [2, 0, 1]] {
            assert_eq!(p.health(&order).weight, i32::MIN, "order {order:?}");
        }
    }

    #[test]
    fn saved_state_carries_over() {
        let mut p = known(spec(0, 1, 2, true), true);
        p.observe(0, &fail());
        let saved = p.save(0);
        let mut q = Policy::new([spec(0, 1, 2, true)]);
        q.restore(0, saved);
        assert_eq!(
            q.observe(0, &fail()),
            Some(Change::Failing("down".into())),
            "the streak of one failure carried over"
        );
    }

    #[test]
    fn a_retuned_check_keeps_its_verdict_not_its_counters() {
        let mut p = Policy::new([spec(-10, 1, 1, false)]);
        p.observe(0, &Observation::Pass);
        let mut q = Policy::new([spec(-30, 1, 2, false)]);
        q.restore_verdict(0, p.save(0));
        assert!(q.is_up(0), "passing before the reload, passing after");
        assert_eq!(q.observe(0, &fail()), None, "the new fall = 2 applies");
        assert_eq!(q.observe(0, &fail()), Some(Change::Failing("down".into())));
        assert_eq!(q.health(&[0]).weight, -30, "the new weight applies");
    }

    #[test]
    fn wrong_sort_and_unknown_checks_are_ignored() {
        let mut p = Policy::new([spec(0, 1, 1, true), file(-1)]);
        assert_eq!(p.observe(0, &Observation::Value(5)), None);
        assert_eq!(p.observe(1, &Observation::Pass), None);
        assert_eq!(p.observe(7, &fail()), None);
        assert_eq!(p.health(&[0, 1, 7]), Health::default());
    }
}
