//! The view itself: every instance of the account as last seen, each change numbered with the
//! next revision, and the recent changes kept so a watch can resume.
//!
//! Two kinds of news arrive: a full list (every instance, paged over some time) and
//! observations of a few instances (a launch's answer, the targeted refresh). A full list
//! started before an observation must not undo it: each instance remembers when it was last
//! observed, and a list only changes (or removes) instances not observed since it started.
//! Only a full list removes instances: right after a launch, EC2 may not list the new
//! instance yet (eventual consistency), so an observation missing one proves nothing.

use crate::pb;
use prost::Message;
use prost::bytes::Bytes;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::time::Instant;

/// What filters, tag scopes and waits read of an instance, kept decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The instance id.
    pub instance_id: String,
    /// Its reservation's id.
    pub reservation_id: String,
    /// Its state (code and name).
    pub state: pb::InstanceState,
    /// For example `t3.micro`.
    pub instance_type: String,
    /// The availability zone.
    pub availability_zone: String,
    /// The VPC.
    pub vpc_id: String,
    /// The subnet.
    pub subnet_id: String,
    /// The AMI.
    pub image_id: String,
    /// The primary private IPv4 address.
    pub private_ip_address: String,
    /// The key pair's name.
    pub key_name: String,
    /// The architecture.
    pub architecture: String,
    /// Its tags.
    pub tags: Vec<pb::Tag>,
}

/// An instance as the view keeps it: its reservation with it as the only instance,
/// protobuf-encoded (a decoded `Instance` takes several times the memory, and a read from the
/// view sends these bytes as they are), and the facts selections read.
#[derive(Debug, Clone)]
pub struct Entry {
    facts: Facts,
    encoded: Bytes,
}

impl PartialEq for Entry {
    /// The same bytes: prost encodes equal messages alike.
    fn eq(&self, other: &Entry) -> bool {
        self.encoded == other.encoded
    }
}

impl Entry {
    /// `instance` of the reservation `header` (whose own `instances` are ignored).
    pub fn new(header: &pb::Reservation, instance: pb::Instance) -> Entry {
        let text = |v: &str| v.to_owned();
        let facts = Facts {
            instance_id: text(&instance.instance_id),
            reservation_id: text(&header.reservation_id),
            state: instance.state.clone().unwrap_or_default(),
            instance_type: text(&instance.instance_type),
            availability_zone: instance
                .placement
                .as_ref()
                .map_or_else(String::new, |p| text(&p.availability_zone)),
            vpc_id: text(&instance.vpc_id),
            subnet_id: text(&instance.subnet_id),
            image_id: text(&instance.image_id),
            private_ip_address: text(&instance.private_ip_address),
            key_name: text(&instance.key_name),
            architecture: text(&instance.architecture),
            tags: instance.tags.clone(),
        };
        let reservation = pb::Reservation {
            reservation_id: header.reservation_id.clone(),
            owner_id: header.owner_id.clone(),
            requester_id: header.requester_id.clone(),
            groups: header.groups.clone(),
            instances: vec![instance],
        };
        Entry {
            facts,
            encoded: Bytes::from(reservation.encode_to_vec()),
        }
    }

    /// One entry per instance of `reservation`.
    pub fn of_reservation(mut reservation: pb::Reservation) -> impl Iterator<Item = Entry> {
        let instances = std::mem::take(&mut reservation.instances);
        instances
            .into_iter()
            .map(move |instance| Entry::new(&reservation, instance))
    }

    /// What selections read.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The instance id.
    pub fn id(&self) -> &str {
        &self.facts.instance_id
    }

    /// The instance's state name (`running`, ...), empty when EC2 gave none.
    pub fn state(&self) -> &str {
        &self.facts.state.name
    }

    /// The reservation with this instance only, protobuf-encoded.
    pub fn encoded_reservation(&self) -> &Bytes {
        &self.encoded
    }

    /// The reservation with this instance only.
    pub fn reservation(&self) -> pb::Reservation {
        pb::Reservation::decode(self.encoded.clone()).expect("the view encoded it")
    }

    /// The instance.
    pub fn instance(&self) -> pb::Instance {
        self.reservation().instances.pop().unwrap_or_default()
    }
}

