#!/usr/bin/env python3
"""The NumPy peer of vigil's forecast stage (issue 6: `vigil bench` reports vigil's speed as a
ratio to it).

This is an equivalent, vectorised NumPy implementation of the per-point math in
include/vigil/math/forecast.hpp (`forecast_step` = `step_forecast` + `short_window_scores`, with
`init_state`, `clock_at`, the identity / log1p / count transforms, the Poisson treatment of
counts, the daily and weekly piecewise-linear profiles, the heteroscedastic per-slot scale, the
robust updates with outlier clipping and level-shift acceptance, and the derivative and
volatility z). It is meant to be a strong peer, not a strawman: like vigil's time-major layout,
it walks through time once and, at each step, runs one set of whole-array NumPy operations over
all N series (the state is a handful of [N] arrays and [knots][N] profile blocks, so every
profile row read or written at a step is contiguous). Branches of the C++ become masks, and
since np.where costs 5 to 30 times an arithmetic operation, a branch that nearly every series
takes the same way (warm-up, learning phase, first visit of a knot, a missing point) is checked
with .any()/.all() first and applied only where needed; rare branches (the Poisson tail of a
count, a run of outliers) are computed on index lists of the series that take them. The clock
is computed once for all steps. Arithmetic is float32 in the same order as the C++, so the z
agree with vigil's to float32 rounding: most are bit-identical, the rest differ by NumPy's and
glibc's log1p/expm1/cbrt disagreeing in the last bit (which a point just at a threshold, |z| = 2
for the count tail or the outlier limit, can amplify for a while).

Left out: scheduled events (event effects and frozen points). The bench data handed to the peer
has none, so `event_effect` is 0 and `frozen` is false at every point.

Inputs: `--values` a time-major float32 .npy ([T][N], NaN = missing); `--params` a JSON object
with the fields of vigil::ForecastParams (same names) and "transform": a list of N transform
codes (0 identity, 1 log1p, 2 count). Output: one JSON object on stdout (see `main`), and with
`--z-out` the z as a float32 [T][N] .npy. With `--reference-z` (vigil's z, [T][N] float32) it
also reports how closely the two agree.

Runs single-threaded: the BLAS/OpenMP thread pools are pinned to one thread before NumPy is
imported (the peer's element-wise operations are single-threaded anyway), so the figure is per
core.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

F32 = np.float32
NAN = F32(np.nan)
IDENTITY, LOG1P, COUNT = 0, 1, 2
MAX_DERIVATIVE_POINTS = 4  # kMaxDerivativePoints


class Params:
    """vigil::ForecastParams, with every rate and threshold as a float32 scalar so that NumPy
    keeps float32 arithmetic (and rounds like the C++ does)."""

    INT_FIELDS = ("start", "step", "points_per_day", "daily_knots", "weekly_knots", "scale_slots",
                  "shift_horizon", "warmup_steps", "min_history_steps", "report_from_steps",
                  "derivative_points")
    FLOAT_FIELDS = ("level_rate", "daily_rate", "weekly_rate", "scale_slot_rate", "scale_global_rate",
                    "model_error_rate", "scale_prior_visits", "clip_z", "outlier_z", "scale_floor_log",
                    "scale_floor_rel", "volatility_rate", "count_floor")

    def __init__(self, fields):
        for name in self.INT_FIELDS:
            setattr(self, name, int(fields[name]))
        for name in self.FLOAT_FIELDS:
            setattr(self, name, F32(fields[name]))
        if not 1 <= self.derivative_points <= MAX_DERIVATIVE_POINTS:
            raise ValueError("derivative_points must be 1..%d" % MAX_DERIVATIVE_POINTS)


def clock_table(p, T):
    """clock_at for every grid point: where it falls in the day and the week (the same for all
    series). Integer arithmetic as in the C++; the knot weights are rounded to float32 from
    float64 as static_cast<float>(ud - knot) does."""
    time_s = p.start + np.arange(T, dtype=np.int64) * p.step
    day_sec = np.mod(time_s, 86400)  # np.mod is the positive modulo, like positive_mod
    # 1970-01-01 was a Thursday: shift by four days so the week starts on Monday 00:00 UTC.
    week_sec = np.mod(time_s - 4 * 86400, 7 * 86400)
    ud = day_sec.astype(np.float64) * p.daily_knots / 86400.0
    day_knot = ud.astype(np.int64)
    day_w = (ud - day_knot).astype(F32)
    if p.weekly_knots > 0:
        uw = week_sec.astype(np.float64) * p.weekly_knots / (7 * 86400.0)
        week_knot = uw.astype(np.int64)
        week_w = (uw - week_knot).astype(F32)
    else:
        week_knot = np.zeros(T, np.int64)
        week_w = np.zeros(T, F32)
    scale_slot = day_sec * p.scale_slots // 86400
    return [(int(day_knot[t]), F32(day_w[t]), int(week_knot[t]), F32(week_w[t]), int(scale_slot[t]))
            for t in range(T)]


def select(mask, if_true, if_false):
    """np.where(mask, if_true, if_false), short-cut when the mask is uniform (it nearly always
    is: every series warm, none an outlier). np.where costs as much as 5 to 30 arithmetic
    operations over the same arrays; the two checks cost well under one. May return an operand
    itself: callers do not modify the result in place."""
    if not mask.any():
        return if_false
    if mask.all():
        return if_true
    return np.where(mask, if_true, if_false)


def replace_where(array, mask, value):
    """array[mask] = value in place (value: a scalar or an array like `array`). Used for the
    rare cases of a branch (an unseen knot, a missing point): np.copyto with a mostly-false mask
    costs about one arithmetic operation, and nothing when the mask is all false."""
    if mask.any():
        np.copyto(array, value, where=mask)
    return array


def clamp(v, lo, hi):
    """clampf: min_f(max_f(v, lo), hi). fmax/fmin return the other operand for a NaN, exactly as
    vigil's comparison-based max_f/min_f do when `v` is NaN (the bounds are never NaN)."""
    return np.fmin(np.fmax(v, lo), hi)


