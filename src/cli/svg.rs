//! `cairn graph --format svg`: the DAG laid out and drawn in-process by `layout-rs`, so a
//! picture needs no Graphviz.
//!
//! `layout-rs` has no clusters: the steps are laid out alone, then each group is drawn as a
//! box around its steps, labelled like the `dot` clusters (`id (pipeline)`), outer boxes
//! wider than the boxes they hold.

use cairn_engine::Node;
use cairn_engine::Plan;
use cairn_engine::StepIndex;
use cairn_engine::StepState;
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

use std::fmt::Write as _;

/// Font size of the step labels.
const STEP_FONT: usize = 14;
/// Font size of the group labels and the title.
const GROUP_FONT: usize = 12;
/// Space between a group's box and the boxes (or steps) it holds.
const GAP: f64 = 10.;
/// Height of a group's label, above its members.
const LABEL: f64 = 16.;

/// The plan as a standalone SVG document, titled with the workflow's name ([`title`]),
/// steps labelled with their `states` if given.
pub(crate) fn svg(plan: &Plan, states: &[StepState]) -> String {
    // The layout grows top down; shapes are sized in the flipped orientation, as layout-rs's
    // own dot reader does.
    let shape_orientation = Orientation::TopToBottom.flip();
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let mut groups = Vec::new();
    let mut walk = Walk {
        plan,
        next_step: 0,
        groups: &mut groups,
        states,
    };
    let mut labels = Vec::new();
    for node in plan.roots() {
        walk.node(node, &mut labels);
    }
    let handles: Vec<_> = labels
        .into_iter()
        .map(|label| {
            let shape = ShapeKind::new_box(&label);
            let size = get_shape_size(shape_orientation, &shape, STEP_FONT, false);
            let look = StyleAttr::new(
                Color::fast("black"),
                1,
                Some(Color::fast("white")),
                6,
                STEP_FONT,
            );
            graph.add_node(Element::create(shape, look, shape_orientation, size))
        })
        .collect();
    for (to, &handle) in handles.iter().enumerate() {
        for from in plan.dependencies(to) {
            graph.add_edge(Arrow::simple(""), handles[from], handle);
        }
    }

    // Room on the left and top for the outermost boxes and the title.
    let depth = groups
        .iter()
        .map(|group| group.height + 1)
        .max()
        .unwrap_or(0);
    let margin = GAP * depth as f64 + LABEL * depth as f64;
    let mut writer = SVGWriter::new();
    let mut canvas = Shifted {
        inner: &mut writer,
        by: Point::new(margin + GAP, margin + GAP + 2. * LABEL),
        extent: Point::zero(),
    };
    // The DAG's own check (every edge against every path back: exponential in a chain of
    // diamonds) proves what the plan was built to be: acyclic.
    graph.dag.set_validate(false);
    graph.do_it(false, false, false, &mut canvas);

    let group_look = StyleAttr::new(Color::fast("gray"), 1, None, 8, GROUP_FONT);
    let bbox = |step: StepIndex| graph.pos(handles[step]).bbox(false);
    let mut inside = vec![false; handles.len()];
    for group in &groups {
        // The box around the steps `around`, padded as a group `height` levels high: their
        // bounding box, wider by a gap and higher by a label for each level it holds.
        let frame = |around: &[StepIndex], height: usize| {
            let pad = GAP * (height + 1) as f64;
            let above = pad + LABEL * (height + 1) as f64;
            let (mut top_left, mut bottom_right) = bbox(around[0]);
            for &member in &around[1..] {
                let (member_top_left, member_bottom_right) = bbox(member);
                top_left = Point::new(
                    top_left.x.min(member_top_left.x),
                    top_left.y.min(member_top_left.y),
                );
                bottom_right = Point::new(
                    bottom_right.x.max(member_bottom_right.x),
                    bottom_right.y.max(member_bottom_right.y),
                );
            }
            let corner = Point::new(top_left.x - pad, top_left.y - above);
            let size = Point::new(
                bottom_right.x - top_left.x + 2. * pad,
                bottom_right.y - top_left.y + pad + above,
            );
            (corner, size)
        };
        // The layout places steps row by row, blind to groups: one box around the members
        // could hold a step outside the group, laid out between two of them (probe 196 F1),
        // and say that it is one. Then each member has a box of its own, labelled alike, and
        // padded as a group of one level if a deeper box would reach another step (probe
        // 198 F6: a box four levels high reached 104 px above its step).
        inside.fill(false);
        (group.members.iter()).for_each(|&member| inside[member] = true);
        let holds_another = |frame| {
            (0..handles.len())
                .filter(|&step| !inside[step])
                .any(|step| overlap(frame, bbox(step)))
        };
        let whole = frame(&group.members, group.height);
        let frames = match holds_another(whole) {
            false => vec![whole],
            true => (group.members.iter())
                .map(|&member| {
                    let own = frame(&[member], group.height);
                    match holds_another(own) {
                        false => own,
                        true => frame(&[member], 0),
                    }
                })
                .collect(),
        };
        for (corner, size) in frames {
            canvas.draw_rect(corner, size, &group_look, None, None);
            // Text is drawn centred: put its (estimated) middle near the box's left edge,
            // away from the edges that come in at the top.
            let half_width = group.label.chars().count() as f64 * GROUP_FONT as f64 * 0.27;
            canvas.draw_text(
                Point::new(corner.x + GAP / 2. + half_width, corner.y + LABEL),
                &group.label,
                &group_look,
            );
        }
    }
    // The title centred above it all, on a canvas as wide as the drawing or the title.
    let title = title(&plan.workflow().name);
    let title_look = StyleAttr::new(Color::fast("black"), 1, None, 0, GROUP_FONT + 4);
    let width = (canvas.extent.x + GAP).max(text_extent(&title, &title_look).x + 2. * GAP);
    let height = canvas.extent.y + GAP;
    canvas.draw_title(Point::new(width / 2., 2. * LABEL), &title, &title_look);
    sized(&writer.finalize(), width.ceil(), height.ceil())
}

