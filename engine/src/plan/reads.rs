//! Which steps an expression may read: only steps that come before its own in the DAG.

use std::ops::Range;

use super::{Plan, StepIndex, for_each_expression_text, steps_read};
use crate::problem::Problem;

/// One problem per expression that reads a step which does not come before its own in the
/// DAG (through pipeline order, `needs` or a group's `needs`): that step may not have run
/// yet, and the expression would read `null`. Only the expressions of `readers` are
/// checked. The loader checks this for files and plans; a run's stored snapshot was checked
/// when the run started.
pub(crate) fn unordered_reads(plan: &Plan, readers: Range<StepIndex>) -> Vec<Problem> {
    // Reads of a step that is not a direct dependency: (read, reader). A step reading its
    // own output is the loader's problem already. A reader's dependencies are sorted once,
    // not scanned for each read: a join may need and read 100,000 steps.
    let mut reads: Vec<(StepIndex, StepIndex)> = Vec::new();
    let mut dependencies: Vec<StepIndex> = Vec::new();
    for reader in readers {
        let referenced = plan.referenced_steps(reader);
        if referenced.is_empty() {
            continue;
        }
        dependencies.clear();
        dependencies.extend(plan.dependencies(reader));
        dependencies.sort_unstable();
        for &read in referenced {
            if read != reader && dependencies.binary_search(&read).is_err() {
                reads.push((read, reader));
            }
        }
    }
    if reads.is_empty() {
        return Vec::new();
    }
    let mut reach = Reach::new(plan);
    let mut problems = Vec::new();
    reads.sort_unstable();
    for group in reads.chunk_by(|a, b| a.0 == b.0) {
        // One walk from the step read reaches every reader that comes after it.
        let read = group[0].0;
        let last = group.iter().map(|&(_, reader)| reach.position[reader]);
        reach.mark_descendants(read, last.max().unwrap_or_default());
        let unreached: Vec<StepIndex> = (group.iter())
            .map(|&(_, reader)| reader)
            .filter(|&reader| !reach.is_marked(reader))
            .collect();
        for reader in unreached {
            let (id, reader_id) = (plan.written(reader, read), plan.written(reader, reader));
            let message = if reach.precedes(reader, read) {
                format!(
                    "`steps.{id}`: `{id}` waits for `{reader_id}`, so `{reader_id}` cannot \
                     read its output"
                )
            } else {
                format!(
                    "`steps.{id}`: `{reader_id}` does not wait for `{id}`, which may not have \
                     run yet; add `needs: [\"{id}\"]` to `{reader_id}`, or put both in a pipeline"
                )
            };
            let pointer = plan.pointer(reader);
            for_each_expression_text(plan.node(reader), |suffix, text| {
                let names = steps_read(suffix, text).ids;
                if (names.iter()).any(|name| plan.resolve(reader, name) == Some(read)) {
                    problems.push(Problem::at(format!("{pointer}{suffix}"), message.clone()));
                }
            });
        }
    }
    problems
}

/// Which steps come after which in a plan: walks along dependents that stop at a
/// topological position, reusing one array of marks (a stamp per walk) so that many walks
/// stay cheap.
struct Reach<'a> {
    plan: &'a Plan,
    /// Each step's place in a topological order: a step comes after another only if its
    /// position is greater.
    position: Vec<usize>,
    /// The stamp of the last walk that reached each step.
    marks: Vec<u32>,
    stamp: u32,
    stack: Vec<StepIndex>,
}

impl<'a> Reach<'a> {
    /// Orders the plan's steps topologically (Kahn's algorithm: a plan has no cycle).
    fn new(plan: &'a Plan) -> Self {
        let count = plan.steps.len();
        let mut waiting: Vec<usize> = (0..count)
            .map(|step| plan.dependencies(step).count())
            .collect();
        let mut ready: Vec<StepIndex> = (0..count).filter(|&step| waiting[step] == 0).collect();
        let mut position = vec![0; count];
        let mut next = 0;
        while let Some(step) = ready.pop() {
            position[step] = next;
            next += 1;
            for dependent in plan.dependents(step) {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.push(dependent);
                }
            }
        }
        Reach {
            plan,
            position,
            marks: vec![0; count],
            stamp: 0,
            stack: Vec::new(),
        }
    }

    /// Marks every step that comes after `from` and whose position is at most `last`.
    fn mark_descendants(&mut self, from: StepIndex, last: usize) {
        self.stamp += 1;
        self.stack.push(from);
        while let Some(step) = self.stack.pop() {
            for next in self.plan.dependents(step) {
                if self.position[next] <= last && self.marks[next] != self.stamp {
                    self.marks[next] = self.stamp;
                    self.stack.push(next);
                }
            }
        }
    }

    /// Whether the last walk reached `step`.
    fn is_marked(&self, step: StepIndex) -> bool {
        self.marks[step] == self.stamp
    }

    /// Whether `from` comes before `to`: a path of dependencies leads from one to the other.
    fn precedes(&mut self, from: StepIndex, to: StepIndex) -> bool {
        self.mark_descendants(from, self.position[to]);
        self.is_marked(to)
    }
}
