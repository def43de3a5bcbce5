//! The response decoder: raw socket bytes in, one head, then body data, then the end.
//!
//! [`ResponseDecoder`] chains [`parse_head`] and [`BodyDecoder`]. The caller pushes whatever it read,
//! split anywhere, through a cursor (`&mut &[u8]`) that [`next`](ResponseDecoder::next) advances:
//!
//! - `Ok(Some(Event::Head(head)))` once, for the final head; interim 1xx heads are skipped (at most
//!   [`MAX_INTERIM_RESPONSES`]).
//! - `Ok(Some(Event::Data(bytes)))` for body content, borrowed from the caller's input (no copy).
//! - `Ok(Some(Event::Done))` once, when the body is complete; the cursor then starts at the first byte
//!   after the response (normally nothing, since the agent asks for `Connection: close`).
//! - `Ok(None)`: all input was consumed and more is needed, or the response was already reported
//!   done (the cursor is then left alone).
//! - `Err(e)`: the exchange failed; every later call returns `e` again.
//!
//! Memory: the head is copied into an internal buffer of at most [`MAX_HEAD_LEN`] bytes (only head
//! bytes: the body is never buffered); the body data beyond the caller's `body_limit` is
//! [`Error::BodyTooLarge`], reported as soon as a `Content-Length` announces it or the data passes it.
//! [`ResponseCollector`] gathers a whole one-shot response (ping, inspect, list) into a bounded `Vec`.
//! Nothing here panics.

use super::{parse_head, BodyDecoder, Error, Framing, ResponseHead, MAX_HEAD_LEN};

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

/// Decodes one HTTP/1.x response from pushed bytes. See the [module docs](self).
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

    /// Decodes from `input`, advancing it past the consumed bytes. See the [module docs](self) for
    /// the meaning of each result.
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
                        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                        let total = self.body_len.saturating_add(len);
                        if total > self.body_limit {
                            return Err(Error::BodyTooLarge);
                        }
                        self.body_len = total;
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
    /// caller's input. Parsing runs when new bytes hold an LF (a head can only end with one) or the
    /// buffer is full, so a head costs at most one parse per line and the verdict does not depend
    /// on how the input was split.
    fn read_head(&mut self, input: &mut &[u8]) -> Result<Option<ResponseHead>, Error> {
        let old_len = self.head_buf.len();
        let room = MAX_HEAD_LEN.saturating_sub(old_len);
        let bytes: &[u8] = input;
        let (new, rest) = bytes.split_at(bytes.len().min(room));
        self.head_buf.extend_from_slice(new);
        let full = self.head_buf.len() >= MAX_HEAD_LEN;
        if !new.contains(&b'\n') && !full {
            *input = rest;
            return Ok(None);
        }
        match parse_head(&self.head_buf)? {
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
        ResponseCollector { decoder: ResponseDecoder::new(limit), body: Vec::new(), body_limit }
    }

    /// Pushes bytes read from the socket. Returns whether the response is complete; bytes after
    /// its end are ignored (the server closes the connection after a `Connection: close` request).
    pub fn feed(&mut self, mut input: &[u8]) -> Result<bool, Error> {
        while let Some(event) = self.decoder.next(&mut input)? {
            match event {
                Event::Head(head) => {
                    if let Framing::Length(n) = head.framing {
                        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.body_limit);
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
