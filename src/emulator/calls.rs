//! The call-state machine of XSI-Actions: call halves between emulated users.
//!
//! Each call has one half (a "leg") per emulated party, as `BroadWorks` shows
//! it: `calls/new` is a click-to-dial, so when the caller's device does not
//! auto-answer, the caller's own leg alerts first (personality
//! `Click-to-Dial`) and the far end rings only once that leg is answered
//! (`Talk`). The callee's leg then alerts (`Terminator`, `Alerting`); its
//! `Talk` makes both legs `Active`; releasing either leg clears both. A leg
//! left alerting longer than the ring timeout is released, with its peer.
//! Timeouts are applied lazily, on each look at the switch, so no timer task
//! is needed and tests stay deterministic.

use std::time::{Duration, Instant, SystemTime};

/// Who a leg belongs to or points at, as far as the switch needs to know.
#[derive(Debug, Clone)]
pub struct Party {
    /// The user's CI UUID (the XSI user id).
    pub uuid: String,
    /// Display name.
    pub name: String,
    /// E.164 number.
    pub number: String,
    /// Whether the user's device answers a click-to-dial leg by itself.
    pub auto_answer: bool,
    /// Whether the user's device alerts at all on an incoming call.
    pub alerts: bool,
}

/// The personality of a leg (`Call.personality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// The calling party, once its own device is off hook.
    Originator,
    /// The called party.
    Terminator,
    /// The caller's own leg while its device is being alerted.
    ClickToDial,
}

impl Personality {
    /// The XSI spelling.
    #[must_use]
    pub fn as_xsi(self) -> &'static str {
        match self {
            Personality::Originator => "Originator",
            Personality::Terminator => "Terminator",
            Personality::ClickToDial => "Click-to-Dial",
        }
    }
}

/// The state of a leg (`Call.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Ringing: at this user's device (click-to-dial, terminator) or at the far end (originator).
    Alerting,
    /// Connected.
    Active,
}

impl CallState {
    /// The XSI spelling.
    #[must_use]
    pub fn as_xsi(self) -> &'static str {
        match self {
            CallState::Alerting => "Alerting",
            CallState::Active => "Active",
        }
    }
}

/// The far end of a leg, as `Call.remoteParty` shows it.
#[derive(Debug, Clone)]
pub struct RemoteParty {
    /// Display name, when the far end is an emulated user.
    pub name: Option<String>,
    /// The dialled or calling address (`tel:+1...`).
    pub address: String,
    /// The far end's UUID, when it is an emulated user.
    pub user_id: Option<String>,
}

/// One call half.
#[derive(Debug, Clone)]
pub struct CallLeg {
    /// `callhalf-<n>:0`.
    pub id: String,
    /// The owner's UUID.
    pub owner: String,
    /// Personality.
    pub personality: Personality,
    /// State.
    pub state: CallState,
    /// The far end.
    pub remote: RemoteParty,
    /// The other leg of the same call, when the far end is emulated and ringing.
    pub peer: Option<String>,
    /// Shared by both legs of a call.
    pub network_call_id: String,
    /// `CallStartInfo.externalTrackingId` / `extTrackingId`.
    pub ext_tracking_id: String,
    /// When the leg was created.
    pub started: SystemTime,
    /// When the call was answered.
    pub answered: Option<SystemTime>,
    /// Since when the leg has been alerting (for the ring timeout).
    alerting_since: Instant,
    /// The party to ring once a click-to-dial leg is answered.
    pending_callee: Option<Target>,
}

/// Where a call goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// An emulated user.
    User(Party),
    /// An address that reaches no emulated user: it never answers.
    Nowhere(String),
}

/// Why the switch refused an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchError {
    /// No such call for this user.
    NoSuchCall,
    /// `Talk` on a leg that is not alerting at this user's device.
    NotAlertingHere,
}

/// All calls of the organisation.
#[derive(Debug)]
pub struct Switch {
    legs: Vec<CallLeg>,
    next_id: u64,
    ring_timeout: Duration,
}

impl Switch {
    /// An idle switch that releases calls alerting longer than `ring_timeout`.
    #[must_use]
    pub fn new(ring_timeout: Duration) -> Self {
        Switch {
            legs: Vec::new(),
            next_id: 1000,
            ring_timeout,
        }
    }

    /// Originates a call from `caller` to `target` (XSI `calls/new`).
    ///
    /// Returns the caller's call id and external tracking id.
    pub fn originate(&mut self, caller: &Party, target: Target) -> (String, String) {
        self.expire_unanswered();
        let now = Instant::now();
        let n = self.take_id();
        let leg = CallLeg {
            id: format!("callhalf-{n}:0"),
            owner: caller.uuid.clone(),
            personality: Personality::ClickToDial,
            state: CallState::Alerting,
            remote: remote_of(&target),
            peer: None,
            network_call_id: format!("BW{n:010}-{}", &caller.uuid[..8]),
            ext_tracking_id: format!("{n}:1"),
            started: SystemTime::now(),
            answered: None,
            alerting_since: now,
            pending_callee: Some(target),
        };
        let ids = (leg.id.clone(), leg.ext_tracking_id.clone());
        self.legs.push(leg);
        if caller.auto_answer {
            self.ring_far_end(&ids.0, caller);
        }
        ids
    }