#[cfg(test)]
impl Entry {
    /// An instance with an id, a state and tags only (reservation `r-ID`), for unit tests.
    pub(crate) fn for_test(id: &str, state: &str, tags: &[(&str, &str)]) -> Entry {
        let reservation = pb::Reservation {
            reservation_id: format!("r-{id}"),
            ..Default::default()
        };
        let instance = pb::Instance {
            instance_id: id.into(),
            state: Some(pb::InstanceState {
                code: None,
                name: state.into(),
            }),
            tags: tags
                .iter()
                .map(|(key, value)| pb::Tag {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
            ..Default::default()
        };
        Entry::new(&reservation, instance)
    }
}

/// One change of the view: the instance before and after (absent before: it appeared; absent
/// after: it is gone).
#[derive(Debug, Clone)]
pub struct Change {
    /// The view's revision once this change is in.
    pub revision: u64,
    /// The instance as it was.
    pub before: Option<Arc<Entry>>,
    /// The instance as it is.
    pub after: Option<Arc<Entry>>,
    /// What EC2 says is coming for the instance, when this change is an advisory (the
    /// instance itself unchanged).
    pub advisory: Option<Arc<pb::Advisory>>,
}

/// How many changes of each kind an update made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Instances that appeared.
    pub added: u64,
    /// Instances that changed.
    pub modified: u64,
    /// Instances that are gone.
    pub deleted: u64,
    /// Advisories taken in.
    pub advised: u64,
}

/// An instance as the view holds it.
#[derive(Debug)]
struct Slot {
    entry: Arc<Entry>,
    /// When EC2 last described it (for a list: when the list started).
    observed: Instant,
    /// What EC2 said is coming for it: the latest advisory of each kind.
    advisories: Vec<Arc<pb::Advisory>>,
    /// The ids of the last events advised of it (`SEEN_EVENTS`): a redelivery is told once.
    seen_events: VecDeque<String>,
}

/// Event ids remembered per instance, against redeliveries.
const SEEN_EVENTS: usize = 16;

/// How long an advisory that names no end of its own stays (from when it happens, else from
/// when it was said).
const ADVISORY_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether `advisory` is over at `now`: past its window's end, else an hour past when it
/// happens (or was said).
fn is_over(advisory: &pb::Advisory, now: SystemTime) -> bool {
    let at = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(|t| u64::try_from(t.seconds).ok())
            .map(|s| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s))
    };
    let end = at(&advisory.not_after)
        .or_else(|| at(&advisory.not_before).map(|t| t + ADVISORY_GRACE))
        .or_else(|| at(&advisory.issued).map(|t| t + ADVISORY_GRACE));
    end.is_some_and(|end| end < now)
}

/// Why a revision cannot be resumed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// The oldest revision that can be resumed from.
    pub oldest: u64,
    /// The view's revision now.
    pub current: u64,
}

/// The view of the account's instances.
#[derive(Debug)]
pub struct View {
    /// Instances by id (ordered, so listings page by id).
    entries: BTreeMap<String, Slot>,
    /// The revision of the last change.
    revision: u64,
    /// The latest changes, oldest first, with consecutive revisions.
    history: VecDeque<Arc<Change>>,
    /// Most changes kept.
    history_limit: usize,
    /// When the last complete full list started; `None` until the first one is in.
    listed_at: Option<Instant>,
}

impl View {
    /// An empty view keeping the last `history_limit` changes (at least 1).
    pub fn new(history_limit: usize) -> View {
        View {
            entries: BTreeMap::new(),
            revision: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            listed_at: None,
        }
    }

    /// The revision of the last change.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// When the last complete full list started (the view is at least that fresh); `None`
    /// before the first.
    pub fn listed_at(&self) -> Option<Instant> {
        self.listed_at
    }

    /// How many instances the view holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the view holds no instance.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The instance `id`, if the view holds it.
    pub fn get(&self, id: &str) -> Option<&Arc<Entry>> {
        self.entries.get(id).map(|slot| &slot.entry)
    }

