//! The writer: one rusqlite connection owned by one OS thread.
//!
//! Commits, leases and commands are sent to the thread as owned requests over a channel;
//! each is answered on a oneshot channel: one hand-over per commit, whatever the batch's
//! size. The fsync of a commit and a wait for another process's lock happen on this thread,
//! never on a tokio worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::params;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::Durability;
use super::handover::Waits;
use super::open::{Schema, classify_sqlite, look};
use super::prepared::Prepared;
use super::rowids::StepRowids;
use super::write::{CommandRow, Creation, Failure, Rows, is_unique_violation};
use super::writer_connection::connect;
use super::writer_file::OpenedFile;
use super::writer_lease::{self as lease, Acquired, Found};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::lease::{Lease, LeaseHolder};
use crate::store::{CommitReport, Standing};

/// The handle of the writer thread; dropping it ends the thread, which closes the connection.
#[derive(Debug)]
pub(super) struct Writer {
    requests: mpsc::Sender<Request>,
    /// How long the last answer took to come.
    answers: Waits,
}

/// A commit: the rows of a batch, with the run to create first, if any.
#[derive(Debug)]
pub(super) struct Commit {
    pub(super) create: Option<Creation>,
    pub(super) owner: String,
    pub(super) now: DateTime<Utc>,
    pub(super) rows: Rows,
}

type Reply<T> = oneshot::Sender<Result<T>>;

/// What the writer thread does once it has answered a request.
enum Answered {
    /// Goes on, with this request first if it took one from the queue that did not join.
    Then(Option<Request>),
    /// Closes its connection, as the close asks.
    Close(Closing),
}

/// A close in two steps: the thread readies its connection to close (see
/// [`OpenedFile::ready_to_close`]) and says so (`ready`), waits for `go` (the store's
/// readers close meanwhile: the writer's is then the process's last connection, the one
/// that checkpoints the WAL and deletes it, or leaves them be), closes it and says so
/// (`closed`).
#[derive(Debug)]
struct Closing {
    ready: oneshot::Sender<()>,
    go: oneshot::Receiver<()>,
    closed: oneshot::Sender<()>,
}

/// `owner`'s lease of `run_id` extended to `expires` (ms).
#[derive(Debug)]
struct Renewal {
    run_id: Uuid,
    owner: String,
    expires: i64,
    reply: Reply<bool>,
}

/// The most commits, or lease renewals, one transaction joins (see `Thread::commit_group`).
const GROUP_MOST: usize = 64;

/// What the thread is asked to do.
#[derive(Debug)]
enum Request {
    /// Commit a batch, answering with its events and whether a halt was asked.
    Commit(Box<Commit>, Reply<CommitReport>),
    /// Take the lease of a run not held by another live owner (or held by `void`, a holder
    /// the caller found dead), answering how the run stood, or the owner's lease. (The
    /// holders boxed: a request is moved through the queue.)
    Acquire {
        run_id: Uuid,
        holder: Box<LeaseHolder>,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        void: Option<Box<LeaseHolder>>,
        reply: Reply<Result<Standing, Lease>>,
    },
    /// Extend a lease, answering whether its owner still held it.
    Renew(Renewal),
    /// Give `owner`'s lease up; `back`: as it was found, if the owner committed nothing
    /// to the run since it took it.
    Release {
        run_id: Uuid,
        owner: String,
        back: bool,
        reply: Reply<()>,
    },
    /// Record a command, answering whether it was (a ruling, a pause or a cancel may not
    /// be).
    Command {
        command: CommandRow,
        reply: Reply<bool>,
    },
    /// Close the connection, as the close asks.
    Close(Closing),
}

/// What the thread owns. Its connection (`prepared.conn`) outlives it, to be closed.
struct Thread<'c> {
    path: PathBuf,
    /// The files the connection has open, looked at before every commit and at renewals
    /// (`None`: they could not be told).
    file: Option<OpenedFile>,
    /// The statements every commit runs, and the connection they belong to.
    prepared: Prepared<'c>,
    /// The next event number of every run this writer has written to.
    next_seq: HashMap<Uuid, i64>,
    /// Where the step rows of the runs it writes to are.
    rowids: StepRowids,
    /// The leases taken by owners that have committed nothing to their runs since.
    found: Found,
}

