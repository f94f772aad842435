//! Shamir secret sharing of 32-byte secrets over GF(2⁸) (AES polynomial x⁸+x⁴+x³+x+1), each
//! byte with its own random polynomial of degree `t − 1` (Shamir 1979, "How to Share a
//! Secret", CACM 22(11)).

use chacha20::rand_core::Rng;

use super::{Error, Result, Share};

const fn tables() -> ([u8; 256], [u8; 256]) {
    let (mut exp, mut log) = ([0u8; 256], [0u8; 256]);
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        // Multiply by the generator 3: x·2 ⊕ x, reduced.
        let mut doubled = x << 1;
        if doubled & 0x100 != 0 {
            doubled ^= 0x11b;
        }
        x = doubled ^ x;
        i += 1;
    }
    exp[255] = exp[0];
    (exp, log)
}
const TABLES: ([u8; 256], [u8; 256]) = tables();

fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    let (exp, log) = &TABLES;
    exp[(log[a as usize] as usize + log[b as usize] as usize) % 255]
}

fn inv(a: u8) -> u8 {
    let (exp, log) = &TABLES;
    exp[(255 - log[a as usize] as usize) % 255]
}

/// Shares of `secret` at the non-zero, distinct x-coordinates `xs`; any `t` rebuild it.
pub fn split(secret: &[u8; 32], t: usize, xs: &[u8], rng: &mut impl Rng) -> Vec<Share> {
    let t = t.max(1);
    // coefficients[byte][k] of x^k; the constant term is the secret byte.
    let mut coefficients = vec![[0u8; 32]; t];
    coefficients[0] = *secret;
    for c in coefficients.iter_mut().skip(1) {
        rng.fill_bytes(c);
    }
    xs.iter()
        .map(|&x| {
            let mut y = [0u8; 32];
            for (byte, out) in y.iter_mut().enumerate() {
                // Horner from the highest coefficient.
                let mut acc = 0u8;
                for c in coefficients.iter().rev() {
                    acc = mul(acc, x) ^ c[byte];
                }
                *out = acc;
            }
            Share { x, y }
        })
        .collect()
}

/// The secret from shares at distinct non-zero x (Lagrange at 0). With fewer than `t`
/// shares the result is unrelated to the secret.
///
/// # Errors
/// [`Error::Crypto`] for no shares, a zero or repeated x.
pub fn combine(shares: &[Share]) -> Result<[u8; 32]> {
    if shares.is_empty() {
        return Err(Error::Crypto("no shares to combine".into()));
    }
    for (i, s) in shares.iter().enumerate() {
        if s.x == 0 || shares[..i].iter().any(|o| o.x == s.x) {
            return Err(Error::Crypto(format!("share x = {} zero or repeated", s.x)));
        }
    }
    let mut secret = [0u8; 32];
    for (i, si) in shares.iter().enumerate() {
        // ℓ_i(0) = Π_{j≠i} x_j / (x_j − x_i); subtraction is ⊕ in GF(2⁸).
        let mut l = 1u8;
        for (j, sj) in shares.iter().enumerate() {
            if i != j {
                l = mul(l, mul(sj.x, inv(sj.x ^ si.x)));
            }
        }
        for (out, &y) in secret.iter_mut().zip(&si.y) {
            *out ^= mul(l, y);
        }
    }
    Ok(secret)
}
