//! The one module of libc wrappers: every `unsafe` block of the crate lives here.
//!
//! Each wrapper has a safe signature, checks its inputs, turns a failing call into `io::Error`, and
//! documents in a `// SAFETY:` comment why the block is sound. Nothing here blocks: the agent's loop
//! depends on that.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A non-blocking `signalfd` for SIGTERM, SIGINT and SIGHUP, which are blocked for the process so that
/// they arrive only through this descriptor (the poller retries on EINTR, so a handler could not wake it).
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

/// The signals the agent handles.
pub const HANDLED_SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn handled_sigset() -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given a valid pointer to.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigemptyset succeeded, so the set is initialised.
    let mut set = unsafe { set.assume_init() };
    for sig in HANDLED_SIGNALS {
        // SAFETY: `set` is an initialised sigset_t and `sig` a valid signal number.
        if unsafe { libc::sigaddset(&mut set, sig) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}

impl SignalFd {
    /// Blocks the handled signals for the calling thread (call it before any other thread exists) and
    /// opens a non-blocking, close-on-exec signalfd for them.
    pub fn new() -> io::Result<SignalFd> {
        let set = handled_sigset()?;
        // SAFETY: `set` is a valid, initialised sigset_t; the old-set pointer may be null.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: -1 asks for a new descriptor; `set` is valid for the duration of the call.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: signalfd returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(SignalFd { fd })
    }

    /// Reads one pending signal number; `Ok(None)` when none is pending.
    pub fn read(&self) -> io::Result<Option<i32>> {
        let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: the buffer is `size` bytes of writable memory owned by this frame.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(err),
            };
        }
        if n as usize != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "short signalfd read",
            ));
        }
        // SAFETY: the kernel wrote a whole signalfd_siginfo.
        let info = unsafe { info.assume_init() };
        Ok(Some(info.ssi_signo as i32))
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Restores the default disposition and mask of the handled signals (for a child about to exec).
pub fn unblock_handled_signals() -> io::Result<()> {
    let set = handled_sigset()?;
    // SAFETY: `set` is a valid sigset_t; the old-set pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// A descriptor registered in a shared [`polling::Poller`], removed from it when dropped.
///
/// `Poller::add` is `unsafe` because the source must be deleted from the poller before it is closed;
/// owning both the source and a handle to the poller, and deleting in `Drop`, upholds that for every
/// use, so the rest of the crate registers descriptors without `unsafe`.
#[derive(Debug)]
pub struct Watched<S: AsFd> {
    poller: std::rc::Rc<polling::Poller>,
    source: S,
}

impl<S: AsFd> Watched<S> {
    /// Registers `source` under `interest` (oneshot: re-arm with [`Watched::rearm`] after each event).
    pub fn new(
        poller: &std::rc::Rc<polling::Poller>,
        source: S,
        interest: polling::Event,
    ) -> io::Result<Self> {
        // SAFETY: the returned value owns `source`, and its Drop deletes the source from this same
        // poller before `source` itself is dropped (fields drop after Drop::drop runs).
        unsafe { poller.add(source.as_fd().as_raw_fd(), interest)? };
        Ok(Watched {
            poller: poller.clone(),
            source,
        })
    }

    /// Re-arms the registration with a new interest.
    pub fn rearm(&self, interest: polling::Event) -> io::Result<()> {
        self.poller.modify(self.source.as_fd(), interest)
    }

    /// The registered source.
    pub fn get(&self) -> &S {
        &self.source
    }

    /// The registered source, mutably (it stays registered).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.source
    }
}

impl<S: AsFd> Drop for Watched<S> {
    fn drop(&mut self) {
        // Errors are ignored: the descriptor is about to be closed, which removes it from epoll anyway.
        let _ = self.poller.delete(self.source.as_fd());
    }
}

