//! Which stack an expression is parsed and run on: the CEL parser and evaluator recurse
//! once per operator and per level of brackets, so a big expression runs on a thread with a
//! big stack, and one too big for any is refused.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::ExprError;

/// Expressions longer than this are refused.
pub(super) const MAX_LEN: usize = 16 * 1024;
/// Expressions with more operators than this are refused: the CEL parser and evaluator
/// recurse once per operator of a chain such as `a + b + c`, with frames of over 30 KiB in
/// unoptimised builds.
const MAX_OPERATORS: usize = 1000;
/// Expressions nested at most this deep, with at most [`SIMPLE_OPERATORS`] operators, run on
/// the caller's stack; others on a thread with a [`BIG_STACK`].
const SIMPLE_NESTING: usize = 6;
/// See [`SIMPLE_NESTING`].
const SIMPLE_OPERATORS: usize = 16;
/// The stack of threads that parse and run large expressions (and of the loader).
const BIG_STACK: usize = 128 << 20;

thread_local! {
    /// Whether this thread was started with a [`BIG_STACK`].
    static ON_BIG_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` on a thread with a big stack (at once when already on one); `None` when no
/// thread could be started or `work` panicked.
pub(crate) fn on_big_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    if ON_BIG_STACK.get() {
        return catch_unwind(AssertUnwindSafe(work)).ok();
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .stack_size(BIG_STACK)
            .spawn_scoped(scope, || {
                ON_BIG_STACK.set(true);
                work()
            });
        thread.ok()?.join().ok()
    })
}

/// How deeply brackets (and `?`) nest in `expr`, and how many operator characters it has,
/// string literals left out.
fn shape(expr: &str) -> (usize, usize) {
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let (mut quote, mut escaped) = (None, false);
    for byte in expr.bytes() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if byte == b'\\' => escaped = true,
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None => match byte {
                b'"' | b'\'' => quote = Some(byte),
                b'(' | b'[' | b'{' | b'?' => {
                    depth += 1;
                    operators += 1;
                    deepest = deepest.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!' | b'&' | b'|'
                | b'.' => operators += 1,
                _ => {}
            },
        }
    }
    (deepest, operators)
}

/// Whether `expr` is small enough for any thread's stack, or why it is too big to parse or
/// run at all.
pub(super) fn fits_any_stack(expr: &str) -> Result<bool, ExprError> {
    if expr.len() > MAX_LEN {
        return Err(ExprError::new(expr, format!("longer than {MAX_LEN} bytes")));
    }
    let (nesting, operators) = shape(expr);
    if operators > MAX_OPERATORS {
        return Err(ExprError::new(
            expr,
            format!("more than {MAX_OPERATORS} operators"),
        ));
    }
    Ok(nesting <= SIMPLE_NESTING && operators <= SIMPLE_OPERATORS)
}

/// Runs `work` on the caller's stack when it is `simple`, else on a big one; `None` when it
/// panicked (in third-party code) or no thread could be started.
pub(crate) fn on_stack_for<T: Send>(
    simple: bool,
    work: impl FnOnce() -> Option<T> + Send,
) -> Option<T> {
    if simple {
        catch_unwind(AssertUnwindSafe(work)).ok().flatten()
    } else {
        on_big_stack(work).flatten()
    }
}