    /// Answers (`Talk`) the leg `call_id` of `owner`.
    pub fn talk(&mut self, owner: &Party, call_id: &str) -> Result<(), SwitchError> {
        self.expire_unanswered();
        let leg = self
            .leg(&owner.uuid, call_id)
            .ok_or(SwitchError::NoSuchCall)?;
        match (leg.personality, leg.state) {
            (_, CallState::Active) => Ok(()),
            (Personality::ClickToDial, CallState::Alerting) => {
                self.ring_far_end(call_id, owner);
                Ok(())
            }
            (Personality::Terminator, CallState::Alerting) => {
                let now = SystemTime::now();
                let peer = leg.peer.clone();
                for id in std::iter::once(call_id.to_owned()).chain(peer) {
                    if let Some(leg) = self.legs.iter_mut().find(|l| l.id == id) {
                        leg.state = CallState::Active;
                        leg.answered = Some(now);
                    }
                }
                Ok(())
            }
            (Personality::Originator, CallState::Alerting) => Err(SwitchError::NotAlertingHere),
        }
    }

    /// Releases the leg `call_id` of `owner` and its peer (XSI `DELETE calls/{id}`).
    pub fn release(&mut self, owner: &str, call_id: &str) -> Result<(), SwitchError> {
        self.expire_unanswered();
        let peer = self
            .leg(owner, call_id)
            .ok_or(SwitchError::NoSuchCall)?
            .peer
            .clone();
        self.legs
            .retain(|l| l.id != call_id && Some(&l.id) != peer.as_ref());
        Ok(())
    }

    /// The legs of `owner`, oldest first.
    pub fn calls_of(&mut self, owner: &str) -> Vec<CallLeg> {
        self.expire_unanswered();
        self.legs
            .iter()
            .filter(|l| l.owner == owner)
            .cloned()
            .collect()
    }

    /// One leg of `owner`.
    pub fn call_of(&mut self, owner: &str, call_id: &str) -> Option<CallLeg> {
        self.expire_unanswered();
        self.leg(owner, call_id).cloned()
    }

    /// Puts an active call to an outside number on `owner`, as left over by an earlier run.
    pub fn add_stale_call(&mut self, owner: &Party) {
        let n = self.take_id();
        let now = SystemTime::now();
        self.legs.push(CallLeg {
            id: format!("callhalf-{n}:0"),
            owner: owner.uuid.clone(),
            personality: Personality::Originator,
            state: CallState::Active,
            remote: RemoteParty {
                name: None,
                address: "tel:+15550199999".to_owned(),
                user_id: None,
            },
            peer: None,
            network_call_id: format!("BW{n:010}-stale"),
            ext_tracking_id: format!("{n}:1"),
            started: now,
            answered: Some(now),
            alerting_since: Instant::now(),
            pending_callee: None,
        });
    }

    /// How many legs `owner` has.
    pub fn count_of(&mut self, owner: &str) -> usize {
        self.expire_unanswered();
        self.legs.iter().filter(|l| l.owner == owner).count()
    }

