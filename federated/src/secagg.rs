//! Secure aggregation: the server learns the sum of the sites' updates and nothing about any
//! one of them, and the sum survives sites that drop out mid-round.
//!
//! The protocol is Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving
//! Machine Learning" (CCS), in its honest-but-curious form (§4, without the signature and
//! consistency-check rounds):
//!
//! 0. **Advertise keys**: each site makes two fresh X25519 key pairs, `c` (to encrypt shares
//!    to its peers through the server) and `s` (to agree mask seeds), and sends both public
//!    keys.
//! 1. **Share keys**: each site picks a self-mask seed `b`, splits `b` and its `s` secret key
//!    into `t`-of-`n` Shamir shares (GF(2⁸), one x-coordinate per site) and sends each peer
//!    its two shares, encrypted with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from
//!    their `c` agreement. The server only relays ciphertexts. `U₁` = the sites that shared.
//! 2. **Masked input**: site `u` sends `y_u = x_u + PRG(b_u) + Σ_{v∈U₁, v≠u} ±PRG(s_uv)` in
//!    ℤ/2⁶⁴, `+` when `u < v`, `−` when `u > v`, where `s_uv` is its `s` agreement with `v`
//!    and PRG is ChaCha20 (`chacha20::ChaCha20Rng`) seeded through HKDF. `U₂` = the senders.
//! 3. **Unmask**: given `U₂` (at least `t` sites), each surviving site sends, for every
//!    `u ∈ U₁`, its share of `b_u` if `u ∈ U₂` and its share of `u`'s `s` secret key if not —
//!    never both for one site. The server rebuilds each `b_u` and each dropped site's key,
//!    recomputes the pair masks the survivors added towards the dropped sites, and subtracts
//!    everything: `Σ_{u∈U₂} x_u` exactly.
//!
//! The pair masks cancel in the sum; the self-masks keep `y_u` hidden even if the server later
//! learns `u`'s pair seeds (a late site). With `t > n/2` and the dropouts of a round at most
//! `n − t`, the server can never hold `t` shares of both secrets of one site. Here `n` is the
//! number of sites that advertised keys (invited sites that never answer do not count) and
//! `t = n − ⌊n/3⌋`: up to a third of them may drop after sharing keys. Each advert commits to
//! the self-mask seed (SHA-256), so a wrong share of `b_u` fails the round instead of
//! corrupting the sum.
//!
//! Inputs are `f32` vectors in fixed point: each entry clamped to `[−clip, clip]`, times
//! `scale`, rounded to `i64` and added in ℤ/2⁶⁴; [`SecAggConfig::for_clients`] refuses a
//! `(n, clip, scale)` whose sum could wrap. At most 255 sites per round (the Shamir field).

use std::collections::{BTreeMap, BTreeSet};

use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// Errors of secure aggregation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Parameters that cannot work (too many sites, a sum that could wrap, …).
    #[error("secure aggregation configuration: {0}")]
    Config(String),
    /// Fewer sites are left than the threshold: the round must fail (and does, without
    /// revealing anything).
    #[error("secure aggregation: {have} sites at the {stage} stage, {need} needed")]
    TooFewSites {
        /// Protocol stage.
        stage: &'static str,
        /// Sites present.
        have: usize,
        /// The threshold `t`.
        need: usize,
    },
    /// A message that does not fit the round (unknown site, wrong length, repeated, …).
    #[error("secure aggregation: bad message: {0}")]
    BadMessage(String),
    /// A share did not decrypt or did not reconstruct.
    #[error("secure aggregation: {0}")]
    Crypto(String),
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// A round's parameters, the same at every site and the server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecAggConfig {
    /// Sites invited, `n ≤ 255`; site ids are `0..n`.
    pub sites: usize,
    /// Shamir threshold `t` when every invited site advertises; the round's own threshold is
    /// [`threshold_for`](Self::threshold_for) the sites that did.
    pub threshold: usize,
    /// Entries per input vector.
    pub dim: usize,
    /// Fixed-point steps per unit.
    pub scale: f32,
    /// Each entry is clamped to `[−clip, clip]` before encoding.
    pub clip: f32,
    /// Fewest sites that must advertise for the round to go on (at least 2 when more than one
    /// site is invited). Every site checks it before sharing keys, so a server cannot run a
    /// "sum" over one real site and a site of its own making to learn that site's input. The
    /// federation sets it to its quorum ([`with_min_advertised`](Self::with_min_advertised)).
    #[serde(default)]
    pub min_advertised: usize,
}