/// The width and height of `text` drawn in `look`, estimated (no font metrics here: an
/// average character of a serif font is about half its size wide).
fn text_extent(text: &str, look: &StyleAttr) -> Point {
    let font = look.font_size as f64;
    let widest = text
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    Point::new(
        widest as f64 * font * 0.55,
        text.lines().count().max(1) as f64 * font,
    )
}

/// `svg`, layout-rs's document, on a canvas `width` × `height`: layout-rs grows its canvas
/// for a text 10 px across and 10 px down per byte (its axes swapped), so a long title was
/// cut at both edges and the picture made hundreds of pixels taller (probe 196 F2).
fn sized(svg: &str, width: f64, height: f64) -> String {
    let header = svg.find("<svg ").and_then(|start| {
        let end = start + svg[start..].find(" xmlns=")?;
        Some((start, end))
    });
    match header {
        Some((start, end)) => format!(
            "{}<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"{}",
            &svg[..start],
            &svg[end..]
        ),
        None => svg.to_owned(),
    }
}

/// Whether the box at `corner` of `size` and the box from `top_left` to `bottom_right` share
/// any point.
fn overlap((corner, size): (Point, Point), (top_left, bottom_right): (Point, Point)) -> bool {
    top_left.x <= corner.x + size.x
        && corner.x <= bottom_right.x
        && top_left.y <= corner.y + size.y
        && corner.y <= bottom_right.y
}

/// A workflow's name as the drawing's title: each control character (XML allows few, a
/// terminal obeys them) and noncharacter (XML allows none) drawn as `\u{…}`, as `dot`
/// draws them; a bidirectional character is left as written, as in `dot` and Mermaid
/// (docs/runs.md, "What is printed for a person"). `layout-rs` escapes XML's own `<&"`.
fn title(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// How many checks `layout-rs`'s crossing reduction makes on `plan`, in units of one pass
/// (it makes about fifty): the layout puts each step on the row after its last dependency's,
/// an edge spanning several rows gets a waypoint node on each row it crosses, and every pass
/// compares each pair of a row's nodes against each node of the next row. So a row of `w`
/// nodes above one of `v` costs `w (w - 1) / 2 × v`, and a chain of `n` steps that one step
/// needs all of (whose edges fill the rows with waypoints) `n⁴ / 8`: the measure of the time,
/// where the steps alone are not.
pub(crate) fn crossing_checks(plan: &Plan) -> u64 {
    let steps = plan.steps().len();
    // Each step's row, in a topological order (a run's added steps may come after their
    // dependents in plan order).
    let mut unmet: Vec<usize> = (0..steps)
        .map(|step| plan.dependencies(step).count())
        .collect();
    let mut ready: Vec<StepIndex> = (0..steps).filter(|&step| unmet[step] == 0).collect();
    let mut row = vec![0usize; steps];
    while let Some(step) = ready.pop() {
        for next in plan.dependents(step) {
            row[next] = row[next].max(row[step] + 1);
            unmet[next] -= 1;
            if unmet[next] == 0 {
                ready.push(next);
            }
        }
    }
    // Nodes per row: the steps, and the waypoints of the edges crossing the row (counted
    // as a difference between rows).
    let rows = row.iter().max().map_or(0, |last| last + 1);
    let mut change = vec![0i64; rows + 1];
    for step in 0..steps {
        change[row[step]] += 1;
        change[row[step] + 1] -= 1;
        for before in plan.dependencies(step) {
            change[row[before] + 1] += 1;
            change[row[step]] -= 1;
        }
    }
    let mut widths = Vec::with_capacity(rows);
    let mut width = 0i64;
    for delta in &change[..rows] {
        width += delta;
        widths.push(u64::try_from(width).unwrap_or_default());
    }
    (widths.windows(2))
        .map(|pair| (pair[0].saturating_mul(pair[0].saturating_sub(1)) / 2).saturating_mul(pair[1]))
        .fold(0, u64::saturating_add)
}

/// A group: its label and the steps inside it, however deep.
struct Group {
    /// `id (kind)`, or the kind alone for a group without an id.
    label: String,
    /// How many levels of groups it holds (0: only steps).
    height: usize,
    /// The steps inside it.
    members: Vec<StepIndex>,
}

/// A depth-first walk of the workflow's nodes, in the order of the plan's steps.
struct Walk<'a> {
    plan: &'a Plan,
    next_step: StepIndex,
    groups: &'a mut Vec<Group>,
    states: &'a [StepState],
}

