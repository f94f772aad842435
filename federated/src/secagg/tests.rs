//! Secure aggregation's tests: exact sums with and without dropouts, what the server sees,
//! refused and forged messages, Shamir reconstruction.

use super::*;
use proptest::prelude::*;

fn inputs(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| rng.random_range(-2.0f32..2.0)).collect())
        .collect()
}

/// The plain sum in the same fixed point.
fn plain_sum(config: &SecAggConfig, inputs: &[Vec<f32>], skip: &[usize]) -> Vec<f32> {
    let mut sum = vec![0u64; config.dim];
    for (k, x) in inputs.iter().enumerate() {
        if !skip.contains(&k) {
            for (s, v) in sum.iter_mut().zip(x) {
                *s = s.wrapping_add(config.encode(*v));
            }
        }
    }
    sum.into_iter().map(|v| config.decode(v)).collect()
}

#[test]
fn masked_sum_equals_plain_sum_with_and_without_dropouts() {
    let n = 10;
    let config = SecAggConfig::for_clients(n, 257, 1_048_576.0, 8.0).expect("fits");
    assert_eq!(config.threshold, 7);
    let x = inputs(n, 257, 1);
    for dropped in [vec![], vec![4], vec![0, 5, 9]] {
        let sum = aggregate_in_process(&x, &dropped, &config, 42).expect("recovers");
        assert_eq!(sum, plain_sum(&config, &x, &dropped), "dropped {dropped:?}");
    }
    // Four of ten gone: fewer than t = 7 left, the round fails.
    let err = aggregate_in_process(&x, &[1, 2, 3, 4], &config, 42).expect_err("too few");
    assert!(
        matches!(
            err,
            Error::TooFewSites {
                have: 6,
                need: 7,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_server_sees_only_masked_vectors() {
    let n = 4;
    let config = SecAggConfig::for_clients(n, 64, 1024.0, 4.0).expect("fits");
    let x = inputs(n, 64, 2);
    let mut server = SecAggServer::new(config);
    let mut clients: Vec<SecAggClient> = (0..n as u32)
        .map(|s| {
            let (c, a) = SecAggClient::new(s, config, [s as u8 + 1; 32]).expect("site");
            server.receive_advert(a).expect("advert");
            c
        })
        .collect();
    let adverts = server.adverts().expect("enough");
    for c in &mut clients {
        let msg = c.share_keys(&adverts).expect("shares");
        // Nothing in a relayed share is the site's secret in the clear.
        for e in &msg.shares {
            assert!(!e.ciphertext.windows(32).any(|w| w == c.self_seed));
        }
        server.receive_shares(msg).expect("shares in");
    }
    let mut masked = Vec::new();
    for (k, c) in clients.iter_mut().enumerate() {
        let msg = c
            .masked_input(&server.inbox(k as u32).expect("inbox"), &x[k])
            .expect("masks");
        // Masked entries look uniform: the encoded input matches in ~0 of 64 places.
        let same = msg
            .masked
            .iter()
            .zip(&x[k])
            .filter(|(m, v)| **m == config.encode(**v))
            .count();
        assert!(same <= 1, "site {k}: {same} entries unmasked");
        masked.push(msg.masked.clone());
        server.receive_masked(msg).expect("masked in");
    }
    // A share tampered with in transit is caught.
    let mut forged = server.inbox(0).expect("inbox");
    forged[0].ciphertext[3] ^= 1;
    let (mut fresh, _) = SecAggClient::new(0, config, [1; 32]).expect("site");
    fresh.share_keys(&adverts).expect("shares");
    assert!(matches!(
        fresh.masked_input(&forged, &x[0]),
        Err(Error::Crypto(_))
    ));

    let survivors = server.survivors().expect("all");
    for &s in &survivors {
        server
            .receive_unmask(clients[s as usize].unmask(&survivors).expect("unmask"))
            .expect("in");
    }
    let (sum, _) = server.finish().expect("sum");
    assert_eq!(sum, plain_sum(&config, &x, &[]));
    // A site refuses to unmask for a survivor set below the threshold, or for a second,
    // different set (which could reveal both secrets of a site).
    assert!(matches!(
        clients[0].unmask(&[0, 1]),
        Err(Error::TooFewSites { .. })
    ));
    assert!(matches!(
        clients[0].unmask(&[0, 1, 2]),
        Err(Error::BadMessage(_))
    ));
    assert!(
        clients[0].unmask(&survivors).is_ok(),
        "the same set again is a retry"
    );
}

/// Runs a round in which only `advertising` of the invited sites send keys and `dropped`
/// of those leave after sharing; returns the server after the unmask replies.
fn round_with_idle_sites(
    config: SecAggConfig,
    x: &[Vec<f32>],
    advertising: &[u32],
    dropped: &[u32],
) -> (SecAggServer, Vec<Unmask>) {
    let mut server = SecAggServer::new(config);
    let mut clients: BTreeMap<u32, SecAggClient> = BTreeMap::new();
    for &s in advertising {
        let (c, a) = SecAggClient::from_os_randomness(s, config).expect("site");
        server.receive_advert(a).expect("advert");
        clients.insert(s, c);
    }
    let adverts = server.adverts().expect("enough");
    for c in clients.values_mut() {
        server
            .receive_shares(c.share_keys(&adverts).expect("shares"))
            .expect("in");
    }
    for (&s, c) in &mut clients {
        if !dropped.contains(&s) {
            let inbox = server.inbox(s).expect("inbox");
            let msg = c.masked_input(&inbox, &x[s as usize]).expect("masks");
            server.receive_masked(msg).expect("in");
        }
    }
    let survivors = server.survivors().expect("enough survivors");
    let replies = survivors
        .iter()
        .map(|s| {
            clients
                .get_mut(s)
                .expect("client")
                .unmask(&survivors)
                .expect("unmask")
        })
        .collect();
    (server, replies)
}

#[test]
fn sites_that_never_advertise_do_not_count_against_the_threshold() {
    // Ten invited; four stay idle. Of the six that advertise (t = 4), two drop after
    // sharing: the sum of the other four is still exact. With t fixed by the ten invited
    // (7), this round could never finish.
    let config = SecAggConfig::for_clients(10, 33, 1_048_576.0, 8.0).expect("fits");
    let x = inputs(10, 33, 5);
    let advertising = [0, 2, 3, 5, 7, 8];
    let (mut server, replies) = round_with_idle_sites(config, &x, &advertising, &[3, 8]);
    assert_eq!(server.threshold(), 4);
    for r in replies {
        server.receive_unmask(r).expect("in");
    }
    let (sum, survivors) = server.finish().expect("sum");
    assert_eq!(survivors, vec![0, 2, 5, 7]);
    let skip: Vec<usize> = (0..10).filter(|k| ![0, 2, 5, 7].contains(k)).collect();
    assert_eq!(sum, plain_sum(&config, &x, &skip));
}

#[test]
fn malformed_or_forged_unmask_replies_are_refused() {
    let config = SecAggConfig::for_clients(5, 17, 1024.0, 4.0).expect("fits");
    let x = inputs(5, 17, 6);
    let (server, replies) = round_with_idle_sites(config, &x, &[0, 1, 2, 3, 4], &[4]);
    let try_reply = |reply: Unmask| server.clone().receive_unmask(reply);
    // Another holder's x-coordinate.
    let mut wrong_x = replies[0].clone();
    wrong_x.self_mask_shares[0].1.x += 1;
    assert!(matches!(try_reply(wrong_x), Err(Error::BadMessage(_))));
    // Both secrets of one site: its b and its key.
    let mut both = replies[0].clone();
    let (owner, share) = both.self_mask_shares[0].clone();
    both.key_shares.push((owner, share));
    assert!(matches!(try_reply(both), Err(Error::BadMessage(_))));
    // A key share of a survivor, or a b share of the dropped site.
    let mut survivor_key = replies[0].clone();
    let moved = survivor_key.self_mask_shares.remove(0);
    survivor_key.key_shares.push(moved);
    assert!(matches!(try_reply(survivor_key), Err(Error::BadMessage(_))));
    let mut dropped_b = replies[0].clone();
    let moved = dropped_b.key_shares.remove(0);
    dropped_b.self_mask_shares.push(moved);
    assert!(matches!(try_reply(dropped_b), Err(Error::BadMessage(_))));
    // A well-formed reply whose share of a self-mask seed was altered: the rebuilt seed
    // fails its advert's commitment instead of corrupting the sum.
    let mut server = server;
    let mut replies = replies;
    replies[1].self_mask_shares[0].1.y[0] ^= 0x5a;
    for r in replies {
        server.receive_unmask(r).expect("well-formed");
    }
    let err = server.finish().expect_err("caught");
    assert!(
        matches!(&err, Error::Crypto(m) if m.contains("commitment")),
        "{err}"
    );
}

#[test]
fn a_site_will_not_share_keys_with_fewer_sites_than_the_round_requires() {
    // Five invited, quorum 3: a server that shows site 0 only its own advert and one of
    // its making gets a refusal, not a "sum" that is site 0's input.
    let config = SecAggConfig::for_clients(5, 4, 1024.0, 4.0)
        .expect("fits")
        .with_min_advertised(3);
    let (mut victim, own) = SecAggClient::from_os_randomness(0, config).expect("site");
    let (_, planted) = SecAggClient::from_os_randomness(1, config).expect("site");
    assert!(matches!(
        victim.share_keys(&[own.clone(), planted.clone()]),
        Err(Error::TooFewSites {
            have: 2,
            need: 3,
            ..
        })
    ));
    let (_, third) = SecAggClient::from_os_randomness(2, config).expect("site");
    assert!(victim.share_keys(&[own, planted, third]).is_ok());
    // Never below two, never above the sites invited.
    let one = SecAggConfig::for_clients(1, 4, 1024.0, 4.0).expect("fits");
    assert_eq!(
        (
            config.with_min_advertised(0).min_advertised(),
            one.min_advertised()
        ),
        (2, 1)
    );
}

#[test]
fn ciphertexts_of_the_wrong_size_are_refused() {
    let config = SecAggConfig::for_clients(3, 4, 1024.0, 4.0).expect("fits");
    let mut server = SecAggServer::new(config);
    let mut clients = Vec::new();
    for s in 0..3 {
        let (c, a) = SecAggClient::from_os_randomness(s, config).expect("site");
        server.receive_advert(a).expect("advert");
        clients.push(c);
    }
    let adverts = server.adverts().expect("enough");
    let mut msg = clients[0].share_keys(&adverts).expect("shares");
    msg.shares[0].ciphertext.extend_from_slice(&[0; 1 << 16]);
    assert!(matches!(
        server.receive_shares(msg),
        Err(Error::BadMessage(_))
    ));
}

#[test]
fn configurations_that_could_wrap_are_refused() {
    assert!(SecAggConfig::for_clients(256, 1, 1.0, 1.0).is_err());
    assert!(SecAggConfig::for_clients(200, 1, 2f32.powi(40), 2f32.powi(20)).is_err());
    assert!(SecAggConfig::for_clients(0, 1, 1.0, 1.0).is_err());
    let c = SecAggConfig::for_clients(3, 1, 4.0, 1.0).expect("fits");
    assert_eq!(c.decode(c.encode(5.0)), 1.0, "clamped to the clip");
    assert_eq!(c.decode(c.encode(-0.26)), -0.25);
}

proptest! {
    #[test]
    fn any_t_shares_rebuild_the_secret(secret in any::<[u8; 32]>(), n in 1usize..20, seed in any::<[u8; 32]>(), pick in any::<u64>()) {
        let t = n - n / 3;
        let xs: Vec<u8> = (1..=n as u8).collect();
        let mut rng = ChaCha20Rng::from_seed(seed);
        let shares = shamir::split(&secret, t, &xs, &mut rng);
        // A pseudo-random subset of t shares.
        let mut idx: Vec<usize> = (0..n).collect();
        let mut p = pick;
        for i in (1..n).rev() {
            idx.swap(i, (p % (i as u64 + 1)) as usize);
            p = p.rotate_left(7) ^ 0x9e37_79b9;
        }
        let chosen: Vec<Share> = idx[..t].iter().map(|&i| shares[i].clone()).collect();
        prop_assert_eq!(shamir::combine(&chosen).expect("distinct x"), secret);
        if t > 1 {
            let fewer = shamir::combine(&chosen[..t - 1]).expect("distinct x");
            // With t − 1 shares the secret comes out only by chance (2⁻²⁵⁶ per try).
            prop_assert_ne!(fewer, secret);
        }
    }
}