impl SecAggConfig {
    /// `n` sites with threshold `n − ⌊n/3⌋` (a third may drop), `dim` entries, fixed point
    /// `scale` and `clip`.
    ///
    /// # Errors
    /// [`Error::Config`] for no sites or more than 255, a non-positive scale or clip, or when
    /// `n·clip·scale` reaches 2⁶³ (the sum could wrap).
    pub fn for_clients(sites: usize, dim: usize, scale: f32, clip: f32) -> Result<Self> {
        if sites == 0 || sites > 255 {
            return Err(Error::Config(format!(
                "1 to 255 sites per round, got {sites}"
            )));
        }
        if !(scale.is_finite() && scale > 0.0 && clip.is_finite() && clip > 0.0) {
            return Err(Error::Config(format!(
                "scale and clip must be finite and > 0, got {scale}, {clip}"
            )));
        }
        if sites as f64 * f64::from(clip) * f64::from(scale) >= 2f64.powi(62) {
            return Err(Error::Config(format!(
                "{sites} sites × clip {clip} × scale {scale} could wrap the 64-bit sum"
            )));
        }
        Ok(SecAggConfig {
            sites,
            threshold: sites - sites / 3,
            min_advertised: 2,
            dim,
            scale,
            clip,
        })
    }

    /// The threshold of a round in which `advertised` sites sent keys: `n − ⌊n/3⌋` of them,
    /// so a third may drop, and always more than half.
    pub fn threshold_for(&self, advertised: usize) -> usize {
        advertised - advertised / 3
    }

    /// Fewest sites that must advertise for a round to go on: the configured
    /// [`min_advertised`](Self::min_advertised) field, never below two (a sum of one is that
    /// site's update) unless only one site is invited, never above the sites invited.
    pub fn min_advertised(&self) -> usize {
        self.min_advertised.max(2).min(self.sites)
    }

    /// The same round needing at least `n` advertising sites.
    #[must_use]
    pub fn with_min_advertised(mut self, n: usize) -> Self {
        self.min_advertised = n;
        self
    }

    fn encode(&self, x: f32) -> u64 {
        let v = if x.is_nan() {
            0.0
        } else {
            x.clamp(-self.clip, self.clip)
        };
        ((f64::from(v) * f64::from(self.scale)).round() as i64) as u64
    }

    fn decode(&self, v: u64) -> f32 {
        (v as i64 as f64 / f64::from(self.scale)) as f32
    }
}

/// Round 0: a site's two public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertiseKeys {
    /// Site id, `< sites`.
    pub site: u32,
    /// Public key for share encryption.
    pub cipher_pk: [u8; 32],
    /// Public key for mask agreement.
    pub mask_pk: [u8; 32],
    /// SHA-256 commitment to the self-mask seed `b` ([`commit_self_mask`]): the server checks
    /// the `b` it rebuilds against it.
    pub self_mask_commitment: [u8; 32],
}

/// Round 1: one site's encrypted shares, one per peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareKeys {
    /// Sender.
    pub site: u32,
    /// Ciphertexts, one per other site of the advertised set.
    pub shares: Vec<EncryptedShare>,
}

/// Shares of `from`'s two secrets for `to`, encrypted so only `to` reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    /// Owner of the shared secrets.
    pub from: u32,
    /// Holder of the shares.
    pub to: u32,
    /// ChaCha20-Poly1305 ciphertext of the two shares (with its tag).
    pub ciphertext: Vec<u8>,
}

/// Round 2: a site's masked input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedInput {
    /// Sender.
    pub site: u32,
    /// `y_u` in ℤ/2⁶⁴, `dim` entries.
    pub masked: Vec<u64>,
}

/// A Shamir share of a 32-byte secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The x-coordinate (holder's site id + 1).
    pub x: u8,
    /// The polynomial's values at `x`, byte by byte.
    pub y: [u8; 32],
}

