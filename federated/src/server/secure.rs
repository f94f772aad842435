//! A round aggregated through secure aggregation ([`crate::secagg`]): the server relays keys
//! and encrypted shares, sums masked vectors, and learns only the sum of the survivors'
//! weighted updates.
//!
//! The round's deadline is split into four equal windows, one per protocol stage (advertise
//! keys, share keys, masked input, unmask). A stage ends early once every site expected at it
//! has answered. The sites invited to a round are those registered when it opened, numbered
//! in name order; those that advertise keys in the first window take part, so registered
//! sites that stay idle cost only that window. The round's threshold `t` is fixed by how many
//! advertised ([`crate::secagg::SecAggConfig::threshold_for`]); at the end of a later window
//! the round goes on with at least `max(t, quorum)` sites, or fails like a round below its
//! quorum. Each site sends `n_k / N · Δ_k` (its weight is in its ticket, `N` summed over the
//! invited sites), and the server divides the sum by the survivors' total weight, which is
//! FedAvg over the survivors. A site's DP-SGD budget is charged when its masked input arrives.

use serde::{Deserialize, Serialize};

use super::{FederatedServer, RoundRecord, SecureAggregation};
use crate::secagg::{
    AdvertiseKeys, EncryptedShare, MaskedInput, SecAggConfig, SecAggServer, ShareKeys, Unmask,
};
use crate::{Error, Result};

/// Stage of a secure round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurePhase {
    /// Sites send their two public keys.
    AdvertiseKeys,
    /// Sites send encrypted shares of their secrets.
    ShareKeys,
    /// Sites send masked, weighted updates.
    MaskedInput,
    /// Survivors send the shares that remove the masks.
    Unmask,
}

impl SecurePhase {
    fn index(self) -> usize {
        self as usize
    }

    fn next(self) -> Option<SecurePhase> {
        match self {
            SecurePhase::AdvertiseKeys => Some(SecurePhase::ShareKeys),
            SecurePhase::ShareKeys => Some(SecurePhase::MaskedInput),
            SecurePhase::MaskedInput => Some(SecurePhase::Unmask),
            SecurePhase::Unmask => None,
        }
    }
}

/// A site's part in a secure round, sent with its ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecureTicket {
    /// The site's id in the protocol (`0..sites`).
    pub site: u32,
    /// The round's protocol parameters.
    pub config: SecAggConfig,
    /// Multiply the update by this before masking: `n_k / N`.
    pub weight: f64,
    /// Stage the round is at now.
    pub phase: SecurePhase,
}

#[derive(Debug)]
pub(super) struct SecureRound {
    sites: Vec<String>,
    weights: Vec<f64>,
    server: SecAggServer,
    pub(super) phase: SecurePhase,
    phase_ends: [i64; 4],
}

impl SecureRound {
    /// A round for the `invited` sites (name order, with each one's record weight).
    pub(super) fn new(
        invited: &[(String, u64)],
        quorum: usize,
        dim: usize,
        fixed: SecureAggregation,
        opened_ms: i64,
        deadline_ms: i64,
    ) -> Result<Self> {
        let sites: Vec<String> = invited.iter().map(|(name, _)| name.clone()).collect();
        let config = SecAggConfig::for_clients(sites.len(), dim, fixed.scale, fixed.clip)?
            .with_min_advertised(quorum);
        let total: f64 = invited.iter().map(|(_, w)| *w as f64).sum();
        let weights = invited
            .iter()
            .map(|(_, w)| *w as f64 / total.max(1.0))
            .collect();
        let span = (deadline_ms - opened_ms).max(4);
        let phase_ends = [1, 2, 3, 4].map(|k| opened_ms + span * k / 4);
        Ok(SecureRound {
            sites,
            weights,
            server: SecAggServer::new(config),
            phase: SecurePhase::AdvertiseKeys,
            phase_ends,
        })
    }

    fn index_of(&self, site: &str, round: u64) -> Result<u32> {
        self.sites
            .binary_search_by(|s| s.as_str().cmp(site))
            .map(|k| k as u32)
            .map_err(|_| {
                Error::Refused(format!(
                    "site {site:?} registered after round {round} opened: wait for the next"
                ))
            })
    }

