//! The response decoder: raw socket bytes in, one head, then body data, then the end; and a
//! collector that gathers a whole one-shot response into a bounded buffer.

use super::{parse_head, reserve_within, BodyDecoder, Error, Framing, ResponseHead, MAX_HEAD_LEN};

/// The most interim (1xx) responses skipped before a final one; more is [`Error::BadHead`].
pub const MAX_INTERIM_RESPONSES: u8 = 8;

/// One step of a response, as [`ResponseDecoder::next`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The final response head (yielded once, before any data).
    Head(ResponseHead),
    /// Body bytes, a non-empty slice of the caller's input.
    Data(&'a [u8]),
    /// The body is complete (yielded once).
    Done,
}

/// Decodes one HTTP/1.x response from pushed bytes: [`parse_head`] then [`BodyDecoder`].
///
/// The caller pushes whatever it read, split anywhere, through a cursor (`&mut &[u8]`) that
/// [`next`](Self::next) advances:
///
/// - `Ok(Some(Event::Head(head)))` once, for the final head; interim 1xx heads are skipped (at most
///   [`MAX_INTERIM_RESPONSES`]).
/// - `Ok(Some(Event::Data(bytes)))` for body content, borrowed from the caller's input (no copy).
/// - `Ok(Some(Event::Done))` once, when the body is complete; the cursor then starts at the first
///   byte after the response (normally nothing, since the agent asks for `Connection: close`).
/// - `Ok(None)`: all input was consumed and more is needed, or the response was already reported
///   done (the cursor is then left alone).
/// - `Err(e)`: the exchange failed; every later call returns `e` again.
///
/// Memory: the head is copied into an internal buffer of at most [`MAX_HEAD_LEN`] bytes (only head
/// bytes: the body is never buffered). Body data beyond the caller's `body_limit` is
/// [`Error::BodyTooLarge`]: reported right after the head when `Content-Length` announces it,
/// otherwise after exactly `body_limit` bytes were handed out, whatever the reads. What the decoder
/// yields never depends on how the input was split. Nothing here panics.
#[derive(Debug)]
pub struct ResponseDecoder {
    head_buf: Vec<u8>,
    state: State,
    head: Option<ResponseHead>,
    body_limit: u64,
    body_len: u64,
    interim_seen: u8,
}

#[derive(Debug)]
enum State {
    /// Gathering the head.
    Head,
    /// Decoding the body.
    Body(BodyDecoder),
    /// The body is complete and `Done` not yet yielded.
    Done,
    /// `Done` was yielded.
    Finished,
    /// The exchange failed.
    Failed(Error),
}

impl ResponseDecoder {
    /// A decoder accepting a body of at most `body_limit` bytes (`u64::MAX` for an endless stream
    /// such as `/events`).
    pub fn new(body_limit: u64) -> ResponseDecoder {
        ResponseDecoder {
            head_buf: Vec::new(),
            state: State::Head,
            head: None,
            body_limit,
            body_len: 0,
            interim_seen: 0,
        }
    }

    /// The final response head, once it has been yielded.
    pub fn head(&self) -> Option<&ResponseHead> {
        self.head.as_ref()
    }

