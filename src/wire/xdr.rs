//! XDR (RFC 4506) as sFlow uses it: a cursor that writes big-endian, 4-byte aligned items into a
//! caller-owned buffer.
//!
//! Every `put_*` either writes its whole item (padding included, as zeros) and advances, or returns
//! [`Error::Truncated`] and leaves the cursor where it was. Nothing here allocates or panics.

use super::Error;

/// Bytes an item of `n` bytes takes once padded to the 4-byte XDR unit.
pub(crate) const fn pad4(n: usize) -> usize {
    n.div_ceil(4).saturating_mul(4)
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a UTF-8 character boundary.
///
/// This is what `string<max>` sends: a longer string is cut, never split inside a character.
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
    written: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            rest: buf,
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.written
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
        self.written += n;
        Ok(head)
    }

    fn put_array<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), Error> {
        self.take(N)?.copy_from_slice(&bytes);
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
        self.put_u32(u32::try_from(len).map_err(|_| Error::TooLong)?)
    }

    /// Fixed-length `opaque[n]`: the bytes, then zeros up to the next multiple of 4.
    pub fn put_opaque_fixed(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let padded = self.take(pad4(bytes.len()))?;
        // `pad4(n) >= n`, so the split always succeeds.
        let (data, pad) = padded
            .split_at_mut_checked(bytes.len())
            .ok_or(Error::Truncated)?;
        data.copy_from_slice(bytes);
        pad.fill(0);
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
        let body_len = u32::try_from(body_len).map_err(|_| Error::TooLong)?;
        if self.remaining() < 8 {
            return Err(Error::Truncated);
        }
        self.put_u32(tag)?;
        self.put_u32(body_len)
    }
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
    fn pad4_rounds_up() {
        assert_eq!([0, 1, 2, 3, 4, 5, 8].map(pad4), [0, 4, 4, 4, 4, 8, 8]);
        assert_eq!(pad4(usize::MAX), usize::MAX);
    }
}
