//! Packet sampling sockets: an `AF_PACKET` socket bound to one interface, with a classic BPF
//! program that keeps one packet in N at random and truncates it, so the kernel copies nothing of
//! the packets it does not keep.
//!
//! The program (`SO_ATTACH_FILTER`) is `ld rand; mod #N; jeq #0 ? keep : drop; keep: ret #snap;
//! drop: ret #0` (with N = 1 just `ret #snap`). It is attached before the socket is bound, so not
//! one unfiltered packet is queued. `PACKET_AUXDATA` gives each packet's original length (the
//! kernel notes it before the filter cuts the packet), `sockaddr_ll.sll_pkttype` its direction,
//! `PACKET_STATISTICS` the packets the kernel dropped for want of room in the receive queue.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Largest sampling rate the filter takes (the reference agent's limit).
pub const MAX_SAMPLING_RATE: u32 = 10_000_000;

/// A sampling socket on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

/// What the kernel said about one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// Bytes copied into the buffer (at most the snap length and the buffer's size).
    pub captured: usize,
    /// The packet's length before the filter cut it.
    pub original: u32,
    /// `sll_pkttype`: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing.
    pub pkttype: u8,
    /// ifIndex the packet was seen on.
    pub if_index: u32,
}

/// `sll_pkttype` of a packet the host sent.
pub const PACKET_OUTGOING: u8 = 4;

/// Receive queue of a sampling socket, bytes: room for a few thousand truncated samples, so a
/// burst waits for the loop rather than being dropped.
const RCVBUF: libc::c_int = 1 << 20;

fn filter(rate: u32, snap: u32) -> ([libc::sock_filter; 5], u16) {
    let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let keep = ins(libc::BPF_RET | libc::BPF_K, 0, 0, snap);
    if rate <= 1 {
        return ([keep; 5], 1);
    }
    let random = (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32;
    (
        [
            ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, random),
            ins(libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K, 0, 0, rate),
            ins(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, 0),
            keep,
            ins(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
        ],
        5,
    )
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl PacketSocket {
    /// Opens a non-blocking sampling socket on interface `if_index`, keeping one packet in `rate`
    /// (1..=[`MAX_SAMPLING_RATE`]) cut to `snap` bytes. Needs `CAP_NET_RAW` (else
    /// `PermissionDenied`).
    pub fn open(if_index: u32, rate: u32, snap: u32) -> io::Result<PacketSocket> {
        if rate == 0 || rate > MAX_SAMPLING_RATE || if_index == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // Protocol 0: the socket receives nothing until it is bound with a protocol below, after
        // the filter is in place.
        // SAFETY: socket(2) has no memory-safety preconditions.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        let (mut program, len) = filter(rate, snap);
        let prog = libc::sock_fprog {
            len,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `prog` points to `len` valid instructions that outlive the call (the kernel
        // copies them).
        check(unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })?;
        let on: libc::c_int = 1;
        // SAFETY: the option value is one c_int that outlives the call.
        check(unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_PACKET,
                libc::PACKET_AUXDATA,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
        // Best effort: the default queue still works, only with less room for bursts.
        // SAFETY: the option value is one c_int that outlives the call.
        let _ = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&RCVBUF as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex =
            i32::try_from(if_index).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `addr` is a valid sockaddr_ll and the length is its size.
        check(unsafe {
            libc::bind(
                raw,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(PacketSocket { fd })
    }

    /// Receives one packet into `buf` without waiting: `Ok(None)` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<PacketInfo>> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        // Room for one cmsg holding a tpacket_auxdata, 8-byte aligned.
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is a valid value (its padding on musl included).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 8]>() as _;
        let n = loop {
            // SAFETY: every pointer in `msg` points to memory of this frame (or `buf`) of the
            // length given beside it, alive for the call.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(e),
            }
        };
        let captured = n.min(buf.len());
        let mut original = captured as u32;
        // SAFETY: `msg` was filled in by recvmsg; CMSG_FIRSTHDR reads only its control fields.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR return null or a header inside `control`.
            let header = unsafe { &*cmsg };
            if header.cmsg_level == libc::SOL_PACKET
                && header.cmsg_type == libc::PACKET_AUXDATA
                && header.cmsg_len as usize
                    >= size_of::<libc::cmsghdr>() + size_of::<libc::tpacket_auxdata>()
            {
                // SAFETY: the header says a whole tpacket_auxdata follows it, inside `control`;
                // it may be unaligned, hence read_unaligned.
                let aux: libc::tpacket_auxdata = unsafe {
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>())
                };
                original = aux.tp_len;
            }
            // SAFETY: `cmsg` is a header inside `msg`'s control buffer.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
        Ok(Some(PacketInfo {
            captured,
            original,
            pkttype: addr.sll_pkttype,
            if_index: u32::try_from(addr.sll_ifindex).unwrap_or(0),
        }))
    }

    /// Packets the kernel dropped since the last call (the count resets when read).
    pub fn take_drops(&self) -> io::Result<u32> {
        let mut stats = MaybeUninit::<libc::tpacket_stats>::zeroed();
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `stats`, which is that big.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                stats.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        // SAFETY: zero-initialised plain data, possibly overwritten by the kernel.
        Ok(unsafe { stats.assume_init() }.tp_drops)
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_one_in_n_and_cuts() {
        let (p, n) = filter(400, 128);
        assert_eq!(n, 5);
        assert_eq!(p[0].k, 0xffff_f038, "ld rand");
        assert_eq!((p[1].code, p[1].k), (0x94, 400), "mod #400");
        assert_eq!((p[2].code, p[2].jt, p[2].jf, p[2].k), (0x15, 0, 1, 0));
        assert_eq!((p[3].code, p[3].k), (0x06, 128), "ret #128");
        assert_eq!((p[4].code, p[4].k), (0x06, 0), "ret #0");
        let (p, n) = filter(1, 64);
        assert_eq!((n, p[0].code, p[0].k), (1, 0x06, 64));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(PacketSocket::open(1, 0, 128).is_err());
        assert!(PacketSocket::open(0, 10, 128).is_err());
        assert!(PacketSocket::open(1, MAX_SAMPLING_RATE + 1, 128).is_err());
    }
}
