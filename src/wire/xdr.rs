//! XDR (RFC 4506) as sFlow uses it: a cursor that writes big-endian, 4-byte aligned items into a
//! caller-owned buffer.
//!
//! Every `put_*` either writes its whole item (padding included, as zeros) and advances, or returns
//! [`Error::Truncated`] and leaves the cursor where it was. Nothing here allocates or panics.
//!
//! Items of a size known when compiled (a record of fixed layout, a run of header words) are
//! written through a [`Fixed`] instead: [`Writer::fixed`] checks the room once and hands out an
//! `[u8; N]`, whose fields are then written at constant offsets with no check of their own. This
//! is what keeps the encoder fast at `opt-level = "s"`: a record costs one length check and a few
//! stores, where a `put_*` per field costs a check and a cursor update each.

use super::{Error, RECORD_HEADER_LEN};

/// Bytes an item of `n` bytes takes once padded to the 4-byte XDR unit.
pub(crate) const fn pad4(n: usize) -> usize {
    match n.checked_add(3) {
        Some(m) => m & !3,
        // Past the last multiple of 4 (`usize::MAX - 3`): saturate, never below `n`.
        None => usize::MAX,
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a UTF-8 character boundary.
///
/// This is what `string<max>` sends: a longer string is cut, never split inside a character.
#[inline]
pub fn cut_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    // Offset 0 is always a boundary, so the search always succeeds.
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.get(..end).unwrap_or("")
}

/// Bytes `string<max>` takes on the wire for `s`: the 4-byte length, then the (cut) bytes padded
/// to 4.
#[inline]
pub fn string_len(s: &str, max: usize) -> usize {
    pad4(cut_str(s, max).len()).saturating_add(4)
}

/// A cursor writing XDR items into a caller-owned buffer.
///
/// It borrows the buffer for its lifetime and keeps the unwritten rest; [`Writer::written`] says
/// how many bytes from the start of the buffer hold items.
#[derive(Debug)]
pub struct Writer<'a> {
    rest: &'a mut [u8],
    /// Length of the whole buffer: the bytes written are the ones before `rest`.
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            len: buf.len(),
            rest: buf,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.len - self.rest.len()
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Splits the next `n` bytes off the free part, or leaves it untouched if they are not there.
    fn take(&mut self, n: usize) -> Result<&'a mut [u8], Error> {
        if n > self.rest.len() {
            return Err(Error::Truncated);
        }
        // Cannot panic: `n` was checked against the length just above.
        let (head, tail) = core::mem::take(&mut self.rest).split_at_mut(n);
        self.rest = tail;
        Ok(head)
    }

    /// Splits the next `N` bytes off the free part as a [`Fixed`] item to fill in, or leaves the
    /// cursor untouched if they are not there.
    ///
    /// The item borrows the buffer, not the writer: it can be filled in after later items were
    /// written (a header whose length is known only then).
    #[inline]
    pub(crate) fn fixed<const N: usize>(&mut self) -> Result<Fixed<'a, N>, Error> {
        if N > self.rest.len() {
            return Err(Error::Truncated);
        }
        // Never `None`: `N` was checked against the length just above.
        let (head, tail) = core::mem::take(&mut self.rest)
            .split_first_chunk_mut::<N>()
            .ok_or(Error::Truncated)?;
        self.rest = tail;
        Ok(Fixed { buf: head, at: 0 })
    }

    /// A counter record of fixed size, `N` bytes with its header: writes the tag and the body
    /// length (`N - 8`) and returns the item positioned at the body, or leaves the cursor untouched
    /// if the `N` bytes are not there.
    #[inline]
    pub(crate) fn record<const N: usize>(&mut self, tag: u32) -> Result<Fixed<'a, N>, Error> {
        // Checked when compiled: every record has its header, and its length fits the field.
        let body_len = const {
            assert!(N >= RECORD_HEADER_LEN && N - RECORD_HEADER_LEN <= u32::MAX as usize);
            (N - RECORD_HEADER_LEN) as u32
        };
        let mut item = self.fixed::<N>()?;
        item.u32(tag).u32(body_len);
        Ok(item)
    }

    fn put_array<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), Error> {
        self.fixed::<N>()?.bytes(bytes);
        Ok(())
    }

    /// `unsigned int` (also enums and tags).
    pub fn put_u32(&mut self, value: u32) -> Result<(), Error> {
        self.put_array(value.to_be_bytes())
    }

    /// `int`.
    pub fn put_i32(&mut self, value: i32) -> Result<(), Error> {
        self.put_array(value.to_be_bytes())
    }

    /// `unsigned hyper`: high 32 bits first.
    pub fn put_u64(&mut self, value: u64) -> Result<(), Error> {
        self.put_array(value.to_be_bytes())
    }

    /// `float`: IEEE-754 single precision, big-endian.
    pub fn put_f32(&mut self, value: f32) -> Result<(), Error> {
        self.put_array(value.to_be_bytes())
    }

    /// A length field: `len` as an `unsigned int`, or [`Error::TooLong`] if it does not fit.
    pub fn put_len(&mut self, len: usize) -> Result<(), Error> {
        self.put_u32(len_u32(len)?)
    }

    /// Fixed-length `opaque[n]`: the bytes, then zeros up to the next multiple of 4.
    pub fn put_opaque_fixed(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let padded = self.take(pad4(bytes.len()))?;
        // The padding (at most 3 bytes) lies in the last word: zero that word, then write the
        // bytes over its start. One store instead of a fill loop.
        if let Some(last) = padded.last_chunk_mut::<4>() {
            *last = [0; 4];
        }
        // Never `None`: `pad4(n) >= n`.
        if let Some(data) = padded.get_mut(..bytes.len()) {
            data.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Variable-length `opaque<>`: the length, then the bytes padded like
    /// [`Writer::put_opaque_fixed`].
    ///
    /// Checks the room for the whole item first, so a short buffer leaves the cursor untouched.
    pub fn put_opaque(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.remaining() < pad4(bytes.len()).saturating_add(4) {
            return Err(Error::Truncated);
        }
        self.put_len(bytes.len())?;
        self.put_opaque_fixed(bytes)
    }

    /// A `mac`: `opaque[6]`, so 6 bytes then 2 zeros.
    pub fn put_mac(&mut self, mac: &[u8; 6]) -> Result<(), Error> {
        self.put_opaque_fixed(mac)
    }

    /// `string<max>`: `s` cut to at most `max` bytes on a character boundary (see [`cut_str`]),
    /// then sent as a variable-length opaque.
    pub fn put_string(&mut self, s: &str, max: usize) -> Result<(), Error> {
        self.put_opaque(cut_str(s, max).as_bytes())
    }

    /// The header of a `counter_record` or `sample_record`: the tag (`enterprise << 12 | format`)
    /// and the length of the body that follows.
    pub fn put_tag_len(&mut self, tag: u32, body_len: usize) -> Result<(), Error> {
        let body_len = len_u32(body_len)?;
        if self.remaining() < 8 {
            return Err(Error::Truncated);
        }
        self.put_u32(tag)?;
        self.put_u32(body_len)
    }
}

/// An item of `N` bytes taken from a [`Writer`] (see [`Writer::fixed`]), filled in front to back.
///
/// Each method writes its field at the next offset and returns the item, so a record reads as one
/// chain of its fields in wire order. Once inlined, the offsets are constants and the compiler
/// drops every bounds check: the room was checked once, when the item was taken. A field that
/// would run past the end is a mistake in the code (the fields do not add up to the item's
/// size): a debug assertion catches it in tests, and a release build does not write the field
/// rather than panic. A field left unwritten shows in the golden-byte tests, which fill the
/// buffer with a sentinel first.
#[derive(Debug)]
pub(crate) struct Fixed<'b, const N: usize> {
    buf: &'b mut [u8; N],
    at: usize,
}