    /// The body bytes yielded so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done | State::Finished)
    }

    /// Decodes from `input`, advancing it past the consumed bytes. See [`ResponseDecoder`] for the
    /// meaning of each result.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Event<'a>>, Error> {
        let result = self.next_inner(input);
        if let Err(e) = result {
            self.fail(e);
        }
        result
    }

    fn next_inner<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Event<'a>>, Error> {
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Finished => return Ok(None),
                State::Done => {
                    self.state = State::Finished;
                    return Ok(Some(Event::Done));
                }
                State::Head => {
                    let Some(head) = self.read_head(input)? else {
                        return Ok(None);
                    };
                    if head.is_interim() {
                        self.interim_seen = self.interim_seen.saturating_add(1);
                        if self.interim_seen > MAX_INTERIM_RESPONSES {
                            return Err(Error::BadHead);
                        }
                        continue;
                    }
                    self.head = Some(head);
                    // The head is still worth reporting (its status explains a lot), so an
                    // announced oversize body fails on the next call.
                    self.state = match head.framing {
                        Framing::Length(n) if n > self.body_limit => {
                            State::Failed(Error::BodyTooLarge)
                        }
                        framing => State::Body(BodyDecoder::new(framing)),
                    };
                    return Ok(Some(Event::Head(head)));
                }
                State::Body(body) => match body.decode(input)? {
                    Some(data) => {
                        // Hand out exactly the bytes within the limit, then fail: what the caller
                        // sees does not depend on how the reads were split.
                        let room = self.body_limit.saturating_sub(self.body_len);
                        let allowed = usize::try_from(room).unwrap_or(usize::MAX);
                        let data = if data.len() > allowed {
                            self.state = State::Failed(Error::BodyTooLarge);
                            match data.get(..allowed) {
                                Some(within) if !within.is_empty() => within,
                                _ => return Err(Error::BodyTooLarge),
                            }
                        } else {
                            data
                        };
                        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                        self.body_len = self.body_len.saturating_add(len);
                        return Ok(Some(Event::Data(data)));
                    }
                    None if body.is_done() => self.state = State::Done,
                    None => return Ok(None),
                },
            }
        }
    }

    /// Moves head bytes from `input` into the head buffer and parses them once a line has ended.
    ///
    /// Only the bytes up to the end of the head are consumed, so the body always comes from the
    /// caller's input. Parsing runs over the complete lines when new bytes hold an LF (a head can
    /// only end with one), or over everything once the buffer is full: a head costs at most one
    /// parse per line, and the verdict does not depend on how the input was split.
    fn read_head(&mut self, input: &mut &[u8]) -> Result<Option<ResponseHead>, Error> {
        let old_len = self.head_buf.len();
        let room = MAX_HEAD_LEN.saturating_sub(old_len);
        let bytes: &[u8] = input;
        let (new, rest) = bytes.split_at(bytes.len().min(room));
        reserve_within(&mut self.head_buf, new.len(), MAX_HEAD_LEN);
        self.head_buf.extend_from_slice(new);
        let full = self.head_buf.len() >= MAX_HEAD_LEN;
        let complete_lines = match new.iter().rposition(|&b| b == b'\n') {
            // Only whole lines are shown to the parser: what it makes of a line does not depend
            // on how much of the next one happened to arrive in the same read.
            Some(last_lf) if !full => old_len.saturating_add(last_lf).saturating_add(1),
            Some(_) => self.head_buf.len(),
            None if full => self.head_buf.len(),
            None => {
                *input = rest;
                return Ok(None);
            }
        };
        let lines = self
            .head_buf
            .get(..complete_lines)
            .unwrap_or(&self.head_buf);
        match parse_head(lines)? {
            None if full => Err(Error::HeadTooLarge),
            None => {
                *input = rest;
                Ok(None)
            }
            Some((head_len, head)) => {
                // The head ends within the new bytes: an earlier parse would have found it.
                let used = head_len.checked_sub(old_len).ok_or(Error::BadHead)?;
                *input = bytes.get(used..).ok_or(Error::BadHead)?;
                self.head_buf = Vec::new();
                Ok(Some(head))
            }
        }
    }

    /// Reports that the peer closed the connection.
    ///
    /// `Ok(())` means the response is now complete (a body delimited by the close ends here; no
    /// [`Event::Done`] follows for it). A close before the head or inside a Content-Length or
    /// chunked body is [`Error::Truncated`].
    pub fn eof(&mut self) -> Result<(), Error> {
        let result = match &mut self.state {
            State::Failed(e) => Err(*e),
            State::Done | State::Finished => Ok(()),
            State::Head => Err(Error::Truncated),
            State::Body(body) => body.eof(),
        };
        match result {
            Ok(()) => self.state = State::Finished,
            Err(e) => self.fail(e),
        }
        result
    }

    fn fail(&mut self, e: Error) {
        self.state = State::Failed(e);
        self.head_buf = Vec::new();
    }
}

