//! The progress display on a terminal: one bar of finished steps, fed by the run's events,
//! and the way every other line on stderr is written while it is drawn ([`stderr`]).

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::task::JoinHandle;

use cairn_engine::Event;

/// How often the bar is redrawn with no event: its clock and spinner move on while a step
/// runs long.
const TICK: Duration = Duration::from_millis(250);

/// The bar being drawn, if any: what is written on stderr meanwhile goes above it.
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The bar of [`DRAWN`] while this lives: dropped (the run ended, or the display task was
/// aborted), it clears the bar and stops its ticks.
struct Drawn(ProgressBar);

impl Drawn {
    fn new(bar: ProgressBar) -> Drawn {
        *DRAWN.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        Drawn(bar)
    }
}

impl Drop for Drawn {
    fn drop(&mut self) {
        DRAWN.lock().unwrap_or_else(PoisonError::into_inner).take();
        self.0.finish_and_clear();
    }
}

/// Draws a bar of ended steps out of `total` (`ended` of them already) on stderr until the
/// run ends or the task is aborted.
pub(crate) fn spawn(mut events: Receiver<Event>, total: usize, ended: usize) -> JoinHandle<()> {
    tokio::spawn(async move {
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let mut ended = ended as u64;
        let bar = ProgressBar::new(total as u64)
            .with_style(style)
            .with_position(ended);
        let drawn = Drawn::new(bar);
        let bar = &drawn.0;
        bar.enable_steady_tick(TICK);
        loop {
            match events.recv().await {
                Ok(event) => match event.step_id() {
                    Some(step) if event.is_end() => {
                        ended += 1;
                        bar.set_position(ended);
                        bar.set_message(format!("{step} {}", event.to()));
                    }
                    Some(step) => bar.set_message(format!("{step} {}", event.to())),
                    None if event.is_end() => break,
                    None => {}
                },
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    })
}

/// Standard error for lines of text: each whole line is written at once, above the bar if
/// one is drawn (it is cleared, the line written, the bar redrawn below), never on the bar's
/// own line. A line not ended yet waits for its end (or a flush).
pub(crate) fn stderr() -> Lines {
    Lines(Vec::new())
}

/// The writer of [`stderr`]: the start of a line not ended yet.
pub(crate) struct Lines(Vec<u8>);

impl Lines {
    /// Writes `bytes` on stderr, the bar (if drawn) cleared meanwhile.
    fn write_out(bytes: &[u8]) -> io::Result<()> {
        let write = || io::stderr().lock().write_all(bytes);
        // (A clone: the lock is not held while writing, nor while the bar redraws.)
        let drawn = DRAWN.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match drawn {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        if let Some(end) = self.0.iter().rposition(|&byte| byte == b'\n') {
            let rest = self.0.split_off(end + 1);
            let lines = std::mem::replace(&mut self.0, rest);
            Self::write_out(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.0.is_empty() {
            Self::write_out(&std::mem::take(&mut self.0))?;
        }
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