/// Round 3: a survivor's shares for the server to unmask with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmask {
    /// Sender.
    pub site: u32,
    /// Shares of the self-mask seed `b_u` of each surviving `u`.
    pub self_mask_shares: Vec<(u32, Share)>,
    /// Shares of the mask secret key of each dropped `u`.
    pub key_shares: Vec<(u32, Share)>,
}

/// One site's side of a round. Its secrets never leave it except as shares.
pub struct SecAggClient {
    site: u32,
    config: SecAggConfig,
    cipher_sk: StaticSecret,
    mask_sk: StaticSecret,
    self_seed: [u8; 32],
    rng: ChaCha20Rng,
    adverts: BTreeMap<u32, AdvertiseKeys>,
    /// Decrypted shares held for peers: `from → (share of b_from, share of s_from)`.
    held: BTreeMap<u32, (Share, Share)>,
    /// `U₁` as this site saw it when masking.
    shared: BTreeSet<u32>,
    masked: bool,
    /// The round-1 message, sent once (a second draw would reuse the AEAD nonce).
    share_msg: Option<ShareKeys>,
    /// The survivors this site unmasked for: never a second, different set.
    unmasked_for: Option<BTreeSet<u32>>,
    /// The round's threshold, fixed by the adverts (0 before them).
    threshold: usize,
}