/// Gathers one whole response into a bounded buffer: for the one-shot requests (ping, version,
/// inspect, list) whose body is parsed in one go.
#[derive(Debug)]
pub struct ResponseCollector {
    decoder: ResponseDecoder,
    body: Vec<u8>,
    body_limit: usize,
}

impl ResponseCollector {
    /// A collector accepting a body of at most `body_limit` bytes.
    pub fn new(body_limit: usize) -> ResponseCollector {
        let limit = u64::try_from(body_limit).unwrap_or(u64::MAX);
        ResponseCollector {
            decoder: ResponseDecoder::new(limit),
            body: Vec::new(),
            body_limit,
        }
    }

    /// Pushes bytes read from the socket. Returns whether the response is complete; bytes after
    /// its end are ignored (the server closes the connection after a `Connection: close` request).
    pub fn feed(&mut self, mut input: &[u8]) -> Result<bool, Error> {
        while let Some(event) = self.decoder.next(&mut input)? {
            match event {
                Event::Head(head) => {
                    if let Framing::Length(n) = head.framing {
                        let n = usize::try_from(n)
                            .unwrap_or(usize::MAX)
                            .min(self.body_limit);
                        self.body.reserve_exact(n);
                    }
                }
                Event::Data(data) => self.body.extend_from_slice(data),
                Event::Done => break,
            }
        }
        Ok(self.decoder.is_done())
    }

    /// Reports that the peer closed the connection: `Ok` if the response is complete, else the
    /// error ([`Error::Truncated`] for a cut-off response).
    pub fn eof(&mut self) -> Result<(), Error> {
        self.decoder.eof()
    }

    /// Whether the whole response has been received.
    pub fn is_complete(&self) -> bool {
        self.decoder.is_done()
    }

    /// The final response head, once received.
    pub fn head(&self) -> Option<&ResponseHead> {
        self.decoder.head()
    }

    /// The body received so far (the whole body once [`is_complete`](Self::is_complete)).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out, leaving the collector empty-bodied.
    pub fn take_body(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::fixtures::*;
    use crate::http::testutil::{dechunk_reference, head_len, splittings, XorShift};
    use crate::http::{ApiVersion, LineSplitter};

    /// How a run ended: complete (with the bytes left after the response), or still waiting.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum End {
        Done { leftover: usize },
        NeedMore,
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        head: Option<ResponseHead>,
        body: Vec<u8>,
        end: Result<End, Error>,
    }

    /// Pushes `pieces` through a decoder as an event loop would, checking the event order, then
    /// reports a close if `eof`.
    fn run(pieces: &[&[u8]], limit: u64, eof: bool) -> Outcome {
        let mut decoder = ResponseDecoder::new(limit);
        let (mut head, mut body, mut done, mut leftover) = (None, Vec::new(), false, 0);
        for piece in pieces {
            let mut rest = *piece;
            loop {
                match decoder.next(&mut rest) {
                    Ok(Some(Event::Head(h))) => {
                        assert!(head.is_none() && !done, "one head, first");
                        head = Some(h);
                    }
                    Ok(Some(Event::Data(data))) => {
                        assert!(head.is_some() && !done && !data.is_empty());
                        body.extend_from_slice(data);
                    }
                    Ok(Some(Event::Done)) => {
                        assert!(head.is_some() && !done, "done once, after the head");
                        done = true;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Outcome {
                            head,
                            body,
                            end: Err(e),
                        }
                    }
                }
            }
            if done {
                leftover += rest.len();
            } else {
                assert!(rest.is_empty(), "need-more must consume everything");
            }
        }
        assert_eq!(decoder.is_done(), done);
        assert_eq!(decoder.head(), head.as_ref());
        assert_eq!(decoder.body_len(), body.len() as u64);
        if eof && !done {
            if let Err(e) = decoder.eof() {
                return Outcome {
                    head,
                    body,
                    end: Err(e),
                };
            }
            return Outcome {
                head,
                body,
                end: Ok(End::Done { leftover: 0 }),
            };
        }
        let end = if done {
            End::Done { leftover }
        } else {
            End::NeedMore
        };
        Outcome {
            head,
            body,
            end: Ok(end),
        }
    }

