//! What a client sends and expects back: every message carries its sequence number and a body
//! unique to its connection, so a lost, reordered, corrupted or misrouted echo fails the check.

/// Bytes of a message taken by its sequence number (little-endian); shorter messages carry only
/// its low bytes.
pub const HEADER: usize = 8;

/// The messages of one connection, all of one size.
///
/// Byte `i` of a message is its sequence number's byte `i` in the header, and past it a byte of
/// a base sequence shared by every connection XORed with the connection's own salt (which
/// repeats every 8 bytes). The base is what takes memory; the salt is a number. So a client with
/// many connections keeps one base and makes or checks any part of any connection's message from
/// it (the `*_part` methods), with nothing stored per connection: ten thousand connections of
/// 16 KiB messages would otherwise keep 160 MiB of copies, none of them in cache.
#[derive(Debug, Clone)]
pub struct Pattern {
    base: Box<[u8]>,
    conn: u64,
}

/// Where an echo differed from what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("echo differs at byte {offset} of message {seq}: expected {expected:#04x}, got {got:#04x}")]
pub struct Mismatch {
    /// The message's sequence number.
    pub seq: u64,
    /// The first byte that differs.
    pub offset: usize,
    /// What was sent there.
    pub expected: u8,
    /// What came back.
    pub got: u8,
}