impl std::fmt::Debug for SecAggClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecAggClient")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl SecAggClient {
    /// A site's fresh keys for one round, drawn from the operating system's randomness: what a
    /// real site calls. Returns the round-0 message.
    ///
    /// # Errors
    /// [`Error::Config`] when `site ≥ sites`.
    pub fn from_os_randomness(site: u32, config: SecAggConfig) -> Result<(Self, AdvertiseKeys)> {
        let mut rng: ChaCha20Rng = rand::make_rng();
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::new(site, config, seed)
    }

    /// A site's keys for one round from a 32-byte seed. The keys are as secret as the seed:
    /// pass 32 bytes of OS randomness (or use [`from_os_randomness`](Self::from_os_randomness));
    /// tests and simulations pass fixed seeds. Returns the round-0 message.
    ///
    /// # Errors
    /// [`Error::Config`] when `site ≥ sites`.
    pub fn new(site: u32, config: SecAggConfig, seed: [u8; 32]) -> Result<(Self, AdvertiseKeys)> {
        if site as usize >= config.sites {
            return Err(Error::Config(format!(
                "site {site} outside 0..{}",
                config.sites
            )));
        }
        let mut rng = ChaCha20Rng::from_seed(seed);
        let cipher_sk = StaticSecret::random_from_rng(&mut rng);
        let mask_sk = StaticSecret::random_from_rng(&mut rng);
        let mut self_seed = [0u8; 32];
        rng.fill_bytes(&mut self_seed);
        let advert = AdvertiseKeys {
            site,
            cipher_pk: PublicKey::from(&cipher_sk).to_bytes(),
            mask_pk: PublicKey::from(&mask_sk).to_bytes(),
            self_mask_commitment: commit_self_mask(&self_seed),
        };
        let client = SecAggClient {
            site,
            config,
            cipher_sk,
            mask_sk,
            self_seed,
            rng,
            adverts: BTreeMap::new(),
            held: BTreeMap::new(),
            shared: BTreeSet::new(),
            masked: false,
            share_msg: None,
            unmasked_for: None,
            threshold: 0,
        };
        Ok((client, advert))
    }

    /// Round 1: shares of `b` and of the mask key for every advertised peer, encrypted.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] below the threshold; [`Error::BadMessage`] for repeated or
    /// unknown sites, or when this site is not among the adverts.
    pub fn share_keys(&mut self, adverts: &[AdvertiseKeys]) -> Result<ShareKeys> {
        if let Some(msg) = &self.share_msg {
            return Ok(msg.clone());
        }
        let mut by_site = BTreeMap::new();
        for a in adverts {
            if a.site as usize >= self.config.sites || by_site.insert(a.site, a.clone()).is_some() {
                return Err(Error::BadMessage(format!(
                    "advert of site {} unknown or repeated",
                    a.site
                )));
            }
        }
        if by_site.len() < self.config.min_advertised() {
            return Err(Error::TooFewSites {
                stage: "advertise",
                have: by_site.len(),
                need: self.config.min_advertised(),
            });
        }
        if !by_site.contains_key(&self.site) {
            return Err(Error::BadMessage(format!(
                "site {} is not among the adverts",
                self.site
            )));
        }
        let xs: Vec<u8> = by_site.keys().map(|&s| s as u8 + 1).collect();
        let t = self.config.threshold_for(by_site.len());
        self.threshold = t;
        let b_shares = shamir::split(&self.self_seed, t, &xs, &mut self.rng);
        let s_shares = shamir::split(&self.mask_sk.to_bytes(), t, &xs, &mut self.rng);
        let mut shares = Vec::with_capacity(by_site.len());
        for ((peer, advert), (b, s)) in by_site.iter().zip(b_shares.into_iter().zip(s_shares)) {
            if *peer == self.site {
                self.held.insert(self.site, (b, s));
                continue;
            }
            let key = self.channel_key(&advert.cipher_pk, self.site, *peer);
            let mut plain = Vec::with_capacity(66);
            for share in [&b, &s] {
                plain.push(share.x);
                plain.extend_from_slice(&share.y);
            }
            shares.push(EncryptedShare {
                from: self.site,
                to: *peer,
                ciphertext: seal(&key, &plain, self.site, *peer)?,
            });
        }
        self.adverts = by_site;
        let msg = ShareKeys {
            site: self.site,
            shares,
        };
        self.share_msg = Some(msg.clone());
        Ok(msg)
    }

    /// The AEAD key of the ordered pair (from, to), from the `c` agreement.
    fn channel_key(&self, peer_cipher_pk: &[u8; 32], from: u32, to: u32) -> [u8; 32] {
        let shared = self
            .cipher_sk
            .diffie_hellman(&PublicKey::from(*peer_cipher_pk));
        derive(
            shared.as_bytes(),
            &[
                b"wardstream secagg shares",
                &from.to_le_bytes()[..],
                &to.to_le_bytes()[..],
            ],
        )
    }

    /// Round 2: decrypt the shares addressed to this site (`inbox`, every `U₁` sender's) and
    /// mask `input`.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] when fewer than `t` sites shared; [`Error::Crypto`] when a share
    /// does not decrypt; [`Error::BadMessage`] for shares not addressed here or from unknown
    /// sites, or an input of the wrong length.
    pub fn masked_input(&mut self, inbox: &[EncryptedShare], input: &[f32]) -> Result<MaskedInput> {
        if input.len() != self.config.dim {
            return Err(Error::BadMessage(format!(
                "input has {} entries, the round {}",
                input.len(),
                self.config.dim
            )));
        }
        if self.masked {
            return Err(Error::BadMessage(
                "this site already sent its masked input".into(),
            ));
        }
        let mut shared = BTreeSet::from([self.site]);
        for e in inbox {
            let Some(advert) = self.adverts.get(&e.from) else {
                return Err(Error::BadMessage(format!(
                    "share from unadvertised site {}",
                    e.from
                )));
            };
            if e.to != self.site || e.from == self.site || !shared.insert(e.from) {
                return Err(Error::BadMessage(format!(
                    "share {} → {} does not belong here",
                    e.from, e.to
                )));
            }
            let key = self.channel_key(&advert.cipher_pk, e.from, self.site);
            let plain = open(&key, &e.ciphertext, e.from, self.site)?;
            if plain.len() != 66 {
                return Err(Error::Crypto(format!(
                    "share from site {} has {} bytes",
                    e.from,
                    plain.len()
                )));
            }
            let share = |k: usize| Share {
                x: plain[33 * k],
                y: plain[33 * k + 1..33 * (k + 1)]
                    .try_into()
                    .unwrap_or([0; 32]),
            };
            self.held.insert(e.from, (share(0), share(1)));
        }
        if shared.len() < self.threshold {
            return Err(Error::TooFewSites {
                stage: "share keys",
                have: shared.len(),
                need: self.threshold,
            });
        }
        let mut y: Vec<u64> = input.iter().map(|&v| self.config.encode(v)).collect();
        add_stream(&mut y, &prg_seed(&self.self_seed, b"self"), false);
        for &peer in &shared {
            if peer == self.site {
                continue;
            }
            let seed = pair_seed(&self.mask_sk, &self.adverts[&peer].mask_pk, self.site, peer);
            add_stream(&mut y, &seed, self.site > peer);
        }
        self.shared = shared;
        self.masked = true;
        Ok(MaskedInput {
            site: self.site,
            masked: y,
        })
    }

    /// Round 3: the shares the server needs, given the survivors `U₂`.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] when `U₂` is below the threshold (refusing protects the
    /// dropped sites' inputs); [`Error::BadMessage`] before masking, or when `U₂` names a
    /// site outside `U₁` or leaves out this one.
    pub fn unmask(&mut self, survivors: &[u32]) -> Result<Unmask> {
        if !self.masked {
            return Err(Error::BadMessage("unmask before masking".into()));
        }
        let survivors: BTreeSet<u32> = survivors.iter().copied().collect();
        if survivors.len() < self.threshold {
            return Err(Error::TooFewSites {
                stage: "unmask",
                have: survivors.len(),
                need: self.threshold,
            });
        }
        if !survivors.is_subset(&self.shared) || !survivors.contains(&self.site) {
            return Err(Error::BadMessage(
                "survivors must be sites that shared keys, this one among them".into(),
            ));
        }
        // Shares for two different survivor sets could hand out both secrets of one site.
        match &self.unmasked_for {
            Some(earlier) if *earlier != survivors => {
                return Err(Error::BadMessage(
                    "already unmasked for another set of survivors".into(),
                ));
            }
            _ => self.unmasked_for = Some(survivors.clone()),
        }
        let (mut self_mask_shares, mut key_shares) = (Vec::new(), Vec::new());
        for &u in &self.shared {
            let Some((b, s)) = self.held.get(&u) else {
                continue;
            };
            if survivors.contains(&u) {
                self_mask_shares.push((u, b.clone()));
            } else {
                key_shares.push((u, s.clone()));
            }
        }
        Ok(Unmask {
            site: self.site,
            self_mask_shares,
            key_shares,
        })
    }
}