/// A writer thread that has looked at the database and waits to open its connection (once
/// the caller has migrated the schema, if need be).
#[derive(Debug)]
pub(super) struct Opening {
    requests: mpsc::Sender<Request>,
    go: oneshot::Sender<Reply<()>>,
    thread: std::thread::JoinHandle<()>,
}

impl Opening {
    /// Opens the writer connection, with the store's pragmas.
    pub(super) async fn open(self) -> Result<Writer> {
        let (reply, opened) = oneshot::channel();
        self.go.send(reply).map_err(|_| stopped())?;
        opened.await.map_err(|_| stopped())??;
        Ok(Writer {
            requests: self.requests,
            answers: Waits::default(),
        })
    }

    /// Gives the opening up (the schema could not be brought up to date) and waits until
    /// the thread has closed the connection it looked through: the last connection to close
    /// deletes the `-wal` and `-shm` files its look made, so a refused database is left
    /// with nothing new beside it, even by a process that exits right after.
    pub(super) async fn abandon(self) {
        drop(self.go);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

impl Writer {
    /// Starts the writer thread, which first looks at the database (see [`look`], which
    /// makes cairn's schema in a file with no tables only if the caller may `create` one)
    /// through the connection it then writes with, and waits for [`Opening::open`].
    pub(super) async fn start(
        path: &Path,
        durability: Durability,
        busy_timeout: Duration,
        create: bool,
    ) -> Result<(Opening, Schema)> {
        let (requests, receive) = mpsc::channel();
        let (looked, look_done) = oneshot::channel();
        let (go, wait) = oneshot::channel::<Reply<()>>();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("cairn-writer".into())
            .spawn(move || {
                let (schema, looked_through) = match look(&path, busy_timeout, create) {
                    Ok((schema, conn)) => (Ok(schema), conn),
                    Err(error) => (Err(error), None),
                };
                let refused = schema.is_err();
                if looked.send(schema).is_err() || refused {
                    return;
                }
                // Dropped instead when the caller gave up (its migration failed).
                let Ok(opened) = wait.blocking_recv() else {
                    return;
                };
                let conn = match connect(&path, looked_through, durability, busy_timeout) {
                    Ok(conn) => conn,
                    Err(error) => {
                        let _ = opened.send(Err(classify_sqlite(&path, error)));
                        return;
                    }
                };
                let prepared = match Prepared::new(&conn) {
                    Ok(prepared) => prepared,
                    Err(error) => {
                        let _ = opened.send(Err(classify_sqlite(&path, error)));
                        return;
                    }
                };
                let _ = opened.send(Ok(()));
                let thread = Thread {
                    file: OpenedFile::at(&path, conn.path()),
                    path,
                    prepared,
                    next_seq: HashMap::new(),
                    rowids: StepRowids::default(),
                    found: Found::default(),
                };
                let closing = thread.serve(receive);
                let closed = closing.map(|closing| {
                    let _ = closing.ready.send(());
                    let _ = closing.go.blocking_recv();
                    closing.closed
                });
                // The last connection checkpoints the WAL away as it closes.
                let _ = conn.close();
                if let Some(closed) = closed {
                    let _ = closed.send(());
                }
            })
            .map_err(|error| Error::Database(Box::new(error)))?;
        let schema = look_done.await.map_err(|_| stopped())??;
        let opening = Opening {
            requests,
            go,
            thread,
        };
        Ok((opening, schema))
    }

    /// Commits `commit` and returns what it committed.
    pub(super) async fn commit(&self, commit: Commit) -> Result<CommitReport> {
        self.ask(|reply| Request::Commit(Box::new(commit), reply))
            .await
    }

    /// Takes the lease of `run_id` for `holder` until `expires`, unless another owner
    /// holds it past `now` and `is_void` does not find that holder dead: how the run stood
    /// then, or that owner's lease.
    pub(super) async fn lease_run(
        &self,
        run_id: Uuid,
        holder: &LeaseHolder,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        is_void: &(dyn for<'h> Fn(&'h LeaseHolder) -> bool + Sync),
    ) -> Result<Result<Standing, Lease>> {
        let mut void = None;
        loop {
            let attempt = self
                .ask(|reply| Request::Acquire {
                    run_id,
                    holder: Box::new(holder.clone()),
                    now,
                    expires,
                    void: void.take().map(Box::new),
                    reply,
                })
                .await?;
            // A holder found dead is taken over in a second request, if it still holds it.
            match attempt {
                Err(current) if is_void(&current.holder) => {
                    void = Some(current.holder);
                }
                attempt => return Ok(attempt),
            }
        }
    }

    /// Extends `owner`'s lease of `run_id` to `expires` (ms); whether it still held it.
    pub(super) async fn renew_lease(
        &self,
        run_id: Uuid,
        owner: &str,
        expires: i64,
    ) -> Result<bool> {
        let owner = owner.to_owned();
        self.ask(|reply| {
            Request::Renew(Renewal {
                run_id,
                owner,
                expires,
                reply,
            })
        })
        .await
    }

    /// Gives `owner`'s lease of `run_id` up; `back`: as the owner found it, if it has
    /// committed nothing to the run since it took it.
    pub(super) async fn release_lease(&self, run_id: Uuid, owner: &str, back: bool) -> Result<()> {
        let owner = owner.to_owned();
        self.ask(|reply| Request::Release {
            run_id,
            owner,
            back,
            reply,
        })
        .await
    }

    /// Records `command` unless the run's state or an earlier command makes it moot
    /// ([`CommandRow::ruling`]); whether it was recorded. Its time is taken under the write
    /// lock: a command recorded after a commit is never dated before it.
    pub(super) async fn send_command(&self, command: CommandRow) -> Result<bool> {
        self.ask(|reply| Request::Command { command, reply }).await
    }

    /// Closes the connection and ends the thread once `others` (the store's readers) have
    /// closed, the writer's connection readied to close first: the WAL of a database file
    /// that moved emptied into it, or, if the `-wal` or `-shm` at the path is no longer
    /// the one open, its checkpoint on closing turned off. Closed last, the writer's is
    /// the connection that checkpoints the WAL into the file and deletes it (when no other
    /// process has the database open), or leaves both be.
    pub(super) async fn close_after(&self, others: impl Future<Output = ()>) {
        let (ready, readied) = oneshot::channel();
        let (go, wait) = oneshot::channel();
        let (closed, done) = oneshot::channel();
        let closing = Closing {
            ready,
            go: wait,
            closed,
        };
        let asked = self.requests.send(Request::Close(closing)).is_ok();
        if asked {
            let _ = readied.await;
        }
        others.await;
        let _ = go.send(());
        if asked {
            let _ = done.await;
        }
    }

    async fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (reply, mut answer) = oneshot::channel();
        let started = Instant::now();
        self.requests.send(request(reply)).map_err(|_| stopped())?;
        let polled = self.answers.poll(|| match answer.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => None,
            taken => Some(taken.map_err(|_| stopped())),
        });
        let answer = match polled {
            Some(answer) => answer,
            None => answer.await.map_err(|_| stopped()),
        };
        self.answers.done(started);
        answer?
    }
}