impl<const N: usize> Fixed<'_, N> {
    /// `M` bytes at the next offset.
    #[inline(always)]
    pub(crate) fn bytes<const M: usize>(&mut self, bytes: [u8; M]) -> &mut Self {
        // A mistake in the code, never a matter of values or buffer sizes: catch it in tests.
        debug_assert!(self.at + M <= N, "field past the end of a {N}-byte item");
        if let Some(field) = self
            .buf
            .get_mut(self.at..)
            .and_then(|rest| rest.first_chunk_mut::<M>())
        {
            *field = bytes;
        }
        self.at = self.at.saturating_add(M);
        self
    }

    /// `unsigned int` (also enums, tags and lengths).
    #[inline(always)]
    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes(value.to_be_bytes())
    }

    /// `int`.
    #[inline(always)]
    pub(crate) fn i32(&mut self, value: i32) -> &mut Self {
        self.bytes(value.to_be_bytes())
    }

    /// `unsigned hyper`: high 32 bits first.
    #[inline(always)]
    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes(value.to_be_bytes())
    }

    /// `float`: IEEE-754 single precision, big-endian.
    #[inline(always)]
    pub(crate) fn f32(&mut self, value: f32) -> &mut Self {
        self.bytes(value.to_be_bytes())
    }

    /// A `mac`: `opaque[6]`, so the 6 bytes then 2 zeros.
    #[inline(always)]
    pub(crate) fn mac(&mut self, mac: [u8; 6]) -> &mut Self {
        self.bytes(mac).bytes([0; 2])
    }
}