/// The server's side of a round: it relays and sums, and sees only masked vectors.
#[derive(Debug, Clone)]
pub struct SecAggServer {
    config: SecAggConfig,
    adverts: BTreeMap<u32, AdvertiseKeys>,
    shares: BTreeMap<u32, Vec<EncryptedShare>>,
    masked: BTreeMap<u32, Vec<u64>>,
    unmasks: BTreeMap<u32, Unmask>,
}

impl SecAggServer {
    /// A round with `config`.
    pub fn new(config: SecAggConfig) -> Self {
        SecAggServer {
            config,
            adverts: BTreeMap::new(),
            shares: BTreeMap::new(),
            masked: BTreeMap::new(),
            unmasks: BTreeMap::new(),
        }
    }

    /// Messages in so far: adverts, share sets (`|U₁|`), masked inputs (`|U₂|`), unmask replies.
    pub fn counts(&self) -> [usize; 4] {
        [
            self.adverts.len(),
            self.shares.len(),
            self.masked.len(),
            self.unmasks.len(),
        ]
    }

    /// The round's parameters.
    pub fn config(&self) -> &SecAggConfig {
        &self.config
    }

    /// The round's threshold `t`, set by the sites that advertised so far (final once the
    /// advertise stage is closed).
    pub fn threshold(&self) -> usize {
        self.config.threshold_for(self.adverts.len())
    }

    fn known(&self, site: u32) -> Result<()> {
        if site as usize >= self.config.sites {
            return Err(Error::BadMessage(format!(
                "site {site} outside 0..{}",
                self.config.sites
            )));
        }
        Ok(())
    }

    /// Round 0 in.
    ///
    /// # Errors
    /// [`Error::BadMessage`] for an unknown or repeated site.
    pub fn receive_advert(&mut self, advert: AdvertiseKeys) -> Result<()> {
        self.known(advert.site)?;
        if self.adverts.contains_key(&advert.site) {
            return Err(Error::BadMessage(format!(
                "site {} advertised twice",
                advert.site
            )));
        }
        self.adverts.insert(advert.site, advert);
        Ok(())
    }

