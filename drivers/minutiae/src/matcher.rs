//! The minutiae matcher: rotation-invariant edges, root pairs found by hashing them, and a
//! pairing tree grown from each root along matching edges.
//!
//! Ideas borrowed, not code: Bozorth3 compares inter-minutia edges described by their length
//! and the two angles between the edge and each minutia's direction, which do not change
//! when the finger is moved or turned; SourceAFIS finds root pairs by hashing such edges and
//! then grows a pairing graph from each root, edge by edge, which tolerates elastic
//! distortion because only neighbouring minutiae are ever compared; MCC shows that local
//! structures (here: each minutia's nearest neighbours) are what makes a root pair likely.
//!
//! Everything that depends on one template alone is computed once in [`PreparedTemplate`],
//! so a 1:1 match is: hash look-ups for the probe's short edges, a vote per minutia pair,
//! and a few tree expansions over ten-neighbour lists.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::error::RecordError;
use crate::record::{FingerView, MinutiaeRecord, PPCM_500_DPI};

/// Neighbours per minutia used to grow pairing trees and to count support.
const NEIGHBOURS: usize = 10;
/// Nearest neighbours per minutia whose edges are indexed to find root pairs.
const ROOT_NEIGHBOURS: usize = 5;
/// Root edges longer than this (pixels at 500 dpi) are not indexed.
const MAX_ROOT_EDGE: f32 = 150.0;
/// Root pairs tried per match, most voted first.
const MAX_ROOTS: usize = 10;
/// Length tolerance: absolute plus relative (elastic distortion grows with distance).
const LEN_TOL_ABS: f32 = 7.0;
const LEN_TOL_REL: f32 = 0.06;
/// Angle tolerance in 1/256 turns: a constant plus a term for position noise on short edges.
const ANGLE_TOL: f32 = 12.0;
const ANGLE_TOL_NEAR: f32 = 300.0;
/// Fraction of the expansion tolerances that root edges must agree within.
const ROOT_TOL: f32 = 0.7;
/// Root edge index: length in steps of LEN_CELL pixels, each angle in SECTORS sectors. A
/// template files each of its short edges under every cell its tolerance box touches, so a
/// probe edge looks in one cell only.
const LEN_CELL: f32 = 16.0;
const LEN_CELLS: usize = (MAX_ROOT_EDGE / LEN_CELL) as usize + 2;
const SECTORS: usize = 8;
const SECTOR: i32 = 256 / SECTORS as i32;
const CELLS: usize = LEN_CELLS * SECTORS * SECTORS;
const NONE: u16 = u16::MAX;
/// Global check: rotations within this many 1/256 turns of the tree's, and shifts (after
/// that rotation) within this many pixels of the tree's, count.
const ROTATION_TOL: u8 = 16;
const SHIFT_TOL: f32 = 40.0;

#[inline]
fn len_tol(len: f32) -> f32 {
    LEN_TOL_ABS + LEN_TOL_REL * len
}

#[inline]
fn angle_tol(len: f32) -> u8 {
    (ANGLE_TOL + ANGLE_TOL_NEAR / len.max(10.0)).min(60.0) as u8
}

#[inline]
fn angle_diff(a: u8, b: u8) -> u8 {
    (a.wrapping_sub(b) as i8).unsigned_abs()
}

/// An edge from one minutia to another, described so that moving or turning the finger
/// does not change it: its length, and the angles from each end's direction to the edge.
#[derive(Clone, Copy, Debug, Default)]
struct Edge {
    len: f32,
    /// The other end (for neighbour lists) or the near end (for the root index).
    minutia: u16,
    b1: u8,
    b2: u8,
}

/// A short edge in the root index, packed into four bytes: matching a cold template is
/// bound by memory latency, so the index must stay small.
#[derive(Clone, Copy, Debug, Default)]
struct FiledEdge {
    /// Length in units of FILED_LEN_UNIT pixels.
    len: u8,
    b1: u8,
    b2: u8,
    /// The near end of the edge.
    minutia: u8,
}

/// Pixels per unit of [`FiledEdge::len`]: 150 px edges plus tolerance fit in a byte.
const FILED_LEN_UNIT: f32 = 0.75;

