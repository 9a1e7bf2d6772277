/// y = x / sqrt(mean(x²) + eps) · weight, per row of `dim` values.
public struct RMSNorm {
    public var dim: Int
    public var eps: Double

    public init(dim: Int, eps: Double) { self.dim = dim; self.eps = eps }

    /// Writes y and the reciprocal RMS of each row (kept for backward).
    public func forward<T: Scalar>(_ x: UnsafePointer<T>, weight: UnsafePointer<T>, rows: Int,
                                   into y: UnsafeMutablePointer<T>, rstd: UnsafeMutablePointer<T>) {
        let eps = T(self.eps), n = T(dim)
        Parallel.forEach(rows, grain: 8) { r in
            let xr = x + r * dim, yr = y + r * dim
            var sum: T = 0
            for j in 0..<dim { sum += xr[j] * xr[j] }
            let s = 1 / (sum / n + eps).squareRoot()
            rstd[r] = s
            for j in 0..<dim { yr[j] = xr[j] * s * weight[j] }
        }
    }

    /// dx += …; dWeight += … (dWeight may be nil for a frozen norm).
    public func backward<T: Scalar>(_ dy: UnsafePointer<T>, x: UnsafePointer<T>, weight: UnsafePointer<T>,
                                    rstd: UnsafePointer<T>, rows: Int,
                                    dx: UnsafeMutablePointer<T>, dWeight: UnsafeMutablePointer<T>?) {
        let n = T(dim)
        Parallel.forEach(rows, grain: 8) { r in
            let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
            let s = rstd[r]
            // d(x·s)/dx = s·I − s³·x·xᵀ/dim, applied to g = dy·weight.
            var dot: T = 0
            for j in 0..<dim { dot += dyr[j] * weight[j] * xr[j] }
            let c = dot * s * s * s / n
            for j in 0..<dim { dxr[j] += dyr[j] * weight[j] * s - xr[j] * c }
        }
        if let dWeight {
            Parallel.forRanges(dim, grain: 64) { columns in
                for r in 0..<rows {
                    let xr = x + r * dim, dyr = dy + r * dim, s = rstd[r]
                    for j in columns { dWeight[j] += dyr[j] * xr[j] * s }
                }
            }
        }
    }
}