/// The error of a request the thread can no longer answer (it panicked).
fn stopped() -> Error {
    Error::Database("the store's writer thread stopped".into())
}

impl Thread<'_> {
    /// Answers requests until the store is dropped, or closed: then returns the close.
    fn serve(mut self, requests: mpsc::Receiver<Request>) -> Option<Closing> {
        let waits = Waits::default();
        let next = || {
            let take = || match requests.try_recv() {
                Err(mpsc::TryRecvError::Empty) => None,
                taken => Some(taken.ok()),
            };
            waits.wait(take, || requests.recv().ok())
        };
        // A request taken from the queue that did not join a group: the next one served.
        let mut after = None;
        let mut closed = None;
        while let Some(request) = after.take().or_else(next) {
            match self.answer(request, &requests) {
                Answered::Then(request) => after = request,
                Answered::Close(closing) => {
                    closed = Some(closing);
                    break;
                }
            }
        }
        if let Some(file) = &self.file {
            file.ready_to_close(self.prepared.conn);
        }
        closed
    }

    /// Answers `request`, and the requests already waiting that join it: the commits of
    /// other runs join a commit's transaction, the renewals a renewal's (runs started
    /// together renew together).
    fn answer(&mut self, request: Request, requests: &mpsc::Receiver<Request>) -> Answered {
        match request {
            Request::Commit(commit, reply) => {
                let (group, after) =
                    gather(requests, (*commit, reply), |group, request| match request {
                        Request::Commit(commit, reply) if apart(group, &commit) => {
                            Ok((*commit, reply))
                        }
                        other => Err(other),
                    });
                self.commit_group(group);
                return Answered::Then(after);
            }
            Request::Renew(renewal) => {
                let (group, after) = gather(requests, renewal, |_, request| match request {
                    Request::Renew(renewal) => Ok(renewal),
                    other => Err(other),
                });
                self.renew_group(group);
                return Answered::Then(after);
            }
            Request::Acquire {
                run_id,
                holder,
                now,
                expires,
                void,
                reply,
            } => {
                let attempt = self.unless_replaced(|this| {
                    this.acquire(run_id, &holder, now, expires, void.as_deref())
                });
                let _ = reply.send(attempt);
            }
            Request::Release {
                run_id,
                owner,
                back,
                reply,
            } => {
                let found = self.found.take(run_id, &owner).filter(|_| back);
                let lease = found.unwrap_or_default();
                // Probe 201 F2: a release written once the `-shm` was replaced went through
                // the stale index over what other processes had committed since.
                let released = self.unless_replaced(|this| {
                    (lease::write(this.prepared.conn, run_id, Some(&owner), &lease))
                        .map_err(|error| this.fail(error))
                });
                if released.is_ok() {
                    self.next_seq.remove(&run_id);
                }
                let _ = reply.send(released);
            }
            Request::Command { command, reply } => {
                // `BEGIN IMMEDIATE`: the checks read what the write lock holds still.
                let sent = self.unless_replaced(|this| {
                    (this.prepared)
                        .transaction(|prepared| {
                            command.insert(prepared.conn, Utc::now().timestamp_millis())
                        })
                        .map_err(|error| this.fail(error))
                });
                let _ = reply.send(sent);
            }
            Request::Close(closing) => return Answered::Close(closing),
        }
        Answered::Then(None)
    }

    fn fail(&self, error: rusqlite::Error) -> Error {
        classify_sqlite(&self.path, error)
    }

    /// The file the connection has open, if the one at its path is no longer it.
    fn replaced(&self) -> Option<&OpenedFile> {
        self.file.as_ref().filter(|file| file.is_replaced())
    }

    /// What `write` returns, unless a file at the writer's path is no longer the one it has
    /// open: then it is refused, as commits and renewals are ([`Thread::commit_group`]).
    fn unless_replaced<T>(&mut self, write: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if let Some(file) = self.replaced() {
            return Err(file.replaced());
        }
        write(self)
    }

    /// Commits in one `BEGIN IMMEDIATE` transaction, rolled back on any failure.
    fn commit(&mut self, mut commit: Commit) -> Result<CommitReport> {
        let (next_seq, rowids) = (&self.next_seq, &mut self.rowids);
        let written =
            (self.prepared).transaction(|prepared| write(prepared, &mut commit, next_seq, rowids));
        self.committed(commit, written)
    }

    /// Extends the leases of `group` in one transaction (one statement alone); if it
    /// fails, each on its own. None is once the database file at the writer's path is no
    /// longer the one it has open: each renewal fails, and its driver stops.
    fn renew_group(&mut self, group: Vec<Renewal>) {
        if let Some(file) = self.replaced() {
            for renewal in group {
                let _ = renewal.reply.send(Err(file.replaced()));
            }
            return;
        }
        let renew = |conn: &rusqlite::Connection, renewal: &Renewal| {
            let mut update = conn.prepare_cached(
                "UPDATE runs SET lease_expires = ? WHERE id = ? AND lease_owner = ?",
            )?;
            let run_id = renewal.run_id.to_string();
            let changed = update.execute(params![renewal.expires, run_id, renewal.owner])?;
            Ok::<_, rusqlite::Error>(changed == 1)
        };
        let together = (group.len() > 1).then(|| {
            self.prepared.transaction(|prepared| {
                let renewed = group.iter().map(|renewal| renew(prepared.conn, renewal));
                renewed.collect::<rusqlite::Result<Vec<bool>>>()
            })
        });
        match together {
            Some(Ok(renewed)) => {
                for (renewal, renewed) in group.into_iter().zip(renewed) {
                    let _ = renewal.reply.send(Ok(renewed));
                }
            }
            _ => {
                for renewal in group {
                    let renewed = renew(self.prepared.conn, &renewal).map_err(|e| self.fail(e));
                    let _ = renewal.reply.send(renewed);
                }
            }
        }
    }

    /// Commits `group` (commits of different runs) in one transaction, a savepoint each:
    /// one that fails rolls back alone and is answered with its error, the others commit
    /// together. If the transaction itself fails, each commits again on its own. A group
    /// is refused whole once a file of the database at the writer's path is no longer the
    /// one it has open ([`OpenedFile`]).
    fn commit_group(&mut self, mut group: Vec<(Commit, Reply<CommitReport>)>) {
        if let Some(file) = self.replaced() {
            for (_, reply) in group {
                let _ = reply.send(Err(file.replaced()));
            }
            return;
        }
        if group.len() == 1 {
            let (commit, reply) = group.remove(0);
            let _ = reply.send(self.commit(commit));
            return;
        }
        let (next_seq, rowids) = (&self.next_seq, &mut self.rowids);
        let together = self.prepared.transaction(|prepared| {
            let mut written = Vec::with_capacity(group.len());
            for (commit, _) in &mut group {
                prepared.conn.execute_batch("SAVEPOINT one_commit")?;
                let outcome = write(prepared, commit, next_seq, rowids);
                if outcome.is_err() {
                    prepared.conn.execute_batch("ROLLBACK TO one_commit")?;
                }
                prepared.conn.execute_batch("RELEASE one_commit")?;
                written.push(outcome);
            }
            Ok::<_, rusqlite::Error>(written)
        });
        match together {
            Ok(written) => {
                for ((commit, reply), outcome) in group.into_iter().zip(written) {
                    let _ = reply.send(self.committed(commit, outcome));
                }
            }
            Err(_) => {
                for (commit, reply) in group {
                    let _ = reply.send(self.commit(commit));
                }
            }
        }
    }

    /// What `commit` committed once its rows are `written` (numbered, and whether a halt
    /// was asked), or the error it reports when they are not (rolled back).
    fn committed(
        &mut self,
        commit: Commit,
        written: Result<Written, Failure>,
    ) -> Result<CommitReport> {
        let created = commit.create.as_ref().map(|create| create.id);
        let written = written.map_err(|failure| self.refused(&commit.rows, created, failure))?;
        for &run in commit.rows.runs() {
            self.found.committed(run);
        }
        let (numbered, halt_asked) = (written.numbered, written.halt_asked);
        if let Some(run) = created {
            self.next_seq.insert(run, 2);
        }
        self.next_seq.extend(numbered);
        let events = commit.rows.events(created, commit.now);
        for event in &events {
            if let EventKind::Run { to, .. } = event.kind
                && to.is_terminal()
            {
                self.next_seq.remove(&event.run_id);
                self.rowids.forget(event.run_id);
            }
        }
        Ok(CommitReport { events, halt_asked })
    }

    /// The error a commit of `rows` (creating `created`, if given) that failed reports
    /// (its transaction rolled back).
    fn refused(&self, rows: &Rows, created: Option<Uuid>, failure: Failure) -> Error {
        let run = rows.first_run();
        match failure {
            Failure::LeaseLost => Error::LeaseLost(run),
            Failure::StaleStep(index) => match rows.stale_step(self.prepared.conn, index) {
                Ok(Some((step, state))) => Error::Conflict {
                    run,
                    what: format!("step {step} (now {state})"),
                },
                Ok(None) => Error::Conflict {
                    run,
                    what: "the run".into(),
                },
                Err(error) => self.fail(error),
            },
            Failure::StaleRun => Error::Conflict {
                run,
                what: "the run".into(),
            },
            Failure::Sql(error) => match created {
                Some(run) if is_unique_violation(&error) => Error::RunExists(run),
                _ => self.fail(error),
            },
        }
    }

    /// Takes the lease of `run_id` for `holder` in one `BEGIN IMMEDIATE` transaction, unless
    /// another owner than `void` holds it past `now`; how the run stood in that transaction.
    fn acquire(
        &mut self,
        run_id: Uuid,
        holder: &LeaseHolder,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        void: Option<&LeaseHolder>,
    ) -> Result<Result<Standing, Lease>> {
        let attempt = (self.prepared).transaction(|prepared| {
            lease::acquire(prepared.conn, run_id, holder, (now, expires), void)
        });
        match attempt.map_err(|error| self.fail(error))? {
            Acquired::Taken(standing, found) => {
                self.found.took(run_id, &holder.owner, found);
                Ok(Ok(standing))
            }
            Acquired::Held(lease) => Ok(Err(lease)),
            Acquired::Unknown => Err(Error::UnknownRun(run_id.to_string())),
            Acquired::Corrupt(error) => Err(error),
        }
    }
}