/// socket(2), as a descriptor this process owns.
fn new_socket(
    domain: libc::c_int,
    kind: libc::c_int,
    protocol: libc::c_int,
) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory-safety preconditions.
    let fd = unsafe { libc::socket(domain, kind, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a non-blocking, close-on-exec UNIX stream connection to `path`.
///
/// `connect(2)` on a UNIX socket completes at once or fails; it never waits for the peer to
/// `accept`. When the listener's backlog is full (a hung engine) it fails with `WouldBlock`, which
/// the caller treats as a failed attempt rather than waiting.
pub fn connect_unix(path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long or has NUL",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let owned = new_socket(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0,
    )?;
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `addr` is a valid sockaddr_un and `len` does not exceed its size.
    let rc = unsafe {
        libc::connect(
            owned.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(std::os::unix::net::UnixStream::from(owned))
}

/// The soft limit on open descriptors (`RLIMIT_NOFILE`), if it can be read.
pub fn open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    Some(lim.rlim_cur)
}

/// Raises the soft limit of open files to the hard one, as a daemon that keeps files open should (the
/// usual soft limit, 1024, is a default for programs that use `select`, which this one does not).
/// Returns the soft limit in force afterwards.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one valid rlimit; raising the soft limit up to the hard one needs no
        // privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
}

/// Opens `path`, relative to the directory `dir`, for reading: non-blocking (a FIFO planted there must
/// not stall the loop), close-on-exec, never a controlling terminal. One `openat` system call: the C
/// library's `open` adds an `fcntl` for close-on-exec, and a path from the root walks every component
/// again where a kept directory spares the walk down to it. A `path` with a `..` component could leave
/// `dir`; callers pass only names they validated.
pub fn open_below(dir: BorrowedFd<'_>, path: &CStr) -> io::Result<std::fs::File> {
    // SAFETY: `dir` is an open descriptor for the call's duration and `path` a NUL-terminated string.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether `name` exists below directory `dir` (`fstatat`, not following a last symlink): one
/// lookup where a path from the root walks every component again. Any error counts as absent.
pub fn exists_below(dir: BorrowedFd<'_>, name: &CStr) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `dir` is an open descriptor for the call's duration, `name` a NUL-terminated string,
    // and `st` room for one `stat`, which is only written, never read here.
    unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ) == 0
    }
}

/// Sizes of a mounted filesystem, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsSize {
    /// Total size.
    pub total: u64,
    /// Free for everyone (`f_bfree`).
    pub free: u64,
    /// Free for unprivileged users (`f_bavail`).
    pub available: u64,
}

/// `statvfs(2)` of a path given as a NUL-terminated string, so a caller can build it in a buffer it
/// keeps and measure without allocating.
// The fields are 32-bit on 32-bit targets, so the widening is needed there and a no-op here.
#[allow(clippy::useless_conversion)]
pub fn statvfs(path: &CStr) -> io::Result<FsSize> {
    let mut st = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `st` points to writable memory of the right type.
    if unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded and filled the struct.
    let st = unsafe { st.assume_init() };
    let frsize = u64::from(if st.f_frsize != 0 {
        st.f_frsize
    } else {
        st.f_bsize
    });
    Ok(FsSize {
        total: u64::from(st.f_blocks).saturating_mul(frsize),
        free: u64::from(st.f_bfree).saturating_mul(frsize),
        available: u64::from(st.f_bavail).saturating_mul(frsize),
    })
}

/// Whether an open file lives on procfs (`fstatfs(2)` reports `PROC_SUPER_MAGIC`). Such a file is
/// regenerated by the kernel on every read from offset 0, so it can be kept open and re-read; a copy
/// in an ordinary directory (a fixture tree) cannot, and `/proc/<pid>/mounts` signals mount-table
/// changes only on procfs.
// f_type's and the magic's integer types differ between libcs and targets; the magic fits any of them.
#[allow(clippy::unnecessary_cast)]
pub fn is_on_procfs(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut st = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `fd` is an open descriptor for the duration of the call and `st` points to writable
    // memory of the right type.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatfs succeeded and filled the struct.
    let st = unsafe { st.assume_init() };
    let magic = st.f_type as i64;
    Ok(magic == libc::PROC_SUPER_MAGIC as i64)
}

/// Whether `fd` has an exceptional condition pending now (`POLLPRI` or `POLLERR` from `poll(2)` with a
/// zero timeout; it never waits). An open `/proc/<pid>/mounts` reports one per change of its mount
/// table since the descriptor was opened or last polled, and polling acknowledges it. An error of
/// `poll` itself is returned, so the caller can assume a change.
pub fn priority_event_pending(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n == 1 && (pfd.revents & (libc::POLLPRI | libc::POLLERR)) != 0)
}

/// One address of a network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name.
    pub name: String,
    /// The address.
    pub addr: IpAddr,
    /// `IFF_*` flags of the interface.
    pub flags: u32,
}

/// Every IPv4 and IPv6 address of every interface (`getifaddrs(3)`).
pub fn interface_addresses() -> io::Result<Vec<InterfaceAddress>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head to the pointer it is given.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null and points to at least a sockaddr header.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let addr = match family {
            libc::AF_INET => {
                // SAFETY: the family says the storage is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
            }
            _ => continue,
        };
        out.push(InterfaceAddress {
            name,
            addr,
            flags: ifa.ifa_flags,
        });
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// `IFF_UP`.
pub const IFF_UP: u32 = libc::IFF_UP as u32;
/// `IFF_LOOPBACK`.
pub const IFF_LOOPBACK: u32 = libc::IFF_LOOPBACK as u32;

