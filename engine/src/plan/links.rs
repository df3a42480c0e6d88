//! How many dependencies a plan's graph may hold. A group's every last step linked to the
//! next group's every first step makes `n × m` of them: two parallel groups of 5,000 steps
//! in a pipeline, a 328 KB file or planner's plan, made 25,000,000 and took 1.3 GB (probe
//! 69 F6). Real workflows have one to three a step (the WfCommons DAGs: 1.0–2.7), so a
//! graph may have 16 a step, or a million in all, whichever is more: its memory stays
//! proportional to its steps. Airflow refuses a list `>>` a list for the same reason and
//! asks for `cross_downstream`; here one step between the two groups does it.

/// Links a graph of any size may have.
const AT_LEAST: usize = 1_000_000;

/// Links a graph may have for each of its steps.
const PER_STEP: usize = 16;

/// The links a compilation may still add to its graph.
#[derive(Debug, Default)]
pub(super) struct Links {
    /// How many it may have in all.
    allowed: usize,
    /// How many it has.
    held: usize,
    /// How many steps it has, once compiled.
    steps: usize,
    /// Whether a link was refused (one problem says so; the plan is refused).
    refused: bool,
}

impl Links {
    /// The budget of a graph of `steps` steps, `held` links of which it has already (a run's
    /// plan, which a planner's plan grows).
    pub(super) fn new(steps: usize, held: usize) -> Links {
        Links {
            allowed: AT_LEAST.max(steps.saturating_mul(PER_STEP)),
            held,
            steps,
            refused: false,
        }
    }

    /// Takes `count` links: `Ok` if they fit; else why not, the first time (the problem to
    /// report, after what made them), and `Err(None)` after it.
    pub(super) fn take(&mut self, count: usize) -> Result<(), Option<String>> {
        if !self.refused && count <= self.allowed.saturating_sub(self.held) {
            self.held += count;
            return Ok(());
        }
        if std::mem::replace(&mut self.refused, true) {
            return Err(None);
        }
        let total = self.held.saturating_add(count);
        Err(Some(format!(
            "{count} dependencies, {total} in the graph with them, past the {} a graph of {} \
             steps may have ({PER_STEP} a step, or {AT_LEAST} in all)",
            self.allowed, self.steps
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_may_have_sixteen_links_a_step_or_a_million_in_all() {
        let mut small = Links::new(10, 0);
        assert_eq!(small.take(AT_LEAST), Ok(()));
        assert!(small.take(1).is_err());
        let mut big = Links::new(100_000, 1_599_990);
        assert_eq!(big.take(10), Ok(()));
        assert_eq!(
            big.take(1),
            Err(Some(
                "1 dependencies, 1600001 in the graph with them, past the 1600000 a graph of \
                 100000 steps may have (16 a step, or 1000000 in all)"
                    .to_owned()
            ))
        );
        assert_eq!(big.take(0), Err(None), "one problem says so");
    }
}
