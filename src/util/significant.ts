/**
 * `x` to `digits` significant digits, for figures written into committed JSON: a rebuild on another machine
 * then gives the same file unless a figure really moved. Non-finite values pass through (validation
 * reports them; rounding must not hide them).
 */
export function significant(x: number, digits = 6): number {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}