/// The name the interface `if_index` has now in this network namespace (`if_indextoname(3)`),
/// or `None` when no interface has that index.
pub fn interface_name(if_index: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes the call may write, its NUL included.
    let p = unsafe { libc::if_indextoname(if_index, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    let name = CStr::from_bytes_until_nul(&buf).ok()?;
    name.to_str().ok().map(str::to_string)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of /proc/stat; 100 if unknown.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

/// Eight random bytes from the kernel (`getrandom(2)`, non-blocking), or a mix of time and pid when the
/// kernel has none to give yet.
pub fn random_u64() -> u64 {
    let mut v = 0u64;
    // SAFETY: the buffer is the 8 bytes of `v`; GRND_NONBLOCK never waits for entropy.
    let n = unsafe { libc::getrandom((&mut v as *mut u64).cast(), 8, libc::GRND_NONBLOCK) };
    if n == 8 {
        return v;
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15
}

/// Whether `fd` can be written to now without blocking (`poll(2)` with a zero timeout).
pub fn is_writable_now(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && (pfd.revents & libc::POLLOUT) != 0
}

/// Writes to a descriptor once; `Ok(0)` when it would block. Used for standard output, which may be a
/// pipe or a terminal that the agent must never wait on.
pub fn write_once(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of buf.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(err),
        };
    }
    Ok(n as usize)
}

/// Detaches from the terminal the classic way: fork (the parent exits 0), start a new session, chdir to
/// `/`, and point standard input, output and error at /dev/null. Call it before the poller and any
/// thread exist.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: the process is single-threaded here, so fork has no lock or thread hazards.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        // SAFETY: _exit ends the parent at once, without running the child's destructors twice.
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: setsid has no memory-safety preconditions.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for target in 0..=2 {
        // SAFETY: both descriptors are open; dup2 atomically replaces the target.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The real user id.
pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

/// A non-blocking, close-on-exec inotify instance.
#[derive(Debug)]
pub struct Inotify {
    fd: OwnedFd,
}

/// One inotify event record, its name borrowed from the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InotifyEvent<'a> {
    /// The watch it is for (-1 for `IN_Q_OVERFLOW`).
    pub wd: i32,
    /// `IN_*` bits.
    pub mask: u32,
    /// The name of the entry in the watched directory, without its NUL padding (may be empty).
    pub name: &'a [u8],
}

/// The size of an inotify event record's fixed part.
pub const INOTIFY_HEADER: usize = std::mem::size_of::<libc::inotify_event>();

impl Inotify {
    /// A new instance (`IN_NONBLOCK | IN_CLOEXEC`).
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: inotify_init1 takes only flags and returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify { fd })
    }

    /// Watches `path` for `mask`; the watch descriptor.
    pub fn add_watch(&self, path: &Path, mask: u32) -> io::Result<i32> {
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the descriptor is open (owned by self) and `path` is a NUL-terminated string that
        // lives across the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(wd)
    }

    /// Removes a watch (an error, such as a watch already gone with its directory, is ignored).
    pub fn rm_watch(&self, wd: i32) {
        // SAFETY: the descriptor is open; an unknown `wd` only makes the call fail with EINVAL.
        let _ = unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
    }

    /// Reads what is pending into `buf` (at least [`INOTIFY_HEADER`] + 256 bytes long); `Ok(0)`
    /// when nothing is.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes for the duration of the call.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }
}

impl AsFd for Inotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The event records in `buf` (what [`Inotify::read`] returned), decoded without copying; a
/// truncated record at the end (which the kernel never produces) ends the walk.
pub fn inotify_events(buf: &[u8]) -> impl Iterator<Item = InotifyEvent<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let head = rest.get(..INOTIFY_HEADER)?;
        let word = |at: usize| -> Option<[u8; 4]> { head.get(at..at + 4)?.try_into().ok() };
        // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }
        let wd = i32::from_ne_bytes(word(0)?);
        let mask = u32::from_ne_bytes(word(4)?);
        let len = u32::from_ne_bytes(word(12)?) as usize;
        let name = rest.get(INOTIFY_HEADER..INOTIFY_HEADER.checked_add(len)?)?;
        rest = rest.get(INOTIFY_HEADER + len..).unwrap_or_default();
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(InotifyEvent {
            wd,
            mask,
            name: name.get(..end).unwrap_or_default(),
        })
    })
}

