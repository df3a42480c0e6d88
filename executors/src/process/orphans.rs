//! The orphans of a gone engine: the processes of an attempt that an engine which died had
//! started, still running until its reaper ([`super::reaper`]) kills them. The reaper runs
//! on its own time — it reads every process's environment for the steps spawned and not
//! registered yet —, and an engine taking the run over right after the crash (`cairn
//! resume`, `recover`, `resume --wait`) started the step's next attempt beside them (probe
//! 187 F1: two attempts of one step side by side). So before an attempt after the first,
//! the executor kills the processes of the same step (and item) of the same run that carry
//! a gone engine's token and are still in that engine's session, and waits until they are
//! gone. A process that left the session (`setsid`) has left cairn's care, as at an
//! attempt's end and for the reaper; one of a live engine (its lease lapsed while it ran on)
//! is left to it, which stops its steps when it finds its lease lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_engine::Action;
use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::procfs;
use super::reaper::{self, EngineToken};
use super::strays::{cairn_variables, send, targets};

/// How long an attempt waits for a gone engine's processes to end once killed; past it, it
/// starts all the same, with a warning.
const WAIT: Duration = Duration::from_secs(5);

/// Kills the processes that earlier attempts of `action`'s step (its item) left running
/// when their engine died, and waits until they are gone ([`WAIT`] at most). Nothing to do
/// for a first attempt.
pub(super) async fn end_for(action: &Action) {
    if action.attempt <= 1 {
        return;
    }
    let deadline = Instant::now() + WAIT;
    let gone = procfs::poll_until(deadline, || {
        send(&targets(&find(action)), Signal::SIGKILL) == 0 && !a_reaper_at_work()
    });
    if !gone.await {
        tracing::warn!(
            run_id = %action.run_id,
            step = %action.step_id,
            "an earlier attempt's processes, left by an engine that died, still run: this attempt starts beside them"
        );
    }
}

/// The live processes of `action`'s step (its item) and run that carry the token of a gone
/// engine, other than this one, and are still in its session.
fn find(action: &Action) -> Vec<procfs::Stat> {
    let run = action.run_id.to_string();
    let item = action.item_index.map(|index| index.to_string());
    let own = reaper::token().as_bytes();
    (seen().iter())
        .filter_map(|seen| match seen {
            Seen::Marked(process, variables) => Some((process, variables)),
            Seen::Reaper => None,
        })
        .filter(|(process, variables)| {
            let value = |name| procfs::variable(variables, name);
            let token = value("CAIRN_ENGINE").filter(|&token| token != own);
            let token =
                token.and_then(|token| EngineToken::parse(std::str::from_utf8(token).ok()?));
            value("CAIRN_RUN_ID") == Some(run.as_bytes())
                && value("CAIRN_STEP_ID") == Some(action.step_id.as_bytes())
                && value("CAIRN_ITEM_INDEX") == item.as_deref().map(str::as_bytes)
                && token.is_some_and(|token| token.session == process.session && token.is_gone())
        })
        .map(|(process, _)| *process)
        .collect()
}

/// Whether the reaper of a gone engine is at work, not stopped: it kills the groups its
/// engine registered, which a step that cleared its environment (`env -i`, probe 188 F2)
/// left no token in to be found by, and ends once it has.
fn a_reaper_at_work() -> bool {
    (seen().iter()).any(|seen| matches!(seen, Seen::Reaper))
}

/// What a look at `/proc` finds that an attempt after the first waits for.
#[derive(Debug)]
enum Seen {
    /// A live process that carries `CAIRN_` variables, with them.
    Marked(procfs::Stat, Vec<u8>),
    /// The reaper of a gone engine, running (not stopped).
    Reaper,
}

