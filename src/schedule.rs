//! The one timing rule of every poll, the host's and each container's: a fixed grid.
//!
//! A data source is polled at `first + k × interval` for k = 0, 1, 2, …, where `first` falls on a
//! whole second of the agent's clock ([`POLL_SLOT_MS`]) and `interval` is `polling` seconds. The
//! next deadline is computed from the previous *deadline*, never from the time the loop woke up, so
//! a late wake-up never shifts the polls after it; a loop that fell more than a whole interval
//! behind skips the points it missed and lands on the grid again. Every data source due in the same
//! second is then polled in one wake-up and its samples leave together in full datagrams, as the
//! reference agent's one-second tick does (on the benchmark machine a wake-up alone cost ~60 µs of
//! CPU, five times a container's whole sample).
//!
//! Pure arithmetic on milliseconds: no clock is read here, nothing panics, nothing overflows before
//! the year 584 million.

/// Poll deadlines fall on whole multiples of this many milliseconds of the agent's clock.
pub const POLL_SLOT_MS: u64 = 1000;

/// A poll interval: `polling` seconds as milliseconds, computed once per configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(u64);

impl Interval {
    /// `polling` seconds; `None` for 0, which turns polling off.
    pub const fn from_secs(polling: u32) -> Option<Interval> {
        if polling == 0 {
            None
        } else {
            Some(Interval(polling as u64 * POLL_SLOT_MS))
        }
    }

    /// The interval in milliseconds (a whole multiple of [`POLL_SLOT_MS`], never 0).
    pub const fn ms(self) -> u64 {
        self.0
    }

    /// The first deadline of a data source that appears at `now`: `phase` milliseconds on (taken
    /// modulo the interval, so callers may pass any random number), rounded up to a whole second.
    /// Random phases spread data sources over the interval at one-second resolution.
    pub const fn first(self, now: u64, phase: u64) -> u64 {
        (now.saturating_add(phase % self.0)).div_ceil(POLL_SLOT_MS) * POLL_SLOT_MS
    }

    /// The deadline after `due`, the one just polled, at `now`: the next point of `due`'s grid
    /// that is later than `now`. On time or late by less than an interval, that is
    /// `due + interval`.
    pub const fn next(self, due: u64, now: u64) -> u64 {
        let next = due.saturating_add(self.0);
        if next > now {
            next
        } else {
            let missed = (now - next) / self.0 + 1;
            next.saturating_add(missed.saturating_mul(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn zero_turns_polling_off() {
        assert_eq!(Interval::from_secs(0), None);
        assert_eq!(Interval::from_secs(30).map(Interval::ms), Some(30_000));
    }

    #[test]
    fn first_deadlines_fall_on_whole_seconds_within_one_interval() {
        let i = Interval::from_secs(30).unwrap();
        let mut rng = Rng::from_seed(7);
        for now in [0, 1, 999, 1000, 123_456] {
            for _ in 0..1000 {
                let first = i.first(now, rng.next_u64());
                assert_eq!(first % POLL_SLOT_MS, 0);
                assert!(
                    first >= now && first < now + 30_000 + POLL_SLOT_MS,
                    "{now} {first}"
                );
            }
        }
    }

    /// The loop wakes up late by 1 ms to 900 ms at every deadline: the grid holds, every poll is
    /// exactly one interval after the last, none is lost.
    #[test]
    fn late_wake_ups_never_shift_the_grid() {
        let mut rng = Rng::from_seed(42);
        for polling in [1, 2, 5, 30, 300] {
            let i = Interval::from_secs(polling).unwrap();
            let first = i.first(12_345, rng.next_u64());
            let mut due = first;
            for k in 1..=1000u64 {
                let late = 1 + rng.below(900);
                let now = due + late;
                let next = i.next(due, now);
                assert_eq!(
                    next,
                    first + k * i.ms(),
                    "polling {polling}, poll {k}, late {late}"
                );
                due = next;
            }
        }
    }

    /// The case: polling 2 s, wake-ups late by up to 900 ms; 12 polls in 24 s, not 10.
    #[test]
    fn twelve_polls_in_twenty_four_seconds_at_polling_two() {
        let i = Interval::from_secs(2).unwrap();
        let mut rng = Rng::from_seed(3);
        let mut due = i.first(0, 1000);
        let mut polls = Vec::new();
        while due < 24_000 + 1000 {
            polls.push(due);
            let now = due + 1 + rng.below(900);
            due = i.next(due, now);
        }
        assert_eq!(polls.len(), 12);
        assert!(polls.windows(2).all(|w| w[1] - w[0] == 2000));
    }

    #[test]
    fn a_loop_behind_by_intervals_lands_on_the_grid_again() {
        let i = Interval::from_secs(5).unwrap();
        assert_eq!(i.next(10_000, 10_001), 15_000);
        assert_eq!(i.next(10_000, 15_000), 20_000);
        assert_eq!(i.next(10_000, 31_234), 35_000);
        assert_eq!(i.next(u64::MAX - 10, u64::MAX), u64::MAX);
    }
}