/// A pidfd: readable once the process it names has exited.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// `pidfd_open(pid, PIDFD_NONBLOCK)`; ESRCH when there is no such process.
    pub fn open(pid: u32) -> io::Result<PidFd> {
        let pid = libc::pid_t::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory is
        // passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::O_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = RawFd::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PidFd { fd })
    }

    /// Whether the process has exited (the descriptor polls readable), without waiting.
    pub fn exited(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, timeout 0: the call does not block.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & libc::POLLIN != 0
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_reports_a_created_directory() {
        let dir = std::env::temp_dir().join(format!("csflowd-inotify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ino = Inotify::new().unwrap();
        let mut buf = vec![0u8; 4096];
        assert_eq!(ino.read(&mut buf).unwrap(), 0);
        let wd = ino
            .add_watch(&dir, libc::IN_CREATE | libc::IN_ONLYDIR)
            .unwrap();
        std::fs::create_dir(dir.join("task")).unwrap();
        let n = ino.read(&mut buf).unwrap();
        let events: Vec<_> = inotify_events(&buf[..n]).collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].wd, wd);
        assert_ne!(events[0].mask & libc::IN_CREATE, 0);
        assert_eq!(events[0].name, b"task");
        ino.rm_watch(wd);
        let _ = std::fs::remove_dir_all(&dir);
        // Truncated input ends the walk instead of reading past it.
        assert_eq!(inotify_events(&buf[..INOTIFY_HEADER - 1]).count(), 0);
    }

    #[test]
    fn pidfd_tells_the_exit_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = PidFd::open(child.id()).unwrap();
        assert!(!fd.exited());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(fd.exited());
        assert!(PidFd::open(0).is_err());
        assert!(PidFd::open(u32::MAX).is_err());
    }

    #[test]
    fn statvfs_of_root_has_a_size() {
        let s = statvfs(c"/").unwrap();
        assert!(s.total > 0);
        assert!(s.free <= s.total);
        assert!(statvfs(c"/nonexistent/path").is_err());
    }

    #[test]
    fn procfs_is_recognised() {
        let proc = std::fs::File::open("/proc/self/mounts").unwrap();
        assert!(is_on_procfs(proc.as_fd()).unwrap());
        let plain = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert!(!is_on_procfs(plain.as_fd()).unwrap());
    }

    #[test]
    fn priority_events() {
        // Whether another process changes the mount table meanwhile is not in this test's hands, so
        // only that the call works is asserted for procfs; a regular file never has such an event.
        let mounts = std::fs::File::open("/proc/self/mounts").unwrap();
        assert!(priority_event_pending(mounts.as_fd()).is_ok());
        let plain =
            std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
        assert!(!priority_event_pending(plain.as_fd()).unwrap());
    }

    #[test]
    fn loopback_is_listed() {
        let addrs = interface_addresses().unwrap();
        assert!(addrs
            .iter()
            .any(|a| a.addr == IpAddr::from([127, 0, 0, 1]) && a.flags & IFF_LOOPBACK != 0));
    }

    #[test]
    fn random_values_differ() {
        assert_ne!(random_u64(), random_u64());
    }

    #[test]
    fn watched_sources_are_registered_and_removed() {
        let poller = std::rc::Rc::new(polling::Poller::new().unwrap());
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let w = Watched::new(&poller, &a, polling::Event::readable(7)).unwrap();
        std::io::Write::write_all(&mut &b, b"x").unwrap();
        let mut events = polling::Events::new();
        poller
            .wait(&mut events, Some(std::time::Duration::from_secs(5)))
            .unwrap();
        assert_eq!(events.iter().next().map(|e| e.key), Some(7));
        drop(w);
        events.clear();
        std::io::Write::write_all(&mut &b, b"y").unwrap();
        poller
            .wait(&mut events, Some(std::time::Duration::from_millis(10)))
            .unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn unix_connect_is_non_blocking_and_reports_failures() {
        let dir = std::env::temp_dir().join(format!("csflowd-sys-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        assert!(connect_unix(&path).is_err(), "no socket file");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        // Connects although nobody accepts yet.
        let s = connect_unix(&path).unwrap();
        let mut b = [0u8; 1];
        let e = std::io::Read::read(&mut &s, &mut b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        drop(listener);
        assert!(connect_unix(&path).is_err(), "nobody listens");
        assert!(connect_unix(Path::new(&"x".repeat(200))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_files_limit_is_readable() {
        assert!(open_files_limit().is_some_and(|n| n >= 16));
    }

    #[test]
    fn names_exist_below_a_directory() {
        let dir = std::fs::File::open("/proc").unwrap();
        let me = std::ffi::CString::new(std::process::id().to_string()).unwrap();
        assert!(exists_below(dir.as_fd(), &me));
        assert!(!exists_below(dir.as_fd(), c"no-such-name"));
    }

    #[test]
    fn files_open_below_a_directory() {
        let dir = std::env::temp_dir().join(format!("csflowd-sys-below-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/f"), b"x").unwrap();
        let d = std::fs::File::open(&dir).unwrap();
        let mut f = open_below(d.as_fd(), c"a/f").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        assert_eq!(text, "x");
        assert_eq!(
            open_below(d.as_fd(), c"a/missing").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_open_files_limit_can_be_raised_to_the_hard_one() {
        let soft = raise_open_files_limit().unwrap();
        assert_eq!(open_files_limit(), Some(soft));
    }

    #[test]
    fn clock_ticks_is_positive() {
        assert!(clock_ticks_per_second() > 0);
    }
}

pub mod netlink {
    //! Non-blocking netlink sockets: `NETLINK_ROUTE` (send a request to the kernel, read its answers)
    //! and `NETLINK_NETFILTER` (NFLOG's packets).
    //!
    //! The kernel answers a request (and produces each part of a dump) within the `sendmsg` or
    //! `recvmsg` call itself, so reading with `MSG_DONTWAIT` right after a request never waits; an
    //! empty queue only means the kernel has nothing more to say. The messages are built and parsed
    //! without `unsafe` in [`crate::packet::netlink`].

    use std::io;
    use std::mem::size_of;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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
            let fd = super::new_socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol,
            )?;
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
}

pub mod packet {
    //! Packet sampling sockets: an `AF_PACKET` socket bound to one interface, with a classic BPF
    //! program that keeps one packet in N at random and truncates it, so the kernel copies nothing of
    //! the packets it does not keep.
    //!
    //! The program (`SO_ATTACH_FILTER`) is `ld rand; mod #N; jeq #0 ? keep : drop; keep: ret #snap;
    //! drop: ret #0` (with N = 1 just `ret #snap`), after `ld pkttype; jeq #outgoing ? next : drop`
    //! when only sent packets are wanted. When only received ones are, `PACKET_IGNORE_OUTGOING`
    //! keeps the kernel from cloning sent packets for the socket at all, which a filter cannot. The
    //! program is attached before the socket is bound, so not one unfiltered packet is queued. `PACKET_AUXDATA` gives each packet's original length (the
    //! kernel notes it before the filter cuts the packet), `sockaddr_ll.sll_pkttype` its direction,
    //! `PACKET_STATISTICS` the packets the kernel dropped for want of room in the receive queue.
    //!
    //! [`RingSocket`] is the same socket with a `TPACKET_V3` receive ring mapped into the process
    //! instead of a queue: the only unsafe code of the ring (the mapping, the block status words
    //! shared with the kernel) is here; the blocks are walked by [`crate::packet::ring`].

    use std::io;
    use std::mem::{size_of, MaybeUninit};
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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
        /// When the kernel took the packet, ns since the epoch (from a ring; 0 from a queue).
        pub time_ns: u64,
    }

    /// `sll_pkttype` of a packet the host sent.
    pub const PACKET_OUTGOING: u8 = 4;

    /// Receive queue of a sampling socket, bytes: room for a few thousand truncated samples, so a
    /// burst waits for the loop rather than being dropped.
    const RCVBUF: libc::c_int = 1 << 20;

    /// Longest filter program: a direction test (2), the random pick (3), keep and drop.
    const FILTER_MAX: usize = 7;

    /// The filter: with `outgoing_only`, first drop every packet whose type is not
    /// [`PACKET_OUTGOING`]; then keep one in `rate` at random, cut to `snap` bytes.
    fn filter(rate: u32, snap: u32, outgoing_only: bool) -> ([libc::sock_filter; FILTER_MAX], u16) {
        let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        };
        let keep = ins(libc::BPF_RET | libc::BPF_K, 0, 0, snap);
        let drop = ins(libc::BPF_RET | libc::BPF_K, 0, 0, 0);
        let mut program = [keep; FILTER_MAX];
        let mut len = 0;
        let mut push = |i: libc::sock_filter| {
            program[len] = i;
            len += 1;
        };
        // Jumps are relative: `to_drop` is how many instructions lie between the jump and `drop`.
        let picks = rate > 1;
        if outgoing_only {
            let pkttype = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
            push(ins(
                libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
                0,
                0,
                pkttype,
            ));
            let to_drop = if picks { 4 } else { 1 };
            push(ins(
                libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
                0,
                to_drop,
                u32::from(PACKET_OUTGOING),
            ));
        }
        if picks {
            let random = (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32;
            push(ins(
                libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
                0,
                0,
                random,
            ));
            push(ins(libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K, 0, 0, rate));
            push(ins(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, 0));
        }
        push(keep);
        if outgoing_only || picks {
            push(drop);
        }
        (program, len as u16)
    }

    fn check(rc: libc::c_int) -> io::Result<()> {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn attach_filter(fd: &OwnedFd, program: &mut [libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_mut_ptr(),
        };
        // SAFETY: `prog` points to `len` valid instructions that outlive the call (the kernel
        // copies them).
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
    }

    fn set_option<T>(
        fd: &OwnedFd,
        level: libc::c_int,
        option: libc::c_int,
        value: &T,
    ) -> io::Result<()> {
        // SAFETY: `value` is a plain-data option value of the given size that outlives the call.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                option,
                (value as *const T).cast(),
                size_of::<T>() as libc::socklen_t,
            )
        })
    }

    /// A sampling socket with its filter and options, not bound yet: it receives nothing. The
    /// arguments are those of [`PacketSocket::open`].
    fn unbound(
        if_index: u32,
        rate: u32,
        snap: u32,
        ingress: bool,
        egress: bool,
    ) -> io::Result<OwnedFd> {
        if rate == 0 || rate > MAX_SAMPLING_RATE || if_index == 0 || !(ingress || egress) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // Protocol 0: the socket receives nothing until it is bound with a protocol, after the
        // filter is in place.
        let fd = super::new_socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )?;
        let (mut program, len) = filter(rate, snap, !ingress);
        attach_filter(&fd, program.get_mut(..usize::from(len)).unwrap_or_default())?;
        let on: libc::c_int = 1;
        if !egress {
            set_option(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &on)?;
        }
        set_option(&fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, &on)?;
        // Best effort: the default queue still works, only with less room for bursts.
        let _ = set_option(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF);
        Ok(fd)
    }

    /// Binds `fd` to interface `if_index`, all protocols: packets are queued from now on.
    fn bind(fd: &OwnedFd, if_index: u32) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex =
            i32::try_from(if_index).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `addr` is a valid sockaddr_ll and the length is its size.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
    }

    impl PacketSocket {
        /// Opens a non-blocking sampling socket on interface `if_index`, keeping one packet in `rate`
        /// (1..=[`MAX_SAMPLING_RATE`]) cut to `snap` bytes, of those the interface received
        /// (`ingress`) and of those sent on it (`egress`). Needs `CAP_NET_RAW` (else
        /// `PermissionDenied`). Without `egress` the kernel skips the socket for sent packets
        /// before it clones them (`PACKET_IGNORE_OUTGOING`, Linux 4.20; an older kernel refuses
        /// it: `InvalidInput` from the kernel); without `ingress` the filter drops received ones.
        pub fn open(
            if_index: u32,
            rate: u32,
            snap: u32,
            ingress: bool,
            egress: bool,
        ) -> io::Result<PacketSocket> {
            let fd = unbound(if_index, rate, snap, ingress, egress)?;
            bind(&fd, if_index)?;
            Ok(PacketSocket { fd })
        }

        /// Stops the socket taking packets (its filter becomes `ret #0`); what it holds already
        /// can still be read. Used when a ring socket takes over the interface.
        pub fn stop(&self) -> io::Result<()> {
            let mut program = [libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k: 0,
            }];
            attach_filter(&self.fd, &mut program)
        }

        /// Attaches the sampling filter of [`PacketSocket::open`] again (after a
        /// [`PacketSocket::stop`]).
        pub fn sample(&self, rate: u32, snap: u32, ingress: bool) -> io::Result<()> {
            let (mut program, len) = filter(rate, snap, !ingress);
            attach_filter(
                &self.fd,
                program.get_mut(..usize::from(len)).unwrap_or_default(),
            )
        }

        /// Makes this bound socket the first member of a new fanout group, whose id the kernel
        /// picks and which is returned: from then on each packet goes to exactly one member, the
        /// one [`PacketSocket::fanout_choose`] names (the first until then). `egress` as given
        /// to [`PacketSocket::open`]: the group skips sent packets too when it is false. Needs
        /// Linux 4.20.
        pub fn fanout_new(&self, egress: bool) -> io::Result<u16> {
            self.fanout(0, egress, libc::PACKET_FANOUT_FLAG_UNIQUEID)?;
            let mut value: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `value` and `len` are valid for writes of the option's size.
            check(unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_FANOUT,
                    (&mut value as *mut libc::c_int).cast(),
                    &mut len,
                )
            })?;
            Ok((value as u32 & 0xffff) as u16)
        }

        /// Joins fanout group `id` (made by [`PacketSocket::fanout_new`] with the same `egress`)
        /// as its next member. The socket must be bound to the same interface.
        pub fn fanout_join(&self, id: u16, egress: bool) -> io::Result<()> {
            self.fanout(id, egress, 0)
        }

        fn fanout(&self, id: u16, egress: bool, flag: u32) -> io::Result<()> {
            let mut kind = libc::PACKET_FANOUT_CBPF | flag;
            if !egress {
                kind |= libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
            }
            let value = (u32::from(id) | kind << 16) as libc::c_int;
            set_option(&self.fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &value)
        }

        /// Sends every packet of this socket's fanout group to member `member` (in the order
        /// they joined) from now on: one pointer the kernel swaps, so no packet goes to two
        /// members or to none.
        pub fn fanout_choose(&self, member: u32) -> io::Result<()> {
            let mut program = [libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k: member,
            }];
            let fprog = libc::sock_fprog {
                len: 1,
                filter: program.as_mut_ptr(),
            };
            set_option(&self.fd, libc::SOL_PACKET, libc::PACKET_FANOUT_DATA, &fprog)
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
                    time_ns: 0,
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
                    time_ns: 0,
                };
            }
            batch.count = n;
            Ok(n)
        }
    }

    /// Size and count of the blocks of a receive ring, and how long the kernel fills a block
    /// before handing it over anyway.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RingGeometry {
        /// Bytes per block (a multiple of the page size).
        pub block_size: u32,
        /// Blocks in the ring.
        pub blocks: u32,
        /// A block with packets is handed over at least this often (ms), full or not.
        pub retire_ms: u32,
    }

    impl RingGeometry {
        /// Bytes mapped into the process.
        pub fn bytes(&self) -> usize {
            self.block_size as usize * self.blocks as usize
        }
    }

    /// `tp_frame_size` of a ring: with `TPACKET_V3` packets are packed in a block whatever it is,
    /// but the kernel wants a block to be a whole number of frames.
    const RING_FRAME: u32 = 2048;

    /// Offset of `block_status` in `tpacket_block_desc` (after `version` and `offset_to_priv`).
    pub const BLOCK_STATUS_OFFSET: usize = 8;

    /// A sampling socket whose samples the kernel writes into a `TPACKET_V3` receive ring mapped
    /// into the process: blocks of packets are read in place, with no system call per packet.
    ///
    /// The kernel owns a block until it sets `TP_STATUS_USER` in the block's status; then the block
    /// is the process's ([`RingSocket::ready_block`]) until it is handed back
    /// ([`RingSocket::release_block`]). Blocks are handed over in order. The mapping is unmapped
    /// when the socket is dropped.
    pub struct RingSocket {
        socket: PacketSocket,
        map: std::ptr::NonNull<u8>,
        geometry: RingGeometry,
        current: usize,
        if_index: u32,
    }

    impl std::fmt::Debug for RingSocket {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "RingSocket({:?}, block {})", self.geometry, self.current)
        }
    }

    impl RingSocket {
        /// Opens a sampling socket like [`PacketSocket::open`] (same filter and options) whose
        /// samples go into a ring of `geometry`, mapped; it takes packets once
        /// [`RingSocket::bind`] is called. (Making the ring takes the kernel milliseconds, binding
        /// does not.)
        pub fn open(
            if_index: u32,
            (rate, snap, ingress, egress): (u32, u32, bool, bool),
            geometry: RingGeometry,
        ) -> io::Result<RingSocket> {
            let fd = unbound(if_index, rate, snap, ingress, egress)?;
            let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
            set_option(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)?;
            let req = libc::tpacket_req3 {
                tp_block_size: geometry.block_size,
                tp_block_nr: geometry.blocks,
                tp_frame_size: RING_FRAME,
                tp_frame_nr: geometry.block_size / RING_FRAME * geometry.blocks,
                tp_retire_blk_tov: geometry.retire_ms,
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            set_option(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
            let len = geometry.bytes();
            // SAFETY: a new shared mapping of the ring the kernel just made for `fd`, of its
            // exact size; nothing else refers to the address range it returns.
            let map = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let map = std::ptr::NonNull::new(map.cast::<u8>())
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
            Ok(RingSocket {
                socket: PacketSocket { fd },
                map,
                geometry,
                current: 0,
                if_index,
            })
        }

        /// Binds the socket to its interface: samples go into the ring from now on.
        pub fn bind(&self) -> io::Result<()> {
            bind(&self.socket.fd, self.if_index)
        }

        /// The socket itself, for its filter and fanout options.
        pub fn socket(&self) -> &PacketSocket {
            &self.socket
        }

        /// The status word of block `i`, shared with the kernel.
        fn status(&self, i: usize) -> &std::sync::atomic::AtomicU32 {
            let offset = i * self.geometry.block_size as usize + BLOCK_STATUS_OFFSET;
            // SAFETY: `offset` is inside the mapping (i < blocks), 4-aligned (blocks are
            // page-aligned, the field is at 8); the kernel and this process access the word only
            // atomically (the kernel publishes with a barrier before setting it).
            unsafe {
                &*self
                    .map
                    .as_ptr()
                    .add(offset)
                    .cast::<std::sync::atomic::AtomicU32>()
            }
        }

        /// The next block in order, if the kernel has handed it over: its bytes, to be read with
        /// a block walker, then handed back with [`RingSocket::release_block`].
        pub fn ready_block(&self) -> Option<&[u8]> {
            let status = self
                .status(self.current)
                .load(std::sync::atomic::Ordering::Acquire);
            if status & libc::TP_STATUS_USER == 0 {
                return None;
            }
            let size = self.geometry.block_size as usize;
            // SAFETY: the block lies inside the mapping; the Acquire load above saw the kernel
            // hand it over, after which the kernel does not write it until it is handed back,
            // which needs `&mut self` and so ends this borrow.
            Some(unsafe {
                std::slice::from_raw_parts(self.map.as_ptr().add(self.current * size), size)
            })
        }

        /// Hands the current block back to the kernel (after its packets were read) and moves on
        /// to the next.
        pub fn release_block(&mut self) {
            self.status(self.current)
                .store(libc::TP_STATUS_KERNEL, std::sync::atomic::Ordering::Release);
            self.current = (self.current + 1) % self.geometry.blocks.max(1) as usize;
        }

        /// Packets the kernel dropped (no room in the ring) since the last call.
        pub fn take_drops(&self) -> io::Result<u32> {
            let mut stats = MaybeUninit::<libc::tpacket_stats_v3>::zeroed();
            let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
            // SAFETY: the kernel writes at most `len` bytes into `stats`, which is that big.
            check(unsafe {
                libc::getsockopt(
                    self.socket.fd.as_raw_fd(),
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

    impl RingSocket {
        /// The socket's pending error, cleared by reading it (`SO_ERROR`): an interface set down
        /// leaves `ENETDOWN` there, which no read of the ring would clear, and a pending error
        /// keeps the socket ready in the poller.
        pub fn take_error(&self) -> io::Result<Option<io::Error>> {
            let mut error: libc::c_int = 0;
            let mut len = size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: the kernel writes at most `len` bytes into `error`, which is that big.
            check(unsafe {
                libc::getsockopt(
                    self.socket.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut error as *mut libc::c_int).cast(),
                    &mut len,
                )
            })?;
            Ok((error != 0).then(|| io::Error::from_raw_os_error(error)))
        }
    }

    impl Drop for RingSocket {
        fn drop(&mut self) {
            // SAFETY: the mapping was made in `open` with this length and is unmapped once, here;
            // no borrow of it outlives `self`. The socket closes after (fields drop after this).
            unsafe {
                libc::munmap(self.map.as_ptr().cast(), self.geometry.bytes());
            }
        }
    }

    impl AsFd for RingSocket {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.socket.fd.as_fd()
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
            let (p, n) = filter(400, 128, false);
            assert_eq!(n, 5);
            assert_eq!(p[0].k, 0xffff_f038, "ld rand");
            assert_eq!((p[1].code, p[1].k), (0x94, 400), "mod #400");
            assert_eq!((p[2].code, p[2].jt, p[2].jf, p[2].k), (0x15, 0, 1, 0));
            assert_eq!((p[3].code, p[3].k), (0x06, 128), "ret #128");
            assert_eq!((p[4].code, p[4].k), (0x06, 0), "ret #0");
            let (p, n) = filter(1, 64, false);
            assert_eq!((n, p[0].code, p[0].k), (1, 0x06, 64));
        }

        #[test]
        fn the_filter_keeps_outgoing_packets_only_when_asked() {
            let (p, n) = filter(400, 128, true);
            assert_eq!(n, 7);
            assert_eq!((p[0].code, p[0].k), (0x20, 0xffff_f004), "ld pkttype");
            // Not outgoing: jump over the pick and the keep, to ret #0.
            assert_eq!((p[1].code, p[1].jt, p[1].jf, p[1].k), (0x15, 0, 4, 4));
            assert_eq!(p[2].k, 0xffff_f038, "ld rand");
            assert_eq!((p[5].code, p[5].k), (0x06, 128), "ret #128");
            assert_eq!((p[6].code, p[6].k), (0x06, 0), "ret #0");
            let (p, n) = filter(1, 64, true);
            assert_eq!(n, 4);
            assert_eq!((p[1].jt, p[1].jf), (0, 1));
            assert_eq!((p[2].code, p[2].k, p[3].k), (0x06, 64, 0));
        }

        #[test]
        fn bad_arguments_are_refused() {
            assert!(PacketSocket::open(1, 0, 128, true, true).is_err());
            assert!(PacketSocket::open(0, 10, 128, true, true).is_err());
            assert!(PacketSocket::open(1, MAX_SAMPLING_RATE + 1, 128, true, true).is_err());
            assert!(PacketSocket::open(1, 10, 128, false, false).is_err());
        }
    }
}