    /// Round 0 out: every advert, for every site.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] below [`SecAggConfig::min_advertised`].
    pub fn adverts(&self) -> Result<Vec<AdvertiseKeys>> {
        let need = self.config.min_advertised();
        if self.adverts.len() < need {
            return Err(Error::TooFewSites {
                stage: "advertise",
                have: self.adverts.len(),
                need,
            });
        }
        Ok(self.adverts.values().cloned().collect())
    }

    fn at_least(&self, stage: &'static str, have: usize) -> Result<()> {
        if have < self.threshold() {
            return Err(Error::TooFewSites {
                stage,
                have,
                need: self.threshold(),
            });
        }
        Ok(())
    }

    /// Round 1 in.
    ///
    /// # Errors
    /// [`Error::BadMessage`] for a site that did not advertise, sent twice, or whose shares
    /// are not one per other advertised site, from itself.
    pub fn receive_shares(&mut self, msg: ShareKeys) -> Result<()> {
        if !self.adverts.contains_key(&msg.site) || self.shares.contains_key(&msg.site) {
            return Err(Error::BadMessage(format!(
                "shares of site {} unexpected",
                msg.site
            )));
        }
        let to: BTreeSet<u32> = msg.shares.iter().map(|e| e.to).collect();
        let expected: BTreeSet<u32> = self
            .adverts
            .keys()
            .copied()
            .filter(|&s| s != msg.site)
            .collect();
        if to != expected
            || to.len() != msg.shares.len()
            || msg
                .shares
                .iter()
                .any(|e| e.from != msg.site || e.ciphertext.len() != SEALED_SHARES_LEN)
        {
            return Err(Error::BadMessage(format!(
                "site {} must send one {SEALED_SHARES_LEN}-byte ciphertext to each other site",
                msg.site
            )));
        }
        self.shares.insert(msg.site, msg.shares);
        Ok(())
    }

    /// Round 1 out: the ciphertexts addressed to `site` from every site that shared (`U₁`).
    ///
    /// # Errors
    /// [`Error::TooFewSites`] when `U₁` is below the threshold.
    pub fn inbox(&self, site: u32) -> Result<Vec<EncryptedShare>> {
        self.at_least("share keys", self.shares.len())?;
        Ok(self
            .shares
            .iter()
            .filter(|(from, _)| **from != site)
            .flat_map(|(_, list)| list.iter().filter(|e| e.to == site).cloned())
            .collect())
    }

    /// Round 2 in.
    ///
    /// # Errors
    /// [`Error::BadMessage`] for a site outside `U₁`, twice, or of the wrong length.
    pub fn receive_masked(&mut self, msg: MaskedInput) -> Result<()> {
        if !self.shares.contains_key(&msg.site) || self.masked.contains_key(&msg.site) {
            return Err(Error::BadMessage(format!(
                "masked input of site {} unexpected",
                msg.site
            )));
        }
        if msg.masked.len() != self.config.dim {
            return Err(Error::BadMessage(format!(
                "masked input has {} entries, not {}",
                msg.masked.len(),
                self.config.dim
            )));
        }
        self.masked.insert(msg.site, msg.masked);
        Ok(())
    }

    /// Round 2 out: the survivors `U₂`.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] when `U₂` is below the threshold.
    pub fn survivors(&self) -> Result<Vec<u32>> {
        self.at_least("masked input", self.masked.len())?;
        Ok(self.masked.keys().copied().collect())
    }