    /// Runs every splitting of `input` (two pieces at every offset, bytes, random) and checks that
    /// they all agree with the single read; returns that outcome.
    fn run_all(input: &[u8], limit: u64, eof: bool) -> Outcome {
        let whole = run(&[input], limit, eof);
        for pieces in splittings(input, 50) {
            let outcome = run(&pieces, limit, eof);
            assert_eq!(
                outcome,
                whole,
                "pieces: {:?}",
                pieces.iter().map(|p| p.len()).collect::<Vec<_>>()
            );
        }
        whole
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).expect("body is JSON")
    }

    const V1_41: Option<ApiVersion> = Some(ApiVersion {
        major: 1,
        minor: 41,
    });

    #[test]
    fn docker_ping() {
        for (fixture, minor) in [(DOCKER_PING, 1), (DOCKER_PING_HTTP10, 0)] {
            let outcome = run_all(fixture, 1 << 20, false);
            let head = outcome.head.unwrap();
            assert_eq!((head.status, head.minor_version), (200, minor));
            assert_eq!(head.framing, Framing::Length(2));
            assert!(head.connection_close);
            assert_eq!(head.api_version, V1_41);
            assert!(!head.libpod);
            assert_eq!(
                head.server.unwrap().as_str(),
                "Docker/20.10.24+dfsg1 (linux)"
            );
            assert_eq!(outcome.body, b"OK");
            assert_eq!(outcome.end, Ok(End::Done { leftover: 0 }));
        }
    }

    #[test]
    fn podman_ping_and_list() {
        let outcome = run_all(PODMAN_PING, 1 << 20, false);
        let head = outcome.head.unwrap();
        assert!(head.libpod);
        assert_eq!(head.api_version, V1_41);
        assert_eq!(head.server.unwrap().as_str(), "Libpod/4.3.1 (linux)");
        assert_eq!(
            (outcome.body.as_slice(), outcome.end),
            (&b"OK"[..], Ok(End::Done { leftover: 0 }))
        );

        let outcome = run_all(PODMAN_LIST, 1 << 20, false);
        assert_eq!(outcome.head.unwrap().framing, Framing::Length(711));
        assert_eq!(outcome.end, Ok(End::Done { leftover: 0 }));
        let list = json(&outcome.body);
        assert_eq!(list[0]["Names"][0], "/pweb");
    }

    #[test]
    fn docker_version_and_errors() {
        for fixture in [DOCKER_VERSION, DOCKER_VERSION_HTTP10] {
            let outcome = run_all(fixture, 1 << 20, false);
            assert_eq!(outcome.end, Ok(End::Done { leftover: 0 }));
            assert_eq!(json(&outcome.body)["ApiVersion"], "1.41");
        }
        let outcome = run_all(DOCKER_TOO_NEW, 1 << 20, false);
        assert_eq!(outcome.head.unwrap().status, 400);
        assert_eq!(outcome.head.unwrap().api_version, V1_41);
        assert!(json(&outcome.body)["message"]
            .as_str()
            .unwrap()
            .contains("is too new"));
        let outcome = run_all(DOCKER_INSPECT_MISSING, 1 << 20, false);
        assert_eq!(outcome.head.unwrap().status, 404);
        assert_eq!(json(&outcome.body)["message"], "No such container: nosuch");
    }

    /// The same inspect document chunked over HTTP/1.1 and delimited by the close over HTTP/1.0.
    #[test]
    fn docker_inspect_chunked_and_until_close() {
        let chunked = run_all(DOCKER_INSPECT, 1 << 20, false);
        assert_eq!(chunked.head.unwrap().framing, Framing::Chunked);
        assert_eq!(chunked.end, Ok(End::Done { leftover: 0 }));
        assert_eq!(chunked.body.len(), 0x1100);
        assert_eq!(
            chunked.body,
            dechunk_reference(&DOCKER_INSPECT[head_len(DOCKER_INSPECT)..])
        );
        assert!(json(&chunked.body)["Id"]
            .as_str()
            .unwrap()
            .starts_with("8281b0e55c98"));

        let open = run_all(DOCKER_INSPECT_HTTP10, 1 << 20, false);
        assert_eq!(open.head.unwrap().framing, Framing::UntilClose);
        assert_eq!(open.end, Ok(End::NeedMore));
        let closed = run_all(DOCKER_INSPECT_HTTP10, 1 << 20, true);
        assert_eq!(closed.end, Ok(End::Done { leftover: 0 }));
        assert_eq!(closed.body, chunked.body);

        let list = run_all(DOCKER_LIST, 1 << 20, false);
        assert_eq!(list.end, Ok(End::Done { leftover: 0 }));
        let names: Vec<_> = json(&list.body)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Names"][0].clone())
            .collect();
        assert_eq!(names, ["/bigger", "/web"]);
    }

    #[test]
    fn events_stream_stays_open() {
        for fixture in [DOCKER_EVENTS_SMALL, PODMAN_EVENTS, DOCKER_EVENTS] {
            let outcome = run(&[fixture], u64::MAX, false);
            assert_eq!(outcome.head.unwrap().framing, Framing::Chunked);
            assert_eq!(outcome.end, Ok(End::NeedMore));
            assert_eq!(
                outcome.body,
                dechunk_reference(&fixture[head_len(fixture)..])
            );
            // The engine going away mid-stream is a truncation, not a clean end.
            assert_eq!(run(&[fixture], u64::MAX, true).end, Err(Error::Truncated));
        }
    }

    /// The three-stage pipeline of the events connection: response decoder, then line splitter.
    fn event_lines(pieces: &[&[u8]], line_limit: usize) -> (Vec<Vec<u8>>, usize) {
        let mut decoder = ResponseDecoder::new(u64::MAX);
        let mut splitter = LineSplitter::new(line_limit);
        let (mut lines, mut too_long) = (Vec::new(), 0);
        for piece in pieces {
            let mut rest = *piece;
            while let Some(event) = decoder.next(&mut rest).unwrap() {
                match event {
                    Event::Head(head) => assert_eq!(head.status, 200),
                    Event::Data(mut data) => {
                        while let Some(line) = splitter.next_line(&mut data) {
                            match line {
                                Ok(line) => lines.push(line.to_vec()),
                                Err(Error::LineTooLong) => too_long += 1,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                    Event::Done => break,
                }
            }
            assert!(splitter.capacity() <= line_limit);
        }
        (lines, too_long)
    }

    fn actions(lines: &[Vec<u8>]) -> Vec<String> {
        lines
            .iter()
            .map(|line| {
                let event = json(line);
                assert_eq!(event["Type"], "container");
                event["Action"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn events_lines_through_every_split() {
        let rows: &[(&[u8], &[&str])] = &[
            (DOCKER_EVENTS_SMALL, &["start", "die", "stop"]),
            (
                PODMAN_EVENTS,
                &["create", "init", "start", "die", "cleanup", "cleanup"],
            ),
            (
                DOCKER_EVENTS,
                &[
                    "create", "start", "create", "start", "kill", "kill", "die", "stop", "rename",
                    "pause", "unpause",
                ],
            ),
        ];
        for &(fixture, expected) in rows {
            let (lines, too_long) = event_lines(&[fixture], 1 << 20);
            assert_eq!(
                (actions(&lines), too_long),
                (expected.iter().map(|s| s.to_string()).collect(), 0)
            );
            for pieces in splittings(fixture, 50) {
                assert_eq!(event_lines(&pieces, 1 << 20), (lines.clone(), 0));
            }
        }
    }

    /// Re-chunks the recorded events body at random sizes (chunks that split lines, merge them, and
    /// cut inside UTF-8 sequences), with random hex case and extensions: the lines must not change.
    #[test]
    fn events_rechunked_split_and_merge_lines() {
        let head = &DOCKER_EVENTS[..head_len(DOCKER_EVENTS)];
        let body = dechunk_reference(&DOCKER_EVENTS[head.len()..]);
        let (expected, _) = event_lines(&[DOCKER_EVENTS], 1 << 20);
        let note = "caf\u{e9} d\u{e9}j\u{e0} vu".as_bytes();
        assert!(
            expected[0].windows(note.len()).any(|w| w == note),
            "the UTF-8 label is in the first event"
        );
        let mut rng = XorShift::new(41);
        for round in 0..40 {
            let mut stream = head.to_vec();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let max = [3, 50, 500, 5000][round % 4];
                let n = (1 + rng.below(max)).min(rest.len());
                let size = if rng.below(2) == 0 {
                    format!("{n:x}")
                } else {
                    format!("{n:X}")
                };
                let ext = if rng.below(4) == 0 {
                    ";chunk=\"rechunked\""
                } else {
                    ""
                };
                stream.extend_from_slice(format!("{size}{ext}\r\n").as_bytes());
                stream.extend_from_slice(&rest[..n]);
                stream.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            stream.extend_from_slice(b"0\r\n\r\n");
            let pieces: Vec<&[u8]> = stream.chunks(1 + rng.below(700)).collect();
            assert_eq!(
                event_lines(&pieces, 1 << 20),
                (expected.clone(), 0),
                "round {round}"
            );
            assert_eq!(
                event_lines(&[&stream], 1 << 20),
                (expected.clone(), 0),
                "round {round}"
            );
        }
        // One byte per chunk, read one byte at a time: UTF-8 sequences arrive split everywhere.
        let mut stream = head.to_vec();
        for &b in &body {
            stream.extend_from_slice(b"1\r\n");
            stream.push(b);
            stream.extend_from_slice(b"\r\n");
        }
        stream.extend_from_slice(b"0\r\n\r\n");
        let pieces: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(event_lines(&pieces, 1 << 20), (expected, 0));
    }

    #[test]
    fn body_limit() {
        // Content-Length over the limit: the head is still reported, then the error.
        let over = run_all(DOCKER_PING, 1, false);
        assert_eq!((over.head.unwrap().status, over.body.len()), (200, 0));
        assert_eq!(over.end, Err(Error::BodyTooLarge));
        assert_eq!(
            run_all(DOCKER_PING, 2, false).end,
            Ok(End::Done { leftover: 0 })
        );
        // Chunked and until-close bodies fail when the data passes the limit.
        for (fixture, eof) in [(DOCKER_INSPECT, false), (DOCKER_INSPECT_HTTP10, true)] {
            assert_eq!(
                run_all(fixture, 0x1100, eof).end,
                Ok(End::Done { leftover: 0 })
            );
            let over = run_all(fixture, 0x10ff, eof);
            assert_eq!(over.end, Err(Error::BodyTooLarge));
            // Exactly the bytes within the limit were handed out, whatever the reads.
            assert_eq!(over.body.len(), 0x10ff);
        }
    }

    #[test]
    fn interim_responses_are_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
        let outcome = run_all(input, 16, false);
        assert_eq!(outcome.head.unwrap().status, 200);
        assert_eq!(
            (outcome.body.as_slice(), outcome.end),
            (&b"OK"[..], Ok(End::Done { leftover: 0 }))
        );

        let mut many = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(usize::from(MAX_INTERIM_RESPONSES));
        many.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(run_all(&many, 16, false).head.unwrap().status, 204);
        many.splice(0..0, b"HTTP/1.1 100 Continue\r\n\r\n".iter().copied());
        assert_eq!(run_all(&many, 16, false).end, Err(Error::BadHead));

        // 101 is final, without a body.
        let outcome = run_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw",
            16,
            false,
        );
        assert_eq!(outcome.head.unwrap().status, 101);
        assert_eq!(outcome.end, Ok(End::Done { leftover: 3 }));
    }

    #[test]
    fn bytes_after_the_response_are_left_alone() {
        let mut two = DOCKER_PING.to_vec();
        two.extend_from_slice(DOCKER_TOO_NEW);
        let outcome = run_all(&two, 1 << 20, false);
        assert_eq!(outcome.body, b"OK");
        assert_eq!(
            outcome.end,
            Ok(End::Done {
                leftover: DOCKER_TOO_NEW.len()
            })
        );
        // Once done, further calls neither consume nor yield.
        let mut decoder = ResponseDecoder::new(16);
        let mut rest: &[u8] = &two;
        while decoder.next(&mut rest).unwrap().is_some() {}
        assert_eq!(rest, DOCKER_TOO_NEW);
        assert_eq!(decoder.next(&mut rest), Ok(None));
        assert_eq!(rest, DOCKER_TOO_NEW);
        assert_eq!(decoder.eof(), Ok(()));
    }

    #[test]
    fn truncated_at_every_byte() {
        for fixture in [
            DOCKER_PING,
            PODMAN_PING,
            DOCKER_INSPECT,
            DOCKER_LIST,
            DOCKER_INSPECT_MISSING,
        ] {
            for cut in 0..fixture.len() {
                let outcome = run(&[&fixture[..cut]], 1 << 20, true);
                assert_eq!(outcome.end, Err(Error::Truncated), "cut at {cut}");
            }
        }
        // A close-delimited body may end anywhere after the head; the head itself may not be cut.
        let head = head_len(DOCKER_INSPECT_HTTP10);
        for cut in 0..DOCKER_INSPECT_HTTP10.len() {
            let outcome = run(&[&DOCKER_INSPECT_HTTP10[..cut]], 1 << 20, true);
            let expected = if cut < head {
                Err(Error::Truncated)
            } else {
                Ok(End::Done { leftover: 0 })
            };
            assert_eq!(outcome.end, expected, "cut at {cut}");
        }
        // Every cut of an events stream in the middle of a chunk is a truncation too.
        for cut in 0..DOCKER_EVENTS_SMALL.len() {
            assert_eq!(
                run(&[&DOCKER_EVENTS_SMALL[..cut]], u64::MAX, true).end,
                Err(Error::Truncated)
            );
        }
    }

    #[test]
    fn hostile_heads() {
        let rows: &[(&[u8], Error)] = &[
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                Error::BadChunkSize,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n12345678901234567\r\n",
                Error::BadChunkSize,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
                Error::BadChunkSize,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
                Error::ChunkTooLarge,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOKOK",
                Error::BadChunkTerminator,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Error::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Error::BadContentLength,
            ),
            (b"HTTP/1.1 OK\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 200 OK\r\nX\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 2OO OK\r\n\r\n", Error::BadHead),
            (b"Docker\r\n\r\n", Error::BadHead),
            // Empty lines before the status line are skipped (RFC 9112 §2.2), so this is no head yet.
            (b"\r\n\r\n", Error::Truncated),
            (b"\0\0\0\0\n", Error::BadHead),
            (b"400 Bad Request\n", Error::BadHead),
        ];
        for &(input, error) in rows {
            assert_eq!(
                run_all(input, 1 << 20, true).end,
                Err(error),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn oversize_heads() {
        // A head that never ends: one long field, or garbage without any LF.
        let mut endless = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        endless.resize(MAX_HEAD_LEN + 5000, b'a');
        let mut obs_text = b"HTTP/1.1 200 OK".to_vec();
        obs_text.resize(MAX_HEAD_LEN + 5000, b'\xff');
        let mut no_lf = b"HTTP/1.1 200 OK".to_vec();
        no_lf.resize(MAX_HEAD_LEN + 5000, b'\x01');
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..1000 {
            many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        let rows: &[(&[u8], Error)] = &[
            (&endless, Error::HeadTooLarge),
            (&obs_text, Error::HeadTooLarge),
            (&no_lf, Error::BadHead),
            (&many, Error::TooManyHeaders),
        ];
        for &(input, error) in rows {
            let mut rng = XorShift::new(7);
            let mut splits: Vec<Vec<&[u8]>> = vec![vec![input], input.chunks(1).collect()];
            for _ in 0..10 {
                splits.push(input.chunks(1 + rng.below(9000)).collect());
            }
            for pieces in splits {
                assert_eq!(run(&pieces, 1 << 20, false).end, Err(error));
            }
        }
        // The head buffer never allocates past the head limit.
        let mut decoder = ResponseDecoder::new(0);
        let mut result = Ok(None);
        for byte in endless.chunks(1) {
            result = decoder.next(&mut &byte[..]);
            assert!(decoder.head_buf.capacity() <= MAX_HEAD_LEN);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(Error::HeadTooLarge));
    }

    /// Mutated recordings (bytes flipped, inserted, dropped) never panic, and whatever the decoder
    /// makes of them (data or error) does not depend on how the reads were split.
    #[test]
    fn mutated_recordings_are_split_invariant() {
        let mut rng = XorShift::new(2026);
        let alphabet = b"\r\n:;0123456789abcdefABCDEF \t-\0\xff\xc3\xa9HTTP/1.";
        for round in 0..300 {
            let source = [
                DOCKER_PING,
                DOCKER_EVENTS_SMALL,
                DOCKER_INSPECT,
                PODMAN_PING,
            ][round % 4];
            let mut input = source.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(input.len());
                let byte = alphabet[rng.below(alphabet.len())];
                match rng.below(3) {
                    0 => input[at] = byte,
                    1 => input.insert(at, byte),
                    _ => {
                        input.remove(at);
                    }
                }
            }
            for eof in [false, true] {
                let whole = run(&[&input], 4096, eof);
                let mut splits: Vec<Vec<&[u8]>> = vec![input.chunks(1).collect()];
                for _ in 0..4 {
                    splits.push(input.chunks(1 + rng.below(300)).collect());
                }
                for pieces in splits {
                    assert_eq!(run(&pieces, 4096, eof), whole, "round {round}");
                }
            }
        }
    }

    #[test]
    fn eof_cases() {
        let mut decoder = ResponseDecoder::new(16);
        assert_eq!(decoder.eof(), Err(Error::Truncated));
        assert_eq!(
            decoder.next(&mut &b"HTTP/1.1 200 OK\r\n\r\n"[..]),
            Err(Error::Truncated)
        );

        let mut decoder = ResponseDecoder::new(16);
        let mut input: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert!(matches!(decoder.next(&mut input), Ok(Some(Event::Head(_)))));
        assert_eq!(decoder.next(&mut input), Ok(Some(Event::Data(b"body"))));
        assert_eq!(decoder.next(&mut input), Ok(None));
        assert_eq!(decoder.eof(), Ok(()));
        assert!(decoder.is_done());
        assert_eq!(decoder.next(&mut &b"more"[..]), Ok(None));
    }

    #[test]
    fn collector() {
        let cases: &[(&[u8], u16, bool)] = &[
            (DOCKER_PING, 200, false),
            (PODMAN_PING, 200, false),
            (DOCKER_INSPECT, 200, false),
            (DOCKER_INSPECT_HTTP10, 200, true),
            (DOCKER_INSPECT_MISSING, 404, false),
        ];
        for &(fixture, status, needs_eof) in cases {
            let expected = run(&[fixture], 1 << 20, true).body;
            for pieces in splittings(fixture, 5).into_iter().step_by(97) {
                let mut collector = ResponseCollector::new(1 << 20);
                let mut complete = false;
                for piece in pieces {
                    complete = collector.feed(piece).unwrap();
                }
                assert_eq!(complete, !needs_eof);
                collector.eof().unwrap();
                assert!(collector.is_complete());
                assert_eq!(collector.head().unwrap().status, status);
                assert_eq!(collector.body(), expected);
                assert!(collector.body().len() <= 1 << 20);
            }
        }
        let mut collector = ResponseCollector::new(0x10ff);
        assert_eq!(collector.feed(DOCKER_INSPECT), Err(Error::BodyTooLarge));
        assert_eq!(collector.eof(), Err(Error::BodyTooLarge));
        let mut collector = ResponseCollector::new(1 << 20);
        assert_eq!(collector.feed(&DOCKER_PING[..100]), Ok(false));
        assert_eq!(collector.eof(), Err(Error::Truncated));
        let mut collector = ResponseCollector::new(2);
        assert_eq!(collector.feed(DOCKER_PING), Ok(true));
        assert_eq!(collector.take_body(), b"OK");
        assert!(collector.body().is_empty());
    }
}