    fn leg(&self, owner: &str, call_id: &str) -> Option<&CallLeg> {
        self.legs
            .iter()
            .find(|l| l.owner == owner && l.id == call_id)
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Turns the caller's leg into the originator and alerts the callee.
    fn ring_far_end(&mut self, originating_leg: &str, originator: &Party) {
        let Some(leg) = self.legs.iter_mut().find(|l| l.id == originating_leg) else {
            return;
        };
        leg.personality = Personality::Originator;
        leg.alerting_since = Instant::now();
        let Some(Target::User(callee)) = leg.pending_callee.take() else {
            return;
        };
        if !callee.alerts {
            return;
        }
        let network_call_id = leg.network_call_id.clone();
        let n = self.take_id();
        let terminating = CallLeg {
            id: format!("callhalf-{n}:0"),
            owner: callee.uuid.clone(),
            personality: Personality::Terminator,
            state: CallState::Alerting,
            remote: RemoteParty {
                name: Some(originator.name.clone()),
                address: format!("tel:{}", originator.number),
                user_id: Some(originator.uuid.clone()),
            },
            peer: Some(originating_leg.to_owned()),
            network_call_id,
            ext_tracking_id: format!("{n}:1"),
            started: SystemTime::now(),
            answered: None,
            alerting_since: Instant::now(),
            pending_callee: None,
        };
        let terminating_id = terminating.id.clone();
        self.legs.push(terminating);
        if let Some(leg) = self.legs.iter_mut().find(|l| l.id == originating_leg) {
            leg.peer = Some(terminating_id);
        }
    }

    /// Releases every call that has been alerting longer than the ring timeout.
    fn expire_unanswered(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .legs
            .iter()
            .filter(|l| {
                l.state == CallState::Alerting
                    && now.duration_since(l.alerting_since) >= self.ring_timeout
            })
            .flat_map(|l| std::iter::once(l.id.clone()).chain(l.peer.clone()))
            .collect();
        if !expired.is_empty() {
            self.legs.retain(|l| !expired.contains(&l.id));
        }
    }
}

fn remote_of(target: &Target) -> RemoteParty {
    match target {
        Target::User(p) => RemoteParty {
            name: Some(p.name.clone()),
            address: format!("tel:{}", p.number),
            user_id: Some(p.uuid.clone()),
        },
        Target::Nowhere(address) => RemoteParty {
            name: None,
            address: address.clone(),
            user_id: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(uuid: &str, auto_answer: bool, alerts: bool) -> Party {
        Party {
            uuid: format!("{uuid}-0000-0000-0000-000000000000"),
            name: uuid.to_owned(),
            number: format!("+1555{uuid}"),
            auto_answer,
            alerts,
        }
    }

    #[test]
    fn auto_answering_caller_rings_the_callee_at_once() {
        let (a, b) = (party("aaaaaaaa", true, true), party("bbbbbbbb", true, true));
        let mut sw = Switch::new(Duration::from_secs(30));
        let (id, _) = sw.originate(&a, Target::User(b.clone()));
        let leg = sw.call_of(&a.uuid, &id).unwrap();
        assert_eq!(
            (leg.personality, leg.state),
            (Personality::Originator, CallState::Alerting)
        );
        let b_calls = sw.calls_of(&b.uuid);
        assert_eq!(b_calls.len(), 1);
        assert_eq!(b_calls[0].personality, Personality::Terminator);
        assert_eq!(b_calls[0].remote.user_id.as_deref(), Some(a.uuid.as_str()));

        assert_eq!(sw.talk(&a, &id), Err(SwitchError::NotAlertingHere));
        sw.talk(&b, &b_calls[0].id).unwrap();
        assert_eq!(sw.call_of(&a.uuid, &id).unwrap().state, CallState::Active);
        assert_eq!(
            sw.call_of(&b.uuid, &b_calls[0].id).unwrap().state,
            CallState::Active
        );

        sw.release(&a.uuid, &id).unwrap();
        assert_eq!(sw.count_of(&a.uuid) + sw.count_of(&b.uuid), 0);
        assert_eq!(sw.release(&a.uuid, &id), Err(SwitchError::NoSuchCall));
    }

    #[test]
    fn click_to_dial_leg_alerts_the_caller_first() {
        let (a, b) = (
            party("aaaaaaaa", false, true),
            party("bbbbbbbb", true, true),
        );
        let mut sw = Switch::new(Duration::from_secs(30));
        let (id, _) = sw.originate(&a, Target::User(b.clone()));
        assert_eq!(
            sw.call_of(&a.uuid, &id).unwrap().personality,
            Personality::ClickToDial
        );
        assert_eq!(sw.count_of(&b.uuid), 0);
        sw.talk(&a, &id).unwrap();
        assert_eq!(
            sw.call_of(&a.uuid, &id).unwrap().personality,
            Personality::Originator
        );
        assert_eq!(sw.count_of(&b.uuid), 1);
    }

    #[test]
    fn callee_release_clears_both_legs() {
        let (a, b) = (party("aaaaaaaa", true, true), party("bbbbbbbb", true, true));
        let mut sw = Switch::new(Duration::from_secs(30));
        sw.originate(&a, Target::User(b.clone()));
        let b_leg = sw.calls_of(&b.uuid).remove(0);
        sw.release(&b.uuid, &b_leg.id).unwrap();
        assert_eq!(sw.count_of(&a.uuid), 0);
    }

    #[test]
    fn unanswered_calls_time_out_and_silent_devices_never_alert() {
        let (a, b) = (
            party("aaaaaaaa", true, true),
            party("bbbbbbbb", true, false),
        );
        let mut sw = Switch::new(Duration::from_millis(30));
        sw.originate(&a, Target::User(b.clone()));
        assert_eq!(sw.count_of(&a.uuid), 1);
        assert_eq!(sw.count_of(&b.uuid), 0);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(sw.count_of(&a.uuid), 0);
    }

    #[test]
    fn stale_call_is_active() {
        let a = party("aaaaaaaa", true, true);
        let mut sw = Switch::new(Duration::from_millis(1));
        sw.add_stale_call(&a);
        std::thread::sleep(Duration::from_millis(5));
        let calls = sw.calls_of(&a.uuid);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].state, CallState::Active);
    }
}