impl FiledEdge {
    fn new(e: &Edge, from: usize) -> FiledEdge {
        FiledEdge { len: (e.len / FILED_LEN_UNIT).round().min(255.0) as u8, b1: e.b1, b2: e.b2, minutia: from as u8 }
    }
}

impl Edge {
    #[inline]
    fn agrees(&self, other: &Edge) -> bool {
        let at = angle_tol(self.len);
        (self.len - other.len).abs() <= len_tol(self.len)
            && angle_diff(self.b1, other.b1) <= at
            && angle_diff(self.b2, other.b2) <= at
    }
}

/// A template ready for fast matching: one finger view's minutiae reduced to each one's
/// nearest-neighbour edges, plus an index of short edges to find root pairs. Build it once
/// per template (tens of microseconds); matching only reads it, about 12 KB for 50 minutiae.
///
/// ```
/// use examgate_minutiae::{PreparedTemplate, synthetic};
/// let finger = synthetic::Finger::new(7);
/// let params = synthetic::ImpressionParams::default();
/// let a = PreparedTemplate::from_record(&synthetic::impression(&finger, 1, &params)).unwrap();
/// let b = PreparedTemplate::from_record(&synthetic::impression(&finger, 2, &params)).unwrap();
/// assert!(a.score(&b).is_match());
/// ```
#[derive(Clone, Debug)]
pub struct PreparedTemplate {
    count: usize,
    /// Positions at 500 dpi and directions (1/256 turns, y-down frame), for the global check.
    points: Vec<(f32, f32)>,
    dirs: Vec<u8>,
    /// NEIGHBOURS slots a minutia, nearest first; `neighbour_count` of them are used.
    neighbours: Vec<Edge>,
    neighbour_count: Vec<u8>,
    /// Each minutia's edges to its ROOT_NEIGHBOURS nearest, up to MAX_ROOT_EDGE long.
    short_edges: Vec<FiledEdge>,
    /// The same edges filed under every index cell their tolerance box touches, grouped by
    /// cell; `cell_start` has CELLS + 1 entries. An edge lands in at most 3 x 3 x 3 cells, so
    /// even 255 minutiae x ROOT_NEIGHBOURS x 27 entries fit a u16.
    filed_edges: Vec<FiledEdge>,
    cell_start: Vec<u16>,
}

/// What one comparison found, before calibration.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MatchDetail {
    /// Raw similarity: the input of [`crate::calibration::calibrate`].
    pub raw: f32,
    /// Minutia pairs in the best pairing tree.
    pub pairs: u16,
    /// Pairs that agree with at least two neighbouring pairs.
    pub supported: u16,
    /// Consistent neighbour edges between paired minutiae (each counted from both ends).
    pub consistent_edges: u16,
}

impl PreparedTemplate {
    /// Prepare one finger view; positions are scaled to 500 dpi from the record's
    /// resolution (unknown or implausible resolutions are taken as 500 dpi).
    pub fn new(record: &MinutiaeRecord, view_index: usize) -> Result<PreparedTemplate, RecordError> {
        let view = record.views.get(view_index).ok_or(RecordError::NoFingerViews)?;
        Self::from_view(view, record.x_resolution, record.y_resolution, view_index)
    }

    /// Prepare the first finger view of a record.
    pub fn from_record(record: &MinutiaeRecord) -> Result<PreparedTemplate, RecordError> {
        Self::new(record, 0)
    }

