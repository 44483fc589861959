//! Sync groups: virtual routers that move together (keepalived's `vrrp_sync_group`).
//!
//! Owns the propagation rules between members: when one member becomes master the
//! others in Backup follow, when one leaves master for backup the other masters follow,
//! and while any member has a fault of its own every member is in Fault. Like the rest
//! of the core it performs no I/O and reads no clock; it only steps the members'
//! state machines.

use super::fsm::{Action, Event, Router, State};
use super::timers::Instant;

/// A set of routers that share one fate.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    members: Vec<Router>,
    /// What each member was last told about the others' faults.
    told_group_fault: Vec<bool>,
}

impl SyncGroup {
    /// A group of routers, normally all in Initialize. On a reload the members may
    /// already be running; call `propagate_faults` after building such a group.
    pub fn new(mut members: Vec<Router>) -> SyncGroup {
        let in_group = members.len() > 1;
        for member in &mut members {
            member.set_in_sync_group(in_group);
        }
        let told_group_fault = vec![false; members.len()];
        SyncGroup {
            members,
            told_group_fault,
        }
    }

    /// Take the members back (on a reload that changes group membership).
    pub fn into_members(self) -> Vec<Router> {
        self.members
    }

    pub fn members(&self) -> &[Router] {
        &self.members
    }

    /// The state every member is in, if they all share one (the group's state, what its
    /// notify hook hears about); `None` while they differ.
    pub fn common_state(&self) -> Option<State> {
        let (first, rest) = self.members.split_first()?;
        let state = first.state();
        rest.iter().all(|r| r.state() == state).then_some(state)
    }