class PeriodicProfile:
    """A piecewise-linear periodic profile (the daily or the weekly one) of every series: knots
    x series, so the two knots a step reads and writes are two contiguous rows. NaN = a knot the
    series has not observed yet. A row with no NaN left (every series has seen the knot) stays so,
    which lets profile_at / learn skip their first-visit handling for it."""

    def __init__(self, knots, N):
        self.knots = knots
        self.values = np.full((knots, N), NAN, F32)
        self.complete = [False] * knots

    def _next(self, k):
        return 0 if k + 1 == self.knots else k + 1

    def _is_complete(self, k):
        if not self.complete[k] and not np.isnan(self.values[k]).any():
            self.complete[k] = True
        return self.complete[k]

    def at(self, k, w):
        """profile_at: the value between knots k and k+1; an unseen knot defers to its neighbour."""
        a, b = self.values[k], self.values[self._next(k)]
        value = a + w * (b - a)
        if not self._is_complete(k):
            replace_where(value, np.isnan(a), b)
        if not self._is_complete(self._next(k)):
            replace_where(value, np.isnan(b) & ~np.isnan(a), a)
        return value

    def learn(self, k, w, residual, target, rate, mask):
        """profile_learn for the series in `mask` (None: all): moves the two knots around the phase
        toward the observation; an unseen knot takes `target` outright. Knot k is written before
        knot k+1 is read, as in the C++ (where, with one knot, both names alias one float)."""
        one = F32(1)

        def move(row, weight):
            current = self.values[row]
            step = rate * weight * residual
            if self.complete[row] and mask is None:
                current += step  # the common case: every series learns, every knot seen
                return
            moved = current + step
            if not self.complete[row]:
                replace_where(moved, np.isnan(current), target)
            if mask is not None:
                replace_where(moved, ~mask, current)
            current[...] = moved

        move(k, one - w)
        if w > 0:
            move(self._next(k), w)


def poisson_z(count, lam):
    """The Poisson tail probability of `count` given the forecast count `lam`, as a normal
    deviate (Wilson-Hilferty), for the few points that need it."""
    one, nine, three = F32(1), F32(9), F32(3)
    upper = count >= lam
    k = np.where(upper, count, count + one)
    cube = np.cbrt(lam / k)
    z_up = np.fmax(three * np.sqrt(k) * (one - one / (nine * k) - cube), F32(0))
    z_up = np.where(count <= 0, F32(0), z_up)
    z_down = np.fmin(F32(-3) * np.sqrt(k) * (cube - one + one / (nine * k)), F32(0))
    return np.where(upper, z_up, z_down)