    fn from_view(view: &FingerView, xres: u16, yres: u16, index: usize) -> Result<PreparedTemplate, RecordError> {
        if view.minutiae.is_empty() {
            return Err(RecordError::NoMinutiae { view: index });
        }
        if view.minutiae.len() > 255 {
            return Err(RecordError::TooManyMinutiae { view: index, count: view.minutiae.len() });
        }
        let scale = |res: u16| if (99..=2000).contains(&res) { f32::from(PPCM_500_DPI) / f32::from(res) } else { 1.0 };
        let (sx, sy) = (scale(xres), scale(yres));
        let points: Vec<(f32, f32)> =
            view.minutiae.iter().map(|m| (f32::from(m.x) * sx, f32::from(m.y) * sy)).collect();
        // Directions in the y-down frame: the record's counter-clockwise angle, negated.
        let dirs: Vec<u8> = view.minutiae.iter().map(|m| 0u8.wrapping_sub(m.angle.to_iso())).collect();
        let n = points.len();
        let edge = |i: usize, j: usize| {
            let (dx, dy) = (points[j].0 - points[i].0, points[j].1 - points[i].1);
            let phi = (dy.atan2(dx) * (128.0 / std::f32::consts::PI)).round() as i32 as u8;
            Edge {
                len: (dx * dx + dy * dy).sqrt(),
                minutia: j as u16,
                b1: phi.wrapping_sub(dirs[i]),
                b2: phi.wrapping_sub(dirs[j]),
            }
        };
        let mut neighbours = vec![Edge::default(); n * NEIGHBOURS];
        let mut neighbour_count = vec![0u8; n];
        let mut all: Vec<Edge> = Vec::with_capacity(n);
        let mut short_edges: Vec<(usize, FiledEdge)> = Vec::new();
        let mut filed: Vec<(usize, FiledEdge)> = Vec::new();
        let mut nearest: Vec<(f32, u16)> = Vec::with_capacity(n);
        for i in 0..n {
            // Angles (atan2) only for the nearest few; ties broken by index so the
            // neighbour lists never depend on the sort.
            nearest.clear();
            nearest.extend((0..n).filter(|&j| j != i).map(|j| {
                let (dx, dy) = (points[j].0 - points[i].0, points[j].1 - points[i].1);
                (dx * dx + dy * dy, j as u16)
            }));
            let by_distance = |a: &(f32, u16), b: &(f32, u16)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if nearest.len() > NEIGHBOURS {
                nearest.select_nth_unstable_by(NEIGHBOURS, by_distance);
                nearest.truncate(NEIGHBOURS);
            }
            nearest.sort_by(by_distance);
            all.clear();
            all.extend(nearest.iter().map(|&(_, j)| edge(i, usize::from(j))));
            let k = all.len();
            neighbours[i * NEIGHBOURS..i * NEIGHBOURS + k].copy_from_slice(&all[..k]);
            neighbour_count[i] = k as u8;
            for e in all.iter().take(ROOT_NEIGHBOURS).filter(|e| e.len <= MAX_ROOT_EDGE) {
                let f = FiledEdge::new(e, i);
                short_edges.push((probe_cell_of(f32::from(f.len) * FILED_LEN_UNIT, f.b1, f.b2), f));
                let (lt, at) = root_tolerance(e.len);
                let l0 = ((e.len - lt).max(0.0) / LEN_CELL) as usize;
                let l1 = (((e.len + lt) / LEN_CELL) as usize).min(LEN_CELLS - 1);
                for lc in l0..=l1 {
                    for s1 in sectors(e.b1, at) {
                        for s2 in sectors(e.b2, at) {
                            filed.push((cell(lc, s1, s2), FiledEdge::new(e, i)));
                        }
                    }
                }
            }
        }
        // Probing in cell order walks the other template's index forwards, which the
        // prefetcher follows.
        short_edges.sort_by_key(|e| (e.0, e.1.minutia));
        // Counting sort of the filed edges by cell (stable: minutia order within a cell).
        let mut cell_start = vec![0u16; CELLS + 1];
        for (c, _) in &filed {
            cell_start[c + 1] += 1;
        }
        for c in 0..CELLS {
            cell_start[c + 1] += cell_start[c];
        }
        let mut next = cell_start.clone();
        let mut filed_edges = vec![FiledEdge::default(); filed.len()];
        for (c, e) in &filed {
            filed_edges[usize::from(next[*c])] = *e;
            next[*c] += 1;
        }
        Ok(PreparedTemplate {
            count: n,
            points,
            dirs,
            neighbours,
            neighbour_count,
            short_edges: short_edges.into_iter().map(|e| e.1).collect(),
            filed_edges,
            cell_start,
        })
    }

    /// Number of minutiae in the prepared view.
    pub fn minutia_count(&self) -> usize {
        self.count
    }

