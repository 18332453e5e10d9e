//! What a client sends and expects back: every message carries its sequence number and a body
//! unique to its connection, so a lost, reordered, corrupted or misrouted echo fails the check.

/// Bytes of a message taken by its sequence number (little-endian); shorter messages carry only
/// its low bytes.
pub const HEADER: usize = 8;

/// The messages of one connection, all of one size.
#[derive(Debug, Clone)]
pub struct Pattern {
    template: Vec<u8>,
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
        let salt = conn.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let template = (0..size as u64)
            .map(|i| (i.wrapping_mul(131) ^ salt.rotate_left(i as u32 % 64)) as u8)
            .collect();
        Pattern { template }
    }

    /// The message size.
    pub fn size(&self) -> usize {
        self.template.len()
    }

    /// Writes message `seq` into `buf`, which must be [`size`](Self::size) bytes long.
    pub fn fill(&self, seq: u64, buf: &mut [u8]) {
        buf.copy_from_slice(&self.template);
        self.stamp(seq, buf);
    }

    /// Turns a buffer holding any message of this pattern into message `seq`: only the header
    /// changes, so a sender can reuse one buffer without copying the body again.
    pub fn stamp(&self, seq: u64, buf: &mut [u8]) {
        let n = HEADER.min(buf.len());
        buf[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    }

    /// Checks that `got` is exactly message `seq`.
    pub fn check(&self, seq: u64, got: &[u8]) -> Result<(), Mismatch> {
        let header = seq.to_le_bytes();
        let n = HEADER.min(self.template.len());
        let expected = |i: usize| if i < n { header[i] } else { self.template[i] };
        let same = got.len() == self.template.len()
            && got[..n] == header[..n]
            && got[n..] == self.template[n..];
        if same {
            return Ok(());
        }
        let offset = (0..got.len().min(self.template.len()))
            .find(|&i| got[i] != expected(i))
            .unwrap_or(got.len().min(self.template.len()));
        Err(Mismatch {
            seq,
            offset,
            expected: self.template.get(offset).map_or(0, |_| expected(offset)),
            got: got.get(offset).copied().unwrap_or(0),
        })
    }
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
    fn stamp_reuses_the_body() {
        let p = Pattern::new(100, 1);
        let mut buf = vec![0; 100];
        p.fill(0, &mut buf);
        p.stamp(7, &mut buf);
        assert_eq!(p.check(7, &buf), Ok(()));
    }
}