def count_z_in_place(z, y, lam, sigma, poisson_sd, count_series):
    """count_z on the count series whose |z_log| > 2 (the only ones it changes, a few percent):
    blends the Poisson tail z with the log z by the share of the variance that Poisson noise
    explains."""
    idx = np.flatnonzero(count_series & (np.abs(z) > 2))
    if idx.size == 0:
        return
    one = F32(1)
    z_log = z[idx]
    count = np.fmax(np.expm1(y[idx]), F32(0))
    share = np.fmin(poisson_sd[idx] / sigma[idx], one)
    z_poisson = poisson_z(count, lam[idx]) * share
    w = share * share
    z[idx] = w * z_poisson + (one - w) * z_log


class ForecastStage:
    """init_state, then step_forecast + short_window_scores for all series at once, one grid
    point per `step`. The per-series state of state:: is one [N] array per scalar; the profiles,
    the slot scales and the derivative's ring are [rows][N] blocks."""

    def __init__(self, p, transform):
        self.p = p
        N = transform.shape[0]

        def full(value):
            return np.full(N, value, dtype=F32)

        self.level = full(NAN)
        self.age = full(0)  # steps since the first valid point (0: none yet)
        self.global_scale = full(NAN)  # EW mean |e|
        self.residuals = full(0)  # residuals seen
        self.daily_error = full(0)  # EW mean |e| of the daily model
        self.weekly_error = full(0)  # of the weekly model
        self.run_length = full(0)  # signed length of the current run of same-sign outliers
        self.run_sum = full(0)  # sum of their residuals
        self.vol_mean = full(0)
        self.vol_var = full(NAN)  # NaN until the first scored point
        self.daily = PeriodicProfile(p.daily_knots, N)
        self.weekly = PeriodicProfile(p.weekly_knots, N)
        self.slot_scale = np.full((p.scale_slots, N), NAN, F32)
        # The derivative's ring of the last 2k z, as z with NaN -> 0 plus a 0/1 validity row, so
        # its sums need no masking (the C++ adds `valid ? v : 0` over the ring in index order).
        ring_len = 2 * p.derivative_points
        self.ring_values = np.zeros((ring_len, N), F32)
        self.ring_valid = np.zeros((ring_len, N), F32)

        # The transform's effect on the scale, as per-series constants (no mask at each step):
        # identity series floor at scale_floor_rel * |forecast| (and 1e-12), log series at
        # scale_floor_log: fmax(floor_rel * |f|, floor_abs) gives both.
        identity = transform == IDENTITY
        self.any_identity = bool(identity.any())
        self.floor_rel = np.where(identity, p.scale_floor_rel, F32(0)).astype(F32)
        self.floor_abs = np.where(identity, F32(1e-12), np.fmax(p.scale_floor_log, F32(1e-12))).astype(F32)
        self.logged = transform != IDENTITY  # log1p and count series
        self.any_logged = bool(self.logged.any())
        self.is_count = transform == COUNT
        self.any_count = bool(self.is_count.any())
        self.all_count = bool(self.is_count.all())
        self.count_weight = self.is_count.astype(F32)  # 1 for a count, 0 otherwise

    def transform(self, x):
        """transform_value of a row of raw values: non-finite = missing = NaN; log1p of the value
        clipped at 0 unless the series is identity. (Done row by row, where the row is in cache:
        over the whole [T][N] array at once it costs more, in page faults of the temporaries.)"""
        y = x.copy()
        replace_where(y, ~np.isfinite(x), NAN)
        if not self.any_logged:
            return y
        # np.maximum, not fmax: a missing point stays NaN instead of becoming log1p(0).
        return select(self.logged, np.log1p(np.maximum(y, F32(0))), y)

    def step(self, t, clock, x, out_forecast, out_z, out_derivative, out_volatility):
        """Grid point t for every series: x is the row of raw values (NaN = missing); writes the
        row of each output."""
        p = self.p
        y = self.transform(x)
        day_knot, day_w, week_knot, week_w, slot = clock
        one, zero = F32(1), F32(0)
        age = self.age  # before the step (advanced at the end)
        level = self.level  # before the step (replaced by a new array when it learns)
        valid_y = ~np.isnan(y)
        fresh = age == 0  # no valid point yet: the first one becomes the level (at the end)

        daily_season = self.daily.at(day_knot, day_w)
        f_daily = level + daily_season  # NaN for a fresh series (level NaN)
        if p.weekly_knots > 0:
            week_season = self.weekly.at(week_knot, week_w)
            week_seen = ~np.isnan(week_season)
            week_term = replace_where(week_season, ~week_seen, zero)  # in place: NaN -> 0
            f_weekly = f_daily + week_term
            use_weekly = week_seen & (age >= F32(8 * p.points_per_day)) & (self.weekly_error < self.daily_error)
            # f_daily + term * {0, 1}: f_weekly or f_daily, to the bit (x + 0 == x), without np.where.
            forecast = f_daily + week_term * use_weekly
        else:
            week_seen = None
            f_weekly = f_daily  # f_daily + 0 in the C++: the same float
            forecast = f_daily
        forecast = select(age >= F32(p.warmup_steps), forecast, NAN)  # the first day forecasts nothing
        out_forecast[...] = forecast

        # A valid point with a forecast is scored and teaches the whole model; one without (the
        # first day, or a phase never seen) only builds the daily profile.
        has_forecast = ~np.isnan(forecast)
        scored = valid_y & has_forecast  # never a fresh series: its forecast is NaN
        all_scored = bool(scored.all())
        building = None
        if not all_scored:
            building = valid_y & ~has_forecast & ~fresh
            if not building.any():
                building = None
        target = y - level  # where the daily profile moves to (y - level on both paths)

        if all_scored or scored.any():
            self._score_and_learn(clock, y, age, level, daily_season, f_daily, f_weekly, week_seen, forecast,
                                  target, None if all_scored else scored, building, out_z)
        else:
            out_z[...] = NAN
            if building is not None:
                residual, rate = self._building_update(age, daily_season, target)
                self.daily.learn(day_knot, day_w, residual, target, rate, building)

        # The series' time advances with every step once it has started.
        if fresh.any():
            starting = fresh & valid_y
            self.level[starting] = y[starting]
            self.age = np.where(fresh, starting.astype(F32), age + one)
        else:
            self.age = age + one
        self._short_window_scores(t, out_z, out_derivative, out_volatility)

    def _building_update(self, age, daily_season, target):
        """Residual and rate of the first-day update of the daily profile: the target outright at
        half weight, or nothing once warm (a phase the warm-up never saw)."""
        residual = target - daily_season
        replace_where(residual, np.isnan(daily_season), F32(0))
        rate = select(age >= F32(self.p.warmup_steps), F32(0), F32(0.5))
        return residual, rate

    def _score_and_learn(self, clock, y, age, level, daily_season, f_daily, f_weekly, week_seen, forecast, target,
                         scored, building, out_z):
        """The scored points' half of step_forecast: scale, z, and the robust state update. Values
        are computed for every series; `scored` (None: all) says where they count."""
        p = self.p
        day_knot, day_w, week_knot, week_w, slot = clock
        one, zero, nan, inf = F32(1), F32(0), NAN, F32(np.inf)
        learning = age < F32(p.min_history_steps)
        unscored = None if scored is None else ~scored

        # Scale: the slot's mean |e| shrunk toward the global one while the slot has few visits.
        residuals = self.residuals
        global_scale = self.global_scale
        slot_scale = self.slot_scale[slot]
        no_global = np.isnan(global_scale)
        no_slot = np.isnan(slot_scale)
        slot_visits = np.fmin(residuals / F32(p.scale_slots), F32(1e6))
        mean_abs = (slot_visits * slot_scale + p.scale_prior_visits * global_scale) / (slot_visits + p.scale_prior_visits)
        replace_where(mean_abs, no_slot, global_scale)
        if self.any_identity:  # absolute in log space, relative to |forecast| for identity series
            floor = np.fmax(self.floor_rel * np.abs(forecast), self.floor_abs)
        else:
            floor = self.floor_abs
        sigma = F32(1.2533) * np.fmax(mean_abs, floor)
        if self.any_count:
            # Counts: the scale never falls below the Poisson noise of the forecast count. (For
            # other series poisson_sd is 0, or NaN where expm1 overflows; fmax ignores either.)
            lam = np.fmax(np.expm1(forecast), zero)
            lam_floored = np.fmax(lam, p.count_floor)
            poisson_sd = np.sqrt(lam_floored) / (one + lam_floored)
            if not self.all_count:
                poisson_sd *= self.count_weight
            sigma = np.fmax(sigma, poisson_sd)
        e = y - forecast
        # Clamped so that a constant series that suddenly moves gives a large, finite z.
        z_raw = clamp(e / sigma, F32(-1e6), F32(1e6))
        # No scale yet: the first residual only teaches it. And the C++ computes no z for a point
        # it does not score, while clamp() would turn its NaN into -1e6 (an outlier) here.
        replace_where(z_raw, no_global if unscored is None else no_global | unscored, nan)
        z_missing = np.isnan(z_raw)
        if self.any_count:
            count_z_in_place(z_raw, y, lam, sigma, poisson_sd, self.is_count)
        # Outliers are a few percent of the points at most: they are handled as index lists.
        beyond = np.abs(z_raw) > p.outlier_z  # false where z_raw is NaN
        outlier = level_outlier = None  # index lists, None when empty
        if beyond.any():
            outlier = beyond & ~learning
            # The level ignores outliers from the third day on, in the learning phase too.
            level_outlier = np.flatnonzero(outlier | (beyond & (age >= F32(2 * p.points_per_day))))
            outlier = np.flatnonzero(outlier) if outlier.any() else None
        # No event: z_raw * sigma / sqrt(sigma^2 + effect_sd^2) with effect_sd = 0, computed as
        # the C++ does (in float32 it is not always exactly z_raw).
        z = z_raw * sigma
        z /= np.sqrt(sigma * sigma)
        # Nothing is reported before report_from_steps (the evidence stage widens a young z).
        replace_where(z, age < F32(p.report_from_steps), nan)
        if unscored is not None:
            replace_where(z, unscored, nan)
        out_z[...] = z

        # Scale update: Huber-clipped |e|; outliers count at a quarter of the rate.
        abs_e = np.abs(e)
        clipped_e = replace_where(np.fmin(abs_e, p.outlier_z * sigma), z_missing, abs_e)
        g_rate = np.fmax(p.scale_global_rate, one / (residuals + one))
        s_rate = np.fmax(p.scale_slot_rate, one / (slot_visits + one))
        if outlier is not None:
            g_rate[outlier] *= F32(0.25)
            s_rate[outlier] *= F32(0.25)
        new_global = replace_where(global_scale + g_rate * (clipped_e - global_scale), no_global, clipped_e)
        new_slot = replace_where(slot_scale + s_rate * (clipped_e - slot_scale), no_slot, clipped_e)
        if unscored is None:
            self.residuals = residuals + one
        else:
            replace_where(new_global, unscored, global_scale)
            replace_where(new_slot, unscored, slot_scale)
            self.residuals = residuals + scored
        self.global_scale = new_global
        slot_scale[...] = new_slot

        # Model choice: recent mean |e| of the daily and the weekly forecast, outliers left out.
        if week_seen is not None:
            keep = ~week_seen if unscored is None else ~week_seen | unscored
            rate = p.model_error_rate
            new_daily = self.daily_error + rate * (np.abs(y - f_daily) - self.daily_error)
            new_weekly = self.weekly_error + rate * (np.abs(y - f_weekly) - self.weekly_error)
            replace_where(new_daily, keep, self.daily_error)
            replace_where(new_weekly, keep, self.weekly_error)
            if outlier is not None:
                new_daily[outlier] = self.daily_error[outlier]
                new_weekly[outlier] = self.weekly_error[outlier]
            self.daily_error, self.weekly_error = new_daily, new_weekly

        # A run of same-sign outliers moves the level only once it outlasts the horizon; any other
        # scored point ends the run. Outliers are rare: only their series are touched.
        at = level_outlier  # all scored points (z_raw is NaN elsewhere)
        if at is not None:
            run, run_sum = self.run_length[at], self.run_sum[at]  # copies, read before the reset
        if unscored is None:
            self.run_length.fill(zero)
            self.run_sum.fill(zero)
        else:
            replace_where(self.run_length, scored, zero)
            replace_where(self.run_sum, scored, zero)
        shifted_level = None
        if at is not None:
            e_at = e[at]
            sign = np.where(e_at > 0, one, F32(-1))
            same = run * sign > 0
            run = np.where(same, run + sign, sign)
            run_sum = np.where(same, run_sum + e_at, e_at)
            shift = np.abs(run) >= F32(p.shift_horizon)
            if shift.any():
                shifted_level = (at[shift], level[at[shift]] + run_sum[shift] / np.abs(run[shift]))
                run[shift] = zero
                run_sum[shift] = zero
            self.run_length[at] = run
            self.run_sum[at] = run_sum

        # The components learn from the full model's residual, clipped, each at its own rate;
        # early days learn as a cumulative average, then at the steady rate.
        limit = select(learning, p.outlier_z, p.clip_z) * sigma
        replace_where(limit, z_missing, inf)
        e_full = clamp(y - f_weekly, -limit, limit)
        new_level = level + p.level_rate * e_full
        if level_outlier is not None:
            new_level[level_outlier] = level[level_outlier]
        if unscored is not None:
            replace_where(new_level, unscored, level)
        if shifted_level is not None:
            new_level[shifted_level[0]] = shifted_level[1]
        self.level = new_level
        days = age / F32(p.points_per_day)
        d_rate = np.fmax(p.daily_rate, one / (one + days))
        if building is None:
            self.daily.learn(day_knot, day_w, e_full, target, d_rate, scored)
        else:
            # The profile-building points (no forecast yet) update the same knots with their own
            # residual and rate; the two sets of series are disjoint, so it is one masked update.
            residual, rate = self._building_update(age, daily_season, target)
            self.daily.learn(day_knot, day_w, np.where(building, residual, e_full), target,
                             np.where(building, rate, d_rate), scored | building)
        if p.weekly_knots > 0:
            # A weekly knot starts as the daily forecast's residual at its first visit, bounded so
            # that an event seen once does not become a weekly phantom.
            bound = replace_where(p.outlier_z * sigma, z_missing, inf)
            w_rate = np.fmax(p.weekly_rate, one / (one + days / F32(7)))
            self.weekly.learn(week_knot, week_w, e_full, clamp(y - f_daily, -bound, bound), w_rate, scored)

    def _short_window_scores(self, t, z, out_derivative, out_volatility):
        """The derivative and volatility of the z just computed. The ring slot is taken from the
        grid index instead of each series' age: every started series writes its slot at every
        step, so the ring holds the same last 2k z at the same distances back (for a series that
        started at t = 0 the slots are the C++'s own; for a later one they are rotated, which
        changes the summation order only)."""
        p = self.p
        k = p.derivative_points
        ring_len = 2 * k
        slot = (t + 1) % ring_len  # = age after the step, mod 2k, for a series started at t = 0
        has_z = ~np.isnan(z)
        self.ring_valid[slot] = has_z
        np.copyto(self.ring_values[slot], z)
        replace_where(self.ring_values[slot], ~has_z, F32(0))
        if not has_z.any():  # the learning phase: nothing scored, nothing to say
            out_derivative[...] = NAN
            out_volatility[...] = NAN
            return

        # Sums over the ring in index order, as the C++ loop adds them; the recent sum takes the
        # k newest rows (in index order too), the prior one is the difference.
        recent_rows = sorted((slot - back) % ring_len for back in range(k))
        total = self.ring_values[0].copy()
        n_all = self.ring_valid[0].copy()
        for row in range(1, ring_len):
            total += self.ring_values[row]
            n_all += self.ring_valid[row]
        recent = self.ring_values[recent_rows[0]].copy()
        n_recent = self.ring_valid[recent_rows[0]].copy()
        for row in recent_rows[1:]:
            recent += self.ring_values[row]
            n_recent += self.ring_valid[row]
        n_prior = n_all - n_recent
        one = F32(1)
        # A difference of two means of unit-variance values, divided by its standard deviation.
        # No recent or no prior z: 0/0 = NaN (the prior sum is exactly 0 then, total == recent).
        derivative = (recent / n_recent - (total - recent) / n_prior) / np.sqrt(one / n_recent + one / n_prior)
        out_derivative[...] = replace_where(derivative, ~has_z, NAN)

        # Volatility: EW spread of z clipped at +-10, starting at the calibrated 1.
        rate = p.volatility_rate
        zc = np.fmin(np.fmax(z, F32(-10)), F32(10))
        first = np.isnan(self.vol_var)
        d = zc - self.vol_mean
        mean = replace_where(self.vol_mean + rate * d, first, zc)
        var = replace_where((one - rate) * (self.vol_var + rate * d * d), first, one)
        self.vol_mean = replace_where(mean, ~has_z, self.vol_mean)
        self.vol_var = replace_where(var, ~has_z, self.vol_var)
        out_volatility[...] = replace_where(np.sqrt(self.vol_var), ~has_z, NAN)