    #[inline]
    fn neighbours(&self, i: usize) -> &[Edge] {
        &self.neighbours[i * NEIGHBOURS..i * NEIGHBOURS + usize::from(self.neighbour_count[i])]
    }

    /// Match against another template and calibrate onto the 1..=1000 scale.
    pub fn score(&self, other: &PreparedTemplate) -> examgate_device_sdk::Score {
        crate::calibration::calibrate(self.match_detail(other).raw)
    }

    /// Match against another template; the raw score and what it was made of.
    pub fn match_detail(&self, other: &PreparedTemplate) -> MatchDetail {
        SCRATCH.with(|s| self.match_with(other, &mut s.borrow_mut()))
    }

    /// As [`PreparedTemplate::match_detail`], with caller-owned scratch memory.
    pub fn match_with(&self, other: &PreparedTemplate, scratch: &mut Scratch) -> MatchDetail {
        scratch.reset(self.count, other.count);
        self.vote_roots(other, scratch);
        let mut best = MatchDetail::default();
        let mut best_pairs = std::mem::take(&mut scratch.best_pairs);
        best_pairs.clear();
        let roots = std::mem::take(&mut scratch.roots);
        for &(_, p, c) in &roots {
            // A root already paired the same way in the best tree would grow the same tree.
            if best_pairs.iter().any(|&(bp, bc)| bp == p && bc == c) {
                continue;
            }
            self.grow_tree(other, scratch, p, c);
            let detail = self.score_tree(other, scratch);
            if detail.raw > best.raw {
                best = detail;
                best_pairs.clear();
                best_pairs.extend_from_slice(&scratch.pairs);
            }
        }
        scratch.roots = roots;
        scratch.best_pairs = best_pairs;
        best
    }

    /// Every short edge of this template that agrees with a short edge of `other` is a vote
    /// for the pair of their near ends; the most voted pairs become roots.
    fn vote_roots(&self, other: &PreparedTemplate, s: &mut Scratch) {
        let nc = other.count;
        let mut key = usize::MAX;
        let mut range = 0..0;
        for e in &self.short_edges {
            let len = f32::from(e.len) * FILED_LEN_UNIT;
            let (lt, at) = root_tolerance(len);
            let (lt, at) = ((lt / FILED_LEN_UNIT) as i32, at);
            let k = probe_cell_of(len, e.b1, e.b2);
            if k != key {
                key = k;
                range = usize::from(other.cell_start[key])..usize::from(other.cell_start[key + 1]);
            }
            let row = &mut s.votes[usize::from(e.minutia) * nc..(usize::from(e.minutia) + 1) * nc];
            for o in &other.filed_edges[range.clone()] {
                // Branch-free: to a predictor, whether two edges agree is a coin toss.
                let agree = ((i32::from(o.len) - i32::from(e.len)).abs() <= lt)
                    & (i32::from(angle_diff(o.b1, e.b1)) <= at)
                    & (i32::from(angle_diff(o.b2, e.b2)) <= at);
                let v = &mut row[usize::from(o.minutia)];
                *v = v.saturating_add(u8::from(agree));
            }
        }
        // Roots: every pair with a vote, found by scanning the matrix and clearing it.
        s.voted.clear();
        for (k, v) in s.votes[..self.count * nc].iter_mut().enumerate() {
            if *v > 0 {
                s.voted.push(k as u32 | u32::from(*v) << 24);
                *v = 0;
            }
        }
        // The MAX_ROOTS most voted pairs, ties in index order (votes in the top byte).
        let rank = |&k: &u32| (Reverse(k >> 24), k & 0xFF_FFFF);
        let top = s.voted.len().min(MAX_ROOTS);
        if s.voted.len() > MAX_ROOTS {
            s.voted.select_nth_unstable_by_key(MAX_ROOTS, rank);
        }
        s.voted[..top].sort_unstable_by_key(rank);
        s.roots.clear();
        for &k in &s.voted[..top] {
            let (v, k) = ((k >> 24) as u8, (k & 0xFF_FFFF) as usize);
            s.roots.push((v, (k / nc) as u16, (k % nc) as u16));
        }
    }

