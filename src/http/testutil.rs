//! Test support: recorded responses and the ways of splitting them into reads.

/// Responses recorded from Docker 20.10.24 and Podman 4.3.1 on this workplace's machines
/// (tests/fixtures/http/README.md tells how).
pub mod fixtures {
    macro_rules! fixture {
        ($name:ident, $file:literal) => {
            pub const $name: &[u8] = include_bytes!(concat!("../../tests/fixtures/http/", $file));
        };
    }
    fixture!(DOCKER_PING, "docker-ping.http");
    fixture!(DOCKER_PING_HTTP10, "docker-ping-http10.http");
    fixture!(DOCKER_VERSION, "docker-version.http");
    fixture!(DOCKER_VERSION_HTTP10, "docker-version-http10.http");
    fixture!(DOCKER_TOO_NEW, "docker-too-new.http");
    fixture!(DOCKER_INSPECT, "docker-inspect.http");
    fixture!(DOCKER_INSPECT_HTTP10, "docker-inspect-http10.http");
    fixture!(DOCKER_INSPECT_MISSING, "docker-inspect-missing.http");
    fixture!(DOCKER_LIST, "docker-list.http");
    fixture!(DOCKER_EVENTS, "docker-events.http");
    fixture!(DOCKER_EVENTS_SMALL, "docker-events-small.http");
    fixture!(PODMAN_PING, "podman-ping.http");
    fixture!(PODMAN_LIST, "podman-list.http");
    fixture!(PODMAN_EVENTS, "podman-events.http");
}

/// A tiny xorshift64 generator: fixed seeds, reproducible splits, no dependency.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The ways an input is cut into reads: whole, in two at every offset, one byte at a time, and
/// `random` random cuttings (pieces of 1 to 64 bytes, or up to the whole input).
pub fn splittings(input: &[u8], random: usize) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![input]];
    for cut in 0..=input.len() {
        all.push(vec![&input[..cut], &input[cut..]]);
    }
    all.push(input.chunks(1).collect());
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    for round in 0..random {
        let max_piece = if round % 2 == 0 {
            64
        } else {
            input.len().max(1)
        };
        let mut pieces = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = 1 + rng.below(max_piece.min(rest.len()));
            let (piece, tail) = rest.split_at(n);
            pieces.push(piece);
            rest = tail;
        }
        all.push(pieces);
    }
    all
}

/// The body of a chunked message, de-chunked with `httparse::parse_chunk_size` as an independent
/// reference (whole input at once, well-formed input only).
pub fn dechunk_reference(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Ok(httparse::Status::Complete((line, size))) = httparse::parse_chunk_size(body) else {
            return out;
        };
        let size = size as usize;
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line..line + size]);
        body = &body[line + size + 2..];
    }
}

/// Where the head of a recorded response ends.
pub fn head_len(response: &[u8]) -> usize {
    response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}