    pub(super) fn ticket(&self, site: &str, round: u64) -> Result<SecureTicket> {
        let k = self.index_of(site, round)?;
        Ok(SecureTicket {
            site: k,
            config: *self.server.config(),
            weight: self.weights[k as usize],
            phase: self.phase,
        })
    }

    /// Sites expected at the current stage: everyone, then those that answered the one before.
    fn expected(&self) -> usize {
        let counts = self.server.counts();
        match self.phase {
            SecurePhase::AdvertiseKeys => self.sites.len(),
            p => counts[p.index() - 1],
        }
    }
}

impl FederatedServer {
    fn secure_round(
        &mut self,
        site: &str,
        phase: SecurePhase,
        now_ms: i64,
    ) -> Result<(u32, &mut SecureRound)> {
        self.poll(now_ms)?;
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| Error::Refused("no round is open: ask for the model first".into()))?;
        let round = open.round;
        let secure = open
            .secure
            .as_mut()
            .ok_or_else(|| Error::Refused("this federation does not aggregate securely".into()))?;
        let k = secure.index_of(site, round)?;
        if secure.phase != phase {
            return Err(Error::Refused(format!(
                "round {round} is at {:?}, not {phase:?}",
                secure.phase
            )));
        }
        Ok((k, secure))
    }

    fn check_sender(k: u32, claimed: u32) -> Result<()> {
        if k != claimed {
            return Err(Error::Refused(format!(
                "this site is {k} in the protocol, the message says {claimed}"
            )));
        }
        Ok(())
    }

    /// Stage 0 in: `site`'s public keys.
    ///
    /// # Errors
    /// [`Error::Refused`] out of stage, for another site's id, or twice; round failures as
    /// [`poll`](Self::poll).
    pub fn secagg_advertise(&mut self, site: &str, msg: AdvertiseKeys, now_ms: i64) -> Result<()> {
        let (k, secure) = self.secure_round(site, SecurePhase::AdvertiseKeys, now_ms)?;
        Self::check_sender(k, msg.site)?;
        secure.server.receive_advert(msg).map_err(refused)?;
        self.poll(now_ms).map(|_| ())
    }

    /// Stage 0 out: every advert, once the stage has closed (`None` while it is open).
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise).
    pub fn secagg_adverts(
        &mut self,
        site: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<AdvertiseKeys>>> {
        self.after(site, SecurePhase::AdvertiseKeys, now_ms, |s| {
            s.server.adverts().map_err(Error::from)
        })
    }

    /// Stage 1 in: `site`'s encrypted shares.
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise).
    pub fn secagg_share(&mut self, site: &str, msg: ShareKeys, now_ms: i64) -> Result<()> {
        let (k, secure) = self.secure_round(site, SecurePhase::ShareKeys, now_ms)?;
        Self::check_sender(k, msg.site)?;
        secure.server.receive_shares(msg).map_err(refused)?;
        self.poll(now_ms).map(|_| ())
    }

    /// Stage 1 out: the ciphertexts addressed to `site`, once the stage has closed.
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise).
    pub fn secagg_inbox(&mut self, site: &str, now_ms: i64) -> Result<Option<Vec<EncryptedShare>>> {
        self.after(site, SecurePhase::ShareKeys, now_ms, |s| {
            let k = s.index_of(site, 0)?;
            s.server.inbox(k).map_err(Error::from)
        })
    }

    /// Stage 2 in: `site`'s masked, weighted update; charges its DP-SGD plan, if any.
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise), and for the wrong length.
    pub fn secagg_masked(&mut self, site: &str, msg: MaskedInput, now_ms: i64) -> Result<()> {
        let (k, secure) = self.secure_round(site, SecurePhase::MaskedInput, now_ms)?;
        Self::check_sender(k, msg.site)?;
        secure.server.receive_masked(msg).map_err(refused)?;
        self.charge_dp_sgd(site)?;
        self.poll(now_ms).map(|_| ())
    }

    /// Stage 2 out: the survivors, once the stage has closed.
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise).
    pub fn secagg_survivors(&mut self, site: &str, now_ms: i64) -> Result<Option<Vec<u32>>> {
        self.after(site, SecurePhase::MaskedInput, now_ms, |s| {
            s.server.survivors().map_err(Error::from)
        })
    }

    /// Stage 3 in: `site`'s unmasking shares. Returns the round's record when this reply
    /// completed it.
    ///
    /// # Errors
    /// As [`secagg_advertise`](Self::secagg_advertise); reconstruction errors.
    pub fn secagg_unmask(
        &mut self,
        site: &str,
        msg: Unmask,
        now_ms: i64,
    ) -> Result<Option<RoundRecord>> {
        let (k, secure) = self.secure_round(site, SecurePhase::Unmask, now_ms)?;
        Self::check_sender(k, msg.site)?;
        secure.server.receive_unmask(msg).map_err(refused)?;
        self.poll(now_ms)
    }

    /// What a stage produced, for `site`, once the round is past `stage`.
    fn after<T>(
        &mut self,
        site: &str,
        stage: SecurePhase,
        now_ms: i64,
        read: impl FnOnce(&SecureRound) -> Result<T>,
    ) -> Result<Option<T>> {
        self.poll(now_ms)?;
        let open = self
            .open
            .as_ref()
            .ok_or_else(|| Error::Refused("no round is open".into()))?;
        let secure = open
            .secure
            .as_ref()
            .ok_or_else(|| Error::Refused("this federation does not aggregate securely".into()))?;
        secure.index_of(site, open.round)?;
        if secure.phase <= stage {
            return Ok(None);
        }
        read(secure).map(Some)
    }

    /// Moves the secure round through its stages; finishes or fails it.
    pub(super) fn poll_secure(&mut self, now_ms: i64) -> Result<Option<RoundRecord>> {
        let need_quorum = self.state.config.quorum;
        loop {
            let Some(open) = self.open.as_mut() else {
                return Ok(None);
            };
            let Some(secure) = open.secure.as_mut() else {
                return Ok(None);
            };
            let have = secure.server.counts()[secure.phase.index()];
            let expected = secure.expected();
            let ends = secure.phase_ends[secure.phase.index()];
            if have < expected && now_ms < ends {
                return Ok(None);
            }
            // Adverts fix t; the quorum counts survivors (checked when masked input closes);
            // unmasking needs only t replies, and a round whose sum the server could rebuild
            // never fails.
            let need = match secure.phase {
                SecurePhase::AdvertiseKeys => {
                    need_quorum.max(secure.server.config().min_advertised())
                }
                SecurePhase::Unmask => secure.server.threshold(),
                _ => need_quorum.max(secure.server.threshold()),
            };
            if have < need {
                let (round, phase, opened) = (open.round, secure.phase, open.opened_ms);
                self.open = None;
                let error = Error::QuorumNotReached {
                    round,
                    received: have,
                    quorum: need,
                    deadline_ms: self.state.config.round_deadline_ms,
                };
                self.state.history.push(RoundRecord {
                    round,
                    participants: Vec::new(),
                    failure: Some(format!("{error} (secure aggregation, {phase:?} stage)")),
                    elapsed_ms: (now_ms - opened).max(0) as u64,
                    epsilon: None,
                });
                self.save()?;
                return Err(error);
            }
            match secure.phase.next() {
                Some(next) => secure.phase = next,
                None => {
                    let (sum, survivors) = match secure.server.finish() {
                        Ok(done) => done,
                        Err(e) => {
                            // A bad unmask reply: fail the round rather than retry it forever.
                            let (round, opened) = (open.round, open.opened_ms);
                            self.open = None;
                            self.state.history.push(RoundRecord {
                                round,
                                participants: Vec::new(),
                                failure: Some(format!("secure aggregation could not unmask: {e}")),
                                elapsed_ms: (now_ms - opened).max(0) as u64,
                                epsilon: None,
                            });
                            self.save()?;
                            return Err(e.into());
                        }
                    };
                    let weight: f64 = survivors.iter().map(|&k| secure.weights[k as usize]).sum();
                    let names: Vec<String> = survivors
                        .iter()
                        .map(|&k| secure.sites[k as usize].clone())
                        .collect();
                    let delta: Vec<f32> = sum
                        .iter()
                        .map(|v| (f64::from(*v) / weight) as f32)
                        .collect();
                    let (round, opened) = (open.round, open.opened_ms);
                    self.open = None;
                    let elapsed = (now_ms - opened).max(0) as u64;
                    return self
                        .complete_with_delta(round, &names, &delta, elapsed)
                        .map(Some);
                }
            }
        }
    }
}

/// A protocol message the round cannot take is the sender's problem.
fn refused(e: crate::secagg::Error) -> Error {
    Error::Refused(e.to_string())
}
