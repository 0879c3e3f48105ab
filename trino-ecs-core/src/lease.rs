//! The deploy lock's lease: who holds it, where, until when. Pure: the adapter stores it as the value of the
//! lock parameter and asks the operating system whether a holder's process still runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who takes the lock: shown to a deploy that finds it taken, and used to see whether the holder died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Who deploys, for people (`alice pid 4242`).
    pub owner: String,
    /// The machine the deploy runs on, as precisely as the caller can say (hostname and boot id); empty when
    /// unknown, which never lets another deploy call this holder dead.
    pub host: String,
    /// The deploying process.
    pub pid: u32,
}

impl Holder {
    /// A holder known only by name: its lease ends only by expiry or a forced unlock.
    pub fn named(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            host: String::new(),
            pid: 0,
        }
    }
}

/// The value of the lock parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// [`Holder::owner`].
    pub owner: String,
    /// [`Holder::host`] (absent in leases written before it was recorded).
    #[serde(default)]
    pub host: String,
    /// [`Holder::pid`].
    #[serde(default)]
    pub pid: u32,
    /// When the lease ends if it is not released.
    pub expires_at: DateTime<Utc>,
    /// This lease's identity: only its holder releases it, and a takeover deletes only the lease it read.
    pub token: String,
}

/// What a lease found in the store means for a deploy that wants the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Its holder may still be deploying: wait, or force the unlock.
    Held,
    /// It ran out: its holder died or hung; it may be taken over.
    Expired,
    /// Its holder ran on this machine and its process is gone: it may be taken over at once.
    HolderDied,
}

impl Lease {
    /// A lease for `holder` of `length` from `now`, with a fresh token.
    pub fn new(holder: &Holder, now: DateTime<Utc>, length: Duration) -> Self {
        Self {
            owner: holder.owner.clone(),
            host: holder.host.clone(),
            pid: holder.pid,
            expires_at: now
                + chrono::Duration::from_std(length).unwrap_or(chrono::Duration::minutes(30)),
            token: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The stored text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a lease serialises")
    }

    /// A stored lease; `None` for text that is not one (treated as expired, so a corrupt lock never blocks).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The lease's state at `now` for a deploy on machine `here`; `alive(pid)` says whether a process of this
    /// machine runs. A holder is called dead only when it recorded the same, non-empty machine identity.
    pub fn state(&self, now: DateTime<Utc>, here: &str, alive: impl Fn(u32) -> bool) -> LeaseState {
        if self.expires_at <= now {
            LeaseState::Expired
        } else if !self.host.is_empty() && self.host == here && self.pid != 0 && !alive(self.pid) {
            LeaseState::HolderDied
        } else {
            LeaseState::Held
        }
    }

    /// Who holds it, for messages: `alice pid 4242 on host-a`.
    pub fn holder(&self) -> String {
        if self.host.is_empty() {
            self.owner.clone()
        } else {
            format!("{} on {}", self.owner, self.host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32) -> Holder {
        Holder {
            owner: "alice pid 42".into(),
            host: host.into(),
            pid,
        }
    }

    #[test]
    fn a_lease_is_held_until_it_expires_or_its_process_on_this_machine_is_gone() {
        let now = Utc::now();
        let lease = Lease::new(&holder("host-a boot 1", 42), now, Duration::from_secs(600));
        let alive = |_| true;
        let dead = |_| false;
        assert_eq!(lease.state(now, "host-a boot 1", alive), LeaseState::Held);
        assert_eq!(
            lease.state(now, "host-a boot 1", dead),
            LeaseState::HolderDied
        );
        // Another machine (or the same one after a reboot) cannot see the holder's process: held.
        assert_eq!(lease.state(now, "host-b boot 1", dead), LeaseState::Held);
        assert_eq!(lease.state(now, "host-a boot 2", dead), LeaseState::Held);
        assert_eq!(
            lease.state(now + chrono::Duration::seconds(601), "host-b", alive),
            LeaseState::Expired
        );
        // A holder that did not say where it runs is never called dead.
        let anonymous = Lease::new(&Holder::named("x"), now, Duration::from_secs(600));
        assert_eq!(anonymous.state(now, "", dead), LeaseState::Held);
    }

    #[test]
    fn leases_round_trip_and_old_or_corrupt_values_parse_safely() {
        let lease = Lease::new(&holder("h", 7), Utc::now(), Duration::from_secs(60));
        assert_eq!(Lease::parse(&lease.to_json()), Some(lease));
        // Written before host and pid were recorded.
        let old = Lease::parse(
            r#"{"owner":"bob pid 1","expires_at":"2026-12-02T10:00:00+00:00","token":"t"}"#,
        )
        .unwrap();
        assert_eq!((old.host.as_str(), old.pid), ("", 0));
        assert_eq!(Lease::parse("not json"), None);
        assert_ne!(
            Lease::new(&holder("h", 7), Utc::now(), Duration::from_secs(60)).token,
            Lease::new(&holder("h", 7), Utc::now(), Duration::from_secs(60)).token
        );
    }
}
