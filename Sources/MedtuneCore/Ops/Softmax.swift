/// The softmax of a row, in place: one owner for attention (the training forward and the decoding
/// step), the BERT encoder and the sampler.
///
/// Every caller gets the same rules. Entries a mask hides (`mask[s] == 0`) take no part and become
/// 0. A NaN among the visible entries makes the whole row NaN, so that a broken score shows rather
/// than vanishing through max(). A row with nothing visible (a query whose every key is left
/// padding) becomes all 0.
///
/// The two variants differ only in how they compute the exponentials and their sum, and so in the
/// last bits of their results; each caller keeps the one its parity results were measured with.
public enum Softmax {
    /// exp(x − max) by the C library, one element at a time, summed in order: the reference, in
    /// any precision (the training forward's attention, the sampler's probabilities in Double).
    public static func exact<T: Scalar>(_ row: UnsafeMutablePointer<T>, count: Int, mask: UnsafePointer<UInt8>? = nil) {
        guard let maximum = visibleMaximum(row, count: count, mask: mask) else { return }
        var sum: T = 0
        for s in 0..<count {
            let e: T = (mask?[s] ?? 1 != 0) ? T.exp(row[s] - maximum) : 0
            row[s] = e
            sum += e
        }
        scale(row, count: count, by: 1 / sum)
    }

    /// float32 with the exponentials sixteen lanes at a time through `VectorExp` (within 2 ulp of
    /// the C library's), and the C library's for the last count % 16: for the loops that run per
    /// key and per token (the decoding step's attention, the BERT encoder). The maximum, the
    /// exponentials with their masking and sum, and the scaling are each one pass sixteen lanes
    /// wide; the sum adds the lanes in the order a lane-by-lane loop would.
    public static func vectorized(_ row: UnsafeMutablePointer<Float>, count: Int, mask: UnsafePointer<UInt8>? = nil) {
        guard let maximum = visibleMaximum(lanesOf: row, count: count, mask: mask) else { return }
        var lanes = SIMD16<Float>()
        var s = 0
        while s + 16 <= count {
            var e = VectorExp.exp(Lanes.load(row, s) - maximum)
            if let mask { e.replace(with: 0, where: hidden(mask, s)) }
            UnsafeMutableRawPointer(row + s).storeBytes(of: e, as: SIMD16<Float>.self)
            lanes += e
            s += 16
        }
        let tail = s
        for t in tail..<count { row[t] = (mask?[t] ?? 1) != 0 ? Float.exp(row[t] - maximum) : 0 }
        var sum = lanes.sum()
        for t in tail..<count { sum += row[t] }
        let factor = 1 / sum
        s = 0
        while s + 16 <= count {
            UnsafeMutableRawPointer(row + s).storeBytes(of: Lanes.load(row, s) * factor, as: SIMD16<Float>.self)
            s += 16
        }
        for t in s..<count { row[t] *= factor }
    }

    /// Lanes s … s + 15 that `mask` hides.
    private static func hidden(_ mask: UnsafePointer<UInt8>, _ s: Int) -> SIMDMask<SIMD16<Int32>> {
        SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(mask + s).loadUnaligned(as: SIMD16<UInt8>.self)) .== 0
    }

    /// `visibleMaximum` sixteen lanes at a time: the same result, NaN and empty rows included.
    private static func visibleMaximum(lanesOf row: UnsafeMutablePointer<Float>, count: Int, mask: UnsafePointer<UInt8>?) -> Float? {
        var best = SIMD16<Float>(repeating: -.infinity), probe = SIMD16<Float>()
        var s = 0
        while s + 16 <= count {
            var v = Lanes.load(row, s)
            if let mask { v.replace(with: -.infinity, where: hidden(mask, s)) }
            best.replace(with: v, where: v .> best)
            // v − v is 0 for finite entries and NaN for NaN (and ±∞): a NaN probe sends the row
            // to the scalar pass, which makes the row NaN only for a visible NaN.
            probe += v - v
            s += 16
        }
        if probe.sum().isNaN { return visibleMaximum(row, count: count, mask: mask) }
        var maximum = best.max()
        for t in s..<count where mask?[t] ?? 1 != 0 {
            if row[t].isNaN {
                row.update(repeating: .nan, count: count)
                return nil
            }
            maximum = max(maximum, row[t])
        }
        if maximum == -.infinity {
            row.update(repeating: 0, count: count)
            return nil
        }
        return maximum
    }

    /// The largest visible entry; nil when the row is already final: all NaN (a visible NaN) or
    /// all 0 (nothing visible).
    private static func visibleMaximum<T: Scalar>(_ row: UnsafeMutablePointer<T>, count: Int, mask: UnsafePointer<UInt8>?) -> T? {
        var maximum = -T.infinity
        for s in 0..<count where mask?[s] ?? 1 != 0 {
            if row[s].isNaN {
                row.update(repeating: .nan, count: count)
                return nil
            }
            maximum = max(maximum, row[s])
        }
        if maximum == -T.infinity {
            row.update(repeating: 0, count: count)
            return nil
        }
        return maximum
    }

    private static func scale<T: Scalar>(_ row: UnsafeMutablePointer<T>, count: Int, by factor: T) {
        for s in 0..<count { row[s] *= factor }
    }
}
