//! Byte chunks → text lines.
//!
//! Docker hands a container's output over in chunks that have nothing to do with lines: one JSON
//! event may arrive split across two chunks, a 20 KB event across several, and a multi-byte UTF-8
//! character may straddle a chunk boundary. [`LineBuffer`] reassembles complete lines, decodes
//! only complete lines (so a split character is never mangled), and bounds its memory: a line
//! longer than the limit keeps its first bytes and only *counts* the rest.

use std::fmt::Write as _;

/// Reassembles lines from arbitrary byte chunks; one per output stream (stdout, stderr).
#[derive(Debug)]
pub struct LineBuffer {
    max_line_bytes: usize,
    /// The first bytes of the current, unfinished line (never more than `max_line_bytes`).
    line: Vec<u8>,
    /// Bytes of the current line beyond `max_line_bytes`: counted for the marker, not kept.
    dropped: usize,
    /// Whether the last byte seen of the current line (kept or dropped) was `\r`, so CRLF line
    /// ends can be stripped even when the `\r` itself was among the dropped bytes.
    ends_with_cr: bool,
}

impl LineBuffer {
    /// A buffer that keeps at most `max_line_bytes` bytes of any one line.
    pub fn new(max_line_bytes: usize) -> Self {
        LineBuffer {
            max_line_bytes,
            line: Vec::new(),
            dropped: 0,
            ends_with_cr: false,
        }
    }

    /// Feeds one chunk; returns every line it completed, without `\n` and without a trailing
    /// `\r`, decoded as lossy UTF-8. An oversized line ends in ` … [line cut: N more bytes]`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.append(&rest[..pos]);
            lines.push(self.take_line());
            rest = &rest[pos + 1..];
        }
        self.append(rest);
        lines
    }

    /// The trailing partial line (output that did not end in `\n`), if there is one; call it
    /// once the stream has ended. The buffer is empty afterwards.
    pub fn finish(&mut self) -> Option<String> {
        let line = self.take_line();
        (!line.is_empty()).then_some(line)
    }

    /// Adds bytes of the current line, keeping only what fits under the limit.
    fn append(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        let room = self.max_line_bytes.saturating_sub(self.line.len());
        let keep = room.min(bytes.len());
        self.line.extend_from_slice(&bytes[..keep]);
        self.dropped += bytes.len() - keep;
        self.ends_with_cr = last == b'\r';
    }

    /// Ends the current line: strips a trailing `\r`, decodes it, resets the state.
    fn take_line(&mut self) -> String {
        if self.ends_with_cr {
            // Dropped bytes always come after kept ones, so a final `\r` is among them if any.
            if self.dropped > 0 {
                self.dropped -= 1;
            } else {
                self.line.pop();
            }
        }
        let bytes = std::mem::take(&mut self.line);
        let dropped = std::mem::take(&mut self.dropped);
        self.ends_with_cr = false;
        decode(&bytes, dropped)
    }
}