/// What [`write()`] wrote: the next event number of every run it numbered events of, and
/// whether a pause or a cancel waits for a run whose attempts it starts ([`Rows::halt_asked`]).
struct Written {
    numbered: HashMap<Uuid, i64>,
    halt_asked: bool,
}

/// Writes `commit`'s rows (creating its run first, if asked) and numbers their events, in
/// the transaction `prepared` is in, and looks whether a halt was asked of the runs whose
/// attempts it starts (a run it creates has no commands yet).
fn write(
    prepared: &mut Prepared<'_>,
    commit: &mut Commit,
    next_seq: &HashMap<Uuid, i64>,
    rowids: &mut StepRowids,
) -> Result<Written, Failure> {
    let created = commit.create.as_ref().map(|create| create.id);
    let numbered = commit.rows.number(|run_id| match next_seq.get(&run_id) {
        Some(next) => Ok(*next),
        None if Some(run_id) == created => Ok(2),
        None => (prepared
            .conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?"))
        .and_then(|mut next| next.query_row([run_id.to_string()], |row| row.get(0))),
    })?;
    let (create, owner, now) = (commit.create.as_ref(), &commit.owner, commit.now);
    commit
        .rows
        .write(prepared, create, owner, now.timestamp_millis(), rowids)?;
    let halt_asked = create.is_none() && commit.rows.halt_asked(prepared)?;
    Ok(Written {
        numbered,
        halt_asked,
    })
}

/// The requests already waiting that `join` takes after `first` (it hands any other back),
/// up to [`GROUP_MOST`] in all, and the first one it did not take.
fn gather<T>(
    requests: &mpsc::Receiver<Request>,
    first: T,
    join: impl Fn(&[T], Request) -> std::result::Result<T, Request>,
) -> (Vec<T>, Option<Request>) {
    let mut group = vec![first];
    while group.len() < GROUP_MOST {
        match requests.try_recv().map(|request| join(&group, request)) {
            Ok(Ok(joined)) => group.push(joined),
            Ok(Err(other)) => return (group, Some(other)),
            Err(_) => break,
        }
    }
    (group, None)
}

/// Whether `commit` writes to no run the commits of `group` write to: their events are
/// numbered from the same counts, so such commits go one after another.
fn apart(group: &[(Commit, Reply<CommitReport>)], commit: &Commit) -> bool {
    fn runs(commit: &Commit) -> impl Iterator<Item = Uuid> + '_ {
        let created = commit.create.as_ref().map(|create| create.id);
        commit.rows.runs().iter().copied().chain(created)
    }
    !group
        .iter()
        .any(|(other, _)| runs(other).any(|run| runs(commit).any(|mine| mine == run)))
}
