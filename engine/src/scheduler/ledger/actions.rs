//! An attempt's actions: its step's `with` rendered, with the overrides of the fallback it
//! runs. A step's one action, and the items of a `for_each` window a guard judges, are
//! rendered as the attempt starts; the items of a `for_each` step nothing judges first are
//! each rendered as its task starts it, so that what the attempt holds is its window's
//! actions, not every item's (docs/performance.md, "A `for_each` window of thousands of
//! items").

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::definition::Node;
use crate::executor::{Action, ErrorClass, ExecError, Outcome};
use crate::expr::{self, ExprError, ItemScope, Scope};

/// The actions an attempt runs, in the order it starts them.
#[derive(Debug)]
pub(crate) enum Actions {
    /// Rendered (and judged, under a guard) as the attempt started.
    Rendered(Vec<Action>),
    /// A `for_each` step's items, each rendered as it starts.
    Deferred(Box<DeferredItems>),
}

/// An item's action, or why its `with` did not render.
pub(crate) type Prepared = Result<Action, Unprepared>;

/// An item of a `for_each` attempt whose `with` does not render: it fails on its own, of class
/// `bad_params`, as when its executor refuses its parameters; the other items run.
#[derive(Debug)]
pub(crate) struct Unprepared {
    pub(crate) index: usize,
    pub(crate) error: ExecError,
}

impl Unprepared {
    /// Item `index`, whose `with` did not render, for the reason `message`.
    fn new(index: usize, message: String) -> Unprepared {
        let class = ErrorClass::BadParams;
        let error = ExecError { class, message };
        Unprepared { index, error }
    }

    /// The item's outcome, as its task reports it.
    pub(crate) fn outcome(self) -> Outcome {
        Outcome::failure(self.error.class, self.error.message)
    }
}

/// A step's `with` as an attempt renders it.
#[derive(Debug)]
pub(super) struct WithTemplate {
    /// `with`, the overrides of the fallback the attempt runs merged in.
    with: Value,
    /// That fallback's position in `fallbacks` and its overrides alone, if it runs one.
    fallback: Option<(usize, Value)>,
}

impl WithTemplate {
    /// The parameters of `step` running its `fallback`th fallback (0: its own `with`).
    pub(super) fn new(step: &Node, fallback: usize) -> WithTemplate {
        let mut with = step.with.clone();
        let overrides = step.fallbacks.get(fallback.wrapping_sub(1));
        if let Some(overrides) = overrides {
            with.extend(overrides.clone());
        }
        let fallback = overrides.map(|overrides| {
            let overrides = overrides.iter().map(|(k, v)| (k.clone(), v.clone()));
            (fallback - 1, Value::Object(overrides.collect()))
        });
        WithTemplate {
            with: Value::Object(with.into_iter().collect()),
            fallback,
        }
    }

    /// The parameters rendered in `scope`, or why not.
    pub(super) fn render(&self, scope: &Scope) -> Result<Value, String> {
        let render = |template: &Value| expr::render(template, scope);
        render(&self.with).map_err(|error| self.failed(error, render))
    }

    /// The context the parameters of each item are rendered in ([`WithTemplate::render_item`]).
    pub(super) fn item_scope<'s>(&self, scope: &'s Scope) -> ItemScope<'s> {
        ItemScope::new(scope, &self.with)
    }

    /// The parameters of item `index`, whose value is `item`, or why they do not render.
    pub(super) fn render_item(
        &self,
        scope: &ItemScope<'_>,
        item: &Value,
        index: usize,
    ) -> Result<Value, String> {
        let render = |template: &Value| scope.render(template, item, index);
        render(&self.with).map_err(|error| self.failed(error, render))
    }

    /// Why the parameters did not render (`error`), naming where they were written: the
    /// fallback in use when its overrides alone fail the same way under `render` (the file's
    /// `fallbacks[k]`), else `with`.
    fn failed(
        &self,
        error: ExprError,
        render: impl Fn(&Value) -> Result<Value, ExprError>,
    ) -> String {
        match &self.fallback {
            Some((k, overrides)) if render(overrides).err() == Some(error.clone()) => {
                format!("`fallbacks[{k}]`: {error}")
            }
            _ => format!("`with`: {error}"),
        }
    }
}

/// What the actions of an attempt share: the run, the step, its executor.
#[derive(Debug)]
pub(super) struct ActionHeader {
    pub(super) run_id: Uuid,
    pub(super) step_id: String,
    pub(super) executor: String,
}

impl ActionHeader {
    /// The action of item `item_index` (none: the step's own) at its `attempt`, with `params`.
    pub(super) fn action(&self, params: Value, item_index: Option<usize>, attempt: u32) -> Action {
        Action {
            run_id: self.run_id,
            step_id: self.step_id.clone(),
            item_index,
            attempt,
            executor: self.executor.clone(),
            params,
            idempotency_key: Action::idempotency_key_for(self.run_id, &self.step_id, item_index),
        }
    }
}

