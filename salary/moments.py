"""Sums a straight-line fit and its scores need, gathered chunk by chunk and merged without losing precision."""

import math
from dataclasses import asdict, dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Count, means, centred sums of squares and products (Chan et al.'s pairwise update), and the range of x.

    Streamed chunks are shifted by one fixed point first (the first row seen), so means and their differences are
    small numbers: with values like 1e9 + a few hundredths, merging unshifted means would lose the hundredths.
    """

    n: int = 0
    mean_x: float = 0.0
    mean_y: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0
    sxy: float = 0.0
    min_x: float = math.inf
    max_x: float = -math.inf

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> "Moments":
        """The moments of one chunk: corrected two-pass sums, so nearly constant columns keep their digits."""
        n = int(x.size)
        if n == 0:
            return cls()
        mean_x, mean_y = float(x.mean()), float(y.mean())
        dx, dy = x - mean_x, y - mean_y
        return cls.corrected(
            n,
            mean_x,
            mean_y,
            float(dx @ dx),
            float(dy @ dy),
            float(dx @ dy),
            float(dx.sum()),
            float(dy.sum()),
            float(x.min()),
            float(x.max()),
        )

    def shifted(self, by_x: float, by_y: float) -> "Moments":
        """The same moments with the means moved by (by_x, by_y): the spread does not change."""
        return replace(self, mean_x=self.mean_x + by_x, mean_y=self.mean_y + by_y)

    @classmethod
    def corrected(
        cls,
        n: int,
        mean_x: float,
        mean_y: float,
        sxx: float,
        syy: float,
        sxy: float,
        sum_dx: float,
        sum_dy: float,
        min_x: float,
        max_x: float,
    ) -> "Moments":
        """Sums about rounded means, corrected by what the deviations still add up to (Björck's two-pass formula)."""
        return cls(
            n=n,
            mean_x=mean_x + sum_dx / n,
            mean_y=mean_y + sum_dy / n,
            sxx=sxx - sum_dx * sum_dx / n,
            syy=syy - sum_dy * sum_dy / n,
            sxy=sxy - sum_dx * sum_dy / n,
            min_x=min_x,
            max_x=max_x,
        )

    def merge(self, other: "Moments") -> "Moments":
        """The moments of both parts together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta_x, delta_y = other.mean_x - self.mean_x, other.mean_y - self.mean_y
        weight = self.n * other.n / n
        return Moments(
            n=n,
            mean_x=self.mean_x + delta_x * other.n / n,
            mean_y=self.mean_y + delta_y * other.n / n,
            sxx=self.sxx + other.sxx + delta_x * delta_x * weight,
            syy=self.syy + other.syy + delta_y * delta_y * weight,
            sxy=self.sxy + other.sxy + delta_x * delta_y * weight,
            min_x=min(self.min_x, other.min_x),
            max_x=max(self.max_x, other.max_x),
        )

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Residuals:
    """Sums of a line's residuals on some rows: enough for RMSE, MAE and a line through |residual| by years."""

    n: int = 0
    sum_squares: float = 0.0
    sum_abs: float = 0.0
    sum_abs_x: float = 0.0

    @classmethod
    def of(cls, residual: np.ndarray, x: np.ndarray | None = None) -> "Residuals":
        """The sums of one chunk's residuals; with the rows' years, also the sum of years × |residual|."""
        absolute = np.abs(residual)
        by_x = 0.0 if x is None else float(absolute @ x)
        return cls(int(residual.size), float(residual @ residual), float(absolute.sum()), by_x)

    def merge(self, other: "Residuals") -> "Residuals":
        """The sums of both parts together."""
        return Residuals(
            self.n + other.n,
            self.sum_squares + other.sum_squares,
            self.sum_abs + other.sum_abs,
            self.sum_abs_x + other.sum_abs_x,
        )


class MomentsAccumulator:
    """Moments of a stream of chunks, merged about the first row seen (see Moments)."""

    def __init__(self) -> None:
        self.origin: tuple[float, float] | None = None
        self.total = Moments()
        self.min_x, self.max_x = math.inf, -math.inf

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Take in one chunk."""
        if x.size == 0:
            return
        if self.origin is None:
            self.origin = (float(x[0]), float(y[0]))
        self.total = self.total.merge(Moments.of(x - self.origin[0], y - self.origin[1]))
        self.min_x, self.max_x = min(self.min_x, float(x.min())), max(self.max_x, float(x.max()))

    def result(self) -> Moments:
        """The moments of everything added, in the data's own coordinates."""
        if self.origin is None:
            return Moments()
        return replace(self.total.shifted(*self.origin), min_x=self.min_x, max_x=self.max_x)
