//! The poller's keys: which descriptor an event is for.
//!
//! `polling` hands back a plain `usize` per event; [`Key`] is what it stands for. A key is its kind
//! in the high half of the word and an index (a connection slot, a collector's position) in the low
//! half, so kinds never overlap however many of each there are, and a key that decodes to nothing
//! is an event for a descriptor already gone.

/// Bits of a key that hold the index.
const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

const SIGNALS: usize = 1;
const STDOUT: usize = 2;
const ENGINE: usize = 3;
const COLLECTOR: usize = 4;
const INOTIFY: usize = 5;
const TASK_EXIT: usize = 6;
const TAP: usize = 7;
const NFLOG: usize = 8;

/// What a poller event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// The signalfd.
    Signals,
    /// Standard output, for `--print`.
    Stdout,
    /// A connection to the engine, by its slot.
    Engine(usize),
    /// A collector's socket, by its position in the configuration.
    Collector(usize),
    /// The containerd source's inotify descriptor.
    Inotify,
    /// A containerd task's pidfd, by its token.
    TaskExit(usize),
    /// A packet sampling socket, by its tap's index.
    Tap(usize),
    /// The NFLOG netlink socket.
    Nflog,
}

impl Key {
    /// The poller's word for this key. Indices are taken modulo 2^32 (2^16 on 32-bit targets):
    /// far more connections and collectors than the agent ever opens.
    pub const fn encode(self) -> usize {
        let (kind, index) = match self {
            Key::Signals => (SIGNALS, 0),
            Key::Stdout => (STDOUT, 0),
            Key::Engine(i) => (ENGINE, i),
            Key::Collector(i) => (COLLECTOR, i),
            Key::Inotify => (INOTIFY, 0),
            Key::TaskExit(i) => (TASK_EXIT, i),
            Key::Tap(i) => (TAP, i),
            Key::Nflog => (NFLOG, 0),
        };
        (kind << INDEX_BITS) | (index & INDEX_MASK)
    }

    /// The key a poller word stands for; `None` for a word no key encodes to.
    pub const fn decode(word: usize) -> Option<Key> {
        let index = word & INDEX_MASK;
        match word >> INDEX_BITS {
            SIGNALS if index == 0 => Some(Key::Signals),
            STDOUT if index == 0 => Some(Key::Stdout),
            ENGINE => Some(Key::Engine(index)),
            COLLECTOR => Some(Key::Collector(index)),
            INOTIFY if index == 0 => Some(Key::Inotify),
            TASK_EXIT => Some(Key::TaskExit(index)),
            TAP => Some(Key::Tap(index)),
            NFLOG if index == 0 => Some(Key::Nflog),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_decodes_to_itself() {
        for key in [
            Key::Signals,
            Key::Stdout,
            Key::Engine(0),
            Key::Engine(11),
            Key::Collector(0),
            Key::Collector(7),
            Key::Inotify,
            Key::TaskExit(0),
            Key::TaskExit(9),
            Key::Tap(0),
            Key::Tap(99),
            Key::Nflog,
        ] {
            assert_eq!(Key::decode(key.encode()), Some(key));
        }
    }

    #[test]
    fn kinds_never_overlap() {
        assert_ne!(Key::Engine(0).encode(), Key::Collector(0).encode());
        assert_ne!(Key::Signals.encode(), Key::Engine(0).encode());
        assert_eq!(Key::decode(0), None);
        assert_eq!(Key::decode(usize::MAX), None);
        assert_eq!(Key::decode(Key::Signals.encode() + 1), None);
    }
}
