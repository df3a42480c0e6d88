//! An agent's reply read as JSON. A step that expects structured data from an agent — a
//! planner's plan, an output an `output_schema` describes — gets the JSON the agent
//! answered, not the reply around it.
//!
//! A planner's output is read so whenever it is no plan itself: an output without `steps`
//! but with a string `text` (the `agent` executor's `{"text", "raw", "warnings"}`, or any
//! executor's reply of that shape) is read for its plan. An `output_schema` step's output is
//! read only when it is exactly the agent's reply: a process's `{"text": ...}` output is
//! data its schema judges as it is.

use serde_json::Value;

use crate::nesting::read_output;

/// The JSON in a planner's `output` when it is no plan but holds an answer: an object
/// without `steps` and with a string `text` ([`read`]). `None` for any other output.
pub(super) fn answer(output: &Value) -> Option<Result<Value, String>> {
    planners_text(output).map(read)
}

/// The text a planner's `output` answers with when it is no plan: the `text` of an object
/// without `steps`. `None` for any other output.
pub(super) fn planners_text(output: &Value) -> Option<&str> {
    let Value::Object(fields) = output else {
        return None;
    };
    match fields.get("text") {
        Some(Value::String(text)) if !fields.contains_key("steps") => Some(text),
        _ => None,
    }
}

/// The JSON in `output` when it is an agent's reply, exactly its keys `{"text", "raw",
/// "warnings"}` ([`read`]). `None` for any other output.
pub(super) fn agent_answer(output: &Value) -> Option<Result<Value, String>> {
    agents_text(output).map(read)
}

/// The `text` of `output` when it is an agent's reply, exactly its keys `{"text", "raw",
/// "warnings"}`. `None` for any other output.
pub(super) fn agents_text(output: &Value) -> Option<&str> {
    let Value::Object(fields) = output else {
        return None;
    };
    let reply = fields.len() == 3
        && ["raw", "warnings"]
            .iter()
            .all(|key| fields.contains_key(*key));
    match fields.get("text") {
        Some(Value::String(text)) if reply => Some(text),
        _ => None,
    }
}

/// The JSON in an agent's `text`: the text parsed whole, else the one fenced Markdown code
/// block in it ([`code_blocks`]: agents often say a sentence around a fenced answer); an
/// error says why the text holds none, and quotes its start.
fn read(text: &str) -> Result<Value, String> {
    let whole = match json(text.trim()) {
        Ok(json) => return Ok(json),
        Err(error) => error,
    };
    let problem = match code_blocks(text).as_slice() {
        [] => format!("text is {whole}"),
        [block] => match json(block) {
            Ok(json) => return Ok(json),
            Err(error) => format!("code block is {error}"),
        },
        blocks => format!(
            "text holds {} code blocks: reply with the JSON alone, or in one block",
            blocks.len()
        ),
    };
    Err(format!("{problem}; text: {}", crate::expr::quoted(text)))
}

/// `text` as JSON, read to the 128 levels a run holds as any executor's output is
/// ([`read_output`]); the error says what it is instead.
fn json(text: &str) -> Result<Value, String> {
    let error = match serde_json::from_str(text) {
        Ok(json) => return Ok(json),
        Err(error) => error,
    };
    match read_output(text.as_bytes()) {
        Some(Ok(json)) => Ok(json),
        Some(Err(deep)) => Err(format!("JSON {deep}")),
        None => Err(format!("not JSON: {error}")),
    }
}

/// The bodies of the fenced Markdown code blocks of `text`, as CommonMark reads them: from a
/// fence ([`fence`]) to the next fence of the same character, at least as long, with nothing
/// after it, or else to the end of the text. Indented code blocks are not read: prose with
/// an indented line (a list's continuation, a quote) would be taken for one.
fn code_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    // The open block's fence (its character and length), and its lines so far.
    let mut open: Option<((char, usize), Vec<&str>)> = None;
    for line in lines(text) {
        let fence = fence(line);
        match &mut open {
            None => {
                if let Some((mark, length, _)) = fence {
                    open = Some(((mark, length), Vec::new()));
                }
            }
            Some(((mark, length), body)) => match fence {
                Some((closing, at_least, info))
                    if closing == *mark && at_least >= *length && info.trim().is_empty() =>
                {
                    blocks.push(body.join("\n"));
                    open = None;
                }
                _ => body.push(line),
            },
        }
    }
    blocks.extend(open.map(|(_, body)| body.join("\n")));
    blocks
}

/// The lines of `text` as CommonMark ends them: at a `\n`, a `\r\n` or a lone `\r` (probe
/// 182 F2: `str::lines` left a text of bare `\r`s one line, its code block unread).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, after) = match rest.find(['\r', '\n']) {
            Some(at) if rest[at..].starts_with("\r\n") => (&rest[..at], &rest[at + 2..]),
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        rest = after;
        Some(line)
    })
}

/// The fence `line` is, if it is one: indented at most 3 spaces, 3 or more backticks or
/// tildes — the character, how many, and the info string after them (a language), which
/// after backticks holds none (else the line is inline code).
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let unindented = line.trim_start_matches(' ');
    if line.len() - unindented.len() > 3 {
        return None;
    }
    let mark = unindented
        .chars()
        .next()
        .filter(|c| matches!(c, '`' | '~'))?;
    let info = unindented.trim_start_matches(mark);
    let length = unindented.len() - info.len();
    (length >= 3 && !(mark == '`' && info.contains('`'))).then_some((mark, length, info))
}

#[cfg(test)]
mod tests;
