//! The progress display on a terminal: one bar of finished steps, fed by the run's events.

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::task::JoinHandle;

use cairn_engine::Event;

/// Draws a bar of ended steps out of `total` (`ended` of them already) on stderr until the
/// run ends or the task is aborted.
pub(crate) fn spawn(mut events: Receiver<Event>, total: usize, ended: usize) -> JoinHandle<()> {
    tokio::spawn(async move {
        let bar = ProgressBar::new(total as u64);
        let mut ended = ended as u64;
        bar.set_position(ended);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
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
        bar.finish_and_clear();
    })
}
