//! What the systemd unit `systemd-run` starts does besides running its command, as its
//! properties (`-p NAME=VALUE`) say: the variables it sets, the directory it runs in, and
//! nothing else the checker cannot see. A property it does not read is refused (probe 203
//! F1, F2: `-p Environment=LD_PRELOAD=…` set a variable no policy saw, `-p
//! WorkingDirectory=/tmp` moved the command where no `cd` was judged).

use super::directories::{cd, picked_at_run_time};
use super::getopt::Read;
use super::{Runs, Word};

/// Service properties that limit the unit's resources or say how it is supervised, which
/// change nothing of what runs, where, or with which variables: a name, or a prefix ending
/// in `*`.
const SERVICE: &[&str] = &[
    "CPU*",
    "Memory*",
    "IO*",
    "BlockIO*",
    "Tasks*",
    "Limit*",
    "Startup*",
    "AllowedCPUs",
    "AllowedMemoryNodes",
    "NUMA*",
    "ManagedOOM*",
    "OOM*",
    "Nice",
    "Timeout*",
    "RuntimeMaxSec",
    "RuntimeRandomizedExtraSec",
    "KillMode",
    "KillSignal",
    "FinalKillSignal",
    "SendSIGKILL",
    "SendSIGHUP",
    "Restart*",
    "RemainAfterExit",
    "Type",
    "Description",
    "CollectMode",
    "SuccessExitStatus",
    "Delegate",
    "IPAccounting",
];

/// Properties of the timer `--on-…` starts the unit by: when it fires.
const TIMER: &[&str] = &[
    "AccuracySec",
    "RandomizedDelaySec",
    "FixedRandomDelay",
    "Persistent",
    "WakeSystem",
    "RemainAfterElapse",
    "On*",
];

/// Reads the properties of the unit `name` starts, adding to `runs` the variables they set
/// and the directories they run `command` in (as the `cd` it is), and refuses what the
/// checker cannot see: a property it does not read (`Exec…=`, `EnvironmentFile=`, a path or
/// socket unit's) and a `$` in `command`, which systemd expands.
pub(super) fn unit(name: &str, read: &Read, command: &[Word], runs: &mut Runs) -> Result<(), Runs> {
    for value in read.values(&["p", "property"]) {
        service(name, value, runs)?;
    }
    for value in read.values(&["timer-property"]) {
        if setting(name, value, TIMER)?.is_some() {
            return Err(not_read(name, value));
        }
    }
    if let Some(value) = read.values(&["path-property", "socket-property"]).next() {
        return Err(not_read(name, value));
    }
    if let Some(word) = command.iter().find(|word| word.text().contains('$')) {
        return Err(Runs::refused(format!(
            "`{name}` expands the variables in `{}` when it runs",
            word.text()
        )));
    }
    Ok(())
}

/// Reads the service property `value`, adding to `runs` what it sets.
fn service(name: &str, value: &Word, runs: &mut Runs) -> Result<(), Runs> {
    let Some((property, setting)) = setting(name, value, SERVICE)? else {
        return Ok(());
    };
    match property {
        "Environment" | "UnsetEnvironment" | "PassEnvironment" => {
            // systemd unquotes and unescapes the words; the checker reads plain ones only.
            if setting.contains(['"', '\'', '\\']) {
                return Err(not_read(name, value));
            }
            let names = setting.split_whitespace();
            let names = names.map(|word| word.split_once('=').map_or(word, |(set, _)| set));
            runs.assignments.extend(names.map(str::to_owned));
        }
        "WorkingDirectory" | "RootDirectory" => {
            // A leading `-` only says a missing directory is no error; `~` is the user's home.
            let dir = setting.strip_prefix('-').unwrap_or(setting);
            let dir = match dir.starts_with('~') || dir.is_empty() {
                true => picked_at_run_time(),
                false => Word::Literal(dir.to_owned()),
            };
            runs.commands.push(cd(dir));
        }
        _ => return Err(not_read(name, value)),
    }
    Ok(())
}

/// The property `value` as its name and setting, or `None` when it is one of `kept`.
fn setting<'a>(
    name: &str,
    value: &'a Word,
    kept: &[&str],
) -> Result<Option<(&'a str, &'a str)>, Runs> {
    let Some((property, setting)) = value.literal().and_then(|text| text.split_once('=')) else {
        return Err(not_read(name, value));
    };
    let is_kept = |pattern: &&str| match pattern.strip_suffix('*') {
        Some(prefix) => property.starts_with(prefix),
        None => property == *pattern,
    };
    Ok((!kept.iter().any(is_kept)).then_some((property, setting)))
}

/// A property of the unit `name` starts that the checker does not read.
fn not_read(name: &str, value: &Word) -> Runs {
    Runs::refused(format!(
        "`{name}` has the property `{}`, which the checker does not read: it may run a command, set variables or move it where the checker cannot see",
        value.text()
    ))
}
