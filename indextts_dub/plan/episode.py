"""Stage 3, plan: every line's start and length, solved over the whole episode at once.

The plan speaks in the tempo a listener hears: ``speed = natural length / final speech
length`` (1.25 = a quarter faster than the engine's natural reading). The engine's own
speed knob and the residual time-stretch only *realize* that speed later (see
``synthesis.Synthesizer.at_target`` and ``fit.fit``).

With the tempo variable ``t = 1 / speed``, a line's speech length is ``natural * t``:
linear. So the whole episode is one small convex quadratic programme over, per line,
its start offset and tempo (plus non-negative slacks), solved by Clarabel (an
interior-point solver, deterministic, accurate to ~1e-8):

* prefer ``t`` near 1 (``fill``: near the tempo that fills the cue) — weight 1;
* prefer small tempo changes between consecutive lines of one character — weight
  ``smoothness`` (1), fading with the silence between them (``exp(-gap / 1.5 s)``);
* a line may start up to ``lead_in_ms`` (150) early and run past its cue end into the
  silence before the same character's next line, keeping ``min_gap_ms`` (80); both
  cost a little (quadratic in seconds), so silence is borrowed only as far as it helps;
* a line never slows down unless ``fill``; its speed stays within its bounds (the
  project's, or per line — the casting file narrows them per character);
* different characters may overlap only where their cues already overlap, or anywhere
  with ``allow_cross_overlap``;
* nothing runs past the programme end (the video).

When the fastest allowed speed cannot fit a line, the overflow policy decides:

``compress`` (default) — faster than the bound, up to ``compress_cap`` (1.5), with a warning;
               past the cap, the following lines start later (as ``shift``) rather than
               overlap the same voice;
``shift``    — the following lines start later, within their own slack, at most
               ``max_shift_ms`` (1000) after their cue, never past the programme end;
``flag``     — the line keeps its bounded speed and overruns; the overrun is reported in ms.

Whatever the policy, what is still left overruns and is reported: speech is never
dropped or cut. Overrunning lines also get a video retime suggestion (a picture range
and a slow-down factor); with ``retime=True`` the plan is made in the retimed picture's
time instead, so those lines fit (the renderer slows the picture to match).

Each entry says in words why it got its speed (:attr:`PlanEntry.reason`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from ..errors import DubError
from ..lines import Line
from ..timebase import SAMPLE_RATE
from . import retime
from .model import Plan, PlanEntry, PlanOptions
from .reasons import explain
from .retime import retime_map
from .structure import Episode, structure


# objective weights (time in seconds, tempo dimensionless). Borrowing silence is cheap,
# speed costs more, and the overflow tools (compress, shift, overrun) are linear in the
# seconds they take, orders of magnitude dearer, so they are used only when nothing else fits.
W_TEMPO = 1.0                 # (t - t_pref)^2
W_LEAD = 0.5                  # lead^2: starting early costs lip sync
W_SPILL = 0.1                 # spill^2: running past the cue end
W_DELAY = (100.0, 100.0)      # shift: delay^2, delay
W_DELAY_LAST = (1000.0, 1000.0)   # compress, past the cap: delay^2, delay (dearer than compressing)
W_COMPRESS = (100.0, 100.0)   # beyond the bound, in seconds taken off the speech: s^2, s
W_OVERRUN = (1000.0, 10000.0) # o^2, o
SMOOTH_FADE_S = 1.5           # smoothness fades with the silence between two lines (e-folding, s)
SMOOTH_CUTOFF_S = SMOOTH_FADE_S * 21   # past this silence it weighs under 1e-9 of itself: left out
TOL_MS = 1.5           # rounding and solver noise: less than this over a limit is trimmed, not an overrun
SNAP_MS = 1.0          # starts within this of the cue are on the cue
SNAP_TEMPO = 5e-4      # tempos within this of 1 are natural
SNAP_NATURAL = 0.01    # ... and within this, when the natural take fits where the line is
TEMPO_STEP = 1e-4      # tempos are kept on this grid: solver noise (an edit elsewhere) moves no line

@dataclass
class _Solution:
    delta: np.ndarray     # start offset from the cue start, seconds
    t: np.ndarray         # tempo (speech / natural)
    overrun: np.ndarray   # seconds
    compress: np.ndarray
    status: str
    iterations: int


def _couplings(cs, ce, n, tmax, a, b, max_delay, gap, lead):
    """For pairs (a, b) of one character's consecutive lines (seconds): whether their silence is
    past the smoothness cutoff, and whether ``a`` can reach ``b`` at all."""
    far_silence = np.maximum(0.0, cs[b] - ce[a]) > SMOOTH_CUTOFF_S
    reachable = cs[a] + max_delay + n[a] * tmax[a] + gap > cs[b] - np.minimum(lead, cs[b])
    return far_silence, reachable


def _solve(ep: Episode, opts: PlanOptions, programme: int | None) -> _Solution:
    """Build and solve the quadratic programme (variables per line: delta, t, spill, delay, c, o)."""
    import clarabel
    from scipy import sparse

    m = len(ep.cs)
    sr = float(SAMPLE_RATE)
    cs = ep.cs / sr
    ce = ep.ce / sr
    n = ep.n / sr
    nz = np.maximum(n, 1e-3)
    gap = opts.min_gap_ms / 1000
    lead = opts.lead_in_ms / 1000
    shift = opts.overflow == "shift"
    compress = opts.overflow == "compress"
    may_delay = opts.overflow in ("shift", "compress")
    max_delay = opts.max_shift_ms / 1000 if may_delay else 0.0
    w_delay = W_DELAY if shift else W_DELAY_LAST
    NV = 6
    D, T, P, DL, C, O = range(NV)
    idx = np.arange(m)

    def v(k: int, who=idx) -> np.ndarray:        # column of variable k of lines `who`
        return np.asarray(who) * NV + k

    # preferred tempo: 1, or with fill the tempo that fills the cue (within the lower bound)
    tmax = 1.0 / ep.lo if opts.fill else np.ones(m)
    slot = np.maximum(ce - cs, 0.0)
    tpref = np.ones(m)
    if opts.fill:
        tpref = np.where(n > 0, np.clip(slot / nz, 1.0, tmax), 1.0)
    tmin_bound = 1.0 / ep.hi
    tmin = 1.0 / max(opts.cap, 1e-9) if compress else tmin_bound
    tmin = np.minimum(tmin, tmin_bound) * np.ones(m)

    # objective: 1/2 x'Px + q'x, P given by its upper triangle
    pr = [v(T), v(D), v(P), v(DL), v(C), v(O)]
    pv = [np.full(m, 2 * W_TEMPO), np.full(m, 2 * W_LEAD), np.full(m, 2 * W_SPILL), np.full(m, 2 * w_delay[0]),
          2 * W_COMPRESS[0] * nz ** 2, np.full(m, 2 * W_OVERRUN[0])]
    pc = list(pr)
    q = np.zeros(m * NV)
    q[v(T)] = -2 * W_TEMPO * tpref
    q[v(DL)] = w_delay[1]
    q[v(C)] = W_COMPRESS[1] * nz
    q[v(O)] = W_OVERRUN[1]
    nxt = np.array([-1 if j is None else j for j in ep.next_same])
    has_next = nxt >= 0
    a, b = idx[has_next], nxt[has_next]
    # Pairs of one character's consecutive lines couple the two lines in the solve. In a film of
    # many characters with few lines each they lie far apart, and each such coupling fills the
    # solver's factorization: keep only those that can matter (the planning cost then does not
    # grow with the number of characters). Smoothness past SMOOTH_CUTOFF silences weighs less
    # than 1e-9 of its own weight; the gap constraint holds by the bounds alone when the first
    # line, started as late and spoken as slowly as it may be, still ends before the second can
    # start.
    far_silence, reachable = _couplings(cs, ce, n, tmax, a, b, max_delay, gap, lead)
    if opts.smoothness > 0 and a.size:
        sa, sb = a[~far_silence], b[~far_silence]
        silence = np.maximum(0.0, cs[sb] - ce[sa])
        lam = opts.smoothness * np.exp(-silence / SMOOTH_FADE_S) * ((n[sa] > 0) & (n[sb] > 0))
        pr += [v(T, sa), v(T, sb), v(T, sa)]
        pc += [v(T, sa), v(T, sb), v(T, sb)]
        pv += [2 * lam, 2 * lam, -2 * lam]
    Pm = sparse.csc_matrix((np.concatenate(pv), (np.concatenate(pr), np.concatenate(pc))), shape=(m * NV, m * NV))

    # constraints A x <= b, built block by block: (rows' columns, values, right-hand sides)
    blocks: list[tuple[list[np.ndarray], list[np.ndarray], np.ndarray]] = []

    def add(cols: list[np.ndarray], vals: list, rhs) -> None:
        k = len(cols[0])
        if k:
            blocks.append((cols, [np.broadcast_to(np.asarray(x, float), (k,)) for x in vals],
                           np.broadcast_to(np.asarray(rhs, float), (k,))))

    add([v(D)], [-1.0], np.minimum(lead, cs))                     # start >= cue - lead, >= 0
    add([v(D)], [1.0], max_delay)                                  # start <= cue + max delay
    add([v(T)], [-1.0], -tmin)
    add([v(T)], [1.0], tmax)
    add([v(T), v(C)], [-1.0, -1.0], -tmin_bound)                   # t + c >= 1/hi
    for k in (P, DL, C, O):
        add([v(k)], [-1.0], 0.0)
    if not compress:
        add([v(C)], [1.0], 0.0)
    if not may_delay:
        add([v(DL)], [1.0], 0.0)
    add([v(D), v(DL)], [1.0, -1.0], 0.0)                           # delay >= delta
    add([v(D), v(T), v(P)], [1.0, n, -1.0], ce - cs)               # spill >= end - cue end
    # end + gap <= the same character's next start (where the bounds do not already keep it)
    ga, gb = a[reachable], b[reachable]
    add([v(D, ga), v(T, ga), v(D, gb), v(O, ga)], [1.0, n[ga], -1.0, -1.0], cs[gb] - cs[ga] - gap)
    if programme is not None:                                      # the last line of a character: the end
        last = idx[~has_next]
        add([v(D, last), v(T, last), v(O, last)], [1.0, n[last], -1.0], programme / sr - cs[last])
    ci = np.array([i for i in range(m) for _ in ep.cross[i]], dtype=np.int64)
    ck = np.array([k for i in range(m) for k in ep.cross[i]], dtype=np.int64)
    add([v(D, ci), v(T, ci), v(D, ck), v(O, ci)], [1.0, n[ci], -1.0, -1.0], cs[ck] - cs[ci])   # other characters
    rows, cols, vals, rhs = [], [], [], []
    r0 = 0
    for bcols, bvals, brhs in blocks:
        k = brhs.size
        for c_, v_ in zip(bcols, bvals):
            rows.append(np.arange(r0, r0 + k))
            cols.append(c_)
            vals.append(v_)
        rhs.append(brhs)
        r0 += k
    A = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, m * NV))
    b = np.concatenate(rhs)
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_threads = 1
    # the overflow weights make the objective large when a line overruns: ask for a tight gap so
    # that the small terms (a few ms of lead-in) are still solved, not left as noise
    settings.tol_gap_abs = 1e-10
    settings.tol_gap_rel = 1e-10
    settings.tol_feas = 1e-10
    solver = clarabel.DefaultSolver(Pm, q, A, b, [clarabel.NonnegativeConeT(len(b))], settings)
    sol = solver.solve()
    status = str(sol.status)
    if "Solved" not in status:
        raise DubError.at(None, None, "plan", f"the timing solver did not converge ({status}) on these "
                          f"{m} line(s); the per-line planner (--planner per-line) needs no solver")
    x = np.array(sol.x).reshape(m, NV)
    return _Solution(x[:, D], x[:, T], x[:, O], x[:, C], status, int(sol.iterations))


def _to_samples(ep: Episode, sol: _Solution, opts: PlanOptions, programme: int | None):
    """Integer starts and speech lengths that keep every constraint the solution kept."""
    m = len(ep.cs)
    lead = opts.lead_in_ms * SAMPLE_RATE // 1000
    max_delay = opts.max_shift_ms * SAMPLE_RATE // 1000 if opts.overflow in ("shift", "compress") else 0
    gap = opts.min_gap_ms * SAMPLE_RATE // 1000
    delta = np.where(np.abs(sol.delta) < SNAP_MS / 1000, 0.0, sol.delta)
    t = np.where(np.abs(sol.t - 1) < SNAP_TEMPO, 1.0, np.round(sol.t / TEMPO_STEP) * TEMPO_STEP)
    start = ep.cs + np.rint(delta * SAMPLE_RATE).astype(np.int64)
    start = np.clip(start, np.maximum(ep.cs - lead, 0), ep.cs + max_delay)
    speech = np.rint(ep.n * t).astype(np.int64)
    speech = np.maximum(speech, 0)
    # speed bound: never faster than the cap / bound after rounding
    cap = np.where(sol.compress > 1e-6, opts.cap if opts.overflow == "compress" else ep.hi, ep.hi)
    speech = np.maximum(speech, np.ceil(ep.n / cap - 1e-9).astype(np.int64))
    if not opts.fill:
        speech = np.minimum(speech, ep.n)
    limits = np.full(m, np.iinfo(np.int64).max // 4, np.int64)
    for i in range(m):
        j = ep.next_same[i]
        if j is not None:
            limits[i] = min(limits[i], start[j] - gap)
        elif programme is not None:
            limits[i] = min(limits[i], programme)
        for k in ep.cross[i]:
            limits[i] = min(limits[i], start[k])
    # a tempo within SNAP_NATURAL of 1 (smoothness pulling a line that fits) is not worth a stretch
    near = (np.abs(speech / np.maximum(ep.n, 1) - 1) < SNAP_NATURAL) & (start + ep.n <= limits)
    speech = np.where(near, ep.n, speech)
    # rounding can leave a sample or two over a limit the solver kept: take them off the speech
    tol = int(TOL_MS * SAMPLE_RATE / 1000)
    over = start + speech - limits
    fix = (over > 0) & (over <= tol)
    speech = np.where(fix, speech - over, speech)
    overrun = np.maximum(start + speech - limits, 0)
    return start, speech, limits, overrun


def plan(lines: list[Line], natural: Mapping[int, int], programme: int | None = None,
         options: PlanOptions | None = None, **overrides) -> Plan:
    """Plan every line over the whole episode. ``natural`` maps ``Line.index`` to its natural
    speech length in samples; ``programme`` (samples) is the hard end, e.g. the video's length.

    ``options`` is a :class:`PlanOptions`; keyword arguments override its fields
    (``bounds=(0.8, 1.2)``, ``fill=True``, ``overflow="shift"``...)."""
    opts = replace(options or PlanOptions(), **overrides)
    opts.check()
    if not lines:
        return Plan([], programme, opts.bounds, opts.fill, opts.min_gap_ms * SAMPLE_RATE // 1000, opts)
    ep = structure(lines, natural, opts)
    sol = _solve(ep, opts, programme)
    start, speech, limits, overrun = _to_samples(ep, sol, opts, programme)
    speeds = ep.n / np.maximum(speech, 1)
    compressed = speeds > ep.hi + 1e-4
    edits = retime.edits(ep, lines, speech, overrun, compressed)
    applied = False
    if opts.retime and edits:
        cue_times = {ln.index: (retime_map(edits, ln.cue.start), retime_map(edits, ln.cue.end)) for ln in lines}
        programme = retime_map(edits, programme) if programme is not None else None
        ep = structure(lines, natural, opts, cue_times)
        sol = _solve(ep, opts, programme)
        start, speech, limits, overrun = _to_samples(ep, sol, opts, programme)
        speeds = ep.n / np.maximum(speech, 1)
        compressed = speeds > ep.hi + 1e-4
        applied = True
    return _entries(lines, ep, sol, opts, programme, start, speech, limits, overrun, speeds, compressed,
                    tuple(edits), applied)


def _entries(lines, ep, sol, opts, programme, start, speech, limits, overrun, speeds, compressed, edits, applied):
    m = len(ep.cs)
    gap = opts.min_gap_ms * SAMPLE_RATE // 1000
    entries: list[PlanEntry | None] = [None] * len(lines)
    for i in range(m):
        ln = lines[ep.order[i]]
        # the clip carries silence after the speech up to the cue end, where the track has room
        room_end = int(ep.ce[i])
        j = ep.next_same[i]
        if j is not None:
            room_end = min(room_end, int(start[j]))
        if programme is not None:
            room_end = min(room_end, programme)
        length = max(int(speech[i]), room_end - int(start[i]), 1)
        reason, warnings = explain(ep, i, start, speech, limits, overrun, opts, programme, speeds)
        d = int(start[i] - ep.cs[i])
        entries[ep.order[i]] = PlanEntry(
            index=ln.index, start=int(start[i]), length=length, speech_samples=int(speech[i]), natural=int(ep.n[i]),
            speed=float(speeds[i]) if ep.n[i] > 0 else 1.0, cue_start=int(ep.cs[i]), cue_end=int(ep.ce[i]),
            limit=int(limits[i]) if limits[i] < np.iinfo(np.int64).max // 8 else int(start[i] + length),
            bounds=(float(ep.lo[i]), float(ep.hi[i])), lead=max(0, -d), delay=max(0, d),
            spill=max(0, int(start[i] + speech[i] - ep.ce[i])), overrun=int(overrun[i]),
            compressed=bool(compressed[i]), reason=reason, warnings=tuple(warnings))
    return Plan([e for e in entries if e is not None], programme, opts.bounds, opts.fill, gap, opts,
                retime=edits, retime_applied=applied,
                solver={"name": "clarabel", "status": sol.status, "iterations": sol.iterations})