/// An XDR length (of an array, a string or a structure) as its 32-bit field, or
/// [`Error::TooLong`].
#[inline]
pub(crate) fn len_u32(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: u8 = 0xa5;

    /// Runs `f` on a writer over `len` sentinel bytes; returns the buffer and the count.
    fn write_with(
        len: usize,
        f: impl FnOnce(&mut Writer) -> Result<(), Error>,
    ) -> (Vec<u8>, usize) {
        let mut buf = vec![SENTINEL; len];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        let n = w.written();
        assert_eq!(w.remaining(), len - n);
        (buf, n)
    }

    #[test]
    fn integers_are_big_endian() {
        let (buf, n) = write_with(20, |w| {
            w.put_u32(0x0102_0304)?;
            w.put_i32(-2)?;
            w.put_u64(0x1122_3344_5566_7788)?;
            Ok(())
        });
        assert_eq!(n, 16);
        assert_eq!(
            buf,
            [
                0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                0x77, 0x88, 0xa5, 0xa5, 0xa5, 0xa5
            ]
        );
    }

    #[test]
    fn floats_are_ieee_single_big_endian() {
        let (buf, _) = write_with(12, |w| {
            w.put_f32(-1.0)?;
            w.put_f32(0.36)?;
            w.put_f32(1.5)
        });
        assert_eq!(
            buf,
            [0xbf, 0x80, 0, 0, 0x3e, 0xb8, 0x51, 0xec, 0x3f, 0xc0, 0, 0]
        );
    }

    #[test]
    fn mac_takes_eight_bytes_with_zero_padding() {
        let (buf, n) = write_with(10, |w| w.put_mac(&[0x02, 0x42, 0xac, 0x11, 0x00, 0x02]));
        assert_eq!(n, 8);
        assert_eq!(buf, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0, 0, 0xa5, 0xa5]);
    }

    #[test]
    fn fixed_opaque_has_no_length_and_zero_padding() {
        let (buf, n) = write_with(8, |w| w.put_opaque_fixed(b"abcde"));
        assert_eq!(n, 8);
        assert_eq!(buf, *b"abcde\0\0\0");
        let (buf, n) = write_with(5, |w| w.put_opaque_fixed(b""));
        assert_eq!(n, 0);
        assert_eq!(buf, [0xa5; 5]);
    }

    #[test]
    fn string_has_length_bytes_and_zero_padding() {
        let (buf, n) = write_with(13, |w| w.put_string("hsf-b", 64));
        assert_eq!(n, 12);
        assert_eq!(buf, *b"\0\0\0\x05hsf-b\0\0\0\xa5");
        // A length that is already a multiple of 4 gets no padding.
        let (buf, n) = write_with(8, |w| w.put_string("abcd", 64));
        assert_eq!(n, 8);
        assert_eq!(buf, *b"\0\0\0\x04abcd");
    }

    #[test]
    fn empty_string_is_a_zero_length() {
        let (buf, n) = write_with(5, |w| w.put_string("", 64));
        assert_eq!(n, 4);
        assert_eq!(buf, [0, 0, 0, 0, 0xa5]);
        assert_eq!(string_len("", 64), 4);
    }

    #[test]
    fn long_string_is_cut_at_the_limit() {
        let s = "x".repeat(70);
        let (buf, n) = write_with(68, |w| w.put_string(&s, 64));
        assert_eq!(n, 68);
        assert_eq!(buf[..4], [0, 0, 0, 64]);
        assert!(buf[4..].iter().all(|&b| b == b'x'));
        assert_eq!(string_len(&s, 64), 68);
    }

    #[test]
    fn cut_never_splits_a_character() {
        // 'é' is 2 bytes at 63..65: the 64-byte cut must stop before it.
        let s = format!("{}é", "a".repeat(63));
        assert_eq!(cut_str(&s, 64), &s[..63]);
        // '€' is 3 bytes at 30..33: the 32-byte cut must stop before it.
        let s = format!("{}€z", "b".repeat(30));
        assert_eq!(cut_str(&s, 32), &s[..30]);
        assert_eq!(cut_str(&s, 33), &s[..33]);
        assert_eq!(cut_str("€", 2), "");
        assert_eq!(cut_str("€", 0), "");
        assert_eq!(cut_str("ab", 2), "ab");

        let (buf, n) = write_with(36, |w| w.put_string(&s, 32));
        assert_eq!(n, 36);
        let mut expected = vec![0, 0, 0, 30];
        expected.extend_from_slice(&[b'b'; 30]);
        expected.extend_from_slice(&[0, 0]);
        assert_eq!(buf, expected);
    }

    #[test]
    fn tag_len_writes_both_words() {
        let (buf, n) = write_with(8, |w| w.put_tag_len(2000, 56));
        assert_eq!(n, 8);
        assert_eq!(buf, [0, 0, 0x07, 0xd0, 0, 0, 0, 0x38]);
    }

    #[test]
    fn every_short_buffer_is_an_error_and_leaves_the_cursor() {
        type Put = fn(&mut Writer) -> Result<(), Error>;
        let puts: [(usize, Put); 9] = [
            (4, |w| w.put_u32(1)),
            (4, |w| w.put_i32(-1)),
            (8, |w| w.put_u64(1)),
            (4, |w| w.put_f32(1.0)),
            (8, |w| w.put_mac(&[1; 6])),
            (8, |w| w.put_opaque_fixed(b"12345")),
            (12, |w| w.put_string("hsf-a", 64)),
            (8, |w| w.put_tag_len(2000, 32)),
            (4, |w| w.put_len(7)),
        ];
        for (needed, put) in puts {
            for len in 0..needed {
                let mut buf = vec![SENTINEL; len];
                let mut w = Writer::new(&mut buf);
                assert_eq!(
                    put(&mut w),
                    Err(Error::Truncated),
                    "needed {needed}, had {len}"
                );
                assert_eq!(w.written(), 0);
                assert_eq!(w.remaining(), len);
            }
            let mut buf = vec![SENTINEL; needed];
            let mut w = Writer::new(&mut buf);
            assert_eq!(put(&mut w), Ok(()));
            assert_eq!(w.written(), needed);
        }
    }

    #[test]
    fn writes_continue_after_a_failed_one() {
        let mut buf = [SENTINEL; 6];
        let mut w = Writer::new(&mut buf);
        w.put_u32(7).unwrap();
        assert_eq!(w.put_u32(8), Err(Error::Truncated));
        assert_eq!(w.written(), 4);
        assert_eq!(w.remaining(), 2);
    }

    #[test]
    fn oversized_lengths_are_too_long() {
        let mut buf = [SENTINEL; 8];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.put_tag_len(1, usize::MAX), Err(Error::TooLong));
        assert_eq!(w.put_len(usize::MAX), Err(Error::TooLong));
        assert_eq!(w.written(), 0);
    }

    #[test]
    fn fixed_item_is_filled_in_order_and_checks_the_room_once() {
        let mut buf = [SENTINEL; 26];
        let mut w = Writer::new(&mut buf);
        let mut later = w.fixed::<4>().unwrap();
        w.fixed::<20>()
            .unwrap()
            .u32(0x0102_0304)
            .i32(-2)
            .f32(1.5)
            .mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(w.written(), 24);
        // Short: an error, and the cursor stays.
        assert!(matches!(w.fixed::<4>(), Err(Error::Truncated)));
        assert_eq!((w.written(), w.remaining()), (24, 2));
        // An item taken earlier is filled in after later ones were written.
        later.u32(0x5566_7788);
        #[rustfmt::skip]
        let expected = [
            0x55, 0x66, 0x77, 0x88,
            0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe, 0x3f, 0xc0, 0, 0,
            0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0,
            0xa5, 0xa5,
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn fixed_record_writes_its_tag_and_body_length() {
        let mut buf = [SENTINEL; 20];
        let mut w = Writer::new(&mut buf);
        w.record::<16>(2002).unwrap().u32(2).u32(1);
        assert_eq!(w.written(), 16);
        assert!(matches!(w.record::<8>(1), Err(Error::Truncated)));
        assert_eq!(w.written(), 16);
        assert_eq!(
            buf,
            [0, 0, 0x07, 0xd2, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 1, 0xa5, 0xa5, 0xa5, 0xa5]
        );
    }

    #[test]
    fn pad4_rounds_up() {
        assert_eq!([0, 1, 2, 3, 4, 5, 8].map(pad4), [0, 4, 4, 4, 4, 8, 8]);
        assert_eq!(pad4(usize::MAX), usize::MAX);
        assert_eq!(pad4(usize::MAX - 3), usize::MAX - 3);
        assert_eq!(pad4(usize::MAX - 4), usize::MAX - 3);
    }
}