impl Walk<'_> {
    /// Pushes the labels of the steps under `node` and records its groups; returns the steps
    /// under `node` and how many levels of groups it is.
    fn node(&mut self, node: &Node, labels: &mut Vec<String>) -> (Vec<StepIndex>, usize) {
        let (kind, members) = match (&node.pipeline, &node.parallel) {
            (Some(members), _) => ("pipeline", members),
            (None, Some(members)) => ("parallel", members),
            (None, None) => {
                let step = self.next_step;
                self.next_step += 1;
                let id = &self.plan.steps()[step].id;
                let mut label = match &node.executor {
                    Some(executor) => format!("{id}\n{executor}"),
                    None => id.to_string(),
                };
                if let Some(state) = self.states.get(step) {
                    label.push_str(&format!("\n[{state}]"));
                }
                labels.push(label);
                return (vec![step], 0);
            }
        };
        let mut steps = Vec::new();
        let mut height = 0;
        for member in members {
            let (member_steps, member_levels) = self.node(member, labels);
            steps.extend(member_steps);
            height = height.max(member_levels);
        }
        if !steps.is_empty() {
            self.groups.push(Group {
                label: match &node.id {
                    Some(id) => format!("{id} ({kind})"),
                    None => kind.to_owned(),
                },
                height,
                members: steps.clone(),
            });
        }
        (steps, height + 1)
    }
}

/// A render backend that moves everything drawn by `by`, leaving room for group boxes.
struct Shifted<'a> {
    inner: &'a mut SVGWriter,
    by: Point,
    /// The bottom right corner of what was drawn, on the canvas.
    extent: Point,
}

impl Shifted<'_> {
    /// Grows the extent to hold `point` of the canvas.
    fn hold(&mut self, point: Point) {
        self.extent = Point::new(self.extent.x.max(point.x), self.extent.y.max(point.y));
    }

    /// Draws `text` centred at `xy` of the canvas, unshifted.
    fn draw_title(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        self.inner.draw_text(xy, text, look);
    }
}

impl RenderBackend for Shifted<'_> {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
        clip: Option<ClipHandle>,
    ) {
        self.hold(xy.add(self.by).add(size));
        self.inner
            .draw_rect(xy.add(self.by), size, look, properties, clip);
    }

    fn draw_line(
        &mut self,
        start: Point,
        stop: Point,
        look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.hold(start.add(self.by));
        self.hold(stop.add(self.by));
        self.inner
            .draw_line(start.add(self.by), stop.add(self.by), look, properties);
    }

    fn draw_circle(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.hold(xy.add(self.by).add(size));
        self.inner
            .draw_circle(xy.add(self.by), size, look, properties);
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        // Drawn centred on `xy`.
        let half = text_extent(text, look).scale(0.5);
        self.hold(xy.add(self.by).add(half));
        self.inner.draw_text(xy.add(self.by), text, look);
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        head: (bool, bool),
        look: &StyleAttr,
        properties: Option<String>,
        text: &str,
    ) {
        let path: Vec<_> = path
            .iter()
            .map(|&(point, control)| (point.add(self.by), control.add(self.by)))
            .collect();
        for &(point, control) in &path {
            self.hold(point);
            self.hold(control);
        }
        self.inner
            .draw_arrow(&path, dashed, head, look, properties, text);
    }

    fn create_clip(&mut self, xy: Point, size: Point, rounded_px: usize) -> ClipHandle {
        self.inner.create_clip(xy.add(self.by), size, rounded_px)
    }
}
