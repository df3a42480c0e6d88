//! The writer's lease writes: a run's lease taken, given up, or given back as it was found.
//!
//! A takeover refused once it holds the run's lease (a stored definition or input that no
//! longer reads, a damaged page) gives the lease back. Until its owner has committed
//! something to the run, the writer keeps the lease columns it found, and writes them back
//! bit for bit: the run's row is left as it was (docs/runs.md, "Exit codes").

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{in_range, parse_state, stored_time};
use crate::error::Error;
use crate::lease::{Lease, LeaseHolder};
use crate::store::Standing;

/// A run's lease columns as stored (all `NULL`: no lease).
#[derive(Debug, Clone, Default)]
pub(super) struct LeaseColumns {
    owner: Option<String>,
    host: Option<String>,
    pid: Option<i64>,
    pid_start: Option<i64>,
    expires: Option<i64>,
}

/// The leases this writer took for an owner that has committed nothing to the run since:
/// each run's lease columns as they were found.
#[derive(Debug, Default)]
pub(super) struct Found(HashMap<Uuid, (String, LeaseColumns)>);

impl Found {
    /// `owner` took the lease of `run_id`, finding `found` (kept as it was first found when
    /// the owner held it already).
    pub(super) fn took(&mut self, run_id: Uuid, owner: &str, found: LeaseColumns) {
        if found.owner.as_deref() != Some(owner) {
            self.0.insert(run_id, (owner.to_owned(), found));
        }
    }

    /// `run_id` has had a commit: its lease is given up, not back, from now on.
    pub(super) fn committed(&mut self, run_id: Uuid) {
        self.0.remove(&run_id);
    }

    /// The lease columns `owner` found when it took the lease of `run_id`, if it has
    /// committed nothing to the run since; forgotten.
    pub(super) fn take(&mut self, run_id: Uuid, owner: &str) -> Option<LeaseColumns> {
        let (taker, _) = self.0.get(&run_id)?;
        if taker != owner {
            return None;
        }
        self.0.remove(&run_id).map(|(_, found)| found)
    }
}

/// What an attempt to take a run's lease met.
pub(super) enum Acquired {
    /// Taken: how the run stood, and the lease columns found.
    Taken(Standing, LeaseColumns),
    /// Held by another owner, live.
    Held(Lease),
    /// No such run.
    Unknown,
    /// A lease or a state out of range: a corrupt database.
    Corrupt(Error),
}

/// Takes the lease of `run_id` for `holder` until `expires`, in the transaction `conn` is
/// in, unless another owner than `void` holds it past `now`.
pub(super) fn acquire(
    conn: &Connection,
    run_id: Uuid,
    holder: &LeaseHolder,
    (now, expires): (DateTime<Utc>, DateTime<Utc>),
    void: Option<&LeaseHolder>,
) -> rusqlite::Result<Acquired> {
    let found = (conn.prepare_cached(
        "SELECT lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires, r.state,
                (SELECT at FROM events e WHERE e.run_id = r.id ORDER BY e.seq DESC LIMIT 1)
         FROM runs r WHERE r.id = ?",
    ))?
    .query_row([run_id.to_string()], |row| {
        let columns = LeaseColumns {
            owner: row.get(0)?,
            host: row.get(1)?,
            pid: row.get(2)?,
            pid_start: row.get(3)?,
            expires: row.get(4)?,
        };
        let (state, updated_at): (String, Option<i64>) = (row.get(5)?, row.get(6)?);
        Ok((columns, state, updated_at))
    })
    .optional()?;
    let Some((columns, state, updated_at)) = found else {
        return Ok(Acquired::Unknown);
    };
    // A pid or a state out of range is a corrupt database.
    let read = || {
        let pid = (columns.pid)
            .map(|pid| in_range::<u32>("lease_pid", pid))
            .transpose()?;
        let standing = Standing {
            state: parse_state(&state)?,
            updated_at: stored_time("updated_at", updated_at.unwrap_or_default())?,
        };
        let expires = stored_time("lease_expires", columns.expires.unwrap_or_default())?;
        let lease = columns.owner.clone().map(|owner| Lease {
            holder: LeaseHolder {
                owner,
                host: columns.host.clone().unwrap_or_default(),
                pid: pid.unwrap_or_default(),
                // Written `as i64`: read back bit for bit, any value.
                pid_start: columns.pid_start.unwrap_or_default() as u64,
            },
            expires,
        });
        Ok::<_, Error>((lease, standing))
    };
    let (lease, standing) = match read() {
        Ok(read) => read,
        Err(corrupt) => return Ok(Acquired::Corrupt(corrupt)),
    };
    if let Some(current) = lease
        && current.holder.owner != holder.owner
        && current.expires > now
        && void != Some(&current.holder)
    {
        return Ok(Acquired::Held(current));
    }
    let taken = LeaseColumns {
        owner: Some(holder.owner.clone()),
        host: Some(holder.host.clone()),
        pid: Some(holder.pid.into()),
        pid_start: Some(holder.pid_start as i64),
        expires: Some(expires.timestamp_millis()),
    };
    write(conn, run_id, None, &taken)?;
    Ok(Acquired::Taken(standing, columns))
}

/// Writes `lease` as the lease columns of `run_id`, if `owner` holds it (or whoever does,
/// without an owner).
pub(super) fn write(
    conn: &Connection,
    run_id: Uuid,
    owner: Option<&str>,
    lease: &LeaseColumns,
) -> rusqlite::Result<()> {
    let mut update = conn.prepare_cached(
        "UPDATE runs SET lease_owner = ?, lease_host = ?, lease_pid = ?, lease_pid_start = ?,
             lease_expires = ?
         WHERE id = ? AND (?7 IS NULL OR lease_owner = ?7)",
    )?;
    let LeaseColumns {
        owner: holder,
        host,
        pid,
        pid_start,
        expires,
    } = lease;
    update.execute(params![
        holder,
        host,
        pid,
        pid_start,
        expires,
        run_id.to_string(),
        owner
    ])?;
    Ok(())
}