    /// The earliest deadline of any member.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members.iter().filter_map(Router::next_deadline).min()
    }

    /// Deliver `event` to every member (Startup, Shutdown, Health for a check that
    /// applies to the whole group).
    pub fn step_all(&mut self, event: &Event, now: Instant) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for index in 0..self.members.len() {
            out.extend(self.step(index, event.clone(), now));
        }
        out
    }

    /// Fire the timers of every member whose deadline has been reached.
    pub fn on_timer(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for index in 0..self.members.len() {
            if self.members[index]
                .next_deadline()
                .is_some_and(|d| d <= now)
            {
                out.extend(self.step(index, Event::Timer, now));
            }
        }
        out
    }

    /// Deliver `event` to one member and propagate what it did to the others. Actions
    /// are tagged with the index of the member that must carry them out.
    pub fn step(&mut self, member: usize, event: Event, now: Instant) -> Vec<(usize, Action)> {
        let Some(router) = self.members.get_mut(member) else {
            return Vec::new();
        };
        let actions = router.step(event, now);
        let mut followers = Vec::new();
        for action in &actions {
            if let Action::Transition { from, to, .. } = action {
                followers.push(match (from, to) {
                    (_, State::Master) => Some(Event::GroupMaster),
                    (State::Master, State::Backup) => Some(Event::GroupBackup),
                    _ => None,
                });
            }
        }
        let mut out: Vec<(usize, Action)> = actions.into_iter().map(|a| (member, a)).collect();
        out.extend(self.propagate_faults(now));
        for follow in followers.into_iter().flatten() {
            for other in (0..self.members.len()).filter(|&i| i != member) {
                let actions = self.members[other].step(follow.clone(), now);
                out.extend(actions.into_iter().map(|a| (other, a)));
            }
        }
        out.extend(self.promote_if_all_want(now));
        out
    }

    /// When every member is master, wants to be (its master-down expired), or will be
    /// shortly (its master sent priority 0), the group becomes master together. Until
    /// then a member that wants to waits in Backup: the group prefers Backup to
    /// thrashing (keepalived's rule), except that a leaving master is not waited for.
    fn promote_if_all_want(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let any_wants = self.members.iter().any(Router::wants_master);
        let all_agree = self
            .members
            .iter()
            .all(|r| r.wants_master() || r.master_is_leaving() || r.state() == State::Master);
        let mut out = Vec::new();
        if any_wants && all_agree {
            for index in 0..self.members.len() {
                let actions = self.members[index].step(Event::GroupMaster, now);
                out.extend(actions.into_iter().map(|a| (index, a)));
            }
        }
        out
    }

    /// Tell each member whether another member has a fault of its own.
    pub fn propagate_faults(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let own: Vec<bool> = self.members.iter().map(Router::has_own_fault).collect();
        let mut out = Vec::new();
        for index in 0..self.members.len() {
            let others_fault = own
                .iter()
                .enumerate()
                .any(|(other, &fault)| other != index && fault);
            if others_fault != self.told_group_fault[index] {
                self.told_group_fault[index] = others_fault;
                let actions = self.members[index].step(Event::GroupFault(others_fault), now);
                out.extend(actions.into_iter().map(|a| (index, a)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::proto::fsm::{Reason, RouterConfig};
    use crate::proto::packet::Version;
    use crate::proto::timers::Centisecs;

    fn member(vrid: u8) -> Router {
        Router::new(RouterConfig {
            vrid,
            version: Version::V3,
            priority: 100,
            advert_interval: Centisecs(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: true,
            primary_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + vrid))],
            prefix_lens: vec![24],
            announce_burst: 1,
            announce_burst_interval: Duration::ZERO,
            announce_repeat_after: None,
            announce_refresh_every: None,
            checksum_form: None,
            unicast_peers: None,
            hosts: None,
        })
    }

    fn started() -> (SyncGroup, Instant) {
        let mut group = SyncGroup::new(vec![member(1), member(2)]);
        let t0 = Instant::ZERO;
        group.step_all(&Event::Startup, t0);
        (group, t0)
    }

    fn states(group: &SyncGroup) -> Vec<State> {
        group.members().iter().map(Router::state).collect()
    }

    #[test]
    fn members_become_master_only_when_all_want_to() {
        let (mut group, _) = started();
        // Member 1 hears a master for its VRID; member 0's master-down runs out first.
        let t = Instant::from_epoch(Duration::from_millis(500));
        let advert = crate::proto::packet::Advertisement {
            version: Version::V3,
            vrid: 2,
            priority: 200,
            interval: Centisecs(100),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 102))],
            auth: crate::proto::packet::Auth::None,
        };
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        group.step(
            1,
            Event::Advert {
                src,
                advert,
                form: crate::proto::packet::ChecksumForm::WithPseudoHeader,
            },
            t,
        );
        let first = group.next_deadline().unwrap();
        let actions = group.on_timer(first);
        assert_eq!(actions, vec![], "member 0 only wants to be master");
        assert!(group.members()[0].wants_master());
        assert_eq!(states(&group), vec![State::Backup, State::Backup]);
        // The master of member 1's VRID goes silent: now both want, and both move.
        let second = group.next_deadline().unwrap();
        assert!(second > first);
        let actions = group.on_timer(second);
        assert_eq!(states(&group), vec![State::Master, State::Master]);
        assert!(actions.contains(&(
            0,
            Action::Transition {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDown {
                    interval: Duration::from_micros(3_609_375)
                }
            }
        )));
        assert!(actions.contains(&(1, Action::AddAddresses)));
    }

    #[test]
    fn the_common_state_is_there_only_when_all_members_share_it() {
        assert_eq!(SyncGroup::new(vec![]).common_state(), None);
        let (group, _) = started();
        assert_eq!(group.common_state(), Some(State::Backup));
        // A reload can put a running member with a new one.
        let mut running = member(1);
        running.step(Event::Startup, Instant::ZERO);
        let mixed = SyncGroup::new(vec![running, member(2)]);
        assert_eq!(states(&mixed), vec![State::Backup, State::Initialize]);
        assert_eq!(mixed.common_state(), None);
    }

    #[test]
    fn a_lone_router_is_not_held_back() {
        let mut group = SyncGroup::new(vec![member(1)]);
        group.step_all(&Event::Startup, Instant::ZERO);
        let deadline = group.next_deadline().unwrap();
        group.on_timer(deadline);
        assert_eq!(states(&group), vec![State::Master]);
    }

    #[test]
    fn members_leave_master_together() {
        let (mut group, _) = started();
        let deadline = group.next_deadline().unwrap();
        group.on_timer(deadline);
        assert_eq!(states(&group), vec![State::Master, State::Master]);
        // A better master heard by member 0 moves member 1 too.
        let advert = crate::proto::packet::Advertisement {
            version: Version::V3,
            vrid: 1,
            priority: 200,
            interval: Centisecs(100),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101))],
            auth: crate::proto::packet::Auth::None,
        };
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        let actions = group.step(
            0,
            Event::Advert {
                src,
                advert,
                form: crate::proto::packet::ChecksumForm::WithPseudoHeader,
            },
            deadline,
        );
        assert_eq!(states(&group), vec![State::Backup, State::Backup]);
        assert!(actions.contains(&(1, Action::RemoveAddresses)));
    }

    #[test]
    fn one_fault_faults_the_group_and_recovery_needs_it_cleared() {
        let (mut group, t0) = started();
        let deadline = group.next_deadline().unwrap();
        group.on_timer(deadline);
        let actions = group.step(0, Event::InterfaceDown, deadline);
        assert_eq!(states(&group), vec![State::Fault, State::Fault]);
        assert!(actions.contains(&(1, Action::SendAdvert { priority: 0 })));
        assert!(actions.contains(&(1, Action::RemoveAddresses)));
        // Member 1 reports its own interface up: still Fault, member 0 is down.
        group.step(1, Event::InterfaceUp, deadline);
        assert_eq!(states(&group), vec![State::Fault, State::Fault]);
        group.step(0, Event::InterfaceUp, deadline);
        assert_eq!(states(&group), vec![State::Backup, State::Backup]);
        assert!(group.next_deadline().unwrap() > t0);
    }
}