/// Decodes a complete line; if bytes were dropped, cuts at a character boundary and appends the
/// marker with the total number of bytes not shown.
fn decode(bytes: &[u8], dropped: usize) -> String {
    if dropped == 0 {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let keep = complete_utf8_prefix(bytes);
    let mut text = String::from_utf8_lossy(&bytes[..keep]).into_owned();
    let cut = dropped + (bytes.len() - keep);
    // Writing to a String cannot fail.
    let _ = write!(text, " … [line cut: {cut} more bytes]");
    text
}

/// Length of the longest prefix of `bytes` that does not end inside a multi-byte UTF-8
/// character (the kept part of an oversized line usually ends mid-character).
fn complete_utf8_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // The last character starts at most 3 bytes before the end.
    for back in 1..=len.min(4) {
        let start = len - back;
        let byte = bytes[start];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // continuation byte: keep looking for the lead byte
        }
        let width = match byte {
            b if b < 0x80 => 1,
            b if b & 0b1110_0000 == 0b1100_0000 => 2,
            b if b & 0b1111_0000 == 0b1110_0000 => 3,
            b if b & 0b1111_1000 == 0b1111_0000 => 4,
            _ => 1, // invalid lead byte: lossy decoding deals with it
        };
        return if start + width > len { start } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_split_across_chunks_is_reassembled() {
        let mut buf = LineBuffer::new(1024);
        assert!(buf.push(br#"{"type":"sys"#).is_empty());
        assert!(buf.push(br#"tem","subtype""#).is_empty());
        assert_eq!(
            buf.push(b":\"init\"}\n"),
            vec![r#"{"type":"system","subtype":"init"}"#]
        );
        assert_eq!(buf.finish(), None);
    }

    #[test]
    fn many_lines_in_one_chunk_keep_their_order_and_the_tail_waits() {
        let mut buf = LineBuffer::new(1024);
        assert_eq!(
            buf.push(b"one\ntwo\n\nthree\nfou"),
            vec!["one", "two", "", "three"]
        );
        assert_eq!(buf.push(b"r\n"), vec!["four"]);
    }

    #[test]
    fn crlf_line_ends_are_stripped_even_when_split() {
        let mut buf = LineBuffer::new(1024);
        assert_eq!(buf.push(b"a\r\nb\r"), vec!["a"]);
        assert_eq!(buf.push(b"\nc\r\n"), vec!["b", "c"]);
        // A lone `\r` inside a line stays.
        assert_eq!(buf.push(b"x\ry\n"), vec!["x\ry"]);
    }

    #[test]
    fn multi_byte_char_split_across_chunks_is_decoded_whole() {
        let text = "grüße → 日本\n".as_bytes();
        let mut buf = LineBuffer::new(1024);
        let mut lines = Vec::new();
        // One byte at a time splits every multi-byte character.
        for byte in text {
            lines.extend(buf.push(std::slice::from_ref(byte)));
        }
        assert_eq!(lines, vec!["grüße → 日本"]);
    }

    #[test]
    fn oversized_line_is_cut_with_a_count_and_memory_stays_bounded() {
        let mut buf = LineBuffer::new(10);
        let mut lines = Vec::new();
        for _ in 0..100 {
            lines.extend(buf.push(b"0123456789"));
            assert!(buf.line.len() <= 10, "keeps only the first max bytes");
        }
        lines.extend(buf.push(b"\nnext\n"));
        assert_eq!(
            lines,
            vec!["0123456789 … [line cut: 990 more bytes]", "next"]
        );
    }

    #[test]
    fn oversized_line_is_cut_at_a_char_boundary() {
        // "ab" + "日" (3 bytes) + "c": a limit of 4 falls inside "日".
        let mut buf = LineBuffer::new(4);
        let lines = buf.push("ab日c\n".as_bytes());
        assert_eq!(lines, vec!["ab … [line cut: 4 more bytes]"]);
    }

    #[test]
    fn oversized_crlf_line_does_not_count_the_cr() {
        let mut buf = LineBuffer::new(3);
        assert_eq!(
            buf.push(b"abcdef\r\n"),
            vec!["abc … [line cut: 3 more bytes]"]
        );
        // Exactly at the limit plus `\r`: nothing was really cut.
        assert_eq!(buf.push(b"xyz\r\n"), vec!["xyz"]);
    }

    #[test]
    fn finish_returns_the_trailing_partial_line_once() {
        let mut buf = LineBuffer::new(1024);
        assert_eq!(buf.push(b"done\npartial"), vec!["done"]);
        assert_eq!(buf.finish().as_deref(), Some("partial"));
        assert_eq!(buf.finish(), None);
        let mut cut = LineBuffer::new(2);
        assert!(cut.push(b"abcd").is_empty());
        assert_eq!(
            cut.finish().as_deref(),
            Some("ab … [line cut: 2 more bytes]")
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut buf = LineBuffer::new(1024);
        assert_eq!(buf.push(b"a\xffb\n"), vec!["a\u{fffd}b"]);
    }
}
