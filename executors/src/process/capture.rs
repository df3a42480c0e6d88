//! Reading a child's stdout (capped) and stderr (its tail), reporting each line as progress.

use cairn_engine::Progress;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// How much is read from a pipe at a time.
const CHUNK: usize = 64 * 1024;

/// What was read from stdout.
#[derive(Debug, Default)]
pub(super) struct Captured {
    /// The bytes read, at most the cap.
    pub(super) bytes: Vec<u8>,
    /// Whether the stream went past the cap (reading stopped there).
    pub(super) overflowed: bool,
}

/// Reads `pipe` to its end, keeping at most `cap` bytes: past the cap it stops at once with
/// `overflowed`, never holding more than `cap` bytes plus one chunk. Stops early, keeping what
/// it has, when `stop` is cancelled.
pub(super) async fn read_capped<R>(
    mut pipe: R,
    cap: usize,
    progress: Progress,
    stop: CancellationToken,
) -> Captured
where
    R: AsyncRead + Unpin,
{
    let mut captured = Captured::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut lines = Lines::new(progress);
    while let Some(read) = read_chunk(&mut pipe, &mut chunk, &stop).await {
        lines.feed(read);
        if captured.bytes.len() + read.len() > cap {
            captured.overflowed = true;
            return captured;
        }
        captured.bytes.extend_from_slice(read);
    }
    lines.finish();
    captured
}

/// Reads `pipe` to its end, keeping only its last `cap` bytes, from the start of a line when
/// more came: the rest of the line the cut fell in is left out (up to its end, a newline or
/// a carriage return), unless that line is all there is, so that the tail reads from a
/// line's start (probe 197 F1; a loop's ending compares the lines far from the cut). Stops
/// early, keeping what it has, when `stop` is cancelled.
pub(super) async fn read_tail<R>(
    mut pipe: R,
    cap: usize,
    progress: Progress,
    stop: CancellationToken,
) -> Vec<u8>
where
    R: AsyncRead + Unpin,
{
    let mut tail = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut lines = Lines::new(progress);
    // The last byte left out, once the tail was cut.
    let mut before = None;
    let mut cut = |tail: &mut Vec<u8>| {
        let left_out = tail.len() - cap;
        before = Some(tail[left_out - 1]);
        tail.drain(..left_out);
    };
    while let Some(read) = read_chunk(&mut pipe, &mut chunk, &stop).await {
        lines.feed(read);
        tail.extend_from_slice(read);
        // Trim now and then rather than on every chunk: amortised O(1) per byte.
        if tail.len() > cap.saturating_mul(2).max(CHUNK) {
            cut(&mut tail);
        }
    }
    lines.finish();
    if tail.len() > cap {
        cut(&mut tail);
    }
    // Cut in a line (not at its start: probe 198 F1), the tail starts after that line's end,
    // unless that line is all it holds.
    let line_end = |byte: &u8| matches!(byte, b'\n' | b'\r');
    let first_end = tail.iter().position(line_end);
    if before.is_some_and(|byte| !line_end(&byte))
        && let Some(end) = first_end.filter(|&end| end + 1 < tail.len())
    {
        tail.drain(..=end);
    }
    tail
}

/// The next chunk of `pipe`, read into `chunk`'s capacity (never zeroed first: a step's
/// two pipes would clear 128 KiB each time), or `None` at its end, on a read error, or when
/// `stop` is cancelled.
async fn read_chunk<'a, R>(
    pipe: &mut R,
    chunk: &'a mut Vec<u8>,
    stop: &CancellationToken,
) -> Option<&'a [u8]>
where
    R: AsyncRead + Unpin,
{
    chunk.clear();
    let read = tokio::select! {
        biased;
        () = stop.cancelled() => return None,
        read = pipe.read_buf(chunk) => read,
    };
    match read {
        Ok(0) => None,
        Ok(_) => Some(chunk),
        Err(error) => {
            tracing::debug!(%error, "reading a child's output failed; keeping what was read");
            None
        }
    }
}