    /// Grow a pairing tree from a root: pair the ends of agreeing neighbour edges, best
    /// agreeing first, never re-pairing a minutia.
    fn grow_tree(&self, other: &PreparedTemplate, s: &mut Scratch, p: u16, c: u16) {
        for &(p, c) in &s.pairs {
            s.pair_of_p[usize::from(p)] = NONE;
            s.pair_of_c[usize::from(c)] = NONE;
        }
        s.pairs.clear();
        s.heap.clear();
        self.add_pair(other, s, p, c);
        while let Some(Reverse((_, p, c))) = s.heap.pop() {
            if s.pair_of_p[usize::from(p)] == NONE && s.pair_of_c[usize::from(c)] == NONE {
                self.add_pair(other, s, p, c);
            }
        }
    }

    fn add_pair(&self, other: &PreparedTemplate, s: &mut Scratch, p: u16, c: u16) {
        s.pair_of_p[usize::from(p)] = c;
        s.pair_of_c[usize::from(c)] = p;
        s.pairs.push((p, c));
        let cn = other.neighbours(usize::from(c));
        let mut lo = 0;
        for e in self.neighbours(usize::from(p)) {
            if s.pair_of_p[usize::from(e.minutia)] != NONE {
                continue;
            }
            let lt = len_tol(e.len);
            let at = angle_tol(e.len);
            // Both lists are sorted by length, and len - tol grows with len.
            while lo < cn.len() && cn[lo].len < e.len - lt {
                lo += 1;
            }
            for o in &cn[lo..] {
                if o.len > e.len + lt {
                    break;
                }
                if s.pair_of_c[usize::from(o.minutia)] != NONE {
                    continue;
                }
                let (d1, d2) = (angle_diff(o.b1, e.b1), angle_diff(o.b2, e.b2));
                if d1 <= at && d2 <= at {
                    let err = (o.len - e.len).abs() / lt + f32::from(d1.max(d2)) / f32::from(at);
                    s.heap.push(Reverse(((err * 1000.0) as u16, e.minutia, o.minutia)));
                }
            }
        }
    }

    /// Global check: the pairs of a genuine tree share one rotation and, once turned, about
    /// one translation (elastic distortion moves them by tens of pixels at most); a tree
    /// grown edge by edge between two different fingers drifts. Pairs off the largest
    /// consistent group are not counted.
    fn mark_inliers(&self, other: &PreparedTemplate, s: &mut Scratch) {
        let m = s.pairs.len();
        s.inlier.clear();
        s.inlier.resize(m, true);
        for (k, &(p, _)) in s.pairs.iter().enumerate() {
            s.pair_index[usize::from(p)] = k as u16;
        }
        if m < 3 {
            return;
        }
        s.rotation.clear();
        s.rotation
            .extend(s.pairs.iter().map(|&(p, c)| other.dirs[usize::from(c)].wrapping_sub(self.dirs[usize::from(p)])));
        let rot = &s.rotation;
        let best = (0..m)
            .max_by_key(|&k| (rot.iter().filter(|&&r| angle_diff(r, rot[k]) <= ROTATION_TOL).count(), Reverse(k)))
            .unwrap_or(0);
        // Circular mean of the agreeing rotations, for a turn precise enough to compare shifts.
        let (mut sx, mut sy) = (0f32, 0f32);
        for (k, &r) in rot.iter().enumerate() {
            s.inlier[k] = angle_diff(r, rot[best]) <= ROTATION_TOL;
            if s.inlier[k] {
                let a = f32::from(r) * (std::f32::consts::PI / 128.0);
                sx += a.cos();
                sy += a.sin();
            }
        }
        let (sin, cos) = sy.atan2(sx).sin_cos();
        s.shift.clear();
        for &(p, c) in &s.pairs {
            let (px, py) = self.points[usize::from(p)];
            let (cx, cy) = other.points[usize::from(c)];
            s.shift.push((cx - (px * cos - py * sin), cy - (px * sin + py * cos)));
        }
        let shift = &s.shift;
        let inlier = &s.inlier;
        let near = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2) <= SHIFT_TOL * SHIFT_TOL;
        let best = (0..m)
            .filter(|&k| inlier[k])
            .max_by_key(|&k| ((0..m).filter(|&j| inlier[j] && near(shift[j], shift[k])).count(), Reverse(k)))
            .unwrap_or(0);
        let centre = shift[best];
        for k in 0..m {
            s.inlier[k] = s.inlier[k] && near(s.shift[k], centre);
        }
    }

    /// Count, for every pair of the tree, the neighbouring pairs it agrees with.
    fn score_tree(&self, other: &PreparedTemplate, s: &mut Scratch) -> MatchDetail {
        self.mark_inliers(other, s);
        let mut supported = 0u16;
        let mut consistent = 0u16;
        for (k, &(p, c)) in s.pairs.iter().enumerate() {
            if !s.inlier[k] {
                continue;
            }
            let cn = other.neighbours(usize::from(c));
            let mut degree = 0;
            for e in self.neighbours(usize::from(p)) {
                let l = s.pair_of_p[usize::from(e.minutia)];
                if l == NONE || !s.inlier[usize::from(s.pair_index[usize::from(e.minutia)])] {
                    continue;
                }
                if cn.iter().any(|o| o.minutia == l && e.agrees(o)) {
                    degree += 1;
                }
            }
            consistent += degree;
            if degree >= 2 {
                supported += 1;
            }
        }
        let pairs = s.pairs.len() as u16;
        let (np, nc) = (self.count as f32, other.count as f32);
        // Agreeing neighbour relations, normalised by the geometric mean of the minutia
        // counts: of the forms tried on the synthetic corpus this separated best.
        let raw = 100.0 * f32::from(consistent) / (np * nc).sqrt();
        MatchDetail { raw, pairs, supported, consistent_edges: consistent }
    }
}