    /// Round 3 in.
    ///
    /// # Errors
    /// [`Error::BadMessage`] for a site outside `U₂` or twice, or a reply that is not one
    /// share of its own (`x` = its id + 1) per owner: of `b_u` for survivors, of the key for
    /// sites that shared and dropped, never both for one site.
    pub fn receive_unmask(&mut self, msg: Unmask) -> Result<()> {
        if !self.masked.contains_key(&msg.site) || self.unmasks.contains_key(&msg.site) {
            return Err(Error::BadMessage(format!(
                "unmask of site {} unexpected",
                msg.site
            )));
        }
        let x = msg.site as u8 + 1;
        let mut owners = BTreeSet::new();
        let self_ok = msg.self_mask_shares.iter().all(|(owner, share)| {
            share.x == x && self.masked.contains_key(owner) && owners.insert(*owner)
        });
        let key_ok = msg.key_shares.iter().all(|(owner, share)| {
            share.x == x
                && self.shares.contains_key(owner)
                && !self.masked.contains_key(owner)
                && owners.insert(*owner)
        });
        if !(self_ok && key_ok) {
            return Err(Error::BadMessage(format!(
                "unmask of site {}: shares must be its own, one per owner, of b for survivors \
                 and of the key for dropped sites",
                msg.site
            )));
        }
        self.unmasks.insert(msg.site, msg);
        Ok(())
    }

    /// The sum of the survivors' inputs, decoded, with the survivors.
    ///
    /// # Errors
    /// [`Error::TooFewSites`] with fewer than `t` unmask replies; [`Error::Crypto`] when a
    /// secret does not rebuild.
    pub fn finish(&self) -> Result<(Vec<f32>, Vec<u32>)> {
        self.at_least("unmask", self.unmasks.len())?;
        let survivors: BTreeSet<u32> = self.masked.keys().copied().collect();
        let dropped: Vec<u32> = self
            .shares
            .keys()
            .copied()
            .filter(|s| !survivors.contains(s))
            .collect();
        let mut sum = vec![0u64; self.config.dim];
        for y in self.masked.values() {
            for (s, v) in sum.iter_mut().zip(y) {
                *s = s.wrapping_add(*v);
            }
        }
        let t = self.threshold();
        let collect = |u: u32, self_mask: bool| -> Vec<Share> {
            self.unmasks
                .values()
                .filter_map(|m| {
                    let list = if self_mask {
                        &m.self_mask_shares
                    } else {
                        &m.key_shares
                    };
                    list.iter()
                        .find(|(owner, _)| *owner == u)
                        .map(|(_, s)| s.clone())
                })
                .take(t)
                .collect()
        };
        for &u in &survivors {
            let shares = collect(u, true);
            if shares.len() < t {
                return Err(Error::Crypto(format!(
                    "{} shares of site {u}'s self-mask, {t} needed",
                    shares.len()
                )));
            }
            let b = shamir::combine(&shares)?;
            if commit_self_mask(&b) != self.adverts[&u].self_mask_commitment {
                return Err(Error::Crypto(format!(
                    "site {u}'s self-mask seed does not match its commitment"
                )));
            }
            add_stream(&mut sum, &prg_seed(&b, b"self"), true);
        }
        for &u in &dropped {
            let shares = collect(u, false);
            if shares.len() < t {
                return Err(Error::Crypto(format!(
                    "{} shares of dropped site {u}'s key, {t} needed",
                    shares.len()
                )));
            }
            let sk = StaticSecret::from(shamir::combine(&shares)?);
            if PublicKey::from(&sk).to_bytes() != self.adverts[&u].mask_pk {
                return Err(Error::Crypto(format!(
                    "dropped site {u}'s key does not match its advert"
                )));
            }
            for &v in &survivors {
                // v added −PRG(s_vu) when v > u, +PRG(s_vu) when v < u: take it back.
                let seed = pair_seed(&sk, &self.adverts[&v].mask_pk, u, v);
                add_stream(&mut sum, &seed, v < u);
            }
        }
        let decoded = sum.into_iter().map(|v| self.config.decode(v)).collect();
        Ok((decoded, survivors.into_iter().collect()))
    }
}

