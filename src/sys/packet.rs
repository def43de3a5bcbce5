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

/// Most packets one [`PacketSocket::recv_batch`] call takes.
pub const BATCH: usize = 64;

/// Bytes kept of each packet of a batch (the longest `headerBytes`).
pub const SNAP_MAX: usize = 256;

/// `struct mmsghdr` (linux/socket.h): a message header and the bytes the kernel received for it.
#[repr(C)]
struct MMsgHdr {
    hdr: libc::msghdr,
    len: libc::c_uint,
}

/// Buffers for [`PacketSocket::recv_batch`]: one per packet of a batch, owned once, reused.
pub struct PacketBatch {
    data: Box<[[u8; SNAP_MAX]; BATCH]>,
    addrs: Box<[libc::sockaddr_ll; BATCH]>,
    controls: Box<[[u64; 8]; BATCH]>,
    iovs: Box<[libc::iovec; BATCH]>,
    msgs: Box<[MMsgHdr; BATCH]>,
    infos: [PacketInfo; BATCH],
    count: usize,
}

impl std::fmt::Debug for PacketBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBatch({} packets)", self.count)
    }
}

impl Default for PacketBatch {
    fn default() -> Self {
        // SAFETY: sockaddr_ll, iovec and msghdr are plain data; all-zero is a valid value of
        // each (null pointers are filled in before every call).
        let (addrs, iovs, msgs) = unsafe {
            (
                Box::new(std::mem::zeroed::<[libc::sockaddr_ll; BATCH]>()),
                Box::new(std::mem::zeroed::<[libc::iovec; BATCH]>()),
                Box::new(std::mem::zeroed::<[MMsgHdr; BATCH]>()),
            )
        };
        PacketBatch {
            data: Box::new([[0; SNAP_MAX]; BATCH]),
            addrs,
            controls: Box::new([[0; 8]; BATCH]),
            iovs,
            msgs,
            infos: [PacketInfo {
                captured: 0,
                original: 0,
                pkttype: 0,
                if_index: 0,
            }; BATCH],
            count: 0,
        }
    }
}

impl PacketBatch {
    /// The packets of the last [`PacketSocket::recv_batch`]: what the kernel said of each, and
    /// its captured bytes.
    pub fn packets(&self) -> impl Iterator<Item = (&PacketInfo, &[u8])> {
        self.infos
            .iter()
            .zip(self.data.iter())
            .take(self.count)
            .map(|(i, d)| (i, d.get(..i.captured).unwrap_or_default()))
    }
}

/// The original length of a packet from its `PACKET_AUXDATA` control message, if there is one.
fn aux_len(msg: &libc::msghdr) -> Option<u32> {
    // SAFETY: `msg` was filled in by the kernel; CMSG_FIRSTHDR reads only its control fields.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR return null or a header inside the control buffer.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_PACKET
            && header.cmsg_type == libc::PACKET_AUXDATA
            && header.cmsg_len as usize
                >= size_of::<libc::cmsghdr>() + size_of::<libc::tpacket_auxdata>()
        {
            // SAFETY: the header says a whole tpacket_auxdata follows it, inside the control
            // buffer; it may be unaligned, hence read_unaligned.
            let aux: libc::tpacket_auxdata = unsafe {
                std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>())
            };
            return Some(aux.tp_len);
        }
        // SAFETY: `cmsg` is a header inside `msg`'s control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}

impl PacketSocket {
    /// Receives up to [`BATCH`] packets, each cut to `snap` bytes (at most [`SNAP_MAX`]), in one
    /// `recvmmsg` without waiting; returns how many (0: none queued). They are read with
    /// [`PacketBatch::packets`].
    pub fn recv_batch(&self, batch: &mut PacketBatch, snap: usize) -> io::Result<usize> {
        let snap = snap.min(SNAP_MAX);
        batch.count = 0;
        for i in 0..BATCH {
            batch.iovs[i] = libc::iovec {
                iov_base: batch.data[i].as_mut_ptr().cast(),
                iov_len: snap,
            };
            let hdr = &mut batch.msgs[i].hdr;
            hdr.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_ll).cast();
            hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            hdr.msg_iov = &mut batch.iovs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = batch.controls[i].as_mut_ptr().cast();
            hdr.msg_controllen = size_of::<[u64; 8]>() as _;
            hdr.msg_flags = 0;
            batch.msgs[i].len = 0;
        }
        let n = loop {
            // SAFETY: `msgs` holds BATCH headers whose every pointer points into `batch`'s own
            // boxed buffers, of the lengths given beside them, alive and unmoved for the call; the
            // timeout pointer may be null. recvmmsg through syscall(2): the C library's wrapper is
            // not bound for every target.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_recvmmsg,
                    self.fd.as_raw_fd(),
                    batch.msgs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut::<libc::timespec>(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(e),
            }
        };
        let n = n.min(BATCH);
        for i in 0..n {
            let captured = (batch.msgs[i].len as usize).min(snap);
            batch.infos[i] = PacketInfo {
                captured,
                original: aux_len(&batch.msgs[i].hdr).unwrap_or(captured as u32),
                pkttype: batch.addrs[i].sll_pkttype,
                if_index: u32::try_from(batch.addrs[i].sll_ifindex).unwrap_or(0),
            };
        }
        batch.count = n;
        Ok(n)
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