#[inline]
fn root_tolerance(len: f32) -> (f32, i32) {
    // Roots need only the best-agreeing edges: tighter tolerances, a smaller index.
    (ROOT_TOL * len_tol(len), (ROOT_TOL * f32::from(angle_tol(len))) as i32)
}

#[inline]
fn probe_cell_of(len: f32, b1: u8, b2: u8) -> usize {
    cell(((len / LEN_CELL) as usize).min(LEN_CELLS - 1), sector(b1), sector(b2))
}

#[inline]
fn cell(lc: usize, s1: usize, s2: usize) -> usize {
    (lc * SECTORS + s1) * SECTORS + s2
}

#[inline]
fn sector(a: u8) -> usize {
    usize::from(a) / SECTOR as usize
}

/// The sectors that angle a +- tol touches.
fn sectors(a: u8, tol: i32) -> impl Iterator<Item = usize> {
    let first = (i32::from(a) - tol).div_euclid(SECTOR);
    let last = (i32::from(a) + tol).div_euclid(SECTOR);
    (first..=last).map(|s| s.rem_euclid(SECTORS as i32) as usize)
}

/// Memory one matching thread reuses between comparisons.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Votes per minutia pair, row-major; all zero between matches.
    votes: Vec<u8>,
    /// Pairs with a vote, to rank and then to clear.
    voted: Vec<u32>,
    roots: Vec<(u8, u16, u16)>,
    pair_of_p: Vec<u16>,
    pair_of_c: Vec<u16>,
    /// Index in `pairs` of each paired probe minutia.
    pair_index: Vec<u16>,
    inlier: Vec<bool>,
    rotation: Vec<u8>,
    shift: Vec<(f32, f32)>,
    pairs: Vec<(u16, u16)>,
    best_pairs: Vec<(u16, u16)>,
    heap: BinaryHeap<Reverse<(u16, u16, u16)>>,
}

impl Scratch {
    fn reset(&mut self, np: usize, nc: usize) {
        // Votes are cleared pair by pair after use; only grow the matrix here.
        if self.votes.len() < np * nc {
            self.votes.resize(np * nc, 0);
        }
        self.pair_of_p.clear();
        self.pair_of_p.resize(np, NONE);
        self.pair_index.clear();
        self.pair_index.resize(np, NONE);
        self.pair_of_c.clear();
        self.pair_of_c.resize(nc, NONE);
        self.pairs.clear();
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}