    /// Every instance in id order, starting after `after` (from the first when `None`).
    pub fn after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a Arc<Entry>> + use<'a> {
        let start = match after {
            Some(id) => Bound::Excluded(id.to_owned()),
            None => Bound::Unbounded,
        };
        self.entries
            .range((start, Bound::Unbounded))
            .map(|(_, slot)| &slot.entry)
    }

    /// The changes after `revision`, oldest first; `Expired` when some of them are no longer
    /// kept, or `revision` is ahead of the view.
    pub fn changes_after(
        &self,
        revision: u64,
    ) -> Result<impl Iterator<Item = &Arc<Change>>, Expired> {
        let oldest = self
            .history
            .front()
            .map_or(self.revision, |first| first.revision - 1);
        if revision < oldest || revision > self.revision {
            return Err(Expired {
                oldest,
                current: self.revision,
            });
        }
        let skip = usize::try_from(revision - oldest).unwrap_or(usize::MAX);
        Ok(self.history.iter().skip(skip))
    }

    /// Applies a complete full list that started at `started`: instances not in it are gone,
    /// except those observed since.
    pub fn apply_list(&mut self, listed: Vec<Entry>, started: Instant) -> Tally {
        let mut tally = Tally::default();
        let mut seen = HashSet::with_capacity(listed.len());
        for entry in listed {
            seen.insert(entry.id().to_owned());
            if self
                .entries
                .get(entry.id())
                .is_some_and(|slot| slot.observed > started)
            {
                continue;
            }
            self.put(entry, started, &mut tally);
        }
        let stale: Vec<String> = self
            .entries
            .iter()
            .filter(|(id, slot)| slot.observed <= started && !seen.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.remove(&id, &mut tally);
        }
        self.listed_at = Some(self.listed_at.map_or(started, |at| at.max(started)));
        tally
    }

    /// Applies what EC2 answered at `at` about some instances.
    pub fn apply_observed(&mut self, found: Vec<Entry>, at: Instant) -> Tally {
        let mut tally = Tally::default();
        for entry in found {
            self.put(entry, at, &mut tally);
        }
        tally
    }

    /// Puts `entry`, observed at `observed`; a change when it is new or differs.
    fn put(&mut self, entry: Entry, observed: Instant, tally: &mut Tally) {
        let id = entry.id().to_owned();
        match self.entries.get_mut(&id) {
            Some(slot) if *slot.entry == entry => {
                slot.observed = slot.observed.max(observed);
            }
            Some(slot) => {
                let before = std::mem::replace(&mut slot.entry, Arc::new(entry));
                slot.observed = slot.observed.max(observed);
                let after = slot.entry.clone();
                tally.modified += 1;
                self.record(Some(before), Some(after));
            }
            None => {
                let entry = Arc::new(entry);
                self.entries.insert(
                    id,
                    Slot {
                        entry: entry.clone(),
                        observed,
                        advisories: Vec::new(),
                        seen_events: VecDeque::new(),
                    },
                );
                tally.added += 1;
                self.record(None, Some(entry));
            }
        }
    }

    /// Removes instance `id`, if held.
    fn remove(&mut self, id: &str, tally: &mut Tally) {
        if let Some(slot) = self.entries.remove(id) {
            tally.deleted += 1;
            self.record(Some(slot.entry), None);
        }
    }

    /// Numbers a change and keeps it in the history.
    fn record(&mut self, before: Option<Arc<Entry>>, after: Option<Arc<Entry>>) {
        self.push(Change {
            revision: self.revision + 1,
            before,
            after,
            advisory: None,
        });
    }

    /// Appends `change` (at the next revision) to the history.
    fn push(&mut self, change: Change) {
        self.revision += 1;
        if self.history.len() == self.history_limit {
            self.history.pop_front();
        }
        self.history.push_back(Arc::new(change));
    }

    /// Takes in what EC2 says is coming for instances of the view: each becomes a change of
    /// its own (watchers hear it) and the instance's latest of its kind. A redelivered event
    /// (the same event id), one already over, or an instance the view does not hold changes
    /// nothing; advisories that are over leave.
    pub fn advise(&mut self, advisories: Vec<pb::Advisory>) -> Tally {
        let mut tally = Tally::default();
        let now = SystemTime::now();
        for advisory in advisories {
            let Some(slot) = self.entries.get_mut(&advisory.instance_id) else {
                continue;
            };
            slot.advisories.retain(|a| !is_over(a, now));
            if is_over(&advisory, now) || slot.seen_events.contains(&advisory.event_id) {
                continue;
            }
            if slot.seen_events.len() == SEEN_EVENTS {
                slot.seen_events.pop_front();
            }
            slot.seen_events.push_back(advisory.event_id.clone());
            let advisory = Arc::new(advisory);
            slot.advisories.retain(|a| a.kind != advisory.kind);
            slot.advisories.push(advisory.clone());
            let entry = slot.entry.clone();
            tally.advised += 1;
            self.push(Change {
                revision: self.revision + 1,
                before: Some(entry.clone()),
                after: Some(entry),
                advisory: Some(advisory),
            });
        }
        tally
    }

    /// What EC2 said is coming for instance `id` and is not over (the latest advisory of
    /// each kind).
    pub fn advisories(&self, id: &str) -> Vec<Arc<pb::Advisory>> {
        let now = SystemTime::now();
        self.entries.get(id).map_or_else(Vec::new, |slot| {
            slot.advisories
                .iter()
                .filter(|a| !is_over(a, now))
                .cloned()
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(id: &str, state: &str) -> Entry {
        Entry::for_test(id, state, &[])
    }

    fn advisory(id: &str, event: &str, kind: pb::AdvisoryKind, issued: i64) -> pb::Advisory {
        pb::Advisory {
            instance_id: id.into(),
            event_id: event.into(),
            kind: kind as i32,
            issued: Some(prost_types::Timestamp {
                seconds: issued,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn advisories_are_told_once_keep_the_latest_of_a_kind_and_leave_when_over() {
        let mut view = View::new(100);
        view.apply_observed(vec![entry("i-1", "running")], Instant::now());
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let spot = pb::AdvisoryKind::SpotInterruption;
        let rebalance = pb::AdvisoryKind::RebalanceRecommendation;
        let told = view.advise(vec![
            advisory("i-1", "e-1", rebalance, now),
            advisory("i-1", "e-1", rebalance, now),
            advisory("i-9", "e-2", spot, now),
            advisory("i-1", "e-old", spot, now - 7200),
        ]);
        assert_eq!(
            told.advised, 1,
            "a redelivery, an unknown instance, one over: not told"
        );
        view.advise(vec![advisory("i-1", "e-3", rebalance, now)]);
        let kept = view.advisories("i-1");
        assert_eq!(kept.len(), 1, "the latest of its kind");
        assert_eq!(kept[0].event_id, "e-3");
        assert_eq!(
            view.advise(vec![advisory("i-1", "e-1", rebalance, now)])
                .advised,
            0
        );
        let changes: Vec<_> = view.changes_after(1).unwrap().collect();
        assert!(changes.iter().all(|c| c.advisory.is_some()));
        assert_eq!(changes.len(), 2);
    }

    fn revisions(view: &View, after: u64) -> Vec<u64> {
        view.changes_after(after)
            .unwrap()
            .map(|c| c.revision)
            .collect()
    }

    #[test]
    fn lists_add_modify_and_remove_with_consecutive_revisions() {
        let t0 = Instant::now();
        let mut view = View::new(100);
        assert_eq!(view.listed_at(), None);
        let tally = view.apply_list(vec![entry("i-1", "pending"), entry("i-2", "running")], t0);
        assert_eq!(
            (tally.added, view.revision(), view.listed_at()),
            (2, 2, Some(t0))
        );
        let t1 = t0 + Duration::from_secs(60);
        let tally = view.apply_list(vec![entry("i-1", "running")], t1);
        assert_eq!((tally.modified, tally.deleted), (1, 1));
        assert_eq!(revisions(&view, 2), vec![3, 4]);
        assert!(view.changes_after(4).unwrap().next().is_none());
        let unchanged = view.apply_list(vec![entry("i-1", "running")], t1);
        assert_eq!(unchanged, Tally::default(), "the same answer is no change");
    }

    #[test]
    fn a_list_started_before_an_observation_does_not_undo_it() {
        let t0 = Instant::now();
        let mut view = View::new(100);
        view.apply_list(vec![entry("i-1", "running"), entry("i-2", "running")], t0);
        let list_start = t0 + Duration::from_secs(10);
        let observed = list_start + Duration::from_secs(1);
        let launched = vec![entry("i-1", "stopping"), entry("i-3", "pending")];
        view.apply_observed(launched, observed);
        // The list started before the observation: it still shows i-1 running and lacks i-3.
        let old_news = vec![entry("i-1", "running"), entry("i-2", "running")];
        assert_eq!(view.apply_list(old_news, list_start), Tally::default());
        assert_eq!(view.get("i-1").unwrap().state(), "stopping");
        assert!(view.get("i-3").is_some());
        // A list that started later is the truth again.
        let later = observed + Duration::from_secs(1);
        let tally = view.apply_list(vec![entry("i-2", "stopped")], later);
        assert_eq!((tally.modified, tally.deleted), (1, 2));
    }

    #[test]
    fn history_is_bounded_and_old_revisions_expire() {
        let t0 = Instant::now();
        let mut view = View::new(3);
        let list: Vec<Entry> = (0..5)
            .map(|n| entry(&format!("i-{n}"), "running"))
            .collect();
        view.apply_list(list, t0);
        assert_eq!(view.revision(), 5);
        assert_eq!(revisions(&view, 2), vec![3, 4, 5]);
        assert_eq!(
            view.changes_after(1).err(),
            Some(Expired {
                oldest: 2,
                current: 5
            })
        );
        assert!(
            view.changes_after(6).is_err(),
            "a revision the view never issued"
        );
        let ids: Vec<&str> = view.after(Some("i-2")).map(|e| e.id()).collect();
        assert_eq!(ids, vec!["i-3", "i-4"]);
    }
}