impl Pattern {
    /// Messages of `size` bytes on connection `conn`.
    pub fn new(size: usize, conn: u64) -> Self {
        // The top byte of a multiplicative hash of the position: no period a server's buffer
        // mix-up could line up with (a 4 KiB chunk echoed twice fails the check).
        let base = (0..size as u64)
            .map(|i| (i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        Pattern { base, conn }
    }

    /// The message size.
    pub fn size(&self) -> usize {
        self.base.len()
    }

    /// Writes message `seq` into `buf`, which must be [`size`](Self::size) bytes long.
    pub fn fill(&self, seq: u64, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.size(), "a whole message");
        self.fill_part(self.conn, seq, 0, buf);
    }

    /// Turns a buffer holding any message of this pattern into message `seq`: only the header
    /// changes, so a sender can reuse one buffer without copying the body again.
    pub fn stamp(&self, seq: u64, buf: &mut [u8]) {
        let n = HEADER.min(buf.len());
        buf[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    }

    /// Checks that `got` is exactly message `seq`.
    pub fn check(&self, seq: u64, got: &[u8]) -> Result<(), Mismatch> {
        let n = got.len().min(self.size());
        self.check_part(self.conn, seq, 0, &got[..n])?;
        if got.len() == self.size() {
            return Ok(());
        }
        // Too short or too long: the first byte that is missing or extra.
        Err(Mismatch {
            seq,
            offset: n,
            expected: if n < self.size() {
                self.byte(salt(self.conn), seq, n)
            } else {
                0
            },
            got: got.get(n).copied().unwrap_or(0),
        })
    }

    /// Writes bytes `offset..offset + buf.len()` of message `seq` of connection `conn` (of this
    /// size) into `buf`.
    #[inline]
    pub fn fill_part(&self, conn: u64, seq: u64, offset: usize, buf: &mut [u8]) {
        if let Some(words) = self.whole_words(offset, buf.len()) {
            let (out, _) = buf.as_chunks_mut::<8>();
            salt_words(out, words, salt(conn));
            // The header's word, salted with the rest by the loop, is the sequence number.
            out[0] = seq.to_le_bytes();
            return;
        }
        self.fill_any_part(conn, seq, offset, buf);
    }

    /// [`fill_part`](Self::fill_part) for any part: a header cut anywhere, a body from any byte.
    #[inline(never)]
    fn fill_any_part(&self, conn: u64, seq: u64, offset: usize, buf: &mut [u8]) {
        let (h, end) = (self.header_in(offset, buf.len()), offset + buf.len());
        if h == HEADER {
            // A whole header, as every message from its start has: one fixed-size store rather
            // than a copy of variable length (a call to memcpy per message).
            buf[..HEADER].copy_from_slice(&seq.to_le_bytes());
        } else {
            let from = offset.min(HEADER);
            buf[..h].copy_from_slice(&seq.to_le_bytes()[from..from + h]);
        }
        let start = offset + h;
        let salt = salt_from(conn, start);
        let (out, out_rest) = buf[h..].as_chunks_mut::<8>();
        let (base, base_rest) = self.base[start..end].as_chunks::<8>();
        salt_words(out, base, salt);
        for ((o, b), s) in out_rest.iter_mut().zip(base_rest).zip(salt.to_le_bytes()) {
            *o = b ^ s;
        }
    }

    /// Checks that `got` is bytes `offset..offset + got.len()` of message `seq` of connection
    /// `conn` (of this size), so an echo can be checked piece by piece as it arrives. The
    /// mismatch's offset counts from the message's start.
    #[inline]
    pub fn check_part(
        &self,
        conn: u64,
        seq: u64,
        offset: usize,
        got: &[u8],
    ) -> Result<(), Mismatch> {
        if let Some(words) = self.whole_words(offset, got.len()) {
            let (got_words, _) = got.as_chunks::<8>();
            let body = salted_diff(&got_words[1..], &words[1..], salt(conn));
            if body == 0 && u64::from_le_bytes(got_words[0]) == seq {
                return Ok(());
            }
        }
        self.check_any_part(conn, seq, offset, got)
    }

    /// [`check_part`](Self::check_part) for any part, and where a part differs.
    #[inline(never)]
    fn check_any_part(
        &self,
        conn: u64,
        seq: u64,
        offset: usize,
        got: &[u8],
    ) -> Result<(), Mismatch> {
        assert!(offset + got.len() <= self.size(), "within one message");
        let h = self.header_in(offset, got.len());
        let start = offset + h;
        let salt = salt_from(conn, start);
        let (body, body_rest) = got[h..].as_chunks::<8>();
        let (base, base_rest) = self.base[start..offset + got.len()].as_chunks::<8>();
        let diff = salted_diff(body, base, salt);
        let header = if h == HEADER {
            word(&got[..HEADER]) == seq
        } else {
            got[..h] == seq.to_le_bytes()[offset.min(HEADER)..offset.min(HEADER) + h]
        };
        let same = diff == 0
            && header
            && body_rest
                .iter()
                .zip(base_rest)
                .zip(salt.to_le_bytes())
                .all(|((g, b), s)| g ^ b == s);
        if same {
            return Ok(());
        }
        let salt = salt_from(conn, 0);
        let (i, &got) = (offset..)
            .zip(got)
            .find(|&(i, &g)| g != self.byte(salt, seq, i))
            .expect("some byte differs");
        Err(Mismatch {
            seq,
            offset: i,
            expected: self.byte(salt, seq, i),
            got,
        })
    }

    /// Byte `i` of message `seq` of the connection salted `salt`: the slow way, one at a time.
    fn byte(&self, salt: u64, seq: u64, i: usize) -> u8 {
        if i < HEADER.min(self.size()) {
            seq.to_le_bytes()[i]
        } else {
            self.base[i] ^ salt.to_le_bytes()[i % 8]
        }
    }

    /// The base as words, if bytes `offset..offset + len` are a whole message of whole words:
    /// what nearly every write and read is (a whole message at once, of a size like 64 B or
    /// 16 KiB). Made and checked a word at a time from the header on, inlined into the caller,
    /// with no offsets to line up: at 64 B that took loadgen's client thread from 844 to 733
    /// instructions per round trip (callgrind, 10 clients).
    #[inline]
    fn whole_words(&self, offset: usize, len: usize) -> Option<&[[u8; 8]]> {
        let (words, rest) = self.base.as_chunks::<8>();
        (offset == 0 && len == self.base.len() && rest.is_empty() && !words.is_empty())
            .then_some(words)
    }

    /// How many of the `len` bytes from `offset` are header bytes.
    fn header_in(&self, offset: usize, len: usize) -> usize {
        HEADER.min(self.size()).saturating_sub(offset).min(len)
    }
}

/// Connection `conn`'s salt: what makes its messages its own.
fn salt(conn: u64) -> u64 {
    conn.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Connection `conn`'s salt as 8 little-endian bytes starting at message byte `start`.
fn salt_from(conn: u64, start: usize) -> u64 {
    salt(conn).rotate_right(8 * (start % 8) as u32)
}

/// `out` = `base` XOR `salt`, word by word. Whole words as arrays: no length checks in the loop,
/// which then vectorizes.
#[inline]
fn salt_words(out: &mut [[u8; 8]], base: &[[u8; 8]], salt: u64) {
    for (o, b) in out.iter_mut().zip(base) {
        *o = (u64::from_le_bytes(*b) ^ salt).to_le_bytes();
    }
}

/// Zero if `got` = `base` XOR `salt`, word by word. No early exit in the loop, so it vectorizes;
/// where it differs is found after.
#[inline]
fn salted_diff(got: &[[u8; 8]], base: &[[u8; 8]], salt: u64) -> u64 {
    got.iter().zip(base).fold(0, |d, (g, b)| {
        d | (u64::from_le_bytes(*g) ^ u64::from_le_bytes(*b) ^ salt)
    })
}

fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8-byte chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_checks_against_itself_only() {
        for size in [1, 7, 8, 9, 64, 4096] {
            let p = Pattern::new(size, 3);
            let mut buf = vec![0; size];
            p.fill(42, &mut buf);
            assert_eq!(p.check(42, &buf), Ok(()));
            if size >= 2 {
                assert!(
                    p.check(43, &buf).is_err(),
                    "size {size}: wrong sequence number"
                );
            }
            let mut corrupt = buf.clone();
            *corrupt.last_mut().unwrap() ^= 1;
            assert_eq!(p.check(42, &corrupt).unwrap_err().offset, size - 1);
            if size > HEADER {
                let other = Pattern::new(size, 4);
                let mut theirs = vec![0; size];
                other.fill(42, &mut theirs);
                assert!(p.check(42, &theirs).is_err(), "another connection's bytes");
            }
        }
    }

    #[test]
    fn a_message_made_and_checked_in_pieces_is_the_whole_message() {
        for size in [1, 7, 8, 9, 64, 1000, 16 << 10] {
            let whole = Pattern::new(size, 5);
            let mut expected = vec![0; size];
            whole.fill(9, &mut expected);
            // Another connection's pattern object serves connection 5 through the *_part methods.
            let shared = Pattern::new(size, 0);
            for cut in [1, 3, 8, 13, (size / 2).max(1), size] {
                let mut pieces = vec![0; size];
                let mut offset = 0;
                while offset < size {
                    let end = (offset + cut).min(size);
                    shared.fill_part(5, 9, offset, &mut pieces[offset..end]);
                    assert_eq!(
                        shared.check_part(5, 9, offset, &expected[offset..end]),
                        Ok(())
                    );
                    offset = end;
                }
                assert_eq!(pieces, expected, "size {size}, pieces of {cut}");
            }
            let mut corrupt = expected.clone();
            corrupt[size - 1] ^= 0x40;
            let at = size.saturating_sub(3);
            let m = shared.check_part(5, 9, at, &corrupt[at..]).unwrap_err();
            assert_eq!(
                (m.offset, m.expected, m.got),
                (size - 1, expected[size - 1], corrupt[size - 1])
            );
            if size > HEADER {
                assert!(
                    shared
                        .check_part(6, 9, HEADER, &expected[HEADER..])
                        .is_err(),
                    "another connection"
                );
            }
        }
    }

    #[test]
    fn a_chunk_repeated_in_place_of_the_next_is_caught() {
        let p = Pattern::new(16 << 10, 1);
        let mut m = vec![0; 16 << 10];
        p.fill(0, &mut m);
        m.copy_within(4096..8192, 8192);
        assert_eq!(p.check(0, &m).unwrap_err().offset, 8192);
    }

    #[test]
    fn stamp_reuses_the_body() {
        let p = Pattern::new(100, 1);
        let mut buf = vec![0; 100];
        p.fill(0, &mut buf);
        p.stamp(7, &mut buf);
        assert_eq!(p.check(7, &buf), Ok(()));
    }
}
