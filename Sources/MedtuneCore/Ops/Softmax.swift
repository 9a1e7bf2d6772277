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
    /// key and per token (the decoding step's attention, the BERT encoder).
    public static func vectorized(_ row: UnsafeMutablePointer<Float>, count: Int, mask: UnsafePointer<UInt8>? = nil) {
        guard let maximum = visibleMaximum(row, count: count, mask: mask) else { return }
        var s = 0
        while s + 16 <= count {
            UnsafeMutableRawPointer(row + s).storeBytes(of: VectorExp.exp(Lanes.load(row, s) - maximum), as: SIMD16<Float>.self)
            s += 16
        }
        for t in s..<count { row[t] = Float.exp(row[t] - maximum) }
        if let mask {
            for t in 0..<count where mask[t] == 0 { row[t] = 0 }
        }
        var lanes = SIMD16<Float>()
        s = 0
        while s + 16 <= count {
            lanes += Lanes.load(row, s)
            s += 16
        }
        var sum = lanes.sum()
        for t in s..<count { sum += row[t] }
        scale(row, count: count, by: 1 / sum)
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
