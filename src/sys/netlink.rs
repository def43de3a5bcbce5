//! Non-blocking netlink sockets: `NETLINK_ROUTE` (send a request to the kernel, read its answers)
//! and `NETLINK_NETFILTER` (NFLOG's packets).
//!
//! The kernel answers a request (and produces each part of a dump) within the `sendmsg` or
//! `recvmsg` call itself, so reading with `MSG_DONTWAIT` right after a request never waits; an
//! empty queue only means the kernel has nothing more to say. The messages are built and parsed
//! without `unsafe` in [`crate::packet::netlink`].

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A route netlink socket.
#[derive(Debug)]
pub struct RouteSocket {
    fd: OwnedFd,
}

impl RouteSocket {
    /// Opens a non-blocking, close-on-exec `NETLINK_ROUTE` socket.
    pub fn open() -> io::Result<RouteSocket> {
        Self::open_protocol(libc::NETLINK_ROUTE)
    }

    /// Opens a non-blocking, close-on-exec `NETLINK_NETFILTER` socket with a receive queue of
    /// `rcvbuf` bytes (best effort: the system's limit may cap it).
    pub fn open_netfilter(rcvbuf: libc::c_int) -> io::Result<RouteSocket> {
        let s = Self::open_protocol(libc::NETLINK_NETFILTER)?;
        // SAFETY: the option value is one c_int that outlives the call.
        let _ = unsafe {
            libc::setsockopt(
                s.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&rcvbuf as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(s)
    }

    fn open_protocol(protocol: libc::c_int) -> io::Result<RouteSocket> {
        // SAFETY: socket(2) has no memory-safety preconditions.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(RouteSocket { fd })
    }

    /// Sends one request (whole netlink messages) to the kernel.
    pub fn send(&self, request: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0, no groups) addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: `request` is valid for its length; `kernel` is a valid sockaddr_nl of that size.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != request.len() {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        Ok(())
    }

    /// Reads one datagram of answers into `buf` without waiting: `Ok(None)` when none is queued.
    /// A datagram longer than `buf` is an error (`InvalidData`), never half-read.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: `buf` is writable for its length for the duration of the call.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n >= 0 {
                let n = n as usize;
                if n > buf.len() {
                    return Err(io::Error::from(io::ErrorKind::InvalidData));
                }
                return Ok(Some(n));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(e),
            }
        }
    }
}

impl AsFd for RouteSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