/// Counts the lines of a stream as they arrive and reports each one as progress. A line ends
/// at `\n`, and also at `\r`: a progress bar redraws its line with `\r` alone, and each
/// redraw is a sign of life (`\r\n` ends one line, not two).
#[derive(Debug)]
struct Lines {
    progress: Progress,
    /// Bytes have arrived since the last line ended.
    partial: bool,
    /// The last byte was a `\r`: a `\n` right after it ends no further line.
    after_cr: bool,
}

impl Lines {
    fn new(progress: Progress) -> Self {
        Lines {
            progress,
            partial: false,
            after_cr: false,
        }
    }

    /// Reports every line `bytes` ends.
    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            if byte == b'\r' || (byte == b'\n' && !after_cr) {
                self.progress.report();
            }
        }
        if let Some(&last) = bytes.last() {
            self.partial = last != b'\n' && last != b'\r';
        }
    }

    /// Reports a last line that had no newline.
    fn finish(&mut self) {
        if std::mem::take(&mut self.partial) {
            self.progress.report();
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_engine::Progress;
    use tokio_util::sync::CancellationToken;

    use super::{read_capped, read_tail};

    #[tokio::test]
    async fn keeps_everything_under_the_cap_and_counts_lines() {
        let progress = Progress::default();
        let captured = read_capped(
            &b"a\nb\nc"[..],
            100,
            progress.clone(),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(captured.bytes, b"a\nb\nc");
        assert!(!captured.overflowed);
        assert_eq!(progress.count(), 3);
    }

    #[tokio::test]
    async fn keeps_every_chunk_of_a_long_stream_in_order() {
        let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let captured = read_capped(
            &input[..],
            1 << 20,
            Progress::default(),
            CancellationToken::new(),
        )
        .await;
        assert!(!captured.overflowed);
        assert_eq!(captured.bytes, input);
    }

    #[tokio::test]
    async fn stops_past_the_cap() {
        let input = vec![b'x'; 10_000];
        let captured = read_capped(
            &input[..],
            9_999,
            Progress::default(),
            CancellationToken::new(),
        )
        .await;
        assert!(captured.overflowed);
        assert!(captured.bytes.len() <= 9_999);
        let captured = read_capped(
            &input[..],
            10_000,
            Progress::default(),
            CancellationToken::new(),
        )
        .await;
        assert!(!captured.overflowed);
    }

    #[tokio::test]
    async fn keeps_the_tail() {
        // One line, a cut one: kept whole.
        let input: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let tail = read_tail(
            &input[..],
            1000,
            Progress::default(),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(tail, input[input.len() - 1000..]);
        // Cut at a line's start, it keeps that line (probe 198 F1).
        let at_a_start = format!("{}\nkept\n{}", "x".repeat(2000), "y".repeat(995));
        let tail = read_tail(
            at_a_start.as_bytes(),
            1000,
            Progress::default(),
            CancellationToken::new(),
        );
        assert!(tail.await.starts_with(b"kept\n"));
        // Cut inside a line, it starts after that line, wherever in it the cut fell (probe
        // 197 F1).
        for before in ["", "1", "12"] {
            let lines = format!("{before}{}\r10%\rlast line\n", "x".repeat(2000));
            let tail = read_tail(
                lines.as_bytes(),
                1000,
                Progress::default(),
                CancellationToken::new(),
            );
            assert_eq!(tail.await, b"10%\rlast line\n");
        }
        let tail = read_tail(
            &b"short\n"[..],
            1000,
            Progress::default(),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(tail, b"short\n");
    }

    #[tokio::test]
    async fn a_carriage_return_ends_a_line_unless_a_newline_follows() {
        let cases: [(&[u8], u64); 2] = [
            (b"10%\r20%\r30%\r\ndone\r\n", 4), // 10%, 20%, 30%, done
            (b"50%\r", 1),
        ];
        for (output, lines) in cases {
            let progress = Progress::default();
            read_tail(output, 1000, progress.clone(), CancellationToken::new()).await;
            assert_eq!(
                progress.count(),
                lines,
                "{:?}",
                String::from_utf8_lossy(output)
            );
        }
    }
}