def allocate_outputs(T, N):
    """The stage's outputs, [T][N] float32 each: forecast (transformed space), z, z_derivative
    and z_volatility. Allocated and touched before the clock starts, as vigil's are."""
    return tuple(np.full((T, N), NAN, F32) for _ in range(4))


def forecast_stage(p, values, transform, outputs=None):
    """vigil's forecast stage over a time-major [T][N] float32 array (NaN = missing) with the
    series' transform codes ([N]); fills and returns `outputs` (see allocate_outputs)."""
    T, N = values.shape
    if outputs is None:
        outputs = allocate_outputs(T, N)
    if T == 0 or N == 0:
        return outputs
    clocks = clock_table(p, T)
    stage = ForecastStage(p, transform)
    out_forecast, out_z, out_derivative, out_volatility = outputs
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for t in range(T):
            stage.step(t, clocks[t], values[t], out_forecast[t], out_z[t], out_derivative[t], out_volatility[t])
    return outputs


def agreement(z, reference):
    """How closely the peer's z match vigil's: over the points both score (NaN where either is
    NaN; `nan_mismatch` counts the points only one of them scores)."""
    mine, theirs = np.isnan(z), np.isnan(reference)
    both = ~mine & ~theirs
    diff = np.abs(z[both].astype(np.float64) - reference[both].astype(np.float64))
    compared = int(diff.size)
    return {
        "compared": compared,
        "nan_mismatch": int(np.count_nonzero(mine != theirs)),
        "median_abs_diff": float(np.median(diff)) if compared else None,
        "p99_abs_diff": float(np.percentile(diff, 99)) if compared else None,
        "max_abs_diff": float(diff.max()) if compared else None,
        "share_within_0.05": float(np.count_nonzero(diff <= 0.05) / compared) if compared else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", required=True, help="time-major float32 .npy, [T][N]")
    parser.add_argument("--params", required=True, help="JSON: ForecastParams fields and 'transform'")
    parser.add_argument("--reference-z", help="vigil's z, float32 .npy [T][N]: report the agreement")
    parser.add_argument("--z-out", help="write the peer's z here (float32 .npy [T][N])")
    parser.add_argument("--max-series", type=int, help="run on the first N series only")
    args = parser.parse_args(argv)

    with open(args.params) as f:
        fields = json.load(f)
    p = Params(fields)
    values = np.load(args.values)
    if values.ndim != 2:
        raise SystemExit("numpy_peer: %s: expected a [T][N] array, got shape %s" % (args.values, values.shape))
    transform = np.asarray(fields["transform"], dtype=np.uint8)
    if transform.shape != (values.shape[1],):
        raise SystemExit("numpy_peer: %d transform codes for %d series" % (transform.size, values.shape[1]))
    if args.max_series is not None:
        values, transform = values[:, :args.max_series], transform[:args.max_series]
    values = np.ascontiguousarray(values, dtype=F32)
    T, N = values.shape

    outputs = allocate_outputs(T, N)
    started = time.perf_counter()
    _, z, _, _ = forecast_stage(p, values, transform, outputs)
    seconds = time.perf_counter() - started

    try:
        import pandas
        pandas_version = pandas.__version__
    except ImportError:
        pandas_version = None
    result = {
        "series": N,
        "points": T,
        "seconds": seconds,
        "points_per_second": N * T / seconds if seconds > 0 else None,
        "threads": 1,
        "numpy": np.__version__,
        "pandas": pandas_version,
    }
    if args.z_out:
        np.save(args.z_out, z)
    if args.reference_z:
        reference = np.load(args.reference_z)
        if args.max_series is not None:
            reference = reference[:, :args.max_series]
        if reference.shape != z.shape:
            raise SystemExit("numpy_peer: reference z has shape %s, the peer's %s" % (reference.shape, z.shape))
        result["z_agreement"] = agreement(z, reference)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
