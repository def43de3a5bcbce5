//! A small random number generator for spreading poll phases and reconnection delays: xorshift64*,
//! seeded from the kernel or by the caller (tests, the engine conversation). Not for anything that
//! needs to be unpredictable.

/// The generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Rng {
        Rng::new()
    }
}

impl Rng {
    /// A generator seeded from the kernel's random bytes.
    pub fn new() -> Rng {
        Rng::from_seed(crate::sys::random_u64())
    }

    /// A generator seeded with `seed` (the same seed gives the same numbers).
    pub fn from_seed(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_below_and_spreads() {
        let mut r = Rng::new();
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let v = r.below(10);
            assert!(v < 10);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn a_seed_repeats() {
        let (mut a, mut b) = (Rng::from_seed(42), Rng::from_seed(42));
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }
}