/// What the host's processes are, as a look at `/proc` a few milliseconds old found them
/// ([`procfs::recent`]): the attempts of a `for_each` window that a takeover starts again
/// together share one.
fn seen() -> Arc<[Seen]> {
    static LAST: procfs::Recent<Seen> = Mutex::new(None);
    procfs::recent(&LAST, || {
        (procfs::processes())
            .filter(|process| !process.ended())
            .filter_map(|process| {
                // A reaper first: one of a cairn run by a step carries that step's variables.
                if let Some(engine) = reaper::reaping_for(&procfs::cmdline(process.pid)) {
                    let stopped = matches!(process.state, 'T' | 't');
                    return (engine.is_gone() && !stopped).then_some(Seen::Reaper);
                }
                let variables = cairn_variables(&procfs::environ(process.pid));
                (!variables.is_empty()).then_some(Seen::Marked(process, variables))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command};

    use serde_json::json;

    use super::super::tests::{KillOnDrop, wait_until};
    use super::EngineToken;
    use crate::test_support::action;

    /// The second attempt of a step kills what a gone engine's first attempt of it left in
    /// that engine's session, and waits until it is gone; it leaves a live engine's, another
    /// step's, another item's and a process that left the session.
    #[tokio::test]
    async fn an_attempt_ends_what_a_gone_engine_left_of_its_step_first() {
        let mut second = action("process", json!({}));
        second.attempt = 2;
        second.item_index = Some(3);
        let session = nix::unistd::getsid(None).unwrap().as_raw();
        let this = std::process::id();
        // This process, started at another time: an engine gone, its pid reused.
        let gone = EngineToken {
            pid: this,
            start: cairn_engine::process_start(this).unwrap() + 1,
            session,
        };
        // Another engine, which runs (this process is not another engine: its steps are its
        // own to end).
        let marker = ("CAIRN_TEST", uuid::Uuid::now_v7().to_string());
        let mut engine = Command::new("sleep");
        let mut engine = (engine.arg("1000").env(marker.0, &marker.1).spawn()).unwrap();
        let live = EngineToken {
            pid: engine.id(),
            start: cairn_engine::process_start(engine.id()).unwrap(),
            session,
        };
        let run = second.run_id.to_string();
        let spawn = |token: EngineToken, step: &str, item: &str, program: &[&str]| -> Child {
            let mut command = Command::new(program[0]);
            (command.args(&program[1..]).env_clear())
                .env("CAIRN_ENGINE", token.to_string())
                .env("CAIRN_RUN_ID", &run)
                .env("CAIRN_STEP_ID", step)
                .env("CAIRN_ITEM_INDEX", item)
                .env("CAIRN_ATTEMPT", "1")
                .env(marker.0, &marker.1)
                .env("PATH", "/usr/bin:/bin");
            // A group of its own, as a step's; `setsid` makes a session of its own instead
            // (in a group leader, it would fork).
            if program[0] != "setsid" {
                command.process_group(0);
            }
            command.spawn().unwrap()
        };
        let sleep = ["sleep", "1000"];
        let mut left = spawn(gone, "step", "3", &sleep);
        let mut kept = [
            (spawn(live, "step", "3", &sleep), "a live engine's"),
            (spawn(gone, "other", "3", &sleep), "another step's"),
            (spawn(gone, "step", "4", &sleep), "another item's"),
            (
                spawn(gone, "step", "3", &["setsid", "sleep", "1000"]),
                "another session's",
            ),
        ];
        let _ends = KillOnDrop {
            marker: format!("{}={}", marker.0, marker.1).into_bytes(),
            pids: ([&engine, &left]
                .into_iter()
                .chain(kept.iter().map(|(child, _)| child)))
            .map(|child| i32::try_from(child.id()).expect("a pid"))
            .collect(),
        };
        for child in std::iter::once(&left).chain(kept.iter().map(|(child, _)| child)) {
            let comm = format!("/proc/{}/comm", child.id());
            wait_until("the program to run", || {
                std::fs::read_to_string(&comm).unwrap() == "sleep\n"
            })
            .await;
        }
        let mut first = second.clone();
        first.attempt = 1;
        super::end_for(&first).await;
        assert_eq!(
            left.try_wait().unwrap(),
            None,
            "a first attempt has no earlier one"
        );

        super::end_for(&second).await;
        let ended = left.wait().unwrap();
        assert_eq!(
            ended.signal(),
            Some(9),
            "the gone engine's attempt was killed"
        );
        for (child, what) in &mut kept {
            assert_eq!(child.try_wait().unwrap(), None, "{what} process was killed");
        }
        engine.kill().unwrap();
        engine.wait().unwrap();
    }

    /// An attempt after the first waits for a gone engine's reaper at work: it kills what
    /// that engine registered, steps that left no token to be found by (`env -i`) too.
    #[tokio::test]
    async fn an_attempt_waits_for_a_gone_engines_reaper_at_work() {
        use std::future::Future;
        use std::task::{Context, Waker};

        let this = std::process::id();
        let gone = EngineToken {
            pid: this,
            start: cairn_engine::process_start(this).unwrap() + 1,
            session: nix::unistd::getsid(None).unwrap().as_raw(),
        };
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        let script = r#"while [ ! -e "$GATE" ]; do sleep 0.01; done"#;
        let marker = ("ORPHANS_TEST", uuid::Uuid::now_v7().to_string());
        let mut reaper = Command::new("sh")
            .args(["-c", script, "cairn-reaper", &gone.to_string()])
            .env("GATE", &gate)
            .env(marker.0, &marker.1)
            .spawn()
            .unwrap();
        let _ends = KillOnDrop {
            marker: format!("{}={}", marker.0, marker.1).into_bytes(),
            pids: vec![i32::try_from(reaper.id()).expect("a pid")],
        };
        let cmdline = format!("/proc/{}/cmdline", reaper.id());
        wait_until("the reaper to run", || {
            std::fs::read(&cmdline).is_ok_and(|cmdline| cmdline.starts_with(b"sh\0-c\0"))
        })
        .await;
        // Seen by a look at `/proc` (the one the attempt's first look may share).
        wait_until("the reaper to be seen", super::a_reaper_at_work).await;
        let mut second = action("process", json!({}));
        second.attempt = 2;
        let mut waiting = std::pin::pin!(super::end_for(&second));
        let pending = waiting
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(pending.is_pending(), "it waits while the reaper works");
        std::fs::write(&gate, "").unwrap();
        waiting.await;
        assert!(reaper.try_wait().unwrap().is_some(), "the reaper had ended");
    }

    #[test]
    fn a_token_reads_back_as_written() {
        let token = EngineToken {
            pid: 12,
            start: 345,
            session: 6,
        };
        assert_eq!(EngineToken::parse(&token.to_string()), Some(token));
        for text in ["12-345", "12-345-6-7", "12-x-6", ""] {
            assert_eq!(EngineToken::parse(text), None, "{text}");
        }
    }
}