/// Runs a whole round in one process: sites `0..inputs.len()`, those in `dropped` leave after
/// sharing keys (the case that needs recovery). Returns the sum of the other sites' inputs.
///
/// # Errors
/// Any protocol error, e.g. [`Error::TooFewSites`] when more than `n − t` drop.
pub fn aggregate_in_process(
    inputs: &[Vec<f32>],
    dropped: &[usize],
    config: &SecAggConfig,
    seed: u64,
) -> Result<Vec<f32>> {
    if inputs.len() != config.sites {
        return Err(Error::Config(format!(
            "{} inputs for a round of {} sites",
            inputs.len(),
            config.sites
        )));
    }
    let mut server = SecAggServer::new(*config);
    let mut clients = Vec::with_capacity(inputs.len());
    for site in 0..inputs.len() {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&(site as u64).to_le_bytes());
        let (client, advert) = SecAggClient::new(
            site as u32,
            *config,
            derive(&bytes, &[b"wardstream secagg simulation"]),
        )?;
        server.receive_advert(advert)?;
        clients.push(client);
    }
    let adverts = server.adverts()?;
    for client in &mut clients {
        server.receive_shares(client.share_keys(&adverts)?)?;
    }
    let dropped: BTreeSet<usize> = dropped.iter().copied().collect();
    for (k, client) in clients.iter_mut().enumerate() {
        if !dropped.contains(&k) {
            let inbox = server.inbox(k as u32)?;
            server.receive_masked(client.masked_input(&inbox, &inputs[k])?)?;
        }
    }
    let survivors = server.survivors()?;
    for &s in &survivors {
        server.receive_unmask(clients[s as usize].unmask(&survivors)?)?;
    }
    Ok(server.finish()?.0)
}

/// Bytes of one sealed pair of shares: two `(x, y)` shares of 33 bytes and the 16-byte tag.
const SEALED_SHARES_LEN: usize = 2 * 33 + 16;

/// The commitment an advert carries to a self-mask seed:
/// `SHA-256("wardstream secagg self-mask" ‖ b)`.
pub fn commit_self_mask(seed: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = Sha256::new();
    hash.update(b"wardstream secagg self-mask");
    hash.update(seed);
    hash.finalize().into()
}

/// HKDF-SHA256 of `ikm` with `info` parts, 32 bytes.
fn derive(ikm: &[u8], info: &[&[u8]]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(None, ikm);
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
    if hk.expand_multi_info(info, &mut out).is_err() {
        unreachable!("HKDF-SHA256 expands 32 bytes");
    }
    out
}

fn prg_seed(secret: &[u8; 32], label: &[u8]) -> [u8; 32] {
    derive(secret, &[b"wardstream secagg prg", label])
}

/// The PRG seed of the unordered pair {a, b} from `sk`'s agreement with `peer_pk`.
fn pair_seed(sk: &StaticSecret, peer_pk: &[u8; 32], a: u32, b: u32) -> [u8; 32] {
    let shared = sk.diffie_hellman(&PublicKey::from(*peer_pk));
    let (lo, hi) = (a.min(b), a.max(b));
    derive(
        shared.as_bytes(),
        &[
            b"wardstream secagg pair",
            &lo.to_le_bytes()[..],
            &hi.to_le_bytes()[..],
        ],
    )
}

/// `acc ± ChaCha20(seed)` entry by entry in ℤ/2⁶⁴.
fn add_stream(acc: &mut [u64], seed: &[u8; 32], subtract: bool) {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    for a in acc.iter_mut() {
        let m = rng.next_u64();
        *a = if subtract {
            a.wrapping_sub(m)
        } else {
            a.wrapping_add(m)
        };
    }
}

fn seal(key: &[u8; 32], plain: &[u8], from: u32, to: u32) -> Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(key.into());
    let aad = [from.to_le_bytes(), to.to_le_bytes()].concat();
    // The key is fresh per round and per ordered pair, so a zero nonce is never reused.
    cipher
        .encrypt(
            &[0u8; 12].into(),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| Error::Crypto("share encryption failed".into()))
}

fn open(key: &[u8; 32], ciphertext: &[u8], from: u32, to: u32) -> Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(key.into());
    let aad = [from.to_le_bytes(), to.to_le_bytes()].concat();
    cipher
        .decrypt(
            &[0u8; 12].into(),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| Error::Crypto(format!("share {from} → {to} failed authentication")))
}

/// Shamir secret sharing of 32-byte secrets over GF(2⁸) (AES polynomial x⁸+x⁴+x³+x+1), each
/// byte with its own random polynomial of degree `t − 1` (Shamir 1979, "How to Share a
/// Secret", CACM 22(11)).
pub mod shamir;

#[cfg(test)]
mod tests;