/// The items of a `for_each` attempt that nothing judges before they start: each one's
/// action is rendered as the attempt's task reaches it ([`DeferredItems::prepare`]). It holds
/// the list and what renders it, not the actions.
#[derive(Debug)]
pub(crate) struct DeferredItems {
    pub(super) header: ActionHeader,
    pub(super) params: WithTemplate,
    /// What the step's expressions read, as the attempt started.
    pub(super) scope: Scope,
    /// The step's list of items.
    pub(super) items: Arc<Vec<Value>>,
    /// The items the attempt runs, in the order it starts them, each with its attempt.
    pub(super) runs: Vec<(usize, u32)>,
}

impl DeferredItems {
    /// Each item's action (or why it has none) in the order the attempt starts them,
    /// rendered only as the iterator reaches it.
    #[cfg(test)]
    pub(crate) fn actions(&self) -> impl Iterator<Item = Prepared> + Send + '_ {
        let scope = self.item_scope();
        (0..self.runs.len()).map(move |at| self.prepare(&scope, at))
    }

    /// How many items the attempt runs.
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }

    /// The context every item's `with` renders in ([`DeferredItems::prepare`]).
    pub(crate) fn item_scope(&self) -> ItemScope<'_> {
        self.params.item_scope(&self.scope)
    }

    /// The action of the `at`th item the attempt starts, rendered now in `scope`.
    pub(crate) fn prepare(&self, scope: &ItemScope<'_>, at: usize) -> Prepared {
        let (index, attempt) = self.runs[at];
        prepare(
            &self.header,
            &self.params,
            scope,
            &self.items,
            index,
            attempt,
        )
    }

    /// [`DeferredItems::prepare`] in a context of its own, for a thread other than the one
    /// that holds the attempt's.
    pub(crate) fn prepare_alone(&self, at: usize) -> Prepared {
        self.prepare(&self.item_scope(), at)
    }

    /// The `at`th item the attempt starts, failed before it started because its rendering
    /// did not come back (`why`).
    pub(crate) fn unprepared(&self, at: usize, why: String) -> Prepared {
        Err(Unprepared::new(self.runs[at].0, why))
    }
}

/// The action of item `index` of `items` at its `attempt`, its `with` rendered in `scope`
/// now, or why it did not render.
fn prepare(
    header: &ActionHeader,
    params: &WithTemplate,
    scope: &ItemScope<'_>,
    items: &[Value],
    index: usize,
    attempt: u32,
) -> Prepared {
    match params.render_item(scope, &items[index], index) {
        Ok(rendered) => Ok(header.action(rendered, Some(index), attempt)),
        Err(message) => Err(Unprepared::new(index, message)),
    }
}

/// The actions of an attempt rendered as it starts, and the items whose `with` did not render.
#[derive(Debug, Default)]
pub(super) struct Rendered {
    pub(super) actions: Vec<Action>,
    pub(super) unprepared: Vec<Unprepared>,
}

/// A window of a `for_each` step's items that a guard judges, rendered a turn's slice at a
/// time: up to `window` that render (those that do not are not counted: they fail on their
/// own), in the order the attempt runs them (probe 88 F3: a window of 36 items whose `with`
/// took 1 s each held the engine 36 s, a SIGTERM unread past its grace).
#[derive(Debug)]
pub(super) struct WindowRendering {
    /// The items the window is taken from, in the order they run.
    items: DeferredItems,
    /// The first of `items` not rendered yet.
    next: usize,
    window: usize,
    rendered: Rendered,
}

impl WindowRendering {
    /// The window of at most `window` actions of `items`.
    pub(super) fn new(items: DeferredItems, window: usize) -> WindowRendering {
        WindowRendering {
            items,
            next: 0,
            window,
            rendered: Rendered::default(),
        }
    }

    /// Renders the items left, one at least, until the window is full or no item is left
    /// (then its actions come back), or `ran_out` says the turn's slice is spent (then
    /// `None`: the next turn goes on).
    pub(super) fn render(&mut self, ran_out: impl Fn() -> bool) -> Option<Rendered> {
        let scope = self.items.item_scope();
        loop {
            if self.rendered.actions.len() == self.window || self.next == self.items.len() {
                return Some(std::mem::take(&mut self.rendered));
            }
            match self.items.prepare(&scope, self.next) {
                Ok(action) => self.rendered.actions.push(action),
                Err(failed) => self.rendered.unprepared.push(failed),
            }
            self.next += 1;
            if ran_out() {
                return None;
            }
        }
    }
}

#[cfg(test)]
impl Actions {
    /// Every action (or why an item has none), rendered now: what tests look at.
    pub(crate) fn prepared(&self) -> Vec<Prepared> {
        match self {
            Actions::Rendered(actions) => actions.iter().cloned().map(Ok).collect(),
            Actions::Deferred(items) => items.actions().collect(),
        }
    }

    /// Every action rendered now, an item's that does not render left out.
    pub(crate) fn all(&self) -> Vec<Action> {
        self.prepared().into_iter().filter_map(Result::ok).collect()
    }
}
