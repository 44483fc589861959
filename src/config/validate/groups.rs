//! The `sync_groups:` section: members that exist and belong to one group, and the
//! group's `track:` applied to each member.

use std::collections::HashMap;

use super::values::at;
use super::{Health, Validator};
use crate::config::error::did_you_mean;
use crate::config::schema::{RawSyncGroup, S};
use crate::config::{RouterSpec, SyncGroupSpec};

impl Validator<'_> {
    pub(super) fn sync_groups(
        &mut self,
        groups: &S<Vec<S<RawSyncGroup>>>,
        router_names: &[&str],
        check_names: &[&str],
        health: &mut Health,
    ) -> Vec<SyncGroupSpec> {
        let mut specs = Vec::new();
        let mut group_names: HashMap<String, u64> = HashMap::new();
        let mut membership: HashMap<String, (String, u64)> = HashMap::new();
        for (index, group) in groups.value.iter().enumerate() {
            let key = format!("sync_groups[{index}]");
            let errors_before = self.sink.errors.len();
            let g = &group.value;
            let name = self.unique_name(&key, "sync group", &g.name, &mut group_names);

            if g.routers.value.is_empty() {
                self.sink.error(
                    at(&g.routers.referenced),
                    &format!("{key}.routers"),
                    "a sync group needs routers",
                    Some(
                        "list the names of the routers that move together: `routers: [web, db]`"
                            .to_owned(),
                    ),
                );
            } else if g.routers.value.len() == 1 {
                self.sink.warning(
                    at(&g.routers.referenced),
                    &format!("{key}.routers"),
                    "a sync group of one router has no effect",
                    Some("a group makes routers change state together; add another router or remove the group".to_owned()),
                );
            }
            let mut members: Vec<String> = Vec::new();
            for (member_index, member) in g.routers.value.iter().enumerate() {
                let member_key = format!("{key}.routers[{member_index}]");
                let member_name = member.value.trim().to_owned();
                let here = at(&member.referenced);
                if !router_names.contains(&member_name.as_str()) {
                    let mut help = Vec::new();
                    if let Some(close) = did_you_mean(&member_name, router_names) {
                        help.push(format!("did you mean `{close}`?"));
                    }
                    help.push(format!("routers defined: {}", router_names.join(", ")));
                    self.sink.error(
                        here,
                        &member_key,
                        format!("no router is named `{member_name}`"),
                        Some(help.join("\n")),
                    );
                } else if members.contains(&member_name) {
                    self.sink.error(
                        here,
                        &member_key,
                        format!("router `{member_name}` is listed twice in this group"),
                        None,
                    );
                } else if let Some((other, line)) = membership.get(&member_name) {
                    self.sink.error(
                        here,
                        &member_key,
                        format!("router `{member_name}` is already in sync group `{other}` (line {line})"),
                        Some("a router belongs to at most one sync group; merge the groups if they must move together".to_owned()),
                    );
                } else {
                    membership.insert(
                        member_name.clone(),
                        (name.clone(), member.referenced.line()),
                    );
                    members.push(member_name);
                }
            }
            let track = match &g.track {
                Some(track) => self.track(&format!("{key}.track"), track, check_names),
                None => Vec::new(),
            };
            let notify = g
                .notify
                .as_ref()
                .and_then(|n| self.notify(&format!("{key}.notify"), n, health));
            if self.sink.errors.len() == errors_before {
                specs.push(SyncGroupSpec {
                    name,
                    routers: members,
                    track,
                    notify,
                });
            }
        }
        specs
    }

    /// A sync group's checks apply to each member (after the member's own), and a check
    /// that nothing tracks is probably a mistake.
    pub(super) fn apply_group_tracks(
        &mut self,
        routers: &mut [RouterSpec],
        groups: &[SyncGroupSpec],
        health: &Health,
    ) {
        for group in groups {
            for router in routers
                .iter_mut()
                .filter(|r| group.routers.contains(&r.name))
            {
                for check in &group.track {
                    if !router.track.contains(check) {
                        router.track.push(check.clone());
                    }
                }
            }
        }
        for (check, position) in health.checks.iter().zip(&health.check_at) {
            // A group's checks are in its members' `track` by now.
            let tracked = routers.iter().any(|r| r.track.contains(&check.name));
            if !tracked {
                self.sink.warning(
                    *position,
                    "checks",
                    format!(
                        "check `{}` is not tracked by any router or sync group",
                        check.name
                    ),
                    Some(format!(
                        "it runs but changes nothing; add `track: [{}]` to a router or sync group",
                        check.name
                    )),
                );
            }
        }
    }
}
